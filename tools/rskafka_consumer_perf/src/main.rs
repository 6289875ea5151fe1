//! rskafka's raw fetch loop, measured like kafkit's `consumer_perf`:
//!
//! ```text
//! cargo build --release --manifest-path tools/rskafka_consumer_perf/Cargo.toml --target-dir target/tools
//! target/tools/release/rskafka_consumer_perf --bootstrap-server HOST:PORT --topic T --messages N \
//!     [--max-bytes 52428800] [--max-wait-ms 500]
//! ```
//! One concurrent `PartitionClient::fetch_records` loop per partition of the
//! topic, from offset 0, until N records arrived in all. Prints the same
//! Kafka-style summary as `consumer_perf` (rebalance time 0: no group).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use rskafka::client::ClientBuilder;
use rskafka::client::partition::UnknownTopicHandling;
use tokio::sync::mpsc;

#[path = "../../../examples/common/consumer_summary.rs"]
mod consumer_summary;

fn arg(args: &[String], flag: &str) -> Option<String> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1).cloned())
}

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("rskafka_consumer_perf: {msg}");
    std::process::exit(1)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(bootstrap), Some(topic), Some(messages)) = (
        arg(&args, "--bootstrap-server"),
        arg(&args, "--topic"),
        arg(&args, "--messages").and_then(|m| m.parse::<u64>().ok()),
    ) else {
        fail("--bootstrap-server, --topic and --messages are required")
    };
    let max_bytes: i32 =
        arg(&args, "--max-bytes").map_or(52_428_800, |v| v.parse().unwrap_or(52_428_800));
    let max_wait: i32 = arg(&args, "--max-wait-ms").map_or(500, |v| v.parse().unwrap_or(500));

    let client = ClientBuilder::new(vec![bootstrap])
        .build()
        .await
        .unwrap_or_else(|e| fail(e));
    let partitions = client
        .list_topics()
        .await
        .unwrap_or_else(|e| fail(e))
        .into_iter()
        .find(|t| t.name == topic)
        .unwrap_or_else(|| fail(format!("topic {topic} not found")))
        .partitions;

    let start_wall = SystemTime::now();
    let start = Instant::now();
    let counted = Arc::new((AtomicU64::new(0), AtomicU64::new(0)));
    // Each loop reports when it read (or gave up); the run ends when the
    // records add up to N or every loop has been idle for 10 s.
    let (done_tx, mut done_rx) = mpsc::channel::<()>(partitions.len() + 1);
    for partition in partitions {
        let pc = client
            .partition_client(topic.clone(), partition, UnknownTopicHandling::Error)
            .await
            .unwrap_or_else(|e| fail(e));
        let (counted, done) = (counted.clone(), done_tx.clone());
        tokio::spawn(async move {
            let (mut offset, mut last) = (0i64, Instant::now());
            while last.elapsed() < Duration::from_secs(10) {
                let (records, _high_watermark) = pc
                    .fetch_records(offset, 1..max_bytes, max_wait)
                    .await
                    .unwrap_or_else(|e| fail(e));
                let Some(end) = records.last().map(|r| r.offset + 1) else {
                    continue;
                };
                last = Instant::now();
                offset = end;
                let bytes: usize = records
                    .iter()
                    .map(|r| {
                        r.record.key.as_ref().map_or(0, Vec::len)
                            + r.record.value.as_ref().map_or(0, Vec::len)
                    })
                    .sum();
                counted.1.fetch_add(bytes as u64, Ordering::Relaxed);
                if counted.0.fetch_add(records.len() as u64, Ordering::Relaxed)
                    + records.len() as u64
                    >= messages
                {
                    let _ = done.send(()).await;
                }
            }
            let _ = done.send(()).await;
        });
    }
    drop(done_tx);
    while counted.0.load(Ordering::Relaxed) < messages && done_rx.recv().await.is_some() {}
    let elapsed = start.elapsed();
    let n = counted.0.load(Ordering::Relaxed);
    if n < messages {
        eprintln!(
            "WARNING: Exiting before consuming the expected number of messages: timeout (10000 ms) exceeded."
        );
    }
    consumer_summary::print(&consumer_summary::Run {
        start: start_wall,
        elapsed,
        rebalance: Duration::ZERO,
        messages: n,
        bytes: counted.1.load(Ordering::Relaxed),
    });
    // The other loops may be in a long poll at the log end: do not wait.
    std::process::exit(0);
}
