//! The admin client: what `kafka-topics`, `kafka-configs`,
//! `kafka-consumer-groups`, `kafka-acls` and `kafka-transactions` do.
//!
//! Results are per item, as in the Java `Admin`: the outer `Result` fails
//! only when the request as a whole could not be made (no broker reachable,
//! client closed); each topic, partition, group or resource then carries
//! its own `Result`, so one failure never hides the others. Every call
//! goes to the broker that must answer it (controller, coordinator,
//! partition leader, the broker a config belongs to) and retries
//! retriable failures until the client's request timeout.

mod acls;
mod cluster;
mod configs;
mod group_offsets;
mod groups;
mod leaders;
mod offsets;
mod partitions;
mod reset;
mod scram;
mod topics;
mod transactions;

use std::future::Future;

use crate::client::Client;
use crate::error::{Context, Result};
use crate::protocol::versions::{ThrottleTime, VersionedRequest};

pub use acls::{
    AccessControlEntry, AclBinding, AclBindingFilter, AclOperation, AclPermission, PatternType,
    ResourcePattern, ResourceType,
};
pub use cluster::{FeatureDescription, NodeApiVersions};
pub use configs::{AlterConfigOp, ConfigEntry, ConfigResource, ConfigSource, ConfigSynonym};
pub use groups::{
    ConsumerGroupDescription, ConsumerGroupListing, ListedGroups, MemberDescription, PartitionLag,
};
pub use offsets::{ListedOffset, OffsetSpec};
pub use partitions::{ElectionType, LogDirDescription, NewPartitions, ReplicaInfo};
pub use reset::{ResetPlan, ResetTo};
pub use scram::{ScramCredentialInfo, ScramMechanism, UserScramCredentialAlteration};
pub use topics::{ClusterDescription, NewTopic, TopicDescription, TopicListing};
pub use transactions::{
    HangingTransaction, ListedTransaction, ListedTransactions, ProducerState,
    TransactionDescription,
};

/// Admin operations on the cluster. Built with [`Admin::new`] from a
/// [`Client`]; shares the client's connections and metadata.
///
/// ```no_run
/// # async fn demo() -> kafkit::Result<()> {
/// let client = kafkit::Client::builder("localhost:9092").build().await?;
/// let admin = kafkit::Admin::new(&client);
/// println!("{:?}", admin.list_topics().await?);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Admin {
    client: Client,
}

impl Admin {
    /// An admin client sharing `client`'s connections and metadata (the
    /// same construction style as `Producer::builder(&client)`).
    pub fn new(client: &Client) -> Admin {
        Admin {
            client: client.clone(),
        }
    }

    /// The client this admin uses.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Runs `attempt` until it succeeds, fails with an error that is not
    /// retriable, or the request timeout has passed; refreshes metadata
    /// between attempts (a retriable failure is usually a moved leader,
    /// coordinator or controller).
    async fn retrying<T, F, Fut>(&self, api: &'static str, mut attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let deadline = tokio::time::Instant::now() + self.client.request_timeout();
        loop {
            match attempt().await {
                Err(e) if e.is_retriable() && tokio::time::Instant::now() < deadline => {
                    tracing::debug!(api, error = %e, "admin call failed; retrying");
                    tokio::time::sleep(self.client.retry_backoff()).await;
                    let _ = self.client.refresh_metadata().await;
                }
                other => return other,
            }
        }
    }

    /// Sends to broker `target`, or any broker when `None`, retrying
    /// retriable failures. Returns who answered and the response.
    async fn send_to_or_any<R>(
        &self,
        target: Option<i32>,
        request: R,
        api: &'static str,
    ) -> Result<(Option<i32>, R::Response)>
    where
        R: VersionedRequest + Clone,
        R::Response: ThrottleTime,
    {
        self.retrying(api, || async {
            match target {
                Some(id) => self
                    .client
                    .send_to(id, request.clone())
                    .await
                    .map(|r| (Some(id), r)),
                None => self.client.send_any(request.clone()).await,
            }
        })
        .await
        .map_err(|e| e.map_context(|c| with_api(c, api)))
    }
}

/// `context` naming the broker that answered, when known.
fn answered_by(context: Context, broker: Option<i32>) -> Context {
    match broker {
        Some(id) => context.with_broker(format!("node {id}")),
        None => context,
    }
}

/// `context` with the API set when a lower layer left it empty.
fn with_api(context: Context, api: &'static str) -> Context {
    Context {
        api: context.api.or(Some(api)),
        ..context
    }
}
