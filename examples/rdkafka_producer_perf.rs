//! The same measurement as `producer_perf`, made with librdkafka (the
//! `rdkafka` dev-dependency's `ThreadedProducer`), so that both clients can
//! be compared on the same broker in the same run
//! (`scripts/compare_producers.sh` for throughput,
//! `scripts/compare_latency.sh` for sequential latency).
//!
//! ```text
//! cargo run --release --example rdkafka_producer_perf -- \
//!     --bootstrap-server HOST:PORT --topic T --num-records N [--record-size S] \
//!     [--acks all|1|0] [--compression none|gzip|snappy|lz4|zstd] [--linger-ms 5] \
//!     [--sequential]
//! ```
//!
//! librdkafka keeps its own batching defaults (`batch.size` 1,000,000,
//! `batch.num.messages` 10,000); idempotence is on, as in kafkit. With
//! `--sequential` each record is produced, then its delivery report awaited
//! before the next is produced (not `flush`, which would skip `linger.ms`).
//! The topic must exist (the comparison scripts create it with
//! `producer_perf`'s partition count). The last line has Kafka's perf-test
//! summary format. Ctrl-C or SIGTERM stops producing; buffered records get
//! up to 10 s to be delivered.

#[path = "common/cli.rs"]
mod cli;
#[path = "common/perf_summary.rs"]
mod perf_summary;

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use cli::{Args, Command, Opt};
use rdkafka::ClientConfig;
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};

static COMMAND: Command = Command {
    name: "rdkafka_producer_perf",
    about: "librdkafka's producer measured as producer_perf measures kafkit's.",
    options: &[
        cli::COMMAND_CONFIG,
        cli::PRODUCER_CONFIG,
        Opt::required("--topic", "T", "topic to write (must exist)"),
        Opt::required("--num-records", "N", "records to send"),
        Opt::optional("--record-size", "BYTES", "value size (default 100)"),
        Opt::optional("--acks", "all|1|0", "acks (default all)"),
        Opt::optional(
            "--compression",
            "CODEC",
            "none|gzip|snappy|lz4|zstd (default none)",
        ),
        Opt::optional("--linger-ms", "MS", "linger.ms (default 5)"),
        Opt::switch(
            "--sequential",
            "wait for each delivery report before the next (default: all in flight)",
        ),
    ],
};

/// How long buffered records get to be delivered once producing stops.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// Delivery reports so far, written by librdkafka's callback thread.
#[derive(Default)]
struct Reports {
    latencies_us: Vec<u64>,
    failed: usize,
    first_error: Option<String>,
}

impl Reports {
    fn settled(&self) -> usize {
        self.latencies_us.len() + self.failed
    }
}

/// Reports, and a condition variable signalled on each report (and on a
/// stop signal).
#[derive(Default)]
struct Shared {
    reports: Mutex<Reports>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Reports> {
        self.reports.lock().unwrap_or_else(|p| p.into_inner())
    }
}

struct Context(Arc<Shared>);

impl rdkafka::ClientContext for Context {}

impl ProducerContext for Context {
    /// When the record was produced.
    type DeliveryOpaque = Box<Instant>;

    fn delivery(&self, result: &DeliveryResult<'_>, sent_at: Self::DeliveryOpaque) {
        let mut reports = self.0.lock();
        match result {
            Ok(_) => reports
                .latencies_us
                .push(sent_at.elapsed().as_micros() as u64),
            Err((e, _)) => {
                reports.failed += 1;
                reports.first_error.get_or_insert_with(|| e.to_string());
            }
        }
        drop(reports);
        self.0.changed.notify_all();
    }
}

fn main() -> ExitCode {
    let args = Args::parse(&COMMAND);
    cli::init_tracing();
    cli::exit_code(COMMAND.name, run(args))
}

fn run(args: Args) -> Result<(), cli::BoxError> {
    let topic: String = args.required("--topic");
    let num_records: usize = args.required("--num-records");
    let record_size: usize = args.value_or("--record-size", 100);
    let acks: String = args.value_or("--acks", "all".into());
    let compression: String = args.value_or("--compression", "none".into());
    let linger_ms: u64 = args.value_or("--linger-ms", 5);
    let sequential = args.switch("--sequential");

    let shared = Arc::new(Shared::default());
    let wake = shared.clone();
    // Wakes a wait for a delivery report, under the lock so it is not lost.
    let stop = cli::stop_flag(COMMAND.name, move || {
        let _reports = wake.lock();
        wake.changed.notify_all();
    })?;
    let producer: ThreadedProducer<Context> = rd_config(&args)?
        .set("bootstrap.servers", args.bootstrap())
        .set("acks", &acks)
        .set("linger.ms", linger_ms.to_string())
        .set("compression.type", &compression)
        .set("enable.idempotence", "true")
        .set("queue.buffering.max.messages", "1000000")
        .create_with_context(Context(shared.clone()))?;
    let payload: Vec<u8> = (0..record_size).map(|i| b'a' + (i % 26) as u8).collect();
    let stopped = |stop: &AtomicBool| stop.load(Ordering::Acquire);

    let start = Instant::now();
    for produced in 1..=num_records {
        if stopped(&stop) {
            break;
        }
        let mut record =
            BaseRecord::<(), [u8], Box<Instant>>::with_opaque_to(&topic, Box::new(Instant::now()))
                .payload(&payload[..]);
        // A full local queue: wait for deliveries, as the Java client blocks.
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, r)) if !stopped(&stop) => {
                    record = r;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err((e, _)) => return Err(e.into()),
            }
        }
        if sequential {
            let mut reports = shared.lock();
            while reports.settled() < produced && !stopped(&stop) {
                reports = shared
                    .changed
                    .wait(reports)
                    .unwrap_or_else(|p| p.into_inner());
            }
        }
    }
    let flush_timeout = if stopped(&stop) {
        CLOSE_TIMEOUT
    } else {
        Duration::from_secs(120)
    };
    let flushed = producer.flush(flush_timeout);
    let elapsed = start.elapsed().as_secs_f64();
    let reports = std::mem::take(&mut *shared.lock());
    if let Some(e) = &reports.first_error {
        eprintln!("{}: first failure: {e}", COMMAND.name);
    }
    perf_summary::print(reports.latencies_us, reports.failed, elapsed, record_size);
    Ok(flushed?)
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
