//! What the processor examples share: kafkit's embedded cluster when no
//! broker is named, writing demo records, stopping once the demo is done
//! (or on SIGTERM/Ctrl-C), and reading a topic back to its end.
//!
//! Include it next to `cli.rs`: `#[path = "common/demo.rs"] mod demo;`.

// Each example uses only part of this file.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use kafkit::admin::OffsetSpec;
use kafkit::consumer::{Consumer, ConsumerRecord, IsolationLevel};
use kafkit::mock::MockCluster;
use kafkit::processor::ProcessorHandle;
use kafkit::producer::{Producer, ProducerRecord};
use kafkit::{Admin, Client, TopicPartition};

use super::cli::{Args, BoxError, Command};

/// The brokers an example talks to: those named on the command line, or
/// an embedded cluster it started (and stops when this is dropped).
pub struct Cluster {
    /// A client for them.
    pub client: Client,
    /// Their bootstrap address.
    pub bootstrap: String,
    /// The embedded cluster, if no broker was named: the example then
    /// writes its demo records and stops once they are done.
    pub embedded: Option<MockCluster>,
}

impl Cluster {
    /// Connects to `--bootstrap-server`/`KAFKA_BOOTSTRAP`, or starts an
    /// embedded cluster of three brokers when neither is given.
    pub async fn connect(args: &Args, client_id: &str) -> Result<Cluster, BoxError> {
        let embedded = match args.bootstrap_given() {
            Some(_) => None,
            None => Some(MockCluster::new(3).await?),
        };
        Cluster::on(embedded, args.bootstrap(), client_id).await
    }

    /// A cluster for the examples' tests: a fresh embedded one of three
    /// brokers.
    pub async fn embedded() -> Result<Cluster, BoxError> {
        let cluster = MockCluster::new(3).await?;
        Cluster::on(Some(cluster), "", "kafkit-example-test").await
    }

    async fn on(
        embedded: Option<MockCluster>,
        bootstrap: &str,
        client_id: &str,
    ) -> Result<Cluster, BoxError> {
        let bootstrap = match &embedded {
            Some(c) => c.bootstrap_servers(),
            None => bootstrap.to_owned(),
        };
        let client = Client::builder(&bootstrap)
            .client_id(client_id)
            .build()
            .await?;
        Ok(Cluster {
            client,
            bootstrap,
            embedded,
        })
    }

    /// Whether this is the demo on the embedded cluster.
    pub fn is_demo(&self) -> bool {
        self.embedded.is_some()
    }
}

/// Writes `records` and waits until every one is acknowledged; returns how
/// many there were.
pub async fn produce(
    client: &Client,
    records: impl IntoIterator<Item = ProducerRecord<String, String>>,
) -> kafkit::Result<usize> {
    let producer: Producer<String, String> = Producer::builder(client).build()?;
    let mut acks = Vec::new();
    for record in records {
        acks.push(producer.enqueue(record).await?);
    }
    producer.flush().await;
    let n = acks.len();
    for ack in acks {
        ack.await?;
    }
    producer.close(Duration::from_secs(5)).await?;
    Ok(n)
}

/// The processor's shutdown future: SIGTERM or Ctrl-C, or, with `Some(n)`
/// (the demo), once `n` records have been processed or dead-lettered.
pub async fn stop_after(handle: ProcessorHandle<String, String>, n: Option<u64>) {
    let done = async {
        match n {
            Some(n) => loop {
                let h = handle.health();
                if h.processed + h.dead_lettered >= n {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            },
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = kafkit::processor::shutdown_signal() => {}
        () = done => {}
    }
}

/// Reads every partition of `topic` from its beginning to the end offsets
/// it has now (`Admin::list_offsets` with `OffsetSpec::Latest`), with a
/// plain assigned consumer (no group, nothing committed). With
/// `ReadCommitted`, records of aborted transactions are skipped.
pub async fn read_to_end(
    client: &Client,
    topic: &str,
    isolation: IsolationLevel,
) -> Result<Vec<ConsumerRecord<String, String>>, BoxError> {
    let admin = Admin::new(client);
    let partitions = match admin.describe_topics(&[topic]).await?.pop() {
        Some((_, described)) => described?.partitions.len(),
        None => 0,
    };
    let query: Vec<(&str, i32)> = (0..partitions as i32).map(|p| (topic, p)).collect();
    let mut remaining = BTreeMap::new();
    for ((_, p), listed) in admin.list_offsets(&query, OffsetSpec::Latest).await? {
        let end = listed?.offset;
        if end > 0 {
            remaining.insert(TopicPartition::new(topic, p), end);
        }
    }
    let consumer: Consumer<String, String> = Consumer::builder(client)
        .isolation_level(isolation)
        .build()?;
    let tps: Vec<TopicPartition> = remaining.keys().cloned().collect();
    consumer.assign(tps.clone())?;
    consumer.seek_to_beginning(&tps)?;
    let mut records = Vec::new();
    let mut idle = 0;
    // Ends at the end offsets; a safety net ends it after 5 s without
    // records (e.g. when records were deleted meanwhile).
    while !remaining.is_empty() && idle < 25 {
        let polled = consumer.poll(Duration::from_millis(200)).await?;
        idle = if polled.is_empty() { idle + 1 } else { 0 };
        records.extend(polled);
        let mut reached = Vec::new();
        for (tp, end) in &remaining {
            if consumer.position(tp).await? >= *end {
                reached.push(tp.clone());
            }
        }
        for tp in reached {
            remaining.remove(&tp);
        }
    }
    consumer.close(Duration::from_secs(5)).await;
    Ok(records)
}

/// `command`'s arguments for the examples' tests: `argv`, with the demo on
/// the embedded cluster (as if `KAFKA_BOOTSTRAP` named it). Panics on a
/// usage error.
pub fn demo_args(command: &'static Command, argv: impl IntoIterator<Item = String>) -> Args {
    Args::parse_from(command, argv, Some("embedded".into()))
        .map_err(|_| "usage")
        .unwrap()
}
