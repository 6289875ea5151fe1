//! Connects to a secured cluster with the `client.properties` your platform
//! hands out (Confluent Cloud, MSK, Aiven, a company cluster), writes one
//! record and reads it back, printing what each broker's connection
//! negotiated (security protocol, TLS version and cipher suite, SASL
//! mechanism):
//!
//! ```text
//! cargo run --example secure_client -- --bootstrap-server broker:9093 \
//!     --command-config client.properties --topic smoke-test
//! ```
//!
//! `client.properties` holds Java client keys, e.g. SASL_SSL with SCRAM:
//!
//! ```text
//! security.protocol=SASL_SSL
//! sasl.mechanism=SCRAM-SHA-512
//! sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="...";
//! ssl.ca.location=/etc/ssl/certs/company-ca.pem
//! ```
//!
//! TLS needs kafkit's `tls` feature; this example is built without it, so
//! for `SSL`/`SASL_SSL` run it from a crate that enables `kafkit/tls` (the
//! error says so). Failures name the broker and the cause: a wrong password
//! is `SASL_AUTHENTICATION_FAILED`, an unknown CA or host name a TLS error.

#[path = "common/cli.rs"]
mod cli;

use std::process::ExitCode;
use std::time::Duration;

use cli::{Args, Command, Opt};
use kafkit::TopicPartition;
use kafkit::consumer::Consumer;
use kafkit::producer::{Producer, ProducerRecord};

static COMMAND: Command = Command {
    name: "secure_client",
    about: "Writes one record to a secured cluster and reads it back.",
    options: &[
        cli::COMMAND_CONFIG,
        Opt::required("--topic", "T", "an existing topic to write one record to"),
        Opt::optional(
            "--connect-times",
            "N",
            "also time N connection set-ups (TCP, TLS, SASL, ApiVersions, Metadata) and print p50/p99",
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
    if let Some(n) = args.value::<usize>("--connect-times") {
        time_connections(&args, n.max(1)).await?;
    }
    let (client, props) = cli::client_builder(&args)?;
    let client = client.client_id("kafkit-secure-client").build().await?;
    let cluster = kafkit::Admin::new(&client).describe_cluster().await?;
    println!(
        "authenticated to cluster {} ({} brokers)",
        cluster.cluster_id.as_deref().unwrap_or("(no id)"),
        cluster.brokers.len()
    );
    // What each broker's connection negotiated, e.g.
    // `SASL_SSL (TLSv1.3 TLS13_AES_256_GCM_SHA384, SASL SCRAM-SHA-512)`.
    for &id in client.metadata().brokers.keys() {
        println!("broker {id}: {}", client.connection_security(id).await?);
    }

    let producer: Producer<String, String> =
        Producer::builder(&client).properties(&props)?.build()?;
    let meta = producer
        .send(ProducerRecord::new(
            topic.as_str(),
            "hello from kafkit".to_string(),
        ))
        .await?;
    println!("wrote one record at {meta}");
    producer.close(Duration::from_secs(5)).await?;

    let consumer: Consumer<String, String> =
        Consumer::builder(&client).properties(&props)?.build()?;
    let tp = TopicPartition::new(topic.as_str(), meta.partition);
    consumer.assign([tp.clone()])?;
    if let Some(offset) = meta.offset {
        consumer.seek(&tp, offset)?;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline {
        if let Some(r) = consumer.poll(Duration::from_secs(1)).await?.iter().next() {
            println!("read it back: {}@{}", r.partition, r.offset);
            consumer.close(Duration::from_secs(5)).await;
            client.close(Duration::from_secs(5)).await;
            return Ok(());
        }
    }
    Err("the record did not come back within 30 s".into())
}

/// Builds `n` clients one after the other (each opens its bootstrap
/// connection: TCP, TLS, SASL, ApiVersions, then Metadata) and prints the
/// median and 99th percentile set-up time.
async fn time_connections(args: &Args, n: usize) -> Result<(), cli::BoxError> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let (builder, _) = cli::client_builder(args)?;
        let started = std::time::Instant::now();
        let client = builder.build().await?;
        times.push(started.elapsed());
        client.close(Duration::from_secs(1)).await;
    }
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "connection set-up over {n}: p50 {:.2} ms, p99 {:.2} ms",
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3
    );
    Ok(())
}
