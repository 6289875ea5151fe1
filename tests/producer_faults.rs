//! The producer under faults, on librdkafka's mock cluster (three brokers,
//! replication 3): broker error codes, lost connections, leader moves,
//! brokers going down and up, and brokers that lose the producer's state.
//! Faults are injected while records are being produced; afterwards
//! librdkafka reads the log back and every record must be there exactly
//! once, in send order per partition, at the offset it was acknowledged
//! with (idempotence is what prevents the duplicates a retry could cause).
//!
//! Known mock deviation: for idempotent producers without a transactional
//! id, librdkafka's mock neither deduplicates nor orders by sequence number
//! (`rd_kafka_mock_validate_records` returns early without a transactional
//! id). Apache Kafka answers a retried batch it already holds with
//! DUPLICATE_SEQUENCE_NUMBER and one that overtakes a refused predecessor
//! with OUT_OF_ORDER_SEQUENCE_NUMBER; the mock appends both. So:
//! - faults where the mock refuses or drops one request while later ones on
//!   the same connection go through (error codes, disconnects, lost producer
//!   state) run with `max.in.flight=1`, the setting whose guarantees do not
//!   depend on the broker's sequence checks;
//! - leader moves and brokers going down run with the default of 5: there the
//!   producer itself keeps order, because it pipelines a partition's batches
//!   on one connection at a time and never lets a batch overtake its
//!   predecessors on a new connection or leader.

mod support;

use std::time::Duration;

use kafkit::producer::{Producer, ProducerMetrics, ProducerRecord};
use kafkit::{Client, Error};
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

const PARTITIONS: i32 = 6;
const RECORDS: usize = 30_000;
/// Pause after every 1,000 records: the stream lasts long enough for the
/// faults to land in the middle of it.
const PACE: Duration = Duration::from_millis(4);

async fn producer(bootstrap: &str, max_in_flight: usize) -> Producer<String, String> {
    let client = Client::builder(bootstrap)
        .reconnect_backoff_max(Duration::from_millis(200))
        .build()
        .await
        .unwrap();
    Producer::builder(&client)
        .max_in_flight(max_in_flight)
        .request_timeout(Duration::from_secs(5))
        .retry_backoff_max(Duration::from_millis(200))
        .build()
        .unwrap()
}

/// Produces RECORDS counted records while `faults` runs, then verifies the log.
async fn under_faults(
    name: &str,
    max_in_flight: usize,
    faults: impl AsyncFnOnce(
        &rdkafka::mocking::MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
        &str,
    ),
) -> ProducerMetrics {
    support::init_tracing();
    let mock = support::mock_cluster(3);
    let bootstrap = mock.bootstrap_servers();
    let topic = format!("faults-{name}");
    mock.create_topic(&topic, PARTITIONS, 3).unwrap();
    let producer = producer(&bootstrap, max_in_flight).await;
    let (acked, ()) = tokio::join!(
        support::produce_numbered(&producer, &topic, RECORDS, PACE, name),
        async {
            tokio::time::sleep(Duration::from_millis(30)).await;
            faults(&mock, &topic).await;
        }
    );
    let m = producer.metrics();
    assert_eq!(
        (m.records_sent, m.records_failed, m.records_outstanding),
        (RECORDS as u64, 0, 0),
        "{name}: metrics {m:?}"
    );
    // The faults must have hit: some batch was retried.
    assert!(m.records_retried > 0, "{name}: no retry happened: {m:?}");
    eprintln!("{name}: {m:?}");
    producer.close(Duration::from_secs(5)).await.unwrap();
    support::verify_read_back(&bootstrap, &topic, PARTITIONS, RECORDS, acked, name).await;
    m
}

fn errors(
    mock: &rdkafka::mocking::MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
    errs: &[RDKafkaRespErr],
) {
    mock.request_errors(RDKafkaApiKey::Produce, errs);
}

#[tokio::test]
async fn retriable_broker_errors_lose_and_double_nothing() {
    under_faults("codes", 1, async |mock, _| {
        use RDKafkaRespErr::*;
        errors(
            mock,
            &[
                RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
            ],
        );
        tokio::time::sleep(Duration::from_millis(40)).await;
        errors(
            mock,
            &[
                RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
            ],
        );
    })
    .await;
}

