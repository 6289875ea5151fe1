//! KIP-588: INVALID_PRODUCER_EPOCH in a Produce response makes the
//! transaction abortable, not the producer fatal (a partition leader cannot
//! tell a timed-out transaction, which the coordinator lets this producer
//! recover from, from a fencing). Relied upon: librdkafka's mock answers the
//! next Produce request with the injected error, and accepts the EndTxn and
//! the epoch-bumping InitProducerId that follow.

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
