//! Producer-identity errors inside a transaction. KIP-588:
//! INVALID_PRODUCER_EPOCH in a Produce response makes the transaction
//! abortable, not the producer fatal (a partition leader cannot tell a
//! timed-out transaction, which the coordinator lets this producer recover
//! from, from a fencing). And a coordinator that lost the producer id
//! mapping. Relied upon: librdkafka's mock answers the next requests of an
//! API with the injected errors, and accepts the EndTxn and the
//! epoch-bumping InitProducerId that follow.

use kafkit::producer::{TransactionState, TransactionalProducer};
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

use crate::common::{client, record};
use crate::support;

#[tokio::test]
async fn invalid_producer_epoch_from_produce_is_abortable_and_the_abort_recovers() {
    support::init_tracing();
    let mock = support::mock_cluster(3);
    let topic = "txn-produce-epoch";
    mock.create_topic(topic, 1, 3).unwrap();
    let client = client(&mock.bootstrap_servers()).await;
    let p: TransactionalProducer<String, String> =
        TransactionalProducer::builder(&client, "produce-epoch-1")
            .build()
            .unwrap();
    p.init_transactions().await.unwrap();
    p.begin_transaction().unwrap();
    mock.request_errors(
        RDKafkaApiKey::Produce,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH],
    );
    let e = p
        .send(record(topic, 0, "refused".into()))
        .await
        .unwrap_err();
    assert!(e.requires_abort() && !e.is_fatal(), "{e}");
    assert!(matches!(
        p.transaction_state(),
        TransactionState::AbortableError(_)
    ));
    let e = p.commit_transaction().await.unwrap_err();
    assert!(e.requires_abort() && !e.is_fatal(), "{e}");
    p.abort_transaction().await.unwrap();
    assert_eq!(
        p.metrics().producer_id_resets,
        1,
        "the abort bumped the epoch"
    );

    p.begin_transaction().unwrap();
    p.send(record(topic, 0, "after the abort".into()))
        .await
        .unwrap();
    p.commit_transaction().await.unwrap();
}

/// The coordinator forgot the producer id (transactional.id expiration):
/// EndTxn(abort) answers INVALID_PRODUCER_ID_MAPPING however often it is
/// sent, so the abort must skip it and take a new identity (as Java does)
/// rather than fail for ever. Relied upon: the mock answers the next
/// EndTxn requests with the injected errors.
#[tokio::test]
async fn an_abort_the_coordinator_cannot_map_takes_a_new_identity() {
    support::init_tracing();
    let mock = support::mock_cluster(3);
    let topic = "txn-lost-mapping";
    mock.create_topic(topic, 1, 3).unwrap();
    let client = client(&mock.bootstrap_servers()).await;
    let p: TransactionalProducer<String, String> =
        TransactionalProducer::builder(&client, "lost-mapping-1")
            .build()
            .unwrap();
    p.init_transactions().await.unwrap();
    p.begin_transaction().unwrap();
    p.send(record(topic, 0, "aborted".into())).await.unwrap();
    mock.request_errors(
        RDKafkaApiKey::EndTxn,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_INVALID_PRODUCER_ID_MAPPING; 3],
    );
    p.abort_transaction().await.unwrap();
    mock.clear_request_errors(RDKafkaApiKey::EndTxn);
    assert_eq!(p.metrics().producer_id_resets, 1);
    p.begin_transaction().unwrap();
    p.send(record(topic, 0, "after".into())).await.unwrap();
    p.commit_transaction().await.unwrap();
}
