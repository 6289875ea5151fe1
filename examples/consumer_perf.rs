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
//! (`examples/common/consumer_summary.rs`). Ctrl-C or SIGTERM stops it
//! early: the summary covers what was read, and a group member leaves its
//! group.

#[path = "common/cli.rs"]
mod cli;
#[path = "common/consumer_summary.rs"]
mod consumer_summary;

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use cli::{Args, Command, Opt};
use kafkit::TopicPartition;
use kafkit::consumer::{Consumer, OffsetReset, RebalanceListener};

static COMMAND: Command = Command {
    name: "consumer_perf",
    about: "Consumer throughput, printed as kafka-consumer-perf-test prints it.",
    options: &[
        cli::COMMAND_CONFIG,
        cli::CONSUMER_CONFIG,
        Opt::required("--topic", "T", "topic to read"),
        Opt::required("--messages", "N", "records to read"),
        Opt::optional(
            "--group",
            "G",
            "subscribe in this group (default: assign every partition)",
        ),
        Opt::switch(
            "--from-latest",
            "start at the end (default: from the beginning)",
        ),
        Opt::optional(
            "--timeout-ms",
            "MS",
            "stop when no record came for this long (default 10000)",
        ),
        Opt::optional(
            "--fetch-connections",
            "N",
            "fetch connections per broker (default: the consumer's)",
        ),
    ],
};

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

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse(&COMMAND);
    cli::init_tracing();
    cli::exit_code(COMMAND.name, run(args).await)
}

async fn run(args: Args) -> Result<(), cli::BoxError> {
    let topic_name: String = args.required("--topic");
    let wanted: u64 = args.required("--messages");
    let group: Option<String> = args.value("--group");
    let from_latest = args.switch("--from-latest");
    let timeout = Duration::from_millis(args.value_or("--timeout-ms", 10_000));
    let fetch_connections: Option<usize> = args.value("--fetch-connections");
    let mut shutdown = cli::Shutdown::install()?;
    let (client, props) = cli::client_builder(&args)?;
    let client = client.client_id("kafkit-consumer-perf").build().await?;
    let meta = client.metadata_for(&[&topic_name]).await?;
    let Some(topic) = meta.topic(&topic_name) else {
        return Err(format!("topic {topic_name} not found").into());
    };
    let partitions: Vec<TopicPartition> = topic
        .partitions
        .iter()
        .map(|p| TopicPartition::new(topic_name.as_str(), p.partition))
        .collect();

    let start_wall = SystemTime::now();
    let start = Instant::now();
    let assigned_at = Arc::new(Mutex::new(None));
    let mut builder: kafkit::consumer::ConsumerBuilder<Bytes, Bytes> = Consumer::builder(&client)
        .auto_offset_reset(if from_latest {
            OffsetReset::Latest
        } else {
            OffsetReset::Earliest
        });
    if let Some(n) = fetch_connections {
        builder = builder.fetch_connections_per_broker(n);
    }
    // Keys in --command-config win over the flags' defaults.
    builder = builder.properties(&props)?;
    if let Some(group) = &group {
        builder = builder
            .group_id(group.clone())
            .session_timeout(Duration::from_secs(6))
            .heartbeat_interval(Duration::from_secs(1))
            .rebalance_listener(Assigned(assigned_at.clone()));
    }
    let consumer = builder.build()?;
    if group.is_some() {
        consumer.subscribe([topic_name.as_str()])?;
    } else {
        consumer.assign(partitions)?;
    }

    let (mut messages, mut bytes) = (0u64, 0u64);
    let mut last_record = Instant::now();
    let mut stopped = false;
    while messages < wanted && last_record.elapsed() < timeout {
        let records = tokio::select! {
            signal = shutdown.recv() => {
                eprintln!("consumer_perf: {signal}: stopping");
                stopped = true;
                break;
            }
            records = consumer.poll(Duration::from_millis(100)) => records?,
        };
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
    if messages < wanted && !stopped {
        eprintln!(
            "WARNING: Exiting before consuming the expected number of messages: timeout ({} ms) exceeded.",
            timeout.as_millis()
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
    client.close(Duration::from_secs(5)).await;
    Ok(())
}
