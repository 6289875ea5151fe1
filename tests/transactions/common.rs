//! Helpers: building producers, and reading a partition's log raw (data
//! records and control markers, with their offsets).
#![allow(dead_code)] // each test module uses a different part

use std::time::Duration;

use kafka_protocol::protocol::StrBytes;
use kafkit::Client;
use kafkit::producer::{ProducerRecord, TransactionalProducer};
use kafkit::protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafkit::protocol::messages::{BrokerId, FetchRequest, TopicName};
use kafkit::protocol::records::{ControlRecord, ControlType, decode_batches};

pub async fn client(bootstrap: &str) -> Client {
    Client::builder(bootstrap)
        .reconnect_backoff_max(Duration::from_millis(200))
        .build()
        .await
        .unwrap_or_else(|e| panic!("client for {bootstrap}: {e}"))
}

/// A transactional producer with short timeouts, initialised.
pub async fn producer(
    client: &Client,
    transactional_id: &str,
) -> TransactionalProducer<String, String> {
    let p = TransactionalProducer::builder(client, transactional_id)
        .build()
        .unwrap();
    p.init_transactions()
        .await
        .unwrap_or_else(|e| panic!("init_transactions {transactional_id}: {e}"));
    p
}

pub fn record(topic: &str, partition: i32, value: String) -> ProducerRecord<String, String> {
    ProducerRecord::new(topic, value).partition(partition)
}

/// One entry of a partition's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A data record, and whether its batch is transactional.
    Data {
        offset: i64,
        value: String,
        transactional: bool,
        producer_id: i64,
    },
    /// A transaction marker.
    Marker { offset: i64, commit: bool },
}

impl Entry {
    pub fn offset(&self) -> i64 {
        match self {
            Entry::Data { offset, .. } | Entry::Marker { offset, .. } => *offset,
        }
    }
}

/// Reads `topic`/`partition` from offset 0 to the high watermark with raw
/// Fetch requests (read_uncommitted), keeping control batches, which a
/// consumer would hide. Returns the entries and the high watermark.
pub async fn read_log(client: &Client, topic: &str, partition: i32) -> (Vec<Entry>, i64) {
    let meta = client.metadata_for(&[topic]).await.unwrap();
    let leader = meta
        .leader_for(topic, partition)
        .unwrap_or_else(|| panic!("no leader for {topic}-{partition}"));
    let mut entries = Vec::new();
    let mut next = 0i64;
    for _ in 0..1000 {
        let request = FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(100)
            .with_min_bytes(1)
            .with_max_bytes(8 << 20)
            .with_isolation_level(0)
            .with_topics(vec![
                FetchTopic::default()
                    .with_topic(TopicName(StrBytes::from_string(topic.to_string())))
                    .with_partitions(vec![
                        FetchPartition::default()
                            .with_partition(partition)
                            .with_fetch_offset(next)
                            .with_partition_max_bytes(4 << 20),
                    ]),
            ]);
        let response = client.send_to(leader, request).await.unwrap();
        let p = &response.responses[0].partitions[0];
        assert_eq!(p.error_code, 0, "fetch {topic}-{partition} at {next}");
        let high_watermark = p.high_watermark;
        if let Some(bytes) = p.records.clone() {
            for batch in decode_batches(bytes) {
                let batch = batch.unwrap();
                for r in batch.records() {
                    let r = r.unwrap();
                    if r.offset < next {
                        continue;
                    }
                    next = r.offset + 1;
                    if batch.is_control() {
                        let marker = ControlRecord::decode(&r).unwrap();
                        entries.push(Entry::Marker {
                            offset: r.offset,
                            commit: marker.kind == ControlType::Commit,
                        });
                    } else {
                        entries.push(Entry::Data {
                            offset: r.offset,
                            value: String::from_utf8(r.value.unwrap_or_default().to_vec()).unwrap(),
                            transactional: batch.is_transactional(),
                            producer_id: batch.producer_id,
                        });
                    }
                }
                next = next.max(batch.last_offset() + 1);
            }
        }
        if next >= high_watermark {
            return (entries, high_watermark);
        }
    }
    panic!("{topic}-{partition}: could not read to the high watermark");
}

/// The values of the data entries, in log order.
pub fn values(entries: &[Entry]) -> Vec<String> {
    entries
        .iter()
        .filter_map(|e| match e {
            Entry::Data { value, .. } => Some(value.clone()),
            Entry::Marker { .. } => None,
        })
        .collect()
}
