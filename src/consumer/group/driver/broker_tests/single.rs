//! One member: joins, gets every partition, commits, reads its commits
//! back, and leaves on close.

use std::collections::BTreeMap;
use std::time::Duration;

use kafkit::consumer::group::driver::{OffsetAndMetadata, RebalanceKind};

use super::member::{Member, all, config, eventually, group};
use super::support::{self, BrokerKind, TestBroker};

async fn single_member(broker: &TestBroker) {
    let topic = support::unique_topic("single");
    broker.create_topic(&topic, 6).await;
    let group = group("single");
    let everything = all(&topic, 6);

    let m = Member::start(&broker.bootstrap(), config(&group), &[&topic], "m1").await;
    let took = eventually(
        "member owns all 6 partitions",
        Duration::from_secs(20),
        || {
            let owned = m.owned();
            (owned == everything, owned)
        },
    )
    .await;
    eprintln!("{broker}: joined in {took:?}");
    let view = m.view();
    assert_eq!(
        view.log,
        vec![(
            RebalanceKind::Assigned,
            everything.iter().cloned().collect()
        )],
        "the first join assigns everything, with no callback before it"
    );
    let gm = m.handle.group_metadata();
    assert_eq!(gm.group_id, group);
    // Tansu starts generations at 0, Kafka at 1; -1 is none.
    assert!(gm.generation_id >= 0 && !gm.member_id.is_empty(), "{gm:?}");

    let offsets: BTreeMap<_, _> = everything
        .iter()
        .map(|tp| {
            let mut o = OffsetAndMetadata::new(100 + i64::from(tp.partition));
            o.metadata = Some(format!("meta-{}", tp.partition));
            (tp.clone(), o)
        })
        .collect();
    m.handle.commit(offsets.clone()).await.unwrap();
    let read = m
        .handle
        .committed(everything.iter().cloned().collect())
        .await
        .unwrap();
    for (tp, o) in &offsets {
        let got = read[tp]
            .as_ref()
            .unwrap_or_else(|| panic!("{tp} not committed"));
        assert_eq!(got.offset, o.offset, "{tp}");
        // Tansu 0.6 answers OffsetFetch with empty metadata whatever was
        // committed (the mock returns it, which shows what we send).
        if broker.kind() != BrokerKind::Tansu {
            assert_eq!(got.metadata, o.metadata, "{tp}");
        }
    }
    let metrics = m.metrics();
    assert_eq!((metrics.commits_ok, metrics.commits_failed), (1, 0));
    assert_eq!(metrics.rebalances, 1);
    assert!(metrics.leader);
    assert_eq!(metrics.assigned_partitions, 6);

    let (view, metrics) = m.close().await;
    assert!(
        metrics.left_group,
        "the coordinator accepted the LeaveGroup"
    );
    assert_eq!(
        view.log.last(),
        Some(&(RebalanceKind::Revoked, everything.iter().cloned().collect())),
        "close revokes what the member owns"
    );
    assert!(view.owned.is_empty());
    if broker.kind() == BrokerKind::Mock {
        assert_forgotten(broker, &group, &topic).await;
    }
}

/// The coordinator forgot the closed member at once rather than at the
/// session timeout. The mock has no DescribeGroups; a new member joining a
/// group whose old member never left waits for the old one's session (here
/// 30 s) to expire, while after a LeaveGroup it joins at once. (Tansu lists
/// no members in DescribeGroups, and its first join takes half the session
/// timeout, so there the LeaveGroup answer is what is checked.)
async fn assert_forgotten(broker: &TestBroker, group: &str, topic: &str) {
    let mut c = config(group);
    c.group.session_timeout = Duration::from_secs(30);
    let m2 = Member::start(&broker.bootstrap(), c, &[topic], "m2").await;
    eventually(
        "a new member gets everything quickly",
        Duration::from_secs(12),
        || {
            let owned = m2.owned();
            (owned.len() == 6, owned)
        },
    )
    .await;
    m2.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_member_tansu() {
    support::init_tracing();
    let broker = match TestBroker::tansu() {
        Ok(b) => b,
        Err(reason) => return support::skip_or_fail(&reason),
    };
    single_member(&broker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_member_mock() {
    support::init_tracing();
    single_member(&TestBroker::mock(3)).await;
}
