//! Quickstart: connect, describe the cluster, create a topic, look up its
//! offsets, list topics, delete the topic.
//!
//! ```text
//! KAFKA_BOOTSTRAP=localhost:9092 cargo run --example quickstart
//! ```
//! (`scripts/quickstart.sh` starts a local Tansu broker when none is reachable.)

use std::time::Duration;

use kafkit::Client;
use kafkit::admin::{NewTopic, OffsetSpec};

#[tokio::main]
async fn main() -> kafkit::Result<()> {
    let bootstrap = std::env::var("KAFKA_BOOTSTRAP").unwrap_or_else(|_| "localhost:9092".into());
    let client = Client::builder(&bootstrap)
        .client_id("kafkit-quickstart")
        .build()
        .await?;
    let admin = client.admin();

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
