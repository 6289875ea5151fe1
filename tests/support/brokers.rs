//! Which brokers a test can run against, and one test body for all of them.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

use super::{
    TansuBroker, create_topic_with_rdkafka, skip_or_fail, start_tansu, test_name, wait_for_topic,
};

/// librdkafka's in-process mock cluster with `brokers` brokers on loopback
/// (`cluster.bootstrap_servers()` names them). It stops when dropped.
///
/// It has no CreateTopics: create topics with `cluster.create_topic(name,
/// partitions, replication)` (or [`TestBroker::create_topic`]). Fault
/// injection: `request_errors`, `broker_down`/`broker_up`,
/// `partition_leader`, `broker_round_trip_time`, `coordinator`, ...
/// The cluster is not `Send`: keep it on the test's own thread.
pub fn mock_cluster(brokers: i32) -> MockCluster<'static, DefaultProducerContext> {
    let bind_guard = super::outage::listener_guard();
    let cluster = MockCluster::new(brokers)
        .expect("librdkafka mock cluster (in-process, should always start)");
    drop(bind_guard);
    // Keep its ports from parallel tests' Tansu brokers (see reserve_ports).
    super::reserve_ports(
        cluster
            .bootstrap_servers()
            .split(',')
            .filter_map(|server| server.rsplit_once(':')?.1.parse().ok()),
    );
    cluster
}

/// The user's own broker, `KAFKA_BOOTSTRAP`, if set and non-empty.
pub fn external() -> Option<String> {
    std::env::var("KAFKA_BOOTSTRAP")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// [`external`], or a skip when `KAFKA_BOOTSTRAP` is unset. Never fails in
/// CI, which has no external broker: use it only for tests that *need* a
/// real Apache Kafka, and keep a Tansu or mock variant of what they check.
pub fn external_or_skip() -> Option<String> {
    let found = external();
    if found.is_none() {
        eprintln!("SKIP {}: KAFKA_BOOTSTRAP is not set", test_name());
    }
    found
}

/// The brokers a test can run against, with what each does differently
/// from Apache Kafka (measured with librdkafka; see shared/BROKERS.md).
/// Do not chase these deviations as client bugs: gate on the methods below.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BrokerKind {
    /// Tansu 0.6.0 (a separate process; one node, id 111; memory storage).
    ///
    /// Works: metadata, CreateTopics/DeleteTopics, produce acks=all +
    /// idempotent + every codec, fetch, classic groups (range, roundrobin,
    /// cooperative-sticky), OffsetCommit/Fetch, transactional calls incl.
    /// TxnOffsetCommit, list/describe groups.
    ///
    /// Deviations:
    /// - a JoinGroup completes after about `session.timeout.ms / 2` (the
    ///   first, and in practice later ones too): use `session.timeout.ms=6000`
    ///   in tests;
    /// - ListOffsets(LATEST) answers the last batch's base offset + 1, not the
    ///   high watermark (Fetch responses carry the correct high watermark);
    /// - read_committed is not enforced: Fetch never lists aborted
    ///   transactions (it does answer the last stable offset, so an open
    ///   transaction's records are held back);
    /// - EndTxn writes markers only to partitions whose Produce requests
    ///   carried the transactional id; an offsets-only transaction (no
    ///   records) does not store its TxnOffsetCommit offsets on commit;
    /// - no CreatePartitions, no OffsetForLeaderEpoch, no KIP-848
    ///   ConsumerGroupHeartbeat; DeleteRecords closes the connection;
    ///   DescribeConfigs returns no entries.
    Tansu,
    /// librdkafka 2.12's mock cluster (in-process; three brokers from
    /// [`brokers`]).
    ///
    /// Works: metadata, produce acks=all + idempotent + every codec, fetch,
    /// ListOffsets, classic groups, KIP-848 groups, commit/committed,
    /// transactional calls; fault injection through [`TestBroker::mock`].
    ///
    /// Deviations:
    /// - no CreateTopics (topics are pre-created with `create_topic`; auto
    ///   creation gives 4 partitions);
    /// - keeps only about 5 MiB per partition and silently drops older data:
    ///   keep test volumes small;
    /// - answers a Fetch with one batch per partition and holds an empty
    ///   fetch for the full max wait (its consume throughput means nothing);
    /// - TxnOffsetCommit is not stored; read_committed is not enforced;
    /// - refuses OffsetCommit while its group is joining, and checks a
    ///   commit's `committed_leader_epoch` against the partition's current
    ///   epoch (FENCED_LEADER_EPOCH after a leader move; Apache Kafka only
    ///   stores it);
    /// - a restarted static member is treated as a new member.
    Mock,
    /// kafkit's own embedded cluster (`kafkit::mock`, feature `mock`; three
    /// brokers in the test's process). Evidence only where librdkafka, as
    /// an independent client, shows it behaves like Kafka
    /// (`tests/mock_cluster.rs`, and every mixed-group test run on it).
    ///
    /// Deviations (see `kafkit::mock`'s module docs): no KIP-848 groups,
    /// no TLS listener, no ACLs; `group.initial.rebalance.delay.ms` is 0.
    Embedded,
    /// A broker the user runs, named by `KAFKA_BOOTSTRAP` (assumed to be a
    /// recent Apache Kafka with every feature; it keeps data between runs,
    /// so use [`unique_topic`] names).
    External,
}

