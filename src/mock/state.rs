//! The cluster's shared state: brokers, topics, partitions, leaders, logs,
//! producer ids and coordinator placement.
//!
//! # One owner
//!
//! [`Shared`] owns the state behind one `std::sync::Mutex`. Every handler
//! takes the lock, does its synchronous work and lets go; the lock is never
//! held across an `.await` (handlers that wait — a long-poll Fetch, an
//! injected delay — wait with the lock released and take it again). One
//! lock rather than one per partition keeps cross-partition operations
//! (transaction markers, leader moves, topic deletion) atomic and simple; a
//! test cluster's throughput is bounded by the sockets long before this lock.
//!
//! Appends bump a `watch` counter ([`Shared::data_changed`]) so that waiting
//! fetches wake the moment data arrives, without polling.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use tokio::sync::watch;

use crate::mock::config::TopicConfigs;
use crate::mock::faults::Faults;
use crate::mock::fetch_session::FetchSessions;
use crate::mock::group::GroupCoordinator;
use crate::mock::log::PartitionLog;

/// Immutable settings of a running cluster (from the builder).
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub auto_create_topics: bool,
    pub default_partitions: i32,
    pub default_replication_factor: i16,
    /// The host brokers advertise (`127.0.0.1`).
    pub host: String,
    /// What every listener requires of clients (SASL).
    pub security: std::sync::Arc<crate::mock::auth::SecurityConfig>,
    /// The TLS acceptor, when the listeners speak TLS.
    #[cfg(feature = "_tls")]
    pub tls: Option<crate::mock::auth::tls::Acceptor>,
}

/// One broker of the cluster.
#[derive(Debug)]
pub struct BrokerState {
    /// Its loopback port (kept across restarts).
    pub port: u16,
    /// Whether its listener is running.
    pub up: bool,
    /// Its fetch session cache (KIP-227 sessions are per broker).
    pub(crate) fetch_sessions: FetchSessions,
}

/// One partition: replicas, leader and the log.
#[derive(Debug)]
pub struct Partition {
    /// Replica broker ids (the first is the preferred leader).
    pub replicas: Vec<i32>,
    /// The leader's broker id, -1 when no replica is up.
    pub leader: i32,
    /// The leader epoch, bumped on every leader change.
    pub leader_epoch: i32,
    /// The log (shared by all replicas: they are always in sync).
    pub log: PartitionLog,
}

/// One topic.
#[derive(Debug)]
pub struct Topic {
    /// The topic id (Metadata v10+).
    pub id: uuid::Uuid,
    /// Configs set on the topic (defaults are not stored).
    pub(crate) configs: TopicConfigs,
    /// Partitions by index.
    pub partitions: Vec<Partition>,
}

/// Which kind of coordinator a FindCoordinator key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CoordinatorKind {
    /// A consumer group (key type 0).
    Group,
    /// A transactional id (key type 1).
    Transaction,
}

/// Everything mutable about the cluster. Reached through [`Shared::lock`].
#[derive(Debug)]
pub struct ClusterState {
    /// The cluster id, as Metadata and DescribeCluster report it.
    pub cluster_id: String,
    /// Brokers by id (1..=n).
    pub brokers: BTreeMap<i32, BrokerState>,
    /// Topics by name.
    pub topics: BTreeMap<String, Topic>,
    pub(crate) next_producer_id: i64,
    pub(crate) coordinator_overrides: HashMap<(CoordinatorKind, String), i32>,
}

/// What every task of the cluster shares: settings, the state, the data
/// change signal and the injected faults.
#[derive(Debug)]
pub(crate) struct Shared {
    pub settings: Settings,
    state: Mutex<ClusterState>,
    /// Bumped after every append, truncation or leader change; long-poll
    /// fetches wait on it.
    pub data_changed: watch::Sender<u64>,
    pub faults: Mutex<Faults>,
    /// Successful SASL authentications, and connections closed because
    /// their session lifetime had passed (KIP-368), for tests.
    pub authentications: std::sync::atomic::AtomicU64,
    pub expired_sessions: std::sync::atomic::AtomicU64,
    /// The group coordinator (one for the cluster; which broker answers
    /// for a group is [`ClusterState::coordinator_for`]).
    pub groups: GroupCoordinator,
    /// The transaction coordinator (one for the cluster, like `groups`).
    pub txns: std::sync::Arc<crate::mock::txn::TxnCoordinator>,
    /// The ACLs and whether they are enforced (its own leaf lock).
    pub acls: crate::mock::acl::Authorizer,
}

