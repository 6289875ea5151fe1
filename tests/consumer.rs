//! The consumer end to end against real brokers (Tansu and librdkafka's
//! mock cluster): librdkafka and kafkit's producer write, an assigned
//! kafkit consumer reads, and every record is accounted for (present once,
//! per-partition offset order, key/value/headers/timestamp intact).

mod support;

use support::Outage as _;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use bytes::Bytes;
use kafkit::consumer::{Consumer, ConsumerBuilder, ConsumerRecord, OffsetAndMetadata, OffsetReset};
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
    assert_eq!(
        got.len(),
        2 * n,
        "{broker}: read {} of {}",
        got.len(),
        2 * n
    );
    assert_partition_order(&got, &format!("{broker}"));

    let mut seen = HashSet::new();
    for r in &got {
        let value = std::str::from_utf8(r.value.as_deref().unwrap()).unwrap();
        assert!(
            seen.insert(value.to_string()),
            "{broker}: {value} read twice"
        );
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
            assert_eq!(
                r.timestamp,
                BASE_TS + id as i64,
                "{broker}: timestamp of {value}"
            );
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
        assert_eq!(
            consumer.position(&tp).await.unwrap(),
            last + 1,
            "{broker}: {tp}"
        );
        assert_eq!(consumer.lag(&tp), Some(0), "{broker}: lag of {tp}");
    }
    let m = consumer.metrics();
    assert_eq!(m.records_consumed, 2 * n as u64);
    assert!(
        m.records_fetched >= 2 * n as u64 && m.fetch_requests > 0,
        "{m:?}"
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_compression_written_by_librdkafka_is_read() {
    support::for_each_broker(async |broker| {
        let bootstrap = broker.bootstrap();
        let client = client(&bootstrap).await;
        for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
            let topic = support::unique_topic(&format!("consume-{codec}"));
            broker.create_topic(&topic, PARTITIONS).await;
            // ~0.5 MB in all: well under the mock's ~5 MiB per partition.
            let n = 4_000;
            let records: Vec<PeerInput> = (0..n)
                .map(|i| PeerInput {
                    partition: Some(i as i32 % PARTITIONS),
                    key: Some(format!("key-{i}").into_bytes()),
                    value: Some(format!("{i:06}-{}", "x".repeat(100)).into_bytes()),
                    headers: vec![("codec".into(), Some(codec.as_bytes().to_vec()))],
                })
                .collect();
            support::produce_records_with_rdkafka(&bootstrap, &topic, &records, codec).await;
            let consumer = consumer(&client).build().unwrap();
            consumer.assign(partitions(&topic, PARTITIONS)).unwrap();
            let got = drain(&consumer, n, Duration::from_secs(60)).await;
            assert_eq!(got.len(), n, "{broker} {codec}");
            assert_partition_order(&got, &format!("{broker} {codec}"));
            let mut seen = vec![false; n];
            for r in &got {
                let v = r.value.as_deref().unwrap();
                let i: usize = std::str::from_utf8(&v[..6]).unwrap().parse().unwrap();
                assert!(!seen[i], "{broker} {codec}: record {i} twice");
                seen[i] = true;
                assert_eq!(r.key.as_deref(), Some(format!("key-{i}").as_bytes()));
                assert_eq!(r.partition, i as i32 % PARTITIONS);
                assert_eq!(
                    header(r, "codec").flatten().as_deref(),
                    Some(codec.as_bytes())
                );
            }
            consumer.close(Duration::from_secs(1)).await;
        }
    })
    .await;
}

/// kafkit's producer writes `n` records to `partition`, one request each
/// (awaited one by one), so every batch holds one record: then Tansu's
/// ListOffsets(LATEST), which answers the last batch's base offset + 1,
/// equals the high watermark too.
async fn produce_singly(client: &Client, topic: &str, partition: i32, from: usize, n: usize) {
    let producer: Producer<String, String> = Producer::builder(client).build().unwrap();
    for i in from..from + n {
        producer
            .send(
                ProducerRecord::new(topic, format!("v-{i}"))
                    .partition(partition)
                    .timestamp(BASE_TS + i as i64),
            )
            .await
            .unwrap();
    }
    producer.close(Duration::from_secs(5)).await.unwrap();
}

