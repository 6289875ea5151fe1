//! Producer throughput and latency, shaped like Kafka's
//! `kafka-producer-perf-test`:
//!
//! ```text
//! cargo run --release --example producer_perf -- --bootstrap-server HOST:PORT --topic T \
//!     --num-records N [--record-size S] [--acks all|1|0] \
//!     [--compression none|gzip|snappy|lz4|zstd] [--linger-ms 5] [--batch-size 16384] \
//!     [--partitions 6] [--sequential]
//! ```
//!
//! By default every record is enqueued at once (many in flight: a
//! throughput test); with `--sequential` each `send` is awaited before the
//! next (a latency test). Either way each record's latency runs from the
//! call that hands it to the producer to its acknowledgement. Creates the
//! topic with `--partitions` partitions if it is missing, and prints Kafka's
//! summary line last (`examples/common/perf_summary.rs`). Ctrl-C or SIGTERM
//! stops sending; what is buffered gets up to 10 s to be delivered, and the
//! summary covers what was.

#[path = "common/cli.rs"]
mod cli;
#[path = "common/perf_summary.rs"]
mod perf_summary;
#[path = "common/topics.rs"]
mod topics;

use std::process::ExitCode;
use std::str::FromStr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cli::{Args, Command, Opt};
use kafkit::Compression;
use kafkit::producer::{Acks, DeliveryFuture, Producer, ProducerRecord};

/// How long buffered records get to be delivered once sending stops.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

static COMMAND: Command = Command {
    name: "producer_perf",
    about: "Producer throughput (default) or latency (--sequential), printed as \
            kafka-producer-perf-test prints it.",
    options: &[
        cli::COMMAND_CONFIG,
        cli::PRODUCER_CONFIG,
        Opt::required(
            "--topic",
            "T",
            "topic to write (created with --partitions if missing)",
        ),
        Opt::required("--num-records", "N", "records to send"),
        Opt::optional("--record-size", "BYTES", "value size (default 100)"),
        Opt::optional("--acks", "all|1|0", "acks (default all)"),
        Opt::optional(
            "--compression",
            "CODEC",
            "none|gzip|snappy|lz4|zstd (default none)",
        ),
        Opt::optional("--linger-ms", "MS", "linger.ms (default 5)"),
        Opt::optional("--batch-size", "BYTES", "batch.size (default 16384)"),
        Opt::optional(
            "--partitions",
            "N",
            "partitions of a topic created here (default 6)",
        ),
        Opt::switch(
            "--sequential",
            "await each send before the next (default: all in flight)",
        ),
    ],
};

/// `--acks` as Kafka's tools spell it.
struct AcksArg(Acks);

impl FromStr for AcksArg {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "all" | "-1" => Ok(AcksArg(Acks::All)),
            "1" => Ok(AcksArg(Acks::Leader)),
            "0" => Ok(AcksArg(Acks::None)),
            _ => Err("expected all, 1 or 0"),
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse(&COMMAND);
    cli::init_tracing();
    cli::exit_code(COMMAND.name, run(args).await)
}

/// Delivered records' latencies (µs), failures, and the first failure.
#[derive(Default)]
struct Outcome {
    latencies_us: Vec<u64>,
    failed: usize,
    first_error: Option<kafkit::Error>,
}

impl Outcome {
    fn record(&mut self, sent_at: Instant, result: kafkit::Result<impl Sized>) {
        match result {
            Ok(_) => self.latencies_us.push(sent_at.elapsed().as_micros() as u64),
            Err(e) => {
                self.failed += 1;
                self.first_error.get_or_insert(e);
            }
        }
    }
}

async fn run(args: Args) -> Result<(), cli::BoxError> {
    let topic: String = args.required("--topic");
    let num_records: usize = args.required("--num-records");
    let record_size: usize = args.value_or("--record-size", 100);
    let AcksArg(acks) = args.value_or("--acks", AcksArg(Acks::All));
    let compression: Compression = args.value_or("--compression", Compression::None);
    let linger_ms: u64 = args.value_or("--linger-ms", 5);
    let batch_size: usize = args.value_or("--batch-size", 16384);
    let partitions: i32 = args.value_or("--partitions", 6);
    let sequential = args.switch("--sequential");

    let mut shutdown = cli::Shutdown::install()?;
    let (client, props) = cli::client_builder(&args)?;
    let client = client.client_id("kafkit-producer-perf").build().await?;
    topics::create_if_missing(&client, &[(&topic, partitions)]).await?;
    // Keys in --command-config win over the flags' defaults.
    let producer: Producer<(), Bytes> = Producer::builder(&client)
        .acks(acks)
        .compression(compression)
        .linger(Duration::from_millis(linger_ms))
        .batch_size(batch_size)
        .properties(&props)?
        .build()?;
    let payload = Bytes::from(
        (0..record_size)
            .map(|i| b'a' + (i % 26) as u8)
            .collect::<Vec<u8>>(),
    );
    let record = || ProducerRecord::new(topic.as_str(), payload.clone());

    let start = Instant::now();
    // Some(result) once the producer is closed.
    let mut closed = None;
    let outcome = if sequential {
        let mut outcome = Outcome::default();
        for _ in 0..num_records {
            let sent_at = Instant::now();
            tokio::select! {
                signal = shutdown.recv() => {
                    eprintln!("{}: {signal}: stopping", COMMAND.name);
                    break;
                }
                sent = producer.send(record()) => {
                    if let Err(e) = &sent && e.is_fatal() {
                        return Err(e.clone().into());
                    }
                    outcome.record(sent_at, sent);
                }
            }
        }
        outcome
    } else {
        // Deliveries are awaited in the order sent: with one broker,
        // responses come in request order, so this is when each was acked.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, DeliveryFuture)>();
        let collector = tokio::spawn(async move {
            let mut outcome = Outcome::default();
            while let Some((sent_at, delivery)) = rx.recv().await {
                outcome.record(sent_at, delivery.await);
            }
            outcome
        });
        let mut stopped = false;
        for _ in 0..num_records {
            let sent_at = Instant::now();
            // enqueue waits while the buffer is full.
            tokio::select! {
                signal = shutdown.recv() => {
                    eprintln!("{}: {signal}: stopping", COMMAND.name);
                    stopped = true;
                    break;
                }
                delivery = producer.enqueue(record()) => {
                    let _ = tx.send((sent_at, delivery?));
                }
            }
        }
        drop(tx);
        if !stopped {
            tokio::select! {
                signal = shutdown.recv() => {
                    eprintln!("{}: {signal}: stopping", COMMAND.name);
                    stopped = true;
                }
                () = producer.flush() => {}
            }
        }
        if stopped {
            // Bounded: close fails what it could not deliver in time,
            // which ends the collector.
            closed = Some(producer.close(CLOSE_TIMEOUT).await);
        }
        collector.await?
    };
    let elapsed = start.elapsed().as_secs_f64();
    let closed = match closed {
        Some(result) => result,
        None => producer.close(CLOSE_TIMEOUT).await,
    };
    if let Some(e) = &outcome.first_error {
        eprintln!("{}: first failure: {e}", COMMAND.name);
    }
    perf_summary::print(outcome.latencies_us, outcome.failed, elapsed, record_size);
    client.close(Duration::from_secs(5)).await;
    Ok(closed?)
}
