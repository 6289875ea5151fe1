//! A stateful processor: a tumbling one-minute count per key, kept in
//! memory and backed by a compacted changelog topic, as Kafka Streams keeps
//! a state store.
//!
//! ```text
//! cargo run --example window_count                      # embedded cluster, demo records
//! cargo run --example window_count -- --bootstrap-server localhost:9092 [--topic clicks] \
//!     [--group click-counts]
//! ```
//! A record counts in the window its timestamp falls in (the timestamp
//! truncated to the minute). Each new count is written to
//! `<group>-window-count-changelog` (`cleanup.policy=compact`) under the
//! key `window|key` before the record's offset may be committed. On start
//! the counts are rebuilt by reading the changelog from the beginning to
//! its end offsets, then processing starts. Records of one key are
//! processed in order (`ProcessingOrder::Key`), so its counts need no lock
//! held across the write. Without a broker it starts kafkit's embedded
//! cluster and runs twice: it counts the first 300 of 600 demo clicks,
//! stops, rebuilds its counts from the changelog, counts the rest, and
//! checks the counts against the clicks; with a broker it runs until
//! SIGTERM or Ctrl-C.

#[path = "common/cli.rs"]
mod cli;
#[path = "common/demo.rs"]
mod demo;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use cli::{Args, Command, Opt};
use kafkit::admin::NewTopic;
use kafkit::consumer::{Consumer, IsolationLevel, OffsetReset};
use kafkit::processor::{ProcessError, ProcessingOrder, Processor};
use kafkit::producer::{Producer, ProducerRecord};
use kafkit::{Admin, Client, ErrorCode};

const DEMO_RECORDS: u64 = 600;
const WINDOW_MS: i64 = 60_000;

static COMMAND: Command = Command {
    name: "window_count",
    about: "Counts records per key in one-minute tumbling windows, the counts kept in a \
            compacted changelog topic and rebuilt from it on start.",
    options: &[
        Opt::optional("--topic", "T", "topic to count (default clicks)"),
        Opt::optional("--group", "G", "consumer group (default click-counts)"),
    ],
};

/// Counts by (window start in ms, key).
type Counts = BTreeMap<(i64, String), u64>;

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse_bootstrap_optional(&COMMAND);
    cli::init_tracing();
    cli::exit_code(COMMAND.name, run(args).await)
}

async fn run(args: Args) -> Result<(), cli::BoxError> {
    let cluster = demo::Cluster::connect(&args, "kafkit-window-count").await?;
    count(&cluster, &args).await.map(|_| ())
}

/// Counts until stopped (the demo: in two runs); returns the counts and,
/// for the demo, what the clicks give.
async fn count(cluster: &demo::Cluster, args: &Args) -> Result<(Counts, Counts), cli::BoxError> {
    let topic: String = args.value_or("--topic", "clicks".to_owned());
    let group: String = args.value_or("--group", "click-counts".to_owned());
    let changelog = format!("{group}-window-count-changelog");
    let client = &cluster.client;
    create_topics(client, &topic, &changelog).await?;
    if !cluster.is_demo() {
        let counts = rebuild(client, &changelog).await?;
        let counts = run_once(client, &topic, &group, &changelog, counts, None).await?;
        print_counts(&counts);
        return Ok((counts, Counts::new()));
    }
    // Demo clicks over ten minutes, denser at first, in five keys.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
    let start = (now.as_millis() as i64 / WINDOW_MS - 10) * WINDOW_MS;
    let clicks: Vec<(i64, String)> = (0..DEMO_RECORDS as i64)
        .map(|i| {
            (
                start + i * i * 1_000 / DEMO_RECORDS as i64,
                format!("user-{}", i % 5),
            )
        })
        .collect();
    let mut expected = Counts::new();
    for (ts, key) in &clicks {
        *expected.entry((window(*ts), key.clone())).or_default() += 1;
    }
    let half = clicks.len() / 2;
    let mut counts = Counts::new();
    for (run, part) in [&clicks[..half], &clicks[half..]].into_iter().enumerate() {
        if run > 0 {
            let rebuilt = rebuild(client, &changelog).await?;
            let same = if rebuilt == counts { "as" } else { "NOT as" };
            let n = rebuilt.len();
            println!("restart: rebuilt {n} windows from {changelog}, {same} before the stop");
            counts = rebuilt;
        }
        let records = part.iter().map(|(ts, key)| {
            ProducerRecord::new(topic.as_str(), "click".to_owned())
                .key(key.clone())
                .timestamp(*ts)
        });
        demo::produce(client, records).await?;
        counts = run_once(client, &topic, &group, &changelog, counts, Some(part.len())).await?;
        let total: u64 = counts.values().sum();
        println!("run {}: counted {total} clicks so far; stopped", run + 1);
    }
    print_counts(&counts);
    let verdict = if counts == expected {
        "continued correctly"
    } else {
        "are WRONG"
    };
    println!(
        "the counts after the restart {verdict}: {} windows",
        counts.len()
    );
    Ok((counts, expected))
}

