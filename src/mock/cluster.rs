//! [`MockCluster`]: builder, lifecycle, and the controls tests use (faults,
//! broker stop/start, leader and coordinator moves, inspection).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_protocol::messages::ApiKey;

use crate::error::{Error, ErrorCode, Result};
use crate::mock::acl::{AclConfig, Authorizer};
use crate::mock::auth::SecurityConfig;
use crate::mock::broker::{self, Listener};
use crate::mock::config::{TopicConfigs, valid_topic_name};
use crate::mock::faults::Fault;
use crate::mock::group::{GroupConfig, GroupSnapshot};
use crate::mock::log::PartitionLogSnapshot;
use crate::mock::state::{
    BrokerState, ClusterState, CoordinatorKind, Settings, Shared, random_uuid,
};

const HOST: &str = "127.0.0.1";

/// Settings of a [`MockCluster`]; [`MockClusterBuilder::build`] starts it.
#[derive(Debug, Clone)]
pub struct MockClusterBuilder {
    brokers: i32,
    first_port: u16,
    default_partitions: i32,
    replication_factor: i16,
    auto_create_topics: bool,
    topics: Vec<(String, i32)>,
    groups: GroupConfig,
    acls: AclConfig,
    /// SASL users and settings (see `auth/builder.rs` for the setters).
    pub(crate) security: SecurityConfig,
}

impl Default for MockClusterBuilder {
    fn default() -> Self {
        MockClusterBuilder {
            brokers: 3,
            first_port: 0,
            default_partitions: 1,
            replication_factor: 3,
            auto_create_topics: true,
            topics: Vec::new(),
            groups: GroupConfig::default(),
            acls: AclConfig::default(),
            security: SecurityConfig::default(),
        }
    }
}

impl MockClusterBuilder {
    /// Number of brokers, ids `1..=n` (default 3).
    pub fn brokers(mut self, n: i32) -> Self {
        self.brokers = n.max(1);
        self
    }

    /// Listen on fixed ports `port..port+n` instead of free ones picked by
    /// the OS (for `examples/mock_broker.rs` and tools with a fixed address).
    pub fn port(mut self, port: u16) -> Self {
        self.first_port = port;
        self
    }

    /// Partitions of auto-created topics (`num.partitions`, default 1).
    pub fn default_partitions(mut self, n: i32) -> Self {
        self.default_partitions = n.max(1);
        self
    }

    /// Replicas per partition (`default.replication.factor`; default 3,
    /// capped at the number of brokers). Replicas are followed by leader
    /// fail-over when a broker stops.
    pub fn replication_factor(mut self, rf: i16) -> Self {
        self.replication_factor = rf.max(1);
        self
    }

    /// `auto.create.topics.enable` (default true, as in Kafka): Metadata
    /// asking for an unknown topic with auto-creation allowed creates it.
    pub fn auto_create_topics(mut self, enabled: bool) -> Self {
        self.auto_create_topics = enabled;
        self
    }

    /// A topic that exists from the start.
    pub fn topic(mut self, name: impl Into<String>, partitions: i32) -> Self {
        self.topics.push((name.into(), partitions.max(1)));
        self
    }

    /// `group.min.session.timeout.ms` (Kafka: 6000 ms); tests with short
    /// session timeouts lower it.
    pub fn group_min_session_timeout(mut self, t: Duration) -> Self {
        self.groups.min_session_timeout = t;
        self
    }

    /// `group.initial.rebalance.delay.ms` (Kafka: 3000 ms; here 0 by default).
    pub fn group_initial_rebalance_delay(mut self, d: Duration) -> Self {
        self.groups.initial_rebalance_delay = d;
        self
    }

    /// Enforces ACLs (default off: everything is allowed and the ACL APIs
    /// answer SECURITY_DISABLED, as a broker without `authorizer.class.name`).
    /// On, the cluster starts with no ACLs and denies what no ALLOW binding
    /// grants (`allow.everyone.if.no.acl.found=false`); create bindings
    /// with CreateAcls as a [`super_user`](Self::super_user). Without SASL
    /// every client is `User:ANONYMOUS`.
    pub fn acls(mut self, enabled: bool) -> Self {
        self.acls.enabled = enabled;
        self
    }

    /// A principal (`User:name`) the authorizer always allows (`super.users`;
    /// none by default). May be called several times.
    pub fn super_user(mut self, principal: impl Into<String>) -> Self {
        self.acls.super_users.push(principal.into());
        self
    }

