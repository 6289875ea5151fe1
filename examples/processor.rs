//! A processing service on `kafkit::processor`: records of one key in
//! order and different keys in parallel, retries with backoff, poison
//! records to `<topic>.DLT`, a rate limit, a circuit breaker, health
//! probes over HTTP, and a clean stop on SIGTERM.
//!
//! ```text
//! cargo run --example processor                                   # embedded cluster, demo records
//! cargo run --example processor -- --bootstrap-server localhost:9092 --topic orders --group billing \
//!     [--concurrency 32] [--rate 500] [--listen 127.0.0.1:8080] [--batch 50]
//! ```
//! Without a broker it starts kafkit's embedded cluster, writes 1,000 demo
//! records (every 97th a "poison" record the handler refuses, every 13th
//! one that fails twice before it succeeds), processes them and stops.
//! `GET /healthz` answers 200 while the poll loop makes progress (liveness),
//! `GET /readyz` 200 while the member is in its group (readiness).

#[path = "common/cli.rs"]
mod cli;

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use cli::{Args, Command, Opt};
use kafkit::Client;
use kafkit::admin::NewTopic;
use kafkit::consumer::{Consumer, OffsetReset};
use kafkit::processor::{
    BatchConfig, BreakerConfig, ProcessError, ProcessingOrder, Processor, ProcessorHandle,
    RetryPolicy,
};
use kafkit::producer::{Producer, ProducerRecord};

static COMMAND: Command = Command {
    name: "processor",
    about: "Key-ordered parallel processing with retries, a dead-letter topic, a rate \
            limit, a circuit breaker and health probes.",
    options: &[
        Opt::optional("--topic", "T", "topic to process (default processor-demo)"),
        Opt::optional("--group", "G", "consumer group (default processor-demo)"),
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
    let topic: String = args.value_or("--topic", "processor-demo".to_owned());
    let group: String = args.value_or("--group", "processor-demo".to_owned());
    let embedded = match args.bootstrap_given() {
        Some(_) => None,
        None => Some(kafkit::mock::MockCluster::new(3).await?),
    };
    let bootstrap = match &embedded {
        Some(c) => c.bootstrap_servers(),
        None => args.bootstrap().to_owned(),
    };
    let client = Client::builder(&bootstrap)
        .client_id("kafkit-processor")
        .build()
        .await?;
    let demo = embedded.is_some();
    if demo {
        let admin = kafkit::Admin::new(&client);
        admin
            .create_topics([
                NewTopic::new(&topic, 4, 1),
                NewTopic::new(format!("{topic}.DLT"), 1, 1),
            ])
            .await?;
        write_demo_records(&client, &topic, 1_000).await?;
        println!("embedded cluster at {bootstrap}: wrote 1000 demo records to {topic}");
    }

    let mut retry = RetryPolicy::default();
    retry.initial_backoff = Duration::from_millis(50);
    retry.max_attempts = 5;
    let consumer = Consumer::<String, String>::builder(&client)
        .group_id(&group)
        .auto_offset_reset(OffsetReset::Earliest);
    let mut builder = Processor::builder(consumer, [topic.as_str()])
        .order(ProcessingOrder::Key)
        .max_concurrency(args.value_or("--concurrency", 16))
        .retry(retry)
        .handler_timeout(Duration::from_secs(10))
        .circuit_breaker(BreakerConfig::new(20, Duration::from_secs(5)))
        .dead_letter_producer(Producer::builder(&client).build()?);
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

    // Stop on SIGTERM/Ctrl-C; the demo also stops once everything is done.
    let attempts: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let stop = {
        let handle = handle.clone();
        async move {
            if demo {
                tokio::select! {
                    () = kafkit::processor::shutdown_signal() => {}
                    () = until_done(&handle, 1_000) => {}
                }
            } else {
                kafkit::processor::shutdown_signal().await;
            }
        }
    };
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
                            for r in &records {
                                handle_record(&attempts, r.value.as_deref().unwrap_or("")).await?;
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
        "stopped: {} processed, {} dead-lettered to {topic}.DLT; offsets committed, group left",
        h.processed, h.dead_lettered
    );
    Ok(())
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

async fn write_demo_records(client: &Client, topic: &str, n: usize) -> kafkit::Result<()> {
    let producer: Producer<String, String> = Producer::builder(client).build()?;
    let mut acks = Vec::with_capacity(n);
    for i in 0..n {
        let value = match i {
            i if i % 97 == 0 => format!("poison-{i}"),
            i if i % 13 == 0 => format!("flaky-{i}"),
            i => format!("order-{i}"),
        };
        let record = ProducerRecord::new(topic, value).key(format!("customer-{}", i % 50));
        acks.push(producer.enqueue(record).await?);
    }
    producer.flush().await;
    for ack in acks {
        ack.await?;
    }
    producer.close(Duration::from_secs(5)).await
}

async fn until_done(handle: &ProcessorHandle<String, String>, n: u64) {
    loop {
        let h = handle.health();
        if h.processed + h.dead_lettered >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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
