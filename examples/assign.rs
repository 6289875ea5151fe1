//! Manual assignment and seeking: reads partition 0 of a topic from a given
//! offset (or from the beginning), printing each record, until no record
//! came for five seconds.
//!
//! ```text
//! KAFKA_BOOTSTRAP=localhost:9092 cargo run --example assign -- TOPIC [OFFSET]
//! ```

use std::time::Duration;

use kafkit::consumer::Consumer;
use kafkit::{Client, TopicPartition};

#[tokio::main]
async fn main() -> kafkit::Result<()> {
    let bootstrap = std::env::var("KAFKA_BOOTSTRAP").unwrap_or_else(|_| "localhost:9092".into());
    let mut args = std::env::args().skip(1);
    let Some(topic) = args.next() else {
        eprintln!("usage: assign TOPIC [OFFSET]");
        std::process::exit(2);
    };
    let offset: Option<i64> = args.next().and_then(|o| o.parse().ok());

    let client = Client::builder(&bootstrap).build().await?;
    let consumer: Consumer<String, String> = Consumer::builder(&client).build()?;
    let tp = TopicPartition::new(topic.as_str(), 0);
    consumer.assign([tp.clone()])?;
    match offset {
        Some(o) => consumer.seek(&tp, o)?,
        None => consumer.seek_to_beginning(std::slice::from_ref(&tp))?,
    }
    println!("{tp}: starting at offset {}", consumer.position(&tp).await?);

    loop {
        let records = consumer.poll(Duration::from_secs(5)).await?;
        if records.is_empty() {
            break;
        }
        for r in &records {
            println!(
                "{}-{} @{} ts={} key={:?} value={:?}",
                r.topic, r.partition, r.offset, r.timestamp, r.key, r.value
            );
        }
    }
    println!(
        "{tp}: position {}, lag {:?}",
        consumer.position(&tp).await?,
        consumer.lag(&tp)
    );
    consumer.close(Duration::from_secs(5)).await;
    client.close(Duration::from_secs(5)).await;
    Ok(())
}
