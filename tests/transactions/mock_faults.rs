//! Coordinator errors injected on librdkafka's mock cluster
//! (`request_errors`, a per-API stack consumed by the next requests of that
//! API on any broker): the producer retries them to success and every
//! record is in the log exactly once. The mock checks a transactional
//! producer's sequence numbers, so a resent or reordered batch would show.

use std::collections::BTreeMap;
use std::time::Duration;

use kafkit::TopicPartition;
use kafkit::consumer::{GroupMetadata, OffsetAndMetadata};
use kafkit::producer::{ProducerRecord, TransactionalProducer};
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

use crate::common::client;
use crate::support;
use crate::support::Outage as _;

const PARTITIONS: i32 = 3;

/// One transaction of records `from..to` (value `value-i`, keyed as in
/// tests/support/counted.rs), committed; returns the acknowledged offsets.
async fn committed_transaction(
    p: &TransactionalProducer<String, String>,
    topic: &str,
    range: std::ops::Range<usize>,
    acked: &mut support::Acked,
) {
    p.begin_transaction().unwrap();
    let mut deliveries = Vec::new();
    for i in range.clone() {
        let mut r = ProducerRecord::new(topic, format!("value-{i}"));
        if i % 3 != 0 {
            r = r.key(format!("key-{}", i % 97));
        }
        deliveries.push((i, p.enqueue(r).await.unwrap()));
    }
    let group = GroupMetadata::new("txn-mock-group");
    let offsets = BTreeMap::from([(
        TopicPartition::new("txn-mock-input", 0),
        OffsetAndMetadata::new(range.end as i64),
    )]);
    p.send_offsets_to_transaction(offsets, &group)
        .await
        .unwrap_or_else(|e| panic!("send_offsets_to_transaction {range:?}: {e}"));
    p.commit_transaction()
        .await
        .unwrap_or_else(|e| panic!("commit {range:?}: {e}"));
    for (i, d) in deliveries {
        let meta = d.await.unwrap_or_else(|e| panic!("record {i}: {e}"));
        if let Some(offset) = meta.offset {
            acked.entry(meta.partition).or_default().push((offset, i));
        }
    }
}

