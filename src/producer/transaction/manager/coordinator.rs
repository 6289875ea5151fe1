//! The coordinators of a transaction: FindCoordinator (the transaction
//! coordinator cached until it moves) and the retry loop every
//! coordinator request runs in, with Java's handling in between
//! (re-find on NOT_COORDINATOR / COORDINATOR_NOT_AVAILABLE or a lost
//! connection, back off on loading / CONCURRENT_TRANSACTIONS), bounded by
//! the caller's deadline.

use tokio::time::Instant;

use super::super::requests::{Handling, classify};
use super::{TransactionManager, lock};
use crate::client::Client;
use crate::error::{Context, Error, Result};
use crate::net::Connection;
use crate::producer::shared::Shared;
use crate::protocol::coordinator::CoordinatorKey;

impl TransactionManager {
    /// FindCoordinator (cached for the transaction coordinator).
    pub(super) async fn coordinator(
        &self,
        client: &Client,
        kind: CoordinatorKey,
        key: &str,
    ) -> Result<i32> {
        if kind == CoordinatorKey::Transaction
            && let Some(node) = *lock(&self.coordinator)
        {
            return Ok(node);
        }
        let node = client.find_coordinator(kind, key).await?;
        if kind == CoordinatorKey::Transaction {
            *lock(&self.coordinator) = Some(node);
        }
        tracing::debug!(?kind, key, node, "coordinator found");
        Ok(node)
    }

    /// Runs `attempt` against the coordinator of `key` until it succeeds,
    /// fails for good, or `deadline` passes, with Java's retries in between.
    pub(super) async fn call<T, F, Fut>(
        &self,
        shared: &Shared,
        api: &'static str,
        kind: CoordinatorKey,
        key: &str,
        deadline: Instant,
        mut attempt: F,
    ) -> Result<T>
    where
        F: FnMut(Connection) -> Fut,
        Fut: Future<Output = Result<T>> + Send,
    {
        let client = &shared.client;
        let mut attempts: u32 = 0;
        loop {
            let once = async {
                let node = self.coordinator(client, kind, key).await?;
                let conn = client.connection(node).await?;
                attempt(conn).await
            };
            let e = match tokio::time::timeout_at(deadline, once).await {
                Ok(Ok(v)) => return Ok(v),
                Ok(Err(e)) => e,
                Err(_) => return Err(timed_out(api)),
            };
            match classify(&e) {
                Handling::Refind => {
                    if kind == CoordinatorKey::Transaction {
                        *lock(&self.coordinator) = None;
                    }
                }
                Handling::Retry => {}
                Handling::Abortable | Handling::Fatal => return Err(e),
            }
            let backoff = shared
                .config
                .retry_backoff
                .saturating_mul(1u32 << attempts.min(16))
                .min(shared.config.retry_backoff_max);
            attempts = attempts.saturating_add(1);
            shared
                .metrics
                .txn_retries
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::debug!(api, error = %e, attempts, ?backoff, "transactional request retried");
            if Instant::now() + backoff >= deadline {
                tracing::debug!(api, error = %e, "no time left to retry");
                return Err(timed_out(api));
            }
            tokio::time::sleep(backoff).await;
        }
    }
}

fn timed_out(api: &'static str) -> Error {
    Error::Timeout {
        what: "transactional request (max.block.ms); the call can be repeated",
        context: Context::api(api),
    }
}
