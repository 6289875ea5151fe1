//! What the producer sends ([`ProducerRecord`]) and what a send resolves to
//! ([`RecordMetadata`]), after Java's classes of the same names.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

use crate::error::{Context, Error, Result};

/// A record to send: Java's `ProducerRecord<K, V>`.
///
/// Only the topic is required. Without a partition the producer's
/// partitioner chooses one (by key hash when there is a key); without a
/// timestamp the producer stamps the send time. A `None` value is Kafka's
/// null, which on a compacted topic deletes the key (a tombstone).
///
/// ```
/// use kafkit::producer::record::ProducerRecord;
///
/// let record = ProducerRecord::new("orders", "two teas")
///     .key("table-7")
///     .header("source", "till-2")
///     .timestamp(1_700_000_000_000);
/// assert_eq!(&*record.topic, "orders");
/// assert_eq!(record.key, Some("table-7"));
/// assert_eq!(record.partition, None);
///
/// // Deleting "table-7" from a compacted topic:
/// let delete = ProducerRecord::<_, String>::tombstone("orders", "table-7");
/// assert_eq!(delete.value, None);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ProducerRecord<K, V> {
    /// The topic to send to.
    pub topic: Arc<str>,
    /// The partition, if the caller chooses it; it then overrides the
    /// partitioner.
    pub partition: Option<i32>,
    /// The key, if any. Records with the same key go to the same partition
    /// under the default partitioner.
    pub key: Option<K>,
    /// The value; `None` sends a null value (a tombstone).
    pub value: Option<V>,
    /// Headers in order; keys may repeat, values may be null.
    pub headers: Vec<(String, Option<Bytes>)>,
    /// Create time in milliseconds since the Unix epoch; `None` uses the
    /// time of the send.
    pub timestamp: Option<i64>,
}

impl<K, V> ProducerRecord<K, V> {
    /// A record with this value and no key.
    pub fn new(topic: impl Into<Arc<str>>, value: V) -> Self {
        ProducerRecord {
            topic: topic.into(),
            partition: None,
            key: None,
            value: Some(value),
            headers: Vec::new(),
            timestamp: None,
        }
    }

    /// A record with this key and a null value: on a compacted topic it
    /// deletes the key.
    pub fn tombstone(topic: impl Into<Arc<str>>, key: K) -> Self {
        ProducerRecord {
            topic: topic.into(),
            partition: None,
            key: Some(key),
            value: None,
            headers: Vec::new(),
            timestamp: None,
        }
    }

    /// This record with its key set.
    pub fn key(mut self, key: K) -> Self {
        self.key = Some(key);
        self
    }

    /// This record sent to `partition`, bypassing the partitioner.
    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// This record with a header appended.
    pub fn header(mut self, key: impl Into<String>, value: impl Into<Bytes>) -> Self {
        self.headers.push((key.into(), Some(value.into())));
        self
    }

    /// This record with a header whose value is null appended.
    pub fn null_header(mut self, key: impl Into<String>) -> Self {
        self.headers.push((key.into(), None));
        self
    }

    /// This record with its create time set, in milliseconds since the Unix
    /// epoch. Topics with `message.timestamp.type=LogAppendTime` replace it
    /// with the broker's time.
    pub fn timestamp(mut self, timestamp_ms: i64) -> Self {
        self.timestamp = Some(timestamp_ms);
        self
    }

    /// Checks what Java's `ProducerRecord` constructor checks: the
    /// partition and timestamp, when given, are not negative.
    pub fn validate(&self) -> Result<()> {
        let invalid = |reason: String| Error::InvalidArgument {
            reason,
            context: Context::default().with_topic(self.topic.clone()),
        };
        if let Some(p) = self.partition.filter(|p| *p < 0) {
            return Err(invalid(format!(
                "invalid partition {p}: a partition number is never negative"
            )));
        }
        if let Some(t) = self.timestamp.filter(|t| *t < 0) {
            return Err(invalid(format!(
                "invalid timestamp {t}: a timestamp is never negative"
            )));
        }
        Ok(())
    }
}

/// Where a sent record was stored: what a send resolves to. Java's
/// `RecordMetadata`.
///
/// ```
/// use kafkit::producer::record::RecordMetadata;
///
/// // The second record of a batch the broker stored at offset 100, on a
/// // topic that keeps the producer's create time.
/// let meta = RecordMetadata::from_produce_response("orders", 3, 100, 1, 1_700_000_000_000, -1);
/// assert_eq!(meta.offset, Some(101));
/// assert_eq!(meta.timestamp, 1_700_000_000_000);
/// assert_eq!(meta.to_string(), "orders-3@101");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordMetadata {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition.
    pub partition: i32,
    /// The record's offset in the partition; `None` when the broker does not
    /// say (`acks=0`), where Java reports -1.
    pub offset: Option<i64>,
    /// The record's timestamp in milliseconds since the Unix epoch: the
    /// broker's log append time when the topic uses `LogAppendTime`, else
    /// the create time the record was sent with.
    pub timestamp: i64,
}

