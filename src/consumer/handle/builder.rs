//! [`ConsumerBuilder`]: the consumer's settings, and `build`, which starts
//! its fetch tasks and (with `group.id`) its group membership. Apart from
//! the consumer itself because it is all configuration plumbing.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::Consumer;
use crate::client::Client;
use crate::consumer::assignor::Assignor;
use crate::consumer::config::{ConsumerConfig, IsolationLevel, OffsetReset};
use crate::consumer::fetch::{FetchContext, Fetcher};
use crate::consumer::group::driver::{Membership, MembershipConfig};
use crate::consumer::group::listener::{ErasedListener, RebalanceListener};
use crate::consumer::group::member::GroupMember;
use crate::consumer::metrics::Counters;
use crate::consumer::partitions::PartitionTable;
use crate::error::Result;
use crate::serialization::{DefaultSerde, Deserializer};

/// Builds a [`Consumer`]. Every setter names the Java consumer setting it
/// mirrors and its default.
pub struct ConsumerBuilder<K, V> {
    client: Client,
    config: ConsumerConfig,
    key_deserializer: Arc<dyn Deserializer<K>>,
    value_deserializer: Arc<dyn Deserializer<V>>,
    /// Whether the deserializers are still [`DefaultSerde`] (see
    /// [`Consumer::convert`]).
    default_serde: (bool, bool),
    assignors: Option<Vec<Arc<dyn Assignor>>>,
    listener: Option<Arc<dyn ErasedListener<K, V>>>,
}

impl<K, V> ConsumerBuilder<K, V>
where
    K: Send + 'static,
    V: Send + 'static,
    DefaultSerde: Deserializer<K> + Deserializer<V>,
{
    /// A builder using [`DefaultSerde`] for keys and values.
    pub fn new(client: &Client) -> Self {
        ConsumerBuilder {
            client: client.clone(),
            config: ConsumerConfig::default(),
            key_deserializer: Arc::new(DefaultSerde),
            value_deserializer: Arc::new(DefaultSerde),
            default_serde: (true, true),
            assignors: None,
            listener: None,
        }
    }
}

impl<K: Send + 'static, V: Send + 'static> ConsumerBuilder<K, V> {
    setter!(/// `fetch.min.bytes`: the broker answers once it has this much. Default 1.
        fetch_min_bytes: i32 => fetch_min_bytes);
    setter!(/// `fetch.max.wait.ms`: the broker's longest hold of a Fetch. Default 500 ms.
        fetch_max_wait: Duration => fetch_max_wait);
    setter!(/// `fetch.max.bytes`: bound on one Fetch response. Default 52428800.
        fetch_max_bytes: i32 => fetch_max_bytes);
    setter!(/// `max.partition.fetch.bytes`: bound per partition per Fetch. Default 1048576.
        max_partition_fetch_bytes: i32 => max_partition_fetch_bytes);
    setter!(/// `max.poll.records`: most records one `poll` returns. Default 500.
        max_poll_records: usize => max_poll_records);
    setter!(/// `auto.offset.reset`. Default [`OffsetReset::Latest`].
        auto_offset_reset: OffsetReset => auto_offset_reset);
    setter!(/// `isolation.level`. Default [`IsolationLevel::ReadUncommitted`].
        isolation_level: IsolationLevel => isolation_level);
    setter!(/// `check.crcs`. Default true (CRCs are always verified; see [`ConsumerConfig::check_crcs`]).
        check_crcs: bool => check_crcs);
    setter!(/// Prefetch buffer bound in bytes (kafkit's own). Default 52428800;
        /// see [`ConsumerConfig::fetch_buffer_bytes`].
        fetch_buffer_bytes: usize => fetch_buffer_bytes);
    setter!(/// Fetches in flight to one broker at once, each on its own connection
        /// (kafkit's own; Java has 1). Default 2; see
        /// [`ConsumerConfig::fetch_connections_per_broker`].
        fetch_connections_per_broker: usize => fetch_connections_per_broker);
    setter!(/// `client.rack`. Default empty.
        client_rack: String => client_rack);
    setter!(/// `enable.auto.commit` (with a group). Default true.
        enable_auto_commit: bool => enable_auto_commit);
    setter!(/// `auto.commit.interval.ms`. Default 5 s.
        auto_commit_interval: Duration => auto_commit_interval);
    setter!(/// `session.timeout.ms`. Default 45 s.
        session_timeout: Duration => session_timeout);
    setter!(/// `heartbeat.interval.ms`. Default 3 s.
        heartbeat_interval: Duration => heartbeat_interval);
    setter!(/// `max.poll.interval.ms`. Default 5 min.
        max_poll_interval: Duration => max_poll_interval);

