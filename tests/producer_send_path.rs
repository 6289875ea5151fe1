//! When the producer sends, on Tansu: every record goes out when its batch
//! is ready (`linger.ms` elapsed since its first record, batch full, flush
//! or close), never on a fallback tick.
//!
//! The sender has no idle tick: it sleeps until the next deadline it knows
//! (linger, retry backoff, a queued batch's `delivery.timeout.ms`) or until
//! it is woken. A record that opens a batch wakes it. Were that wake-up
//! missed, nothing but the batch's delivery timeout (120 s by default) would
//! release the record, so a regression hangs these tests and each awaited
//! send's liveness timeout (10 s, far above a local round trip and far
//! below 120 s) fails them. Before this design a lone record waited for a
//! 100 ms idle tick (~100 ms per sequential send); with the wake-up on a new
//! batch removed again, `sequential_sends_*` fail on the first send.

mod support;

use std::time::Duration;

use kafkit::Client;
use kafkit::admin::NewTopic;
use kafkit::producer::{Producer, ProducerRecord};
use tokio::time::Instant;

const SEQUENTIAL: usize = 200;
/// Liveness bound for one awaited send (see the module docs).
const LIVENESS: Duration = Duration::from_secs(10);
const PARTITIONS: i32 = 3;

/// A private Tansu and an embedded cluster, each with topic `t` (3
/// partitions), and a client on it.
async fn brokers_with_topic() -> Vec<(support::TestBroker, Client)> {
    let mut out = Vec::new();
    for broker in support::tansu_and_embedded().await {
        let client = Client::builder(broker.bootstrap()).build().await.unwrap();
        kafkit::Admin::new(&client)
            .create_topics([NewTopic::new("t", PARTITIONS, 1)])
            .await
            .unwrap()[0]
            .1
            .as_ref()
            .unwrap();
        out.push((broker, client));
    }
    out
}

/// `SEQUENTIAL` awaited sends, each within `LIVENESS`; every record is
/// acknowledged, each in a batch of its own (the next send starts after
/// the previous one's acknowledgement), and offsets grow per partition.
async fn sequential_sends(linger: Option<Duration>) {
    support::init_tracing();
    for (broker, client) in brokers_with_topic().await {
        eprintln!("== against {broker}");
        let mut builder = Producer::<String, String>::builder(&client);
        if let Some(l) = linger {
            builder = builder.linger(l);
        }
        let producer = builder.build().unwrap();
        let mut last = [-1i64; PARTITIONS as usize];
        for i in 0..SEQUENTIAL {
            let record = ProducerRecord::new("t", format!("value-{i}")).key(format!("k{i}"));
            let meta = tokio::time::timeout(LIVENESS, producer.send(record))
                .await
                .unwrap_or_else(|_| {
                    panic!("send {i} not acknowledged within {LIVENESS:?}: a missed wake-up")
                })
                .unwrap();
            let offset = meta.offset.unwrap();
            let p = meta.partition as usize;
            assert!(offset > last[p], "offsets grow per partition");
            last[p] = offset;
        }
        let m = producer.metrics();
        assert_eq!(
            (m.records_sent, m.records_failed, m.records_outstanding),
            (SEQUENTIAL as u64, 0, 0),
            "{m:?}"
        );
        assert_eq!(
            m.batches_sent, SEQUENTIAL as u64,
            "one batch per awaited send: {m:?}"
        );
        producer.close(Duration::from_secs(5)).await.unwrap();
    }
}

#[tokio::test]
async fn sequential_sends_default_linger_current_thread() {
    sequential_sends(None).await;
}

#[tokio::test]
async fn sequential_sends_linger_zero_current_thread() {
    sequential_sends(Some(Duration::ZERO)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_sends_default_linger_multi_thread() {
    sequential_sends(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_sends_linger_zero_multi_thread() {
    sequential_sends(Some(Duration::ZERO)).await;
}

/// With `linger.ms` = 60 s nothing is sent on its own for a minute, but
/// `flush` makes every batch ready at once.
#[tokio::test]
async fn flush_sends_at_once_whatever_the_linger() {
    for (broker, client) in brokers_with_topic().await {
        eprintln!("== against {broker}");
        let producer: Producer<String, String> = Producer::builder(&client)
            .linger(Duration::from_secs(60))
            .build()
            .unwrap();
        let mut deliveries = Vec::new();
        for i in 0..30 {
            let record = ProducerRecord::new("t", format!("value-{i}"));
            deliveries.push(producer.enqueue(record).await.unwrap());
        }
        // Semantics, not speed: a 60 s linger sends nothing within 200 ms.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(producer.metrics().records_sent, 0, "lingering");
        tokio::time::timeout(LIVENESS, producer.flush())
            .await
            .expect("flush ignores linger.ms");
        for d in deliveries {
            d.await.unwrap();
        }
        assert_eq!(producer.metrics().records_sent, 30);
        producer.close(Duration::from_secs(5)).await.unwrap();
    }
}

/// A lone record waits out its batch's `linger.ms` (a lower bound the
/// semantics imply), then goes without any further prompt.
#[tokio::test]
async fn a_lone_record_waits_for_its_linger() {
    for (broker, client) in brokers_with_topic().await {
        eprintln!("== against {broker}");
        let linger = Duration::from_millis(300);
        let producer: Producer<String, String> =
            Producer::builder(&client).linger(linger).build().unwrap();
        // Warm up (metadata, producer id, connection) with a flushed record.
        let warm = producer
            .enqueue(ProducerRecord::new("t", "warm".to_string()))
            .await
            .unwrap();
        producer.flush().await;
        warm.await.unwrap();
        let start = Instant::now();
        tokio::time::timeout(
            LIVENESS,
            producer.send(ProducerRecord::new("t", "lone".to_string())),
        )
        .await
        .expect("sent when its linger expired")
        .unwrap();
        let took = start.elapsed();
        assert!(
            took >= linger,
            "acknowledged after {took:?}, before linger.ms"
        );
        producer.close(Duration::from_secs(5)).await.unwrap();
    }
}

/// `batch.size=0` means no batching, as in Java: every record is its own
/// batch, sent without waiting for `linger.ms`.
#[tokio::test]
async fn batch_size_zero_sends_every_record_as_its_own_batch() {
    for (broker, client) in brokers_with_topic().await {
        eprintln!("== against {broker}");
        let producer: Producer<String, String> = Producer::builder(&client)
            .batch_size(0)
            // Would hold a batch for a minute; a batch of one record is full.
            .linger(Duration::from_secs(60))
            .build()
            .expect("batch.size=0 is a valid setting");
        let mut deliveries = Vec::new();
        for i in 0..50 {
            let record = ProducerRecord::new("t", format!("value-{i}")).partition(0);
            deliveries.push(producer.enqueue(record).await.unwrap());
        }
        let mut offsets = Vec::new();
        for d in deliveries {
            let meta = tokio::time::timeout(LIVENESS, d)
                .await
                .expect("sent without lingering")
                .unwrap();
            offsets.push(meta.offset.unwrap());
        }
        assert_eq!(offsets, (0..50).collect::<Vec<i64>>());
        let m = producer.metrics();
        assert_eq!((m.records_sent, m.batches_sent), (50, 50), "{m:?}");
        producer.close(Duration::from_secs(5)).await.unwrap();
    }
}
