//! Static membership (KIP-345): a member with `group.instance.id` that
//! restarts within the session timeout gets its partitions back without
//! the group rebalancing.

use std::time::Duration;

use kafkit::consumer::group::driver::RebalanceKind;

use super::member::{Member, all, config, eventually, group, split_exactly};
use super::support::{self, BrokerKind, TestBroker};

const PARTITIONS: i32 = 6;

async fn restart_within_session(broker: &TestBroker) {
    let topic = support::unique_topic("static");
    broker.create_topic(&topic, PARTITIONS).await;
    let everything = all(&topic, PARTITIONS);
    let group = group("static");
    let member = |instance: &str| {
        let mut c = config(&group);
        c.group.group_instance_id = Some(instance.to_string());
        c
    };
    let a = Member::start(&broker.bootstrap(), member("a"), &[&topic], "a").await;
    let b = Member::start(&broker.bootstrap(), member("b"), &[&topic], "b").await;
    eventually("two static members split", Duration::from_secs(40), || {
        let owned = vec![a.owned(), b.owned()];
        (
            split_exactly(&owned, &everything) && owned[0].len() == 3,
            owned,
        )
    })
    .await;
    let a_owned = a.owned();
    let b_before = (b.metrics(), b.view().log.len());

    let (_, a_metrics) = a.close().await;
    assert!(!a_metrics.left_group, "a static member sends no LeaveGroup");
    let a2 = Member::start(&broker.bootstrap(), member("a"), &[&topic], "a2").await;
    eventually(
        "restarted member has its partitions back",
        Duration::from_secs(20),
        || {
            let owned = a2.owned();
            (owned == a_owned, owned)
        },
    )
    .await;
    // Let any rebalance the restart might have caused show up at b.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let b_after = b.metrics();
    let b_events = b.view().log[b_before.1..].to_vec();
    assert_eq!(
        b_after.rebalances, b_before.0.rebalances,
        "b rebalanced: {b_events:?}"
    );
    assert!(
        !b_events.iter().any(|(k, _)| *k == RebalanceKind::Revoked),
        "b saw a revoke: {b_events:?}"
    );
    assert_eq!(b.owned().len(), 3);
    a2.close().await;
    b.close().await;
}

/// Not on the mock cluster: its classic groups keep `group.instance.id`
/// only to pick the leader, and treat a restarted static member as a new
/// one (a full rebalance, the old member kept until its session expires).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_member_restart_keeps_partitions_without_rebalance() {
    support::init_tracing();
    for broker in support::brokers().await {
        if broker.kind() == BrokerKind::Mock {
            continue;
        }
        eprintln!("== against {broker}");
        restart_within_session(&broker).await;
    }
}
