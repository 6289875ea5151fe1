//! Dead-letter records: the headers that say where a failed record came from
//! and why it failed, in Spring Kafka's names and encodings, so tools built
//! for Spring's `DeadLetterPublishingRecoverer` read kafkit's dead letters.
//!
//! Spring writes (checked against Spring Kafka's `KafkaHeaders` constants and
//! `DeadLetterPublishingRecoverer.maybeAddOriginalHeaders`): the topic, the
//! timestamp type, the consumer group and the exception texts as UTF-8; the
//! partition as a 4-byte big-endian `int` and the offset and timestamp as
//! 8-byte big-endian `long`s (`ByteBuffer.putInt` / `putLong`). We add the
//! attempt count under our own name. Spring's stack-trace header has no Rust
//! counterpart and is left out.
//!
//! The topic: Spring's `DeadLetterPublishingRecoverer` sends to
//! `<topic>.DLT` by default (same partition); its retryable-topics feature
//! (`@RetryableTopic`) uses the suffix `-dlt` instead. kafkit uses `.DLT`.

use crate::TimestampType;

/// Spring's `KafkaHeaders.DLT_ORIGINAL_TOPIC`: the failed record's topic (UTF-8).
pub(crate) const ORIGINAL_TOPIC: &str = "kafka_dlt-original-topic";
/// Spring's `KafkaHeaders.DLT_ORIGINAL_PARTITION`: 4-byte big-endian int.
pub(crate) const ORIGINAL_PARTITION: &str = "kafka_dlt-original-partition";
/// Spring's `KafkaHeaders.DLT_ORIGINAL_OFFSET`: 8-byte big-endian long.
pub(crate) const ORIGINAL_OFFSET: &str = "kafka_dlt-original-offset";
/// Spring's `KafkaHeaders.DLT_ORIGINAL_TIMESTAMP`: 8-byte big-endian long (ms).
pub(crate) const ORIGINAL_TIMESTAMP: &str = "kafka_dlt-original-timestamp";
/// Spring's `KafkaHeaders.DLT_ORIGINAL_TIMESTAMP_TYPE`: `CreateTime` or
/// `LogAppendTime` (Java's `TimestampType.toString()`), UTF-8.
pub(crate) const ORIGINAL_TIMESTAMP_TYPE: &str = "kafka_dlt-original-timestamp-type";
/// Spring's `KafkaHeaders.DLT_ORIGINAL_CONSUMER_GROUP` (Spring 2.8+), UTF-8.
pub(crate) const ORIGINAL_CONSUMER_GROUP: &str = "kafka_dlt-original-consumer-group";
/// Spring's `KafkaHeaders.DLT_EXCEPTION_MESSAGE`: the error text, UTF-8.
pub(crate) const EXCEPTION_MESSAGE: &str = "kafka_dlt-exception-message";
/// Spring's `KafkaHeaders.DLT_EXCEPTION_FQCN`: the exception's Java class name;
/// we write [`EXCEPTION_FQCN_VALUE`].
pub(crate) const EXCEPTION_FQCN: &str = "kafka_dlt-exception-fqcn";
/// kafkit's own: how many times the record was attempted, 4-byte big-endian int.
pub(crate) const ATTEMPTS: &str = "kafkit_dlt-attempts";

/// The "exception class" kafkit names: there is no Java class, but tools
/// group dead letters by this header, so it is one fixed, recognisable value.
pub(crate) const EXCEPTION_FQCN_VALUE: &str = "kafkit.processor.HandlerError";

/// The suffix of the default dead-letter topic (Spring's
/// `DeadLetterPublishingRecoverer` default).
pub(crate) const DEAD_LETTER_SUFFIX: &str = ".DLT";

/// The headers to add to a dead-lettered copy of a record, in Spring Kafka's
/// names and encodings (see the module docs), in this order: topic,
/// partition, offset, timestamp, timestamp type, consumer group (left out
/// when `group` is empty, as Spring does without a group), exception
/// message, exception class, attempts.
///
/// The caller keeps the record's own headers before these; Spring appends
/// its headers after the original ones too.
#[allow(clippy::too_many_arguments)] // One argument per header, named as Spring names them.
pub(crate) fn dead_letter_headers(
    original_topic: &str,
    partition: i32,
    offset: i64,
    timestamp_ms: i64,
    timestamp_type: &str,
    group: &str,
    error: &str,
    attempts: u32,
) -> Vec<(String, Vec<u8>)> {
    let mut headers = Vec::with_capacity(9);
    let mut add = |name: &str, value: Vec<u8>| headers.push((name.to_owned(), value));
    add(ORIGINAL_TOPIC, original_topic.as_bytes().to_vec());
    add(ORIGINAL_PARTITION, partition.to_be_bytes().to_vec());
    add(ORIGINAL_OFFSET, offset.to_be_bytes().to_vec());
    add(ORIGINAL_TIMESTAMP, timestamp_ms.to_be_bytes().to_vec());
    add(ORIGINAL_TIMESTAMP_TYPE, timestamp_type.as_bytes().to_vec());
    if !group.is_empty() {
        add(ORIGINAL_CONSUMER_GROUP, group.as_bytes().to_vec());
    }
    add(EXCEPTION_MESSAGE, error.as_bytes().to_vec());
    add(EXCEPTION_FQCN, EXCEPTION_FQCN_VALUE.as_bytes().to_vec());
    // Java ints are signed; a count past i32::MAX is shown as the maximum
    // rather than as a negative number.
    let attempts = i32::try_from(attempts).unwrap_or(i32::MAX);
    add(ATTEMPTS, attempts.to_be_bytes().to_vec());
    headers
}

