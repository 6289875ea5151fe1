//! Partitioners: which partition of a topic a record goes to.
//!
//! The decision follows the Java producer (`KafkaProducer.partition` and
//! the built-in partitioner of KIP-794), in this order:
//!
//! 1. a partition set on the record wins;
//! 2. else a configured partitioner (`partitioner.class`): [`RoundRobin`]
//!    or your own [`Partitioner`] decides;
//! 3. else a record with a key goes to
//!    `to_positive(murmur2(key)) % num_partitions` ([`partition_for_key`]),
//!    unless `partitioner.ignore.keys=true`;
//! 4. else the record has no preference and the per-topic
//!    [`StickyPartitioner`] places it (the "uniform sticky" partitioner).
//!
//! [`PartitionSelector::choose`] implements steps 1-3 and tells the caller
//! when step 4 applies; the accumulator owns one [`StickyPartitioner`] per
//! topic and drives it as records are appended.
//!
//! Keyed placement is bit-compatible with the Java client and with
//! librdkafka's `murmur2_random` partitioner, so keyed records land on the
//! same partitions whichever of these clients produced them.
//!
//! [`RoundRobin`]: PartitionerKind::RoundRobin

mod murmur2;
mod rng;
mod round_robin;
mod sticky;

use std::fmt;
use std::sync::Arc;

use crate::error::{Context, Error, Result};
use crate::metadata::TopicMetadata;

pub use murmur2::{murmur2, to_positive};
pub use round_robin::RoundRobinPartitioner;
pub use sticky::StickyPartitioner;

/// The partition Kafka's default partitioner picks for a serialized key:
/// `to_positive(murmur2(key)) % num_partitions` (Java's
/// `BuiltInPartitioner.partitionForKey`).
///
/// The count is that of all partitions, available or not: a key's partition
/// must not move when a leader is briefly missing.
///
/// ```
/// use kafkit::producer::partitioner::{TopicPartitions, partition_for_key};
/// let partitions = TopicPartitions::new(6, 0..6).unwrap();
/// let p = partition_for_key(b"user-42", &partitions);
/// assert!((0..6).contains(&p));
/// assert_eq!(p, partition_for_key(b"user-42", &partitions));
/// ```
pub fn partition_for_key(key: &[u8], partitions: &TopicPartitions) -> i32 {
    // `num_partitions` is positive by construction of `TopicPartitions`.
    to_positive(murmur2(key)) % partitions.num_partitions
}

/// What a partitioner may know about a topic: how many partitions it has and
/// which of them currently have a leader.
///
/// Build it once per metadata snapshot (it is cheap to clone) rather than per
/// record. Invariants, established by the constructors: the partition count
/// is positive, and the available list is sorted, free of duplicates and
/// within `0..num_partitions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicPartitions {
    num_partitions: i32,
    available: Arc<[i32]>,
}

impl TopicPartitions {
    /// A view of a topic with `num_partitions` partitions of which
    /// `available` have a leader.
    ///
    /// Returns `None` when `num_partitions` is not positive: there is nothing
    /// to choose from. Entries of `available` outside `0..num_partitions`
    /// are dropped and the rest sorted and deduplicated, so a partitioner can
    /// return any of them without checking.
    pub fn new(num_partitions: i32, available: impl IntoIterator<Item = i32>) -> Option<Self> {
        if num_partitions <= 0 {
            return None;
        }
        let mut available: Vec<i32> = available
            .into_iter()
            .filter(|p| (0..num_partitions).contains(p))
            .collect();
        available.sort_unstable();
        available.dedup();
        Some(TopicPartitions {
            num_partitions,
            available: available.into(),
        })
    }

    /// The view of a topic from cluster metadata, as Java's `Cluster` gives
    /// it to partitioners: the count is the number of partitions listed, and
    /// a partition is available when it has a leader.
    ///
    /// Returns `None` for a topic listed without partitions.
    pub fn from_metadata(topic: &TopicMetadata) -> Option<Self> {
        let count = i32::try_from(topic.partitions.len()).ok()?;
        Self::new(
            count,
            topic
                .partitions
                .iter()
                .filter(|p| p.leader.is_some())
                .map(|p| p.partition),
        )
    }

    /// Number of partitions of the topic (always at least 1).
    pub fn num_partitions(&self) -> i32 {
        self.num_partitions
    }

    /// Partitions that currently have a leader, sorted ascending.
    pub fn available(&self) -> &[i32] {
        &self.available
    }

    /// Whether `partition` is one of the topic's partitions
    /// (`0..num_partitions`).
    pub fn contains(&self, partition: i32) -> bool {
        (0..self.num_partitions).contains(&partition)
    }

    /// Whether `partition` currently has a leader.
    pub fn is_available(&self, partition: i32) -> bool {
        self.available.binary_search(&partition).is_ok()
    }
}

