//! The classic consumer group coordinator of the in-process cluster:
//! JoinGroup, SyncGroup, Heartbeat, LeaveGroup, the offset APIs, the group
//! admin APIs, and hooks for the transaction coordinator.
//!
//! Concurrency: one [`GroupCoordinator`] per cluster, a cheap clone of an
//! `Arc<std::sync::Mutex<..>>`. The mutex is never held across `.await`:
//! a handler that must wait (a JoinGroup held until the rebalance
//! completes, a follower's SyncGroup held until the leader's assignment)
//! parks a `oneshot` sender in the member and awaits the receiver after
//! unlocking. Deadlines (rebalance timeout, initial rebalance delay,
//! session timeouts) are tokio tasks that sleep until the deadline and then
//! re-check under the lock, so a reset deadline is honoured without a
//! polling loop.
//!
//! The initial rebalance delay (`group.initial.rebalance.delay.ms`) is 3000
//! ms in Kafka; [`GroupConfig::default`] uses 0 so tests do not wait.
//!
//! The coordinator ownership check (NOT_COORDINATOR) is the caller's.

mod admin;
mod membership;
mod offsets;
mod state;
mod sync;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;
use tokio::time::Instant;

pub use state::GroupState;

/// Group coordinator settings (Kafka broker configs).
#[derive(Debug, Clone)]
pub struct GroupConfig {
    /// `group.initial.rebalance.delay.ms`: how long the first rebalance of
    /// an empty group waits for more members. Kafka: 3000 ms; here 0.
    pub initial_rebalance_delay: Duration,
    /// `group.min.session.timeout.ms` (Kafka: 6000 ms).
    pub min_session_timeout: Duration,
    /// `group.max.session.timeout.ms` (Kafka: 1800000 ms).
    pub max_session_timeout: Duration,
    /// `offset.metadata.max.bytes` (Kafka: 4096).
    pub offset_metadata_max_bytes: usize,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            initial_rebalance_delay: Duration::ZERO,
            min_session_timeout: Duration::from_millis(6000),
            max_session_timeout: Duration::from_millis(1_800_000),
            offset_metadata_max_bytes: 4096,
        }
    }
}

/// Who sent a request (for DescribeGroups and member ids).
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// The request header's client id.
    pub client_id: String,
    /// The peer address, as Kafka shows it (`/127.0.0.1`).
    pub client_host: String,
}

/// A committed offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    /// The next offset to consume.
    pub offset: i64,
    /// The leader epoch of the committed record (-1 when unknown).
    pub leader_epoch: i32,
    /// The commit's metadata string.
    pub metadata: Option<String>,
}

/// A member as [`GroupCoordinator::group_state`] shows it.
#[derive(Debug, Clone)]
pub struct MemberSnapshot {
    /// The member id the coordinator assigned.
    pub member_id: String,
    /// `group.instance.id` of a static member.
    pub group_instance_id: Option<String>,
    /// The member's client id.
    pub client_id: String,
    /// The member's assignment bytes (empty before the first sync).
    pub assignment: Bytes,
}

/// A group's state for tests and users.
#[derive(Debug, Clone)]
pub struct GroupSnapshot {
    /// The state.
    pub state: GroupState,
    /// The generation id.
    pub generation: i32,
    /// The protocol type (`consumer`), if set.
    pub protocol_type: Option<String>,
    /// The selected protocol (assignor), if any.
    pub protocol: Option<String>,
    /// The leader's member id, if any.
    pub leader: Option<String>,
    /// The members, by member id.
    pub members: Vec<MemberSnapshot>,
    /// Committed offsets by (topic, partition).
    pub offsets: BTreeMap<(String, i32), CommittedOffset>,
}

/// What a held JoinGroup is answered with (turned into the response of the
/// request's version by the handler).
#[derive(Debug, Clone, Default)]
struct JoinResult {
    error: i16,
    generation: i32,
    protocol_type: Option<String>,
    protocol_name: Option<String>,
    leader: String,
    member_id: String,
    /// For the leader: (member id, instance id, metadata).
    members: Vec<(String, Option<String>, Bytes)>,
    skip_assignment: bool,
}

/// A group member.
#[derive(Debug)]
struct Member {
    instance_id: Option<String>,
    client: Caller,
    session_timeout: Duration,
    rebalance_timeout: Duration,
    protocol_type: String,
    /// (name, metadata), in the member's preference order.
    protocols: Vec<(String, Bytes)>,
    assignment: Bytes,
    session_deadline: Instant,
    awaiting_join: Option<oneshot::Sender<JoinResult>>,
    awaiting_sync: Option<oneshot::Sender<(i16, Bytes)>>,
}

impl Member {
    fn metadata(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(n, _)| n == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }
}

/// One group's state.
#[derive(Debug)]
struct Group {
    state: GroupState,
    generation: i32,
    protocol_type: Option<String>,
    protocol: Option<String>,
    leader: Option<String>,
    members: BTreeMap<String, Member>,
    /// `group.instance.id` → member id.
    static_members: HashMap<String, String>,
    /// KIP-394: ids handed out with MEMBER_ID_REQUIRED, not yet joined.
    pending_members: HashSet<String>,
    /// Counts rebalance rounds, so a stale deadline task does nothing.
    round: u64,
    /// The join is not completed before this (initial rebalance delay).
    join_not_before: Instant,
    offsets: BTreeMap<(String, i32), CommittedOffset>,
    /// Transactional offsets staged per producer id (TxnOffsetCommit).
    pending_txn: HashMap<i64, BTreeMap<(String, i32), CommittedOffset>>,
}

impl Group {
    fn new() -> Self {
        Group {
            state: GroupState::Empty,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            static_members: HashMap::new(),
            pending_members: HashSet::new(),
            round: 0,
            join_not_before: Instant::now(),
            offsets: BTreeMap::new(),
            pending_txn: HashMap::new(),
        }
    }

    fn snapshot(&self) -> GroupSnapshot {
        GroupSnapshot {
            state: self.state,
            generation: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol: self.protocol.clone(),
            leader: self.leader.clone(),
            members: self
                .members
                .iter()
                .map(|(id, m)| MemberSnapshot {
                    member_id: id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    client_id: m.client.client_id.clone(),
                    assignment: m.assignment.clone(),
                })
                .collect(),
            offsets: self.offsets.clone(),
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    groups: HashMap<String, Group>,
}

/// The cluster's classic group coordinator: a cheap, cloneable handle.
#[derive(Debug, Clone)]
pub struct GroupCoordinator {
    inner: Arc<Mutex<Inner>>,
    config: Arc<GroupConfig>,
}

impl Default for GroupCoordinator {
    fn default() -> Self {
        GroupCoordinator::new(GroupConfig::default())
    }
}

impl GroupCoordinator {
    /// A coordinator with no groups.
    pub fn new(config: GroupConfig) -> Self {
        GroupCoordinator {
            inner: Arc::new(Mutex::new(Inner::default())),
            config: Arc::new(config),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic under the lock is a mock bug; the state is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A group's state, `None` for a group the coordinator does not have.
    pub fn group_state(&self, group: &str) -> Option<GroupSnapshot> {
        self.lock().groups.get(group).map(Group::snapshot)
    }
}

/// A new member id as Kafka makes them: `<client id or instance id>-<uuid>`.
fn new_member_id(prefix: &str) -> String {
    let mut b = [0u8; 16];
    // The OS random source failing leaves zeros; ids stay unique per group
    // only by chance then, which a test cluster can live with.
    let _ = getrandom::fill(&mut b);
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{prefix}-{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
