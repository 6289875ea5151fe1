//! The fetch pipeline: fetch loop tasks per broker that leads assigned
//! partitions, prefetching ahead of `poll` into a bounded buffer.
//!
//! A supervisor task starts `fetch_connections_per_broker` loops (lanes,
//! see [`lanes`]) for every broker that appears in the metadata and keeps
//! the assigned topics' metadata fresh (unknown topics, partitions without
//! a leader). Each loop fetches its fixed share of the broker's partitions,
//! one Fetch at a time on its own connection (never the control
//! connection, so long polls never delay control requests), with an
//! incremental fetch session (KIP-227), decodes the response's
//! batches off the caller's task, and hands them to the partition table
//! ([`crate::consumer::partitions`]), which drops anything fetched under
//! an older generation (a seek happened meanwhile).
//!
//! Tasks stop when the consumer is dropped or closed, or the client closes,
//! at once: a Fetch waiting for its response is abandoned.

mod aborted;
mod broker_loop;
pub(crate) mod completed;
mod lanes;
#[cfg(test)]
mod oversized_tests;
pub(crate) mod request;
pub(crate) mod session;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::config::ConsumerConfig;
use super::metrics::Counters;
use super::partitions::PartitionTable;
use crate::client::Client;

/// What the fetch tasks share with the consumer handle.
#[derive(Debug)]
pub(crate) struct FetchContext {
    pub client: Client,
    pub config: ConsumerConfig,
    pub subs: Arc<PartitionTable>,
    pub counters: Counters,
}

/// Stops the fetch tasks when dropped or [`Fetcher::stop`]ped.
#[derive(Debug)]
pub(crate) struct Fetcher {
    shutdown: watch::Sender<bool>,
}

impl Fetcher {
    /// Starts the supervisor (which starts the broker loops).
    pub(crate) fn start(ctx: Arc<FetchContext>) -> Fetcher {
        let (shutdown, rx) = watch::channel(false);
        tokio::spawn(supervise(ctx, rx));
        Fetcher { shutdown }
    }

    /// Stops every fetch task (no I/O; in-flight fetches are abandoned).
    pub(crate) fn stop(&self) {
        self.shutdown.send_replace(true);
    }
}

impl Drop for Fetcher {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether the tasks should end.
fn stopping(ctx: &FetchContext, shutdown: &watch::Receiver<bool>) -> bool {
    *shutdown.borrow() || ctx.client.is_closed() || ctx.client.pool().is_closed()
}

/// Completes when the tasks may have to end: [`Fetcher::stop`] (the
/// consumer closed or dropped) or the client closing. Every wait of a
/// fetch task, including the wait for a Fetch response, selects on it:
/// a long poll then ends at once instead of after `fetch.max.wait.ms`,
/// and the lane's own connection (which the client's close cannot reach)
/// is dropped with the loop. The caller checks [`stopping`] next.
async fn stop_signal(ctx: &FetchContext, shutdown: &mut watch::Receiver<bool>) {
    tokio::select! {
        _ = shutdown.changed() => {}
        () = ctx.client.pool().closed() => {}
    }
}

async fn supervise(ctx: Arc<FetchContext>, mut shutdown: watch::Receiver<bool>) {
    let mut metadata = ctx.client.metadata_handle().subscribe();
    let mut running: HashSet<i32> = HashSet::new();
    let backoff = ctx.client.retry_backoff().max(Duration::from_millis(10));
    loop {
        if stopping(&ctx, &shutdown) {
            return;
        }
        let wake = ctx.subs.fetch_wake.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        let meta = metadata.borrow_and_update().clone();
        for &id in meta.brokers.keys() {
            if running.insert(id) {
                let count = ctx.config.fetch_connections_per_broker.max(1);
                for index in 0..count {
                    let lane = lanes::FetchLane { index, count };
                    tokio::spawn(broker_loop::run(ctx.clone(), id, lane, shutdown.clone()));
                }
            }
        }
        // Keep the assigned topics' metadata usable: unknown topics are
        // asked for (which also registers them for periodic refreshes),
        // leaderless partitions trigger a refresh.
        let topics = ctx.subs.topics();
        let unknown: Vec<&str> = topics
            .iter()
            .filter(|t| meta.topic(t).is_none())
            .map(|t| &**t)
            .collect();
        let mut idle = Duration::from_secs(1);
        if !unknown.is_empty() || ctx.subs.leaderless(&meta) {
            idle = backoff;
            let refresh = async {
                if unknown.is_empty() {
                    ctx.client.metadata_handle().refresh(meta.generation).await
                } else {
                    ctx.client.metadata_for(&unknown).await
                }
            };
            tokio::select! {
                r = refresh => if let Err(e) = r {
                    tracing::debug!(error = %e, "consumer metadata refresh failed");
                },
                _ = stop_signal(&ctx, &mut shutdown) => {}
            }
        }
        tokio::select! {
            _ = wake => {}
            r = metadata.changed() => if r.is_err() { return },
            _ = stop_signal(&ctx, &mut shutdown) => {}
            _ = tokio::time::sleep(idle) => {}
        }
    }
}
