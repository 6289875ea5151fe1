//! Consumers in a group, end to end on Tansu and the mock cluster: members
//! join one after another while records are being consumed, and every
//! record is consumed exactly once across the members (auto-commit commits
//! what a member consumed before it gives a partition up); a member that
//! vanishes without leaving has its partitions taken over, from its
//! committed offsets, after the session timeout.
//!
//! Tansu completes the first JoinGroup only after about session.timeout/2
//! (shared/BROKERS.md), so the tests use session.timeout.ms=6000.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use kafkit::consumer::Consumer;
use kafkit::consumer::assignor::{Assignor, CooperativeSticky};
use kafkit::{Client, TopicPartition};
use support::{
    MemberOptions, Owners, Pace, Tally, TestBroker, consume_until_stopped, group_client as client,
    group_member, produce_counted, wait_until,
};

const PARTITIONS: i32 = 6;

fn member(client: &Client, group: &str, auto_commit: bool) -> Consumer<String, String> {
    member_with(client, group, auto_commit, None)
}

fn member_with(
    client: &Client,
    group: &str,
    auto_commit: bool,
    strategy: Option<Arc<dyn Assignor>>,
) -> Consumer<String, String> {
    let options = MemberOptions {
        auto_commit,
        strategy,
        ..MemberOptions::default()
    };
    group_member(client, group, &options)
}

async fn three_members_join_while_consuming(
    broker: &TestBroker,
    strategy: Option<Arc<dyn Assignor>>,
) {
    let bootstrap = broker.bootstrap();
    let topic = support::unique_topic("group");
    broker.create_topic(&topic, PARTITIONS).await;
    let c = client(&bootstrap).await;
    let n = 12_000;
    produce_counted(&c, &topic, n, PARTITIONS).await;

    let group = support::unique_topic("g");
    let tally = Arc::new(Tally::default());
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let owners: Owners = Arc::default();
    let pace = Pace::paced(Duration::from_millis(25));
    let mut tasks = Vec::new();
    let mut consumers = Vec::new();
    for id in 0..3 {
        let consumer = Arc::new(member_with(&c, &group, true, strategy.clone()));
        consumer.subscribe([topic.clone()]).unwrap();
        consumers.push(consumer.clone());
        tasks.push(tokio::spawn(consume_until_stopped(
            id,
            consumer,
            tally.clone(),
            owners.clone(),
            stop_rx.clone(),
            pace,
        )));
        // The next member joins once this one owns partitions.
        wait_until(
            "the new member to own partitions",
            Duration::from_secs(45),
            || owners.lock().unwrap().contains(&id),
        )
        .await;
    }
    wait_until("every record", Duration::from_secs(60), || {
        tally.unique() == n
    })
    .await;
    // The last rebalance may still be finishing (a cooperative one takes
    // two): the members keep polling until the group is split again.
    let everything = support::all_partitions(&topic, PARTITIONS);
    support::wait_steady(
        "the group to settle",
        Duration::from_secs(30),
        Duration::from_secs(1),
        || {
            let a: Vec<_> = consumers.iter().map(|c| c.assignment()).collect();
            support::split_among(&a, &everything)
        },
    )
    .await;
    // A little longer: a duplicate would show now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.send_replace(true);
    for t in tasks {
        let stopped = tokio::time::timeout(Duration::from_secs(30), t).await;
        stopped.expect("member stops").unwrap();
    }
    // Auto-commit commits on revoke: no record may come twice.
    tally.assert_exactly_once(n, &broker.to_string());
    assert_eq!(
        owners.lock().unwrap().len(),
        3,
        "{broker}: every member owned partitions"
    );
    let assigned: Vec<Vec<TopicPartition>> = consumers.iter().map(|c| c.assignment()).collect();
    let all: BTreeSet<&TopicPartition> = assigned.iter().flatten().collect();
    assert_eq!(all.len(), PARTITIONS as usize, "{broker}: {assigned:?}");
    assert_eq!(
        assigned.iter().map(Vec::len).sum::<usize>(),
        PARTITIONS as usize,
        "{broker}: disjoint"
    );
    assert!(
        consumers
            .iter()
            .all(|c| c.group_metrics().unwrap().rebalances >= 1),
        "{broker}"
    );
    for consumer in &consumers {
        consumer.close(Duration::from_secs(10)).await;
    }
}