#[tokio::test]
async fn coordinator_errors_are_retried_and_every_record_lands_once() {
    use RDKafkaRespErr::*;
    support::init_tracing();
    let mock = support::mock_cluster(3);
    let bootstrap = mock.bootstrap_servers();
    let topic = "txn-mock-faults";
    mock.create_topic(topic, PARTITIONS, 3).unwrap();
    mock.create_topic("txn-mock-input", 1, 3).unwrap();
    let client = client(&bootstrap).await;
    let p: TransactionalProducer<String, String> = kafkit::producer::Producer::builder(&client)
        .retry_backoff(Duration::from_millis(20))
        .retry_backoff_max(Duration::from_millis(200))
        .transactional_id("mock-faults-1")
        .build()
        .unwrap();

    let init_errors = [
        RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
        RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
        RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS,
        RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
    ];
    mock.request_errors(RDKafkaApiKey::InitProducerId, &init_errors);
    p.init_transactions().await.unwrap();
    let mut injected = init_errors.len() as u64;
    let mut acked = support::Acked::new();
    committed_transaction(&p, topic, 0..500, &mut acked).await;

    let add_errors = [
        RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS,
        RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
        RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
        RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS,
    ];
    mock.request_errors(RDKafkaApiKey::AddPartitionsToTxn, &add_errors);
    injected += add_errors.len() as u64;
    committed_transaction(&p, topic, 500..1000, &mut acked).await;

    let end_errors = [
        RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS,
        RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
        RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
        RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
    ];
    mock.request_errors(RDKafkaApiKey::EndTxn, &end_errors);
    injected += end_errors.len() as u64;
    committed_transaction(&p, topic, 1000..1500, &mut acked).await;

    let offsets_errors = [
        RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS,
        RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
    ];
    mock.request_errors(RDKafkaApiKey::AddOffsetsToTxn, &offsets_errors);
    injected += offsets_errors.len() as u64;
    committed_transaction(&p, topic, 1500..2000, &mut acked).await;

    let m = p.metrics();
    assert_eq!((m.records_sent, m.records_failed), (2000, 0), "{m:?}");
    assert!(
        m.transactional_retries >= injected,
        "every injected error must have been met and retried: {m:?}, {injected} injected"
    );
    support::verify_read_back(
        &bootstrap,
        topic,
        PARTITIONS,
        2000,
        acked,
        "coordinator faults",
    )
    .await;
    p.close(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn a_failed_record_makes_the_transaction_abortable_and_the_abort_recovers() {
    use RDKafkaRespErr::*;
    support::init_tracing();
    let mock = support::mock_cluster(3);
    let bootstrap = mock.bootstrap_servers();
    let topic = "txn-mock-abortable";
    mock.create_topic(topic, 1, 3).unwrap();
    let client = client(&bootstrap).await;
    let p: TransactionalProducer<String, String> =
        TransactionalProducer::builder(&client, "mock-abortable-1")
            .build()
            .unwrap();
    p.init_transactions().await.unwrap();

    // Written first, so the failed batch below is not the partition's
    // first: its sequence numbers are lost, and the mock (which checks a
    // transactional producer's sequences) would refuse what follows unless
    // the abort bumps the epoch.
    let mut acked = support::Acked::new();
    p.begin_transaction().unwrap();
    let meta = p
        .send(ProducerRecord::new(topic, "value-0".to_string()))
        .await
        .unwrap();
    p.commit_transaction().await.unwrap();
    acked.entry(0).or_default().push((meta.offset.unwrap(), 0));

    p.begin_transaction().unwrap();
    mock.request_errors(RDKafkaApiKey::Produce, &[RD_KAFKA_RESP_ERR_INVALID_RECORD]);
    let e = p
        .send(ProducerRecord::new(topic, "refused".to_string()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(kafkit::ErrorCode::INVALID_RECORD), "{e}");
    let e = p.commit_transaction().await.unwrap_err();
    assert!(e.requires_abort() && !e.is_fatal(), "{e}");
    assert!(e.to_string().contains("abort_transaction"), "{e}");
    let e = p
        .send(ProducerRecord::new(topic, "refused-too".to_string()))
        .await
        .unwrap_err();
    assert!(e.requires_abort(), "{e}");
    p.abort_transaction().await.unwrap();
    assert_eq!(
        p.metrics().producer_id_resets,
        1,
        "the abort bumped the epoch"
    );

    p.begin_transaction().unwrap();
    for i in 1..100 {
        let meta = p
            .send(ProducerRecord::new(topic, format!("value-{i}")))
            .await
            .unwrap_or_else(|e| panic!("record {i} after the abort: {e}"));
        acked.entry(0).or_default().push((meta.offset.unwrap(), i));
    }
    p.commit_transaction().await.unwrap();
    support::verify_read_back(&bootstrap, topic, 1, 100, acked, "after an abortable error").await;
}

#[tokio::test]
async fn a_commit_that_timed_out_resumes_when_called_again() {
    support::init_tracing();
    let mock = support::mock_cluster(3);
    let bootstrap = mock.bootstrap_servers();
    let topic = "txn-mock-resume";
    mock.create_topic(topic, 1, 3).unwrap();
    // Data on broker 1, the transaction coordinator on broker 3, so the
    // coordinator can go away while the records stay reachable.
    mock.partition_leader(topic, 0, Some(1)).unwrap();
    mock.coordinator(
        rdkafka::mocking::MockCoordinator::Transaction("resume-1".into()),
        3,
    )
    .unwrap();
    let client = client(&bootstrap).await;
    let p: TransactionalProducer<String, String> = kafkit::producer::Producer::builder(&client)
        .max_block(Duration::from_secs(2))
        .retry_backoff_max(Duration::from_millis(200))
        .transactional_id("resume-1")
        .build()
        .unwrap();
    p.init_transactions().await.unwrap();
    p.begin_transaction().unwrap();
    let mut acked = support::Acked::new();
    for i in 0..50 {
        let meta = p
            .send(ProducerRecord::new(topic, format!("value-{i}")))
            .await
            .unwrap();
        acked.entry(0).or_default().push((meta.offset.unwrap(), i));
    }

    mock.take_down(3).unwrap();
    let e = p.commit_transaction().await.unwrap_err();
    assert!(
        matches!(e, kafkit::Error::Timeout { .. }) && !e.requires_abort() && !e.is_fatal(),
        "{e}"
    );
    // The commit is pending: it cannot turn into an abort.
    let e = p.abort_transaction().await.unwrap_err();
    assert!(matches!(e, kafkit::Error::IllegalState(_)), "{e}");
    assert!(e.to_string().contains("commit_transaction again"), "{e}");

    mock.bring_up(3).unwrap();
    p.commit_transaction().await.unwrap();
    assert!(matches!(
        p.transaction_state(),
        kafkit::producer::TransactionState::Ready
    ));
    support::verify_read_back(&bootstrap, topic, 1, 50, acked, "resumed commit").await;
}
