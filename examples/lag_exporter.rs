//! Consumer-group lag for Prometheus, for groups of any application
//! (kafkit never joins them):
//!
//! ```text
//! cargo run --example lag_exporter --features prometheus -- \
//!     --bootstrap-server HOST:PORT --group G [--group G2 ...] [--listen 127.0.0.1:9308] \
//!     [--read-committed]
//! ```
//!
//! Serves `GET /metrics` with `kafka_consumer_lag{group, topic, partition}`
//! (end offset minus committed offset) and `kafka_consumer_lag_sum{group,
//! topic}`, read from the brokers on each scrape. Ctrl-C or SIGTERM stops it.
//!
//! Scaling a Deployment on it with a Kubernetes HPA (the metric reaches the
//! HPA through an external-metrics adapter such as prometheus-adapter or
//! KEDA's Prometheus scaler; see `docs/lag-hpa.yaml`):
//!
//! ```yaml
//! apiVersion: autoscaling/v2
//! kind: HorizontalPodAutoscaler
//! metadata: { name: orders-consumer }
//! spec:
//!   scaleTargetRef: { apiVersion: apps/v1, kind: Deployment, name: orders-consumer }
//!   minReplicas: 1
//!   maxReplicas: 12            # no more than the topic's partitions
//!   metrics:
//!     - type: External
//!       external:
//!         metric:
//!           name: kafka_consumer_lag_sum
//!           selector: { matchLabels: { group: orders, topic: orders } }
//!         target: { type: AverageValue, averageValue: "1000" }   # records per pod
//! ```

#[path = "common/cli.rs"]
mod cli;
#[path = "common/lag_server.rs"]
mod lag_server;

use std::process::ExitCode;

use cli::{Args, Command, Opt};
use kafkit::consumer::IsolationLevel;
use kafkit::{Admin, Client};

static COMMAND: Command = Command {
    name: "lag_exporter",
    about: "Serves /metrics with kafka_consumer_lag for the named consumer groups.",
    options: &[
        Opt::required("--group", "G", "consumer group to watch (repeat for more)"),
        Opt::optional(
            "--listen",
            "ADDR",
            "address to serve /metrics on (default 127.0.0.1:9308)",
        ),
        Opt::switch(
            "--read-committed",
            "lag against the last stable offset (default: the high watermark)",
        ),
    ],
};

#[tokio::main]
async fn main() -> ExitCode {
    cli::init_tracing();
    let args = Args::parse(&COMMAND);
    cli::exit_code(COMMAND.name, run(args).await)
}

async fn run(args: Args) -> Result<(), cli::BoxError> {
    let mut shutdown = cli::Shutdown::install()?;
    let client = Client::builder(args.bootstrap())
        .client_id("lag_exporter")
        .build()
        .await?;
    let isolation = if args.switch("--read-committed") {
        IsolationLevel::ReadCommitted
    } else {
        IsolationLevel::ReadUncommitted
    };
    let exporter =
        lag_server::Exporter::new(Admin::new(&client), args.values_of("--group"), isolation);
    let listen: String = args.value_or("--listen", "127.0.0.1:9308".to_string());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    eprintln!("serving http://{}/metrics", listener.local_addr()?);
    lag_server::serve(exporter, listener, async move {
        shutdown.recv().await;
    })
    .await?;
    client.close(std::time::Duration::from_secs(5)).await;
    Ok(())
}
