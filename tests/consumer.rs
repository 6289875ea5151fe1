//! The consumer end to end against real brokers (Tansu and librdkafka's
//! mock cluster): librdkafka and kafkit's producer write, an assigned
//! kafkit consumer reads, and every record is accounted for (present once,
//! per-partition offset order, key/value/headers/timestamp intact).

mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use bytes::Bytes;
use kafkit::consumer::{Consumer, ConsumerBuilder, ConsumerRecord, OffsetReset};
use kafkit::producer::{Producer, ProducerRecord};
use kafkit::protocol::records::TimestampType;
use kafkit::{Client, ErrorCode, TopicPartition};
#[allow(unused_imports)]
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use support::{BrokerKind, PeerInput, TestBroker};

type Rec = ConsumerRecord<Bytes, Bytes>;

const PARTITIONS: i32 = 6;
/// Timestamps kafkit's producer stamps: record i gets BASE_TS + i.
const BASE_TS: i64 = 1_700_000_000_000;

fn partitions(topic: &str, n: i32) -> Vec<TopicPartition> {
    (0..n).map(|p| TopicPartition::new(topic, p)).collect()
}

async fn client(bootstrap: &str) -> Client {
    Client::builder(bootstrap)
        .request_timeout(Duration::from_secs(10))
        .build()
        .await
        .unwrap()
}

/// A consumer reading from the beginning, with short fetch waits (the mock
/// holds an empty fetch for the whole wait).
fn consumer(client: &Client) -> ConsumerBuilder<Bytes, Bytes> {
    Consumer::builder(client)
        .auto_offset_reset(OffsetReset::Earliest)
        .fetch_max_wait(Duration::from_millis(100))
}

/// Polls until `expected` records came (or `timeout`), then polls a little
/// longer so that a duplicate would show.
async fn drain(consumer: &Consumer<Bytes, Bytes>, expected: usize, timeout: Duration) -> Vec<Rec> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut got = Vec::with_capacity(expected);
    while got.len() < expected && tokio::time::Instant::now() < deadline {
        let batch = consumer
            .poll(Duration::from_millis(200))
            .await
            .unwrap_or_else(|e| panic!("poll after {} records: {e}", got.len()));
        assert!(batch.len() <= consumer.config().max_poll_records);
        got.extend(batch);
    }
    for _ in 0..3 {
        got.extend(consumer.poll(Duration::from_millis(100)).await.unwrap());
    }
    got
}

/// Every partition's records come in strictly increasing offsets.
fn assert_partition_order(records: &[Rec], what: &str) {
    let mut last: HashMap<i32, i64> = HashMap::new();
    for r in records {
        if let Some(prev) = last.insert(r.partition, r.offset) {
            assert!(
                r.offset > prev,
                "{what}: partition {} went from {prev} to {}",
                r.partition,
                r.offset
            );
        }
    }
}

fn header(r: &Rec, key: &str) -> Option<Option<Bytes>> {
    r.last_header(key).map(|h| h.value.clone())
}

/// librdkafka writes `n` records and kafkit's producer writes `n` more to
/// six partitions; an assigned consumer reads all 2n exactly once.
async fn both_producers_read_exactly_once(broker: &TestBroker, n: usize) {
    let topic = support::unique_topic("consume-all");
    broker.create_topic(&topic, PARTITIONS).await;
    let bootstrap = broker.bootstrap();

    let peer: Vec<PeerInput> = (0..n)
        .map(|i| PeerInput {
            partition: Some(i as i32 % PARTITIONS),
            key: (i % 5 != 0).then(|| format!("rk-{i}").into_bytes()),
            value: Some(format!("rd-{i}").into_bytes()),
            headers: vec![
                ("id".into(), Some(i.to_string().into_bytes())),
                ("nothing".into(), None),
            ],
        })
        .collect();
    let before = now_ms();
    support::produce_records_with_rdkafka(&bootstrap, &topic, &peer, "none").await;
    let after = now_ms();

    let client = client(&bootstrap).await;
    let producer: Producer<String, String> = Producer::builder(&client).build().unwrap();
    let mut deliveries = Vec::with_capacity(n);
    for i in 0..n {
        let mut r = ProducerRecord::new(topic.as_str(), format!("kf-{i}"))
            .partition(i as i32 % PARTITIONS)
            .timestamp(BASE_TS + i as i64)
            .header("id", i.to_string());
        if i % 7 != 0 {
            r = r.key(format!("kk-{i}"));
        }
        deliveries.push(producer.enqueue(r).await.unwrap());
    }
    producer.flush().await;
    for d in deliveries {
        d.await.unwrap();
    }
    producer.close(Duration::from_secs(5)).await.unwrap();

    let consumer = consumer(&client).build().unwrap();
    consumer.assign(partitions(&topic, PARTITIONS)).unwrap();
    let got = drain(&consumer, 2 * n, Duration::from_secs(120)).await;
    assert_eq!(got.len(), 2 * n, "{broker}: read {} of {}", got.len(), 2 * n);
    assert_partition_order(&got, &format!("{broker}"));

    let mut seen = HashSet::new();
    for r in &got {
        let value = std::str::from_utf8(r.value.as_deref().unwrap()).unwrap();
        assert!(seen.insert(value.to_string()), "{broker}: {value} read twice");
        let id: usize = header(r, "id")
            .flatten()
            .map(|v| std::str::from_utf8(&v).unwrap().parse().unwrap())
            .unwrap();
        assert_eq!(r.partition, id as i32 % PARTITIONS, "{broker}: {value}");
        assert_eq!(r.timestamp_type, TimestampType::CreateTime);
        if let Some(i) = value.strip_prefix("rd-") {
            assert_eq!(i, id.to_string());
            let key = (id % 5 != 0).then(|| Bytes::from(format!("rk-{id}")));
            assert_eq!(r.key, key, "{broker}: key of {value}");
            assert_eq!(header(r, "nothing"), Some(None), "{broker}: null header");
            assert!(
                (before - 1000..=after + 1000).contains(&r.timestamp),
                "{broker}: timestamp {} of {value} outside the produce window",
                r.timestamp
            );
        } else {
            let i = value.strip_prefix("kf-").unwrap();
            assert_eq!(i, id.to_string());
            let key = (id % 7 != 0).then(|| Bytes::from(format!("kk-{id}")));
            assert_eq!(r.key, key, "{broker}: key of {value}");
            assert_eq!(r.timestamp, BASE_TS + id as i64, "{broker}: timestamp of {value}");
        }
    }
    // Everything delivered: positions sit at the ends, lag is zero.
    for tp in partitions(&topic, PARTITIONS) {
        let last = got
            .iter()
            .filter(|r| r.partition == tp.partition)
            .map(|r| r.offset)
            .max()
            .unwrap();
        assert_eq!(consumer.position(&tp).await.unwrap(), last + 1, "{broker}: {tp}");
        assert_eq!(consumer.lag(&tp), Some(0), "{broker}: lag of {tp}");
    }
    let m = consumer.metrics();
    assert_eq!(m.records_consumed, 2 * n as u64);
    assert!(m.records_fetched >= 2 * n as u64 && m.fetch_requests > 0, "{m:?}");
    consumer.close(Duration::from_secs(1)).await;
    assert!(matches!(
        consumer.poll(Duration::ZERO).await,
        Err(kafkit::Error::Closed)
    ));
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_thousand_records_from_two_producers_read_exactly_once() {
    support::for_each_broker(async |broker| {
        both_producers_read_exactly_once(broker, 50_000).await;
    })
    .await;
}
