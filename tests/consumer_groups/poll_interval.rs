//! `max.poll.interval.ms` (KIP-62): a member that stops polling for
//! longer leaves the group on its own (LeaveGroup, as Java's heartbeat
//! thread sends it) and the other member takes its partitions; when it
//! polls again it rejoins, and no record is read twice, not even one it
//! had prefetched for the partitions it gave up. A member waiting inside
//! one long `poll` is polling, and stays.

use std::sync::Arc;
use std::time::Duration;

use crate::PARTITIONS;
use crate::support::{
    self, BrokerKind, CommitOnRevoke, MemberOptions, Owners, Pace, Tally, TestBroker,
    all_partitions, consume_until_stopped, group_client, group_member, produce_counted,
    split_among, wait_until,
};

const MAX_POLL_INTERVAL: Duration = Duration::from_secs(3);

fn options() -> MemberOptions {
    MemberOptions {
        max_poll_interval: Some(MAX_POLL_INTERVAL),
        listener: Some(CommitOnRevoke::default()),
        ..MemberOptions::default()
    }
}

async fn member_that_stops_polling_leaves_and_rejoins(broker: &TestBroker) {
    let topic = support::unique_topic("poll-interval");
    broker.create_topic(&topic, PARTITIONS).await;
    let everything = all_partitions(&topic, PARTITIONS);
    let client = group_client(&broker.bootstrap()).await;
    let n = 20_000;
    let group = support::unique_topic("g");
    let a = Arc::new(group_member(&client, &group, &options()));
    let b = Arc::new(group_member(&client, &group, &options()));
    let tally = Arc::new(Tally::default());
    let owners: Owners = Arc::default();
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    // Commit after every poll and in every revoke: whatever a member was
    // handed out is committed before anyone else can own its partition.
    let pace = Pace::committing(Duration::from_millis(10));
    for m in [&a, &b] {
        m.subscribe([topic.clone()]).unwrap();
    }
    let b_task = tokio::spawn(consume_until_stopped(
        1,
        b.clone(),
        tally.clone(),
        owners.clone(),
        stop_rx.clone(),
        pace,
    ));
    let a_task = |stop_rx| {
        tokio::spawn(consume_until_stopped(
            0,
            a.clone(),
            tally.clone(),
            owners.clone(),
            stop_rx,
            pace,
        ))
    };
    let (pause_a, pause_rx) = tokio::sync::watch::channel(false);
    let a_first = a_task(pause_rx);
    // Records are produced once the group is split, so the mock's refusal
    // to commit while its group joins cannot matter for the first
    // rebalance.
    wait_until("A and B split", Duration::from_secs(30), || {
        split_among(&[a.assignment(), b.assignment()], &everything)
    })
    .await;
    produce_counted(&client, &topic, n, PARTITIONS).await;
    wait_until("A reads", Duration::from_secs(30), || {
        tally.per_member().get(&0).copied().unwrap_or(0) >= 500
    })
    .await;
    // A stops polling. B must own everything while A is idle, which is
    // only possible if A left.
    pause_a.send_replace(true);
    a_first.await.unwrap();
    let idle_since = tokio::time::Instant::now();
    let a_before = a.group_metrics().unwrap();
    let read_before = tally.unique();
    wait_until("B owns everything", Duration::from_secs(20), || {
        b.assignment().len() == everything.len()
    })
    .await;
    let idle = idle_since.elapsed();
    assert!(!a_before.left_group, "{broker}: A had not left yet");
    assert!(
        a.group_metrics().unwrap().left_group,
        "{broker}: A sent LeaveGroup after {idle:?} without polling"
    );
    assert!(
        tally.unique() < n,
        "{broker}: records must remain for A's return (read {read_before} before A stopped)"
    );
    // A polls again: it rejoins and the group splits again.
    let a_again = a_task(stop_rx.clone());
    wait_until("A rejoined", Duration::from_secs(30), || {
        split_among(&[a.assignment(), b.assignment()], &everything)
    })
    .await;
    wait_until("every record", Duration::from_secs(60), || {
        tally.unique() == n
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.send_replace(true);
    a_again.await.unwrap();
    b_task.await.unwrap();
    let doubled = tally.assert_exactly_once(n, &broker.to_string());
    if broker.kind() != BrokerKind::Mock {
        // Every revoke commit lands on Tansu: nothing may come twice.
        assert_eq!(doubled, 0, "{broker}");
    }
    eprintln!(
        "{broker}: A idle {idle:?} until B owned everything; per member {:?}, uncertain {}, doubled {doubled}",
        tally.per_member(),
        tally.uncertain_count()
    );
    a.close(Duration::from_secs(10)).await;
    b.close(Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_stops_polling_leaves_and_rejoins() {
    support::init_tracing();
    support::on_every_broker_at_once(async |broker| {
        member_that_stops_polling_leaves_and_rejoins(broker).await
    })
    .await;
}

/// One `poll` that waits longer than `max.poll.interval.ms` on an idle
/// topic is not a member that stopped polling (Java's poll keeps its poll
/// timer fresh while it waits).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_keeps_the_member_in_the_group() {
    support::init_tracing();
    for broker in support::tansu_and_embedded().await {
        eprintln!("== against {broker}");
        let topic = support::unique_topic("long-poll");
        broker.create_topic(&topic, PARTITIONS).await;
        let client = group_client(&broker.bootstrap()).await;
        let m = group_member(&client, &support::unique_topic("g"), &options());
        m.subscribe([topic.clone()]).unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while m.assignment().len() != PARTITIONS as usize {
            assert!(tokio::time::Instant::now() < deadline, "never assigned");
            m.poll(Duration::from_millis(100)).await.unwrap();
        }
        let before = m.group_metrics().unwrap();
        let records = m.poll(MAX_POLL_INTERVAL * 2 + Duration::from_secs(1)).await;
        assert!(records.unwrap().is_empty());
        let after = m.group_metrics().unwrap();
        assert!(!after.left_group, "the member left while inside poll");
        assert_eq!(after.rebalances, before.rebalances, "{after:?}");
        assert_eq!(after.generation_id, before.generation_id, "{after:?}");
        assert_eq!(m.assignment().len(), PARTITIONS as usize);
        m.close(Duration::from_secs(10)).await;
    }
}
