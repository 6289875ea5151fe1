//! `init_transactions` failures on librdkafka's mock cluster (relied upon:
//! `request_errors` answers the next InitProducerId with the injected
//! code; `broker_down` makes the transaction coordinator unreachable).

use std::time::Duration;

use kafkit::producer::{TransactionState, TransactionalProducer};
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

use crate::common::{client, record};
use crate::support;
use crate::support::Outage as _;

/// A `transaction.timeout.ms` the broker refuses is a configuration error
/// (fatal, as in Java): nothing to abort, and retrying cannot help.
#[tokio::test]
async fn an_invalid_transaction_timeout_is_fatal() {
    support::init_tracing();
    let mock = support::mock_cluster(1);
    let client = client(&mock.bootstrap_servers()).await;
    let p: TransactionalProducer<String, String> =
        TransactionalProducer::builder(&client, "init-invalid-timeout-1")
            .build()
            .unwrap();
    mock.request_errors(
        RDKafkaApiKey::InitProducerId,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_INVALID_TRANSACTION_TIMEOUT],
    );
    let e = p.init_transactions().await.unwrap_err();
    assert!(
        e.is_fatal() && !e.requires_abort() && !e.is_retriable(),
        "{e}"
    );
    assert!(e.to_string().contains("transaction.timeout.ms"), "{e}");
    assert!(matches!(
        p.transaction_state(),
        TransactionState::FatalError(_)
    ));
    assert!(p.init_transactions().await.unwrap_err().is_fatal());
}

/// An `init_transactions` that timed out (coordinator unreachable) can be
/// called again, as Java allows, and then the producer works.
#[tokio::test]
async fn a_timed_out_init_can_be_called_again() {
    support::init_tracing();
    let mock = support::mock_cluster(3);
    let topic = "txn-init-retry";
    mock.create_topic(topic, 1, 3).unwrap();
    mock.partition_leader(topic, 0, Some(1)).unwrap();
    mock.coordinator(
        rdkafka::mocking::MockCoordinator::Transaction("init-retry-1".into()),
        3,
    )
    .unwrap();
    let client = client(&mock.bootstrap_servers()).await;
    let p: TransactionalProducer<String, String> = kafkit::producer::Producer::builder(&client)
        .max_block(Duration::from_secs(1))
        .retry_backoff_max(Duration::from_millis(100))
        .transactional_id("init-retry-1")
        .build()
        .unwrap();
    mock.take_down(3).unwrap();
    let e = p.init_transactions().await.unwrap_err();
    assert!(e.is_retriable() && !e.is_fatal(), "{e}");
    assert!(matches!(
        p.transaction_state(),
        TransactionState::Initializing
    ));
    mock.bring_up(3).unwrap();
    p.init_transactions().await.unwrap();
    p.begin_transaction().unwrap();
    p.send(record(topic, 0, "after a retried init".into()))
        .await
        .unwrap();
    p.commit_transaction().await.unwrap();
}
