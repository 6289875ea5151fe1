//! kafkit's own read_committed consumer on what kafkit's transactional
//! producer wrote (Tansu): committed records exactly once and in order,
//! markers never delivered, the position stepping over them to the log end,
//! and nothing of an open transaction read before it commits (Tansu answers
//! the last stable offset).
//!
//! Tansu lists no aborted transactions in its Fetch responses (and neither
//! does the mock), so a client cannot hide aborted records there: this test
//! asserts that they *are* delivered on Tansu, naming the deviation, and that
//! they are not on a broker that lists them (`KAFKA_BOOTSTRAP`, Apache
//! Kafka). The filter itself is tested on scripted fetch data in
//! `consumer::fetcher::aborted::tests`.

use std::time::Duration;

use kafkit::TopicPartition;
use kafkit::consumer::{Consumer, IsolationLevel, OffsetReset};

use crate::common::{client, producer, record};
use crate::support::{self, TestBroker};

async fn read_committed_consumer_reads_committed_data(broker: &TestBroker) {
    let topic = support::unique_topic("txn-read-committed");
    broker.create_topic(&topic, 1).await;
    let client = client(&broker.bootstrap()).await;
    let p = producer(&client, &format!("{topic}-txn")).await;

    // committed c0..c9, aborted a0..a4, committed d0..d2: log end 21.
    for (prefix, n, commit) in [("c", 10, true), ("a", 5, false), ("d", 3, true)] {
        p.begin_transaction().unwrap();
        for i in 0..n {
            p.send(record(&topic, 0, format!("{prefix}{i}")))
                .await
                .unwrap();
        }
        if commit {
            p.commit_transaction().await.unwrap();
        } else {
            p.abort_transaction().await.unwrap();
        }
    }

    let consumer: Consumer<String, String> = Consumer::builder(&client)
        .isolation_level(IsolationLevel::ReadCommitted)
        .auto_offset_reset(OffsetReset::Earliest)
        .fetch_max_wait(Duration::from_millis(100))
        .build()
        .unwrap();
    let tp = TopicPartition::new(&*topic, 0);
    consumer.assign([tp.clone()]).unwrap();
    let mut values = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while consumer.position(&tp).await.unwrap() < 21 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{broker}: stuck at {} with {values:?}",
            consumer.position(&tp).await.unwrap()
        );
        for r in consumer
            .poll(Duration::from_millis(200))
            .await
            .unwrap()
            .iter()
        {
            values.push(r.value.clone().unwrap());
        }
    }
    let committed: Vec<String> = (0..10)
        .map(|i| format!("c{i}"))
        .chain((0..3).map(|i| format!("d{i}")))
        .collect();
    let mut with_aborted: Vec<String> = (0..10).map(|i| format!("c{i}")).collect();
    with_aborted.extend((0..5).map(|i| format!("a{i}")));
    with_aborted.extend((0..3).map(|i| format!("d{i}")));
    if broker.kind().enforces_read_committed() {
        assert_eq!(values, committed, "{broker}");
    } else {
        // Broker deviation: no aborted-transaction list, so the aborted
        // records reach even a read_committed consumer (librdkafka's too).
        assert_eq!(values, with_aborted, "{broker}");
    }
    assert_eq!(
        consumer.position(&tp).await.unwrap(),
        21,
        "{broker}: past the last marker"
    );
    assert_eq!(consumer.lag(&tp), Some(0), "{broker}");

    // An open transaction: its records are past the last stable offset.
    p.begin_transaction().unwrap();
    for i in 0..3 {
        p.send(record(&topic, 0, format!("o{i}"))).await.unwrap();
    }
    let mut open = Vec::new();
    for _ in 0..5 {
        for r in consumer
            .poll(Duration::from_millis(200))
            .await
            .unwrap()
            .iter()
        {
            open.push(r.value.clone().unwrap());
        }
    }
    assert!(open.is_empty(), "{broker}: open transaction read: {open:?}");
    assert_eq!(consumer.position(&tp).await.unwrap(), 21, "{broker}");
    // Once it commits, its records (21..=23) and marker (24) are passed.
    p.commit_transaction().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while consumer.position(&tp).await.unwrap() < 25 {
        assert!(tokio::time::Instant::now() < deadline, "{broker}: {open:?}");
        for r in consumer
            .poll(Duration::from_millis(200))
            .await
            .unwrap()
            .iter()
        {
            open.push(r.value.clone().unwrap());
        }
    }
    assert_eq!(open, ["o0", "o1", "o2"], "{broker}");
    p.close(Duration::from_secs(5)).await.unwrap();
    consumer.close(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn read_committed_consumer_reads_committed_records_once_and_no_markers() {
    support::init_tracing();
    let mut brokers: Vec<TestBroker> = Vec::new();
    match TestBroker::tansu() {
        Ok(b) => brokers.push(b),
        Err(reason) => support::skip_or_fail(&format!("Tansu part skipped: {reason}")),
    }
    #[cfg(feature = "mock")]
    brokers.push(TestBroker::embedded().await);
    brokers.extend(TestBroker::external());
    for broker in &brokers {
        read_committed_consumer_reads_committed_data(broker).await;
    }
}