    /// `group.id`. Default none (manual assignment only).
    pub fn group_id(mut self, id: impl Into<String>) -> Self {
        self.config.group_id = Some(id.into());
        self
    }

    /// `group.instance.id` (static membership). Default none.
    pub fn group_instance_id(mut self, id: impl Into<String>) -> Self {
        self.config.group_instance_id = Some(id.into());
        self
    }

    /// Replaces the whole configuration.
    pub fn config(mut self, config: ConsumerConfig) -> Self {
        self.config = config;
        self
    }

    /// `key.deserializer`.
    pub fn key_deserializer(mut self, d: impl Deserializer<K> + 'static) -> Self {
        self.key_deserializer = Arc::new(d);
        self.default_serde.0 = false;
        self
    }

    /// `value.deserializer`.
    pub fn value_deserializer(mut self, d: impl Deserializer<V> + 'static) -> Self {
        self.value_deserializer = Arc::new(d);
        self.default_serde.1 = false;
        self
    }

    /// `partition.assignment.strategy`: the assignors this member offers,
    /// in order of preference. Default `[range, cooperative-sticky]`, as
    /// Java 3.x (which rebalances eagerly until every assignor listed is
    /// cooperative).
    pub fn partition_assignment_strategy(mut self, assignors: Vec<Arc<dyn Assignor>>) -> Self {
        self.assignors = Some(assignors);
        self
    }

    /// The listener called (inside `poll`) when the group assigns, revokes
    /// or loses partitions. Default: none (auto-commit still commits on
    /// revoke when `enable.auto.commit`).
    pub fn rebalance_listener(mut self, listener: impl RebalanceListener<K, V>) -> Self {
        self.listener = Some(Arc::new(listener));
        self
    }

    /// Builds the consumer and starts its fetch tasks. Must run inside a
    /// tokio runtime. Nothing is fetched until partitions are assigned.
    pub fn build(self) -> Result<Consumer<K, V>> {
        self.config.validate()?;
        self.client.ensure_open()?;
        let subs = Arc::new(PartitionTable::new(self.config.auto_offset_reset));
        let ctx = Arc::new(FetchContext {
            client: self.client,
            config: self.config,
            subs,
            counters: Counters::default(),
        });
        let group = match &ctx.config.group_id {
            Some(group_id) => {
                let c = &ctx.config;
                let mut m = MembershipConfig::new(group_id.clone());
                m.group.group_instance_id = c.group_instance_id.clone();
                m.group.session_timeout = c.session_timeout;
                m.group.heartbeat_interval = c.heartbeat_interval;
                m.group.rebalance_timeout = c.max_poll_interval;
                m.group.retry_backoff = ctx.client.retry_backoff();
                m.require_stable_offsets = c.isolation_level == IsolationLevel::ReadCommitted;
                if !c.client_rack.is_empty() {
                    m.client_rack = Some(c.client_rack.clone());
                }
                if let Some(a) = self.assignors {
                    m.assignors = a;
                }
                let handle = Membership::spawn(ctx.client.clone(), m)?;
                let auto_commit = c.auto_commit_enabled().then_some(c.auto_commit_interval);
                Some(GroupMember::new(handle, auto_commit))
            }
            None => None,
        };
        let fetcher = Fetcher::start(ctx.clone());
        Ok(Consumer {
            ctx,
            fetcher,
            closed: Arc::new(AtomicBool::new(false)),
            key_deserializer: self.key_deserializer,
            value_deserializer: self.value_deserializer,
            default_serde: self.default_serde,
            group,
            listener: self.listener,
        })
    }
}
