//! The typed `Consumer`, its builder, and the offset lookups it offers.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::time::Instant;
use tracing::Instrument;

use super::assignor::Assignor;
use super::config::{ConsumerConfig, IsolationLevel, OffsetReset};
use super::fetcher::completed::RawRecord;
use super::fetcher::{FetchContext, Fetcher};
use super::group_member::GroupMember;
use super::listener::RebalanceListener;
use super::membership::{Membership, MembershipConfig};
use super::metrics::{ConsumerMetrics, Counters};
use super::offsets;
use super::record::{ConsumerRecord, ConsumerRecords};
use super::subscriptions::Subscriptions;
use crate::TopicPartition;
use crate::admin::OffsetSpec;
use crate::client::Client;
use crate::error::{Context, Error, Result};
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
    listener: Option<Arc<dyn RebalanceListener<K, V>>>,
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
        let subs = Arc::new(Subscriptions::new(self.config.auto_offset_reset));
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
            closed: AtomicBool::new(false),
            key_deserializer: self.key_deserializer,
            value_deserializer: self.value_deserializer,
            default_serde: self.default_serde,
            group,
            listener: self.listener,
        })
    }
}

/// An offset found by [`Consumer::offsets_for_times`] (Java's
/// `OffsetAndTimestamp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetAndTimestamp {
    /// The first offset whose timestamp is at or after the one asked for.
    pub offset: i64,
    /// That record's timestamp.
    pub timestamp: i64,
    /// Its leader epoch, if known.
    pub leader_epoch: Option<i32>,
}

/// A Kafka consumer for keys `K` and values `V`: partitions are either
/// assigned by the application ([`Consumer::assign`]) or by its group
/// (`group.id` with [`Consumer::subscribe`] or
/// [`Consumer::subscribe_pattern`]).
///
/// Background tasks (per broker, one per fetch connection; see
/// [`ConsumerConfig::fetch_connections_per_broker`]) prefetch records of the assigned
/// partitions into a bounded buffer; [`Consumer::poll`] hands them out.
/// Positions ([`Consumer::position`], [`Consumer::lag`]) follow what was
/// handed out, never what was prefetched: a seek, pause or reassignment
/// discards prefetched records.
///
/// Methods take `&self`, so the consumer can be shared, but like Java's
/// consumer it is meant to be polled from one task: two tasks polling at
/// once split the records between them.
///
/// ```no_run
/// # async fn demo(client: kafkit::Client) -> kafkit::Result<()> {
/// use kafkit::TopicPartition;
/// use kafkit::consumer::Consumer;
/// let consumer: Consumer<String, String> = Consumer::builder(&client).build()?;
/// consumer.assign([TopicPartition::new("events", 0)])?;
/// consumer.seek_to_beginning(&[])?;
/// let records = consumer.poll(std::time::Duration::from_secs(1)).await?;
/// for r in &records {
///     println!("{}-{}@{}: {:?}", r.topic, r.partition, r.offset, r.value);
/// }
/// consumer.close(std::time::Duration::from_secs(5)).await;
/// # Ok(()) }
/// ```
pub struct Consumer<K, V> {
    pub(super) ctx: Arc<FetchContext>,
    fetcher: Fetcher,
    closed: AtomicBool,
    key_deserializer: Arc<dyn Deserializer<K>>,
    value_deserializer: Arc<dyn Deserializer<V>>,
    /// Whether the key and value deserializers are [`DefaultSerde`].
    default_serde: (bool, bool),
    /// Group membership, when `group.id` is set.
    pub(super) group: Option<GroupMember>,
    pub(super) listener: Option<Arc<dyn RebalanceListener<K, V>>>,
}

impl<K, V> std::fmt::Debug for Consumer<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("config", &self.ctx.config)
            .field("assignment", &self.ctx.subs.assignment())
            .finish()
    }
}

impl<K, V> Consumer<K, V>
where
    K: Send + 'static,
    V: Send + 'static,
    DefaultSerde: Deserializer<K> + Deserializer<V>,
{
    /// A builder with the default deserializers.
    pub fn builder(client: &Client) -> ConsumerBuilder<K, V> {
        ConsumerBuilder::new(client)
    }
}

