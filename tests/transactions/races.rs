//! Calls that overlap a commit, and cancelled calls, on librdkafka's mock
//! cluster (relied upon: topics exist only once `create_topic` makes them
//! when the client does not ask for auto-creation; the mock acknowledges
//! transactional Produce requests and answers EndTxn).

use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use kafkit::producer::{TransactionState, TransactionalProducer};

use crate::common::record;
use crate::support;

async fn client_without_auto_create(bootstrap: &str) -> kafkit::Client {
    kafkit::Client::builder(bootstrap)
        .allow_auto_create_topics(false)
        .reconnect_backoff_max(Duration::from_millis(200))
        .build()
        .await
        .unwrap()
}

/// A record whose `enqueue` passed the state check before
/// `commit_transaction` began (here: it waits for its topic's metadata)
/// belongs to the transaction: the commit waits for it and includes it.
/// It must never be appended after the commit, where it would be sent
/// outside any transaction (or inside the next one).
#[tokio::test]
async fn a_record_enqueued_while_the_commit_starts_is_committed_with_it() {
    support::init_tracing();
    let mock = support::mock_cluster(3);
    let bootstrap = mock.bootstrap_servers();
    mock.create_topic("txn-race-first", 1, 3).unwrap();
    let client = client_without_auto_create(&bootstrap).await;
    let p: Arc<TransactionalProducer<String, String>> = Arc::new(
        kafkit::producer::Producer::builder(&client)
            .max_block(Duration::from_secs(10))
            .transactional_id("race-commit-1")
            .build()
            .unwrap(),
    );
    p.init_transactions().await.unwrap();
    p.begin_transaction().unwrap();
    let first = p
        .send(record("txn-race-first", 0, "first".into()))
        .await
        .unwrap();

    // Waits for metadata of a topic that does not exist yet.
    let late = tokio::spawn({
        let p = p.clone();
        async move { p.enqueue(record("txn-race-late", 0, "late".into())).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let commit = tokio::spawn({
        let p = p.clone();
        async move { p.commit_transaction().await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    mock.create_topic("txn-race-late", 1, 3).unwrap();

    let delivery = late
        .await
        .unwrap()
        .expect("enqueue began inside the transaction");
    commit.await.unwrap().expect("commit");
    let meta = tokio::time::timeout(Duration::from_secs(1), delivery)
        .await
        .expect("the late record was settled by the commit")
        .expect("the late record was committed with the transaction");
    assert_eq!(meta.partition, 0);
    assert!(first.offset.is_some());
    assert!(matches!(p.transaction_state(), TransactionState::Ready));
    assert_eq!(p.metrics().records_failed, 0);
}

/// A `flush` (or a commit) cancelled by a timeout must not leave the
/// producer flushing for ever, which would make every later batch ignore
/// `linger.ms`.
#[tokio::test]
async fn a_cancelled_flush_leaves_linger_in_force() {
    support::init_tracing();
    let mock = support::mock_cluster(3);
    let bootstrap = mock.bootstrap_servers();
    let topic = "txn-cancelled-flush";
    mock.create_topic(topic, 2, 3).unwrap();
    let client = crate::common::client(&bootstrap).await;
    let p: TransactionalProducer<String, String> = kafkit::producer::Producer::builder(&client)
        .linger(Duration::from_secs(30))
        .transactional_id("cancelled-flush-1")
        .build()
        .unwrap();
    p.init_transactions().await.unwrap();
    p.begin_transaction().unwrap();
    let first = p.enqueue(record(topic, 0, "a".into())).await.unwrap();
    // Polled exactly once (the record is lingering, so it is pending),
    // then dropped: the flush is cancelled while waiting.
    let mut flush = Box::pin(p.flush());
    let polled = std::future::poll_fn(|cx| Poll::Ready(flush.as_mut().poll(cx))).await;
    assert!(polled.is_pending(), "a record was outstanding");
    drop(flush);

    let second = p.enqueue(record(topic, 1, "b".into())).await.unwrap();
    tokio::pin!(second);
    assert!(
        tokio::time::timeout(Duration::from_secs(1), &mut second)
            .await
            .is_err(),
        "with linger.ms = 30 s and no flush running, the batch must still linger"
    );
    p.commit_transaction().await.unwrap();
    second.await.unwrap();
    first.await.unwrap();
}

/// An `enqueue` that fails for a reason other than a bad argument leaves
/// the transaction without that record: it can no longer commit, and the
/// error says so (`requires_abort`), rather than inviting a retry of the
/// record into a transaction that will refuse it.
#[tokio::test]
async fn an_enqueue_that_fails_inside_a_transaction_says_abort() {
    support::init_tracing();
    let mock = support::mock_cluster(3);
    let bootstrap = mock.bootstrap_servers();
    let client = client_without_auto_create(&bootstrap).await;
    let p: TransactionalProducer<String, String> = kafkit::producer::Producer::builder(&client)
        .max_block(Duration::from_millis(300))
        .transactional_id("enqueue-fails-1")
        .build()
        .unwrap();
    p.init_transactions().await.unwrap();
    p.begin_transaction().unwrap();
    let e = p
        .enqueue(record("txn-no-such-topic", 0, "x".into()))
        .await
        .unwrap_err();
    assert!(
        e.requires_abort() && !e.is_retriable() && !e.is_fatal(),
        "{e}"
    );
    assert!(matches!(
        p.transaction_state(),
        TransactionState::AbortableError(_)
    ));
    p.abort_transaction().await.unwrap();
    assert!(matches!(p.transaction_state(), TransactionState::Ready));
}

/// TxnOffsetCommit fails (the member was fenced, KIP-447) while a commit
/// waits for it: the commit must not send EndTxn(commit) for a transaction
/// that just became abortable. Relied upon: the mock delays every answer of
/// a broker by `broker_round_trip_time`, answers the next request of an API
/// with an injected error, and would answer the EndTxn(commit) that must
/// not be sent with the injected INVALID_TXN_STATE (fatal).
#[tokio::test]
async fn a_commit_waiting_for_offsets_that_fail_is_refused_before_end_txn() {
    use rdkafka::mocking::MockCoordinator;
    use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr::*};
    support::init_tracing();
    let mock = support::mock_cluster(3);
    let topic = "txn-race-offsets";
    mock.create_topic(topic, 1, 3).unwrap();
    mock.partition_leader(topic, 0, Some(1)).unwrap();
    mock.coordinator(MockCoordinator::Transaction("race-offsets-1".into()), 3)
        .unwrap();
    mock.coordinator(MockCoordinator::Group("race-offsets-group".into()), 2)
        .unwrap();
    let client = crate::common::client(&mock.bootstrap_servers()).await;
    let p: Arc<TransactionalProducer<String, String>> = Arc::new(
        TransactionalProducer::builder(&client, "race-offsets-1")
            .build()
            .unwrap(),
    );
    p.init_transactions().await.unwrap();
    p.begin_transaction().unwrap();
    p.send(record(topic, 0, "x".into())).await.unwrap();

    mock.broker_round_trip_time(2, Duration::from_millis(1500))
        .unwrap();
    mock.request_errors(
        RDKafkaApiKey::TxnOffsetCommit,
        &[RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID],
    );
    let offsets = tokio::spawn({
        let p = p.clone();
        async move {
            let mut group = kafkit::consumer::GroupMetadata::new("race-offsets-group");
            group.generation_id = 3;
            group.member_id = "m-1".into();
            let offsets = std::collections::BTreeMap::from([(
                kafkit::TopicPartition::new(topic, 0),
                kafkit::consumer::OffsetAndMetadata::new(1),
            )]);
            p.send_offsets_to_transaction(offsets, &group).await
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    mock.request_errors(
        RDKafkaApiKey::EndTxn,
        &[RD_KAFKA_RESP_ERR_INVALID_TXN_STATE],
    );
    let e = p.commit_transaction().await.unwrap_err();
    assert!(e.requires_abort() && !e.is_fatal(), "{e}");
    let e = offsets.await.unwrap().unwrap_err();
    assert!(e.requires_abort() && !e.is_fatal(), "{e}");

    mock.clear_request_errors(RDKafkaApiKey::EndTxn);
    mock.broker_round_trip_time(2, Duration::ZERO).unwrap();
    p.abort_transaction().await.unwrap();
    assert!(matches!(p.transaction_state(), TransactionState::Ready));
}
