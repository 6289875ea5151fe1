//! Consumer settings, with the Java consumer's names and defaults.

use std::time::Duration;

use crate::error::{Error, Result};

/// `auto.offset.reset`: where to start when a partition has no position, or
/// when its position is out of the log's range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OffsetReset {
    /// `earliest`: the log start offset.
    Earliest,
    /// `latest` (the default): the log end offset, so only new records are read.
    #[default]
    Latest,
    /// `none`: no automatic reset; `poll` returns an error naming the
    /// partition and the application must `seek`.
    None,
}

impl std::str::FromStr for OffsetReset {
    type Err = Error;

    fn from_str(s: &str) -> Result<OffsetReset> {
        match s {
            "earliest" => Ok(OffsetReset::Earliest),
            "latest" => Ok(OffsetReset::Latest),
            "none" => Ok(OffsetReset::None),
            other => Err(Error::Config(format!(
                "auto.offset.reset must be earliest, latest or none, not {other:?}"
            ))),
        }
    }
}

/// `isolation.level`: whether records of open or aborted transactions are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IsolationLevel {
    /// `read_uncommitted` (the default): every record up to the high watermark.
    #[default]
    ReadUncommitted,
    /// `read_committed`: only up to the last stable offset. Filtering of
    /// aborted transactions' records is not implemented yet: the fetcher
    /// keeps the broker's aborted-transaction list for it, but today only
    /// the last-stable-offset bound is applied.
    ReadCommitted,
}

impl IsolationLevel {
    /// The wire value of the Fetch/ListOffsets `isolation_level` field.
    pub(crate) fn wire(self) -> i8 {
        match self {
            IsolationLevel::ReadUncommitted => 0,
            IsolationLevel::ReadCommitted => 1,
        }
    }
}

/// The consumer's configuration. Built by [`crate::consumer::ConsumerBuilder`].
///
/// Group settings (`group.id` and below) are stored for the group
/// membership driver; a consumer without a group uses manual assignment.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConsumerConfig {
    /// `fetch.min.bytes` (1): the broker answers a Fetch once it has this much.
    pub fetch_min_bytes: i32,
    /// `fetch.max.wait.ms` (500 ms): how long the broker may hold a Fetch
    /// waiting for `fetch.min.bytes`.
    pub fetch_max_wait: Duration,
    /// `fetch.max.bytes` (52428800): bound on one Fetch response (the broker
    /// still returns a first batch larger than this, KIP-74).
    pub fetch_max_bytes: i32,
    /// `max.partition.fetch.bytes` (1048576): bound per partition in one Fetch.
    pub max_partition_fetch_bytes: i32,
    /// `max.poll.records` (500): most records one `poll` returns.
    pub max_poll_records: usize,
    /// `auto.offset.reset` (latest).
    pub auto_offset_reset: OffsetReset,
    /// `isolation.level` (read_uncommitted).
    pub isolation_level: IsolationLevel,
    /// `check.crcs` (true). kafkit's batch decoder always verifies CRCs (it
    /// is cheap with hardware crc32c), so `false` changes nothing; the
    /// setting exists so Java configurations carry over.
    pub check_crcs: bool,
    /// Prefetch bound (kafkit's own; Java bounds prefetching implicitly by
    /// one outstanding fetch per broker). Fetch loops send no new Fetch
    /// while the records fetched but not yet returned by `poll` take this
    /// many bytes or more; each of the responses in flight (one per fetch
    /// connection, see `fetch_connections_per_broker`) may overshoot it by
    /// up to `fetch.max.bytes`. A partition is also not fetched again while its
    /// own undelivered bytes reach `max.partition.fetch.bytes`. Default
    /// 52428800 (the same as `fetch.max.bytes`).
    pub fetch_buffer_bytes: usize,
    /// Fetches in flight to one broker at once (kafkit's own; Java has one).
    /// A broker's assigned partitions are split into this many fixed
    /// shares, each fetched by its own loop on its own connection with its
    /// own fetch session (KIP-227), so the broker can assemble several
    /// responses in parallel: a broker answers one connection's requests
    /// one at a time, and one fetch stream then bounds a consumer that
    /// reads faster than the broker serves it (on Tansu, 2 gave about 1.3x
    /// the records/s of 1). Each share costs the broker one more connection
    /// and one more fetch session slot, and the prefetch buffer may then
    /// overshoot `fetch_buffer_bytes` by up to this many responses.
    /// `1` fetches exactly as Java does. Default 2; at most 16.
    pub fetch_connections_per_broker: usize,
    /// `client.rack` (empty): sent in Fetch v11+ for follower fetching (KIP-392).
    pub client_rack: String,
    /// `group.id` (none): without it, only manual assignment is possible.
    pub group_id: Option<String>,
    /// `group.instance.id` (none): static membership (KIP-345).
    pub group_instance_id: Option<String>,
    /// `enable.auto.commit` (true; only meaningful with a group).
    pub enable_auto_commit: bool,
    /// `auto.commit.interval.ms` (5 s).
    pub auto_commit_interval: Duration,
    /// `session.timeout.ms` (45 s).
    pub session_timeout: Duration,
    /// `heartbeat.interval.ms` (3 s).
    pub heartbeat_interval: Duration,
    /// `max.poll.interval.ms` (5 min).
    pub max_poll_interval: Duration,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            fetch_min_bytes: 1,
            fetch_max_wait: Duration::from_millis(500),
            fetch_max_bytes: 52_428_800,
            max_partition_fetch_bytes: 1_048_576,
            max_poll_records: 500,
            auto_offset_reset: OffsetReset::Latest,
            isolation_level: IsolationLevel::ReadUncommitted,
            check_crcs: true,
            fetch_buffer_bytes: 52_428_800,
            fetch_connections_per_broker: 2,
            client_rack: String::new(),
            group_id: None,
            group_instance_id: None,
            enable_auto_commit: true,
            auto_commit_interval: Duration::from_secs(5),
            session_timeout: Duration::from_secs(45),
            heartbeat_interval: Duration::from_secs(3),
            max_poll_interval: Duration::from_secs(300),
        }
    }
}