impl RecordMetadata {
    /// Metadata with the given fields.
    pub fn new(
        topic: impl Into<Arc<str>>,
        partition: i32,
        offset: Option<i64>,
        timestamp: i64,
    ) -> Self {
        RecordMetadata {
            topic: topic.into(),
            partition,
            offset,
            timestamp,
        }
    }

    /// Metadata for the record at `index_in_batch` of a batch, from the
    /// partition's Produce response, as Java's `FutureRecordMetadata`
    /// computes it.
    ///
    /// - `base_offset`: the response's base offset; negative (-1 with
    ///   `acks=0`) means unknown.
    /// - `create_time`: the timestamp the record was sent with.
    /// - `log_append_time`: the response's `log_append_time_ms`, -1 unless
    ///   the topic uses `LogAppendTime`; when set it is the record's
    ///   timestamp.
    ///
    /// The values come from the broker: an offset that would overflow is
    /// reported as unknown rather than wrapped.
    pub fn from_produce_response(
        topic: impl Into<Arc<str>>,
        partition: i32,
        base_offset: i64,
        index_in_batch: u32,
        create_time: i64,
        log_append_time: i64,
    ) -> Self {
        let offset = if base_offset < 0 {
            None
        } else {
            base_offset.checked_add(i64::from(index_in_batch))
        };
        let timestamp = if log_append_time >= 0 {
            log_append_time
        } else {
            create_time
        };
        RecordMetadata::new(topic, partition, offset, timestamp)
    }
}

impl fmt::Display for RecordMetadata {
    /// `topic-partition@offset`, like Java's `toString`, with `-1` for an
    /// unknown offset.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}@{}",
            self.topic,
            self.partition,
            self.offset.unwrap_or(-1)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_sets_every_field() {
        let r = ProducerRecord::new("t", b"v".to_vec())
            .key("k".to_string())
            .partition(2)
            .header("a", "1")
            .null_header("b")
            .header("a", Bytes::from_static(b"2"))
            .timestamp(5);
        assert_eq!(&*r.topic, "t");
        assert_eq!(r.partition, Some(2));
        assert_eq!(r.key.as_deref(), Some("k"));
        assert_eq!(r.value.as_deref(), Some(&b"v"[..]));
        assert_eq!(
            r.headers,
            vec![
                ("a".to_string(), Some(Bytes::from_static(b"1"))),
                ("b".to_string(), None),
                ("a".to_string(), Some(Bytes::from_static(b"2"))),
            ]
        );
        assert_eq!(r.timestamp, Some(5));
        r.validate().unwrap();
    }

    #[test]
    fn new_and_tombstone_defaults() {
        let r: ProducerRecord<(), &str> = ProducerRecord::new("t", "v");
        assert_eq!(
            (r.key, r.value, r.partition, r.timestamp),
            (None, Some("v"), None, None)
        );
        assert!(r.headers.is_empty());

        let t: ProducerRecord<&str, Bytes> = ProducerRecord::tombstone("t", "k");
        assert_eq!((t.key, t.value), (Some("k"), None));
    }

    #[test]
    fn validate_rejects_negative_partition_and_timestamp() {
        let r = ProducerRecord::<(), ()>::new("t", ()).partition(-1);
        let err = r.validate().unwrap_err();
        assert!(err.to_string().contains("invalid partition -1"), "{err}");
        assert!(err.to_string().contains("topic=t"), "{err}");
        let r = ProducerRecord::<(), ()>::new("t", ()).timestamp(-5);
        assert!(r.validate().is_err());
        ProducerRecord::<(), ()>::new("t", ())
            .timestamp(0)
            .partition(0)
            .validate()
            .unwrap();
    }

    #[test]
    fn metadata_from_response_follows_java() {
        // CreateTime topic: the record's create time.
        let m = RecordMetadata::from_produce_response("t", 0, 10, 4, 1_000, -1);
        assert_eq!((m.offset, m.timestamp), (Some(14), 1_000));
        // LogAppendTime topic: the broker's time wins.
        let m = RecordMetadata::from_produce_response("t", 0, 10, 0, 1_000, 2_000);
        assert_eq!(m.timestamp, 2_000);
        // acks=0: no offset.
        let m = RecordMetadata::from_produce_response("t", 1, -1, 3, 1_000, -1);
        assert_eq!(m.offset, None);
        assert_eq!(m.to_string(), "t-1@-1");
        // A broker's absurd base offset does not wrap.
        let m = RecordMetadata::from_produce_response("t", 0, i64::MAX, 1, 0, -1);
        assert_eq!(m.offset, None);
    }
}
