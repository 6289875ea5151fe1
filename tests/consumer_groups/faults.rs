//! Faults injected on the mock cluster while a group of two kafkit members
//! consumes 30,000 counted records: the group recovers and every record is
//! consumed; a record may come twice only if the commit covering it was
//! reported failed (the members commit after every poll and in the revoke
//! callback, so nothing handed out goes uncommitted otherwise). Each test
//! also shows that its fault struck while records were still unread.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::mocking::MockCoordinator;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

use crate::PARTITIONS;
use crate::support::Outage as _;
use crate::support::{
    self, CommitOnRevoke, MemberOptions, Owners, Pace, Tally, TestBroker, all_partitions,
    consume_until_stopped, group_client, group_member, produce_counted, split_among, wait_until,
};
use kafkit::consumer::Consumer;

use RDKafkaRespErr::{
    RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS as LOAD_IN_PROGRESS,
    RD_KAFKA_RESP_ERR_NOT_COORDINATOR as NOT_COORDINATOR,
    RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS as REBALANCE_IN_PROGRESS,
};

const RECORDS: usize = 30_000;

/// Two members consuming, settled before the records are produced (the
/// mock refuses commits while its group joins).
struct Running {
    broker: TestBroker,
    topic: String,
    group: String,
    members: Vec<Arc<Consumer<String, String>>>,
    tally: Arc<Tally>,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    async fn start(prefix: &str, pace: Pace) -> Running {
        let broker = TestBroker::mock(3);
        let topic = support::unique_topic(prefix);
        broker.create_topic(&topic, PARTITIONS).await;
        let client = group_client(&broker.bootstrap()).await;
        let group = support::unique_topic("g");
        let options = MemberOptions {
            listener: Some(CommitOnRevoke::default()),
            ..MemberOptions::default()
        };
        let tally = Arc::new(Tally::default());
        let owners: Owners = Arc::default();
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let mut members = Vec::new();
        let mut tasks = Vec::new();
        for id in 0..2 {
            let m = Arc::new(group_member(&client, &group, &options));
            m.subscribe([topic.clone()]).unwrap();
            tasks.push(tokio::spawn(consume_until_stopped(
                id,
                m.clone(),
                tally.clone(),
                owners.clone(),
                stop_rx.clone(),
                pace,
            )));
            members.push(m);
        }
        let running = Running {
            broker,
            topic,
            group,
            members,
            tally,
            stop,
            tasks,
        };
        running.wait_split("the group to settle").await;
        produce_counted(&client, &running.topic, RECORDS, PARTITIONS).await;
        running
    }

    fn mock(
        &self,
    ) -> &rdkafka::mocking::MockCluster<'static, rdkafka::producer::DefaultProducerContext> {
        self.broker.mock_cluster().unwrap()
    }

    async fn wait_split(&self, what: &str) {
        let everything = all_partitions(&self.topic, PARTITIONS);
        wait_until(what, Duration::from_secs(30), || {
            let a: Vec<_> = self.members.iter().map(|m| m.assignment()).collect();
            split_among(&a, &everything)
        })
        .await;
    }

    async fn wait_read(&self, at_least: usize) {
        wait_until(
            &format!("{at_least} records read"),
            Duration::from_secs(60),
            || self.tally.unique() >= at_least,
        )
        .await;
    }

    fn rebalances(&self) -> Vec<u64> {
        self.members
            .iter()
            .map(|m| m.group_metrics().unwrap().rebalances)
            .collect()
    }

    fn commits_ok(&self) -> u64 {
        self.members
            .iter()
            .map(|m| m.group_metrics().unwrap().commits_ok)
            .sum()
    }

    /// Waits for every record and a settled group, stops, checks the
    /// count, closes.
    async fn finish(self, what: &str) {
        self.wait_read(RECORDS).await;
        self.wait_split("the group to settle at the end").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.stop.send_replace(true);
        for t in self.tasks {
            t.await.unwrap();
        }
        let doubled = self.tally.assert_exactly_once(RECORDS, what);
        // Commits fail only in the moment a fault or rebalance is handled
        // (here, on the mock, also while its group joins): a few polls'
        // worth, never a systematic failure.
        assert!(
            self.tally.uncertain_count() < RECORDS / 10,
            "{what}: commits failed for {} records",
            self.tally.uncertain_count()
        );
        eprintln!(
            "{what}: per member {:?}; commits failed for {} records, {doubled} of them read twice",
            self.tally.per_member(),
            self.tally.uncertain_count()
        );
        for m in &self.members {
            m.close(Duration::from_secs(10)).await;
        }
    }
}

/// Heartbeats answered NOT_COORDINATOR, then COORDINATOR_LOAD_IN_PROGRESS,
/// then REBALANCE_IN_PROGRESS: the members find the coordinator again,
/// retry, and rebalance. The mock answers a stack of injected errors in
/// order (first in, first out), so once a member has rebalanced, the two
/// errors before it were answered too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_errors_while_consuming() {
    support::init_tracing();
    let run = Running::start("fault-hb", Pace::committing(Duration::from_millis(10))).await;
    run.wait_read(RECORDS / 6).await;
    let before = run.rebalances();
    run.mock().request_errors(
        RDKafkaApiKey::Heartbeat,
        &[NOT_COORDINATOR, LOAD_IN_PROGRESS, REBALANCE_IN_PROGRESS],
    );
    wait_until("a rebalance", Duration::from_secs(20), || {
        run.rebalances()
            .iter()
            .zip(&before)
            .all(|(now, was)| now > was)
    })
    .await;
    assert!(
        run.tally.unique() < RECORDS,
        "the faults must strike while records are unread"
    );
    run.wait_split("the group to settle after the rebalance")
        .await;
    run.finish("heartbeat errors").await;
}

/// The coordinator moves twice (at least one is a change), every
/// partition's leader moves to broker 3, and broker 3 goes down for two
/// seconds and comes back: the members follow the coordinator (their
/// commits keep succeeding), fetch from the new leader, and resume after
/// the outage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinator_and_leader_moves_and_a_broker_outage_while_consuming() {
    support::init_tracing();
    // The mock refuses OffsetCommit whose committed_leader_epoch is older
    // than the partition's (Apache Kafka stores it unchecked), so once the
    // leaders move, commits of the records written before must go without
    // their epochs.
    let pace = Pace {
        commit_without_leader_epoch: true,
        ..Pace::committing(Duration::from_millis(10))
    };
    let run = Running::start("fault-moves", pace).await;
    let mock = run.mock();
    run.wait_read(RECORDS / 6).await;

    for to in [1, 2] {
        let commits = run.commits_ok();
        mock.coordinator(MockCoordinator::Group(run.group.clone()), to)
            .unwrap();
        wait_until(
            &format!("commits after the coordinator moved to {to}"),
            Duration::from_secs(20),
            || run.commits_ok() > commits + 4,
        )
        .await;
    }

    let read = run.tally.unique();
    for p in 0..PARTITIONS {
        mock.partition_leader(&run.topic, p, Some(3)).unwrap();
    }
    // Every unread record is on broker 3 from now on.
    assert!(read < RECORDS, "leaders move while records are unread");
    run.wait_read(read + 2_000).await;

    let read = run.tally.unique();
    mock.take_down(3).unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    mock.bring_up(3).unwrap();
    assert!(
        run.tally.unique() < RECORDS,
        "broker 3, the leader of every partition, went down while records were unread \
         ({read} read when it did)"
    );
    run.finish("coordinator and leader moves, broker outage")
        .await;
}
