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

use support::Outage as _;

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

/// Broker 2 leads partitions 1 and 4 of six; brokers 1 and 3 the others.
const DEAD: i32 = 2;
/// Records per partition while broker 2 is down.
const PER_PARTITION: usize = 100;
/// How long a wave of the healthy partitions' records may take while
/// broker 2 is down: far below the dead broker's reconnect backoff (8 s),
/// which the whole send path waited out before it had a sink per broker.
const HEALTHY_LIVENESS: Duration = Duration::from_secs(3);

fn leader_of(p: i32) -> i32 {
    p % 3 + 1
}

/// A mock cluster whose six partitions are led round-robin by brokers
/// 1..=3, and a producer warmed up on every broker (records 0..6, one per
/// partition). Reconnecting to a broker that refused waits 8 s.
async fn dead_broker_setup(
    delivery_timeout: Option<Duration>,
) -> (
    rdkafka::mocking::MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
    Producer<String, String>,
    support::Acked,
) {
    support::init_tracing();
    let mock = support::mock_cluster(3);
    mock.create_topic("dead", PARTITIONS, 3).unwrap();
    for p in 0..PARTITIONS {
        mock.partition_leader("dead", p, Some(leader_of(p)))
            .unwrap();
    }
    let client = Client::builder(mock.bootstrap_servers())
        .reconnect_backoff(Duration::from_secs(8))
        .reconnect_backoff_max(Duration::from_secs(8))
        .build()
        .await
        .unwrap();
    let mut builder = Producer::builder(&client);
    if let Some(t) = delivery_timeout {
        builder = builder
            .delivery_timeout(t)
            .request_timeout(t / 2)
            .linger(Duration::from_millis(5));
    }
    let producer: Producer<String, String> = builder.build().unwrap();
    let mut acked = support::Acked::new();
    for p in 0..PARTITIONS {
        let record = ProducerRecord::new("dead", format!("value-{p}")).partition(p);
        let meta = producer.send(record).await.unwrap();
        acked
            .entry(p)
            .or_default()
            .push((meta.offset.unwrap(), p as usize));
    }
    mock.take_down(DEAD).unwrap();
    // Let the client read the end of the stream the mock closed, so the
    // records below are not written into a dead socket (which would make
    // them "maybe written").
    tokio::time::sleep(Duration::from_millis(500)).await;
    (mock, producer, acked)
}

/// Records per partition in each wave.
const PER_WAVE: usize = 20;

/// Produces PER_PARTITION numbered records to every partition (numbers from
/// 6 on) in waves, a few hundred ms apart so that the dead broker's sink is
/// well into its reconnect backoff. Each wave's records for the healthy
/// brokers' partitions must be acknowledged within HEALTHY_LIVENESS; the
/// dead broker's deliveries are returned, each with its record number and
/// partition.
async fn produce_in_waves(
    producer: &Producer<String, String>,
    acked: &mut support::Acked,
) -> Vec<(usize, i32, kafkit::producer::DeliveryFuture)> {
    let mut dead = Vec::new();
    for wave in 0..PER_PARTITION / PER_WAVE {
        let mut healthy = Vec::new();
        for k in wave * PER_WAVE..(wave + 1) * PER_WAVE {
            for p in 0..PARTITIONS {
                let i = PARTITIONS as usize * (k + 1) + p as usize;
                let record = ProducerRecord::new("dead", format!("value-{i}")).partition(p);
                let d = producer.enqueue(record).await.unwrap();
                if leader_of(p) == DEAD {
                    dead.push((i, p, d));
                } else {
                    healthy.push((i, p, d));
                }
            }
        }
        let n = healthy.len();
        let count = tokio::time::timeout(HEALTHY_LIVENESS, async {
            let mut count = 0;
            for (i, p, d) in healthy {
                let meta = d.await.unwrap_or_else(|e| panic!("record {i}: {e}"));
                assert_eq!(meta.partition, p);
                acked.entry(p).or_default().push((meta.offset.unwrap(), i));
                count += 1;
            }
            count
        })
        .await
        .unwrap_or_else(|_| {
            panic!("wave {wave}: records of healthy brokers' partitions wait for the dead broker")
        });
        assert_eq!(count, n);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    dead
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_broker_delays_only_its_partitions_which_land_once_when_it_returns() {
    let (mock, producer, mut acked) = dead_broker_setup(None).await;
    let dead = produce_in_waves(&producer, &mut acked).await;
    let m = producer.metrics();
    let waiting = (2 * PER_PARTITION) as u64;
    assert_eq!(
        (m.records_outstanding, m.records_failed),
        (waiting, 0),
        "the dead broker's records wait: {m:?}"
    );
    mock.bring_up(DEAD).unwrap();
    // Reconnecting waits out the 8 s backoff, then the records go.
    tokio::time::timeout(Duration::from_secs(60), async {
        for (i, p, d) in dead {
            let meta = d.await.unwrap_or_else(|e| panic!("record {i}: {e}"));
            if let Some(offset) = meta.offset {
                acked.entry(p).or_default().push((offset, i));
            }
        }
    })
    .await
    .expect("the dead broker's records are delivered once it is back");
    let total = PARTITIONS as usize * (PER_PARTITION + 1);
    let m = producer.metrics();
    assert_eq!(
        (m.records_sent, m.records_failed, m.records_outstanding),
        (total as u64, 0, 0),
        "{m:?}"
    );
    producer.close(Duration::from_secs(5)).await.unwrap();
    support::verify_read_back(
        &mock.bootstrap_servers(),
        "dead",
        PARTITIONS,
        total,
        acked,
        "dead broker",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_brokers_records_time_out_naming_the_broker_while_the_rest_land() {
    let delivery_timeout = Duration::from_secs(3);
    let (mock, producer, mut acked) = dead_broker_setup(Some(delivery_timeout)).await;
    let dead = produce_in_waves(&producer, &mut acked).await;
    let address = mock
        .bootstrap_servers()
        .split(',')
        .nth((DEAD - 1) as usize)
        .unwrap()
        .to_string();
    let failed = tokio::time::timeout(Duration::from_secs(30), async {
        let mut failed = 0;
        for (i, _, d) in dead {
            let e = d.await.expect_err("the dead broker's records time out");
            assert!(
                matches!(
                    &e,
                    Error::DeliveryTimeout {
                        maybe_written: false,
                        last_error: Some(_),
                        ..
                    }
                ),
                "record {i}: {e}"
            );
            let text = e.to_string();
            assert!(
                text.contains(&format!("broker={DEAD} ({address})")),
                "record {i}: the error names the broker and its address: {text}"
            );
            failed += 1;
        }
        failed
    })
    .await
    .expect("delivery.timeout.ms bounds the wait");
    assert_eq!(failed, 2 * PER_PARTITION);
    let m = producer.metrics();
    assert_eq!(
        (m.records_failed, m.records_outstanding),
        (failed as u64, 0),
        "{m:?}"
    );
    mock.bring_up(DEAD).unwrap();
    producer.close(Duration::from_secs(5)).await.unwrap();
}
