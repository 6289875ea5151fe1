//! A consumer-group member with manual commits: it subscribes to a topic,
//! prints every record it consumes, commits after each poll, and commits
//! in its rebalance listener before it gives partitions up, so another
//! member (or the next run) starts right after what it printed. It stops
//! after `--messages N` records, or on Ctrl-C or SIGTERM, and closes (the revoke
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

#[path = "common/cli.rs"]
mod cli;

use std::process::ExitCode;
use std::time::Duration;

use cli::{Args, Command, Opt};
use kafkit::consumer::{Consumer, OffsetReset, RebalanceListener};
use kafkit::{Client, TopicPartition};

static COMMAND: Command = Command {
    name: "consumer",
    about: "A consumer-group member: prints each record, commits after each poll and \
            before giving partitions up. Stops after --messages records, or on Ctrl-C \
            or SIGTERM (then it leaves the group at once).",
    options: &[
        Opt::required("--topic", "T", "topic to read"),
        Opt::required("--group", "G", "consumer group to join"),
        Opt::optional(
            "--messages",
            "N",
            "stop after N records (default: run until stopped)",
        ),
    ],
};

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
async fn main() -> ExitCode {
    let args = Args::parse(&COMMAND);
    cli::init_tracing();
    cli::exit_code(COMMAND.name, run(args).await)
}

async fn run(args: Args) -> Result<(), cli::BoxError> {
    let topic: String = args.required("--topic");
    let group: String = args.required("--group");
    let messages: Option<u64> = args.value("--messages");
    let mut shutdown = cli::Shutdown::install()?;
    let client = Client::builder(args.bootstrap()).build().await?;
    let consumer: Consumer<String, String> = Consumer::builder(&client)
        .group_id(group.clone())
        .enable_auto_commit(false)
        .auto_offset_reset(OffsetReset::Earliest)
        .rebalance_listener(CommitOnRevoke)
        .build()?;
    consumer.subscribe([topic.clone()])?;
    eprintln!("member of group {group} reading {topic} (Ctrl-C or SIGTERM to stop)");

    let mut consumed: u64 = 0;
    let mut stdout_closed = false;
    while !stdout_closed && messages.is_none_or(|n| consumed < n) {
        let records = tokio::select! {
            signal = shutdown.recv() => {
                eprintln!("{signal}: leaving the group");
                break;
            }
            polled = consumer.poll(Duration::from_secs(1)) => match polled {
                Ok(records) => records,
                // A fatal error (e.g. fenced, unauthorized) ends the member;
                // anything else is reported and the loop goes on, as with
                // Java's poll.
                Err(e) if e.is_fatal() => return Err(e.into()),
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
            if stdout_closed || messages.is_some_and(|n| consumed >= n) {
                // The first record not printed of each partition is where
                // it goes on.
                let tp = TopicPartition::new(&*r.topic, r.partition);
                if rewound.insert(tp.clone()) {
                    consumer.seek(&tp, r.offset)?;
                }
                continue;
            }
            if !cli::print_line(format_args!(
                "{}-{}@{} key={} value={}",
                r.topic,
                r.partition,
                r.offset,
                r.key.as_deref().unwrap_or("-"),
                r.value.as_deref().unwrap_or("-")
            )) {
                // stdout closed (e.g. piped into head): stop here, and
                // resume from this record next time.
                let tp = TopicPartition::new(&*r.topic, r.partition);
                if rewound.insert(tp.clone()) {
                    consumer.seek(&tp, r.offset)?;
                }
                stdout_closed = true;
                continue;
            }
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
