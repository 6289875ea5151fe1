//! Producer settings, with the Java producer's names and defaults.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::producer::partitioner::PartitionerKind;
use crate::protocol::records::Compression;

/// `acks`: how many replicas must have the record before the broker answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Acks {
    /// `acks=0`: no answer at all; offsets are unknown and nothing is retried.
    None,
    /// `acks=1`: the leader has written it.
    Leader,
    /// `acks=all` (-1, the default): every in-sync replica has it.
    #[default]
    All,
}

impl Acks {
    pub(crate) fn wire(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }
}

/// The producer's configuration. Built by [`crate::producer::ProducerBuilder`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProducerConfig {
    /// `acks` (all).
    pub acks: Acks,
    /// `linger.ms` (5 ms).
    pub linger: Duration,
    /// `batch.size` (16384 bytes); 0 disables batching (each record is its
    /// own batch, sent without lingering), as in Java.
    pub batch_size: usize,
    /// `max.request.size` (1 MiB).
    pub max_request_size: usize,
    /// `buffer.memory` (32 MiB).
    pub buffer_memory: usize,
    /// `max.block.ms` (60 s).
    pub max_block: Duration,
    /// `compression.type` (none).
    pub compression: Compression,
    /// `delivery.timeout.ms` (120 s).
    pub delivery_timeout: Duration,
    /// `request.timeout.ms` (30 s).
    pub request_timeout: Duration,
    /// `retry.backoff.ms` (100 ms).
    pub retry_backoff: Duration,
    /// `retry.backoff.max.ms` (1 s).
    pub retry_backoff_max: Duration,
    /// `max.in.flight.requests.per.connection` (5).
    pub max_in_flight: usize,
    /// `enable.idempotence` (unset: on when acks=all and max.in.flight ≤ 5).
    pub enable_idempotence: Option<bool>,
    /// `partitioner.class` (default partitioner).
    pub partitioner: PartitionerKind,
    /// `partitioner.ignore.keys` (false).
    pub partitioner_ignore_keys: bool,
    /// Whether `send` spans carry the record key as
    /// `messaging.kafka.message.key` (false: keys may be personal data).
    /// No Java equivalent.
    pub trace_record_keys: bool,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            acks: Acks::All,
            linger: Duration::from_millis(5),
            batch_size: 16384,
            max_request_size: 1024 * 1024,
            buffer_memory: 32 * 1024 * 1024,
            max_block: Duration::from_secs(60),
            compression: Compression::None,
            delivery_timeout: Duration::from_secs(120),
            request_timeout: Duration::from_secs(30),
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_secs(1),
            max_in_flight: 5,
            enable_idempotence: None,
            partitioner: PartitionerKind::Default,
            partitioner_ignore_keys: false,
            trace_record_keys: false,
        }
    }
}

impl ProducerConfig {
    /// Whether the producer is idempotent, resolving the unset default as
    /// Java does.
    pub fn idempotent(&self) -> bool {
        self.enable_idempotence
            .unwrap_or(self.acks == Acks::All && self.max_in_flight <= 5)
    }

    /// Checks the settings for contradictions, as Java's `ProducerConfig` does.
    pub fn validate(&self) -> Result<()> {
        if self.enable_idempotence == Some(true) {
            if self.acks != Acks::All {
                return Err(Error::Config("enable.idempotence requires acks=all".into()));
            }
            if self.max_in_flight > 5 {
                return Err(Error::Config(
                    "enable.idempotence requires max.in.flight.requests.per.connection <= 5".into(),
                ));
            }
        }
        // batch.size=0 is valid: no batching, as in Java.
        if self.max_request_size == 0 || self.buffer_memory == 0 {
            return Err(Error::Config(
                "max.request.size and buffer.memory must be positive".into(),
            ));
        }
        if self.max_request_size > self.buffer_memory {
            return Err(Error::Config(
                "max.request.size exceeds buffer.memory".into(),
            ));
        }
        if self.max_in_flight == 0 {
            return Err(Error::Config(
                "max.in.flight.requests.per.connection must be at least 1".into(),
            ));
        }
        if self.delivery_timeout < self.linger + self.request_timeout {
            return Err(Error::Config(
                "delivery.timeout.ms must be at least linger.ms + request.timeout.ms".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_java() {
        let c = ProducerConfig::default();
        assert_eq!(c.acks, Acks::All);
        assert!(c.idempotent());
        assert_eq!(c.linger, Duration::from_millis(5));
        assert_eq!(c.batch_size, 16384);
        c.validate().unwrap();
    }

    #[test]
    fn contradictions_are_config_errors() {
        let c = ProducerConfig {
            acks: Acks::Leader,
            enable_idempotence: Some(true),
            ..Default::default()
        };
        assert!(c.validate().unwrap_err().is_fatal());
        let implicit = ProducerConfig {
            acks: Acks::Leader,
            ..Default::default()
        };
        assert!(!implicit.idempotent());
        implicit.validate().unwrap();
        let unbatched = ProducerConfig {
            batch_size: 0,
            ..Default::default()
        };
        unbatched.validate().unwrap();
        let short = ProducerConfig {
            delivery_timeout: Duration::from_secs(1),
            ..Default::default()
        };
        assert!(short.validate().is_err());
    }
}
