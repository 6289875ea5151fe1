//! tests/producer_faults.rs scenarios for the transactional producer with
//! `max.in.flight=5`. librdkafka's mock checks sequence numbers only for
//! transactional producers (it deduplicates a resent batch it holds and
//! refuses one that overtakes a refused predecessor), so here the broker
//! itself checks what the producer's ordering keeps. Records go in
//! transactions of TXN_RECORDS while faults land; every record must be in
//! the log exactly once, in send order per partition.

use std::time::Duration;

use kafkit::producer::{ProducerRecord, TransactionalProducer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

use crate::common::client;
use crate::support;
use crate::support::Outage as _;

const PARTITIONS: i32 = 6;
const RECORDS: usize = 20_000;
const TXN_RECORDS: usize = 2_000;

type Mock = MockCluster<'static, DefaultProducerContext>;

async fn transactional_under_faults(name: &str, faults: impl AsyncFnOnce(&Mock, &str)) {
    support::init_tracing();
    let mock = support::mock_cluster(3);
    let bootstrap = mock.bootstrap_servers();
    let topic = format!("txn-faults-{name}");
    mock.create_topic(&topic, PARTITIONS, 3).unwrap();
    let client = client(&bootstrap).await;
    let p: TransactionalProducer<String, String> = kafkit::producer::Producer::builder(&client)
        .max_in_flight(5)
        .request_timeout(Duration::from_secs(5))
        .retry_backoff_max(Duration::from_millis(200))
        .transactional_id(format!("faults-{name}"))
        .build()
        .unwrap();
    p.init_transactions().await.unwrap();
    let produce = async {
        let mut acked = support::Acked::new();
        for start in (0..RECORDS).step_by(TXN_RECORDS) {
            p.begin_transaction().unwrap();
            let mut deliveries = Vec::with_capacity(TXN_RECORDS);
            for i in start..start + TXN_RECORDS {
                let mut r = ProducerRecord::new(topic.as_str(), format!("value-{i}"));
                if i % 3 != 0 {
                    r = r.key(format!("key-{}", i % 97));
                }
                deliveries.push((i, p.enqueue(r).await.unwrap()));
            }
            p.commit_transaction()
                .await
                .unwrap_or_else(|e| panic!("{name}: commit at {start}: {e}"));
            for (i, d) in deliveries {
                let meta = d
                    .await
                    .unwrap_or_else(|e| panic!("{name}: record {i}: {e}"));
                if let Some(offset) = meta.offset {
                    acked.entry(meta.partition).or_default().push((offset, i));
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        acked
    };
    let (acked, ()) = tokio::join!(produce, async {
        tokio::time::sleep(Duration::from_millis(30)).await;
        faults(&mock, &topic).await;
    });
    let m = p.metrics();
    assert_eq!(
        (m.records_sent, m.records_failed, m.records_outstanding),
        (RECORDS as u64, 0, 0),
        "{name}: {m:?}"
    );
    assert!(
        m.records_retried > 0,
        "{name}: the faults must have hit: {m:?}"
    );
    eprintln!("{name}: {m:?}");
    p.close(Duration::from_secs(5)).await.unwrap();
    support::verify_read_back(&bootstrap, &topic, PARTITIONS, RECORDS, acked, name).await;
}

#[tokio::test]
async fn transactional_retriable_errors_with_five_in_flight() {
    transactional_under_faults("codes", async |mock, _| {
        use RDKafkaRespErr::*;
        mock.request_errors(
            RDKafkaApiKey::Produce,
            &[
                RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
            ],
        );
        tokio::time::sleep(Duration::from_millis(40)).await;
        mock.request_errors(
            RDKafkaApiKey::Produce,
            &[
                RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
            ],
        );
    })
    .await;
}

#[tokio::test]
async fn transactional_dropped_connections_with_five_in_flight() {
    transactional_under_faults("disconnect", async |mock, _| {
        for _ in 0..3 {
            mock.request_errors(
                RDKafkaApiKey::Produce,
                &[RDKafkaRespErr::RD_KAFKA_RESP_ERR__TRANSPORT],
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn transactional_leader_moves_with_five_in_flight() {
    transactional_under_faults("leader-move", async |mock, topic| {
        for round in 0..2 {
            for p in 0..PARTITIONS {
                mock.partition_leader(topic, p, Some(1 + (p + round + 1) % 3))
                    .unwrap();
            }
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn transactional_broker_down_and_up_with_five_in_flight() {
    transactional_under_faults("broker-down", async |mock, topic| {
        // As in tests/producer_faults.rs; the transaction coordinator may be
        // on a broker that goes down too, and is then found again.
        mock.partition_leader(topic, 0, Some(2)).unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        mock.take_down(2).unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        mock.bring_up(2).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        mock.take_down(3).unwrap();
        for p in 0..PARTITIONS {
            mock.partition_leader(topic, p, Some(1)).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        mock.bring_up(3).unwrap();
    })
    .await;
}
