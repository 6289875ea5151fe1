//! Runs kafkit's embedded test cluster on fixed ports until Ctrl-C, to try
//! any Kafka tool (kcat, the Java CLI tools, librdkafka programs) against it:
//!
//! ```text
//! cargo run --example mock_broker -- --brokers 3 --port 9092
//! kcat -b 127.0.0.1:9092 -L
//! ```
//!
//! Brokers listen on `127.0.0.1:PORT..PORT+N-1`; topics are auto-created
//! with `--partitions` partitions. Everything lives in memory and is gone
//! when the process stops.

#[path = "common/cli.rs"]
mod cli;

use std::process::ExitCode;

use cli::{Args, Command, Opt};
use kafkit::mock::MockCluster;

static COMMAND: Command = Command {
    name: "mock_broker",
    about: "Runs kafkit's in-process Kafka cluster on fixed loopback ports until stopped \
            (--bootstrap-server is not used).",
    options: &[
        Opt::optional("--brokers", "N", "number of brokers (default 3)"),
        Opt::optional("--port", "PORT", "port of the first broker (default 9092)"),
        Opt::optional(
            "--partitions",
            "P",
            "partitions of auto-created topics (default 3)",
        ),
    ],
};

#[tokio::main]
async fn main() -> ExitCode {
    cli::init_tracing();
    let args = Args::parse_bootstrap_optional(&COMMAND);
    cli::exit_code(COMMAND.name, run(args).await)
}

async fn run(args: Args) -> Result<(), cli::BoxError> {
    let mut shutdown = cli::Shutdown::install()?;
    let brokers: i32 = args.value_or("--brokers", 3);
    let cluster = MockCluster::builder()
        .brokers(brokers)
        .port(args.value_or("--port", 9092))
        .default_partitions(args.value_or("--partitions", 3))
        .build()
        .await?;
    println!("bootstrap.servers={}", cluster.bootstrap_servers());
    let signal = shutdown.recv().await;
    eprintln!("{signal}: stopping");
    drop(cluster);
    Ok(())
}
