//! `close()` runs the revoke callback while the consumer is still open:
//! a listener that commits there stores the offsets of what was consumed,
//! as a fresh consumer of the group reads back with `committed`.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::PARTITIONS;
use crate::support::{
    self, Callback, CommitOnRevoke, MemberOptions, TestBroker, all_partitions, group_client,
    group_member, produce_counted,
};

async fn close_commits_in_revoke(broker: &TestBroker) {
    let topic = support::unique_topic("close");
    broker.create_topic(&topic, PARTITIONS).await;
    let everything: Vec<_> = all_partitions(&topic, PARTITIONS).into_iter().collect();
    let client = group_client(&broker.bootstrap()).await;
    let n = 3_000;
    produce_counted(&client, &topic, n, PARTITIONS).await;
    let group = support::unique_topic("g");
    let listener = CommitOnRevoke::default();
    // No auto-commit: only the listener commits, so what is stored can
    // only come from the commit inside the revoke callback.
    let options = MemberOptions {
        listener: Some(listener.clone()),
        ..MemberOptions::default()
    };
    let consumer = group_member(&client, &group, &options);
    consumer.subscribe([topic.clone()]).unwrap();
    let mut got = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while got < n / 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{broker}: read {got}"
        );
        got += consumer
            .poll(Duration::from_millis(200))
            .await
            .unwrap()
            .len();
    }
    let mut positions = Vec::new();
    for tp in &everything {
        positions.push(consumer.position(tp).await.unwrap());
    }
    assert_eq!(positions.iter().sum::<i64>() as usize, got, "{broker}");
    assert!(got < n, "{broker}: something must be left unread");
    assert_eq!(listener.commits_ok.load(Ordering::Relaxed), 0);

    consumer.close(Duration::from_secs(10)).await;
    let events = listener.events();
    assert_eq!(
        events.last(),
        Some(&(Callback::Revoked, everything.clone())),
        "{broker}: close revokes everything: {events:?}"
    );
    assert_eq!(listener.commits_ok.load(Ordering::Relaxed), 1, "{broker}");
    assert_eq!(
        listener.commits_failed.load(Ordering::Relaxed),
        0,
        "{broker}"
    );

    // A fresh consumer of the group, never subscribed, reads the offsets.
    let fresh = group_member(&client, &group, &MemberOptions::default());
    let committed = fresh.committed(&everything).await.unwrap();
    let stored: Vec<i64> = everything
        .iter()
        .map(|tp| committed[tp].as_ref().map_or(-1, |o| o.offset))
        .collect();
    assert_eq!(
        stored, positions,
        "{broker}: committed = consumed positions"
    );
    fresh.close(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_in_the_revoke_callback_during_close_is_stored() {
    support::init_tracing();
    support::on_every_broker_at_once(async |broker| close_commits_in_revoke(broker).await).await;
}
