//! The same measurement as `consumer_perf`, made with librdkafka (the
//! `rdkafka` dev-dependency's `BaseConsumer`, `fetch.queue.backoff.ms=0`),
//! so both clients can be compared on the same broker in the same run
//! (`scripts/compare_consumers.sh`).
//!
//! ```text
//! cargo run --release --example rdkafka_consumer_perf -- \
//!     --bootstrap-server HOST:PORT --topic T --messages N [--partitions P]
//! ```
//!
//! Assigns partitions `0..P` (default 6) from the beginning, reads until N
//! records arrived, and prints the same Kafka-style summary as
//! `consumer_perf` (rebalance time 0: manual assignment).

use std::time::{Duration, Instant, SystemTime};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

#[path = "common/consumer_summary.rs"]
mod consumer_summary;

fn main() {
    let mut bootstrap = String::new();
    let mut topic = String::new();
    let mut messages: u64 = 0;
    let mut partitions: i32 = 6;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_default();
        match flag.as_str() {
            "--bootstrap-server" => bootstrap = value,
            "--topic" => topic = value,
            "--messages" => messages = value.parse().unwrap_or(0),
            "--partitions" => partitions = value.parse().unwrap_or(6),
            other => {
                eprintln!("rdkafka_consumer_perf: unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    if bootstrap.is_empty() || topic.is_empty() || messages == 0 {
        eprintln!("rdkafka_consumer_perf: --bootstrap-server, --topic and --messages are required");
        std::process::exit(2);
    }
    let consumer: BaseConsumer = match ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", "rdkafka-consumer-perf")
        .set("enable.auto.commit", "false")
        .set("fetch.queue.backoff.ms", "0")
        .create()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rdkafka_consumer_perf: {e}");
            std::process::exit(1);
        }
    };
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        if let Err(e) = tpl.add_partition_offset(&topic, p, Offset::Beginning) {
            eprintln!("rdkafka_consumer_perf: {e}");
            std::process::exit(1);
        }
    }
    if let Err(e) = consumer.assign(&tpl) {
        eprintln!("rdkafka_consumer_perf: {e}");
        std::process::exit(1);
    }
    let start_wall = SystemTime::now();
    let start = Instant::now();
    let (mut n, mut bytes) = (0u64, 0u64);
    let mut idle_since = Instant::now();
    while n < messages {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                n += 1;
                bytes += m.key().map_or(0, |k| k.len() as u64)
                    + m.payload().map_or(0, |p| p.len() as u64);
                idle_since = Instant::now();
            }
            Some(Err(e)) => eprintln!("rdkafka_consumer_perf: {e}"),
            None if idle_since.elapsed() > Duration::from_secs(10) => break,
            None => {}
        }
    }
    consumer_summary::print(&consumer_summary::Run {
        start: start_wall,
        elapsed: start.elapsed(),
        rebalance: Duration::ZERO,
        messages: n,
        bytes,
    });
}