impl Shared {
    pub fn new(
        settings: Settings,
        state: ClusterState,
        groups: GroupCoordinator,
        acls: crate::mock::acl::Authorizer,
    ) -> Self {
        Shared {
            settings,
            state: Mutex::new(state),
            data_changed: watch::Sender::new(0),
            faults: Mutex::new(Faults::default()),
            authentications: Default::default(),
            expired_sessions: Default::default(),
            groups,
            txns: Default::default(),
            acls,
        }
    }

    /// The state. A handler that panicked while holding the lock poisons
    /// it; the state is still consistent enough for a test cluster, so the
    /// poison is ignored rather than spreading the panic.
    pub fn lock(&self) -> MutexGuard<'_, ClusterState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The injected faults (same poison policy as [`Self::lock`]).
    pub fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wakes every waiting fetch.
    pub fn notify_data(&self) {
        self.data_changed.send_modify(|v| *v = v.wrapping_add(1));
    }
}

impl ClusterState {
    /// A partition, if the topic and partition exist.
    pub fn partition(&self, topic: &str, partition: i32) -> Option<&Partition> {
        let p = usize::try_from(partition).ok()?;
        self.topics.get(topic)?.partitions.get(p)
    }

    /// A partition, mutably (e.g. for the transaction coordinator to append
    /// markers with [`PartitionLog::append_marker`]).
    pub fn partition_mut(&mut self, topic: &str, partition: i32) -> Option<&mut Partition> {
        let p = usize::try_from(partition).ok()?;
        self.topics.get_mut(topic)?.partitions.get_mut(p)
    }

    /// Ids of the brokers that are up, in order.
    pub fn live_brokers(&self) -> Vec<i32> {
        self.brokers
            .iter()
            .filter(|(_, b)| b.up)
            .map(|(&id, _)| id)
            .collect()
    }

    /// The controller as Metadata reports it: the lowest live broker id.
    pub fn controller(&self) -> i32 {
        self.live_brokers().first().copied().unwrap_or(-1)
    }

    /// A new producer id (InitProducerId).
    pub fn allocate_producer_id(&mut self) -> i64 {
        let id = self.next_producer_id;
        self.next_producer_id += 1;
        id
    }