impl BrokerKind {
    /// Whether CreateTopics/DeleteTopics work (not on the mock).
    pub fn has_create_topics(self) -> bool {
        !matches!(self, BrokerKind::Mock)
    }

    /// Whether CreatePartitions works (neither Tansu nor the mock has it).
    pub fn has_create_partitions(self) -> bool {
        matches!(self, BrokerKind::External | BrokerKind::Embedded)
    }

    /// Whether KIP-848 ConsumerGroupHeartbeat groups work (not on Tansu).
    pub fn has_consumer_group_heartbeat(self) -> bool {
        !matches!(self, BrokerKind::Tansu | BrokerKind::Embedded)
    }

    /// Whether OffsetForLeaderEpoch works (not on Tansu).
    pub fn has_offset_for_leader_epoch(self) -> bool {
        !matches!(self, BrokerKind::Tansu)
    }

    /// Whether ListOffsets(LATEST) answers the high watermark (Tansu answers
    /// the last batch's base offset + 1).
    pub fn list_offsets_latest_is_high_watermark(self) -> bool {
        !matches!(self, BrokerKind::Tansu)
    }

    /// Whether read_committed hides aborted records (neither Tansu nor
    /// librdkafka's mock enforces it; the embedded cluster does).
    pub fn enforces_read_committed(self) -> bool {
        matches!(self, BrokerKind::External | BrokerKind::Embedded)
    }

    /// Whether TxnOffsetCommit offsets are stored (not on the mock).
    pub fn stores_txn_offset_commit(self) -> bool {
        !matches!(self, BrokerKind::Mock)
    }
}

/// A running broker of some [`BrokerKind`], kept alive as long as this value.
pub struct TestBroker {
    kind: BrokerKind,
    bootstrap: String,
    running: Running,
}

enum Running {
    Tansu(TansuBroker),
    Mock(MockCluster<'static, DefaultProducerContext>),
    #[cfg(feature = "mock")]
    Embedded(kafkit::mock::MockCluster),
    External,
}

impl TestBroker {
    /// Start a private Tansu broker (see [`start_tansu`]; for the skip
    /// policy use `TestBroker::from(tansu_or_skip()?)`).
    pub fn tansu() -> Result<TestBroker, String> {
        start_tansu().map(TestBroker::from)
    }

    /// Start a mock cluster with `brokers` brokers.
    pub fn mock(brokers: i32) -> TestBroker {
        TestBroker::from(mock_cluster(brokers))
    }

    /// Start kafkit's embedded cluster with three brokers.
    #[cfg(feature = "mock")]
    // The guard is held while the cluster binds its listeners (a moment,
    // no other lock taken meanwhile), so no librdkafka outage can start
    // then: see `support::outage`.
    #[allow(clippy::await_holding_lock)]
    pub async fn embedded() -> TestBroker {
        let bind_guard = super::outage::listener_guard();
        let cluster = kafkit::mock::MockCluster::new(3)
            .await
            .expect("kafkit's embedded cluster (in-process, should always start)");
        drop(bind_guard);
        TestBroker {
            kind: BrokerKind::Embedded,
            bootstrap: cluster.bootstrap_servers(),
            running: Running::Embedded(cluster),
        }
    }

    /// The embedded cluster, for its controls; `None` for other kinds.
    #[cfg(feature = "mock")]
    pub fn embedded_cluster(&self) -> Option<&kafkit::mock::MockCluster> {
        match &self.running {
            Running::Embedded(cluster) => Some(cluster),
            _ => None,
        }
    }

    /// The `KAFKA_BOOTSTRAP` broker, if set.
    pub fn external() -> Option<TestBroker> {
        external().map(|bootstrap| TestBroker {
            kind: BrokerKind::External,
            bootstrap,
            running: Running::External,
        })
    }

    /// Which broker this is.
    pub fn kind(&self) -> BrokerKind {
        self.kind
    }

    /// The `bootstrap.servers` string.
    pub fn bootstrap(&self) -> String {
        self.bootstrap.clone()
    }

    /// The mock cluster, for fault injection; `None` for other kinds.
    pub fn mock_cluster(&self) -> Option<&MockCluster<'static, DefaultProducerContext>> {
        match &self.running {
            Running::Mock(cluster) => Some(cluster),
            _ => None,
        }
    }

