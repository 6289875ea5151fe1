//! Groups of 1, 2 and 3 kafkit members started together read 100,000
//! records from 6 partitions, each exactly once across the members.

use std::sync::Arc;
use std::time::Duration;

use crate::PARTITIONS;
use crate::support::{
    self, MemberOptions, Owners, Pace, Tally, TestBroker, all_partitions, consume_until_stopped,
    group_client, group_member, produce_counted, split_among, wait_until,
};

const RECORDS: usize = 100_000;

/// A group of `size` members. On Tansu the records are there before the
/// members start, and whatever rebalances happen while they join are
/// covered by kafkit's commit on revoke (auto-commit). On the mock, which
/// refuses commits while its group joins, the records are produced only
/// once the group has settled, so no rebalance falls inside consumption.
/// So on the embedded cluster, which is fast enough that two members can
/// read everything before the third one is assigned.
async fn group_of(broker: &TestBroker, size: usize) {
    let what = format!("{broker}, group of {size}");
    let topic = support::unique_topic(&format!("size{size}"));
    broker.create_topic(&topic, PARTITIONS).await;
    let everything = all_partitions(&topic, PARTITIONS);
    let client = group_client(&broker.bootstrap()).await;
    let settle_first = matches!(
        broker.kind(),
        support::BrokerKind::Mock | support::BrokerKind::Embedded
    );
    if !settle_first {
        produce_counted(&client, &topic, RECORDS, PARTITIONS).await;
    }
    let group = support::unique_topic("g");
    let options = MemberOptions {
        auto_commit: true,
        ..MemberOptions::default()
    };
    let tally = Arc::new(Tally::default());
    let owners: Owners = Arc::default();
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let members: Vec<_> = (0..size)
        .map(|_| Arc::new(group_member(&client, &group, &options)))
        .collect();
    let mut tasks = Vec::new();
    for (id, m) in members.iter().enumerate() {
        m.subscribe([topic.clone()]).unwrap();
        tasks.push(tokio::spawn(consume_until_stopped(
            id,
            m.clone(),
            tally.clone(),
            owners.clone(),
            stop_rx.clone(),
            Pace::FULL_SPEED,
        )));
    }
    let split = || {
        let a: Vec<_> = members.iter().map(|m| m.assignment()).collect();
        split_among(&a, &everything)
    };
    if settle_first {
        wait_until(&format!("{what}: split"), Duration::from_secs(30), split).await;
        produce_counted(&client, &topic, RECORDS, PARTITIONS).await;
    }
    wait_until(
        &format!("{what}: every record"),
        Duration::from_secs(60),
        || tally.unique() == RECORDS,
    )
    .await;
    // A little longer: a duplicate would show now.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.send_replace(true);
    for t in tasks {
        t.await.unwrap();
    }
    let doubled = tally.assert_exactly_once(RECORDS, &what);
    assert_eq!(doubled, 0, "{what}");
    let per_member = tally.per_member();
    assert_eq!(
        per_member.len(),
        size,
        "{what}: every member read: {per_member:?}"
    );
    assert!(split(), "{what}: the group ends split");
    for m in &members {
        m.close(Duration::from_secs(10)).await;
    }
    eprintln!("{what}: per member {per_member:?}");
}

async fn groups_of_one_two_three(broker: TestBroker) {
    tokio::join!(
        group_of(&broker, 1),
        group_of(&broker, 2),
        group_of(&broker, 3)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_of_one_two_and_three_on_tansu() {
    support::init_tracing();
    let Some(tansu) = support::tansu_or_skip() else {
        return;
    };
    groups_of_one_two_three(TestBroker::from(tansu)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_of_one_two_and_three_on_the_mock() {
    support::init_tracing();
    groups_of_one_two_three(TestBroker::mock(3)).await;
}

#[cfg(feature = "mock")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_of_one_two_and_three_on_the_embedded_cluster() {
    support::init_tracing();
    groups_of_one_two_three(TestBroker::embedded().await).await;
}
