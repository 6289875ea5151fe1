//! kafkit and librdkafka consumers in one group, for range, roundrobin
//! and cooperative-sticky: the group converges with partitions on both
//! kinds, and counting the records both kinds consume, none is lost or
//! read twice.
//!
//! Both kinds commit what they were handed out before giving a partition
//! up: kafkit in its revoke callback (and after every poll), librdkafka
//! synchronously in its rebalance callback (`pre_rebalance` on revoke,
//! which librdkafka also runs when the consumer closes), with auto commit
//! off. On Tansu the records are all there before the members start and a
//! librdkafka member joins while both kinds consume, so the assertion
//! covers a rebalance: exactly once, no allowance. The mock refuses
//! OffsetCommit while its group is joining, so there the group settles
//! first and the records come after (no rebalance during consumption).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use kafkit::TopicPartition;
use kafkit::consumer::assignor::{Assignor, CooperativeSticky, Range, RoundRobin};
use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::types::RDKafkaErrorCode;

use crate::PARTITIONS;
use crate::support::{
    self, BrokerKind, CommitOnRevoke, MemberOptions, Owners, Pace, Tally, TestBroker,
    all_partitions, consume_until_stopped, group_client, group_member, produce_counted,
    split_among, wait_until,
};

/// librdkafka's side of commit on revoke.
#[derive(Default)]
struct CommitInRebalance {
    commits_ok: AtomicU64,
    commits_failed: AtomicU64,
}

impl ClientContext for CommitInRebalance {}

impl ConsumerContext for CommitInRebalance {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(_) = rebalance {
            match consumer.commit_consumer_state(CommitMode::Sync) {
                Ok(()) => self.commits_ok.fetch_add(1, Ordering::Relaxed),
                // Nothing consumed yet: nothing to commit.
                Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => 0,
                Err(e) => {
                    eprintln!("librdkafka commit on revoke failed: {e}");
                    self.commits_failed.fetch_add(1, Ordering::Relaxed)
                }
            };
        }
    }
}

/// A librdkafka member on its own thread (its poll blocks), counting what
/// it consumes into the tally and publishing its assignment.
struct RdMember {
    stop: Arc<AtomicBool>,
    assignment: Arc<Mutex<Vec<TopicPartition>>>,
    thread: Option<JoinHandle<Arc<CommitInRebalance>>>,
}

impl RdMember {
    fn start(
        id: usize,
        bootstrap: &str,
        group: &str,
        topic: &str,
        strategy: &str,
        tally: Arc<Tally>,
    ) -> RdMember {
        let consumer: BaseConsumer<CommitInRebalance> = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", group)
            .set("partition.assignment.strategy", strategy)
            .set("session.timeout.ms", "6000")
            .set("heartbeat.interval.ms", "500")
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("fetch.wait.max.ms", "100")
            .create_with_context(CommitInRebalance::default())
            .unwrap_or_else(|e| panic!("librdkafka consumer: {e}"));
        consumer.subscribe(&[topic]).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let assignment = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let stop = stop.clone();
            let assignment = assignment.clone();
            std::thread::spawn(move || {
                let mut since_pause = 0;
                while !stop.load(Ordering::Relaxed) {
                    match consumer.poll(Duration::from_millis(100)) {
                        Some(Ok(m)) => {
                            let value = std::str::from_utf8(m.payload().unwrap()).unwrap();
                            tally.count(value.parse().unwrap(), id, m.partition());
                            // The same pace as the kafkit members.
                            since_pause += 1;
                            if since_pause == 20 {
                                since_pause = 0;
                                std::thread::sleep(Duration::from_millis(10));
                            }
                        }
                        Some(Err(e)) => eprintln!("librdkafka member {id}: {e}"),
                        None => {}
                    }
                    if let Ok(tpl) = consumer.assignment() {
                        *assignment.lock().unwrap() = tpl
                            .elements()
                            .iter()
                            .map(|e| TopicPartition::new(e.topic(), e.partition()))
                            .collect();
                    }
                }
                let context = consumer.context().clone();
                // Dropping closes the consumer: the revoke callback commits
                // and it leaves the group.
                drop(consumer);
                context
            })
        };
        RdMember {
            stop,
            assignment,
            thread: Some(thread),
        }
    }

    fn assignment(&self) -> Vec<TopicPartition> {
        self.assignment.lock().unwrap().clone()
    }

    /// Stops polling and closes; returns the commit counters.
    async fn close(mut self) -> Arc<CommitInRebalance> {
        self.stop.store(true, Ordering::Relaxed);
        let thread = self.thread.take().unwrap();
        tokio::task::spawn_blocking(move || thread.join().unwrap())
            .await
            .unwrap()
    }
}

