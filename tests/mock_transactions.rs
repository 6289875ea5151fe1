//! Transactions on kafkit's embedded cluster, where `read_committed` is
//! enforced (no other broker here enforces it), with librdkafka as the
//! independent client: committed records are read, aborted ones never, by
//! kafkit's and librdkafka's read_committed consumers alike; librdkafka's
//! transactional producer is served the same; fencing, the transaction
//! timeout and transactional offsets behave as in Kafka.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kafkit::consumer::{Consumer, IsolationLevel, OffsetAndMetadata, OffsetReset};
use kafkit::mock::{MockCluster, TxnState};
use kafkit::producer::{ProducerRecord, TransactionalProducer};
use kafkit::{Client, TopicPartition};

const PARTITIONS: i32 = 3;

async fn client(cluster: &MockCluster) -> Client {
    Client::builder(cluster.bootstrap_servers())
        .build()
        .await
        .unwrap()
}

async fn txn_producer(client: &Client, id: &str) -> TransactionalProducer<String, String> {
    let p = TransactionalProducer::builder(client, id).build().unwrap();
    p.init_transactions().await.unwrap();
    p
}

/// Every value in `topic` as a consumer at `isolation` reads it, until
/// `expected` arrived and a further poll brings nothing.
async fn read_all(
    cluster: &MockCluster,
    topic: &str,
    isolation: IsolationLevel,
    expected: usize,
) -> Vec<String> {
    let client = client(cluster).await;
    let consumer: Consumer<String, String> = Consumer::builder(&client)
        .isolation_level(isolation)
        .auto_offset_reset(OffsetReset::Earliest)
        .build()
        .unwrap();
    consumer
        .assign((0..PARTITIONS).map(|p| TopicPartition::new(topic, p)))
        .unwrap();
    let mut values = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let batch = consumer.poll(Duration::from_millis(500)).await.unwrap();
        let empty = batch.is_empty();
        values.extend(batch.iter().map(|r| r.value.clone().unwrap()));
        if (values.len() >= expected && empty) || tokio::time::Instant::now() >= deadline {
            break;
        }
    }
    consumer.close(Duration::from_secs(5)).await;
    values
}