    /// The Tansu process, e.g. to kill it; `None` for other kinds.
    pub fn tansu_broker(&self) -> Option<&TansuBroker> {
        match &self.running {
            Running::Tansu(broker) => Some(broker),
            _ => None,
        }
    }

    /// Create `topic` with `partitions` partitions the way this broker allows
    /// (CreateTopics through librdkafka, or the mock's own call), and wait
    /// until its metadata shows every partition. Panics on failure.
    pub async fn create_topic(&self, topic: &str, partitions: i32) {
        match &self.running {
            Running::Mock(cluster) => {
                cluster
                    .create_topic(topic, partitions, 1)
                    .unwrap_or_else(|e| panic!("mock create_topic {topic}: {e}"));
                wait_for_topic(&self.bootstrap, topic, partitions).await;
            }
            #[cfg(feature = "mock")]
            Running::Embedded(cluster) => {
                cluster
                    .create_topic(topic, partitions)
                    .unwrap_or_else(|e| panic!("embedded create_topic {topic}: {e}"));
            }
            Running::Tansu(_) | Running::External => {
                create_topic_with_rdkafka(&self.bootstrap, topic, partitions).await
            }
        }
    }
}

impl From<TansuBroker> for TestBroker {
    fn from(broker: TansuBroker) -> Self {
        TestBroker {
            kind: BrokerKind::Tansu,
            bootstrap: broker.bootstrap(),
            running: Running::Tansu(broker),
        }
    }
}

impl From<MockCluster<'static, DefaultProducerContext>> for TestBroker {
    fn from(cluster: MockCluster<'static, DefaultProducerContext>) -> Self {
        TestBroker {
            kind: BrokerKind::Mock,
            bootstrap: cluster.bootstrap_servers(),
            running: Running::Mock(cluster),
        }
    }
}

impl fmt::Display for TestBroker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} at {}", self.kind, self.bootstrap)
    }
}

impl fmt::Debug for TestBroker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Every broker available to the calling test: Tansu (if it cannot start:
/// skipped with a SKIP line outside CI, a panic in CI), librdkafka's
/// three-broker mock cluster, kafkit's embedded cluster (with the `mock`
/// feature), and the external broker when `KAFKA_BOOTSTRAP` is set.
pub async fn brokers() -> Vec<TestBroker> {
    let mut all = Vec::with_capacity(4);
    match TestBroker::tansu() {
        Ok(broker) => all.push(broker),
        Err(reason) => skip_or_fail(&format!("Tansu part skipped: {reason}")),
    }
    all.push(TestBroker::mock(3));
    #[cfg(feature = "mock")]
    all.push(TestBroker::embedded().await);
    all.extend(TestBroker::external());
    all
}

/// Tansu (a separate process) and, with the `mock` feature, kafkit's
/// embedded cluster: the brokers that host everything the transaction and
/// observability tests use (librdkafka's mock cluster stores no
/// transactional offsets and has no CreateTopics).
pub async fn tansu_and_embedded() -> Vec<TestBroker> {
    let mut all = Vec::with_capacity(2);
    if let Some(tansu) = super::tansu_or_skip() {
        all.push(TestBroker::from(tansu));
    }
    #[cfg(feature = "mock")]
    all.push(TestBroker::embedded().await);
    all
}

/// Run `body` once against each of [`brokers`], in turn, naming each on
/// stderr first so a failure report says which broker it was.
///
/// ```ignore
/// support::for_each_broker(async |broker| {
///     broker.create_topic("t", 3).await;
///     // ... drive kafkit against broker.bootstrap() ...
/// })
/// .await;
/// ```
pub async fn for_each_broker(mut body: impl AsyncFnMut(&TestBroker)) {
    let test = test_name();
    for broker in brokers().await {
        eprintln!("== {test} against {broker}");
        body(&broker).await;
    }
}

/// Run `body` against each of [`brokers`] at the same time (group
/// scenarios mostly wait on brokers and timers, so this saves wall time);
/// a panic in one fails the test. Each run's messages should name its
/// broker.
pub async fn on_every_broker_at_once(body: impl AsyncFn(&TestBroker)) {
    let all = brokers().await;
    type Run<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + 'a>>;
    let mut runs: Vec<Option<Run<'_>>> = all
        .iter()
        .map(|broker| {
            eprintln!("== {} against {broker}", test_name());
            Some(Box::pin(body(broker)) as Run<'_>)
        })
        .collect();
    std::future::poll_fn(|cx| {
        for run in runs.iter_mut() {
            if let Some(f) = run
                && f.as_mut().poll(cx).is_ready()
            {
                *run = None;
            }
        }
        if runs.iter().all(Option::is_none) {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
}

/// A topic name no earlier run can have used (matters on an external
/// broker, which keeps its topics): `<prefix>-<pid>-<time>-<counter>`.
pub fn unique_topic(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!("{prefix}-{}-{millis}-{n}", std::process::id())
}
