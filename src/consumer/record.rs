//! What the consumer hands out: [`ConsumerRecord`] and the batch of them one
//! `poll` returns, [`ConsumerRecords`], after Java's classes of the same names.

use std::sync::Arc;

use crate::TopicPartition;
use crate::protocol::records::{Header, TimestampType};

/// One record read from a partition: Java's `ConsumerRecord<K, V>`.
///
/// A null key or value is `None` (the deserializer is not called for it), so
/// a `Consumer<String, String>` reads keyless records and tombstones without
/// special deserializers. Header values are slices of the fetched buffer.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumerRecord<K, V> {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition.
    pub partition: i32,
    /// The record's offset in the partition.
    pub offset: i64,
    /// Timestamp in milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// Whether the producer or the broker set the timestamp.
    pub timestamp_type: TimestampType,
    /// The key; `None` for a null key.
    pub key: Option<K>,
    /// The value; `None` for a null value (a tombstone).
    pub value: Option<V>,
    /// Headers in wire order.
    pub headers: Vec<Header>,
    /// The leader epoch of the batch the record came in (KIP-320), if the
    /// broker recorded one.
    pub leader_epoch: Option<i32>,
    /// The key's size in bytes as read, before deserializing; -1 for a
    /// null key (Java's `serializedKeySize`).
    pub serialized_key_size: i32,
    /// The value's size in bytes as read; -1 for a null value.
    pub serialized_value_size: i32,
}

impl<K, V> ConsumerRecord<K, V> {
    /// The record's partition as a [`TopicPartition`].
    pub fn topic_partition(&self) -> TopicPartition {
        TopicPartition {
            topic: self.topic.clone(),
            partition: self.partition,
        }
    }

    /// The value of the last header named `key`, as Java's `Headers.lastHeader`.
    pub fn last_header(&self, key: &str) -> Option<&Header> {
        self.headers
            .iter()
            .rev()
            .find(|h| h.key.as_ref() == key.as_bytes())
    }
}

/// The records one `poll` returned, in fetch order: per partition in offset
/// order; partitions interleaved in turns.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumerRecords<K, V> {
    records: Vec<ConsumerRecord<K, V>>,
}

impl<K, V> Default for ConsumerRecords<K, V> {
    fn default() -> Self {
        ConsumerRecords {
            records: Vec::new(),
        }
    }
}

impl<K, V> ConsumerRecords<K, V> {
    pub(crate) fn new(records: Vec<ConsumerRecord<K, V>>) -> Self {
        ConsumerRecords { records }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the poll returned nothing.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The records in order.
    pub fn iter(&self) -> std::slice::Iter<'_, ConsumerRecord<K, V>> {
        self.records.iter()
    }

    /// The records of one partition, in offset order.
    pub fn records<'a>(
        &'a self,
        tp: &'a TopicPartition,
    ) -> impl Iterator<Item = &'a ConsumerRecord<K, V>> + 'a {
        self.records
            .iter()
            .filter(move |r| r.partition == tp.partition && *r.topic == *tp.topic)
    }

    /// The partitions that have records in this set, sorted.
    pub fn partitions(&self) -> Vec<TopicPartition> {
        let mut tps: Vec<TopicPartition> =
            self.records.iter().map(|r| r.topic_partition()).collect();
        tps.sort();
        tps.dedup();
        tps
    }

    /// The records as a `Vec`.
    pub fn into_vec(self) -> Vec<ConsumerRecord<K, V>> {
        self.records
    }
}

impl<K, V> IntoIterator for ConsumerRecords<K, V> {
    type Item = ConsumerRecord<K, V>;
    type IntoIter = std::vec::IntoIter<ConsumerRecord<K, V>>;

    fn into_iter(self) -> Self::IntoIter {
        self.records.into_iter()
    }
}

impl<'a, K, V> IntoIterator for &'a ConsumerRecords<K, V> {
    type Item = &'a ConsumerRecord<K, V>;
    type IntoIter = std::slice::Iter<'a, ConsumerRecord<K, V>>;

    fn into_iter(self) -> Self::IntoIter {
        self.records.iter()
    }
}
