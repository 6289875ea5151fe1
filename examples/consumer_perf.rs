//! Consumer throughput, shaped like Kafka's `kafka-consumer-perf-test`:
//!
//! ```text
//! cargo run --release --example consumer_perf -- --bootstrap-server HOST:PORT --topic T \
//!     --messages N [--group G] [--from-latest] [--timeout-ms 10000] [--fetch-connections N]
//! ```
//! Without `--group` every partition of the topic is assigned manually
//! (rebalance time 0); with it the consumer subscribes to the topic and the
//! rebalance time is the time until the group first assigned partitions
//! (`session.timeout.ms` is 6 s, as Tansu completes a first join after half
//! of it). Prints Kafka's header line and one data line
//! (`examples/common/consumer_summary.rs`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use kafkit::consumer::{Consumer, OffsetReset, RebalanceListener};
use kafkit::{Client, TopicPartition};

#[path = "common/consumer_summary.rs"]
mod consumer_summary;

/// Notes when the group first assigned partitions (the rebalance time).
struct Assigned(Arc<Mutex<Option<Instant>>>);

impl RebalanceListener<Bytes, Bytes> for Assigned {
    async fn on_partitions_assigned(
        &self,
        _consumer: &Consumer<Bytes, Bytes>,
        partitions: &[TopicPartition],
    ) {
        if !partitions.is_empty()
            && let Ok(mut at) = self.0.lock()
        {
            at.get_or_insert_with(Instant::now);
        }
    }
}

struct Args {
    bootstrap: String,
    topic: String,
    messages: u64,
    group: Option<String>,
    from_latest: bool,
    timeout: Duration,
    fetch_connections: Option<usize>,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        bootstrap: String::new(),
        topic: String::new(),
        messages: 0,
        group: None,
        from_latest: false,
        timeout: Duration::from_secs(10),
        fetch_connections: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--bootstrap-server" | "--broker-list" => a.bootstrap = value()?,
            "--topic" => a.topic = value()?,
            "--messages" => {
                a.messages = value()?.parse().map_err(|e| format!("--messages: {e}"))?
            }
            "--group" => a.group = Some(value()?),
            "--from-latest" => a.from_latest = true,
            "--fetch-connections" => {
                a.fetch_connections = Some(
                    value()?
                        .parse()
                        .map_err(|e| format!("--fetch-connections: {e}"))?,
                )
            }
            "--timeout" | "--timeout-ms" => {
                a.timeout =
                    Duration::from_millis(value()?.parse().map_err(|e| format!("--timeout: {e}"))?)
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.bootstrap.is_empty() || a.topic.is_empty() || a.messages == 0 {
        return Err("--bootstrap-server, --topic and --messages are required".into());
    }
    Ok(a)
}

#[tokio::main]
async fn main() -> kafkit::Result<()> {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("consumer_perf: {e}");
            std::process::exit(2);
        }
    };
    let client = Client::builder(&args.bootstrap)
        .client_id("kafkit-consumer-perf")
        .build()
        .await?;
    let meta = client.metadata_for(&[&args.topic]).await?;
    let Some(topic) = meta.topic(&args.topic) else {
        eprintln!("consumer_perf: topic {} not found", args.topic);
        std::process::exit(1);
    };
    let partitions: Vec<TopicPartition> = topic
        .partitions
        .iter()
        .map(|p| TopicPartition::new(args.topic.as_str(), p.partition))
        .collect();

    let start_wall = SystemTime::now();
    let start = Instant::now();
    let assigned_at = Arc::new(Mutex::new(None));
    let mut builder: kafkit::consumer::ConsumerBuilder<Bytes, Bytes> = Consumer::builder(&client)
        .auto_offset_reset(if args.from_latest {
            OffsetReset::Latest
        } else {
            OffsetReset::Earliest
        });
    if let Some(n) = args.fetch_connections {
        builder = builder.fetch_connections_per_broker(n);
    }
    if let Some(group) = &args.group {
        builder = builder
            .group_id(group.clone())
            .session_timeout(Duration::from_secs(6))
            .heartbeat_interval(Duration::from_secs(1))
            .rebalance_listener(Assigned(assigned_at.clone()));
    }
    let consumer = builder.build()?;
    if args.group.is_some() {
        consumer.subscribe([args.topic.as_str()])?;
    } else {
        consumer.assign(partitions)?;
    }

    let (mut messages, mut bytes) = (0u64, 0u64);
    let mut last_record = Instant::now();
    while messages < args.messages && last_record.elapsed() < args.timeout {
        let records = consumer.poll(Duration::from_millis(100)).await?;
        if !records.is_empty() {
            last_record = Instant::now();
        }
        for r in &records {
            messages += 1;
            bytes += r.key.as_ref().map_or(0, |k| k.len()) as u64
                + r.value.as_ref().map_or(0, |v| v.len()) as u64;
        }
    }
    let elapsed = start.elapsed();
    if messages < args.messages {
        eprintln!(
            "WARNING: Exiting before consuming the expected number of messages: timeout ({} ms) exceeded.",
            args.timeout.as_millis()
        );
    }
    // With manual assignment there is no rebalance: 0.
    let rebalance = assigned_at
        .lock()
        .ok()
        .and_then(|at| *at)
        .map_or(Duration::ZERO, |at| at.duration_since(start));
    consumer_summary::print(&consumer_summary::Run {
        start: start_wall,
        elapsed,
        rebalance,
        messages,
        bytes,
    });
    let m = consumer.metrics();
    eprintln!(
        "fetch requests {}, avg fetch latency {:?}, records fetched {}",
        m.fetch_requests, m.fetch_latency_avg, m.records_fetched
    );
    consumer.close(Duration::from_secs(5)).await;
    Ok(())
}
