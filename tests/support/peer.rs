//! librdkafka as an independent peer client: it reads back what kafkit
//! wrote and writes what kafkit must read.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::future_producer::OwnedDeliveryResult;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

/// How long the peer helpers wait on librdkafka for one setup step.
const PEER_TIMEOUT: Duration = Duration::from_secs(30);

/// A record for [`produce_records_with_rdkafka`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerInput {
    /// Target partition; `None` lets librdkafka's partitioner choose.
    pub partition: Option<i32>,
    /// Record key (`None` = null key).
    pub key: Option<Vec<u8>>,
    /// Record value (`None` = null value, a tombstone).
    pub value: Option<Vec<u8>>,
    /// Headers in order (`None` value = null header value).
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

/// A record read back by [`consume_with_rdkafka`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerRecord {
    /// Partition it was read from.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// Key (`None` = null).
    pub key: Option<Vec<u8>>,
    /// Value (`None` = null).
    pub value: Option<Vec<u8>>,
    /// Headers in order (`None` value = null header value).
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    /// Timestamp in ms, if the record has one.
    pub timestamp: Option<i64>,
}

/// Produce `(key, value)` records with librdkafka (acks=all, idempotent,
/// `compression` = `none`/`gzip`/`snappy`/`lz4`/`zstd`), partitioned by
/// librdkafka. Returns each record's `(partition, offset)`, in input order.
/// Panics if any record is not delivered.
pub async fn produce_with_rdkafka(
    bootstrap: &str,
    topic: &str,
    records: &[(Option<Vec<u8>>, Vec<u8>)],
    compression: &str,
) -> Vec<(i32, i64)> {
    let records: Vec<PeerInput> = records
        .iter()
        .map(|(key, value)| PeerInput {
            key: key.clone(),
            value: Some(value.clone()),
            ..PeerInput::default()
        })
        .collect();
    produce_records_with_rdkafka(bootstrap, topic, &records, compression).await
}

/// [`produce_with_rdkafka`] with full control of partition, null values and
/// headers.
pub async fn produce_records_with_rdkafka(
    bootstrap: &str,
    topic: &str,
    records: &[PeerInput],
    compression: &str,
) -> Vec<(i32, i64)> {
    produce_records_with_rdkafka_config(bootstrap, topic, records, compression, &[]).await
}

/// [`produce_records_with_rdkafka`] with extra librdkafka settings (e.g.
/// `security.protocol`, `sasl.*`).
pub async fn produce_records_with_rdkafka_config(
    bootstrap: &str,
    topic: &str,
    records: &[PeerInput],
    compression: &str,
    config: &[(&str, &str)],
) -> Vec<(i32, i64)> {
    let mut cc = ClientConfig::new();
    for (k, v) in config {
        cc.set(*k, *v);
    }
    let producer: FutureProducer = cc
        .set("bootstrap.servers", bootstrap)
        .set("compression.type", compression)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "30000")
        .create()
        .unwrap_or_else(|e| panic!("rdkafka producer for {bootstrap}: {e}"));

    let mut pending = VecDeque::new();
    let mut delivered = Vec::with_capacity(records.len());
    for record in records {
        let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
        for (key, value) in &record.headers {
            headers = headers.insert(Header {
                key: key.as_str(),
                value: value.as_deref(),
            });
        }
        let mut future_record: FutureRecord<'_, [u8], [u8]> =
            FutureRecord::to(topic).headers(headers);
        future_record.partition = record.partition;
        future_record.key = record.key.as_deref();
        future_record.payload = record.value.as_deref();
        loop {
            match producer.send_result(future_record) {
                Ok(delivery) => {
                    pending.push_back(delivery);
                    break;
                }
                // librdkafka's local queue is full: wait for the oldest
                // record to be acknowledged, then try again.
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    future_record = back;
                    let oldest = pending
                        .pop_front()
                        .expect("queue full with nothing in flight");
                    delivered.push(delivery_result(oldest.await, topic));
                }
                Err((e, _)) => panic!("rdkafka could not enqueue a record for {topic}: {e}"),
            }
        }
    }
    for delivery in pending {
        delivered.push(delivery_result(delivery.await, topic));
    }
    delivered
}

/// Unpack one delivery report. The error of the outer `Result` (a dropped
/// oneshot) is generic so we need not name rdkafka's `futures` dependency.
fn delivery_result<E>(outcome: Result<OwnedDeliveryResult, E>, topic: &str) -> (i32, i64) {
    match outcome {
        Ok(Ok(delivery)) => (delivery.partition, delivery.offset),
        Ok(Err((e, _))) => panic!("rdkafka failed to deliver a record to {topic}: {e}"),
        Err(_) => panic!("rdkafka dropped a delivery report for {topic}"),
    }
}

/// Read `topic` from the beginning of every partition with a librdkafka
/// consumer (manual assignment, no group, librdkafka's default
/// `isolation.level=read_committed`), until at least `expected` records
/// arrived and every partition is at its end, or `timeout` passed.
///
/// Returns everything read, sorted by (partition, offset): a test asserts
/// on the count itself, so a short read or a duplicate shows as a failure
/// with the records in hand. Panics on consumer errors.
pub async fn consume_with_rdkafka(
    bootstrap: &str,
    topic: &str,
    expected: usize,
    timeout: Duration,
) -> Vec<PeerRecord> {
    consume_with_rdkafka_config(bootstrap, topic, expected, timeout, &[]).await
}