    /// Starts the brokers. Fails if a port cannot be bound.
    pub async fn build(self) -> Result<MockCluster> {
        let rf = self.replication_factor.min(self.brokers as i16);
        let settings = Settings {
            auto_create_topics: self.auto_create_topics,
            default_partitions: self.default_partitions,
            default_replication_factor: rf,
            host: HOST.to_owned(),
            #[cfg(feature = "_tls")]
            tls: match &self.security.tls {
                Some(t) => Some(t.acceptor()?),
                None => None,
            },
            security: Arc::new(self.security),
        };
        let state = ClusterState {
            cluster_id: random_uuid().simple().to_string(),
            brokers: BTreeMap::new(),
            topics: BTreeMap::new(),
            next_producer_id: 1000,
            coordinator_overrides: Default::default(),
        };
        let shared = Arc::new(Shared::new(
            settings,
            state,
            crate::mock::group::GroupCoordinator::new(self.groups),
            Authorizer::new(self.acls),
        ));
        let mut listeners = BTreeMap::new();
        for id in 1..=self.brokers {
            let want = if self.first_port == 0 {
                0
            } else {
                self.first_port.saturating_add((id - 1) as u16)
            };
            let (listener, port) = broker::start(shared.clone(), id, HOST, want)
                .await
                .map_err(|e| bind_error(HOST, want, e))?;
            shared.lock().brokers.insert(
                id,
                BrokerState {
                    port,
                    up: true,
                    fetch_sessions: Default::default(),
                },
            );
            listeners.insert(id, listener);
        }
        let cluster = MockCluster {
            shared,
            listeners: Mutex::new(listeners),
        };
        for (name, partitions) in &self.topics {
            cluster.create_topic(name, *partitions)?;
        }
        Ok(cluster)
    }
}

fn bind_error(host: &str, port: u16, e: std::io::Error) -> Error {
    Error::Io {
        context: crate::error::Context {
            broker: Some(format!("{host}:{port}")),
            ..Default::default()
        },
        source: Arc::new(e),
    }
}

/// A running in-process cluster. Dropped = stopped. See the [module
/// docs](crate::mock) for what it implements.
#[derive(Debug)]
pub struct MockCluster {
    shared: Arc<Shared>,
    listeners: Mutex<BTreeMap<i32, Listener>>,
}

impl MockCluster {
    /// A cluster of `brokers` brokers with the default settings.
    pub async fn new(brokers: i32) -> Result<MockCluster> {
        MockCluster::builder().brokers(brokers).build().await
    }

    /// A builder with Kafka's defaults (3 brokers).
    pub fn builder() -> MockClusterBuilder {
        MockClusterBuilder::default()
    }

