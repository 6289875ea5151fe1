//! The producer end to end: kafkit produces, librdkafka reads back, and every
//! record is counted (present once, per-partition order = send order, keyed
//! records on the partition Java's partitioner picks).

mod support;

use std::collections::HashMap;
use std::time::Duration;

use kafkit::Client;
use kafkit::admin::NewTopic;
use kafkit::producer::partitioner::{TopicPartitions, partition_for_key};
use kafkit::producer::{Producer, ProducerRecord};
use kafkit::protocol::records::Compression;

const PARTITIONS: i32 = 6;

async fn produce_and_verify(
    bootstrap: &str,
    topic: &str,
    codec: Compression,
    n: usize,
    broker: &str,
) {
    let client = Client::builder(bootstrap).build().await.unwrap();
    let producer: Producer<String, String> = Producer::builder(&client)
        .compression(codec)
        .max_block(Duration::from_secs(20))
        .build()
        .unwrap();
    let mut deliveries = Vec::with_capacity(n);
    for i in 0..n {
        // Every third record keyless, to exercise the sticky partitioner.
        let mut r = ProducerRecord::new(topic, format!("value-{i}"));
        if i % 3 != 0 {
            r = r.key(format!("key-{}", i % 97));
        }
        deliveries.push(producer.enqueue(r).await.unwrap());
    }
    producer.flush().await;
    let mut acked: HashMap<i32, Vec<(i64, usize)>> = HashMap::new();
    for (i, d) in deliveries.into_iter().enumerate() {
        let meta = d
            .await
            .unwrap_or_else(|e| panic!("{broker} {codec:?}: record {i}: {e}"));
        acked
            .entry(meta.partition)
            .or_default()
            .push((meta.offset.expect("offset"), i));
    }
    let m = producer.metrics();
    assert_eq!(
        (m.records_sent, m.records_failed, m.records_outstanding),
        (n as u64, 0, 0),
        "{broker} {codec:?}"
    );
    producer.close(Duration::from_secs(5)).await.unwrap();

    let got = support::consume_with_rdkafka(bootstrap, topic, n, Duration::from_secs(60)).await;
    assert_eq!(
        got.len(),
        n,
        "{broker} {codec:?}: librdkafka read {} of {n}",
        got.len()
    );
    let view = TopicPartitions::new(PARTITIONS, 0..PARTITIONS).unwrap();
    let mut seen = vec![false; n];
    let mut by_partition: HashMap<i32, Vec<(i64, usize)>> = HashMap::new();
    for r in &got {
        let value = String::from_utf8(r.value.clone().unwrap()).unwrap();
        let i: usize = value.strip_prefix("value-").unwrap().parse().unwrap();
        assert!(!seen[i], "{broker} {codec:?}: record {i} read twice");
        seen[i] = true;
        if let Some(k) = &r.key {
            assert_eq!(
                r.partition,
                partition_for_key(k, &view),
                "{broker}: key routed like Java/librdkafka"
            );
        }
        by_partition
            .entry(r.partition)
            .or_default()
            .push((r.offset, i));
    }
    for (p, mut recs) in by_partition {
        recs.sort();
        let order: Vec<usize> = recs.iter().map(|(_, i)| *i).collect();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(
            order, sorted,
            "{broker} {codec:?}: partition {p} order differs from send order"
        );
        let mut mine = acked.remove(&p).unwrap_or_default();
        mine.sort();
        assert_eq!(
            mine, recs,
            "{broker} {codec:?}: acknowledged offsets match what was read"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tansu_every_codec_read_back_by_librdkafka() {
    let Some(tansu) = support::tansu_or_skip() else {
        return;
    };
    let bootstrap = tansu.bootstrap();
    let admin = Client::builder(&bootstrap).build().await.unwrap().admin();
    for codec in Compression::ALL {
        let topic = format!("produce-{}", codec.name());
        admin
            .create_topics([NewTopic::new(&topic, PARTITIONS, 1)])
            .await
            .unwrap()[0]
            .1
            .as_ref()
            .unwrap();
        produce_and_verify(&bootstrap, &topic, codec, 20_000, "tansu").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mock_cluster_every_codec_read_back_by_librdkafka() {
    let mock = support::mock_cluster(3);
    let bootstrap = mock.bootstrap_servers();
    for codec in Compression::ALL {
        let topic = format!("produce-{}", codec.name());
        mock.create_topic(&topic, PARTITIONS, 3).unwrap();
        // The mock keeps ~5 MiB per partition: keep volumes small.
        produce_and_verify(&bootstrap, &topic, codec, 20_000, "mock").await;
    }
}

#[tokio::test]
async fn closed_producer_and_bad_input_are_clear_errors() {
    let mock = support::mock_cluster(1);
    let bootstrap = mock.bootstrap_servers();
    mock.create_topic("t", 2, 1).unwrap();
    let client = Client::builder(&bootstrap).build().await.unwrap();
    let producer: Producer<(), Vec<u8>> = Producer::builder(&client)
        .max_block(Duration::from_millis(500))
        .max_request_size(1000)
        .build()
        .unwrap();
    let too_big = producer
        .send(ProducerRecord::new("t", vec![0u8; 2000]))
        .await
        .unwrap_err();
    assert!(
        matches!(too_big, kafkit::Error::InvalidArgument { .. }),
        "{too_big}"
    );
    let bad_partition = producer
        .send(ProducerRecord::new("t", vec![1]).partition(7))
        .await
        .unwrap_err();
    assert!(
        matches!(bad_partition, kafkit::Error::InvalidArgument { .. }),
        "{bad_partition}"
    );
    let ok = producer
        .send(ProducerRecord::new("t", vec![1]).partition(1))
        .await
        .unwrap();
    assert_eq!((ok.partition, ok.offset), (1, Some(0)));
    producer.close(Duration::from_secs(5)).await.unwrap();
    let closed = producer
        .send(ProducerRecord::new("t", vec![1]))
        .await
        .unwrap_err();
    assert!(matches!(closed, kafkit::Error::Closed));
}