    /// The broker that coordinates `key`: the override set by
    /// `set_group_coordinator`, else a hash of the key over the brokers
    /// (the first live one from there, as Kafka moves a coordinator with its
    /// `__consumer_offsets`/`__transaction_state` partition leader).
    /// `None` when no broker is up.
    pub fn coordinator_for(&self, kind: CoordinatorKind, key: &str) -> Option<i32> {
        if let Some(&id) = self.coordinator_overrides.get(&(kind, key.to_owned())) {
            if self.brokers.get(&id).is_some_and(|b| b.up) {
                return Some(id);
            }
        }
        let ids: Vec<i32> = self.brokers.keys().copied().collect();
        if ids.is_empty() {
            return None;
        }
        // Java's String.hashCode, as Kafka's partitionFor(groupId) uses.
        let hash = key
            .encode_utf16()
            .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)));
        let start = (hash & 0x7fff_ffff) as usize % ids.len();
        (0..ids.len())
            .map(|i| ids[(start + i) % ids.len()])
            .find(|id| self.brokers.get(id).is_some_and(|b| b.up))
    }

    /// Replica assignment for a new partition `p` with `rf` replicas:
    /// consecutive broker ids starting at `p % n`, as Kafka's round robin
    /// (without rack awareness) would.
    pub(crate) fn assign_replicas(&self, p: i32, rf: i16) -> Vec<i32> {
        let ids: Vec<i32> = self.brokers.keys().copied().collect();
        let n = ids.len().max(1);
        (0..rf.max(1) as usize)
            .filter_map(|i| ids.get((p as usize + i) % n).copied())
            .collect()
    }

    /// A new partition whose leader is its first live replica.
    pub(crate) fn new_partition(&self, replicas: Vec<i32>) -> Partition {
        let leader = replicas
            .iter()
            .copied()
            .find(|id| self.brokers.get(id).is_some_and(|b| b.up))
            .unwrap_or(-1);
        Partition {
            replicas,
            leader,
            leader_epoch: 0,
            log: PartitionLog::new(0),
        }
    }

    /// Creates `name` with `partitions` partitions of `rf` replicas each.
    pub(crate) fn create_topic(
        &mut self,
        name: &str,
        partitions: i32,
        rf: i16,
        configs: TopicConfigs,
    ) {
        let parts = (0..partitions)
            .map(|p| self.new_partition(self.assign_replicas(p, rf)))
            .collect();
        self.topics.insert(
            name.to_owned(),
            Topic {
                id: random_uuid(),
                configs,
                partitions: parts,
            },
        );
    }

    /// Gives `topic`'s partitions these replicas (CreateTopics with
    /// explicit assignments); each is led by its first live replica.
    pub(crate) fn set_replicas(&mut self, topic: &str, assignments: Vec<Vec<i32>>) {
        let live = self.live_brokers();
        if let Some(t) = self.topics.get_mut(topic) {
            for (p, replicas) in t.partitions.iter_mut().zip(assignments) {
                p.leader = replicas
                    .iter()
                    .copied()
                    .find(|r| live.contains(r))
                    .unwrap_or(-1);
                p.replicas = replicas;
            }
        }
    }

    /// Moves a partition's leadership to `leader` (which must be up, or -1
    /// for none) and bumps its leader epoch.
    pub(crate) fn move_leader(&mut self, topic: &str, partition: i32, leader: i32) -> bool {
        let Some(p) = self.partition_mut(topic, partition) else {
            return false;
        };
        p.leader = leader;
        p.leader_epoch += 1;
        let epoch = p.leader_epoch;
        p.log.begin_epoch(epoch);
        true
    }

    /// After broker `id` went down: every partition it led fails over to
    /// its next live replica in the ISR (all replicas are in sync), or has
    /// no leader when none is up. After it came back: leaderless partitions
    /// it replicates elect it.
    pub(crate) fn reelect(&mut self) {
        let live = self.live_brokers();
        let mut moves = Vec::new();
        for (name, t) in &self.topics {
            for (i, p) in t.partitions.iter().enumerate() {
                let leader_up = p.leader >= 0 && live.contains(&p.leader);
                if !leader_up {
                    let next = p
                        .replicas
                        .iter()
                        .copied()
                        .find(|r| live.contains(r))
                        .unwrap_or(-1);
                    if next != p.leader {
                        moves.push((name.clone(), i as i32, next));
                    }
                }
            }
        }
        for (t, p, leader) in moves {
            self.move_leader(&t, p, leader);
        }
    }
}

/// A random version 4 UUID (topic ids, cluster id). Falls back to a
/// counter-derived id if the OS random source fails, which is harmless here.
pub(crate) fn random_uuid() -> uuid::Uuid {
    let mut raw = [0u8; 16];
    if getrandom::fill(&mut raw).is_err() {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(1);
        raw[..8].copy_from_slice(&NEXT.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    }
    uuid::Builder::from_random_bytes(raw).into_uuid()
}

/// A random positive `i32` (fetch session ids).
pub(crate) fn random_positive_i32() -> i32 {
    let mut raw = [0u8; 4];
    let _ = getrandom::fill(&mut raw);
    (i32::from_be_bytes(raw) & 0x7fff_ffff).max(1)
}