    /// `host:port,host:port,...` of every broker, for `bootstrap.servers`.
    pub fn bootstrap_servers(&self) -> String {
        let st = self.shared.lock();
        st.brokers
            .values()
            .map(|b| format!("{}:{}", self.shared.settings.host, b.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Broker ids, in order.
    pub fn broker_ids(&self) -> Vec<i32> {
        self.shared.lock().brokers.keys().copied().collect()
    }

    /// Creates a topic (as CreateTopics would), replicated over the
    /// cluster's replication factor. Fails for a bad name or an existing
    /// topic.
    pub fn create_topic(&self, name: &str, partitions: i32) -> Result<()> {
        if !valid_topic_name(name) {
            return Err(usage(ErrorCode::INVALID_TOPIC_EXCEPTION, name));
        }
        let mut st = self.shared.lock();
        if st.topics.contains_key(name) {
            return Err(usage(ErrorCode::TOPIC_ALREADY_EXISTS, name));
        }
        let rf = self.shared.settings.default_replication_factor;
        st.create_topic(name, partitions.max(1), rf, TopicConfigs::new());
        Ok(())
    }

    /// Stops broker `id`: its listener closes and every connection to it is
    /// dropped; partitions it led move to their next live replica.
    pub fn stop_broker(&self, id: i32) -> bool {
        let removed = crate::net::pool::lock(&self.listeners).remove(&id);
        if removed.is_none() {
            return false;
        }
        drop(removed);
        {
            let mut st = self.shared.lock();
            if let Some(b) = st.brokers.get_mut(&id) {
                b.up = false;
                b.fetch_sessions = Default::default();
            }
            st.reelect();
        }
        self.shared.notify_data();
        true
    }

    /// Starts a stopped broker again on its old port; partitions left
    /// without a leader elect it.
    pub async fn start_broker(&self, id: i32) -> Result<bool> {
        let port = {
            let st = self.shared.lock();
            match st.brokers.get(&id) {
                Some(b) if !b.up => b.port,
                _ => return Ok(false),
            }
        };
        let host = self.shared.settings.host.clone();
        let (listener, _) = broker::start(self.shared.clone(), id, &host, port)
            .await
            .map_err(|e| bind_error(&host, port, e))?;
        crate::net::pool::lock(&self.listeners).insert(id, listener);
        {
            let mut st = self.shared.lock();
            if let Some(b) = st.brokers.get_mut(&id) {
                b.up = true;
            }
            st.reelect();
        }
        self.shared.notify_data();
        Ok(true)
    }

    /// Moves the leadership of a partition to `broker` (bumping its leader
    /// epoch, so clients with the old epoch get FENCED_LEADER_EPOCH).
    pub fn set_leader(&self, topic: &str, partition: i32, broker: i32) -> bool {
        let moved = {
            let mut st = self.shared.lock();
            st.brokers.get(&broker).is_some_and(|b| b.up)
                && st.move_leader(topic, partition, broker)
        };
        self.shared.notify_data();
        moved
    }

    /// Makes `broker` the coordinator of consumer group `group`.
    pub fn set_group_coordinator(&self, group: &str, broker: i32) {
        self.shared
            .lock()
            .coordinator_overrides
            .insert((CoordinatorKind::Group, group.to_owned()), broker);
    }

    /// The broker coordinating `group` now.
    pub fn group_coordinator(&self, group: &str) -> Option<i32> {
        self.shared
            .lock()
            .coordinator_for(CoordinatorKind::Group, group)
    }

    /// Answers the next `count` requests of `api` (on any broker) with
    /// `error` instead of handling them.
    pub fn inject_error(&self, api: ApiKey, error: ErrorCode, count: u32) {
        self.push_fault(api, Fault::Error(error.0), count, None);
    }

    /// [`Self::inject_error`] on broker `broker` only.
    pub fn inject_error_on(&self, broker: i32, api: ApiKey, error: ErrorCode, count: u32) {
        self.push_fault(api, Fault::Error(error.0), count, Some(broker));
    }

    /// Delays the next `count` requests of `api` by `delay` before handling
    /// them (a slow broker).
    pub fn inject_delay(&self, api: ApiKey, delay: Duration, count: u32) {
        self.push_fault(api, Fault::Delay(delay), count, None);
    }

    /// Handles the next `count` requests of `api`, then closes their
    /// connection instead of answering (the client cannot know whether they
    /// took effect).
    pub fn drop_connection_on(&self, api: ApiKey, count: u32) {
        self.push_fault(api, Fault::DropConnection, count, None);
    }

    /// Removes every injected fault not yet consumed.
    pub fn clear_faults(&self) {
        self.shared.faults().clear();
    }

    fn push_fault(&self, api: ApiKey, fault: Fault, count: u32, broker: Option<i32>) {
        self.shared.faults().push(api as i16, fault, count, broker);
    }

    /// A partition's log: its batches (offsets, producer ids, sequences,
    /// control markers, codecs), log start, high watermark, last stable
    /// offset and aborted transactions.
    pub fn partition_log(&self, topic: &str, partition: i32) -> Option<PartitionLogSnapshot> {
        let st = self.shared.lock();
        st.partition(topic, partition).map(|p| p.log.snapshot())
    }

    /// The current leader of a partition (-1 when none is up).
    pub fn leader(&self, topic: &str, partition: i32) -> Option<i32> {
        self.shared
            .lock()
            .partition(topic, partition)
            .map(|p| p.leader)
    }

    /// SASL authentications that succeeded so far (re-authentications
    /// included), across every broker.
    pub fn authentications(&self) -> u64 {
        self.shared
            .authentications
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Connections closed because a request came after their SASL session
    /// lifetime ended without a re-authentication (KIP-368): a client that
    /// renews in time keeps this at 0.
    pub fn expired_sessions(&self) -> u64 {
        self.shared
            .expired_sessions
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A transactional id's producer id, epoch, state and open partitions.
    pub fn transaction_state(
        &self,
        transactional_id: &str,
    ) -> Option<crate::mock::TransactionSnapshot> {
        self.shared.txns.snapshot(transactional_id)
    }

    /// Makes the transaction coordinator forget `transactional_id` without
    /// writing markers, as a coordinator that lost its state would: the
    /// open transaction stays open in its partitions (holding their last
    /// stable offset) and is *hanging* (`kafka-transactions --find-hanging`
    /// finds it through DescribeProducers). Returns whether it was known.
    pub fn forget_transaction(&self, transactional_id: &str) -> bool {
        self.shared.txns.forget(transactional_id)
    }

    /// Writes an ABORT marker for `producer_id`'s open transaction in one
    /// partition, as `kafka-transactions abort` has the leader do (through
    /// WriteTxnMarkers, which clients cannot send). Returns the marker's
    /// offset, `None` when that producer has no transaction open there.
    pub fn abort_open_transaction(
        &self,
        topic: &str,
        partition: i32,
        producer_id: i64,
    ) -> Option<i64> {
        let offset = {
            let mut st = self.shared.lock();
            let p = st.partition_mut(topic, partition)?;
            let open = p
                .log
                .active_producers()
                .into_iter()
                .find(|a| a.producer_id == producer_id && a.current_txn_start_offset >= 0)?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
            let leader_epoch = p.leader_epoch;
            p.log.append_marker(
                producer_id,
                open.producer_epoch,
                false,
                0,
                now,
                leader_epoch,
            )
        };
        self.shared.notify_data();
        Some(offset)
    }

    /// Makes `broker` the coordinator of transactional id `transactional_id`.
    pub fn set_transaction_coordinator(&self, transactional_id: &str, broker: i32) {
        self.shared.lock().coordinator_overrides.insert(
            (CoordinatorKind::Transaction, transactional_id.to_owned()),
            broker,
        );
    }

    /// A consumer group's state, members and committed offsets.
    pub fn group_state(&self, group: &str) -> Option<GroupSnapshot> {
        self.shared.groups.group_state(group)
    }
}

fn usage(code: ErrorCode, topic: &str) -> Error {
    Error::Broker {
        code,
        message: None,
        context: crate::error::Context {
            topic: Some(topic.into()),
            ..Default::default()
        },
    }
}