async fn send_all(p: &TransactionalProducer<String, String>, topic: &str, prefix: &str, n: usize) {
    for i in 0..n {
        // Spread over every partition, so each takes part in each transaction.
        let r =
            ProducerRecord::new(topic, format!("{prefix}-{i}")).partition(i as i32 % PARTITIONS);
        p.send(r).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_committed_sees_committed_records_only_for_kafkit_and_librdkafka() {
    let cluster = MockCluster::new(3).await.unwrap();
    cluster.create_topic("txn", PARTITIONS).unwrap();
    let client = client(&cluster).await;
    let p = txn_producer(&client, "txn-1").await;
    for (prefix, commit) in [("c1", true), ("a1", false), ("c2", true), ("a2", false)] {
        p.begin_transaction().unwrap();
        send_all(&p, "txn", prefix, 200).await;
        if commit {
            p.commit_transaction().await.unwrap();
        } else {
            p.abort_transaction().await.unwrap();
        }
    }
    p.close(Duration::from_secs(5)).await.unwrap();
    let committed: BTreeSet<String> = ["c1", "c2"]
        .iter()
        .flat_map(|prefix| (0..200).map(move |i| format!("{prefix}-{i}")))
        .collect();

    let rc = read_all(&cluster, "txn", IsolationLevel::ReadCommitted, 400).await;
    assert_eq!(
        rc.len(),
        400,
        "kafkit read_committed: exactly the committed records"
    );
    assert_eq!(rc.iter().cloned().collect::<BTreeSet<_>>(), committed);
    let ru = read_all(&cluster, "txn", IsolationLevel::ReadUncommitted, 800).await;
    assert_eq!(
        ru.len(),
        800,
        "kafkit read_uncommitted: every record, no markers"
    );

    // librdkafka's consumer is read_committed by default.
    let rd = support::consume_with_rdkafka(
        &cluster.bootstrap_servers(),
        "txn",
        400,
        Duration::from_secs(30),
    )
    .await;
    let rd_values: BTreeSet<String> = rd
        .iter()
        .map(|r| String::from_utf8(r.value.clone().unwrap()).unwrap())
        .collect();
    assert_eq!((rd.len(), rd_values), (400, committed));

    // The logs hold the markers: two commits and two aborts per partition
    // that took part, and the aborted ranges indexed.
    for partition in 0..PARTITIONS {
        let log = cluster.partition_log("txn", partition).unwrap();
        let markers = log.batches.iter().filter(|b| b.is_control).count();
        assert_eq!(markers, 4, "partition {partition}");
        assert_eq!(log.aborted_transactions.len(), 2, "partition {partition}");
        assert_eq!(log.last_stable_offset, log.high_watermark);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn librdkafkas_transactions_are_served_alike() {
    use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
    let cluster = MockCluster::new(3).await.unwrap();
    cluster.create_topic("rdtxn", PARTITIONS).unwrap();
    let bootstrap = cluster.bootstrap_servers();
    tokio::task::spawn_blocking(move || {
        let p: FutureProducer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("transactional.id", "rd-txn")
            .create()
            .unwrap();
        p.init_transactions(Duration::from_secs(30)).unwrap();
        for (prefix, commit) in [("c", true), ("a", false)] {
            p.begin_transaction().unwrap();
            for i in 0..100 {
                let value = format!("{prefix}-{i}");
                let key = i.to_string();
                let r = FutureRecord::to("rdtxn").payload(&value).key(&key);
                p.send_result(r).map_err(|(e, _)| e).unwrap();
            }
            p.flush(Duration::from_secs(30)).unwrap();
            if commit {
                p.commit_transaction(Duration::from_secs(30)).unwrap();
            } else {
                p.abort_transaction(Duration::from_secs(30)).unwrap();
            }
        }
    })
    .await
    .unwrap();
    let rc = read_all(&cluster, "rdtxn", IsolationLevel::ReadCommitted, 100).await;
    let expected: BTreeSet<String> = (0..100).map(|i| format!("c-{i}")).collect();
    assert_eq!(rc.len(), 100);
    assert_eq!(rc.into_iter().collect::<BTreeSet<_>>(), expected);
    let state = cluster.transaction_state("rd-txn").unwrap();
    assert_eq!(state.state, TxnState::CompleteAbort);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_producer_with_the_same_id_fences_the_first() {
    let cluster = MockCluster::new(3).await.unwrap();
    cluster.create_topic("fence", PARTITIONS).unwrap();
    let client = client(&cluster).await;
    let first = txn_producer(&client, "fenced").await;
    first.begin_transaction().unwrap();
    send_all(&first, "fence", "old", 10).await;
    // The new instance aborts the old one's open transaction.
    let second = txn_producer(&client, "fenced").await;
    let e = first.commit_transaction().await.unwrap_err();
    assert!(e.is_fatal(), "the fenced producer cannot go on: {e}");
    second.begin_transaction().unwrap();
    send_all(&second, "fence", "new", 10).await;
    second.commit_transaction().await.unwrap();
    let rc = read_all(&cluster, "fence", IsolationLevel::ReadCommitted, 10).await;
    assert_eq!(
        rc.into_iter().collect::<BTreeSet<_>>(),
        (0..10).map(|i| format!("new-{i}")).collect()
    );
    let state = cluster.transaction_state("fenced").unwrap();
    assert_eq!(
        (state.producer_epoch, state.state),
        (1, TxnState::CompleteCommit)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_older_than_its_timeout_is_aborted() {
    let cluster = MockCluster::new(1).await.unwrap();
    cluster.create_topic("slow", PARTITIONS).unwrap();
    let client = client(&cluster).await;
    let p: TransactionalProducer<String, String> = TransactionalProducer::builder(&client, "slow")
        .transaction_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    p.init_transactions().await.unwrap();
    p.begin_transaction().unwrap();
    send_all(&p, "slow", "late", 5).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        p.commit_transaction().await.is_err(),
        "aborted by the coordinator"
    );
    let state = cluster.transaction_state("slow").unwrap();
    assert_eq!(state.state, TxnState::CompleteAbort);
    // The aborted records hold nothing back and are never read.
    for partition in 0..PARTITIONS {
        let log = cluster.partition_log("slow", partition).unwrap();
        assert_eq!(log.last_stable_offset, log.high_watermark);
    }
    assert!(
        read_all(&cluster, "slow", IsolationLevel::ReadCommitted, 0)
            .await
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactional_offsets_are_stored_on_commit_and_dropped_on_abort() {
    let cluster = MockCluster::new(3).await.unwrap();
    cluster.create_topic("in", 1).unwrap();
    cluster.create_topic("out", 1).unwrap();
    let client = client(&cluster).await;
    let consumer: Consumer<String, String> = Consumer::builder(&client)
        .group_id("pipeline")
        .enable_auto_commit(false)
        .build()
        .unwrap();
    consumer.subscribe(["in"]).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while consumer.assignment().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no assignment");
        consumer.poll(Duration::from_millis(200)).await.unwrap();
    }
    let metadata = consumer.group_metadata().unwrap();
    let tp = TopicPartition::new("in", 0);
    let offsets = |o: i64| BTreeMap::from([(tp.clone(), OffsetAndMetadata::new(o))]);
    let p = txn_producer(&client, "pipeline-txn").await;

    p.begin_transaction().unwrap();
    send_all(&p, "out", "aborted", 1).await;
    p.send_offsets_to_transaction(offsets(7), &metadata)
        .await
        .unwrap();
    p.abort_transaction().await.unwrap();
    let committed = consumer.committed(std::slice::from_ref(&tp)).await.unwrap();
    assert_eq!(committed.get(&tp).cloned().flatten(), None);

    p.begin_transaction().unwrap();
    send_all(&p, "out", "committed", 1).await;
    p.send_offsets_to_transaction(offsets(5), &metadata)
        .await
        .unwrap();
    p.commit_transaction().await.unwrap();
    let committed = consumer.committed(std::slice::from_ref(&tp)).await.unwrap();
    assert_eq!(
        committed.get(&tp).cloned().flatten().map(|o| o.offset),
        Some(5)
    );
    consumer.close(Duration::from_secs(5)).await;
    p.close(Duration::from_secs(5)).await.unwrap();
}
