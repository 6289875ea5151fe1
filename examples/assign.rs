//! Manual assignment and seeking: reads one partition of a topic from a
//! given offset (or from the beginning), printing each record, until no
//! record came for five seconds, or Ctrl-C or SIGTERM. No consumer group is
//! involved.
//!
//! ```text
//! cargo run --example assign -- --bootstrap-server localhost:9092 --topic T \
//!     [--partition 0] [--offset 42]
//! ```

#[path = "common/cli.rs"]
mod cli;

use std::process::ExitCode;
use std::time::Duration;

use cli::{Args, Command, Opt};
use kafkit::consumer::Consumer;
use kafkit::{Client, TopicPartition};

static COMMAND: Command = Command {
    name: "assign",
    about: "Reads one partition from an offset (manual assignment, no group) until \
            it is idle for 5 s.",
    options: &[
        Opt::required("--topic", "T", "topic to read"),
        Opt::optional("--partition", "P", "partition to read (default 0)"),
        Opt::optional(
            "--offset",
            "OFFSET",
            "offset to start at (default: the beginning)",
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
    let topic: String = args.required("--topic");
    let partition: i32 = args.value_or("--partition", 0);
    let offset: Option<i64> = args.value("--offset");
    let mut shutdown = cli::Shutdown::install()?;

    let client = Client::builder(args.bootstrap()).build().await?;
    let consumer: Consumer<String, String> = Consumer::builder(&client).build()?;
    let tp = TopicPartition::new(topic.as_str(), partition);
    consumer.assign([tp.clone()])?;
    match offset {
        Some(o) => consumer.seek(&tp, o)?,
        None => consumer.seek_to_beginning(std::slice::from_ref(&tp))?,
    }
    let start = consumer.position(&tp).await?;
    cli::print_line(format_args!("{tp}: starting at offset {start}"));

    loop {
        let records = tokio::select! {
            signal = shutdown.recv() => {
                eprintln!("{signal}: stopping");
                break;
            }
            records = consumer.poll(Duration::from_secs(5)) => records?,
        };
        if records.is_empty() {
            break;
        }
        let printed = records.iter().all(|r| {
            cli::print_line(format_args!(
                "{}-{}@{} ts={} key={} value={}",
                r.topic,
                r.partition,
                r.offset,
                r.timestamp,
                r.key.as_deref().unwrap_or("-"),
                r.value.as_deref().unwrap_or("-")
            ))
        });
        if !printed {
            // stdout closed: nobody is reading any more.
            break;
        }
    }
    let lag = match consumer.lag(&tp) {
        Some(lag) => lag.to_string(),
        None => "unknown".into(),
    };
    let position = consumer.position(&tp).await?;
    cli::print_line(format_args!("{tp}: position {position}, lag {lag}"));
    consumer.close(Duration::from_secs(5)).await;
    client.close(Duration::from_secs(5)).await;
    Ok(())
}
