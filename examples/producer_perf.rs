//! Producer throughput, shaped like Kafka's `kafka-producer-perf-test`:
//!
//! ```text
//! cargo run --release --example producer_perf -- --bootstrap-server HOST:PORT --topic T \
//!     --num-records N --record-size S [--acks all|1|0] [--compression none|gzip|snappy|lz4|zstd] \
//!     [--linger-ms 5] [--batch-size 16384] [--partitions 6]
//! ```
//! Creates the topic with `--partitions` partitions if it is missing, and prints Kafka's summary line last.

#[path = "common/perf_summary.rs"]
mod perf_summary;

use std::time::{Duration, Instant};

use bytes::Bytes;
use kafkit::Client;
use kafkit::admin::NewTopic;
use kafkit::producer::{Acks, Producer, ProducerRecord};
use kafkit::protocol::records::Compression;

struct Args {
    bootstrap: String,
    topic: String,
    num_records: usize,
    record_size: usize,
    acks: Acks,
    compression: Compression,
    linger_ms: u64,
    batch_size: usize,
    partitions: i32,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        bootstrap: String::new(),
        topic: String::new(),
        num_records: 0,
        record_size: 100,
        acks: Acks::All,
        compression: Compression::None,
        linger_ms: 5,
        batch_size: 16384,
        partitions: 6,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let num = |v: String| v.parse::<usize>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--bootstrap-server" => a.bootstrap = value()?,
            "--topic" => a.topic = value()?,
            "--num-records" => a.num_records = num(value()?)?,
            "--record-size" => a.record_size = num(value()?)?,
            "--linger-ms" => a.linger_ms = num(value()?)? as u64,
            "--batch-size" => a.batch_size = num(value()?)?,
            "--partitions" => a.partitions = num(value()?)? as i32,
            "--compression" => a.compression = value()?.parse().map_err(|e| format!("{e}"))?,
            "--acks" => {
                a.acks = match value()?.as_str() {
                    "all" | "-1" => Acks::All,
                    "1" => Acks::Leader,
                    "0" => Acks::None,
                    other => return Err(format!("--acks {other}: expected all, 1 or 0")),
                }
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.bootstrap.is_empty() || a.topic.is_empty() || a.num_records == 0 {
        return Err("--bootstrap-server, --topic and --num-records are required".into());
    }
    Ok(a)
}

#[tokio::main]
async fn main() -> kafkit::Result<()> {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("producer_perf: {e}");
            std::process::exit(2);
        }
    };
    let client = Client::builder(&args.bootstrap)
        .client_id("kafkit-producer-perf")
        .build()
        .await?;
    let admin = kafkit::Admin::new(&client);
    if !admin
        .list_topics()
        .await?
        .iter()
        .any(|t| t.name == args.topic)
    {
        admin
            .create_topics([NewTopic::new(&args.topic, args.partitions, 1)])
            .await?[0]
            .1
            .clone()?;
    }
    let producer: Producer<(), Bytes> = Producer::builder(&client)
        .acks(args.acks)
        .compression(args.compression)
        .linger(Duration::from_millis(args.linger_ms))
        .batch_size(args.batch_size)
        .build()?;
    let payload = Bytes::from(
        (0..args.record_size)
            .map(|i| b'a' + (i % 26) as u8)
            .collect::<Vec<u8>>(),
    );

    let start = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let collector = tokio::spawn(async move {
        let mut latencies = Vec::new();
        let mut failed = 0usize;
        while let Some((sent_at, delivery)) = rx.recv().await {
            let delivery: kafkit::producer::DeliveryFuture = delivery;
            match delivery.await {
                Ok(_) => latencies.push(Instant::now().duration_since(sent_at).as_millis() as u32),
                Err(_) => failed += 1,
            }
        }
        (latencies, failed)
    });
    for _ in 0..args.num_records {
        let sent_at = Instant::now();
        let delivery = producer
            .enqueue(ProducerRecord::new(args.topic.as_str(), payload.clone()))
            .await?;
        let _ = tx.send((sent_at, delivery));
    }
    drop(tx);
    producer.flush().await;
    let (latencies, failed) = collector.await.unwrap_or_default();
    let elapsed = start.elapsed().as_secs_f64();
    producer.close(Duration::from_secs(30)).await?;
    perf_summary::print(latencies, failed, elapsed, args.record_size);
    Ok(())
}
