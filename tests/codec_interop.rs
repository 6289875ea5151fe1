//! The record codec against librdkafka, both ways, for every codec:
//! batches librdkafka writes are decoded by kafkit, and batches kafkit
//! writes are read by librdkafka. Runs on librdkafka's mock cluster and on
//! Tansu. Also checks the golden vectors: fetch responses' record bytes
//! written by librdkafka, stored under tests/golden/.

mod support;

use std::time::Duration;

use bytes::Bytes;
use kafkit::Client;
use kafkit::admin::NewTopic;
use kafkit::protocol::StrBytes;
use kafkit::protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafkit::protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafkit::protocol::messages::{BrokerId, FetchRequest, ProduceRequest, TopicName};
use kafkit::protocol::records::{BatchWriter, Compression, Record, decode_batches};

const N: usize = 50;

fn expected(codec: Compression, i: usize) -> (Vec<u8>, Vec<u8>) {
    (
        format!("key-{i}").into_bytes(),
        format!("value-{i}-{}|", codec.name())
            .repeat(3)
            .into_bytes(),
    )
}

fn topic_name(t: &str) -> TopicName {
    TopicName(StrBytes::from_string(t.to_owned()))
}

/// Fetches partition 0 of `topic` from offset 0 until `n` records were
/// decoded. Returns the records, the codecs of the batches seen, and the raw
/// record bytes of every fetch response (for golden vectors).
async fn fetch_all(
    client: &Client,
    topic: &str,
    n: usize,
) -> (Vec<Record>, Vec<Compression>, Vec<Bytes>) {
    let meta = client.metadata_for(&[topic]).await.unwrap();
    let leader = meta.leader_for(topic, 0).expect("leader");
    let (mut records, mut codecs, mut raw) = (Vec::new(), Vec::new(), Vec::new());
    let mut offset = 0i64;
    for _ in 0..200 {
        if records.len() >= n {
            break;
        }
        let req = FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(100)
            .with_min_bytes(1)
            .with_max_bytes(1 << 20)
            .with_topics(vec![
                FetchTopic::default()
                    .with_topic(topic_name(topic))
                    .with_partitions(vec![
                        FetchPartition::default()
                            .with_partition(0)
                            .with_fetch_offset(offset)
                            .with_partition_max_bytes(1 << 20)
                            .with_current_leader_epoch(-1)
                            .with_last_fetched_epoch(-1)
                            .with_log_start_offset(-1),
                    ]),
            ]);
        let resp = client.send_to(leader, req).await.unwrap();
        let part = &resp.responses[0].partitions[0];
        assert_eq!(part.error_code, 0, "fetch error");
        let Some(bytes) = part.records.clone() else {
            continue;
        };
        raw.push(bytes.clone());
        for batch in decode_batches(bytes) {
            let batch = batch.unwrap();
            codecs.push(batch.compression().unwrap());
            for r in batch.records() {
                let r = r.unwrap();
                if r.offset >= offset {
                    offset = r.offset + 1;
                    records.push(r);
                }
            }
        }
    }
    (records, codecs, raw)
}

fn check(codec: Compression, records: &[Record], broker: &str) {
    assert_eq!(records.len(), N, "{broker} {codec:?}: record count");
    for (i, r) in records.iter().enumerate() {
        let (k, v) = expected(codec, i);
        assert_eq!(r.offset, i as i64, "{broker} {codec:?}");
        assert_eq!(r.key.as_deref(), Some(&k[..]), "{broker} {codec:?} key {i}");
        assert_eq!(
            r.value.as_deref(),
            Some(&v[..]),
            "{broker} {codec:?} value {i}"
        );
    }
}

/// librdkafka produces with `codec`; kafkit fetches and decodes.
async fn librdkafka_to_kafkit(
    bootstrap: &str,
    topic: &str,
    codec: Compression,
    broker: &str,
) -> Vec<Bytes> {
    let recs: Vec<_> = (0..N)
        .map(|i| {
            let (k, v) = expected(codec, i);
            support::PeerInput {
                partition: Some(0),
                key: Some(k),
                value: Some(v),
                headers: Vec::new(),
            }
        })
        .collect();
    support::produce_records_with_rdkafka(bootstrap, topic, &recs, codec.name()).await;
    let client = Client::builder(bootstrap).build().await.unwrap();
    let (records, codecs, raw) = fetch_all(&client, topic, N).await;
    check(codec, &records, broker);
    assert!(
        codecs.contains(&codec),
        "{broker}: librdkafka wrote {codecs:?}, expected {codec:?}"
    );
    raw
}

