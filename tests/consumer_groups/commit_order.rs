//! Commits of one consumer reach the coordinator in call order (Java's
//! guarantee), whatever delays and retries strike them: an older commit
//! never lands after a newer one and moves the group's position back.
//!
//! Faults on librdkafka's mock cluster: a round-trip delay on every broker
//! and an error stack on OffsetCommit (the mock answers the next
//! OffsetCommit requests with these errors, first in first out), so the
//! first async commit is retried (COORDINATOR_LOAD_IN_PROGRESS: back-off;
//! then NOT_COORDINATOR: coordinator lookup) while later ones are queued.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

use crate::support::{self, TestBroker, group_client, produce_counted};
use kafkit::TopicPartition;
use kafkit::consumer::{CommitHandle, Consumer, OffsetAndMetadata};

use RDKafkaRespErr::{
    RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS as LOAD_IN_PROGRESS,
    RD_KAFKA_RESP_ERR_NOT_COORDINATOR as NOT_COORDINATOR,
};

/// Async commits per scenario (offsets 1..=COMMITS).
const COMMITS: i64 = 40;

/// Polls a commit handle once without waiting: whether it has its answer.
fn answered(mut handle: CommitHandle) -> Poll<kafkit::Result<()>> {
    Pin::new(&mut handle).poll(&mut Context::from_waker(Waker::noop()))
}

fn offsets(tp: &TopicPartition, offset: i64) -> BTreeMap<TopicPartition, OffsetAndMetadata> {
    BTreeMap::from([(tp.clone(), OffsetAndMetadata::new(offset))])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_commits_land_and_complete_in_call_order_under_delays_and_retries() {
    support::init_tracing();
    let broker = TestBroker::mock(3);
    let mock = broker.mock_cluster().unwrap();
    let topic = support::unique_topic("commit-order");
    broker.create_topic(&topic, 1).await;
    let client = group_client(&broker.bootstrap()).await;
    produce_counted(&client, &topic, COMMITS as usize, 1).await;
    let consumer: Consumer<String, String> = Consumer::builder(&client)
        .group_id(support::unique_topic("g"))
        .build()
        .unwrap();
    let tp = TopicPartition::new(&*topic, 0);
    consumer.assign([tp.clone()]).unwrap();
    // One commit first, so the coordinator is known and the faults below
    // strike the async commits themselves.
    consumer.commit_offsets(offsets(&tp, 0)).await.unwrap();

    for node in 1..=3 {
        mock.broker_round_trip_time(node, Duration::from_millis(20))
            .unwrap();
    }
    mock.request_errors(
        RDKafkaApiKey::OffsetCommit,
        &[LOAD_IN_PROGRESS, NOT_COORDINATOR],
    );
    // Half through `commit_async` (the delivered position, set by seek),
    // half with explicit offsets; one queue for both.
    let mut handles = Vec::new();
    for offset in 1..=COMMITS {
        let handle = if offset % 2 == 0 {
            consumer.seek(&tp, offset).unwrap();
            consumer.commit_async().unwrap()
        } else {
            consumer.commit_offsets_async(offsets(&tp, offset)).unwrap()
        };
        handles.push(handle);
    }
    // Dropping a handle does not cancel its commit: this one still goes
    // out (in its turn) and is covered by the checks below.
    let last = handles.pop().unwrap();
    let dropped = handles.pop().unwrap();
    drop(dropped);
    tokio::time::timeout(Duration::from_secs(30), last)
        .await
        .expect("the last commit was answered")
        .unwrap();
    // Commits complete in call order: once the last is answered, every
    // earlier one already was (each went out only after its predecessor's
    // answer), and each succeeded after its retries.
    for (i, handle) in handles.into_iter().enumerate() {
        match answered(handle) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => panic!("commit {} failed: {e}", i + 1),
            Poll::Pending => panic!("commit {} was still pending after the last one", i + 1),
        }
    }
    let committed = consumer.committed(std::slice::from_ref(&tp)).await.unwrap();
    assert_eq!(
        committed[&tp].as_ref().map(|o| o.offset),
        Some(COMMITS),
        "the group's position is the last commit's"
    );
    let metrics = consumer.group_metrics().unwrap();
    assert_eq!(metrics.commits_ok, 1 + COMMITS as u64, "{metrics:?}");
    assert_eq!(metrics.commits_failed, 0, "{metrics:?}");
    // A sync commit after them goes after them too.
    consumer.commit_offsets(offsets(&tp, 3)).await.unwrap();
    let committed = consumer.committed(std::slice::from_ref(&tp)).await.unwrap();
    assert_eq!(committed[&tp].as_ref().map(|o| o.offset), Some(3));
    consumer.close(Duration::from_secs(5)).await;
}
