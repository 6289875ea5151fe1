//! How fast kafkit's embedded cluster is as a test dependency: time to
//! start a 3-broker cluster, then 100,000 records produced and consumed
//! through it by kafkit, and the memory the log takes per stored record.
//!
//! ```text
//! cargo run --release --example mock_perf [-- --records 100000 --record-size 100]
//! ```
//!
//! For librdkafka as the client, run `mock_broker` and point the
//! `rdkafka_producer_perf`/`rdkafka_consumer_perf` tools at it.

#[path = "common/cli.rs"]
mod cli;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cli::{Args, Command, Opt};
use kafkit::consumer::{Consumer, OffsetReset};
use kafkit::mock::MockCluster;
use kafkit::producer::{Producer, ProducerRecord};
use kafkit::{Client, TopicPartition};

static COMMAND: Command = Command {
    name: "mock_perf",
    about: "Start time and produce/consume throughput of the embedded cluster \
            (--bootstrap-server is not used).",
    options: &[
        Opt::optional(
            "--records",
            "N",
            "records to produce and consume (default 100000)",
        ),
        Opt::optional("--record-size", "BYTES", "value size (default 100)"),
    ],
};

const PARTITIONS: i32 = 6;

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse_bootstrap_optional(&COMMAND);
    cli::init_tracing();
    cli::exit_code(COMMAND.name, run(args).await)
}

async fn run(args: Args) -> Result<(), cli::BoxError> {
    let n: usize = args.value_or("--records", 100_000);
    let size: usize = args.value_or("--record-size", 100);

    let started = Instant::now();
    let cluster = MockCluster::new(3).await?;
    let start_time = started.elapsed();
    cluster.create_topic("perf", PARTITIONS)?;
    let client = Client::builder(cluster.bootstrap_servers()).build().await?;

    let producer: Producer<(), Bytes> = Producer::builder(&client).build()?;
    let value = Bytes::from(vec![b'x'; size]);
    let produce_started = Instant::now();
    let mut deliveries = Vec::with_capacity(n);
    for _ in 0..n {
        deliveries.push(
            producer
                .enqueue(ProducerRecord::new("perf", value.clone()))
                .await?,
        );
    }
    producer.flush().await;
    for d in deliveries {
        d.await?;
    }
    let produce_time = produce_started.elapsed();
    producer.close(Duration::from_secs(5)).await?;

    let consumer: Consumer<(), Bytes> = Consumer::builder(&client)
        .auto_offset_reset(OffsetReset::Earliest)
        .build()?;
    consumer.assign((0..PARTITIONS).map(|p| TopicPartition::new("perf", p)))?;
    let consume_started = Instant::now();
    let mut read = 0;
    while read < n {
        read += consumer.poll(Duration::from_secs(5)).await?.len();
    }
    let consume_time = consume_started.elapsed();
    consumer.close(Duration::from_secs(5)).await;

    let (mut bytes, mut batches) = (0usize, 0usize);
    for p in 0..PARTITIONS {
        if let Some(log) = cluster.partition_log("perf", p) {
            bytes += log.batches.iter().map(|b| b.size_bytes).sum::<usize>();
            batches += log.batches.len();
        }
    }
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    println!(
        "cluster start (3 brokers): {:.2} ms",
        start_time.as_secs_f64() * 1e3
    );
    println!(
        "produce {n} x {size} B: {:.0} ms ({:.0} records/s)",
        produce_time.as_secs_f64() * 1e3,
        rate(produce_time)
    );
    println!(
        "consume {n}: {:.0} ms ({:.0} records/s)",
        consume_time.as_secs_f64() * 1e3,
        rate(consume_time)
    );
    println!(
        "log: {bytes} bytes in {batches} batches, {:.1} bytes per record ({} B values)",
        bytes as f64 / n as f64,
        size
    );
    Ok(())
}
