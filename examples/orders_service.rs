//! An orders service on `kafkit::processor`: the `orders` topic processed
//! with the orders of one customer (the key) in order and different
//! customers in parallel, retries with backoff, poison orders to
//! `orders.DLT`, a rate limit, a circuit breaker, health probes over HTTP,
//! and a clean stop on SIGTERM (drain, commit, leave the group).
//!
//! ```text
//! cargo run --example orders_service                    # embedded cluster, demo records
//! cargo run --example orders_service -- --bootstrap-server localhost:9092 [--topic orders] \
//!     [--group orders-service] [--concurrency 32] [--rate 500] [--listen 127.0.0.1:8080] [--batch 50]
//! ```
//! Without a broker it starts kafkit's embedded cluster, writes 1,000 demo
//! orders (every 97th a "poison" order the handler refuses, every 13th
//! one that fails twice before it succeeds), processes them and stops; the
//! retries come last, in a burst of failures that opens the circuit
//! breaker (20 failures in a row) for a second or two.
//! With a broker it processes the topic until SIGTERM or Ctrl-C.
//! `GET /healthz` answers 200 while the poll loop makes progress (liveness),
//! `GET /readyz` 200 while the member is in its group (readiness).

#[path = "common/cli.rs"]
mod cli;
#[path = "common/demo.rs"]
mod demo;
#[path = "common/topics.rs"]
mod topics;

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use cli::{Args, Command, Opt};
use kafkit::consumer::{Consumer, OffsetReset};
use kafkit::processor::{
    BatchConfig, BreakerConfig, Health, ProcessError, ProcessingOrder, Processor, ProcessorHandle,
    RetryPolicy,
};
use kafkit::producer::{Producer, ProducerRecord};

const DEMO_RECORDS: u64 = 1_000;

