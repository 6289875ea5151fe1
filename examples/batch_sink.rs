//! A sink on `kafkit::processor`: records written into a store in batches
//! of up to 500 records or 1 s (`run_batches` with `BatchConfig`), at a
//! limited rate (`records_per_second`), the offsets committed once a batch
//! is stored.
//!
//! ```text
//! cargo run --example batch_sink                        # embedded cluster, demo records
//! cargo run --example batch_sink -- --bootstrap-server localhost:9092 [--topic events] \
//!     [--group batch-sink] [--rate 2000]
//! ```
//! The store stands in for a database table: an in-memory map keyed by the
//! record's key, partition and offset, so a batch written again (retried,
//! or redone after a restart) changes nothing. Each batch prints its size;
//! the end prints the totals. Without a broker it starts kafkit's embedded
//! cluster, writes 5,000 demo records, stores them and stops; with a
//! broker it runs until SIGTERM or Ctrl-C.

#[path = "common/cli.rs"]
mod cli;
#[path = "common/demo.rs"]
mod demo;
#[path = "common/topics.rs"]
mod topics;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cli::{Args, Command, Opt};
use kafkit::consumer::{Consumer, ConsumerRecord, OffsetReset};
use kafkit::processor::{BatchConfig, ProcessError, ProcessingOrder, Processor};
use kafkit::producer::ProducerRecord;

const DEMO_RECORDS: u64 = 5_000;
const BATCH_RECORDS: usize = 500;

static COMMAND: Command = Command {
    name: "batch_sink",
    about: "Writes a topic into a store in batches of up to 500 records or 1 s, \
            rate-limited, idempotent by key and offset.",
    options: &[
        Opt::optional("--topic", "T", "topic to read (default events)"),
        Opt::optional("--group", "G", "consumer group (default batch-sink)"),
        Opt::optional("--rate", "R", "records per second at most (default 2000)"),
    ],
};

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse_bootstrap_optional(&COMMAND);
    cli::init_tracing();
    cli::exit_code(COMMAND.name, run(args).await)
}

async fn run(args: Args) -> Result<(), cli::BoxError> {
    let cluster = demo::Cluster::connect(&args, "kafkit-batch-sink").await?;
    sink(&cluster, &args).await.map(|_| ())
}

/// The stand-in store: rows keyed by (key, partition, offset).
#[derive(Default)]
struct Store {
    rows: Mutex<BTreeMap<(String, i32, i64), String>>,
    /// The size of each batch written, in order.
    batches: Mutex<Vec<usize>>,
}

impl Store {
    /// Upserts a batch at once (one transaction, in a real database) and
    /// returns the number of rows stored.
    fn upsert(&self, records: &[Arc<ConsumerRecord<String, String>>]) -> usize {
        let mut rows = self.rows.lock().unwrap_or_else(|p| p.into_inner());
        for r in records {
            let key = (r.key.clone().unwrap_or_default(), r.partition, r.offset);
            rows.insert(key, r.value.clone().unwrap_or_default());
        }
        let mut batches = self.batches.lock().unwrap_or_else(|p| p.into_inner());
        batches.push(records.len());
        rows.len()
    }

    fn rows(&self) -> usize {
        self.rows.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    fn batches(&self) -> Vec<usize> {
        self.batches
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Runs the sink (and on the embedded cluster its demo) until stopped;
/// returns the store.
async fn sink(cluster: &demo::Cluster, args: &Args) -> Result<Arc<Store>, cli::BoxError> {
    let topic: String = args.value_or("--topic", "events".to_owned());
    let group: String = args.value_or("--group", "batch-sink".to_owned());
    let rate: f64 = args.value_or("--rate", 2_000.0);
    let client = &cluster.client;
    topics::create_if_missing(client, &[(&topic, 4)]).await?;
    let demo_records = cluster.is_demo().then_some(DEMO_RECORDS);
    if demo_records.is_some() {
        let events = (0..DEMO_RECORDS).map(|i| {
            ProducerRecord::new(topic.as_str(), format!("reading-{i}"))
                .key(format!("sensor-{}", i % 200))
        });
        demo::produce(client, events).await?;
        println!(
            "embedded cluster at {}: wrote {DEMO_RECORDS} demo records to {topic}",
            cluster.bootstrap
        );
    }

    let consumer = Consumer::<String, String>::builder(client)
        .group_id(&group)
        .auto_offset_reset(OffsetReset::Earliest);
    let processor = Processor::builder(consumer, [topic.as_str()])
        // The store does not care about order: any record may join a batch.
        .order(ProcessingOrder::Unordered)
        // Records in a forming batch count as in flight for their
        // partition: let one partition fill a batch while another is written.
        .max_in_flight_per_partition(2 * BATCH_RECORDS)
        .max_concurrency(2)
        .records_per_second(rate)
        .batch(BatchConfig::new(BATCH_RECORDS, Duration::from_secs(1)))
        .build()?;
    let handle = processor.handle();
    let store = Arc::new(Store::default());
    let started = Instant::now();
    let writer = store.clone();
    processor
        .run_batches(
            move |records| {
                let store = writer.clone();
                async move {
                    // A real store's write may fail: return
                    // ProcessError::retry and the whole batch is retried.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    let stored = store.upsert(&records);
                    println!(
                        "batch of {:>3} records stored ({stored} rows)",
                        records.len()
                    );
                    Ok::<(), ProcessError>(())
                }
            },
            demo::stop_after(handle.clone(), demo_records),
        )
        .await?;
    let batches = store.batches();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "stopped: {} records in {} batches (largest {}) in {secs:.1} s, {:.0} records/s; \
         the store holds {} rows",
        handle.health().processed,
        batches.len(),
        batches.iter().max().unwrap_or(&0),
        handle.health().processed as f64 / secs.max(0.001),
        store.rows()
    );
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_demo_stores_every_record_in_rate_limited_batches() {
        let cluster = demo::Cluster::embedded().await.unwrap();
        let argv = ["--rate", "4000"].map(String::from);
        let args = demo::demo_args(&COMMAND, argv);
        let started = Instant::now();
        let store = sink(&cluster, &args).await.unwrap();
        assert_eq!(store.rows(), DEMO_RECORDS as usize);
        let batches = store.batches();
        assert_eq!(batches.iter().sum::<usize>(), DEMO_RECORDS as usize);
        assert!(batches.iter().all(|&n| n <= BATCH_RECORDS), "{batches:?}");
        // 4,000 at once (the bucket holds a second's worth), 1,000 more at 4,000/s.
        assert!(started.elapsed() >= Duration::from_millis(200));
    }
}
