//! Keyed placement interop: kafkit's default partitioner must put every key
//! on the partition librdkafka's `murmur2_random` partitioner (the
//! Java-compatible one) chooses.
//!
//! Records are produced with rdkafka to librdkafka's in-process mock
//! cluster; each delivery report says which partition librdkafka picked.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::Duration;

use kafkit::producer::partitioner::{TopicPartitions, partition_for_key};
use rdkafka::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{FutureProducer, FutureRecord};

/// Keys per topic.
const KEYS: usize = 1500;

/// SplitMix64: enough to make reproducible random keys in a test.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Random keys: arbitrary bytes of every length from 0 to 64 (so every
/// murmur2 tail length occurs often, and the empty key, which is a key and
/// not "no key" for both Java and librdkafka), plus some textual ids as real
/// applications use them.
fn random_keys(seed: u64) -> Vec<Vec<u8>> {
    let mut rng = SplitMix(seed);
    (0..KEYS)
        .map(|i| {
            if i == 0 {
                Vec::new()
            } else if i % 4 == 0 {
                format!("order-{}", rng.next() % 1_000_000).into_bytes()
            } else {
                let len = (rng.next() % 65) as usize;
                (0..len).map(|_| rng.next() as u8).collect()
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyed_partitions_match_librdkafka_murmur2_random() {
    let seed = std::env::var("KAFKIT_INTEROP_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| RandomState::new().hash_one(0u8));
    eprintln!("key seed: {seed} (set KAFKIT_INTEROP_SEED to replay)");
    let keys = random_keys(seed);

    let cluster = MockCluster::new(1).expect("mock cluster");
    // A composite and a prime partition count: a wrong reduction (abs
    // instead of masking the sign bit, unsigned remainder) shows on both.
    let topics = [("interop-6", 6), ("interop-13", 13)];
    for (topic, partitions) in topics {
        cluster
            .create_topic(topic, partitions, 1)
            .expect("create topic");
    }

    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap_servers())
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "30000")
        .create()
        .expect("producer");

    for (topic, num_partitions) in topics {
        let view = TopicPartitions::new(num_partitions, 0..num_partitions).unwrap();
        let mut pending = Vec::with_capacity(keys.len());
        for key in &keys {
            let record = FutureRecord::<[u8], [u8]>::to(topic)
                .key(key.as_slice())
                .payload(b"v");
            let delivery = producer
                .send_result(record)
                .map_err(|(e, _)| e)
                .expect("enqueue");
            pending.push((key, delivery));
        }

        let mut used = vec![0u32; num_partitions as usize];
        for (key, delivery) in pending {
            let delivered = tokio::time::timeout(Duration::from_secs(30), delivery)
                .await
                .expect("delivery report in time")
                .expect("delivery not cancelled")
                .map_err(|(e, _)| e)
                .expect("delivered");
            let ours = partition_for_key(key, &view);
            assert_eq!(
                ours, delivered.partition,
                "topic {topic}: key {key:02x?} went to partition {} with librdkafka, kafkit chose {ours}",
                delivered.partition
            );
            used[ours as usize] += 1;
        }
        // Sanity: the keys really exercised every partition.
        assert!(
            used.iter().all(|&n| n > 0),
            "topic {topic}: partition use {used:?}"
        );
    }
}
