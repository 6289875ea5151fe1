//! `RebalanceListener`: the user's hook into group rebalances (Java's
//! `ConsumerRebalanceListener`).

use std::future::Future;
use std::pin::Pin;

use crate::TopicPartition;
use crate::consumer::Consumer;

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
/// `on_partitions_revoked`, as Java's does. Every method has an empty
/// default; implement the ones you need, as `async fn`s.
///
/// ```
/// use kafkit::TopicPartition;
/// use kafkit::consumer::{Consumer, RebalanceListener};
///
/// struct CommitOnRevoke;
///
/// impl RebalanceListener<String, String> for CommitOnRevoke {
///     async fn on_partitions_revoked(
///         &self,
///         consumer: &Consumer<String, String>,
///         partitions: &[TopicPartition],
///     ) {
///         if let Err(e) = consumer.commit_sync().await {
///             eprintln!("commit before giving up {partitions:?} failed: {e}");
///         }
///     }
/// }
/// ```
pub trait RebalanceListener<K, V>: Send + Sync + 'static {
    /// Partitions about to be given up (Java's `onPartitionsRevoked`).
    fn on_partitions_revoked(
        &self,
        consumer: &Consumer<K, V>,
        partitions: &[TopicPartition],
    ) -> impl Future<Output = ()> + Send {
        let _ = (consumer, partitions);
        async {}
    }

    /// Partitions newly assigned (Java's `onPartitionsAssigned`); may be
    /// empty, as Java calls it after every rebalance.
    fn on_partitions_assigned(
        &self,
        consumer: &Consumer<K, V>,
        partitions: &[TopicPartition],
    ) -> impl Future<Output = ()> + Send {
        let _ = (consumer, partitions);
        async {}
    }

    /// Partitions lost without a chance to commit (Java's
    /// `onPartitionsLost`). Defaults to `on_partitions_revoked`.
    fn on_partitions_lost(
        &self,
        consumer: &Consumer<K, V>,
        partitions: &[TopicPartition],
    ) -> impl Future<Output = ()> + Send {
        self.on_partitions_revoked(consumer, partitions)
    }
}

/// A listener call's future, boxed so the consumer can hold any listener
/// behind one pointer.
pub(crate) type BoxedCall<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// The dyn-compatible form of [`RebalanceListener`] the consumer stores;
/// every listener has it through the blanket impl, which boxes.
pub(crate) trait ErasedListener<K, V>: Send + Sync + 'static {
    fn revoked<'a>(&'a self, c: &'a Consumer<K, V>, p: &'a [TopicPartition]) -> BoxedCall<'a>;
    fn assigned<'a>(&'a self, c: &'a Consumer<K, V>, p: &'a [TopicPartition]) -> BoxedCall<'a>;
    fn lost<'a>(&'a self, c: &'a Consumer<K, V>, p: &'a [TopicPartition]) -> BoxedCall<'a>;
}

impl<K, V, L: RebalanceListener<K, V>> ErasedListener<K, V> for L {
    fn revoked<'a>(&'a self, c: &'a Consumer<K, V>, p: &'a [TopicPartition]) -> BoxedCall<'a> {
        Box::pin(self.on_partitions_revoked(c, p))
    }
    fn assigned<'a>(&'a self, c: &'a Consumer<K, V>, p: &'a [TopicPartition]) -> BoxedCall<'a> {
        Box::pin(self.on_partitions_assigned(c, p))
    }
    fn lost<'a>(&'a self, c: &'a Consumer<K, V>, p: &'a [TopicPartition]) -> BoxedCall<'a> {
        Box::pin(self.on_partitions_lost(c, p))
    }
}