/// The timestamp type as Java's `TimestampType.toString()` spells it, for
/// the timestamp-type header.
pub(crate) fn timestamp_type_name(timestamp_type: TimestampType) -> &'static str {
    match timestamp_type {
        TimestampType::CreateTime => "CreateTime",
        TimestampType::LogAppendTime => "LogAppendTime",
    }
}

/// The default dead-letter topic of `topic`: `<topic>.DLT`.
///
/// Kafka topic names are at most 249 characters; a source topic longer than
/// 245 gives a name the broker refuses (the send then fails, naming it).
pub(crate) fn default_dead_letter_topic(topic: &str) -> String {
    format!("{topic}{DEAD_LETTER_SUFFIX}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value of header `name`.
    fn header<'a>(headers: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    #[test]
    fn headers_use_springs_names_and_encodings() {
        let h = dead_letter_headers(
            "orders",
            7,
            1_234_567_890_123,
            1_700_000_000_000,
            "CreateTime",
            "billing",
            "card declined: ü",
            3,
        );
        let names: Vec<&str> = h.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "kafka_dlt-original-topic",
                "kafka_dlt-original-partition",
                "kafka_dlt-original-offset",
                "kafka_dlt-original-timestamp",
                "kafka_dlt-original-timestamp-type",
                "kafka_dlt-original-consumer-group",
                "kafka_dlt-exception-message",
                "kafka_dlt-exception-fqcn",
                "kafkit_dlt-attempts",
            ]
        );
        assert_eq!(header(&h, ORIGINAL_TOPIC), Some(&b"orders"[..]));
        // Java's ByteBuffer.allocate(4).putInt(7).array().
        assert_eq!(header(&h, ORIGINAL_PARTITION), Some(&[0, 0, 0, 7][..]));
        // ByteBuffer.allocate(8).putLong(1234567890123L): 0x0000011F71FB04CB.
        assert_eq!(
            header(&h, ORIGINAL_OFFSET),
            Some(&[0x00, 0x00, 0x01, 0x1f, 0x71, 0xfb, 0x04, 0xcb][..])
        );
        assert_eq!(
            header(&h, ORIGINAL_TIMESTAMP)
                .map(|v| i64::from_be_bytes(v.try_into().expect("8 bytes"))),
            Some(1_700_000_000_000)
        );
        assert_eq!(
            header(&h, ORIGINAL_TIMESTAMP_TYPE),
            Some(&b"CreateTime"[..])
        );
        assert_eq!(header(&h, ORIGINAL_CONSUMER_GROUP), Some(&b"billing"[..]));
        assert_eq!(
            header(&h, EXCEPTION_MESSAGE),
            Some("card declined: ü".as_bytes())
        );
        assert_eq!(
            header(&h, EXCEPTION_FQCN),
            Some(&b"kafkit.processor.HandlerError"[..])
        );
        assert_eq!(header(&h, ATTEMPTS), Some(&[0, 0, 0, 3][..]));
    }

    #[test]
    fn negative_numbers_are_twos_complement_like_java() {
        // A record without a timestamp has -1 (Java's NO_TIMESTAMP).
        let h = dead_letter_headers("t", -1, -1, -1, "NoTimestampType", "g", "", u32::MAX);
        assert_eq!(header(&h, ORIGINAL_PARTITION), Some(&[0xff; 4][..]));
        assert_eq!(header(&h, ORIGINAL_TIMESTAMP), Some(&[0xff; 8][..]));
        assert_eq!(header(&h, EXCEPTION_MESSAGE), Some(&b""[..]));
        assert_eq!(header(&h, ATTEMPTS), Some(&[0x7f, 0xff, 0xff, 0xff][..]));
    }

    #[test]
    fn no_group_header_without_a_group() {
        let h = dead_letter_headers("t", 0, 0, 0, "CreateTime", "", "boom", 1);
        assert_eq!(header(&h, ORIGINAL_CONSUMER_GROUP), None);
        assert_eq!(h.len(), 8);
    }

    #[test]
    fn timestamp_types_are_spelled_as_java_does() {
        assert_eq!(timestamp_type_name(TimestampType::CreateTime), "CreateTime");
        assert_eq!(
            timestamp_type_name(TimestampType::LogAppendTime),
            "LogAppendTime"
        );
    }

    #[test]
    fn the_default_topic_appends_dot_dlt() {
        assert_eq!(default_dead_letter_topic("orders"), "orders.DLT");
        assert_eq!(default_dead_letter_topic("a.b-c_d"), "a.b-c_d.DLT");
    }
}
