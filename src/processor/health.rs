//! What a liveness or readiness probe needs to know.

use std::time::Duration;

/// The processor's health, as [`ProcessorHandle::health`](super::ProcessorHandle::health)
/// reports it; serve `live` and `ready` on the probes' HTTP endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Health {
    /// The poll loop is making progress: a poll returned within the
    /// liveness timeout (restart the process when this stays false).
    pub live: bool,
    /// Member of the group, running and not shutting down (send traffic,
    /// count it as up).
    pub ready: bool,
    /// Time since the last poll returned, if one has.
    pub since_last_poll: Option<Duration>,
    /// Partitions assigned to this member.
    pub assigned_partitions: usize,
    /// Records being processed, waiting to retry, or being dead-lettered.
    pub in_flight: usize,
    /// Records fetched and waiting for a free slot.
    pub queued: usize,
    /// Whether the circuit breaker holds processing back.
    pub breaker_open: bool,
    /// Records processed successfully so far.
    pub processed: u64,
    /// Records sent to the dead-letter topic (or skipped without one) so far.
    pub dead_lettered: u64,
}
