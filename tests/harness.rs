//! Tests of the test infrastructure itself (tests/support): the brokers start,
//! take records from librdkafka and give back exactly those records. If these
//! fail, no other integration test result means anything.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use support::{BrokerKind, PeerInput, PeerRecord, TestBroker};

const COUNT: usize = 100;

fn numbered_records(n: usize) -> Vec<(Option<Vec<u8>>, Vec<u8>)> {
    (0..n)
        .map(|i| {
            (
                Some(format!("key-{i}").into_bytes()),
                format!("value-{i:03}").into_bytes(),
            )
        })
        .collect()
}

/// Produce 100 records with librdkafka, read them back with librdkafka, and
/// check that each arrived exactly once, at the offset its delivery report
/// named, with offsets dense from 0 in every partition.
async fn roundtrip_100(broker: &TestBroker) {
    let topic = support::unique_topic("harness-roundtrip");
    broker.create_topic(&topic, 3).await;

    let sent = numbered_records(COUNT);
    let acked = support::produce_with_rdkafka(&broker.bootstrap(), &topic, &sent, "none").await;
    assert_eq!(acked.len(), COUNT, "{broker}: delivery reports");

    let got =
        support::consume_with_rdkafka(&broker.bootstrap(), &topic, COUNT, Duration::from_secs(30))
            .await;
    assert_eq!(got.len(), COUNT, "{broker}: records read back");

    let values: HashSet<&[u8]> = got.iter().filter_map(|r| r.value.as_deref()).collect();
    assert_eq!(values.len(), COUNT, "{broker}: each value exactly once");
    for (key, value) in &sent {
        assert!(
            values.contains(value.as_slice()),
            "{broker}: missing {key:?}"
        );
    }

    // Where librdkafka's delivery reports said each record went, it is.
    let by_position: BTreeMap<(i32, i64), &PeerRecord> =
        got.iter().map(|r| ((r.partition, r.offset), r)).collect();
    for ((key, value), position) in sent.iter().zip(&acked) {
        let record = by_position
            .get(position)
            .unwrap_or_else(|| panic!("{broker}: nothing at acked {position:?}"));
        assert_eq!(
            record.key.as_ref(),
            key.as_ref(),
            "{broker}: key at {position:?}"
        );
        assert_eq!(record.value.as_deref(), Some(value.as_slice()));
    }

    // Offsets are dense from 0 in each partition.
    let mut next: BTreeMap<i32, i64> = BTreeMap::new();
    for record in &got {
        let expected = next.entry(record.partition).or_insert(0);
        assert_eq!(
            record.offset, *expected,
            "{broker}: offsets of p{}",
            record.partition
        );
        *expected += 1;
    }
    // librdkafka's partitioner spread 100 keyed records over the 3 partitions.
    assert!(
        next.len() > 1,
        "{broker}: all records in one partition: {next:?}"
    );
}

#[tokio::test]
async fn tansu_roundtrip_100_records() {
    let Some(tansu) = support::tansu_or_skip() else {
        return;
    };
    assert!(tansu.bootstrap().starts_with("127.0.0.1:"));
    let broker = TestBroker::from(tansu);
    assert_eq!(broker.kind(), BrokerKind::Tansu);
    roundtrip_100(&broker).await;
}

#[tokio::test]
async fn mock_cluster_roundtrip_100_records() {
    let broker = TestBroker::mock(3);
    assert_eq!(
        broker.bootstrap().split(',').count(),
        3,
        "three mock brokers: {broker}"
    );
    roundtrip_100(&broker).await;
}

#[tokio::test]
async fn external_roundtrip_100_records() {
    let Some(bootstrap) = support::external_or_skip() else {
        return;
    };
    let broker = TestBroker::external().expect("KAFKA_BOOTSTRAP is set");
    assert_eq!(broker.bootstrap(), bootstrap);
    roundtrip_100(&broker).await;
}

