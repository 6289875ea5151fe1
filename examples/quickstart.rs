//! Quickstart: connect, describe the cluster, create a topic, produce ten
//! records, read them back in a consumer group and commit, look up the
//! topic's offsets, list topics, delete the topic.
//!
//! ```text
//! cargo run --example quickstart                                     # nothing to install
//! cargo run --example quickstart -- --bootstrap-server localhost:9092
//! ```
//! Without `--bootstrap-server` or `KAFKA_BOOTSTRAP` it starts kafkit's
//! embedded cluster (`kafkit::mock::MockCluster`, three brokers on loopback
//! ports) in the same process and tours that. Ctrl-C or SIGTERM skips to the
//! end: the group member leaves its group and the topic is deleted.

#[path = "common/cli.rs"]
mod cli;

use std::process::ExitCode;
use std::time::Duration;

use cli::{Args, Command, Opt};
use kafkit::Client;
use kafkit::admin::{NewTopic, OffsetSpec};
use kafkit::consumer::{Consumer, OffsetReset};
use kafkit::producer::{Producer, ProducerRecord};

static COMMAND: Command = Command {
    name: "quickstart",
    about: "A tour: cluster, topic, producer, consumer group, offsets; deletes its \
            topic at the end.",
    options: &[Opt::optional(
        "--topic",
        "T",
        "topic to create, use and delete (default kafkit-quickstart-PID)",
    )],
};

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse_bootstrap_optional(&COMMAND);
    cli::init_tracing();
    cli::exit_code(COMMAND.name, run(args).await)
}

async fn run(args: Args) -> Result<(), cli::BoxError> {
    let topic: String = args.value_or(
        "--topic",
        format!("kafkit-quickstart-{}", std::process::id()),
    );
    let mut shutdown = cli::Shutdown::install()?;
    // No broker named: run against the embedded cluster, kept alive until
    // the end of the tour (dropping it stops its brokers).
    let embedded = match args.bootstrap_given() {
        Some(_) => None,
        None => Some(kafkit::mock::MockCluster::new(3).await?),
    };
    let bootstrap = match &embedded {
        Some(cluster) => {
            println!(
                "no broker named (--bootstrap-server or KAFKA_BOOTSTRAP): started kafkit's embedded cluster"
            );
            cluster.bootstrap_servers()
        }
        None => args.bootstrap().to_owned(),
    };
    let bootstrap = bootstrap.as_str();
    let client = Client::builder(bootstrap)
        .client_id("kafkit-quickstart")
        .build()
        .await?;
    let admin = kafkit::Admin::new(&client);

    let cluster = admin.describe_cluster().await?;
    println!(
        "connected to cluster {} via {bootstrap}",
        cluster.cluster_id.as_deref().unwrap_or("(no id)")
    );
    for broker in &cluster.brokers {
        println!("  broker {} at {}", broker.id, broker.address());
    }

    for (name, result) in admin.create_topics([NewTopic::new(&topic, 3, 1)]).await? {
        match result {
            Ok(()) => println!("created topic {name}"),
            Err(e) => println!("could not create {name}: {e}"),
        }
    }

    // acks=all, idempotent, linger.ms=5: the Java producer's defaults.
    let producer: Producer<String, String> = Producer::builder(&client).build()?;
    let stopped = tokio::select! {
        signal = shutdown.recv() => Some(signal),
        sent = produce(&producer, &topic) => { sent?; None }
    };
    producer.close(Duration::from_secs(5)).await?;

    let stopped = match stopped {
        Some(signal) => Some(signal),
        None => {
            // A group member reading from the beginning; it commits what
            // it read.
            let group = format!("{topic}-group");
            let consumer: Consumer<String, String> = Consumer::builder(&client)
                .group_id(group.clone())
                .auto_offset_reset(OffsetReset::Earliest)
                .enable_auto_commit(false)
                .build()?;
            consumer.subscribe([topic.clone()])?;
            let stopped = tokio::select! {
                signal = shutdown.recv() => Some(signal),
                read = consume(&consumer, &group) => { read?; None }
            };
            // Leaves the group at once.
            consumer.close(Duration::from_secs(5)).await;
            stopped
        }
    };

    if let Some(signal) = stopped {
        eprintln!("{signal}: skipping to the end");
    } else {
        // A new topic takes a moment to get leaders; the admin call retries
        // meanwhile.
        let partitions: Vec<(&str, i32)> = (0..3).map(|p| (topic.as_str(), p)).collect();
        for ((t, p), offset) in admin.list_offsets(&partitions, OffsetSpec::Latest).await? {
            match offset {
                Ok(o) => println!("  {t}-{p}: end offset {}", o.offset),
                Err(e) => println!("  {t}-{p}: {e}"),
            }
        }
        let topics = admin.list_topics().await?;
        let names: Vec<&str> = topics.iter().map(|t| t.name.as_str()).collect();
        println!("{} topic(s): {}", names.len(), names.join(", "));
    }

    for (name, result) in admin.delete_topics(&[&topic]).await? {
        match result {
            Ok(()) => println!("deleted {name}"),
            Err(e) => println!("could not delete {name}: {e}"),
        }
    }
    client.close(Duration::from_secs(5)).await;
    Ok(())
}

/// Sends ten records, each awaited.
async fn produce(producer: &Producer<String, String>, topic: &str) -> kafkit::Result<()> {
    for i in 0..10 {
        let record = ProducerRecord::new(topic, format!("hello {i}")).key(format!("key-{i}"));
        let meta = producer.send(record).await?;
        println!("  sent hello {i} to {meta}");
    }
    Ok(())
}

/// Reads the ten records (for at most a minute) and commits.
async fn consume(consumer: &Consumer<String, String>, group: &str) -> kafkit::Result<()> {
    // Tansu completes a group's first join only after about half the
    // session timeout (45 s by default); Apache Kafka after its 3 s
    // group.initial.rebalance.delay.ms.
    println!("joining group {group} ...");
    let mut read = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while read < 10 && tokio::time::Instant::now() < deadline {
        for r in &consumer.poll(Duration::from_secs(1)).await? {
            println!(
                "  read {}-{}@{}: {}",
                r.topic,
                r.partition,
                r.offset,
                r.value.as_deref().unwrap_or("-")
            );
            read += 1;
        }
    }
    consumer.commit_sync().await?;
    println!("read {read} of 10 records in group {group}");
    Ok(())
}
