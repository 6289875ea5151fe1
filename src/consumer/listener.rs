//! `RebalanceListener`: the user's hook into group rebalances (Java's
//! `ConsumerRebalanceListener`).

use std::future::Future;
use std::pin::Pin;

use super::Consumer;
use crate::TopicPartition;

/// What a [`RebalanceListener`] method returns: a boxed future, so that a
/// callback can await the consumer (commit in `on_partitions_revoked`, seek
/// in `on_partitions_assigned`). Write `Box::pin(async move { ... })`.
pub type ListenerFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Called from inside [`Consumer::poll`] (and `close`) when the group moves
/// partitions, never concurrently and never under the consumer's locks, so
/// the callbacks may use the consumer: commit, seek, read positions.
///
/// Order and meaning follow Java: `on_partitions_revoked` runs before
/// partitions are given up (they are still owned, commit them now);
/// `on_partitions_assigned` runs after new partitions are added and their
/// committed offsets are set (seek here to start elsewhere);
/// `on_partitions_lost` runs when partitions were already taken away
/// (session lost, fenced): do not commit them. Its default calls
/// `on_partitions_revoked`, as Java's does.
///
/// ```
/// use kafkit::TopicPartition;
/// use kafkit::consumer::{Consumer, ListenerFuture, RebalanceListener};
///
/// struct CommitOnRevoke;
///
/// impl RebalanceListener<String, String> for CommitOnRevoke {
///     fn on_partitions_revoked<'a>(
///         &'a self,
///         consumer: &'a Consumer<String, String>,
///         partitions: &'a [TopicPartition],
///     ) -> ListenerFuture<'a> {
///         Box::pin(async move {
///             if let Err(e) = consumer.commit_sync().await {
///                 eprintln!("commit before giving up {partitions:?} failed: {e}");
///             }
///         })
///     }
/// }
/// ```
pub trait RebalanceListener<K, V>: Send + Sync + 'static {
    /// Partitions about to be given up (Java's `onPartitionsRevoked`).
    fn on_partitions_revoked<'a>(
        &'a self,
        consumer: &'a Consumer<K, V>,
        partitions: &'a [TopicPartition],
    ) -> ListenerFuture<'a> {
        let _ = (consumer, partitions);
        Box::pin(async {})
    }

    /// Partitions newly assigned (Java's `onPartitionsAssigned`); may be
    /// empty, as Java calls it after every rebalance.
    fn on_partitions_assigned<'a>(
        &'a self,
        consumer: &'a Consumer<K, V>,
        partitions: &'a [TopicPartition],
    ) -> ListenerFuture<'a> {
        let _ = (consumer, partitions);
        Box::pin(async {})
    }

    /// Partitions lost without a chance to commit (Java's
    /// `onPartitionsLost`). Defaults to `on_partitions_revoked`.
    fn on_partitions_lost<'a>(
        &'a self,
        consumer: &'a Consumer<K, V>,
        partitions: &'a [TopicPartition],
    ) -> ListenerFuture<'a> {
        self.on_partitions_revoked(consumer, partitions)
    }
}