#[tokio::test]
async fn dropped_connections_lose_and_double_nothing() {
    under_faults("disconnect", 1, async |mock, _| {
        for _ in 0..3 {
            errors(mock, &[RDKafkaRespErr::RD_KAFKA_RESP_ERR__TRANSPORT]);
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn leader_moves_lose_and_double_nothing() {
    under_faults("leader-move", 5, async |mock, topic| {
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
async fn broker_down_and_up_loses_and_doubles_nothing() {
    under_faults("broker-down", 5, async |mock, topic| {
        // Take down the broker leading partition 0 (the mock does not move
        // leaders by itself), bring it back, then move its partitions.
        mock.partition_leader(topic, 0, Some(2)).unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        mock.broker_down(2).unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        mock.broker_up(2).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        mock.broker_down(3).unwrap();
        for p in 0..PARTITIONS {
            mock.partition_leader(topic, p, Some(1)).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        mock.broker_up(3).unwrap();
    })
    .await;
}

#[tokio::test]
async fn lost_producer_state_takes_a_new_identity_without_loss_or_duplicates() {
    // UNKNOWN_PRODUCER_ID: the broker forgot the producer id (its state
    // expired with the log). OUT_OF_ORDER_SEQUENCE_NUMBER on the batch that
    // continues the acknowledged sequence: the broker lost the sequence.
    // Both refuse the batch; the producer takes a new id (KIP-360) and
    // renumbers what is queued.
    let m = under_faults("new-identity", 1, async |mock, _| {
        use RDKafkaRespErr::*;
        errors(mock, &[RD_KAFKA_RESP_ERR_UNKNOWN_PRODUCER_ID]);
        tokio::time::sleep(Duration::from_millis(60)).await;
        errors(mock, &[RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER]);
    })
    .await;
    assert!(
        m.producer_id_resets >= 1,
        "a new producer id was taken: {m:?}"
    );
}

/// A producer on a one-broker mock with short request and delivery
/// timeouts, warmed up (producer id and connection) by one acknowledged
/// record on topic `t`.
async fn one_broker_producer(
    mock: &rdkafka::mocking::MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
    delivery_timeout: Duration,
) -> Producer<(), String> {
    mock.create_topic("t", 1, 1).unwrap();
    let client = Client::builder(mock.bootstrap_servers())
        .reconnect_backoff_max(Duration::from_millis(100))
        .build()
        .await
        .unwrap();
    let producer: Producer<(), String> = Producer::builder(&client)
        .request_timeout(Duration::from_millis(300))
        .delivery_timeout(delivery_timeout)
        .linger(Duration::ZERO)
        .build()
        .unwrap();
    producer
        .send(ProducerRecord::new("t", "first".to_string()))
        .await
        .unwrap();
    producer
}

#[tokio::test]
async fn timed_out_records_say_whether_they_may_have_been_written() {
    let mock = support::mock_cluster(1);
    let producer = one_broker_producer(&mock, Duration::from_millis(1200)).await;

    // The broker answers too slowly: each request times out client-side
    // after it was written, so the record may be in the log.
    mock.broker_round_trip_time(1, Duration::from_millis(2000))
        .unwrap();
    let slow = producer
        .send(ProducerRecord::new("t", "slow".to_string()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            slow,
            Error::DeliveryTimeout {
                maybe_written: true,
                ..
            }
        ),
        "{slow}"
    );
    assert!(slow.to_string().contains("may have been written"), "{slow}");
    mock.broker_round_trip_time(1, Duration::ZERO).unwrap();
}

#[tokio::test]
async fn records_that_never_left_are_reported_as_not_written() {
    support::init_tracing();
    let mock = support::mock_cluster(1);
    let producer = one_broker_producer(&mock, Duration::from_millis(1000)).await;
    // The only broker refuses connections: nothing can be written.
    mock.broker_down(1).unwrap();
    // The mock closes the producer's connection; give the client a moment to
    // read the end of stream. A record written into the closed socket before
    // the client noticed would rightly count as maybe written: the client
    // cannot tell whether the broker read it (the sender sends a lone record
    // at once, so without this pause the record can beat the notice).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let down = producer
        .send(ProducerRecord::new("t", "down".to_string()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            down,
            Error::DeliveryTimeout {
                maybe_written: false,
                ..
            }
        ),
        "{down}"
    );
    assert!(down.to_string().contains("was not written"), "{down}");
    let m = producer.metrics();
    assert_eq!((m.records_sent, m.records_failed), (1, 1));
}
