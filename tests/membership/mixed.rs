//! kafkit and librdkafka consumers in one group: each client's leader
//! assigns for the other, and the split has no overlap and no gap. This is
//! the wire interop of the assignors (range, roundrobin,
//! cooperative-sticky) and of the embedded consumer protocol.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use kafkit::TopicPartition;
use kafkit::consumer::assignor::{Assignor, CooperativeSticky, Range, RoundRobin};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::member::{Member, all, config, eventually, group, split_exactly};
use crate::support::{self, TestBroker};

const PARTITIONS: i32 = 6;

/// A librdkafka consumer in the group, on its own thread (its poll
/// blocks), publishing its current assignment.
struct RdMember {
    stop: Arc<AtomicBool>,
    assignment: Arc<Mutex<BTreeSet<TopicPartition>>>,
    thread: Option<JoinHandle<()>>,
}

impl RdMember {
    fn start(bootstrap: &str, group: &str, topic: &str, strategy: &str) -> RdMember {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", group)
            .set("partition.assignment.strategy", strategy)
            .set("session.timeout.ms", "6000")
            .set("heartbeat.interval.ms", "500")
            .set("enable.auto.commit", "false")
            .set("fetch.wait.max.ms", "100")
            .create()
            .unwrap_or_else(|e| panic!("librdkafka consumer: {e}"));
        consumer.subscribe(&[topic]).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let assignment = Arc::new(Mutex::new(BTreeSet::new()));
        let thread = {
            let stop = stop.clone();
            let assignment = assignment.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    // Nothing is produced: poll only serves the group
                    // (rebalance callbacks run inside it).
                    let _ = consumer.poll(Duration::from_millis(100));
                    if let Ok(tpl) = consumer.assignment() {
                        let now: BTreeSet<TopicPartition> = tpl
                            .elements()
                            .iter()
                            .map(|e| TopicPartition::new(e.topic(), e.partition()))
                            .collect();
                        *assignment.lock().unwrap() = now;
                    }
                }
                // Dropping closes the consumer: it leaves the group.
                drop(consumer);
            })
        };
        RdMember {
            stop,
            assignment,
            thread: Some(thread),
        }
    }

    fn owned(&self) -> BTreeSet<TopicPartition> {
        self.assignment.lock().unwrap().clone()
    }

    async fn close(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            tokio::task::spawn_blocking(move || thread.join().unwrap())
                .await
                .unwrap();
        }
    }
}

impl Drop for RdMember {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

async fn until_split(
    what: &str,
    everything: &BTreeSet<TopicPartition>,
    owned: impl Fn() -> Vec<BTreeSet<TopicPartition>>,
) {
    eventually(what, Duration::from_secs(90), || {
        let owned = owned();
        let share = everything.len() / owned.len();
        let ok = split_exactly(&owned, everything) && owned.iter().all(|o| o.len() == share);
        (ok, owned)
    })
    .await;
}

/// librdkafka leads first (it joins first) and assigns for kafkit; then it
/// leaves, kafkit leads, and a second librdkafka consumer joins and gets
/// its share from kafkit.
async fn mixed_group(broker: &TestBroker, strategy: &str, assignor: Arc<dyn Assignor>) {
    let bootstrap = broker.bootstrap();
    let topic = support::unique_topic("mixed");
    broker.create_topic(&topic, PARTITIONS).await;
    let everything = all(&topic, PARTITIONS);
    let group = group("mixed");
    let mut c = config(&group);
    c.assignors = vec![assignor];

    let rd1 = RdMember::start(&bootstrap, &group, &topic, strategy);
    eventually(
        "librdkafka alone owns everything",
        Duration::from_secs(60),
        || {
            let owned = rd1.owned();
            (owned == everything, owned)
        },
    )
    .await;
    let k = Member::start(&bootstrap, c, &[&topic], "kafkit").await;
    until_split(
        &format!("{strategy}: librdkafka leads"),
        &everything,
        || vec![rd1.owned(), k.owned()],
    )
    .await;
    assert!(
        !k.metrics().leader,
        "{strategy}: librdkafka joined first and leads"
    );

    rd1.close().await;
    eventually(
        "kafkit alone owns everything",
        Duration::from_secs(60),
        || {
            let owned = k.owned();
            (owned == everything, owned)
        },
    )
    .await;
    let rd2 = RdMember::start(&bootstrap, &group, &topic, strategy);
    until_split(&format!("{strategy}: kafkit leads"), &everything, || {
        vec![rd2.owned(), k.owned()]
    })
    .await;
    assert!(
        k.metrics().leader,
        "{strategy}: kafkit is the remaining member and leads"
    );

    k.close().await;
    rd2.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_group_range() {
    support::init_tracing();
    support::for_each_broker(async |b| mixed_group(b, "range", Arc::new(Range)).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_group_roundrobin() {
    support::init_tracing();
    support::for_each_broker(async |b| mixed_group(b, "roundrobin", Arc::new(RoundRobin)).await)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_group_cooperative_sticky() {
    support::init_tracing();
    support::for_each_broker(async |b| {
        mixed_group(b, "cooperative-sticky", Arc::new(CooperativeSticky)).await
    })
    .await;
}
