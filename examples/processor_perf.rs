//! What `kafkit::processor` buys and costs:
//!
//! ```text
//! cargo run --release --example processor_perf                       # embedded cluster
//! cargo run --release --example processor_perf -- --bootstrap-server localhost:9092 \
//!     [--records 10000] [--keys 1000] [--sleep-ms 10] [--concurrency 100] [--noop-records 500000]
//! ```
//!
//! 1. One partition, `--records` records over `--keys` keys, a handler that
//!    sleeps `--sleep-ms`: `ProcessingOrder::Key` with `--concurrency` vs
//!    `ProcessingOrder::Partition` (one at a time). Ideal speed-up: the
//!    concurrency.
//! 2. `--noop-records` records with a no-op handler vs a plain consumer
//!    loop reading the same records: the processor's overhead per record.
//!
//! The last two lines are `key-ordered speed-up: X.Yx` and
//! `no-op overhead: Z%`.

#[path = "common/cli.rs"]
mod cli;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cli::{Args, Command, Opt};
use kafkit::Client;
use kafkit::admin::NewTopic;
use kafkit::consumer::{Consumer, OffsetReset};
use kafkit::processor::{ProcessError, ProcessingOrder, Processor};
use kafkit::producer::{Producer, ProducerRecord};

static COMMAND: Command = Command {
    name: "processor_perf",
    about: "Key-ordered speed-up over partition order, and the processor's no-op overhead \
            over a plain consumer loop.",
    options: &[
        Opt::optional(
            "--records",
            "N",
            "records for the speed-up run (default 10000)",
        ),
        Opt::optional("--keys", "N", "distinct keys (default 1000)"),
        Opt::optional("--sleep-ms", "MS", "handler sleep (default 10)"),
        Opt::optional("--concurrency", "N", "Key-mode concurrency (default 100)"),
        Opt::optional(
            "--noop-records",
            "N",
            "records for the overhead run (default 500000)",
        ),
    ],
};

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse_bootstrap_optional(&COMMAND);
    cli::init_tracing();
    cli::exit_code(COMMAND.name, run(args).await)
}

async fn run(args: Args) -> Result<(), cli::BoxError> {
    let records: u64 = args.value_or("--records", 10_000);
    let keys: u64 = args.value_or("--keys", 1_000);
    let sleep = Duration::from_millis(args.value_or("--sleep-ms", 10));
    let concurrency: usize = args.value_or("--concurrency", 100);
    let noop_records: u64 = args.value_or("--noop-records", 500_000);
    let embedded = match args.bootstrap_given() {
        Some(_) => None,
        None => Some(kafkit::mock::MockCluster::new(1).await?),
    };
    let bootstrap = match &embedded {
        Some(c) => c.bootstrap_servers(),
        None => args.bootstrap().to_owned(),
    };
    let client = Client::builder(&bootstrap).build().await?;
    let admin = kafkit::Admin::new(&client);
    let run_id = std::process::id();
    let slow = format!("processor-perf-slow-{run_id}");
    let fast = format!("processor-perf-noop-{run_id}");
    for r in admin
        .create_topics([NewTopic::new(&slow, 1, 1), NewTopic::new(&fast, 1, 1)])
        .await?
    {
        r.1?;
    }
    fill(&client, &slow, records, keys).await?;
    fill(&client, &fast, noop_records, keys).await?;

    let partition_time = timed_processor(
        &client,
        &slow,
        records,
        ProcessingOrder::Partition,
        1,
        sleep,
    )
    .await?;
    println!(
        "Partition order: {records} records in {:.2} s ({:.0} records/s)",
        partition_time.as_secs_f64(),
        records as f64 / partition_time.as_secs_f64()
    );
    let key_time = timed_processor(
        &client,
        &slow,
        records,
        ProcessingOrder::Key,
        concurrency,
        sleep,
    )
    .await?;
    println!(
        "Key order, concurrency {concurrency}: {records} records in {:.2} s ({:.0} records/s)",
        key_time.as_secs_f64(),
        records as f64 / key_time.as_secs_f64()
    );

    let plain = timed_plain_loop(&client, &fast, noop_records).await?;
    let noop = timed_processor(
        &client,
        &fast,
        noop_records,
        ProcessingOrder::Key,
        concurrency,
        Duration::ZERO,
    )
    .await?;
    println!(
        "plain consumer loop: {noop_records} records in {:.3} s; processor (no-op handler): {:.3} s",
        plain.as_secs_f64(),
        noop.as_secs_f64()
    );
    admin.delete_topics(&[&slow, &fast]).await?;
    println!(
        "key-ordered speed-up: {:.1}x",
        partition_time.as_secs_f64() / key_time.as_secs_f64()
    );
    println!(
        "no-op overhead: {:.0}%",
        (noop.as_secs_f64() / plain.as_secs_f64() - 1.0) * 100.0
    );
    Ok(())
}