impl<K: Send + 'static, V: Send + 'static> Consumer<K, V> {
    pub(super) fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        self.ctx.client.ensure_open()
    }

    /// The client this consumer fetches through.
    pub fn client(&self) -> &Client {
        &self.ctx.client
    }

    /// The configuration in use.
    pub fn config(&self) -> &ConsumerConfig {
        &self.ctx.config
    }

    /// The partition table, for the group driver: it changes the
    /// assignment and sets committed positions through it.
    #[allow(dead_code)] // used by the group driver (consumer issue, later part)
    pub(crate) fn subscriptions(&self) -> &Arc<Subscriptions> {
        &self.ctx.subs
    }

    /// Assigns exactly these partitions (Java's `assign`), replacing the
    /// previous assignment. Partitions that stay keep their positions; new
    /// ones start at their reset position (`auto.offset.reset`) unless
    /// sought first. An empty list unassigns everything.
    pub fn assign(&self, partitions: impl IntoIterator<Item = TopicPartition>) -> Result<()> {
        self.check_open()?;
        let partitions: Vec<TopicPartition> = partitions.into_iter().collect();
        if let Some(bad) = partitions
            .iter()
            .find(|tp| tp.partition < 0 || tp.topic.is_empty())
        {
            return Err(Error::InvalidArgument {
                reason: "invalid topic partition".into(),
                context: Context::default()
                    .with_topic(bad.topic.clone())
                    .with_partition(bad.partition),
            });
        }
        self.ctx.subs.assign(partitions);
        Ok(())
    }

    /// The assigned partitions, sorted.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.ctx.subs.assignment()
    }

    /// Waits up to `timeout` for records and returns at most
    /// `max.poll.records` of them (an empty set when none came in time).
    ///
    /// Positions of partitions without one are looked up first
    /// (`auto.offset.reset`). Errors are returned in order: a partition's
    /// error (offset out of range with `auto.offset.reset=none`, corrupt
    /// data, an undeserializable record) comes after the records before it
    /// and repeats until the application seeks that partition.
    ///
    /// Cancel-safe: records are taken from the buffer only in the final,
    /// synchronous step, so dropping the future (e.g. in `select!`) loses
    /// nothing; an offset lookup abandoned half way is simply redone.
    pub async fn poll(&self, timeout: Duration) -> Result<ConsumerRecords<K, V>> {
        let span = tracing::debug_span!(
            "poll",
            timeout_ms = timeout.as_millis() as u64,
            records = tracing::field::Empty
        );
        let deadline = Instant::now() + timeout;
        let max = self.ctx.config.max_poll_records;
        let records = self
            .collect_in_group(max, Some(deadline))
            .instrument(span.clone())
            .await?;
        span.record("records", records.len());
        Ok(ConsumerRecords::new(records))
    }

    /// Waits for the next record. Cancel-safe, like [`Consumer::poll`].
    pub async fn recv(&self) -> Result<ConsumerRecord<K, V>> {
        loop {
            if let Some(record) = self.collect_in_group(1, None).await?.pop() {
                return Ok(record);
            }
        }
    }

    /// `collect`, with the group's work done first and rebalance events
    /// that arrive meanwhile carried out at once (they interrupt the wait
    /// for records, which loses nothing).
    async fn collect_in_group(
        &self,
        max: usize,
        deadline: Option<Instant>,
    ) -> Result<Vec<ConsumerRecord<K, V>>> {
        let Some(member) = &self.group else {
            return self.collect(max, deadline).await;
        };
        // Waiting inside poll is polling: tell the membership now and then,
        // so that a poll (or recv) longer than max.poll.interval.ms does
        // not make the member leave the group (Java's poll refreshes its
        // poll timer the same way while it waits).
        let period = (self.ctx.config.max_poll_interval / 2)
            .clamp(Duration::from_millis(10), Duration::from_secs(1));
        let keepalive = async {
            loop {
                tokio::time::sleep(period).await;
                member.handle.polled();
            }
        };
        tokio::pin!(keepalive);
        loop {
            self.group_work().await?;
            tokio::select! {
                records = self.collect(max, deadline) => return records,
                event = self.next_group_event() => self.run_event(event).await?,
                () = &mut keepalive => {}
            }
        }
    }

    /// Takes up to `max` records, waiting until `deadline` (forever with
    /// `None`) for the first.
    async fn collect(
        &self,
        max: usize,
        deadline: Option<Instant>,
    ) -> Result<Vec<ConsumerRecord<K, V>>> {
        let subs = &self.ctx.subs;
        let backoff = self.ctx.client.retry_backoff();
        loop {
            self.check_open()?;
            if subs.has_pending_resets() {
                let reset = offsets::reset_positions(&self.ctx.client, subs);
                match deadline {
                    Some(d) => {
                        if tokio::time::timeout_at(d, reset).await.is_err() {
                            return Ok(Vec::new());
                        }
                    }
                    None => reset.await,
                }
            }
            let ready = subs.data_ready.notified();
            tokio::pin!(ready);
            ready.as_mut().enable();
            let raw = subs.take(max)?;
            if !raw.is_empty() {
                return self.deserialize(raw);
            }
            // Come back now and then: for a pending reset to retry, and to
            // notice a close.
            let mut wake = Instant::now()
                + if subs.has_pending_resets() {
                    backoff
                } else {
                    Duration::from_secs(1)
                };
            if let Some(d) = deadline {
                if Instant::now() >= d {
                    return Ok(Vec::new());
                }
                wake = wake.min(d);
            }
            tokio::select! {
                _ = ready => {}
                _ = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    /// Deserializes in order. On the first failure the records not handed
    /// out go back (their partitions are rewound); the error comes now if
    /// nothing precedes it, else with the next poll.
    fn deserialize(&self, raw: Vec<RawRecord>) -> Result<Vec<ConsumerRecord<K, V>>> {
        let mut out = Vec::with_capacity(raw.len());
        let mut rest = raw.into_iter();
        while let Some(r) = rest.next() {
            match self.convert(r) {
                Ok(record) => out.push(record),
                Err((e, r)) => {
                    let mut rewind: HashMap<(Arc<str>, i32), (u64, i64)> = HashMap::new();
                    for r in std::iter::once(r).chain(rest) {
                        rewind
                            .entry((r.topic.clone(), r.partition))
                            .or_insert((r.generation, r.record.offset));
                    }
                    for ((topic, partition), (generation, offset)) in rewind {
                        self.ctx.subs.rewind(
                            &TopicPartition { topic, partition },
                            generation,
                            offset,
                        );
                    }
                    self.count_consumed(out.len());
                    return if out.is_empty() { Err(e) } else { Ok(out) };
                }
            }
        }
        self.count_consumed(out.len());
        Ok(out)
    }

    fn count_consumed(&self, n: usize) {
        self.ctx
            .counters
            .records_consumed
            .fetch_add(n as u64, Ordering::Release);
    }

    /// The record for the application. It takes the raw record by value:
    /// topic and headers move over, and with [`DefaultSerde`] for `Bytes`
    /// the key and value slices move over too (what `DefaultSerde` would
    /// return, without a reference-count round trip per record). On a
    /// deserialization error the raw record comes back for the rewind.
    #[allow(clippy::result_large_err)] // the error path is rare; the record is needed there
    fn convert(
        &self,
        mut r: RawRecord,
    ) -> std::result::Result<ConsumerRecord<K, V>, (Error, RawRecord)> {
        let fail = |e: Error, r: &RawRecord| {
            let e = match e {
                Error::InvalidArgument { reason, context } => Error::InvalidArgument {
                    reason: format!(
                        "cannot deserialize the record at offset {}: {reason}; seek past it to continue",
                        r.record.offset
                    ),
                    context,
                },
                other => other,
            };
            e.map_context(|c| c.with_topic(r.topic.clone()).with_partition(r.partition))
        };
        let key = match take_bytes_as::<K>(self.default_serde.0, &mut r.record.key) {
            Some(k) => Some(k),
            None => match &r.record.key {
                Some(k) => match self.key_deserializer.deserialize(&r.topic, Some(k)) {
                    Ok(k) => Some(k),
                    Err(e) => return Err((fail(e, &r), r)),
                },
                None => None,
            },
        };
        let value = match take_bytes_as::<V>(self.default_serde.1, &mut r.record.value) {
            Some(v) => Some(v),
            None => match &r.record.value {
                Some(v) => match self.value_deserializer.deserialize(&r.topic, Some(v)) {
                    Ok(v) => Some(v),
                    Err(e) => return Err((fail(e, &r), r)),
                },
                None => None,
            },
        };
        Ok(ConsumerRecord {
            topic: r.topic,
            partition: r.partition,
            offset: r.record.offset,
            timestamp: r.record.timestamp,
            timestamp_type: r.timestamp_type,
            key,
            value,
            headers: r.record.headers,
            leader_epoch: r.leader_epoch,
        })
    }

    /// Sets the partition's position: the next poll returns the record at
    /// `offset` (or the first after it). Prefetched records are discarded.
    /// Clears the partition's sticky error.
    pub fn seek(&self, tp: &TopicPartition, offset: i64) -> Result<()> {
        self.check_open()?;
        self.ctx.subs.seek(tp, offset)
    }

    fn assigned_or_all(&self, tps: &[TopicPartition]) -> Vec<TopicPartition> {
        if tps.is_empty() {
            self.assignment()
        } else {
            tps.to_vec()
        }
    }

    /// Moves to the first offset of each partition (all assigned ones when
    /// `tps` is empty), looked up lazily by the next `poll` or `position`,
    /// as in Java.
    pub fn seek_to_beginning(&self, tps: &[TopicPartition]) -> Result<()> {
        self.check_open()?;
        for tp in self.assigned_or_all(tps) {
            self.ctx.subs.request_reset(&tp, OffsetReset::Earliest)?;
        }
        self.ctx.subs.fetch_wake.notify_waiters();
        Ok(())
    }

    /// Moves to the end of each partition (all assigned ones when `tps` is
    /// empty), looked up lazily by the next `poll` or `position`.
    ///
    /// The end is what the broker answers to ListOffsets(LATEST): the high
    /// watermark on Apache Kafka (Tansu answers its last batch's base
    /// offset + 1 instead).
    pub fn seek_to_end(&self, tps: &[TopicPartition]) -> Result<()> {
        self.check_open()?;
        for tp in self.assigned_or_all(tps) {
            self.ctx.subs.request_reset(&tp, OffsetReset::Latest)?;
        }
        self.ctx.subs.fetch_wake.notify_waiters();
        Ok(())
    }

    /// The offset of the next record `poll` will return for `tp`, looking
    /// it up first if the partition has no position yet (bounded by
    /// `request.timeout.ms`).
    pub async fn position(&self, tp: &TopicPartition) -> Result<i64> {
        let deadline = Instant::now() + self.ctx.client.request_timeout();
        loop {
            self.check_open()?;
            if let Some(p) = self.ctx.subs.position(tp)? {
                return Ok(p);
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    what: "position lookup",
                    context: Context::default()
                        .with_topic(tp.topic.clone())
                        .with_partition(tp.partition),
                });
            }
            offsets::reset_positions(&self.ctx.client, &self.ctx.subs).await;
            if self.ctx.subs.position(tp)?.is_none() {
                tokio::time::sleep(self.ctx.client.retry_backoff()).await;
            }
        }
    }

    /// Stops fetching `tps` until resumed; their prefetched records are
    /// discarded and `poll` returns none of theirs.
    pub fn pause(&self, tps: &[TopicPartition]) -> Result<()> {
        self.check_open()?;
        self.ctx.subs.set_paused(tps, true)
    }

    /// Fetches `tps` again from their positions.
    pub fn resume(&self, tps: &[TopicPartition]) -> Result<()> {
        self.check_open()?;
        self.ctx.subs.set_paused(tps, false)
    }

    /// The paused partitions, sorted.
    pub fn paused(&self) -> Vec<TopicPartition> {
        self.ctx.subs.paused()
    }

    /// Records between the delivered position and the high watermark of
    /// the partition's last Fetch response (the last stable offset with
    /// `read_committed`); `None` until both are known.
    pub fn lag(&self, tp: &TopicPartition) -> Option<i64> {
        self.ctx.subs.lag(tp, self.read_committed())
    }

    fn read_committed(&self) -> bool {
        self.ctx.config.isolation_level == IsolationLevel::ReadCommitted
    }

    async fn offsets(
        &self,
        tps: &[TopicPartition],
        spec: OffsetSpec,
    ) -> Result<BTreeMap<TopicPartition, i64>> {
        self.check_open()?;
        let mut out = BTreeMap::new();
        for (tp, r) in offsets::list(&self.ctx.client, tps, spec).await? {
            out.insert(tp, r?.offset);
        }
        Ok(out)
    }

    /// The first offset of each partition (log start offset).
    pub async fn beginning_offsets(
        &self,
        tps: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, i64>> {
        self.offsets(tps, OffsetSpec::Earliest).await
    }

    /// The end offset of each partition, as ListOffsets(LATEST) answers it
    /// (the high watermark on Apache Kafka; see [`Consumer::seek_to_end`]
    /// for Tansu).
    pub async fn end_offsets(
        &self,
        tps: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, i64>> {
        self.offsets(tps, OffsetSpec::Latest).await
    }

    /// For each partition, the first record whose timestamp is at or after
    /// the given one; `None` when no record is that recent.
    pub async fn offsets_for_times(
        &self,
        times: &BTreeMap<TopicPartition, i64>,
    ) -> Result<BTreeMap<TopicPartition, Option<OffsetAndTimestamp>>> {
        self.check_open()?;
        let mut by_time: BTreeMap<i64, Vec<TopicPartition>> = BTreeMap::new();
        for (tp, ts) in times {
            if *ts < 0 {
                return Err(Error::InvalidArgument {
                    reason: format!("timestamp {ts} is negative"),
                    context: Context::default()
                        .with_topic(tp.topic.clone())
                        .with_partition(tp.partition),
                });
            }
            by_time.entry(*ts).or_default().push(tp.clone());
        }
        let mut out = BTreeMap::new();
        for (ts, tps) in by_time {
            for (tp, r) in
                offsets::list(&self.ctx.client, &tps, OffsetSpec::ForTimestamp(ts)).await?
            {
                let listed = r?;
                let found = (listed.offset >= 0).then_some(OffsetAndTimestamp {
                    offset: listed.offset,
                    timestamp: listed.timestamp,
                    leader_epoch: (listed.leader_epoch >= 0).then_some(listed.leader_epoch),
                });
                out.insert(tp, found);
            }
        }
        Ok(out)
    }

    /// A snapshot of the consumer's counters and per-partition lag.
    pub fn metrics(&self) -> ConsumerMetrics {
        ConsumerMetrics::snapshot(
            &self.ctx.counters,
            self.ctx.subs.buffered_bytes(),
            self.ctx.subs.lags(self.read_committed()),
        )
    }

    /// Closes the consumer: fetch tasks stop, prefetched records are
    /// dropped, and later calls fail with [`Error::Closed`]. The client
    /// stays open. `timeout` bounds the work a group consumer will do here
    /// (final commit, LeaveGroup); without a group nothing needs waiting.
    pub async fn close(&self, timeout: Duration) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        // Revoke (auto-commit, listener) and leave while still open, so the
        // listener can commit.
        self.leave_group(timeout).await;
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.fetcher.stop();
        self.ctx.subs.assign(Vec::new());
        self.ctx.subs.data_ready.notify_waiters();
    }
}

/// `slot`'s bytes as a `T`, when `T` is `Bytes` and `default_serde` says the
/// deserializer is [`DefaultSerde`] (whose `Bytes` result is exactly these
/// bytes); `None` otherwise, leaving `slot` as it was.
fn take_bytes_as<T: 'static>(default_serde: bool, slot: &mut Option<bytes::Bytes>) -> Option<T> {
    if !default_serde {
        return None;
    }
    (slot as &mut dyn std::any::Any)
        .downcast_mut::<Option<T>>()
        .and_then(Option::take)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::take_bytes_as;

    #[test]
    fn default_bytes_move_over_and_anything_else_is_left_for_the_deserializer() {
        let data = Bytes::from_static(b"value");
        let mut slot = Some(data.clone());
        assert_eq!(take_bytes_as::<Bytes>(true, &mut slot), Some(data.clone()));
        assert_eq!(slot, None, "moved, not cloned");

        let mut slot = Some(data.clone());
        assert_eq!(take_bytes_as::<String>(true, &mut slot), None);
        assert_eq!(
            slot.as_ref(),
            Some(&data),
            "a String goes through the deserializer"
        );

        let mut slot = Some(data.clone());
        assert_eq!(take_bytes_as::<Bytes>(false, &mut slot), None);
        assert_eq!(
            slot,
            Some(data),
            "a custom Bytes deserializer is still called"
        );
    }
}
