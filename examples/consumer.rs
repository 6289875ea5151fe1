//! A consumer-group member with manual commits: it subscribes to a topic,
//! prints every record it consumes, commits after each poll, and commits
//! in its rebalance listener before it gives partitions up, so another
//! member (or the next run) starts right after what it printed. It stops
//! after `--messages N` records, or on Ctrl-C, and closes (the revoke
//! callback commits once more and the member leaves the group).
//!
//! ```text
//! cargo run --example consumer -- --bootstrap-server localhost:9092 \
//!     --topic events --group printers [--messages 100]
//! ```
//!
//! Start it twice with the same `--group` and the partitions are split
//! between the two; stop one and the other takes them over.
//!
//! Against Tansu (`scripts/tansu.sh start`), expect the first records after
//! 20 to 40 s: Tansu completes a group's JoinGroup only after about half
//! the session timeout (45 s by default).

use std::time::Duration;

use kafkit::consumer::{Consumer, OffsetReset, RebalanceListener};
use kafkit::{Client, TopicPartition};

struct Args {
    bootstrap: String,
    topic: String,
    group: String,
    messages: Option<u64>,
}

fn usage(problem: &str) -> ! {
    eprintln!("{problem}");
    eprintln!(
        "usage: consumer --bootstrap-server HOST:PORT --topic TOPIC --group GROUP [--messages N]"
    );
    std::process::exit(2);
}

fn parse_args() -> Args {
    let mut bootstrap = None;
    let mut topic = None;
    let mut group = None;
    let mut messages = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--bootstrap-server" => bootstrap = Some(value()),
            "--topic" => topic = Some(value()),
            "--group" => group = Some(value()),
            "--messages" => {
                let n = value();
                messages = Some(
                    n.parse()
                        .unwrap_or_else(|_| usage(&format!("--messages {n}: not a count"))),
                );
            }
            "-h" | "--help" => usage("a kafkit consumer-group member"),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    Args {
        bootstrap: bootstrap.unwrap_or_else(|| "localhost:9092".into()),
        topic: topic.unwrap_or_else(|| usage("--topic is required")),
        group: group.unwrap_or_else(|| usage("--group is required")),
        messages,
    }
}

/// Commits the consumed positions before partitions are given up, so that
/// their next owner starts right after the last record printed here.
struct CommitOnRevoke;

impl RebalanceListener<String, String> for CommitOnRevoke {
    async fn on_partitions_revoked(
        &self,
        consumer: &Consumer<String, String>,
        partitions: &[TopicPartition],
    ) {
        match consumer.commit_sync().await {
            Ok(()) => eprintln!("revoked {}; offsets committed", names(partitions)),
            Err(e) => eprintln!("revoked {}; commit failed: {e}", names(partitions)),
        }
    }

    async fn on_partitions_assigned(
        &self,
        _consumer: &Consumer<String, String>,
        partitions: &[TopicPartition],
    ) {
        eprintln!("assigned {}", names(partitions));
    }

    async fn on_partitions_lost(
        &self,
        _consumer: &Consumer<String, String>,
        partitions: &[TopicPartition],
    ) {
        // Someone else may own them already: committing now could move
        // their offsets back.
        eprintln!("lost {} (not committed)", names(partitions));
    }
}

fn names(partitions: &[TopicPartition]) -> String {
    if partitions.is_empty() {
        return "no partitions".into();
    }
    let names: Vec<String> = partitions.iter().map(ToString::to_string).collect();
    names.join(", ")
}

#[tokio::main]
async fn main() -> kafkit::Result<()> {
    let args = parse_args();
    let client = Client::builder(&args.bootstrap).build().await?;
    let consumer: Consumer<String, String> = Consumer::builder(&client)
        .group_id(args.group.clone())
        .enable_auto_commit(false)
        .auto_offset_reset(OffsetReset::Earliest)
        .rebalance_listener(CommitOnRevoke)
        .build()?;
    consumer.subscribe([args.topic.clone()])?;
    eprintln!(
        "member of group {} reading {} (Ctrl-C to stop)",
        args.group, args.topic
    );

    let mut consumed: u64 = 0;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    while args.messages.is_none_or(|n| consumed < n) {
        let records = tokio::select! {
            _ = &mut ctrl_c => break,
            polled = consumer.poll(Duration::from_secs(1)) => match polled {
                Ok(records) => records,
                // A fatal error (e.g. fenced, unauthorized) ends the member;
                // anything else is reported and the loop goes on, as with
                // Java's poll.
                Err(e) if e.is_fatal() => return Err(e),
                Err(e) => {
                    eprintln!("poll: {e}");
                    continue;
                }
            },
        };
        // With --messages N, print exactly N: positions must then follow
        // what was printed, so rewind the rest of this poll.
        let mut rewound = std::collections::HashSet::new();
        for r in &records {
            if args.messages.is_some_and(|n| consumed >= n) {
                // The first record not printed of each partition is where
                // it goes on.
                let tp = TopicPartition::new(&*r.topic, r.partition);
                if rewound.insert(tp.clone()) {
                    consumer.seek(&tp, r.offset)?;
                }
                continue;
            }
            println!(
                "{}-{}@{} key={} value={}",
                r.topic,
                r.partition,
                r.offset,
                r.key.as_deref().unwrap_or("-"),
                r.value.as_deref().unwrap_or("-")
            );
            consumed += 1;
        }
        if !records.is_empty()
            && let Err(e) = consumer.commit_sync().await
        {
            eprintln!("commit: {e}");
        }
    }
    // Closing revokes the partitions: the listener commits what was printed.
    consumer.close(Duration::from_secs(10)).await;
    client.close(Duration::from_secs(5)).await;
    eprintln!("consumed {consumed} records");
    Ok(())
}
