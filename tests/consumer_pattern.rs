//! Pattern subscription and the record `Stream`, end to end on Tansu and the
//! mock cluster: a group member subscribed to a regular expression reads the
//! matching topics (and not the others), picks up a matching topic created
//! later with a rebalance, and reads every record exactly once through
//! `Consumer::stream`. An invalid expression is refused.

mod support;

use std::collections::BTreeSet;
use std::future::poll_fn;
use std::pin::pin;
use std::time::Duration;

use futures_core::Stream;
use kafkit::consumer::{Consumer, OffsetReset, RecordStream};
use kafkit::producer::{Producer, ProducerRecord};
use kafkit::{Client, Error};
use support::TestBroker;

const PARTITIONS: i32 = 3;
const PER_TOPIC: usize = 300;

async fn produce(client: &Client, topic: &str) {
    let producer: Producer<String, String> = Producer::builder(client).build().unwrap();
    let mut deliveries = Vec::with_capacity(PER_TOPIC);
    for i in 0..PER_TOPIC {
        let r = ProducerRecord::new(topic, format!("{topic}/{i}")).partition(i as i32 % PARTITIONS);
        deliveries.push(producer.enqueue(r).await.unwrap());
    }
    producer.flush().await;
    for d in deliveries {
        d.await.unwrap();
    }
    producer.close(Duration::from_secs(5)).await.unwrap();
}

/// Takes records from `stream` until `seen` holds `total` distinct ones,
/// failing on a duplicate, on a record of a topic outside `allowed`, or
/// after `timeout`.
async fn read_until(
    stream: &mut std::pin::Pin<&mut RecordStream<'_, String, String>>,
    seen: &mut BTreeSet<String>,
    total: usize,
    allowed: &[&str],
    timeout: Duration,
) {
    let deadline = tokio::time::Instant::now() + timeout;
    while seen.len() < total {
        let next = tokio::time::timeout_at(deadline, poll_fn(|cx| stream.as_mut().poll_next(cx)))
            .await
            .unwrap_or_else(|_| panic!("only {} of {total} records in time", seen.len()))
            .expect("the stream ended before the consumer was closed");
        let record = match next {
            Ok(r) => r,
            // A rebalance error that is not fatal is reported, and the
            // member carries on, as with Java's poll.
            Err(e) if !e.is_fatal() => {
                eprintln!("stream: {e}");
                continue;
            }
            Err(e) => panic!("stream: {e}"),
        };
        assert!(
            allowed.contains(&record.topic.as_ref()),
            "a record of {} does not match the pattern",
            record.topic
        );
        let value = record.value.unwrap();
        assert!(seen.insert(value.clone()), "{value} read twice");
    }
}

async fn pattern_follows_the_cluster(broker: &TestBroker) {
    let prefix = support::unique_topic("pattern");
    let (a, b, c) = (
        format!("{prefix}-a"),
        format!("{prefix}-b"),
        format!("{prefix}-c"),
    );
    let other = format!("x{prefix}-a");
    for t in [&a, &b, &other] {
        broker.create_topic(t, PARTITIONS).await;
    }
    let client = Client::builder(broker.bootstrap())
        .request_timeout(Duration::from_secs(15))
        // Also how often the pattern is matched again.
        .metadata_max_age(Duration::from_secs(1))
        .build()
        .await
        .unwrap();
    for t in [&a, &b, &other] {
        produce(&client, t).await;
    }
    let consumer: Consumer<String, String> = Consumer::builder(&client)
        .group_id(format!("{prefix}-group"))
        .auto_offset_reset(OffsetReset::Earliest)
        .session_timeout(Duration::from_secs(6))
        .heartbeat_interval(Duration::from_millis(500))
        .fetch_max_wait(Duration::from_millis(100))
        .build()
        .unwrap();
    // `prefix` holds only letters, digits and dashes: no regex syntax.
    consumer.subscribe_pattern(&format!("{prefix}-.*")).unwrap();

    let mut seen = BTreeSet::new();
    {
        let mut stream = pin!(consumer.stream());
        read_until(
            &mut stream,
            &mut seen,
            2 * PER_TOPIC,
            &[&a, &b],
            Duration::from_secs(60),
        )
        .await;
        assert_eq!(consumer.subscription(), [a.clone(), b.clone()]);

        // A matching topic created now joins the subscription.
        broker.create_topic(&c, PARTITIONS).await;
        produce(&client, &c).await;
        read_until(
            &mut stream,
            &mut seen,
            3 * PER_TOPIC,
            &[&a, &b, &c],
            Duration::from_secs(60),
        )
        .await;
    }
    assert_eq!(consumer.subscription(), [a.clone(), b.clone(), c.clone()]);
    let metrics = consumer.group_metrics().unwrap();
    assert!(
        metrics.rebalances >= 2,
        "the new topic should have rebalanced the group: {metrics:?}"
    );
    consumer.close(Duration::from_secs(10)).await;
    client.close(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pattern_subscription_follows_matching_topics() {
    support::for_each_broker(async |broker| pattern_follows_the_cluster(broker).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_pattern_or_a_missing_group_is_refused() {
    let broker = TestBroker::mock(1);
    let client = Client::builder(broker.bootstrap()).build().await.unwrap();
    let member: Consumer<String, String> =
        Consumer::builder(&client).group_id("g").build().unwrap();
    let e = member.subscribe_pattern("orders(").unwrap_err();
    assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");
    assert!(member.subscription().is_empty());

    let loner: Consumer<String, String> = Consumer::builder(&client).build().unwrap();
    let e = loner.subscribe_pattern("orders.*").unwrap_err();
    // A usage error, not fatal to the client.
    assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");
    assert!(!e.is_fatal(), "{e:?}");

    // After close the stream ends instead of waiting forever.
    member.close(Duration::from_secs(5)).await;
    let mut stream = pin!(member.stream());
    assert!(poll_fn(|cx| stream.as_mut().poll_next(cx)).await.is_none());
}