async fn vanished_member_is_replaced_from_committed_offsets(broker: &TestBroker) {
    let bootstrap = broker.bootstrap();
    let topic = support::unique_topic("takeover");
    broker.create_topic(&topic, PARTITIONS).await;
    let c = client(&bootstrap).await;
    let n = 3_000;
    produce_counted(&c, &topic, n, PARTITIONS).await;
    let group = support::unique_topic("g");

    // Member A consumes everything with manual commits, then vanishes
    // (dropped without close: no LeaveGroup).
    let a_client = client(&bootstrap).await;
    let a = member(&a_client, &group, false);
    a.subscribe([topic.clone()]).unwrap();
    let mut got = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while got < n / 2 && tokio::time::Instant::now() < deadline {
        got += a.poll(Duration::from_millis(200)).await.unwrap().len();
    }
    assert!(got >= n / 2, "{broker}: member A read {got}");
    a.commit_sync().await.unwrap();
    let committed: u64 = a
        .committed(
            &(0..PARTITIONS)
                .map(|p| TopicPartition::new(topic.as_str(), p))
                .collect::<Vec<_>>(),
        )
        .await
        .unwrap()
        .values()
        .map(|o| o.as_ref().map_or(0, |o| o.offset as u64))
        .sum();
    assert_eq!(
        committed as usize, got,
        "{broker}: commits cover what A read"
    );
    drop(a);
    drop(a_client);

    // Member B takes over after A's session times out and starts where A
    // committed: exactly the rest.
    let b = member(&c, &group, true);
    b.subscribe([topic.clone()]).unwrap();
    let mut rest = BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(45);
    while rest.len() < n - got && tokio::time::Instant::now() < deadline {
        for r in b.poll(Duration::from_millis(200)).await.unwrap().iter() {
            let i: usize = r.value.as_deref().unwrap().parse().unwrap();
            assert!(rest.insert(i), "{broker}: {i} twice");
        }
    }
    for _ in 0..3 {
        assert!(
            b.poll(Duration::from_millis(100)).await.unwrap().is_empty(),
            "{broker}: more than the rest"
        );
    }
    assert_eq!(rest.len(), n - got, "{broker}: B read the rest");
    assert_eq!(b.assignment().len(), PARTITIONS as usize);
    b.close(Duration::from_secs(10)).await;
}

/// Eager rebalancing (Java's default strategy list, `[range,
/// cooperative-sticky]`), on Tansu and `KAFKA_BOOTSTRAP` only: librdkafka's
/// mock cluster refuses OffsetCommit while its group is joining
/// (REBALANCE_IN_PROGRESS), where Apache Kafka accepts commits of the
/// current generation until the rebalance completes, so an eager member
/// cannot commit on revoke there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eager_members_joining_while_consuming_read_each_record_once() {
    support::init_tracing();
    for broker in support::brokers().await {
        if broker.kind() == support::BrokerKind::Mock {
            continue;
        }
        eprintln!("== against {broker}");
        three_members_join_while_consuming(&broker, None).await;
    }
}

/// Cooperative rebalancing (KIP-429): members keep consuming through a
/// rebalance and revoke only what moves. Tansu and `KAFKA_BOOTSTRAP` only,
/// for the same mock deviation as the eager test: a member revoking in the
/// second phase commits while others already rejoin, which the mock
/// refuses (Apache Kafka accepts commits of the current generation then).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooperative_members_joining_while_consuming_read_each_record_once() {
    support::init_tracing();
    for broker in support::brokers().await {
        if broker.kind() == support::BrokerKind::Mock {
            continue;
        }
        eprintln!("== against {broker}");
        three_members_join_while_consuming(&broker, Some(Arc::new(CooperativeSticky))).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vanished_member_is_replaced_from_its_committed_offsets() {
    support::init_tracing();
    support::for_each_broker(async |broker| {
        vanished_member_is_replaced_from_committed_offsets(broker).await
    })
    .await;
}
