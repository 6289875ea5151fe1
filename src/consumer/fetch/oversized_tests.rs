//! A broker that ignores `max.partition.fetch.bytes` cannot grow the
//! prefetch buffer past one response. Tansu answers a Fetch with ~5 MB for
//! one partition and nothing for the others, whatever the per-partition
//! bound asked for; the fetch loop accepts such data (as Java does: KIP-74
//! lets a broker exceed the bounds for a first batch), and the bounds then
//! hold it there: the partition is not fetched again until `poll` drained
//! it, and no partition is while the buffer is over `fetch_buffer_bytes`.
//! (How large one response can be is the connection's frame cap,
//! `max_response_size`, checked before anything is buffered: see
//! `net::connection` test `oversize_frame_is_rejected`; the record set is
//! then decoded in place, without a copy.)

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::completed;
use crate::TopicPartition;
use crate::consumer::config::OffsetReset;
use crate::consumer::partitions::{FetchTarget, PartitionTable};
use crate::metadata::ClusterMetadata;
use crate::protocol::records::{BatchWriter, Compression};

/// `max.partition.fetch.bytes` (the default).
const PARTITION_LIMIT: usize = 1 << 20;
/// `fetch_buffer_bytes`, below what the broker sends for one partition.
const BUFFER_LIMIT: usize = 4 << 20;
/// Records in the oversized answer, 1 kB each: over 5 MB.
const RECORDS: usize = 5_500;

fn metadata(partitions: i32) -> ClusterMetadata {
    let response = MetadataResponse::default()
        .with_brokers(vec![
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(1))
                .with_host(StrBytes::from_static_str("localhost"))
                .with_port(9092),
        ])
        .with_topics(vec![
            MetadataResponseTopic::default()
                .with_name(Some(TopicName(StrBytes::from_static_str("t"))))
                .with_partitions(
                    (0..partitions)
                        .map(|p| {
                            MetadataResponsePartition::default()
                                .with_partition_index(p)
                                .with_leader_id(BrokerId(1))
                        })
                        .collect(),
                ),
        ]);
    ClusterMetadata::default().apply(response, true)
}

fn record_set(records: usize, value_len: usize) -> Bytes {
    let value = vec![b'x'; value_len];
    let mut w = BatchWriter::new(Compression::None);
    for i in 0..records {
        w.append(i as i64, None, Some(&value), &[]);
    }
    w.finish().unwrap()
}

/// What `broker_loop` does with one partition of a response.
fn hand_over(
    subs: &PartitionTable,
    target: &FetchTarget,
    data: Bytes,
    high_watermark: i64,
) -> bool {
    let topic: Arc<str> = target.tp.topic.clone();
    let decoded = completed::decode(
        &topic,
        target.tp.partition,
        target.generation,
        target.fetch_offset,
        data,
        None,
        Vec::new(),
    );
    subs.accept_fetch(
        target,
        decoded.fetch,
        decoded.next_fetch_offset,
        (high_watermark, high_watermark, 0),
    )
}

fn partitions(targets: &[FetchTarget]) -> Vec<i32> {
    targets.iter().map(|t| t.tp.partition).collect()
}

#[test]
fn an_oversized_partition_answer_is_buffered_once_and_then_held_back() {
    let subs = PartitionTable::new(OffsetReset::Earliest);
    subs.assign((0..3).map(|p| TopicPartition::new("t", p)));
    for reset in subs.pending_resets() {
        subs.complete_reset(&reset, Ok(0), Duration::ZERO);
    }
    let meta = metadata(3);
    let targets = subs.fetchable(1, &meta, PARTITION_LIMIT, BUFFER_LIMIT);
    assert_eq!(partitions(&targets), [0, 1, 2]);

    // Partition 0 gets far more than asked; 1 and 2 have data (their high
    // watermark says so) but get nothing.
    let big = record_set(RECORDS, 1_000);
    assert!(
        big.len() > BUFFER_LIMIT,
        "more than 4x max.partition.fetch.bytes"
    );
    for t in &targets {
        let data = if t.tp.partition == 0 {
            big.clone()
        } else {
            Bytes::new()
        };
        assert!(hand_over(&subs, t, data, RECORDS as i64));
    }
    assert_eq!(subs.buffered_bytes(), big.len(), "buffered once, as sent");

    // Over fetch_buffer_bytes: nothing more is fetched from anywhere.
    assert!(
        subs.fetchable(1, &meta, PARTITION_LIMIT, BUFFER_LIMIT)
            .is_empty()
    );
    // Below it (a larger buffer), the others are fetched but partition 0,
    // over its own bound, is not asked for more.
    let room = subs.fetchable(1, &meta, PARTITION_LIMIT, usize::MAX);
    assert_eq!(partitions(&room), [1, 2]);

    // `poll` drains it max.poll.records at a time; then everything is
    // fetchable again.
    let mut taken = 0;
    loop {
        let records = subs.take(500).unwrap();
        assert!(records.len() <= 500);
        if records.is_empty() {
            break;
        }
        taken += records.len();
    }
    assert_eq!(taken, RECORDS);
    assert_eq!(subs.buffered_bytes(), 0);
    let again = subs.fetchable(1, &meta, PARTITION_LIMIT, BUFFER_LIMIT);
    assert_eq!(partitions(&again), [0, 1, 2]);
    assert_eq!(again[0].fetch_offset, RECORDS as i64);
}
