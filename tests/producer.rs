//! The producer end to end: kafkit produces, librdkafka reads back, and every
//! record is counted (present once, per-partition order = send order, keyed
//! records on the partition Java's partitioner picks).

mod support;

use std::time::Duration;

use kafkit::Client;
use kafkit::admin::NewTopic;
use kafkit::producer::{Producer, ProducerRecord};
use kafkit::protocol::records::Compression;

const PARTITIONS: i32 = 6;
/// Per codec and broker, as the producer issue asks.
const RECORDS: usize = 100_000;

async fn produce_and_verify(
    bootstrap: &str,
    topic: &str,
    codec: Compression,
    n: usize,
    broker: &str,
) {
    let what = format!("{broker} {codec:?}");
    let client = Client::builder(bootstrap).build().await.unwrap();
    let producer: Producer<String, String> = Producer::builder(&client)
        .compression(codec)
        .max_block(Duration::from_secs(20))
        .build()
        .unwrap();
    let acked = support::produce_numbered(&producer, topic, n, Duration::ZERO, &what).await;
    let m = producer.metrics();
    assert_eq!(
        (m.records_sent, m.records_failed, m.records_outstanding),
        (n as u64, 0, 0),
        "{what}"
    );
    assert_eq!(m.batches_in_flight, 0, "{what}");
    assert!(
        m.batches_sent > 0 && m.bytes_sent > 0 && m.average_batch_bytes() > 0,
        "{what}: {m:?}"
    );
    producer.close(Duration::from_secs(5)).await.unwrap();
    support::verify_read_back(bootstrap, topic, PARTITIONS, n, acked, &what).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tansu_and_embedded_every_codec_read_back_by_librdkafka() {
    for broker in support::tansu_and_embedded().await {
        eprintln!("== against {broker}");
        let bootstrap = broker.bootstrap();
        let admin = kafkit::Admin::new(&Client::builder(&bootstrap).build().await.unwrap());
        for codec in Compression::ALL {
            let topic = format!("produce-{}", codec.name());
            admin
                .create_topics([NewTopic::new(&topic, PARTITIONS, 1)])
                .await
                .unwrap()[0]
                .1
                .as_ref()
                .unwrap();
            produce_and_verify(&bootstrap, &topic, codec, RECORDS, "tansu").await;
        }
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
        produce_and_verify(&bootstrap, &topic, codec, RECORDS, "mock").await;
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

    // Unknown topic, without auto-creation: a typed error after max.block.ms.
    let client = Client::builder(&bootstrap)
        .allow_auto_create_topics(false)
        .build()
        .await
        .unwrap();
    let producer: Producer<(), Vec<u8>> = Producer::builder(&client)
        .max_block(Duration::from_millis(300))
        .build()
        .unwrap();
    let unknown = producer
        .send(ProducerRecord::new("no-such-topic", vec![1]))
        .await
        .unwrap_err();
    assert_eq!(
        unknown.code(),
        Some(kafkit::ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
        "{unknown}"
    );
    assert!(unknown.to_string().contains("max.block.ms"), "{unknown}");

    // Invalid configuration: refused by the builder.
    let bad = Producer::<(), Vec<u8>>::builder(&client)
        .acks(kafkit::producer::Acks::Leader)
        .enable_idempotence(true)
        .build()
        .unwrap_err();
    assert!(matches!(bad, kafkit::Error::Config(_)), "{bad}");
}

/// Dropping every handle without `close` (the mock cluster): the records
/// already buffered are still delivered at once (their futures resolve
/// with offsets) and the sender ends; while one clone lives, the producer
/// stays open.
#[tokio::test]
async fn dropping_the_last_handle_delivers_what_is_buffered() {
    let mock = support::mock_cluster(1);
    let bootstrap = mock.bootstrap_servers();
    mock.create_topic("t", 1, 1).unwrap();
    let client = Client::builder(&bootstrap).build().await.unwrap();
    let producer: Producer<(), Vec<u8>> = Producer::builder(&client)
        // Long enough that nothing is sent before the drop unless the drop
        // itself flushes.
        .linger(Duration::from_secs(30))
        .build()
        .unwrap();
    let clone = producer.clone();
    let mut deliveries = Vec::new();
    for i in 0..100u8 {
        deliveries.push(
            producer
                .enqueue(ProducerRecord::new("t", vec![i]))
                .await
                .unwrap(),
        );
    }
    drop(producer);
    // One handle remains: still open, nothing forced out yet.
    let kept = clone
        .enqueue(ProducerRecord::new("t", vec![100]))
        .await
        .unwrap();
    deliveries.push(kept);
    drop(clone);
    let all = tokio::time::timeout(Duration::from_secs(10), async {
        let mut offsets = Vec::new();
        for d in deliveries {
            offsets.push(d.await.unwrap().offset.unwrap());
        }
        offsets
    })
    .await
    .expect("buffered records delivered after the last handle was dropped, not after linger.ms");
    assert_eq!(all, (0..101).collect::<Vec<i64>>());
}
