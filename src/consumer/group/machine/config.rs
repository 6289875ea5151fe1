//! Configuration of group membership, named as the Java consumer's settings.

use std::time::Duration;

use crate::{Error, Result};

/// How partitions move between members during a rebalance.
///
/// Mirrors Java's `ConsumerPartitionAssignor.RebalanceProtocol`. The assignor
/// chosen by the group decides it: range and round-robin are eager,
/// cooperative-sticky is cooperative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RebalanceProtocol {
    /// Every member gives up all its partitions before rejoining (the
    /// "stop the world" rebalance of Kafka before 2.4).
    #[default]
    Eager,
    /// Members keep their partitions across a rebalance and give up only
    /// those assigned elsewhere, in a second rebalance (KIP-429).
    Cooperative,
}

/// Settings of the classic group membership protocol.
///
/// Defaults are the Java consumer's: `session.timeout.ms` 45 s,
/// `max.poll.interval.ms` 5 min, `heartbeat.interval.ms` 3 s,
/// `retry.backoff.ms` 100 ms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfig {
    /// `group.id`.
    pub group_id: String,
    /// `group.instance.id`: set for a static member (KIP-345), which keeps
    /// its partitions across restarts within the session timeout and never
    /// sends LeaveGroup.
    pub group_instance_id: Option<String>,
    /// `session.timeout.ms`: the coordinator evicts the member when it sees
    /// no heartbeat for this long.
    pub session_timeout: Duration,
    /// `max.poll.interval.ms`: sent as the JoinGroup rebalance timeout, and
    /// the longest the user may go between polls before the member leaves
    /// the group (KIP-62).
    pub rebalance_timeout: Duration,
    /// `heartbeat.interval.ms`: time between heartbeats.
    pub heartbeat_interval: Duration,
    /// `retry.backoff.ms`: wait before retrying a failed coordinator request.
    pub retry_backoff: Duration,
    /// The rebalance protocol of the configured assignors.
    pub protocol: RebalanceProtocol,
}

impl GroupConfig {
    /// A configuration for `group_id` with the Java defaults.
    pub fn new(group_id: impl Into<String>) -> Self {
        GroupConfig {
            group_id: group_id.into(),
            group_instance_id: None,
            session_timeout: Duration::from_secs(45),
            rebalance_timeout: Duration::from_secs(300),
            heartbeat_interval: Duration::from_secs(3),
            retry_backoff: Duration::from_millis(100),
            protocol: RebalanceProtocol::Eager,
        }
    }

    /// Checks the settings a broker would otherwise reject later, or that
    /// would make the member flap (heartbeats no more often than the session
    /// expires).
    pub fn validate(&self) -> Result<()> {
        if self.group_id.is_empty() {
            return Err(Error::Config("group.id must not be empty".into()));
        }
        if self.group_instance_id.as_deref() == Some("") {
            return Err(Error::Config(
                "group.instance.id must not be empty when set".into(),
            ));
        }
        if self.heartbeat_interval.is_zero() {
            return Err(Error::Config("heartbeat.interval.ms must be > 0".into()));
        }
        if self.heartbeat_interval >= self.session_timeout {
            return Err(Error::Config(format!(
                "heartbeat.interval.ms ({:?}) must be lower than session.timeout.ms ({:?})",
                self.heartbeat_interval, self.session_timeout
            )));
        }
        if self.rebalance_timeout.is_zero() {
            return Err(Error::Config("max.poll.interval.ms must be > 0".into()));
        }
        Ok(())
    }

    /// Whether this member is static (has a `group.instance.id`).
    pub fn is_static(&self) -> bool {
        self.group_instance_id.is_some()
    }
}
