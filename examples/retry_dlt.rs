//! Retries and the dead-letter topic of `kafkit::processor`: a handler that
//! fails on purpose, then the dead letters read back from `<topic>.DLT`
//! with a plain consumer, their `kafka_dlt-*` headers decoded.
//!
//! ```text
//! cargo run --example retry_dlt                         # embedded cluster, demo records
//! cargo run --example retry_dlt -- --bootstrap-server localhost:9092 [--topic payments] \
//!     [--group retry-dlt]
//! ```
//! The handler fails the record at every 10th offset of a partition twice
//! (it succeeds on the third attempt) and the one at every 50th offset
//! always; the retry policy makes 4 attempts 20 ms, 40 ms, 80 ms apart,
//! then the record goes to `<topic>.DLT` with Spring Kafka's headers:
//! original topic, partition (4-byte big-endian int), offset (8-byte
//! big-endian long), exception message, and kafkit's attempt count (4-byte
//! int). At the end it prints each dead letter and how many attempts each
//! record took. Without a broker it starts kafkit's embedded cluster,
//! writes 500 demo records, processes them and stops; with a broker it
//! runs until SIGTERM or Ctrl-C, then reads the dead-letter topic.

#[path = "common/cli.rs"]
mod cli;
#[path = "common/demo.rs"]
mod demo;
#[path = "common/topics.rs"]
mod topics;

use std::collections::{BTreeMap, HashMap};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cli::{Args, Command, Opt};
use kafkit::consumer::{Consumer, ConsumerRecord, IsolationLevel, OffsetReset};
use kafkit::processor::{Health, ProcessError, ProcessingOrder, Processor, RetryPolicy};
use kafkit::producer::{Producer, ProducerRecord};

const DEMO_RECORDS: u64 = 500;
const MAX_ATTEMPTS: u32 = 4;

static COMMAND: Command = Command {
    name: "retry_dlt",
    about: "Fails some records on purpose: retried with backoff, then dead-lettered; \
            reads the dead letters back and decodes their headers.",
    options: &[
        Opt::optional("--topic", "T", "topic to process (default payments)"),
        Opt::optional("--group", "G", "consumer group (default retry-dlt)"),
    ],
};

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse_bootstrap_optional(&COMMAND);
    cli::init_tracing();
    cli::exit_code(COMMAND.name, run(args).await)
}

async fn run(args: Args) -> Result<(), cli::BoxError> {
    let cluster = demo::Cluster::connect(&args, "kafkit-retry-dlt").await?;
    process(&cluster, &args).await.map(|_| ())
}

/// Attempts per record, by (partition, offset).
type Attempts = Arc<Mutex<HashMap<(i32, i64), u32>>>;

/// What a dead letter's headers say.
#[derive(Debug)]
struct DeadLetter {
    topic: String,
    partition: Option<i32>,
    offset: Option<i64>,
    error: String,
    attempts: Option<i32>,
}

