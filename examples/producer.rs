//! The producer's basic flow: `send` (wait for the ack), `enqueue` (keep many
//! in flight), `flush`, `close`. Reads `KAFKA_BOOTSTRAP` (default
//! localhost:9092) and `TOPIC` (default `kafkit-example`).

use std::time::Duration;

use kafkit::Client;
use kafkit::admin::NewTopic;
use kafkit::producer::{Producer, ProducerRecord};

#[tokio::main]
async fn main() -> kafkit::Result<()> {
    let bootstrap = std::env::var("KAFKA_BOOTSTRAP").unwrap_or_else(|_| "localhost:9092".into());
    let topic = std::env::var("TOPIC").unwrap_or_else(|_| "kafkit-example".into());
    let client = Client::builder(&bootstrap)
        .client_id("kafkit-producer-example")
        .build()
        .await?;
    // Ignore "already exists"; any other failure shows up on the first send.
    let _ = kafkit::Admin::new(&client)
        .create_topics([NewTopic::new(&topic, 3, 1)])
        .await;

    let producer: Producer<String, String> = Producer::builder(&client).build()?;

    // Wait for one record's acknowledgement.
    let meta = producer
        .send(ProducerRecord::new(topic.as_str(), "hello".to_string()).key("greeting".to_string()))
        .await?;
    println!("sent one record: {meta}");

    // Keep many in flight, then collect the results.
    let mut pending = Vec::new();
    for i in 0..1000 {
        let record = ProducerRecord::new(topic.as_str(), format!("value-{i}"))
            .key(format!("key-{}", i % 10));
        pending.push(producer.enqueue(record).await?);
    }
    producer.flush().await;
    let mut ok = 0;
    for delivery in pending {
        if delivery.await.is_ok() {
            ok += 1;
        }
    }
    println!(
        "enqueued 1000 records, {ok} acknowledged; metrics: {:?}",
        producer.metrics()
    );
    producer.close(Duration::from_secs(10)).await?;
    client.close(Duration::from_secs(1)).await;
    Ok(())
}
