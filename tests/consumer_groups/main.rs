//! Consumer groups end to end at the `Consumer` level: real records
//! polled by kafkit members (and librdkafka members), every record
//! counted, none lost, none doubled beyond what the commit semantics
//! allow (see `tests/support/group.rs`).
//!
//! One module per scenario family; independent scenarios are separate
//! tests, which libtest runs side by side.
//!
//! Broker deviations relied upon (see tests/support/brokers.rs): Tansu
//! completes the first JoinGroup after about `session.timeout.ms / 2`, so
//! members use `session.timeout.ms=6000`; librdkafka's mock cluster
//! refuses OffsetCommit while its group is joining, so a commit on revoke
//! cannot land there and mock scenarios either let the group settle before
//! records are produced or commit after every poll.

#[path = "../support/mod.rs"]
mod support;

mod close_commit;
mod commit_order;
mod faults;
mod mixed;
mod poll_interval;
mod shutdown;
mod sizes;
mod static_restart;

/// Partitions of every topic here.
const PARTITIONS: i32 = 6;
