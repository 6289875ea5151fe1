//! Counted production: kafkit produces numbered records, librdkafka reads
//! the partition logs back, and every record is accounted for.
//!
//! Record `i` has value `value-i`; two of three records carry the key
//! `key-(i % 97)` (routed by murmur2), the rest are keyless (sticky). The
//! check after reading: every number present exactly once, per-partition
//! log order equal to send order, keyed records on the partition Java's
//! partitioner picks, and (when known) the acknowledged offsets equal to
//! where the records were read.

use std::collections::HashMap;
use std::time::Duration;

use kafkit::producer::partitioner::{TopicPartitions, partition_for_key};
use kafkit::producer::{Producer, ProducerRecord};

/// Acknowledged (offset, record number) per partition; offsets of records
/// acknowledged as duplicates (unknown offset) are left out.
pub type Acked = HashMap<i32, Vec<(i64, usize)>>;

/// Produces records `0..n` to `topic` with `producer`, pausing `pace` after
/// every 1,000 so that faults injected meanwhile land mid-stream, then waits
/// for every delivery. Panics (naming the record) if one fails.
pub async fn produce_numbered(
    producer: &Producer<String, String>,
    topic: &str,
    n: usize,
    pace: Duration,
    what: &str,
) -> Acked {
    let mut deliveries = Vec::with_capacity(n);
    for i in 0..n {
        let mut r = ProducerRecord::new(topic, format!("value-{i}"));
        if i % 3 != 0 {
            r = r.key(format!("key-{}", i % 97));
        }
        deliveries.push(producer.enqueue(r).await.unwrap());
        if i % 1000 == 999 && !pace.is_zero() {
            tokio::time::sleep(pace).await;
        }
    }
    producer.flush().await;
    let mut acked = Acked::new();
    for (i, d) in deliveries.into_iter().enumerate() {
        let meta = d
            .await
            .unwrap_or_else(|e| panic!("{what}: record {i} failed: {e}"));
        if let Some(offset) = meta.offset {
            acked.entry(meta.partition).or_default().push((offset, i));
        }
    }
    acked
}

/// Reads `topic` back with librdkafka and checks the log against `acked`.
pub async fn verify_read_back(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    n: usize,
    acked: Acked,
    what: &str,
) {
    let got = super::consume_with_rdkafka(bootstrap, topic, n, Duration::from_secs(60)).await;
    let view = TopicPartitions::new(partitions, 0..partitions).unwrap();
    let mut seen = vec![false; n];
    let mut by_partition: HashMap<i32, Vec<(i64, usize)>> = HashMap::new();
    for r in &got {
        let value = String::from_utf8(r.value.clone().unwrap()).unwrap();
        let i: usize = value.strip_prefix("value-").unwrap().parse().unwrap();
        assert!(i < n, "{what}: unexpected record {i}");
        assert!(!seen[i], "{what}: record {i} is in the log twice");
        seen[i] = true;
        if let Some(k) = &r.key {
            assert_eq!(
                r.partition,
                partition_for_key(k, &view),
                "{what}: key routed like Java/librdkafka"
            );
        }
        by_partition
            .entry(r.partition)
            .or_default()
            .push((r.offset, i));
    }
    let missing: Vec<usize> = (0..n).filter(|&i| !seen[i]).take(10).collect();
    assert!(
        missing.is_empty(),
        "{what}: librdkafka read {} of {n}; first missing: {missing:?}",
        got.len()
    );
    let mut acked = acked;
    for (p, mut recs) in by_partition {
        recs.sort();
        if let Some(w) = recs.windows(2).find(|w| w[0].1 > w[1].1) {
            panic!(
                "{what}: partition {p} order differs from send order: record {} at offset {} \
                 comes before record {} at offset {}",
                w[0].1, w[0].0, w[1].1, w[1].0
            );
        }
        // Every acknowledged offset holds the record it was acknowledged for.
        let log: HashMap<i64, usize> = recs.into_iter().collect();
        for (offset, i) in acked.remove(&p).unwrap_or_default() {
            assert_eq!(
                log.get(&offset),
                Some(&i),
                "{what}: record {i} acknowledged at {p}@{offset}"
            );
        }
    }
}