/// Produces `n` records to `partition` in a few large batches.
async fn produce_batched(client: &Client, topic: &str, partition: i32, n: usize) {
    let producer: Producer<String, String> = Producer::builder(client).build().unwrap();
    let mut deliveries = Vec::new();
    for i in 0..n {
        let r = ProducerRecord::new(topic, format!("v-{i}"))
            .partition(partition)
            .timestamp(BASE_TS + i as i64);
        deliveries.push(producer.enqueue(r).await.unwrap());
    }
    producer.flush().await;
    for d in deliveries {
        d.await.unwrap();
    }
    producer.close(Duration::from_secs(5)).await.unwrap();
}

/// Polls until a record of `tp` arrives; returns the records of `tp` in
/// that poll.
async fn next_of(consumer: &Consumer<Bytes, Bytes>, tp: &TopicPartition) -> Vec<Rec> {
    for _ in 0..100 {
        let got: Vec<Rec> = consumer
            .poll(Duration::from_millis(200))
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.partition == tp.partition && *r.topic == *tp.topic)
            .collect();
        if !got.is_empty() {
            return got;
        }
    }
    panic!("no record of {tp} within 20 s");
}

fn value_index(r: &Rec) -> usize {
    std::str::from_utf8(r.value.as_deref().unwrap())
        .unwrap()
        .strip_prefix("v-")
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seek_position_pause_resume_lag_and_offset_lookups() {
    support::for_each_broker(async |broker| {
        let topic = support::unique_topic("seek");
        broker.create_topic(&topic, 2).await;
        let bootstrap = broker.bootstrap();
        let client = client(&bootstrap).await;
        produce_batched(&client, &topic, 0, 1000).await;
        produce_singly(&client, &topic, 1, 0, 20).await;
        let (p0, p1) = (
            TopicPartition::new(&*topic, 0),
            TopicPartition::new(&*topic, 1),
        );
        let consumer = consumer(&client).max_poll_records(50).build().unwrap();
        consumer.assign([p0.clone(), p1.clone()]).unwrap();
        assert_eq!(consumer.assignment(), vec![p0.clone(), p1.clone()]);

        let begin = consumer
            .beginning_offsets(&[p0.clone(), p1.clone()])
            .await
            .unwrap();
        assert_eq!(begin, BTreeMap::from([(p0.clone(), 0), (p1.clone(), 0)]));
        let end = consumer
            .end_offsets(&[p0.clone(), p1.clone()])
            .await
            .unwrap();
        assert_eq!(end[&p1], 20, "{broker}: single-record batches");
        if broker.kind().list_offsets_latest_is_high_watermark() {
            assert_eq!(end[&p0], 1000, "{broker}");
        } else {
            // Tansu: the last batch's base offset + 1.
            assert!((1..=1000).contains(&end[&p0]), "{broker}: {}", end[&p0]);
        }

        // A position is looked up lazily (earliest here).
        assert_eq!(consumer.position(&p0).await.unwrap(), 0);
        consumer.seek(&p0, 500).unwrap();
        assert_eq!(consumer.position(&p0).await.unwrap(), 500);
        let got = next_of(&consumer, &p0).await;
        assert_eq!(got[0].offset, 500, "{broker}: first record after seek");
        assert_eq!(value_index(&got[0]), 500);
        let last = got.last().unwrap().offset;
        assert_eq!(
            consumer.position(&p0).await.unwrap(),
            last + 1,
            "{broker}: delivered position"
        );
        // Lag follows the delivered position, not the prefetched one.
        assert_eq!(consumer.lag(&p0), Some(1000 - (last + 1)), "{broker}");

        // Pausing hides p0 and keeps its position; resuming continues from
        // exactly there.
        consumer.pause(std::slice::from_ref(&p0)).unwrap();
        assert_eq!(consumer.paused(), vec![p0.clone()]);
        let before = consumer.position(&p0).await.unwrap();
        for _ in 0..3 {
            let batch = consumer.poll(Duration::from_millis(100)).await.unwrap();
            assert!(
                batch.iter().all(|r| r.partition != 0),
                "{broker}: paused partition delivered"
            );
        }
        assert_eq!(consumer.position(&p0).await.unwrap(), before);
        consumer.resume(std::slice::from_ref(&p0)).unwrap();
        assert!(consumer.paused().is_empty());
        let got = next_of(&consumer, &p0).await;
        assert_eq!(
            got[0].offset, before,
            "{broker}: resumed without gap or repeat"
        );

        // seek_to_beginning on one partition only.
        consumer
            .seek_to_beginning(std::slice::from_ref(&p1))
            .unwrap();
        let got = next_of(&consumer, &p1).await;
        assert_eq!(got[0].offset, 0, "{broker}");

        // seek_to_end, then new records arrive and exactly those are read.
        consumer.seek_to_end(std::slice::from_ref(&p1)).unwrap();
        assert_eq!(consumer.position(&p1).await.unwrap(), 20, "{broker}");
        produce_singly(&client, &topic, 1, 20, 3).await;
        let got = next_of(&consumer, &p1).await;
        assert_eq!(got[0].offset, 20, "{broker}");
        assert_eq!(value_index(&got[0]), 20);

        // A seek discards prefetched records and lag follows it at once.
        consumer.seek(&p0, 900).unwrap();
        assert_eq!(consumer.lag(&p0), Some(100), "{broker}");
        let got = next_of(&consumer, &p0).await;
        assert_eq!(got[0].offset, 900, "{broker}");

        // Offsets for times: record i was stamped BASE_TS + i.
        let found = consumer
            .offsets_for_times(&BTreeMap::from([
                (p0.clone(), BASE_TS + 250),
                (p1.clone(), BASE_TS + 10_000),
            ]))
            .await
            .unwrap();
        if broker.kind() == BrokerKind::External {
            assert_eq!(found[&p0].map(|o| o.offset), Some(250), "{broker}");
            assert_eq!(found[&p1], None, "{broker}: no record that recent");
        } else {
            // Neither test broker implements timestamp lookups (found here):
            // Tansu answers offset 0 with its own append time, the mock
            // answers -1 (no match). Only the call's success is checked.
            assert_eq!(found.len(), 2, "{broker}: {found:?}");
        }

        assert!(consumer.seek(&TopicPartition::new("other", 0), 1).is_err());
        consumer.close(Duration::from_secs(1)).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_offset_reset_earliest_latest_and_none() {
    support::for_each_broker(async |broker| {
        let topic = support::unique_topic("reset");
        broker.create_topic(&topic, 1).await;
        let client = client(&broker.bootstrap()).await;
        produce_singly(&client, &topic, 0, 0, 30).await;
        let tp = TopicPartition::new(&*topic, 0);

        let earliest = consumer(&client).build().unwrap();
        earliest.assign([tp.clone()]).unwrap();
        assert_eq!(next_of(&earliest, &tp).await[0].offset, 0, "{broker}");

        let latest = consumer(&client)
            .auto_offset_reset(OffsetReset::Latest)
            .build()
            .unwrap();
        latest.assign([tp.clone()]).unwrap();
        assert_eq!(latest.position(&tp).await.unwrap(), 30, "{broker}");
        assert!(
            latest
                .poll(Duration::from_millis(300))
                .await
                .unwrap()
                .is_empty()
        );
        produce_singly(&client, &topic, 0, 30, 2).await;
        let got = drain(&latest, 2, Duration::from_secs(20)).await;
        let offsets: Vec<i64> = got.iter().map(|r| r.offset).collect();
        assert_eq!(offsets, [30, 31], "{broker}: latest reads only new records");

        let none = consumer(&client)
            .auto_offset_reset(OffsetReset::None)
            .build()
            .unwrap();
        none.assign([tp.clone()]).unwrap();
        let err = none.poll(Duration::from_secs(1)).await.unwrap_err();
        let ctx = err.context().unwrap();
        assert_eq!(
            (ctx.topic.as_deref(), ctx.partition),
            (Some(&*topic), Some(0)),
            "{broker}: {err}"
        );
        // Sticky until a seek.
        assert!(none.poll(Duration::from_millis(100)).await.is_err());
        none.seek(&tp, 10).unwrap();
        assert_eq!(next_of(&none, &tp).await[0].offset, 10, "{broker}");

        if broker.kind() == BrokerKind::Tansu {
            // Tansu deviation (found here): a Fetch past the log end gets an
            // empty answer, never OFFSET_OUT_OF_RANGE, so there is nothing to
            // reset from. Checked with a raw Fetch so a change shows.
            assert_eq!(raw_fetch_error(&client, &topic, 5_000).await, 0);
            return;
        }
        // Out of range: none reports it, earliest resets.
        none.seek(&tp, 5_000).unwrap();
        let mut outcome = None;
        for _ in 0..50 {
            match none.poll(Duration::from_millis(200)).await {
                Err(e) => {
                    outcome = Some(e);
                    break;
                }
                Ok(r) => assert!(r.is_empty(), "{broker}: records past the end"),
            }
        }
        let err = outcome.unwrap_or_else(|| panic!("{broker}: no OFFSET_OUT_OF_RANGE within 10 s"));
        assert_eq!(
            err.code(),
            Some(ErrorCode::OFFSET_OUT_OF_RANGE),
            "{broker}: {err}"
        );
        assert_eq!(err.context().unwrap().partition, Some(0));
        earliest.seek(&tp, 5_000).unwrap();
        assert_eq!(
            next_of(&earliest, &tp).await[0].offset,
            0,
            "{broker}: reset to earliest"
        );
    })
    .await;
}

/// Consumes `topic` while `disturb` runs between polls at 1/3 (stage 1)
/// and 2/3 (stage 2) of the way, and 700 ms after stage 2 (stage 3);
/// asserts exactly-once, in-order delivery of `n` records.
async fn consume_through<F>(
    bootstrap: &str,
    topic: &str,
    n: usize,
    mut disturb: F,
) -> kafkit::consumer::ConsumerMetrics
where
    F: FnMut(usize),
{
    let client = client(bootstrap).await;
    produce_batched_spread(&client, topic, n).await;
    // A small prefetch bound, so fetching goes on all through the
    // disturbances instead of finishing before them.
    let consumer = consumer(&client)
        .max_poll_records(200)
        .max_partition_fetch_bytes(4096)
        .fetch_buffer_bytes(16 * 1024)
        .build()
        .unwrap();
    consumer.assign(partitions(topic, PARTITIONS)).unwrap();
    let mut got: Vec<Rec> = Vec::with_capacity(n);
    let mut stage = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    // Stage 3 comes 700 ms after stage 2, while polling goes on (a broker
    // that went down in stage 2 comes back in stage 3).
    let mut stage3_at = None;
    while got.len() < n && tokio::time::Instant::now() < deadline {
        if stage < 2 && got.len() >= n * (stage + 1) / 3 {
            stage += 1;
            disturb(stage);
            if stage == 2 {
                stage3_at = Some(tokio::time::Instant::now() + Duration::from_millis(700));
            }
        }
        if stage3_at.is_some_and(|at| tokio::time::Instant::now() >= at) {
            stage3_at = None;
            disturb(3);
        }
        got.extend(consumer.poll(Duration::from_millis(200)).await.unwrap());
    }
    for _ in 0..3 {
        got.extend(consumer.poll(Duration::from_millis(100)).await.unwrap());
    }
    assert_eq!(got.len(), n, "read {} of {n}", got.len());
    assert_partition_order(&got, topic);
    let mut seen = vec![false; n];
    for r in &got {
        let i = value_index(r);
        assert!(!seen[i], "record {i} twice");
        seen[i] = true;
    }
    let m = consumer.metrics();
    eprintln!("{topic}: {m:?}");
    consumer.close(Duration::from_secs(1)).await;
    m
}

async fn produce_batched_spread(client: &Client, topic: &str, n: usize) {
    // Small batches (~70 records), so the data spans hundreds of fetches.
    let producer: Producer<String, String> =
        Producer::builder(client).batch_size(1024).build().unwrap();
    let mut deliveries = Vec::new();
    for i in 0..n {
        let r = ProducerRecord::new(topic, format!("v-{i}")).partition(i as i32 % PARTITIONS);
        deliveries.push(producer.enqueue(r).await.unwrap());
    }
    producer.flush().await;
    for d in deliveries {
        d.await.unwrap();
    }
    producer.close(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mock_leader_moves_and_broker_down_up_lose_nothing() {
    let broker = TestBroker::mock(3);
    let mock = broker.mock_cluster().unwrap();
    let topic = support::unique_topic("moves");
    mock.create_topic(&topic, PARTITIONS, 3).unwrap();
    let bootstrap = broker.bootstrap();
    let meta_client = client(&bootstrap).await;
    let meta = meta_client.metadata_for(&[&topic]).await.unwrap();
    let leaders: Vec<i32> = (0..PARTITIONS)
        .map(|p| meta.leader_for(&topic, p).unwrap())
        .collect();
    let m = consume_through(&bootstrap, &topic, 30_000, |stage| match stage {
        1 => {
            for (p, leader) in leaders.iter().enumerate() {
                let next = leader % 3 + 1;
                mock.partition_leader(&topic, p as i32, Some(next)).unwrap();
            }
        }
        // Broker 2 (made the leader of two partitions that still have
        // data, so the consumer must go to it) goes away while the consumer
        // keeps polling, then comes back.
        2 => {
            mock.partition_leader(&topic, 0, Some(2)).unwrap();
            mock.partition_leader(&topic, 1, Some(2)).unwrap();
            mock.take_down(2).unwrap();
        }
        _ => mock.bring_up(2).unwrap(),
    })
    .await;
    assert!(
        m.fetch_errors > 0,
        "the broker going down was not noticed: {m:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mock_fetch_errors_and_disconnects_lose_nothing() {
    let broker = TestBroker::mock(3);
    let mock = broker.mock_cluster().unwrap();
    let topic = support::unique_topic("faults");
    mock.create_topic(&topic, PARTITIONS, 3).unwrap();
    let m = consume_through(&broker.bootstrap(), &topic, 30_000, |stage| {
        let errors: &[RDKafkaRespErr] = match stage {
            3 => return,
            1 => &[
                RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
            ],
            _ => &[
                RDKafkaRespErr::RD_KAFKA_RESP_ERR__TRANSPORT,
                RDKafkaRespErr::RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
                RDKafkaRespErr::RD_KAFKA_RESP_ERR__TRANSPORT,
            ],
        };
        mock.request_errors(RDKafkaApiKey::Fetch, errors);
    })
    .await;
    assert!(m.fetch_errors > 0, "no injected fault was hit: {m:?}");
}

/// The error code a bare Fetch of partition 0 at `offset` gets.
async fn raw_fetch_error(client: &Client, topic: &str, offset: i64) -> i16 {
    use kafkit::protocol::messages::fetch_request::{FetchPartition, FetchTopic};
    use kafkit::protocol::messages::{BrokerId, FetchRequest, TopicName};
    let leader = client
        .metadata_for(&[topic])
        .await
        .unwrap()
        .leader_for(topic, 0)
        .unwrap();
    let req = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(100)
        .with_max_bytes(1 << 20)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic(TopicName(topic.to_string().into()))
                .with_partitions(vec![
                    FetchPartition::default()
                        .with_fetch_offset(offset)
                        .with_partition_max_bytes(1 << 20),
                ]),
        ]);
    let resp = client.send_to(leader, req).await.unwrap();
    resp.responses[0].partitions[0].error_code
}

/// Closing the consumer, or the client under it, ends every fetch long
/// poll at once: no connection to the broker outlives the close, not even
/// an extra fetch lane's, which the client's pool does not hold. The mock
/// holds an empty Fetch for the whole `fetch.max.wait.ms` (9 s here), so a
/// lane that waited for its response would keep its socket for seconds.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_drops_every_fetch_connection_at_once() {
    for close_client in [false, true] {
        let broker = TestBroker::mock(1);
        let topic = support::unique_topic("close");
        broker.create_topic(&topic, 4).await;
        let ports = support::bootstrap_ports(&broker.bootstrap());
        // The topic check's own client goes away first.
        let before =
            support::wait_for_connections(&ports, Duration::from_secs(5), |n| n == 0).await;
        assert_eq!(before, 0, "connections before the test");

        let client = client(&broker.bootstrap()).await;
        let consumer: Consumer<Bytes, Bytes> = Consumer::builder(&client)
            .auto_offset_reset(OffsetReset::Earliest)
            .fetch_max_wait(Duration::from_secs(9))
            .fetch_connections_per_broker(4)
            .build()
            .unwrap();
        consumer.assign(partitions(&topic, 4)).unwrap();
        // Control connection(s) plus one per lane (4 partitions spread
        // over 4 lanes), every lane in its first long poll.
        let poll = consumer.poll(Duration::from_millis(300));
        assert!(poll.await.unwrap().is_empty());
        let open = support::wait_for_connections(&ports, Duration::from_secs(5), |n| n >= 5).await;
        assert!(open >= 5, "{open} connections: the lanes did not connect");
        assert_eq!(
            consumer.metrics().fetch_requests,
            0,
            "every lane is still in its first long poll"
        );

        if close_client {
            client.close(Duration::from_secs(1)).await;
        } else {
            consumer.close(Duration::from_secs(1)).await;
        }
        // After Client::close nothing is left; after Consumer::close the
        // client keeps its pooled connections (control, and the first
        // lane's, which is the pool's Fetch connection), but the three
        // extra lanes' own connections must be gone.
        let allowed = if close_client { 0 } else { open - 3 };
        let left =
            support::wait_for_connections(&ports, Duration::from_secs(1), |n| n <= allowed).await;
        assert!(
            left <= allowed,
            "{left} of {open} connections left 1 s after closing the {}",
            if close_client { "client" } else { "consumer" }
        );
        drop(consumer);
        client.close(Duration::from_secs(1)).await;
    }
}

/// A read_committed consumer's end offsets, `auto.offset.reset=latest`,
/// `seek_to_end` and lag stop at the last stable offset (ListOffsets at
/// isolation level 1, as Java's consumer asks); a read_uncommitted
/// consumer's go to the high watermark.
///
/// Tansu and `KAFKA_BOOTSTRAP` (the mock keeps no LSO). Each record of the
/// open transaction is awaited alone, so it is a batch of its own and
/// Tansu's ListOffsets(LATEST) quirk (last batch's base offset + 1) gives
/// the high watermark here too. Tansu deviation, measured: while a
/// transaction is open it answers ListOffsets(LATEST, read_committed) with
/// 0, below the LSO (its Fetch responses carry the right LSO, 5 here), so
/// on Tansu the read_committed lookups are checked to stay at or below the
/// LSO and to differ from the high watermark; on Apache Kafka they must be
/// the LSO.
async fn read_committed_ends_at_the_lso(broker: &TestBroker) {
    use kafkit::consumer::IsolationLevel;
    use kafkit::producer::TransactionalProducer;
    let topic = support::unique_topic("lso");
    broker.create_topic(&topic, 1).await;
    let client = client(&broker.bootstrap()).await;
    let tp = TopicPartition::new(&*topic, 0);
    // Offsets 0..=4 plain records; 5..=7 an open transaction.
    produce_singly(&client, &topic, 0, 0, 5).await;
    let txn: TransactionalProducer<Bytes, Bytes> =
        TransactionalProducer::builder(&client, format!("{topic}-txn"))
            .build()
            .unwrap();
    txn.init_transactions().await.unwrap();
    txn.begin_transaction().unwrap();
    for i in 0..3 {
        let r = ProducerRecord::new(&*topic, Bytes::from(format!("open-{i}"))).partition(0);
        txn.send(r).await.unwrap();
    }
    let (lso, hwm) = (5, 8);
    let exact_lso = broker.kind() != BrokerKind::Tansu;

    let build = |isolation: IsolationLevel, reset: OffsetReset| -> Consumer<Bytes, Bytes> {
        consumer(&client)
            .isolation_level(isolation)
            .auto_offset_reset(reset)
            .max_poll_records(1)
            .build()
            .unwrap()
    };
    for isolation in [
        IsolationLevel::ReadCommitted,
        IsolationLevel::ReadUncommitted,
    ] {
        let what = format!("{broker}, {isolation:?}");
        let check_end = |end: i64, lookup: &str| {
            if isolation == IsolationLevel::ReadUncommitted {
                assert_eq!(end, hwm, "{what}: {lookup}");
            } else if exact_lso {
                assert_eq!(end, lso, "{what}: {lookup}");
            } else {
                assert!(end <= lso, "{what}: {lookup} {end} is past the LSO {lso}");
            }
        };
        let c = build(isolation, OffsetReset::Latest);
        let ends = c.end_offsets(std::slice::from_ref(&tp)).await.unwrap();
        check_end(ends[&tp], "end_offsets");
        // auto.offset.reset=latest
        c.assign([tp.clone()]).unwrap();
        check_end(c.position(&tp).await.unwrap(), "reset=latest");
        // seek_to_end
        c.seek(&tp, 3).unwrap();
        c.seek_to_end(&[]).unwrap();
        check_end(c.position(&tp).await.unwrap(), "seek_to_end");
        c.close(Duration::from_secs(5)).await;
        // Lag once one record is delivered (position 1), from the Fetch
        // response's LSO or high watermark.
        let c = build(isolation, OffsetReset::Earliest);
        c.assign([tp.clone()]).unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while c.position(&tp).await.unwrap() < 1 || c.lag(&tp).is_none() {
            assert!(tokio::time::Instant::now() < deadline, "{what}: no record");
            if c.position(&tp).await.unwrap() < 1 {
                assert!(c.poll(Duration::from_millis(200)).await.unwrap().len() <= 1);
            } else {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        let end = match isolation {
            IsolationLevel::ReadCommitted => lso,
            _ => hwm,
        };
        assert_eq!(c.lag(&tp), Some(end - 1), "{what}: lag");
        c.close(Duration::from_secs(5)).await;
    }

    // Once the transaction commits (marker at 8), both ends are 9.
    txn.commit_transaction().await.unwrap();
    for isolation in [
        IsolationLevel::ReadCommitted,
        IsolationLevel::ReadUncommitted,
    ] {
        let c = build(isolation, OffsetReset::Latest);
        let ends = c.end_offsets(std::slice::from_ref(&tp)).await.unwrap();
        assert_eq!(ends[&tp], hwm + 1, "{broker}, {isolation:?} after commit");
        c.close(Duration::from_secs(5)).await;
    }
    txn.close(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_committed_end_offsets_lag_and_reset_latest_stop_at_the_last_stable_offset() {
    support::init_tracing();
    let mut brokers: Vec<TestBroker> = Vec::new();
    match TestBroker::tansu() {
        Ok(b) => brokers.push(b),
        Err(reason) => support::skip_or_fail(&format!("Tansu part skipped: {reason}")),
    }
    #[cfg(feature = "mock")]
    brokers.push(TestBroker::embedded().await);
    brokers.extend(TestBroker::external());
    for broker in &brokers {
        read_committed_ends_at_the_lso(broker).await;
    }
}

/// Group calls on a consumer built without `group.id` are usage errors:
/// `Error::InvalidArgument`, neither fatal nor retriable (before, a fatal
/// `Error::Config`). And `commit_record` commits the record's offset + 1
/// with its leader epoch (librdkafka's mock cluster).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_calls_without_group_id_are_usage_errors_and_commit_record_commits_offset_plus_one() {
    support::init_tracing();
    let broker = TestBroker::mock(1);
    let topic = support::unique_topic("no-group");
    broker.create_topic(&topic, 1).await;
    let client = client(&broker.bootstrap()).await;
    produce_singly(&client, &topic, 0, 0, 3).await;
    let tp = TopicPartition::new(&*topic, 0);
    let read_one = async |c: &Consumer<Bytes, Bytes>| -> Rec {
        c.assign([tp.clone()]).unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            assert!(tokio::time::Instant::now() < deadline, "no record");
            if let Some(r) = c
                .poll(Duration::from_millis(200))
                .await
                .unwrap()
                .into_iter()
                .next()
            {
                return r;
            }
        }
    };

    let plain = consumer(&client).max_poll_records(1).build().unwrap();
    let record = read_one(&plain).await;
    let usage = |what: &str, r: kafkit::Result<()>| match r {
        Err(e @ kafkit::Error::InvalidArgument { .. }) => {
            assert!(!e.is_fatal() && !e.is_retriable(), "{what}: {e:?}");
        }
        other => panic!("{what}: expected a usage error, got {other:?}"),
    };
    usage("subscribe", plain.subscribe([topic.as_str()]));
    usage("subscribe_pattern", plain.subscribe_pattern("no-group.*"));
    usage("commit_sync", plain.commit_sync().await);
    usage("commit_async", plain.commit_async().map(drop));
    usage(
        "commit_offsets",
        plain
            .commit_offsets(BTreeMap::from([(tp.clone(), OffsetAndMetadata::new(1))]))
            .await,
    );
    usage("commit_record", plain.commit_record(&record).await);
    usage(
        "committed",
        plain.committed(std::slice::from_ref(&tp)).await.map(drop),
    );
    usage("group_metadata", plain.group_metadata().map(drop));
    // The consumer still works: the error was not fatal.
    assert_eq!(plain.position(&tp).await.unwrap(), record.offset + 1);
    plain.close(Duration::from_secs(5)).await;

    let grouped = consumer(&client)
        .group_id(support::unique_topic("g"))
        .enable_auto_commit(false)
        .max_poll_records(1)
        .build()
        .unwrap();
    let record = read_one(&grouped).await;
    grouped.commit_record(&record).await.unwrap();
    let committed = grouped.committed(std::slice::from_ref(&tp)).await.unwrap();
    let committed = committed[&tp].clone().expect("an offset was committed");
    assert_eq!(committed.offset, record.offset + 1);
    assert_eq!(committed.leader_epoch, record.leader_epoch);
    grouped.close(Duration::from_secs(5)).await;
}
