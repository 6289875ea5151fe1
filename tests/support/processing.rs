//! What the processor tests share: a client, keyed records to process, the
//! group consumer a processor runs on, and a bounded wait.

use std::time::{Duration, Instant};

use kafkit::Client;
use kafkit::consumer::{Consumer, ConsumerBuilder, OffsetReset};
use kafkit::producer::{Producer, ProducerRecord};

/// A client with a 15 s request timeout (rebalances and transactions on a
/// loaded machine take longer than Java's 30 s default would hint).
pub async fn processing_client(bootstrap: &str) -> Client {
    Client::builder(bootstrap)
        .request_timeout(Duration::from_secs(15))
        .build()
        .await
        .unwrap()
}

/// `n` records, value `{i}`, key `{key_prefix}{i % keys}` (so partitioned
/// by key), all acknowledged before it returns.
pub async fn produce_keyed(client: &Client, topic: &str, n: u64, keys: u64, key_prefix: &str) {
    let producer: Producer<String, String> = Producer::builder(client).build().unwrap();
    let mut acks = Vec::with_capacity(n as usize);
    for i in 0..n {
        let r = ProducerRecord::new(topic, i.to_string()).key(format!("{key_prefix}{}", i % keys));
        acks.push(producer.enqueue(r).await.unwrap());
    }
    producer.flush().await;
    for a in acks {
        a.await.unwrap();
    }
    producer.close(Duration::from_secs(5)).await.unwrap();
}

/// A group consumer from the earliest offset, with the short session
/// timeout and fetch wait the group tests use (Tansu completes a first join
/// after `session.timeout.ms / 2`).
pub fn processing_consumer(client: &Client, group: &str) -> ConsumerBuilder<String, String> {
    Consumer::builder(client)
        .group_id(group)
        .auto_offset_reset(OffsetReset::Earliest)
        .session_timeout(Duration::from_secs(6))
        .heartbeat_interval(Duration::from_millis(500))
        .fetch_max_wait(Duration::from_millis(100))
}

/// Waits (bounded) until `done()`; panics naming `what` otherwise.
pub async fn until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "{what} within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
