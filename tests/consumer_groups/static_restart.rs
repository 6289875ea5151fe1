//! Static membership (KIP-345) at the `Consumer` level: a member with
//! `group.instance.id` closes (its revoke callback commits; no LeaveGroup,
//! as Java's static members send none) and a new consumer with the same
//! instance id starts within the session timeout. It gets the same
//! partitions without a rebalance, the other member sees no revocation,
//! and consumption goes on from the committed offsets: every record
//! exactly once.

use std::sync::Arc;
use std::time::Duration;

use crate::PARTITIONS;
use crate::support::{
    self, BrokerKind, Callback, CommitOnRevoke, MemberOptions, Owners, Pace, Tally, TestBroker,
    all_partitions, consume_until_stopped, group_client, group_member, produce_counted,
    split_among, wait_until,
};

async fn restart_within_session(broker: &TestBroker) {
    let topic = support::unique_topic("static");
    broker.create_topic(&topic, PARTITIONS).await;
    let everything = all_partitions(&topic, PARTITIONS);
    let client = group_client(&broker.bootstrap()).await;
    let n = 20_000;
    produce_counted(&client, &topic, n, PARTITIONS).await;
    let group = support::unique_topic("g");
    let options = |instance: &str, listener: &CommitOnRevoke| MemberOptions {
        instance_id: Some(instance.to_string()),
        listener: Some(listener.clone()),
        ..MemberOptions::default()
    };
    let (a_listener, b_listener) = (CommitOnRevoke::default(), CommitOnRevoke::default());
    let a = Arc::new(group_member(&client, &group, &options("a", &a_listener)));
    let b = Arc::new(group_member(&client, &group, &options("b", &b_listener)));
    let tally = Arc::new(Tally::default());
    let owners: Owners = Arc::default();
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let (stop_a, stop_a_rx) = tokio::sync::watch::channel(false);
    let pace = Pace::committing(Duration::from_millis(10));
    let spawn = |id, m: &Arc<_>, stop_rx| {
        tokio::spawn(consume_until_stopped(
            id,
            Arc::clone(m),
            tally.clone(),
            owners.clone(),
            stop_rx,
            pace,
        ))
    };
    a.subscribe([topic.clone()]).unwrap();
    b.subscribe([topic.clone()]).unwrap();
    let a_task = spawn(0, &a, stop_a_rx);
    let b_task = spawn(1, &b, stop_rx.clone());
    wait_until("A and B split", Duration::from_secs(30), || {
        split_among(&[a.assignment(), b.assignment()], &everything)
    })
    .await;
    wait_until("A reads", Duration::from_secs(30), || {
        tally.per_member().get(&0).copied().unwrap_or(0) >= 1_000
    })
    .await;
    let a_owned = a.assignment();
    let b_log = b_listener.events().len();
    let b_rebalances = b.group_metrics().unwrap().rebalances;

    // A stops and closes: its revoke callback commits, and as a static
    // member it sends no LeaveGroup.
    stop_a.send_replace(true);
    a_task.await.unwrap();
    a.close(Duration::from_secs(10)).await;
    let a_metrics = a.group_metrics().unwrap();
    assert!(
        !a_metrics.left_group,
        "{broker}: a static member sends no LeaveGroup"
    );
    assert_eq!(
        a_listener.events().last(),
        Some(&(Callback::Revoked, a_owned.clone())),
        "{broker}: close revoked A's partitions"
    );
    assert!(
        tally.unique() < n,
        "{broker}: records are left for the restart"
    );

    // The same instance comes back well within the 6 s session.
    let a2 = Arc::new(group_member(&client, &group, &options("a", &a_listener)));
    a2.subscribe([topic.clone()]).unwrap();
    let a2_task = spawn(2, &a2, stop_rx.clone());
    wait_until("A's partitions back", Duration::from_secs(20), || {
        a2.assignment() == a_owned
    })
    .await;
    wait_until("every record", Duration::from_secs(60), || {
        tally.unique() == n
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.send_replace(true);
    a2_task.await.unwrap();
    b_task.await.unwrap();

    let doubled = tally.assert_exactly_once(n, &broker.to_string());
    assert_eq!(doubled, 0, "{broker}");
    let per_member = tally.per_member();
    assert!(
        per_member.get(&2).is_some_and(|c| *c > 0),
        "{broker}: {per_member:?}"
    );
    let b_events = b_listener.events()[b_log..].to_vec();
    assert!(
        b_events.is_empty(),
        "{broker}: B saw callbacks during A's restart: {b_events:?}"
    );
    assert_eq!(
        b.group_metrics().unwrap().rebalances,
        b_rebalances,
        "{broker}: B did not rebalance"
    );
    assert_eq!(b.assignment().len(), PARTITIONS as usize / 2);
    eprintln!("{broker}: per member {per_member:?}");
    a2.close(Duration::from_secs(10)).await;
    b.close(Duration::from_secs(10)).await;
}

/// Not on the mock cluster: its classic groups keep `group.instance.id`
/// only to pick the leader, and treat a restarted static member as a new
/// one (a full rebalance, the old member kept until its session expires);
/// see tests/membership/static_members.rs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_member_restarts_without_a_rebalance() {
    support::init_tracing();
    for broker in support::brokers().await {
        if broker.kind() == BrokerKind::Mock {
            continue;
        }
        eprintln!("== against {broker}");
        restart_within_session(&broker).await;
    }
}
