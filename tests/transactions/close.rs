//! Closing and dropping a transactional producer, on librdkafka's mock
//! cluster (relied upon: `broker_down` makes the transaction coordinator
//! unreachable while the partition leader stays up).

use std::time::Duration;

use kafkit::producer::{TransactionState, TransactionalProducer};
use rdkafka::mocking::MockCoordinator;

use crate::common::{client, record};
use crate::support;
use crate::support::Outage as _;

/// A commit that timed out is pending; `close` finishes it (as Java's
/// close completes a committing transaction) rather than leaving it open
/// until the coordinator aborts it.
#[tokio::test]
async fn close_finishes_a_pending_commit() {
    support::init_tracing();
    let mock = support::mock_cluster(3);
    let topic = "txn-close-pending";
    mock.create_topic(topic, 1, 3).unwrap();
    mock.partition_leader(topic, 0, Some(1)).unwrap();
    mock.coordinator(MockCoordinator::Transaction("close-pending-1".into()), 3)
        .unwrap();
    let client = client(&mock.bootstrap_servers()).await;
    let p: TransactionalProducer<String, String> = kafkit::producer::Producer::builder(&client)
        .max_block(Duration::from_secs(1))
        .retry_backoff_max(Duration::from_millis(100))
        .transactional_id("close-pending-1")
        .build()
        .unwrap();
    p.init_transactions().await.unwrap();
    p.begin_transaction().unwrap();
    p.send(record(topic, 0, "x".into())).await.unwrap();
    mock.take_down(3).unwrap();
    let e = p.commit_transaction().await.unwrap_err();
    assert!(e.is_retriable(), "{e}");
    mock.bring_up(3).unwrap();
    p.close(Duration::from_secs(10)).await.unwrap();
    assert!(
        matches!(p.transaction_state(), TransactionState::Ready),
        "{:?}",
        p.transaction_state()
    );
}

/// Dropping the producer mid-transaction does no I/O (the coordinator
/// aborts the transaction after transaction.timeout.ms, or the next
/// instance's init_transactions does), but its unsent records fail at once
/// instead of being sent, lingering, into a transaction nobody can commit.
#[tokio::test]
async fn dropping_mid_transaction_fails_unsent_records() {
    support::init_tracing();
    let mock = support::mock_cluster(3);
    let topic = "txn-dropped";
    mock.create_topic(topic, 1, 3).unwrap();
    let client = client(&mock.bootstrap_servers()).await;
    let p: TransactionalProducer<String, String> = kafkit::producer::Producer::builder(&client)
        .linger(Duration::from_secs(30))
        .transactional_id("dropped-1")
        .build()
        .unwrap();
    p.init_transactions().await.unwrap();
    p.begin_transaction().unwrap();
    let delivery = p.enqueue(record(topic, 0, "x".into())).await.unwrap();
    drop(p);
    let e = tokio::time::timeout(Duration::from_secs(2), delivery)
        .await
        .expect("settled when the producer was dropped")
        .unwrap_err();
    assert!(
        e.requires_abort() || matches!(e, kafkit::Error::Closed),
        "{e}"
    );
}
