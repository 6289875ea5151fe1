//! The same measurement as `producer_perf`, made with librdkafka (the
//! `rdkafka` dev-dependency's `ThreadedProducer`), so that both clients can
//! be compared on the same broker in the same run
//! (`scripts/compare_producers.sh` runs them side by side).
//!
//! ```text
//! cargo run --release --example rdkafka_producer_perf -- \
//!     --bootstrap-server HOST:PORT --topic T --num-records N --record-size S \
//!     [--acks all|1|0] [--compression none|gzip|snappy|lz4|zstd] [--linger-ms 5]
//! ```
//!
//! librdkafka keeps its own batching defaults (`batch.size` 1,000,000,
//! `batch.num.messages` 10,000); idempotence is on, as in kafkit. The topic
//! must exist (the comparison script creates it with `producer_perf`'s
//! partition count). The last line has Kafka's perf-test summary format.

#[path = "common/perf_summary.rs"]
mod perf_summary;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};

struct Args {
    bootstrap: String,
    topic: String,
    num_records: usize,
    record_size: usize,
    acks: String,
    compression: String,
    linger_ms: u64,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        bootstrap: String::new(),
        topic: String::new(),
        num_records: 0,
        record_size: 100,
        acks: "all".into(),
        compression: "none".into(),
        linger_ms: 5,
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
            "--acks" => a.acks = value()?,
            "--compression" => a.compression = value()?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.bootstrap.is_empty() || a.topic.is_empty() || a.num_records == 0 {
        return Err("--bootstrap-server, --topic and --num-records are required".into());
    }
    Ok(a)
}

/// Latencies in ms, recorded from librdkafka's delivery callback thread.
#[derive(Default)]
struct Latencies {
    ok: Mutex<Vec<u32>>,
    failed: Mutex<usize>,
}

struct Context(Arc<Latencies>);

impl rdkafka::ClientContext for Context {}

impl ProducerContext for Context {
    /// When the record was enqueued.
    type DeliveryOpaque = Box<Instant>;

    fn delivery(&self, result: &DeliveryResult<'_>, sent_at: Self::DeliveryOpaque) {
        match result {
            Ok(_) => {
                let ms = sent_at.elapsed().as_millis() as u32;
                self.0.ok.lock().unwrap_or_else(|p| p.into_inner()).push(ms);
            }
            Err(_) => *self.0.failed.lock().unwrap_or_else(|p| p.into_inner()) += 1,
        }
    }
}

fn main() {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("rdkafka_producer_perf: {e}");
            std::process::exit(2);
        }
    };
    let stats = Arc::new(Latencies::default());
    let producer: ThreadedProducer<Context> = match ClientConfig::new()
        .set("bootstrap.servers", &args.bootstrap)
        .set("acks", &args.acks)
        .set("linger.ms", args.linger_ms.to_string())
        .set("compression.type", &args.compression)
        .set("enable.idempotence", "true")
        .set("queue.buffering.max.messages", "1000000")
        .create_with_context(Context(stats.clone()))
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!("rdkafka_producer_perf: {e}");
            std::process::exit(1);
        }
    };
    let payload: Vec<u8> = (0..args.record_size)
        .map(|i| b'a' + (i % 26) as u8)
        .collect();
    let start = Instant::now();
    for _ in 0..args.num_records {
        let mut record = BaseRecord::<(), [u8], Box<Instant>>::with_opaque_to(
            &args.topic,
            Box::new(Instant::now()),
        )
        .payload(&payload[..]);
        // A full local queue: wait for deliveries, as the Java client blocks.
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, r)) => {
                    record = r;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }
    if let Err(e) = producer.flush(Duration::from_secs(120)) {
        eprintln!("rdkafka_producer_perf: flush: {e}");
    }
    let elapsed = start.elapsed().as_secs_f64();
    let latencies = std::mem::take(&mut *stats.ok.lock().unwrap_or_else(|p| p.into_inner()));
    let failed = *stats.failed.lock().unwrap_or_else(|p| p.into_inner());
    perf_summary::print(latencies, failed, elapsed, args.record_size);
}