async fn fill(client: &Client, topic: &str, n: u64, keys: u64) -> kafkit::Result<()> {
    let producer: Producer<String, String> = Producer::builder(client).build()?;
    let mut acks = Vec::with_capacity(n as usize);
    for i in 0..n {
        let r = ProducerRecord::new(topic, format!("value-{i}")).key(format!("key-{}", i % keys));
        acks.push(producer.enqueue(r).await?);
    }
    producer.flush().await;
    for a in acks {
        a.await?;
    }
    producer.close(Duration::from_secs(5)).await
}

/// Time until a fresh group's processor has handled all `n` records.
async fn timed_processor(
    client: &Client,
    topic: &str,
    n: u64,
    order: ProcessingOrder,
    concurrency: usize,
    sleep: Duration,
) -> Result<Duration, cli::BoxError> {
    let group = format!("{topic}-{order:?}-{concurrency}");
    let consumer = Consumer::<String, String>::builder(client)
        .group_id(&group)
        .auto_offset_reset(OffsetReset::Earliest)
        .max_poll_records(2_000);
    let processor = Processor::builder(consumer, [topic])
        .order(order)
        .max_concurrency(concurrency)
        .max_in_flight_per_partition(concurrency)
        .build()?;
    let handle = processor.handle();
    let done = Arc::new(AtomicU64::new(0));
    let d = done.clone();
    let started = Instant::now();
    let run = tokio::spawn(processor.run(
        move |_record| {
            let d = d.clone();
            async move {
                if !sleep.is_zero() {
                    tokio::time::sleep(sleep).await;
                }
                d.fetch_add(1, Ordering::Relaxed);
                Ok::<(), ProcessError>(())
            }
        },
        std::future::pending(),
    ));
    while done.load(Ordering::Relaxed) < n {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let took = started.elapsed();
    handle.shutdown();
    run.await??;
    Ok(took)
}

/// Time for the loop a user writes by hand to process `n` records: poll,
/// call the same no-op handler on each record in turn, commit
/// asynchronously after each poll. No ordering by key, no retries, no
/// concurrency: the baseline the processor's bookkeeping is measured
/// against.
async fn timed_plain_loop(client: &Client, topic: &str, n: u64) -> Result<Duration, cli::BoxError> {
    let consumer = Consumer::<String, String>::builder(client)
        .group_id(format!("{topic}-plain"))
        .auto_offset_reset(OffsetReset::Earliest)
        .max_poll_records(2_000)
        .build()?;
    consumer.subscribe([topic])?;
    let done = AtomicU64::new(0);
    let handler = |_record: &kafkit::consumer::ConsumerRecord<String, String>| {
        let done = &done;
        async move {
            done.fetch_add(1, Ordering::Relaxed);
            Ok::<(), ProcessError>(())
        }
    };
    let started = Instant::now();
    while done.load(Ordering::Relaxed) < n {
        let records = consumer.poll(Duration::from_millis(100)).await?;
        for record in records.iter() {
            handler(record).await?;
        }
        consumer.commit_async()?;
    }
    let took = started.elapsed();
    consumer.close(Duration::from_secs(5)).await;
    Ok(took)
}