impl ConsumerConfig {
    /// Checks the settings for values Java's `ConsumerConfig` rejects.
    pub fn validate(&self) -> Result<()> {
        if self.fetch_min_bytes < 0 {
            return Err(Error::Config("fetch.min.bytes must not be negative".into()));
        }
        if self.fetch_max_bytes <= 0 || self.max_partition_fetch_bytes <= 0 {
            return Err(Error::Config(
                "fetch.max.bytes and max.partition.fetch.bytes must be positive".into(),
            ));
        }
        if self.max_poll_records == 0 {
            return Err(Error::Config("max.poll.records must be at least 1".into()));
        }
        if self.fetch_max_wait > Duration::from_millis(i32::MAX as u64) {
            return Err(Error::Config("fetch.max.wait.ms is too large".into()));
        }
        if self.fetch_buffer_bytes == 0 {
            return Err(Error::Config("fetch.buffer.bytes must be positive".into()));
        }
        if !(1..=16).contains(&self.fetch_connections_per_broker) {
            return Err(Error::Config(
                "fetch_connections_per_broker must be between 1 and 16".into(),
            ));
        }
        if self.heartbeat_interval >= self.session_timeout {
            return Err(Error::Config(
                "heartbeat.interval.ms must be lower than session.timeout.ms".into(),
            ));
        }
        Ok(())
    }

    /// Auto commit only applies with a group: Java treats the default as
    /// off when `group.id` is unset.
    pub fn auto_commit_enabled(&self) -> bool {
        self.group_id.is_some() && self.enable_auto_commit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_java() {
        let c = ConsumerConfig::default();
        assert_eq!(c.fetch_min_bytes, 1);
        assert_eq!(c.fetch_max_wait, Duration::from_millis(500));
        assert_eq!(c.fetch_max_bytes, 52_428_800);
        assert_eq!(c.max_partition_fetch_bytes, 1_048_576);
        assert_eq!(c.max_poll_records, 500);
        assert_eq!(c.auto_offset_reset, OffsetReset::Latest);
        assert_eq!(c.isolation_level, IsolationLevel::ReadUncommitted);
        assert!(c.check_crcs && c.enable_auto_commit);
        assert_eq!(c.session_timeout, Duration::from_secs(45));
        assert_eq!(c.heartbeat_interval, Duration::from_secs(3));
        assert_eq!(c.max_poll_interval, Duration::from_secs(300));
        assert!(!c.auto_commit_enabled(), "no group, no auto commit");
        c.validate().unwrap();
    }

    #[test]
    fn bad_values_are_config_errors() {
        for bad in [
            ConsumerConfig {
                max_poll_records: 0,
                ..Default::default()
            },
            ConsumerConfig {
                fetch_max_bytes: 0,
                ..Default::default()
            },
            ConsumerConfig {
                heartbeat_interval: Duration::from_secs(60),
                ..Default::default()
            },
            ConsumerConfig {
                fetch_connections_per_broker: 0,
                ..Default::default()
            },
        ] {
            assert!(bad.validate().unwrap_err().is_fatal());
        }
        assert_eq!(
            "earliest".parse::<OffsetReset>().unwrap(),
            OffsetReset::Earliest
        );
        assert!("smallest".parse::<OffsetReset>().is_err());
    }
}
