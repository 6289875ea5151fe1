//! Quickstart: connect, describe the cluster, create a topic, produce ten
//! records, read them back in a consumer group and commit, look up the
//! topic's offsets, list topics, delete the topic.
//!
//! ```text
//! KAFKA_BOOTSTRAP=localhost:9092 cargo run --example quickstart
//! ```
//! (`scripts/quickstart.sh` starts a local Tansu broker when none is reachable.)

use std::time::Duration;

use kafkit::Client;
use kafkit::admin::{NewTopic, OffsetSpec};
use kafkit::consumer::{Consumer, OffsetReset};
use kafkit::producer::{Producer, ProducerRecord};

#[tokio::main]
async fn main() -> kafkit::Result<()> {
    let bootstrap = std::env::var("KAFKA_BOOTSTRAP").unwrap_or_else(|_| "localhost:9092".into());
    let client = Client::builder(&bootstrap)
        .client_id("kafkit-quickstart")
        .build()
        .await?;
    let admin = kafkit::Admin::new(&client);

    let cluster = admin.describe_cluster().await?;
    println!(
        "connected to cluster {:?} via {bootstrap}",
        cluster.cluster_id
    );
    for broker in &cluster.brokers {
        println!("  broker {} at {}", broker.id, broker.address());
    }

    let topic = format!("kafkit-quickstart-{}", std::process::id());
    for (name, result) in admin.create_topics([NewTopic::new(&topic, 3, 1)]).await? {
        match result {
            Ok(()) => println!("created topic {name}"),
            Err(e) => println!("could not create {name}: {e}"),
        }
    }

    // acks=all, idempotent, linger.ms=5: the Java producer's defaults.
    let producer: Producer<String, String> = Producer::builder(&client).build()?;
    for i in 0..10 {
        let record =
            ProducerRecord::new(topic.as_str(), format!("hello {i}")).key(format!("key-{i}"));
        let meta = producer.send(record).await?;
        println!("  sent hello {i} to {meta}");
    }
    producer.close(Duration::from_secs(5)).await?;

    // A group member reading from the beginning; it commits what it read.
    let consumer: Consumer<String, String> = Consumer::builder(&client)
        .group_id(format!("{topic}-group"))
        .auto_offset_reset(OffsetReset::Earliest)
        .enable_auto_commit(false)
        .build()?;
    consumer.subscribe([topic.clone()])?;
    // Tansu completes a group's first join only after about half the
    // session timeout (45 s by default); Apache Kafka after its 3 s
    // group.initial.rebalance.delay.ms.
    println!("joining group {topic}-group ...");
    let mut read = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while read < 10 && tokio::time::Instant::now() < deadline {
        for r in &consumer.poll(Duration::from_secs(1)).await? {
            println!(
                "  read {}-{}@{}: {:?}",
                r.topic, r.partition, r.offset, r.value
            );
            read += 1;
        }
    }
    consumer.commit_sync().await?;
    consumer.close(Duration::from_secs(5)).await;
    println!("read {read} of 10 records in group {topic}-group");

    // A new topic takes a moment to get leaders; the admin call retries meanwhile.
    let partitions: Vec<(&str, i32)> = (0..3).map(|p| (topic.as_str(), p)).collect();
    for ((t, p), offset) in admin.list_offsets(&partitions, OffsetSpec::Latest).await? {
        match offset {
            Ok(o) => println!("  {t}-{p}: end offset {}", o.offset),
            Err(e) => println!("  {t}-{p}: {e}"),
        }
    }

    let topics = admin.list_topics().await?;
    println!(
        "{} topic(s): {:?}",
        topics.len(),
        topics.iter().map(|t| &t.name).collect::<Vec<_>>()
    );

    for (name, result) in admin.delete_topics(&[&topic]).await? {
        println!(
            "deleted {name}: {}",
            if result.is_ok() { "ok" } else { "failed" }
        );
    }
    client.close(Duration::from_secs(5)).await;
    Ok(())
}
