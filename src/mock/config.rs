//! Topic and broker configs the mock knows: their Kafka defaults, which of
//! them change behaviour, and validation of names.
//!
//! Behaviour follows `max.message.bytes` (Produce refuses larger batches
//! with MESSAGE_TOO_LARGE). `cleanup.policy`, `retention.ms` and the rest
//! are stored and described but do not change what the log does (no
//! compaction, no retention).

use std::collections::BTreeMap;

/// Configs set on a topic or broker (values as strings, like Kafka's).
pub(crate) type TopicConfigs = BTreeMap<String, String>;

/// Topic configs the mock accepts, with Apache Kafka's defaults.
pub(crate) const TOPIC_DEFAULTS: &[(&str, &str)] = &[
    ("cleanup.policy", "delete"),
    ("compression.type", "producer"),
    ("delete.retention.ms", "86400000"),
    ("max.compaction.lag.ms", "9223372036854775807"),
    ("max.message.bytes", "1048588"),
    ("message.timestamp.type", "CreateTime"),
    ("min.cleanable.dirty.ratio", "0.5"),
    ("min.compaction.lag.ms", "0"),
    ("min.insync.replicas", "1"),
    ("retention.bytes", "-1"),
    ("retention.ms", "604800000"),
    ("segment.bytes", "1073741824"),
    ("segment.ms", "604800000"),
    ("unclean.leader.election.enable", "false"),
];

/// Kafka's default `max.message.bytes`.
pub(crate) const DEFAULT_MAX_MESSAGE_BYTES: usize = 1_048_588;

/// The default of a topic config, `None` for a config Kafka does not know.
pub(crate) fn topic_default(name: &str) -> Option<&'static str> {
    TOPIC_DEFAULTS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
}

/// Checks a topic config value; the error is the message for INVALID_CONFIG.
pub(crate) fn validate_topic_config(name: &str, value: &str) -> Result<(), String> {
    if topic_default(name).is_none() {
        return Err(format!("Unknown topic config name: {name}"));
    }
    let ok = match name {
        "cleanup.policy" => value
            .split(',')
            .all(|p| matches!(p.trim(), "delete" | "compact")),
        "message.timestamp.type" => matches!(value, "CreateTime" | "LogAppendTime"),
        "compression.type" => matches!(
            value,
            "producer" | "uncompressed" | "gzip" | "snappy" | "lz4" | "zstd"
        ),
        "min.cleanable.dirty.ratio" => value.parse::<f64>().is_ok_and(|r| (0.0..=1.0).contains(&r)),
        "unclean.leader.election.enable" => matches!(value, "true" | "false"),
        "max.message.bytes" | "min.insync.replicas" => value.parse::<i32>().is_ok_and(|v| v >= 0),
        _ => value.parse::<i64>().is_ok(),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("Invalid value {value} for configuration {name}"))
    }
}

/// The effective `max.message.bytes` of a topic.
pub(crate) fn max_message_bytes(configs: &TopicConfigs) -> usize {
    configs
        .get("max.message.bytes")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(DEFAULT_MAX_MESSAGE_BYTES)
}

/// Whether `name` is a legal topic name (Kafka's rules: 1..=249 of
/// `[a-zA-Z0-9._-]`, not `.` or `..`).
pub(crate) fn valid_topic_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        assert!(validate_topic_config("cleanup.policy", "compact,delete").is_ok());
        assert!(validate_topic_config("cleanup.policy", "forever").is_err());
        assert!(validate_topic_config("no.such.config", "1").is_err());
        assert!(validate_topic_config("retention.ms", "-1").is_ok());
        assert!(validate_topic_config("max.message.bytes", "x").is_err());
        assert!(valid_topic_name("a.b_c-1"));
        assert!(!valid_topic_name("a b") && !valid_topic_name("..") && !valid_topic_name(""));
    }
}