/// [`consume_with_rdkafka`] with extra librdkafka settings (e.g.
/// `security.protocol`, `sasl.*`).
pub async fn consume_with_rdkafka_config(
    bootstrap: &str,
    topic: &str,
    expected: usize,
    timeout: Duration,
    config: &[(&str, &str)],
) -> Vec<PeerRecord> {
    let bootstrap = bootstrap.to_string();
    let topic = topic.to_string();
    let config: Vec<(String, String)> = config
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    // librdkafka's poll blocks: keep it off the caller's runtime thread.
    tokio::task::spawn_blocking(move || {
        consume_blocking(&bootstrap, &topic, expected, timeout, &config)
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

fn consume_blocking(
    bootstrap: &str,
    topic: &str,
    expected: usize,
    timeout: Duration,
    config: &[(String, String)],
) -> Vec<PeerRecord> {
    let mut cc = ClientConfig::new();
    for (k, v) in config {
        cc.set(k, v);
    }
    let consumer: BaseConsumer = cc
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "kafkit-test-peer")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        // The mock cluster holds an empty fetch for the full wait.
        .set("fetch.wait.max.ms", "100")
        .create()
        .unwrap_or_else(|e| panic!("rdkafka consumer for {bootstrap}: {e}"));

    let partitions = partition_ids(&consumer, topic, PEER_TIMEOUT);
    let mut assignment = TopicPartitionList::new();
    for &p in &partitions {
        assignment
            .add_partition_offset(topic, p, Offset::Beginning)
            .unwrap_or_else(|e| panic!("assign {topic}/{p}: {e}"));
    }
    consumer
        .assign(&assignment)
        .unwrap_or_else(|e| panic!("assign {topic}: {e}"));

    let mut at_end: HashSet<i32> = HashSet::new();
    let mut records = Vec::new();
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if records.len() >= expected && at_end.len() == partitions.len() {
            break;
        }
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Err(KafkaError::PartitionEOF(p))) => {
                at_end.insert(p);
            }
            Some(Err(e)) => panic!("rdkafka consumer error on {topic}: {e}"),
            Some(Ok(m)) => {
                at_end.remove(&m.partition());
                let headers = m
                    .headers()
                    .map(|hs| {
                        hs.iter()
                            .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                            .collect()
                    })
                    .unwrap_or_default();
                records.push(PeerRecord {
                    partition: m.partition(),
                    offset: m.offset(),
                    key: m.key().map(<[u8]>::to_vec),
                    value: m.payload().map(<[u8]>::to_vec),
                    headers,
                    timestamp: m.timestamp().to_millis(),
                });
            }
        }
    }
    records.sort_by_key(|r| (r.partition, r.offset));
    records
}

/// The partition ids of `topic`, waiting (bounded) until metadata has them.
fn partition_ids(client: &BaseConsumer, topic: &str, timeout: Duration) -> Vec<i32> {
    let deadline = Instant::now() + timeout;
    let mut last = String::from("no answer");
    while Instant::now() < deadline {
        match client.fetch_metadata(Some(topic), Duration::from_secs(5)) {
            Ok(metadata) => match metadata.topics().iter().find(|t| t.name() == topic) {
                Some(t) if t.error().is_none() && !t.partitions().is_empty() => {
                    let mut ids: Vec<i32> = t.partitions().iter().map(|p| p.id()).collect();
                    ids.sort_unstable();
                    return ids;
                }
                Some(t) => last = format!("topic error {:?}", t.error()),
                None => last = "topic absent".to_string(),
            },
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no metadata for {topic} within {timeout:?}: {last}")
}

/// Create `topic` (replication factor 1) through librdkafka's AdminClient
/// and wait until its metadata shows all `partitions`. Panics on failure,
/// including when the topic exists. Not for the mock cluster, which has no
/// CreateTopics: use [`TestBroker::create_topic`] or
/// `MockCluster::create_topic` there.
pub async fn create_topic_with_rdkafka(bootstrap: &str, topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap_or_else(|e| panic!("rdkafka admin for {bootstrap}: {e}"));
    let new_topic = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let options = AdminOptions::new().operation_timeout(Some(PEER_TIMEOUT));
    let results = admin
        .create_topics([&new_topic], &options)
        .await
        .unwrap_or_else(|e| panic!("CreateTopics {topic}: {e}"));
    for result in results {
        if let Err((name, code)) = result {
            panic!("CreateTopics {name}: {code}");
        }
    }
    drop(admin);
    wait_for_topic(bootstrap, topic, partitions).await;
}

/// Wait (bounded) until `topic`'s metadata shows `partitions` partitions.
pub(super) async fn wait_for_topic(bootstrap: &str, topic: &str, partitions: i32) {
    let bootstrap = bootstrap.to_string();
    let topic = topic.to_string();
    let found = tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .create()
            .unwrap_or_else(|e| panic!("rdkafka client for {bootstrap}: {e}"));
        partition_ids(&consumer, &topic, PEER_TIMEOUT)
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    assert_eq!(
        found.len(),
        usize::try_from(partitions).unwrap_or(0),
        "partitions of the created topic: {found:?}"
    );
}