impl Drop for RdMember {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

const KAFKIT: usize = 0;
const RD_FIRST: usize = 10;
const RD_LATE: usize = 11;

async fn mixed_group(broker: &TestBroker, strategy: &str, assignor: Arc<dyn Assignor>) {
    let what = format!("{broker}, {strategy}");
    let bootstrap = broker.bootstrap();
    let topic = support::unique_topic("mixed");
    broker.create_topic(&topic, PARTITIONS).await;
    let everything = all_partitions(&topic, PARTITIONS);
    let client = group_client(&bootstrap).await;
    let n = 20_000;
    let settle_first = broker.kind() == BrokerKind::Mock;
    if !settle_first {
        produce_counted(&client, &topic, n, PARTITIONS).await;
    }
    let group = support::unique_topic("g");
    let tally = Arc::new(Tally::default());
    let owners: Owners = Arc::default();
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let listener = CommitOnRevoke::default();
    let options = MemberOptions {
        strategy: Some(assignor),
        listener: Some(listener.clone()),
        ..MemberOptions::default()
    };
    let k = Arc::new(group_member(&client, &group, &options));
    k.subscribe([topic.clone()]).unwrap();
    let pace = Pace::committing(Duration::from_millis(10));
    let k_task = tokio::spawn(consume_until_stopped(
        KAFKIT,
        k.clone(),
        tally.clone(),
        owners.clone(),
        stop_rx.clone(),
        pace,
    ));
    let rd = |id| RdMember::start(id, &bootstrap, &group, &topic, strategy, tally.clone());
    let rd1 = rd(RD_FIRST);
    if !settle_first {
        wait_until(
            &format!("{what}: both kinds split"),
            Duration::from_secs(45),
            || split_among(&[k.assignment(), rd1.assignment()], &everything),
        )
        .await;
        // Both kinds are consuming when the group changes.
        wait_until(
            &format!("{what}: both kinds read"),
            Duration::from_secs(30),
            || {
                let m = tally.per_member();
                m.get(&KAFKIT).is_some_and(|c| *c >= 300)
                    && m.get(&RD_FIRST).is_some_and(|c| *c >= 300)
            },
        )
        .await;
        assert!(
            tally.unique() < n / 2,
            "{what}: most records are left for after the join"
        );
    }
    let rd2 = rd(RD_LATE);
    let split3 = || {
        split_among(
            &[k.assignment(), rd1.assignment(), rd2.assignment()],
            &everything,
        )
    };
    wait_until(
        &format!("{what}: three members split"),
        Duration::from_secs(45),
        split3,
    )
    .await;
    if settle_first {
        produce_counted(&client, &topic, n, PARTITIONS).await;
    }
    wait_until(
        &format!("{what}: every record"),
        Duration::from_secs(60),
        || tally.unique() == n,
    )
    .await;
    support::wait_steady(
        &format!("{what}: the group to settle"),
        Duration::from_secs(30),
        Duration::from_secs(1),
        split3,
    )
    .await;
    let final_split = [k.assignment(), rd1.assignment(), rd2.assignment()];
    stop.send_replace(true);
    k_task.await.unwrap();
    k.close(Duration::from_secs(10)).await;
    let rd_commits = [rd1.close().await, rd2.close().await];

    let doubled = tally.assert_exactly_once(n, &what);
    assert_eq!(doubled, 0, "{what}: uncertain {}", tally.uncertain_count());
    let per_member = tally.per_member();
    for id in [KAFKIT, RD_FIRST, RD_LATE] {
        assert!(
            per_member.get(&id).is_some_and(|c| *c > 0),
            "{what}: {per_member:?}"
        );
    }
    if !settle_first {
        // The join mid-stream made both kinds give partitions up, and both
        // committed them.
        assert!(
            listener.commits_ok.load(Ordering::Relaxed) >= 1,
            "{what}: kafkit committed on revoke"
        );
        assert!(
            rd_commits[0].commits_ok.load(Ordering::Relaxed) >= 1,
            "{what}: librdkafka committed on revoke"
        );
    }
    let failed: u64 = rd_commits
        .iter()
        .map(|c| c.commits_failed.load(Ordering::Relaxed))
        .sum();
    eprintln!(
        "{what}: per member {per_member:?}; split {:?}; librdkafka failed commits {failed}",
        final_split.iter().map(Vec::len).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_group_range_counts_every_record_once() {
    support::init_tracing();
    support::on_every_broker_at_once(async |b| mixed_group(b, "range", Arc::new(Range)).await)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_group_roundrobin_counts_every_record_once() {
    support::init_tracing();
    support::on_every_broker_at_once(async |b| {
        mixed_group(b, "roundrobin", Arc::new(RoundRobin)).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_group_cooperative_sticky_counts_every_record_once() {
    support::init_tracing();
    support::on_every_broker_at_once(async |b| {
        mixed_group(b, "cooperative-sticky", Arc::new(CooperativeSticky)).await
    })
    .await;
}
