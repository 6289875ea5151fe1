//! Exactly-once consume-transform-produce: read an input topic in a group,
//! uppercase each value, write it to an output topic, and commit the input
//! positions in the same transaction (`send_offsets_to_transaction`), so
//! every input record is reflected in the output once, whatever fails.
//!
//! ```text
//! cargo run --example exactly_once -- --bootstrap-server HOST:PORT \
//!     --topic IN --output-topic OUT --group G [--messages N] [--seed N] \
//!     [--transactional-id ID]
//! ```
//!
//! `--messages N` stops after N records (default: run until Ctrl-C or
//! SIGTERM, which let the transaction in progress finish, then leave the
//! group);
//! `--seed N` first writes N records to the input topic, for a demo on an
//! empty broker. The consumer reads with `isolation.level=read_committed`
//! and auto commit off: the transaction is what commits its offsets. When a
//! transaction fails it is aborted and the consumer seeks back to the
//! committed offsets, so the aborted batch is processed again. A commit
//! that timed out is resumed, never aborted: it may already be committed.

#[path = "common/cli.rs"]
mod cli;
#[path = "common/topics.rs"]
mod topics;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use cli::{Args, Command, Opt};
use kafkit::consumer::{
    Consumer, ConsumerConfig, ConsumerRecords, IsolationLevel, OffsetAndMetadata, OffsetReset,
};
use kafkit::producer::{Producer, ProducerRecord, TransactionState, TransactionalProducer};
use kafkit::{Client, TopicPartition};

static COMMAND: Command = Command {
    name: "exactly_once",
    about: "Consume-transform-produce in transactions: uppercases each record of the \
            input topic into the output topic, committing the input positions in the \
            same transaction.",
    options: &[
        Opt::required("--topic", "IN", "input topic (created if missing)"),
        Opt::required("--output-topic", "OUT", "output topic (created if missing)"),
        Opt::required("--group", "G", "consumer group reading the input"),
        Opt::optional(
            "--messages",
            "N",
            "stop after N records (default: run until stopped)",
        ),
        Opt::optional(
            "--seed",
            "N",
            "first write N records to the input topic (default 0)",
        ),
        Opt::optional(
            "--transactional-id",
            "ID",
            "transactional.id (default exactly-once-GROUP)",
        ),
    ],
};

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse(&COMMAND);
    cli::init_tracing();
    cli::exit_code(COMMAND.name, run(args).await)
}

async fn run(args: Args) -> Result<(), cli::BoxError> {
    let input: String = args.required("--topic");
    let output: String = args.required("--output-topic");
    let group: String = args.required("--group");
    let messages: Option<u64> = args.value("--messages");
    let seed_count: u64 = args.value_or("--seed", 0);
    // One transactional id per input-consuming instance; a restarted
    // instance with the same id fences the old one.
    let transactional_id: String =
        args.value_or("--transactional-id", format!("exactly-once-{group}"));
    let mut shutdown = cli::Shutdown::install()?;
    let client = Client::builder(args.bootstrap())
        .client_id("kafkit-exactly-once")
        .build()
        .await?;

    topics::create_if_missing(&client, &[(&input, 3), (&output, 3)]).await?;

    if seed_count > 0 {
        seed(&client, &input, seed_count).await?;
    }

    let mut config = ConsumerConfig::default();
    config.group_id = Some(group.clone());
    config.enable_auto_commit = false;
    config.isolation_level = IsolationLevel::ReadCommitted;
    config.auto_offset_reset = OffsetReset::Earliest;
    // Tansu completes a group's first join after session.timeout / 2.
    config.session_timeout = Duration::from_secs(6);
    config.heartbeat_interval = Duration::from_millis(500);
    let consumer: Consumer<String, String> = Consumer::builder(&client).config(config).build()?;
    consumer.subscribe([input.as_str()])?;

    let producer: TransactionalProducer<String, String> =
        TransactionalProducer::builder(&client, transactional_id).build()?;
    producer.init_transactions().await?;

    let mut processed: u64 = 0;
    let mut aborted: u64 = 0;
    loop {
        if messages.is_some_and(|n| processed >= n) {
            break;
        }
        // Only between transactions: one in progress is finished first.
        let records = tokio::select! {
            signal = shutdown.recv() => {
                eprintln!("{signal}: stopping");
                break;
            }
            r = consumer.poll(Duration::from_millis(500)) => r?,
        };
        if records.is_empty() {
            continue;
        }
        let n = records.len() as u64;
        let outcome = match transform(&producer, &consumer, &records, &output).await {
            // The commit timed out: the coordinator may be committing it
            // already, so it can only be finished, never aborted (an abort
            // is refused in this state). Aborting here and rewinding would
            // write the output twice.
            Err(e)
                if !e.is_fatal()
                    && matches!(producer.transaction_state(), TransactionState::Committing) =>
            {
                eprintln!("commit not finished ({e}); resuming it");
                retried(|| producer.commit_transaction()).await
            }
            other => other,
        };
        match outcome {
            Ok(()) => processed += n,
            Err(e) if e.is_fatal() => {
                return Err(e.into());
            }
            Err(e) => {
                eprintln!("transaction failed ({e}); aborting and rewinding");
                aborted += n;
                retried(|| producer.abort_transaction()).await?;
                rewind(&consumer).await?;
            }
        }
    }
    println!("processed {processed} records exactly once ({aborted} aborted and retried)");
    producer.close(Duration::from_secs(10)).await?;
    consumer.close(Duration::from_secs(10)).await;
    client.close(Duration::from_secs(1)).await;
    Ok(())
}