/// kafkit encodes batches with `codec` and produces them; librdkafka reads.
async fn kafkit_to_librdkafka(bootstrap: &str, topic: &str, codec: Compression, broker: &str) {
    let client = Client::builder(bootstrap).build().await.unwrap();
    let leader = client
        .metadata_for(&[topic])
        .await
        .unwrap()
        .leader_for(topic, 0)
        .unwrap();
    // Two batches, so offsets continue across them.
    for half in [0..N / 2, N / 2..N] {
        let mut w = BatchWriter::new(codec);
        for i in half {
            let (k, v) = expected(codec, i);
            w.append(
                1_700_000_000_000 + i as i64,
                Some(&k),
                Some(&v),
                &[("n", Some(i.to_string().as_bytes()))],
            );
        }
        let req = ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(5000)
            .with_topic_data(vec![
                TopicProduceData::default()
                    .with_name(topic_name(topic))
                    .with_partition_data(vec![
                        PartitionProduceData::default()
                            .with_index(0)
                            .with_records(Some(w.finish().unwrap())),
                    ]),
            ]);
        let resp = client.send_to(leader, req).await.unwrap();
        let p = &resp.responses[0].partition_responses[0];
        assert_eq!(
            p.error_code, 0,
            "{broker} {codec:?}: produce error {:?}",
            p.error_message
        );
    }
    let got = support::consume_with_rdkafka(bootstrap, topic, N, Duration::from_secs(20)).await;
    assert_eq!(got.len(), N, "{broker} {codec:?}");
    for (i, r) in got.iter().enumerate() {
        let (k, v) = expected(codec, i);
        assert_eq!(
            (r.offset, r.key.as_deref(), r.value.as_deref()),
            (i as i64, Some(&k[..]), Some(&v[..])),
            "{broker} {codec:?}"
        );
        assert_eq!(
            r.headers,
            vec![("n".to_owned(), Some(i.to_string().into_bytes()))]
        );
        assert_eq!(r.timestamp, Some(1_700_000_000_000 + i as i64));
    }
}

fn golden_path(codec: Compression) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/golden/librdkafka-{}.bin", codec.name()))
}

#[tokio::test]
async fn mock_cluster_both_ways_every_codec() {
    let mock = support::mock_cluster(1);
    let bootstrap = mock.bootstrap_servers();
    for codec in Compression::ALL {
        let from = format!("from-rdkafka-{}", codec.name());
        mock.create_topic(&from, 1, 1).unwrap();
        let raw = librdkafka_to_kafkit(&bootstrap, &from, codec, "mock").await;
        if std::env::var("KAFKIT_REGENERATE_GOLDEN").is_ok() {
            // Length-prefixed raw record sets, as the broker returned them.
            let mut out = Vec::new();
            for r in &raw {
                out.extend_from_slice(&(r.len() as u32).to_be_bytes());
                out.extend_from_slice(r);
            }
            std::fs::create_dir_all(golden_path(codec).parent().unwrap()).unwrap();
            std::fs::write(golden_path(codec), out).unwrap();
        }
        let to = format!("from-kafkit-{}", codec.name());
        mock.create_topic(&to, 1, 1).unwrap();
        kafkit_to_librdkafka(&bootstrap, &to, codec, "mock").await;
    }
}

#[tokio::test]
async fn tansu_and_embedded_both_ways_every_codec() {
    for broker in support::tansu_and_embedded().await {
        eprintln!("== against {broker}");
        let bootstrap = broker.bootstrap();
        let admin = kafkit::Admin::new(&Client::builder(&bootstrap).build().await.unwrap());
        for codec in Compression::ALL {
            let (from, to) = (
                format!("from-rdkafka-{}", codec.name()),
                format!("from-kafkit-{}", codec.name()),
            );
            for (t, r) in admin
                .create_topics([NewTopic::new(&from, 1, 1), NewTopic::new(&to, 1, 1)])
                .await
                .unwrap()
            {
                r.unwrap_or_else(|e| panic!("create {t}: {e}"));
            }
            librdkafka_to_kafkit(&bootstrap, &from, codec, "tansu").await;
            kafkit_to_librdkafka(&bootstrap, &to, codec, "tansu").await;
        }
    }
}

/// Record sets written by librdkafka 2.12 (through its mock cluster) decode
/// to the records it was given. No broker needed.
#[test]
fn golden_librdkafka_record_sets_decode() {
    for codec in Compression::ALL {
        let path = golden_path(codec);
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut rest = &data[..];
        let mut records = Vec::new();
        let mut codecs = Vec::new();
        while !rest.is_empty() {
            let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            let set = Bytes::copy_from_slice(&rest[4..4 + len]);
            rest = &rest[4 + len..];
            for batch in decode_batches(set) {
                let batch = batch.unwrap();
                codecs.push(batch.compression().unwrap());
                assert!(batch.producer_id >= 0, "librdkafka produced idempotently");
                records.extend(batch.records().map(|r| r.unwrap()));
            }
        }
        check(codec, &records, "golden");
        assert!(codecs.contains(&codec), "{codec:?}: {codecs:?}");
    }
}
