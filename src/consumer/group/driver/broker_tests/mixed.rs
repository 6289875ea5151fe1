//! kafkit and librdkafka consumers in one group: each client's leader
//! assigns for the other, and the split has no overlap and no gap. This is
//! the wire interop of the assignors (range, roundrobin,
//! cooperative-sticky) and of the embedded consumer protocol. Where
//! librdkafka leads, its assignment must be exactly the one kafkit's
//! assignor computes for the same members and subscriptions.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use std::collections::BTreeMap;

use kafkit::TopicPartition;
use kafkit::consumer::assignor::{
    Assignor, CooperativeSticky, GroupMember, Range, RoundRobin, Subscription,
};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

use super::member::{Member, all, config, eventually, group, split_exactly};
use super::support::{self, TestBroker};

const PARTITIONS: i32 = 6;

/// A librdkafka consumer in the group, on its own thread (its poll
/// blocks), publishing its current assignment.
struct RdMember {
    stop: Arc<AtomicBool>,
    assignment: Arc<Mutex<BTreeSet<TopicPartition>>>,
    member_id: Arc<Mutex<Option<String>>>,
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
        let member_id = Arc::new(Mutex::new(None));
        let thread = {
            let stop = stop.clone();
            let assignment = assignment.clone();
            let member_id = member_id.clone();
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
                    *member_id.lock().unwrap() = rd_member_id(&consumer);
                }
                // Dropping closes the consumer: it leaves the group.
                drop(consumer);
            })
        };
        RdMember {
            stop,
            assignment,
            member_id,
            thread: Some(thread),
        }
    }

    fn owned(&self) -> BTreeSet<TopicPartition> {
        self.assignment.lock().unwrap().clone()
    }

    fn member_id(&self) -> Option<String> {
        self.member_id.lock().unwrap().clone()
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

/// The member id librdkafka's consumer has in its group (the safe API
/// does not expose it).
fn rd_member_id(consumer: &BaseConsumer) -> Option<String> {
    use rdkafka::bindings::{rd_kafka_mem_free, rd_kafka_memberid};
    // SAFETY: the handle is alive for the call; rd_kafka_memberid returns
    // NULL or a NUL-terminated string we own and free with rd_kafka_mem_free.
    unsafe {
        let rk = consumer.client().native_ptr();
        let id = rd_kafka_memberid(rk);
        if id.is_null() {
            return None;
        }
        let s = std::ffi::CStr::from_ptr(id).to_string_lossy().into_owned();
        rd_kafka_mem_free(rk, id.cast());
        (!s.is_empty()).then_some(s)
    }
}

/// A group member as the leader's assignor sees it: subscribed to `topic`,
/// owning `owned` (from generation 1 when it owns anything).
fn as_member(id: String, topic: &str, owned: &BTreeSet<TopicPartition>) -> GroupMember {
    GroupMember {
        member_id: id,
        group_instance_id: None,
        subscription: Subscription {
            topics: vec![topic.to_string()],
            owned_partitions: owned.iter().cloned().collect(),
            generation_id: (!owned.is_empty()).then_some(1),
            ..Subscription::default()
        },
    }
}

/// Checks that librdkafka, leading, assigned exactly what kafkit's
/// `assignor` computes for the same input. `before` is what each member
/// owned when the kafkit member joined (cooperative-sticky keeps what it
/// can, and hands the rest over in a second rebalance: its final split is
/// the target of the first one).
fn assert_same_as_kafkit(
    strategy: &str,
    assignor: &dyn Assignor,
    topic: &str,
    members: [(String, BTreeSet<TopicPartition>, BTreeSet<TopicPartition>); 2],
) {
    let partitions = BTreeMap::from([(topic.to_string(), PARTITIONS)]);
    let input: Vec<GroupMember> = members
        .iter()
        .map(|(id, before, _)| as_member(id.clone(), topic, before))
        .collect();
    let computed = assignor.assign(&partitions, &input).unwrap();
    let cooperative = strategy == "cooperative-sticky";
    let everything = all(topic, PARTITIONS);
    for (id, _, observed) in &members {
        let mut expected: BTreeSet<TopicPartition> =
            computed[id].partitions.iter().cloned().collect();
        if cooperative && expected.is_empty() {
            // The newcomer gets, in the second rebalance, what the first
            // one took away from the others.
            let kept: BTreeSet<TopicPartition> = computed
                .values()
                .flat_map(|a| a.partitions.iter().cloned())
                .collect();
            expected = everything.difference(&kept).cloned().collect();
        }
        assert_eq!(
            &expected, observed,
            "{strategy}: librdkafka's assignment for {id} differs from kafkit's ({computed:?})"
        );
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
    c.assignors = vec![assignor.clone()];

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
    let rd_id = rd1.member_id().expect("librdkafka's member id");
    let k_id = k.handle.group_metadata().member_id;
    assert_same_as_kafkit(
        strategy,
        assignor.as_ref(),
        &topic,
        [
            (rd_id, everything.clone(), rd1.owned()),
            (k_id, BTreeSet::new(), k.owned()),
        ],
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
