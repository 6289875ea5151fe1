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
//! records arrived (or none came for 10 s, or Ctrl-C or SIGTERM), and prints
//! the same Kafka-style summary as `consumer_perf` (rebalance time 0:
//! manual assignment).

#[path = "common/cli.rs"]
mod cli;
#[path = "common/consumer_summary.rs"]
mod consumer_summary;

use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use cli::{Args, Command, Opt};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

static COMMAND: Command = Command {
    name: "rdkafka_consumer_perf",
    about: "librdkafka's consumer measured as consumer_perf measures kafkit's.",
    options: &[
        cli::COMMAND_CONFIG,
        cli::CONSUMER_CONFIG,
        Opt::required("--topic", "T", "topic to read"),
        Opt::required("--messages", "N", "records to read"),
        Opt::optional(
            "--partitions",
            "P",
            "read partitions 0..P, assigned (default 6)",
        ),
    ],
};

fn main() -> ExitCode {
    let args = Args::parse(&COMMAND);
    cli::init_tracing();
    cli::exit_code(COMMAND.name, run(args))
}

fn run(args: Args) -> Result<(), cli::BoxError> {
    let topic: String = args.required("--topic");
    let messages: u64 = args.required("--messages");
    let partitions: i32 = args.value_or("--partitions", 6);
    // The poll below returns at least every 100 ms to look at the flag.
    let stop = cli::stop_flag(COMMAND.name, || {})?;
    let consumer: BaseConsumer = rd_config(&args)?
        .set("bootstrap.servers", args.bootstrap())
        .set("group.id", "rdkafka-consumer-perf")
        .set("enable.auto.commit", "false")
        .set("fetch.queue.backoff.ms", "0")
        .create()?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(&topic, p, Offset::Beginning)?;
    }
    consumer.assign(&tpl)?;
    let start_wall = SystemTime::now();
    let start = Instant::now();
    let (mut n, mut bytes) = (0u64, 0u64);
    let mut idle_since = Instant::now();
    while n < messages && !stop.load(Ordering::Acquire) {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                n += 1;
                bytes += m.key().map_or(0, |k| k.len() as u64)
                    + m.payload().map_or(0, |p| p.len() as u64);
                idle_since = Instant::now();
            }
            Some(Err(e)) => eprintln!("{}: {e}", COMMAND.name),
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
    Ok(())
}

/// librdkafka's settings from `--command-config` (Java property names, which
/// librdkafka shares for what the comparison uses: `security.protocol`,
/// `ssl.ca.location`, `sasl.*`), or none.
fn rd_config(args: &Args) -> Result<ClientConfig, cli::BoxError> {
    let mut config = ClientConfig::new();
    if let Some(props) = cli::command_config(args)? {
        for (key, value) in props.iter() {
            config.set(key, value);
        }
    }
    Ok(config)
}