/// The input topic and the compacted changelog (same partition count).
async fn create_topics(client: &Client, topic: &str, changelog: &str) -> kafkit::Result<()> {
    let new = [
        NewTopic::new(topic, 4, 1),
        NewTopic::new(changelog, 4, 1).with_config("cleanup.policy", "compact"),
    ];
    for (_, created) in Admin::new(client).create_topics(new).await? {
        match created {
            Err(e) if e.code() != Some(ErrorCode::TOPIC_ALREADY_EXISTS) => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// The counts as the changelog has them: its last value per key wins.
async fn rebuild(client: &Client, changelog: &str) -> Result<Counts, cli::BoxError> {
    let mut counts = Counts::new();
    for r in demo::read_to_end(client, changelog, IsolationLevel::ReadUncommitted).await? {
        let Some((window, key)) = r.key.as_deref().and_then(|k| k.split_once('|')) else {
            continue;
        };
        let Ok(window) = window.parse::<i64>() else {
            continue;
        };
        match r.value.as_deref().map(str::parse::<u64>) {
            Some(Ok(n)) => counts.insert((window, key.to_owned()), n),
            // A tombstone (or a value not ours) ends the window.
            _ => counts.remove(&(window, key.to_owned())),
        };
    }
    Ok(counts)
}

/// One run of the processor from the counts given, until stopped (or, in
/// the demo, `n` records are counted); returns the counts then.
async fn run_once(
    client: &Client,
    topic: &str,
    group: &str,
    changelog: &str,
    counts: Counts,
    n: Option<usize>,
) -> Result<Counts, cli::BoxError> {
    let consumer = Consumer::<String, String>::builder(client)
        .group_id(group)
        .auto_offset_reset(OffsetReset::Earliest);
    let processor = Processor::builder(consumer, [topic])
        .order(ProcessingOrder::Key)
        .max_concurrency(16)
        .build()?;
    let handle = processor.handle();
    let state = Arc::new(Mutex::new(counts));
    let producer: Producer<String, String> = Producer::builder(client).build()?;
    let (counts, changelog) = (state.clone(), changelog.to_owned());
    processor
        .run(
            move |record| {
                let (counts, producer) = (counts.clone(), producer.clone());
                let changelog = changelog.clone();
                let slot = (
                    window(record.timestamp),
                    record.key.clone().unwrap_or_default(),
                );
                async move {
                    // Only this key's lane touches its counts: read, write
                    // the changelog, then update (a retry redoes it all).
                    let next = lock(&counts).get(&slot).copied().unwrap_or(0) + 1;
                    let entry = ProducerRecord::new(changelog, next.to_string())
                        .key(format!("{}|{}", slot.0, slot.1));
                    producer.send(entry).await.map_err(ProcessError::retry)?;
                    lock(&counts).insert(slot, next);
                    Ok(())
                }
            },
            demo::stop_after(handle, n.map(|n| n as u64)),
        )
        .await?;
    Ok(std::mem::take(&mut *lock(&state)))
}

fn lock(counts: &Mutex<Counts>) -> std::sync::MutexGuard<'_, Counts> {
    counts.lock().unwrap_or_else(|p| p.into_inner())
}

/// The start of the one-minute window `timestamp` (ms) falls in.
fn window(timestamp: i64) -> i64 {
    timestamp - timestamp.rem_euclid(WINDOW_MS)
}

/// The last ten windows: one row each (UTC), one column per key.
fn print_counts(counts: &Counts) {
    let mut keys: Vec<&str> = counts.keys().map(|(_, k)| k.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    let mut windows: Vec<i64> = counts.keys().map(|(w, _)| *w).collect();
    windows.dedup();
    let mut header = "window".to_owned();
    keys.iter().for_each(|k| header += &format!(" {k:>8}"));
    println!("{header}");
    for w in windows.iter().skip(windows.len().saturating_sub(10)) {
        let minute = w.div_euclid(WINDOW_MS).rem_euclid(24 * 60);
        let mut row = format!("{:02}:{:02} ", minute / 60, minute % 60);
        for k in &keys {
            let n = counts.get(&(*w, (*k).to_owned())).copied().unwrap_or(0);
            row += &format!(" {n:>8}");
        }
        println!("{row}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_start_at_the_minute() {
        assert_eq!(window(0), 0);
        assert_eq!(window(59_999), 0);
        assert_eq!(window(60_000), 60_000);
        assert_eq!(window(1_796_379_330_250), 1_796_379_300_000);
        assert_eq!(window(-1), -60_000);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn counts_continue_after_a_restart_from_the_changelog() {
        let cluster = demo::Cluster::embedded().await.unwrap();
        let args = demo::demo_args(&COMMAND, []);
        let (counts, expected) = count(&cluster, &args).await.unwrap();
        assert_eq!(counts.values().sum::<u64>(), DEMO_RECORDS);
        assert_eq!(counts, expected);
    }
}