static COMMAND: Command = Command {
    name: "orders_service",
    about: "An orders service: key-ordered parallel processing with retries, a dead-letter \
            topic, a rate limit, a circuit breaker, health probes and a graceful shutdown.",
    options: &[
        Opt::optional("--topic", "T", "topic to process (default orders)"),
        Opt::optional("--group", "G", "consumer group (default orders-service)"),
        Opt::optional(
            "--concurrency",
            "N",
            "records processed at once (default 16)",
        ),
        Opt::optional(
            "--rate",
            "R",
            "records per second at most (default: no limit)",
        ),
        Opt::optional(
            "--batch",
            "N",
            "process in batches of up to N records (default: one by one)",
        ),
        Opt::optional(
            "--listen",
            "ADDR",
            "serve /healthz and /readyz here (default 127.0.0.1:0, a free port)",
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
    let cluster = demo::Cluster::connect(&args, "kafkit-orders-service").await?;
    service(&cluster, &args).await.map(|_| ())
}

/// Runs the service (and on the embedded cluster its demo) until stopped.
async fn service(cluster: &demo::Cluster, args: &Args) -> Result<Health, cli::BoxError> {
    let topic: String = args.value_or("--topic", "orders".to_owned());
    let group: String = args.value_or("--group", "orders-service".to_owned());
    let client = &cluster.client;
    let dlt = format!("{topic}.DLT");
    topics::create_if_missing(client, &[(&topic, 4), (&dlt, 1)]).await?;
    let demo_records = cluster.is_demo().then_some(DEMO_RECORDS);
    if demo_records.is_some() {
        let orders = (0..DEMO_RECORDS).map(|i| {
            let value = match i {
                i if i % 97 == 0 => format!("poison-{i}"),
                i if i % 13 == 0 => format!("flaky-{i}"),
                i => format!("order-{i}"),
            };
            ProducerRecord::new(topic.as_str(), value).key(format!("customer-{}", i % 50))
        });
        demo::produce(client, orders).await?;
        println!(
            "embedded cluster at {}: wrote {DEMO_RECORDS} demo orders to {topic}",
            cluster.bootstrap
        );
    }

    let mut retry = RetryPolicy::default();
    retry.initial_backoff = Duration::from_millis(50);
    retry.max_attempts = 5;
    let consumer = Consumer::<String, String>::builder(client)
        .group_id(&group)
        .auto_offset_reset(OffsetReset::Earliest);
    let mut builder = Processor::builder(consumer, [topic.as_str()])
        .order(ProcessingOrder::Key)
        .max_concurrency(args.value_or("--concurrency", 16))
        .retry(retry)
        .handler_timeout(Duration::from_secs(10))
        .circuit_breaker(BreakerConfig::new(20, Duration::from_secs(1)))
        .dead_letter_producer(Producer::builder(client).build()?);
    if let Some(rate) = args.value::<f64>("--rate") {
        builder = builder.records_per_second(rate);
    }
    let batch: Option<usize> = args.value("--batch");
    if let Some(n) = batch {
        builder = builder.batch(BatchConfig::new(n, Duration::from_millis(100)));
    }
    let processor = builder.build()?;
    let handle = processor.handle();
    let listen: String = args.value_or("--listen", "127.0.0.1:0".to_owned());
    let addr = serve_health(handle.clone(), &listen).await?;
    println!("health probes on http://{addr}/healthz and /readyz");

    // Stop on SIGTERM/Ctrl-C; the demo also stops once every order is done.
    let attempts: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let stop = demo::stop_after(handle.clone(), demo_records);
    match batch {
        None => {
            processor
                .run(
                    move |record| {
                        let attempts = attempts.clone();
                        async move {
                            handle_record(&attempts, record.value.as_deref().unwrap_or("")).await
                        }
                    },
                    stop,
                )
                .await?
        }
        Some(_) => {
            processor
                .run_batches(
                    move |records| {
                        let attempts = attempts.clone();
                        async move {
                            // Name the record that failed: only it is retried or
                            // dead-lettered, the ones before it count as done.
                            for (i, r) in records.iter().enumerate() {
                                handle_record(&attempts, r.value.as_deref().unwrap_or(""))
                                    .await
                                    .map_err(|e| e.at_record(i))?;
                            }
                            Ok(())
                        }
                    },
                    stop,
                )
                .await?
        }
    }
    let h = handle.health();
    println!(
        "stopped: {} processed, {} dead-lettered to {dlt}; offsets committed, group left",
        h.processed, h.dead_lettered
    );
    Ok(h)
}

/// The business logic: here, a stand-in that refuses poison records and
/// fails some others twice before they succeed.
async fn handle_record(
    attempts: &Mutex<HashMap<String, u32>>,
    value: &str,
) -> Result<(), ProcessError> {
    if value.starts_with("poison") {
        return Err(ProcessError::give_up("unparseable order"));
    }
    if value.starts_with("flaky") {
        let n = {
            let mut a = attempts.lock().unwrap_or_else(|p| p.into_inner());
            let n = a.entry(value.to_owned()).or_default();
            *n += 1;
            *n
        };
        if n < 3 {
            return Err(ProcessError::retry("downstream timed out"));
        }
    }
    tokio::time::sleep(Duration::from_millis(1)).await;
    Ok(())
}

async fn serve_health(
    handle: ProcessorHandle<String, String>,
    listen: &str,
) -> std::io::Result<std::net::SocketAddr> {
    async fn healthz(State(h): State<ProcessorHandle<String, String>>) -> StatusCode {
        if h.health().live {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
    async fn readyz(State(h): State<ProcessorHandle<String, String>>) -> StatusCode {
        if h.health().ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(handle);
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_demo_processes_every_order_and_dead_letters_the_poison_ones() {
        let cluster = demo::Cluster::embedded().await.unwrap();
        for extra in [&[][..], &["--batch", "20"]] {
            // A topic of its own each time: the demo writes its orders again.
            let topic = format!("orders-{}", extra.len());
            let head = ["--topic", topic.as_str()];
            let argv = head.iter().chain(extra).map(|a| a.to_string());
            let args = demo::demo_args(&COMMAND, argv);
            let h = service(&cluster, &args).await.unwrap();
            // 0, 97, ..., 970 are poison: 11 of them.
            assert_eq!((h.processed, h.dead_lettered), (989, 11), "{extra:?}");
        }
    }
}