/// Processes the topic until stopped, then reads the dead letters back.
async fn process(
    cluster: &demo::Cluster,
    args: &Args,
) -> Result<(Health, Vec<DeadLetter>), cli::BoxError> {
    let topic: String = args.value_or("--topic", "payments".to_owned());
    let group: String = args.value_or("--group", "retry-dlt".to_owned());
    let dlt = format!("{topic}.DLT");
    let client = &cluster.client;
    topics::create_if_missing(client, &[(&topic, 4), (&dlt, 1)]).await?;
    let demo_records = cluster.is_demo().then_some(DEMO_RECORDS);
    if demo_records.is_some() {
        let payments = (0..DEMO_RECORDS).map(|i| {
            ProducerRecord::new(topic.as_str(), format!("payment-{i}"))
                .key(format!("account-{}", i % 20))
        });
        demo::produce(client, payments).await?;
        println!("embedded cluster: wrote {DEMO_RECORDS} demo records to {topic}");
    }

    let mut retry = RetryPolicy::default();
    retry.initial_backoff = Duration::from_millis(20);
    retry.max_attempts = MAX_ATTEMPTS;
    let consumer = Consumer::<String, String>::builder(client)
        .group_id(&group)
        .auto_offset_reset(OffsetReset::Earliest);
    let processor = Processor::builder(consumer, [topic.as_str()])
        .order(ProcessingOrder::Key)
        .retry(retry)
        .dead_letter_producer(Producer::builder(client).build()?)
        .build()?;
    let handle = processor.handle();
    let attempts: Attempts = Arc::default();
    let counted = attempts.clone();
    processor
        .run(
            move |record| {
                let attempts = counted.clone();
                async move { charge(&attempts, &record) }
            },
            demo::stop_after(handle.clone(), demo_records),
        )
        .await?;
    let health = handle.health();
    println!(
        "stopped: {} processed, {} dead-lettered to {dlt}",
        health.processed, health.dead_lettered
    );

    let attempts = attempts.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let mut letters = Vec::new();
    for record in demo::read_to_end(client, &dlt, IsolationLevel::ReadUncommitted).await? {
        let letter = dead_letter(&record);
        let counted = match (letter.partition, letter.offset) {
            (Some(p), Some(o)) => attempts.get(&(p, o)).copied().unwrap_or(0),
            _ => 0,
        };
        println!(
            "dead letter {dlt}@{}: from {}-{}@{}, \"{}\", {} attempts (counted {counted})",
            record.offset,
            letter.topic,
            show(letter.partition),
            show(letter.offset),
            letter.error,
            show(letter.attempts),
        );
        letters.push(letter);
    }
    let mut histogram: BTreeMap<u32, usize> = BTreeMap::new();
    for n in attempts.values() {
        *histogram.entry(*n).or_default() += 1;
    }
    for (n, records) in histogram {
        println!("{records} records took {n} attempt(s)");
    }
    Ok((health, letters))
}

/// The business logic: a payment service that times out now and then.
fn charge(
    attempts: &Mutex<HashMap<(i32, i64), u32>>,
    record: &ConsumerRecord<String, String>,
) -> Result<(), ProcessError> {
    let attempt = {
        let mut a = attempts.lock().unwrap_or_else(|p| p.into_inner());
        let n = a.entry((record.partition, record.offset)).or_default();
        *n += 1;
        *n
    };
    match record.offset {
        o if o % 50 == 0 => Err(ProcessError::retry("card issuer unreachable")),
        o if o % 10 == 0 && attempt <= 2 => Err(ProcessError::retry("gateway timed out")),
        _ => Ok(()),
    }
}

/// Decodes the dead-letter headers (Spring Kafka's names and encodings).
fn dead_letter(record: &ConsumerRecord<String, String>) -> DeadLetter {
    let header = |name: &str| record.last_header(name).and_then(|h| h.value.clone());
    let text = |name: &str| {
        header(name).map_or_else(|| "?".into(), |v| String::from_utf8_lossy(&v).into_owned())
    };
    let int = |name: &str| Some(i32::from_be_bytes(header(name)?[..].try_into().ok()?));
    let long = |name: &str| Some(i64::from_be_bytes(header(name)?[..].try_into().ok()?));
    DeadLetter {
        topic: text("kafka_dlt-original-topic"),
        partition: int("kafka_dlt-original-partition"),
        offset: long("kafka_dlt-original-offset"),
        error: text("kafka_dlt-exception-message"),
        attempts: int("kafkit_dlt-attempts"),
    }
}

/// A decoded number, or `?` when its header was missing or malformed.
fn show<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "?".into(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn poison_records_reach_the_dead_letter_topic_with_their_headers() {
        let cluster = demo::Cluster::embedded().await.unwrap();
        let args = demo::demo_args(&COMMAND, []);
        let (health, letters) = process(&cluster, &args).await.unwrap();
        assert_eq!(health.processed + health.dead_lettered, DEMO_RECORDS);
        assert_eq!(letters.len() as u64, health.dead_lettered);
        // Offset 0 of each of the 4 partitions at least.
        assert!(letters.len() >= 4, "{letters:?}");
        for l in &letters {
            assert_eq!(l.topic, "payments");
            assert_eq!(l.offset.map(|o| o % 50), Some(0), "{l:?}");
            assert!(matches!(l.partition, Some(0..=3)), "{l:?}");
            assert_eq!(l.error, "card issuer unreachable");
            assert_eq!(l.attempts, Some(MAX_ATTEMPTS as i32));
        }
    }
}