/// A custom partitioner: Java's `org.apache.kafka.clients.producer.Partitioner`,
/// configured there with `partitioner.class`.
///
/// Called for every record that has no explicit partition, with the
/// serialized key and value (`None` for null). It must return a partition in
/// `0..partitions.num_partitions()`; the producer fails the record otherwise
/// (see [`PartitionSelector::choose`]).
///
/// It is shared by all tasks sending through a producer, so it must be
/// `Send + Sync`; use atomics or a mutex for any state.
///
/// ```
/// use std::sync::Arc;
/// use kafkit::producer::partitioner::{Partitioner, PartitionerKind, TopicPartitions};
///
/// /// Sends everything whose key starts with "vip-" to partition 0 and
/// /// spreads the rest over the other partitions.
/// #[derive(Debug)]
/// struct VipFirst;
///
/// impl Partitioner for VipFirst {
///     fn partition(
///         &self,
///         _topic: &str,
///         key: Option<&[u8]>,
///         _value: Option<&[u8]>,
///         partitions: &TopicPartitions,
///     ) -> i32 {
///         let n = partitions.num_partitions();
///         match key {
///             Some(k) if k.starts_with(b"vip-") || n == 1 => 0,
///             Some(k) => 1 + k.len() as i32 % (n - 1),
///             None => 0,
///         }
///     }
/// }
///
/// let kind = PartitionerKind::Custom(Arc::new(VipFirst));
/// # let _ = kind;
/// ```
pub trait Partitioner: Send + Sync {
    /// The partition for a record of `topic` with this serialized key and
    /// value.
    fn partition(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        partitions: &TopicPartitions,
    ) -> i32;
}

/// Which partitioner a producer uses: Java's `partitioner.class`.
///
/// Related Java settings: `partitioner.ignore.keys` is the `ignore_keys`
/// argument of [`PartitionSelector::new`]; `batch.size` is the sticky batch
/// size of [`StickyPartitioner::new`]. Adaptive partitioning
/// (`partitioner.adaptive.partitioning.enable`,
/// `partitioner.availability.timeout.ms`) is not implemented: keyless
/// records spread uniformly over the partitions that have a leader.
#[derive(Clone, Default)]
pub enum PartitionerKind {
    /// `partitioner.class` unset (Java's default since 3.3): murmur2 of the
    /// key when there is one, else the uniform sticky partitioner.
    #[default]
    Default,
    /// `org.apache.kafka.clients.producer.RoundRobinPartitioner`: every
    /// record (keyed or not) goes to the next available partition in turn,
    /// with one counter per topic. Each producer gets its own counters.
    RoundRobin,
    /// Your own partitioner.
    Custom(Arc<dyn Partitioner>),
}

impl fmt::Debug for PartitionerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartitionerKind::Default => f.write_str("Default"),
            PartitionerKind::RoundRobin => f.write_str("RoundRobin"),
            PartitionerKind::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

/// Where [`PartitionSelector::choose`] sends a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionChoice {
    /// This partition, already checked to be in range.
    Partition(i32),
    /// No preference (no key, or keys ignored): the topic's
    /// [`StickyPartitioner`] places the record. Java's `UNKNOWN_PARTITION`.
    Sticky,
}

/// The producer's partition decision for records, steps 1-3 of the module
/// documentation. One per producer; it holds the round-robin counters when
/// that partitioner is configured.
#[derive(Clone)]
pub struct PartitionSelector {
    custom: Option<Arc<dyn Partitioner>>,
    ignore_keys: bool,
}

impl fmt::Debug for PartitionSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PartitionSelector")
            .field("custom", &self.custom.is_some())
            .field("ignore_keys", &self.ignore_keys)
            .finish()
    }
}

impl PartitionSelector {
    /// A selector for `kind`. `ignore_keys` is Java's
    /// `partitioner.ignore.keys` (default false): when true, keyed records are
    /// placed like keyless ones. Like in Java it only affects the default
    /// partitioner; configured partitioners always see the key.
    pub fn new(kind: &PartitionerKind, ignore_keys: bool) -> Self {
        let custom: Option<Arc<dyn Partitioner>> = match kind {
            PartitionerKind::Default => None,
            PartitionerKind::RoundRobin => Some(Arc::new(RoundRobinPartitioner::new())),
            PartitionerKind::Custom(p) => Some(p.clone()),
        };
        PartitionSelector {
            custom,
            ignore_keys,
        }
    }

    /// Where a record goes: its `explicit` partition if set, else the
    /// configured partitioner's answer, else its key's hash, else
    /// [`PartitionChoice::Sticky`].
    ///
    /// Fails when the explicit or custom partition is outside
    /// `0..num_partitions` (Java rejects both too: "Invalid partition given
    /// with record" / "The partitioner generated an invalid partition
    /// number").
    pub fn choose(
        &self,
        topic: &str,
        explicit: Option<i32>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        partitions: &TopicPartitions,
    ) -> Result<PartitionChoice> {
        if let Some(p) = explicit {
            return checked(topic, p, partitions, "record's partition");
        }
        if let Some(custom) = &self.custom {
            let p = custom.partition(topic, key, value, partitions);
            return checked(topic, p, partitions, "partitioner generated partition");
        }
        match key {
            Some(key) if !self.ignore_keys => Ok(PartitionChoice::Partition(partition_for_key(
                key, partitions,
            ))),
            _ => Ok(PartitionChoice::Sticky),
        }
    }
}

/// `partition` as a choice when it is one of the topic's partitions.
fn checked(
    topic: &str,
    partition: i32,
    partitions: &TopicPartitions,
    what: &str,
) -> Result<PartitionChoice> {
    if partitions.contains(partition) {
        Ok(PartitionChoice::Partition(partition))
    } else {
        Err(Error::InvalidArgument {
            reason: format!(
                "{what} {partition} is not in the range [0...{})",
                partitions.num_partitions()
            ),
            context: Context::default()
                .with_topic(topic)
                .with_partition(partition),
        })
    }
}

#[cfg(test)]
mod tests;