/// One transaction: the uppercased records and the input positions after
/// them.
async fn transform(
    producer: &TransactionalProducer<String, String>,
    consumer: &Consumer<String, String>,
    records: &ConsumerRecords<String, String>,
    output: &str,
) -> kafkit::Result<()> {
    producer.begin_transaction()?;
    let mut positions: BTreeMap<TopicPartition, OffsetAndMetadata> = BTreeMap::new();
    for r in records {
        let mut out = ProducerRecord::new(output, r.value.as_deref().unwrap_or("").to_uppercase());
        if let Some(k) = &r.key {
            out = out.key(k.clone());
        }
        // Failures surface in commit_transaction, which then refuses.
        let _delivery = producer.enqueue(out).await?;
        positions.insert(r.topic_partition(), OffsetAndMetadata::new(r.offset + 1));
    }
    producer
        .send_offsets_to_transaction(positions, &consumer.group_metadata()?)
        .await?;
    producer.commit_transaction().await
}

/// Runs a commit or abort, calling it again (which resumes it) while it
/// times out, a few times.
async fn retried<F, Fut>(mut call: F) -> kafkit::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = kafkit::Result<()>>,
{
    let mut attempts = 0;
    loop {
        match call().await {
            Err(e) if e.is_retriable() && attempts < 5 => {
                attempts += 1;
                eprintln!("{e}; trying again");
            }
            other => return other,
        }
    }
}

/// After an abort: back to the last committed input positions.
async fn rewind(consumer: &Consumer<String, String>) -> kafkit::Result<()> {
    let assigned = consumer.assignment();
    for (tp, committed) in consumer.committed(&assigned).await? {
        match committed {
            Some(o) => consumer.seek(&tp, o.offset)?,
            None => consumer.seek_to_beginning(std::slice::from_ref(&tp))?,
        }
    }
    Ok(())
}

/// Writes `n` input records with a plain producer.
async fn seed(client: &Client, topic: &str, n: u64) -> kafkit::Result<()> {
    let producer: Producer<String, String> = Producer::builder(client).build()?;
    let mut deliveries = Vec::new();
    for i in 0..n {
        let record = ProducerRecord::new(topic, format!("record-{i}")).key(format!("key-{i}"));
        deliveries.push(producer.enqueue(record).await?);
    }
    producer.flush().await;
    for d in deliveries {
        d.await?;
    }
    producer.close(Duration::from_secs(10)).await?;
    println!("seeded {n} records into {topic}");
    Ok(())
}
