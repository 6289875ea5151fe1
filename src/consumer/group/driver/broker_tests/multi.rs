//! Several kafkit members in one group: the partitions are split with no
//! overlap and nothing left out, and a member that leaves or dies hands
//! its partitions to the others.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use kafkit::TopicPartition;
use kafkit::consumer::assignor::{Assignor, CooperativeSticky, Range};
use kafkit::consumer::group::driver::RebalanceKind;

use super::member::{Member, View, all, config, eventually, group, split_exactly};
use super::support::{self, TestBroker};

const PARTITIONS: i32 = 6;

async fn start_three(
    broker: &TestBroker,
    topic: &str,
    group: &str,
    assignor: Arc<dyn Assignor>,
) -> Vec<Member> {
    let mut members = Vec::new();
    for name in ["a", "b", "c"] {
        let mut c = config(group);
        c.assignors = vec![assignor.clone()];
        members.push(Member::start(&broker.bootstrap(), c, &[topic], name).await);
    }
    members
}

/// Waits until `members` own disjoint shares of equal size covering every
/// partition.
async fn until_split(members: &[&Member], everything: &BTreeSet<TopicPartition>, what: &str) {
    let share = everything.len() / members.len();
    eventually(what, Duration::from_secs(40), || {
        let owned: Vec<_> = members.iter().map(|m| m.owned()).collect();
        let ok = split_exactly(&owned, everything) && owned.iter().all(|o| o.len() == share);
        (ok, owned)
    })
    .await;
}

/// The events a member saw after the first `skip`.
fn since(view: &View, skip: usize) -> Vec<(RebalanceKind, Vec<TopicPartition>)> {
    view.log[skip..].to_vec()
}

async fn three_members_then_one_leaves(broker: &TestBroker, cooperative: bool) {
    let topic = support::unique_topic("multi");
    broker.create_topic(&topic, PARTITIONS).await;
    let everything = all(&topic, PARTITIONS);
    let assignor: Arc<dyn Assignor> = if cooperative {
        Arc::new(CooperativeSticky)
    } else {
        Arc::new(Range)
    };
    let members = start_three(broker, &topic, &group("multi"), assignor).await;
    until_split(
        &members.iter().collect::<Vec<_>>(),
        &everything,
        "three members split",
    )
    .await;
    let leaders = members.iter().filter(|m| m.metrics().leader).count();
    assert_eq!(leaders, 1, "exactly one member leads");

    let mut members = members;
    let leaving = members.pop().unwrap();
    let before: Vec<(usize, BTreeSet<TopicPartition>)> = members
        .iter()
        .map(|m| (m.view().log.len(), m.owned()))
        .collect();
    let (left_view, left_metrics) = leaving.close().await;
    assert!(left_view.owned.is_empty());
    assert!(left_metrics.left_group);
    until_split(
        &members.iter().collect::<Vec<_>>(),
        &everything,
        "two members took over",
    )
    .await;

    for (m, (skip, owned_before)) in members.iter().zip(before) {
        let events = since(&m.view(), skip);
        assert!(!events.is_empty(), "{}: no rebalance seen", m.name);
        if cooperative {
            // Nothing had to move away from a remaining member: it only
            // gains, so it revokes nothing (KIP-429).
            for (kind, partitions) in &events {
                assert!(
                    *kind == RebalanceKind::Assigned || partitions.is_empty(),
                    "{}: cooperative member revoked {partitions:?}; events {events:?}",
                    m.name
                );
            }
            let gained: BTreeSet<TopicPartition> =
                events.iter().flat_map(|(_, p)| p.iter().cloned()).collect();
            assert!(gained.is_disjoint(&owned_before), "{}: {events:?}", m.name);
        } else {
            // Eager: everything is revoked before rejoining, then the new
            // share assigned.
            assert_eq!(
                events[0],
                (
                    RebalanceKind::Revoked,
                    owned_before.iter().cloned().collect()
                ),
                "{}: {events:?}",
                m.name
            );
            for pair in events.chunks(2) {
                assert_eq!(pair[0].0, RebalanceKind::Revoked, "{}: {events:?}", m.name);
                assert_eq!(pair.get(1).map(|p| p.0), Some(RebalanceKind::Assigned));
            }
        }
    }
    for m in members {
        m.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_range_members_one_leaves() {
    support::init_tracing();
    support::for_each_broker(async |broker| three_members_then_one_leaves(broker, false).await)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_cooperative_members_one_leaves() {
    support::init_tracing();
    support::for_each_broker(async |broker| three_members_then_one_leaves(broker, true).await)
        .await;
}

async fn killed_member_is_replaced(broker: &TestBroker) {
    let topic = support::unique_topic("kill");
    broker.create_topic(&topic, PARTITIONS).await;
    let everything = all(&topic, PARTITIONS);
    let group = group("kill");
    let mut members = start_three(broker, &topic, &group, Arc::new(Range)).await;
    until_split(
        &members.iter().collect::<Vec<_>>(),
        &everything,
        "three members split",
    )
    .await;

    members.pop().unwrap().kill();
    tokio::time::sleep(Duration::from_secs(1)).await;
    // No LeaveGroup went out: the others keep their shares until the dead
    // member's session expires.
    let owned: usize = members.iter().map(|m| m.owned().len()).sum();
    assert_eq!(owned, 4, "taken over before the session timeout");

    until_split(
        &members.iter().collect::<Vec<_>>(),
        &everything,
        "survivors took over",
    )
    .await;
    for m in members {
        m.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_member_is_replaced_after_session_timeout() {
    support::init_tracing();
    support::for_each_broker(async |broker| killed_member_is_replaced(broker).await).await;
}
