//! Exactly-once consume-transform-produce on `kafkit::processor`
//! (`run_exactly_once`): each record of `words` is uppercased into
//! `words-upper`, and the outputs commit in one transaction with the input
//! offsets (KIP-447), so every input is reflected in the output once,
//! whatever fails.
//!
//! ```text
//! cargo run --example transform_eos                     # embedded cluster, demo records
//! cargo run --example transform_eos -- --bootstrap-server localhost:9092 [--topic words] \
//!     [--output-topic words-upper] [--group transform-eos] [--transactional-id ID]
//! ```
//! A transaction spans up to 100 records or 100 ms. The transactional id
//! must stay the same across restarts of one instance (e.g. the pod's
//! name), so a restarted instance fences its predecessor. Without a broker
//! it starts kafkit's embedded cluster, writes 1,000 demo words, transforms
//! them, stops, then reads `words-upper` with `read_committed` and checks
//! that it holds as many records as the input; with a broker it runs until
//! SIGTERM or Ctrl-C.

#[path = "common/cli.rs"]
mod cli;
#[path = "common/demo.rs"]
mod demo;
#[path = "common/topics.rs"]
mod topics;

use std::process::ExitCode;
use std::time::Duration;

use cli::{Args, Command, Opt};
use kafkit::consumer::{Consumer, IsolationLevel, OffsetReset};
use kafkit::processor::{ProcessError, ProcessingOrder, Processor, TransactionConfig};
use kafkit::producer::{ProducerRecord, TransactionalProducer};

const DEMO_RECORDS: u64 = 1_000;
const WORDS: [&str; 8] = [
    "kafka", "rust", "stream", "record", "offset", "commit", "topic", "broker",
];

static COMMAND: Command = Command {
    name: "transform_eos",
    about: "Uppercases the input topic into the output topic exactly once: outputs and \
            input offsets commit in one transaction.",
    options: &[
        Opt::optional("--topic", "IN", "input topic (default words)"),
        Opt::optional(
            "--output-topic",
            "OUT",
            "output topic (default words-upper)",
        ),
        Opt::optional("--group", "G", "consumer group (default transform-eos)"),
        Opt::optional(
            "--transactional-id",
            "ID",
            "transactional.id, stable per instance (default GROUP-0)",
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
    let cluster = demo::Cluster::connect(&args, "kafkit-transform-eos").await?;
    transform(&cluster, &args).await.map(|_| ())
}

/// Transforms until stopped; in the demo, then counts the committed
/// outputs. Returns (inputs processed, committed outputs read, if read).
async fn transform(
    cluster: &demo::Cluster,
    args: &Args,
) -> Result<(u64, Option<usize>), cli::BoxError> {
    let input: String = args.value_or("--topic", "words".to_owned());
    let output: String = args.value_or("--output-topic", "words-upper".to_owned());
    let group: String = args.value_or("--group", "transform-eos".to_owned());
    let transactional_id: String = args.value_or("--transactional-id", format!("{group}-0"));
    let client = &cluster.client;
    topics::create_if_missing(client, &[(&input, 3), (&output, 3)]).await?;
    let demo_records = cluster.is_demo().then_some(DEMO_RECORDS);
    if demo_records.is_some() {
        let words = (0..DEMO_RECORDS).map(|i| {
            let word = WORDS[i as usize % WORDS.len()];
            ProducerRecord::new(input.as_str(), format!("{word}-{i}")).key(word.to_owned())
        });
        demo::produce(client, words).await?;
        println!("embedded cluster: wrote {DEMO_RECORDS} demo words to {input}");
    }

    let consumer = Consumer::<String, String>::builder(client)
        .group_id(&group)
        .auto_offset_reset(OffsetReset::Earliest)
        // Inputs written by other transactions: only committed ones.
        .isolation_level(IsolationLevel::ReadCommitted);
    let processor = Processor::builder(consumer, [input.as_str()])
        .order(ProcessingOrder::Key)
        .max_concurrency(32)
        .build()?;
    let handle = processor.handle();
    let producer: TransactionalProducer<String, String> =
        TransactionalProducer::builder(client, transactional_id).build()?;
    let config = TransactionConfig {
        max_records: 100,
        max_time: Duration::from_millis(100),
    };
    let out_topic = output.clone();
    processor
        .run_exactly_once(
            producer,
            config,
            move |record, outputs| {
                let value = record.value.as_deref().unwrap_or("").to_uppercase();
                let mut out = ProducerRecord::new(out_topic.as_str(), value);
                if let Some(key) = &record.key {
                    out = out.key(key.clone());
                }
                async move {
                    // A failed send dooms the transaction: the processor
                    // aborts it and processes its records again.
                    outputs.send(out).await.map_err(ProcessError::retry)?;
                    Ok(())
                }
            },
            demo::stop_after(handle.clone(), demo_records),
        )
        .await?;
    let processed = handle.health().processed;
    println!("stopped: {processed} words transformed, the last transaction committed at shutdown");
    if demo_records.is_none() {
        return Ok((processed, None));
    }
    let committed = demo::read_to_end(client, &output, IsolationLevel::ReadCommitted).await?;
    let verdict = if committed.len() as u64 == DEMO_RECORDS {
        "exactly once"
    } else {
        "MISMATCH"
    };
    println!(
        "read_committed: {} records in {output} for {DEMO_RECORDS} in {input}: {verdict}",
        committed.len()
    );
    if let Some(r) = committed.first() {
        println!(
            "e.g. {}-{}@{}: {}",
            r.topic,
            r.partition,
            r.offset,
            r.value.as_deref().unwrap_or("")
        );
    }
    Ok((processed, Some(committed.len())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_word_is_in_the_committed_output_once() {
        let cluster = demo::Cluster::embedded().await.unwrap();
        let args = demo::demo_args(&COMMAND, []);
        let (processed, committed) = transform(&cluster, &args).await.unwrap();
        assert_eq!(processed, DEMO_RECORDS);
        assert_eq!(committed, Some(DEMO_RECORDS as usize));
    }
}
