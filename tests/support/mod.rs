//! Test support shared by the integration tests: real brokers and
//! librdkafka as a peer client.
//!
//! - [`tansu`]: a Tansu broker process per call (starts in milliseconds), on
//!   a free loopback port, killed when the guard drops. The pinned binary is
//!   fetched on first use by `scripts/tansu.sh`.
//! - [`mock_cluster`]: librdkafka's in-process mock cluster.
//! - [`external`]: the broker named by `KAFKA_BOOTSTRAP`, if any.
//!
//! Skip policy: outside CI a test whose broker cannot be had prints
//! `SKIP ...` and returns; with `CI=true` it fails.
//!
//! Broker deviations to keep in mind (shared/BROKERS.md):
//! - Tansu: the first JoinGroup completes after ~session.timeout/2; ListOffsets(LATEST) answers the
//!   last batch's base offset + 1; read_committed is not enforced; no CreatePartitions,
//!   OffsetForLeaderEpoch, KIP-848; DeleteRecords closes the connection; DescribeConfigs is empty.
//! - Mock cluster: no CreateTopics (use `create_topic`); keeps ~5 MiB per partition; one batch per
//!   partition per Fetch; TxnOffsetCommit not stored; read_committed not enforced.
#![allow(dead_code)]

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::mocking::MockCluster;

/// True when running under CI, where a missing broker is a failure.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Reports that `test` cannot run: fails in CI, prints a SKIP line elsewhere.
pub fn skip(test: &str, reason: &str) {
    if in_ci() {
        panic!("{test}: broker unavailable in CI: {reason}");
    }
    eprintln!("SKIP {test}: {reason}");
}

/// A running Tansu broker; killed on drop.
pub struct TansuBroker {
    child: Child,
    port: u16,
    pub log: PathBuf,
}

impl TansuBroker {
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for TansuBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Starts a fresh Tansu broker.
pub fn tansu() -> Result<TansuBroker, String> {
    let out = Command::new("bash")
        .arg(repo().join("scripts/tansu.sh"))
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("running scripts/tansu.sh: {e}"))?;
    if !out.status.success() {
        return Err(format!("scripts/tansu.sh failed ({})", out.status));
    }
    let bin = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let port = free_port().map_err(|e| format!("no free port: {e}"))?;
    let log = repo().join(format!("target/brokers/tansu-{port}.log"));
    let log_file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let url = format!("tcp://127.0.0.1:{port}");
    let child = Command::new(&bin)
        .args([
            "broker",
            "--storage-engine",
            "memory://tansu/",
            "--listener-url",
            &url,
        ])
        .args(["--advertised-listener-url", &url])
        .stdout(log_file.try_clone().map_err(|e| e.to_string())?)
        .stderr(log_file)
        .spawn()
        .map_err(|e| format!("starting {bin}: {e}"))?;
    let mut broker = TansuBroker { child, port, log };
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = broker.child.try_wait() {
            return Err(format!(
                "tansu exited with {status}; see {}",
                broker.log.display()
            ));
        }
        if Instant::now() > deadline {
            return Err(format!("tansu did not listen on {port} in 10 s"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(broker)
}

/// [`tansu`], or `None` after a SKIP line (outside CI; in CI it panics).
pub fn tansu_or_skip(test: &str) -> Option<TansuBroker> {
    match tansu() {
        Ok(b) => Some(b),
        Err(reason) => {
            skip(test, &reason);
            None
        }
    }
}

/// librdkafka's in-process mock cluster with `brokers` brokers.
pub fn mock_cluster(
    brokers: i32,
) -> MockCluster<'static, rdkafka::producer::DefaultProducerContext> {
    MockCluster::new(brokers).expect("librdkafka mock cluster")
}

/// The broker named by `KAFKA_BOOTSTRAP`, if any.
pub fn external() -> Option<String> {
    std::env::var("KAFKA_BOOTSTRAP")
        .ok()
        .filter(|s| !s.is_empty())
}

/// A unique topic name for one test run.
pub fn unique_topic(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{}", std::process::id(), nanos % 1_000_000_000)
}

/// A record as librdkafka saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRecord {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    pub timestamp: Option<i64>,
}

/// (key, value, partition) of a record to produce with librdkafka.
pub type PeerInput = (Option<Vec<u8>>, Option<Vec<u8>>, Option<i32>);

/// Produces with librdkafka (acks=all, idempotent) and waits for every
/// delivery; returns (partition, offset) per record.
pub fn produce_with_rdkafka(
    bootstrap: &str,
    topic: &str,
    records: &[PeerInput],
    compression: &str,
) -> Vec<(i32, i64)> {
    let producer: rdkafka::producer::FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("compression.type", compression)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()
        .expect("rdkafka producer");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let futures: Vec<_> = records
            .iter()
            .map(|(k, v, p)| {
                let mut r = rdkafka::producer::FutureRecord::<Vec<u8>, Vec<u8>>::to(topic);
                if let Some(k) = k {
                    r = r.key(k);
                }
                if let Some(v) = v {
                    r = r.payload(v);
                }
                if let Some(p) = p {
                    r = r.partition(*p);
                }
                producer
                    .send_result(r)
                    .map_err(|(e, _)| e)
                    .expect("enqueue")
            })
            .collect();
        let mut out = Vec::new();
        for f in futures {
            let delivery = f.await.expect("delivery future").expect("delivered");
            out.push((delivery.partition, delivery.offset));
        }
        out
    })
}

/// Reads `expected` records from all `partitions` of `topic` from the
/// beginning with librdkafka; fails after `timeout`.
pub fn consume_with_rdkafka(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    expected: usize,
    timeout: Duration,
) -> Vec<PeerRecord> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::{Headers, Message};
    use rdkafka::{Offset, TopicPartitionList};
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "kafkit-peer")
        .set("enable.auto.commit", "false")
        .set("fetch.queue.backoff.ms", "0")
        .create()
        .expect("rdkafka consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .expect("tpl");
    }
    consumer.assign(&tpl).expect("assign");
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    while out.len() < expected {
        assert!(
            Instant::now() < deadline,
            "librdkafka read {} of {expected} records",
            out.len()
        );
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => out.push(PeerRecord {
                partition: m.partition(),
                offset: m.offset(),
                key: m.key().map(<[u8]>::to_vec),
                value: m.payload().map(<[u8]>::to_vec),
                headers: m
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec)))
                            .collect()
                    })
                    .unwrap_or_default(),
                timestamp: m.timestamp().to_millis(),
            }),
            Some(Err(e)) => panic!("librdkafka consume error: {e}"),
            None => {}
        }
    }
    out
}