/// Every codec librdkafka can write, against every broker, with null values
/// and headers preserved: exercises `for_each_broker` and the full
/// `PeerInput` path.
#[tokio::test]
async fn every_broker_every_codec_headers_and_nulls() {
    let mut ran = Vec::new();
    support::for_each_broker(async |broker| {
        for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
            let topic = support::unique_topic(&format!("harness-{codec}"));
            broker.create_topic(&topic, 1).await;
            let records: Vec<PeerInput> = (0..10)
                .map(|i| PeerInput {
                    partition: Some(0),
                    key: (i % 2 == 0).then(|| vec![i]),
                    value: (i != 3).then(|| vec![b'x'; 100 + usize::from(i)]),
                    headers: vec![
                        ("n".to_string(), Some(vec![i])),
                        ("empty".to_string(), None),
                    ],
                })
                .collect();
            let acked =
                support::produce_records_with_rdkafka(&broker.bootstrap(), &topic, &records, codec)
                    .await;
            let offsets: Vec<(i32, i64)> = (0..10).map(|o| (0, o)).collect();
            assert_eq!(acked, offsets, "{broker} {codec}: delivery reports");

            let got = support::consume_with_rdkafka(
                &broker.bootstrap(),
                &topic,
                records.len(),
                Duration::from_secs(30),
            )
            .await;
            assert_eq!(got.len(), records.len(), "{broker} {codec}: count");
            for (sent, read) in records.iter().zip(&got) {
                assert_eq!(read.key, sent.key, "{broker} {codec}");
                assert_eq!(read.value, sent.value, "{broker} {codec}");
                assert_eq!(read.headers, sent.headers, "{broker} {codec}");
                assert!(read.timestamp.is_some(), "{broker} {codec}: timestamp");
            }
        }
        ran.push(broker.kind());
    })
    .await;
    assert!(ran.contains(&BrokerKind::Mock), "ran against {ran:?}");
    #[cfg(feature = "mock")]
    assert!(ran.contains(&BrokerKind::Embedded), "ran against {ran:?}");
    if support::in_ci() {
        assert!(ran.contains(&BrokerKind::Tansu), "ran against {ran:?}");
    }
}

/// The consume helper reports what is there, not what was asked for: a
/// short topic gives a short read once the timeout passes.
#[tokio::test]
async fn consume_returns_only_what_exists() {
    let broker = TestBroker::mock(1);
    let topic = support::unique_topic("harness-short");
    broker.create_topic(&topic, 2).await;
    support::produce_with_rdkafka(&broker.bootstrap(), &topic, &numbered_records(5), "none").await;
    let got =
        support::consume_with_rdkafka(&broker.bootstrap(), &topic, 10, Duration::from_secs(2))
            .await;
    assert_eq!(got.len(), 5);
}

/// Dropping the guard kills and reaps the broker: no process, no zombie.
#[test]
fn tansu_guard_kills_and_reaps_on_drop() {
    let Some(broker) = support::tansu_or_skip() else {
        return;
    };
    let pid = broker.pid();
    let proc_dir = std::path::PathBuf::from(format!("/proc/{pid}"));
    assert!(proc_dir.exists(), "broker process {pid} is running");
    let log = broker.log_path().to_path_buf();
    assert!(log.exists(), "broker log {}", log.display());
    let port = broker.port();
    drop(broker);
    // A zombie keeps its /proc entry until reaped, so this checks both.
    assert!(!proc_dir.exists(), "process {pid} still present after drop");
    assert!(!log.exists(), "log of a passing test is removed");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "port {port} still accepting after drop"
    );
}

/// Tests running in parallel get distinct brokers.
#[test]
fn parallel_tansu_brokers_are_distinct() {
    let Some(a) = support::tansu_or_skip() else {
        return;
    };
    let Some(b) = support::tansu_or_skip() else {
        return;
    };
    assert_ne!(a.port(), b.port());
    assert_ne!(a.pid(), b.pid());
}

/// The skip policy names the running test (taken from libtest's thread).
#[test]
fn test_name_is_the_running_test() {
    assert_eq!(support::test_name(), "test_name_is_the_running_test");
}

/// `skip_or_fail!` returns from the enclosing function (outside CI; in CI it
/// panics by design, which this test cannot observe without failing).
#[test]
fn skip_macro_returns_early() {
    if support::in_ci() {
        return;
    }
    let mut reached = false;
    let mut body = || {
        skip_or_fail!("demonstrating the macro, {}", 42);
        #[allow(unreachable_code)]
        {
            reached = true;
        }
    };
    body();
    assert!(!reached, "code after skip_or_fail! ran");
}

/// A port somebody else listens on is refused, rather than handing the test
/// a "broker" that is really the stranger.
#[test]
fn tansu_on_a_taken_port_is_an_error() {
    let Some(probe) = support::tansu_or_skip() else {
        return;
    };
    drop(probe);
    let stranger = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = stranger.local_addr().expect("addr").port();
    match support::start_tansu_on(port) {
        Ok(broker) => panic!("got {broker:?} on a port held by this test"),
        Err(reason) => assert!(reason.contains(&port.to_string()), "{reason}"),
    }
}

/// A broker can be restarted on the port of one that was dropped (for
/// reconnection tests); the new one starts empty.
#[tokio::test]
async fn tansu_restart_on_same_port() {
    let Some(first) = support::tansu_or_skip() else {
        return;
    };
    let port = first.port();
    let topic = support::unique_topic("harness-restart");
    support::create_topic_with_rdkafka(&first.bootstrap(), &topic, 1).await;
    drop(first);
    let second = support::start_tansu_on(port).expect("restart on the same port");
    assert_eq!(second.port(), port);
    // Same name again: would fail with TOPIC_ALREADY_EXISTS on the old broker.
    support::create_topic_with_rdkafka(&second.bootstrap(), &topic, 1).await;
}
