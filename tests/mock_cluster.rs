//! kafkit's embedded test cluster (`kafkit::mock`, feature `mock`), proven
//! with librdkafka as the independent client: what kafkit writes librdkafka
//! reads back exactly once and in order, and the other way round, with every
//! codec; faults injected into the cluster cost no record and duplicate none.

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::Duration;

use kafkit::Client;
use kafkit::consumer::{Consumer, OffsetReset};
use kafkit::mock::{ApiKey, MockCluster};
use kafkit::producer::Producer;
use kafkit::protocol::records::Compression;
use kafkit::{ErrorCode, TopicPartition};

const PARTITIONS: i32 = 3;

async fn producer(cluster: &MockCluster, codec: Compression) -> Producer<String, String> {
    let client = Client::builder(cluster.bootstrap_servers())
        .build()
        .await
        .unwrap();
    Producer::builder(&client)
        .compression(codec)
        .max_block(Duration::from_secs(20))
        .retry_backoff(Duration::from_millis(10))
        .build()
        .unwrap()
}

/// Reads every partition of `topic` from the start with kafkit until `n`
/// records arrived; returns value → (partition, offset), failing on a
/// duplicate.
async fn consume_with_kafkit(
    cluster: &MockCluster,
    topic: &str,
    n: usize,
) -> BTreeMap<String, (i32, i64)> {
    let client = Client::builder(cluster.bootstrap_servers())
        .build()
        .await
        .unwrap();
    let consumer: Consumer<String, String> = Consumer::builder(&client)
        .auto_offset_reset(OffsetReset::Earliest)
        .build()
        .unwrap();
    consumer
        .assign((0..PARTITIONS).map(|p| TopicPartition::new(topic, p)))
        .unwrap();
    let mut seen = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while seen.len() < n && tokio::time::Instant::now() < deadline {
        for r in &consumer.poll(Duration::from_millis(500)).await.unwrap() {
            let value = r.value.clone().unwrap();
            let previous = seen.insert(value.clone(), (r.partition, r.offset));
            assert!(previous.is_none(), "{value} read twice");
        }
    }
    consumer.close(Duration::from_secs(5)).await;
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_codec_written_by_kafkit_is_read_by_librdkafka_and_back() {
    let cluster = MockCluster::new(3).await.unwrap();
    let bootstrap = cluster.bootstrap_servers();
    for codec in Compression::ALL {
        let topic = format!("codec-{}", codec.name());
        cluster.create_topic(&topic, PARTITIONS).unwrap();
        let what = format!("mock {codec:?}");
        let p = producer(&cluster, codec).await;
        let acked = support::produce_numbered(&p, &topic, 5_000, Duration::ZERO, &what).await;
        p.close(Duration::from_secs(5)).await.unwrap();
        support::verify_read_back(&bootstrap, &topic, PARTITIONS, 5_000, acked, &what).await;
        // Stored as sent: the codec in the log is the producer's.
        let log = cluster.partition_log(&topic, 0).unwrap();
        assert!(
            log.batches.iter().all(|b| b.compression == Some(codec)),
            "{what}"
        );

        // And librdkafka's records, read by kafkit.
        let topic = format!("codec-{}-rd", codec.name());
        cluster.create_topic(&topic, PARTITIONS).unwrap();
        let records: Vec<_> = (0..2_000)
            .map(|i| {
                (
                    Some(format!("k{i}").into_bytes()),
                    format!("rd-{i}").into_bytes(),
                )
            })
            .collect();
        let name = match codec {
            Compression::None => "none",
            other => other.name(),
        };
        let written = support::produce_with_rdkafka(&bootstrap, &topic, &records, name).await;
        let read = consume_with_kafkit(&cluster, &topic, records.len()).await;
        assert_eq!(read.len(), records.len(), "{what}: kafkit read back");
        for (i, (p, o)) in written.iter().enumerate() {
            assert_eq!(read[&format!("rd-{i}")], (*p, *o), "{what}: record {i}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_errors_and_dropped_connections_lose_and_duplicate_nothing() {
    let cluster = MockCluster::new(3).await.unwrap();
    let topic = "faults";
    cluster.create_topic(topic, PARTITIONS).unwrap();
    let p = producer(&cluster, Compression::Lz4).await;
    cluster.inject_error(ApiKey::Produce, ErrorCode::NOT_LEADER_OR_FOLLOWER, 3);
    // A dropped connection after the append: the retry is a duplicate the
    // cluster must recognise by its sequence numbers.
    cluster.drop_connection_on(ApiKey::Produce, 3);
    let n = 20_000;
    let acked =
        support::produce_numbered(&p, topic, n, Duration::from_millis(5), "mock faults").await;
    p.close(Duration::from_secs(5)).await.unwrap();
    support::verify_read_back(
        &cluster.bootstrap_servers(),
        topic,
        PARTITIONS,
        n,
        acked,
        "mock faults",
    )
    .await;
    let stored: i64 = (0..PARTITIONS)
        .map(|p| cluster.partition_log(topic, p).unwrap().high_watermark)
        .sum();
    assert_eq!(stored, n as i64, "every record stored once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_broker_moves_leaders_and_comes_back() {
    let cluster = MockCluster::new(3).await.unwrap();
    let topic = "restart";
    cluster.create_topic(topic, PARTITIONS).unwrap();
    let before = cluster.leader(topic, 0).unwrap();
    let p = producer(&cluster, Compression::None).await;
    let mut acked =
        support::produce_numbered(&p, topic, 3_000, Duration::ZERO, "before stop").await;
    assert!(cluster.stop_broker(before));
    let after = cluster.leader(topic, 0).unwrap();
    assert!(after != before && after > 0, "{before} -> {after}");
    let more = produce_range(&p, topic, 3_000..6_000).await;
    assert!(cluster.start_broker(before).await.unwrap());
    assert!(cluster.set_leader(topic, 0, before));
    let last = produce_range(&p, topic, 6_000..9_000).await;
    p.close(Duration::from_secs(5)).await.unwrap();
    for (part, mut recs) in more.into_iter().chain(last) {
        acked.entry(part).or_default().append(&mut recs);
    }
    support::verify_read_back(
        &cluster.bootstrap_servers(),
        topic,
        PARTITIONS,
        9_000,
        acked,
        "stop/start",
    )
    .await;
}

/// Records `range` numbered like `support::produce_numbered` (keys on two
/// of three), acknowledged offsets by partition.
async fn produce_range(
    p: &Producer<String, String>,
    topic: &str,
    range: std::ops::Range<usize>,
) -> support::Acked {
    let mut deliveries = Vec::new();
    for i in range {
        let mut r = kafkit::producer::ProducerRecord::new(topic, format!("value-{i}"));
        if i % 3 != 0 {
            r = r.key(format!("key-{}", i % 97));
        }
        deliveries.push((i, p.enqueue(r).await.unwrap()));
    }
    p.flush().await;
    let mut acked = support::Acked::new();
    for (i, d) in deliveries {
        let meta = d.await.unwrap();
        if let Some(o) = meta.offset {
            acked.entry(meta.partition).or_default().push((o, i));
        }
    }
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_wakes_when_a_record_arrives() {
    let cluster = MockCluster::new(1).await.unwrap();
    cluster.create_topic("wake", 1).unwrap();
    let client = Client::builder(cluster.bootstrap_servers())
        .build()
        .await
        .unwrap();
    // The broker may hold each fetch for a minute: only an append can
    // answer it before the poll below gives up.
    let consumer: Consumer<String, String> = Consumer::builder(&client)
        .fetch_max_wait(Duration::from_secs(60))
        .auto_offset_reset(OffsetReset::Earliest)
        .build()
        .unwrap();
    consumer.assign([TopicPartition::new("wake", 0)]).unwrap();
    assert!(
        consumer
            .poll(Duration::from_millis(300))
            .await
            .unwrap()
            .is_empty()
    );
    let p = producer(&cluster, Compression::None).await;
    p.send(kafkit::producer::ProducerRecord::new(
        "wake",
        "hello".to_string(),
    ))
    .await
    .unwrap();
    let got = consumer.poll(Duration::from_secs(20)).await.unwrap();
    assert_eq!(got.len(), 1);
    p.close(Duration::from_secs(5)).await.unwrap();
    consumer.close(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_frame_closes_only_its_connection() {
    let cluster = MockCluster::new(1).await.unwrap();
    let addr = cluster.bootstrap_servers();
    // A Metadata v12 request claiming 2^31-1 topics in a 20-byte body.
    let mut hostile = std::net::TcpStream::connect(&addr).unwrap();
    let mut body = vec![0, 3, 0, 12, 0, 0, 0, 1, 0, 0, 0];
    body.extend_from_slice(&[0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 0]);
    hostile
        .write_all(&(body.len() as i32).to_be_bytes())
        .unwrap();
    hostile.write_all(&body).unwrap();
    hostile
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(hostile.read(&mut buf).unwrap(), 0, "closed, not answered");
    // A frame that claims 2 GiB closes too, without the cluster reserving it.
    let mut huge = std::net::TcpStream::connect(&addr).unwrap();
    huge.write_all(&i32::MAX.to_be_bytes()).unwrap();
    huge.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(huge.read(&mut buf).unwrap_or(0), 0);
    // The cluster still serves everyone else.
    let client = Client::builder(&addr).build().await.unwrap();
    let admin = kafkit::Admin::new(&client);
    admin
        .create_topics([kafkit::admin::NewTopic::new("after", 2, 1)])
        .await
        .unwrap();
    assert!(cluster.partition_log("after", 1).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn librdkafka_admin_and_auto_creation_work_against_the_cluster() {
    let cluster = MockCluster::builder()
        .brokers(3)
        .default_partitions(2)
        .build()
        .await
        .unwrap();
    let bootstrap = cluster.bootstrap_servers();
    support::create_topic_with_rdkafka(&bootstrap, "made-by-rd", 4).await;
    assert!(cluster.partition_log("made-by-rd", 3).is_some());
    // Producing to an unknown topic auto-creates it with num.partitions.
    let records = vec![(None, b"x".to_vec()); 10];
    support::produce_with_rdkafka(&bootstrap, "auto", &records, "none").await;
    assert!(cluster.partition_log("auto", 1).is_some());
    assert!(cluster.partition_log("auto", 2).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_configs_set_by_librdkafka_are_described_and_enforced() {
    use rdkafka::admin::{
        AdminClient, AdminOptions, AlterConfig, ConfigSource, OwnedResourceSpecifier,
        ResourceSpecifier,
    };
    use rdkafka::client::DefaultClientContext;
    let cluster = MockCluster::new(3).await.unwrap();
    cluster.create_topic("limited", 1).unwrap();
    let admin: AdminClient<DefaultClientContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap_servers())
        .create()
        .unwrap();
    let opts = AdminOptions::new().request_timeout(Some(Duration::from_secs(10)));
    let altered = admin
        .alter_configs(
            &[AlterConfig::new(ResourceSpecifier::Topic("limited"))
                .set("max.message.bytes", "2000")
                .set("cleanup.policy", "compact")],
            &opts,
        )
        .await
        .unwrap();
    assert!(altered.iter().all(|r| r.is_ok()), "{altered:?}");
    let described = admin
        .describe_configs(&[ResourceSpecifier::Topic("limited")], &opts)
        .await
        .unwrap();
    let resource = described[0].as_ref().unwrap();
    assert_eq!(
        resource.specifier,
        OwnedResourceSpecifier::Topic("limited".into())
    );
    let entry = resource.get("max.message.bytes").unwrap();
    assert_eq!(entry.value.as_deref(), Some("2000"));
    assert_eq!(entry.source, ConfigSource::DynamicTopic);
    assert_eq!(
        resource.get("cleanup.policy").unwrap().value.as_deref(),
        Some("compact")
    );
    let default = resource.get("retention.ms").unwrap();
    assert_eq!(default.source, ConfigSource::Default);
    // An unknown config is refused and nothing changes: AlterConfigs
    // replaces every config, so had it been taken, max.message.bytes would
    // be back at its default. (rdkafka 0.39 reports every AlterConfigs
    // resource as Ok whatever the broker said, so read the result back.)
    admin
        .alter_configs(
            &[AlterConfig::new(ResourceSpecifier::Topic("limited")).set("no.such.config", "1")],
            &opts,
        )
        .await
        .unwrap();
    let described = admin
        .describe_configs(&[ResourceSpecifier::Topic("limited")], &opts)
        .await
        .unwrap();
    let resource = described[0].as_ref().unwrap();
    assert!(resource.get("no.such.config").is_none());
    assert_eq!(
        resource.get("max.message.bytes").unwrap().value.as_deref(),
        Some("2000")
    );

    // The limit is what Produce enforces: a record over it is refused as
    // MESSAGE_TOO_LARGE, one under it is written.
    let p = producer(&cluster, Compression::None).await;
    let big = p
        .send(kafkit::producer::ProducerRecord::new(
            "limited",
            "x".repeat(5_000),
        ))
        .await
        .unwrap_err();
    assert_eq!(big.code(), Some(ErrorCode::MESSAGE_TOO_LARGE), "{big}");
    p.send(kafkit::producer::ProducerRecord::new(
        "limited",
        "x".repeat(100),
    ))
    .await
    .unwrap();
    p.close(Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        cluster.partition_log("limited", 0).unwrap().high_watermark,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assigned_partition_that_does_not_exist_does_not_hold_up_the_others() {
    let cluster = MockCluster::new(1).await.unwrap();
    cluster.create_topic("one", 1).unwrap();
    let p = producer(&cluster, Compression::None).await;
    p.send(kafkit::producer::ProducerRecord::new("one", "r".to_string()).partition(0))
        .await
        .unwrap();
    p.close(Duration::from_secs(5)).await.unwrap();
    // Partitions 1 and 2 do not exist: Java's consumer fetches partition 0
    // anyway (and waits for metadata on the others).
    let read = consume_with_kafkit(&cluster, "one", 1).await;
    assert_eq!(read.len(), 1, "{read:?}");
}
