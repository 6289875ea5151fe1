//! ListTransactions, DescribeTransactions and DescribeProducers against
//! transactions kafkit's TransactionalProducer leaves open, commits or
//! abandons, and the `kafka-transactions --find-hanging` flow built on
//! them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kafkit::mock::MockCluster;
use kafkit::producer::{ProducerRecord, RecordMetadata, TransactionalProducer};
use kafkit::protocol::StrBytes;
use kafkit::protocol::messages::describe_producers_request::TopicRequest;
use kafkit::protocol::messages::describe_producers_response::ProducerState;
use kafkit::protocol::messages::describe_transactions_response::TransactionState;
use kafkit::protocol::messages::{
    DescribeProducersRequest, DescribeTransactionsRequest, ListTransactionsRequest, ProducerId,
    TopicName, TransactionalId,
};
use kafkit::{Client, ErrorCode};

use crate::client;

const TOPIC: &str = "hang";

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_owned())
}

async fn producer(client: &Client, id: &str) -> TransactionalProducer<String, String> {
    let p = TransactionalProducer::builder(client, id)
        .transaction_timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    p.init_transactions().await.unwrap();
    p
}

async fn send(
    p: &TransactionalProducer<String, String>,
    partition: i32,
    v: &str,
) -> RecordMetadata {
    p.send(ProducerRecord::new(TOPIC, v.to_owned()).partition(partition))
        .await
        .unwrap()
}

/// (transactional id, producer id, state) as `broker` lists them.
async fn list(
    client: &Client,
    broker: i32,
    req: ListTransactionsRequest,
) -> (Vec<(String, i64, String)>, Vec<String>) {
    let resp = client.send_to(broker, req).await.unwrap();
    assert_eq!((resp.error_code, resp.throttle_time_ms), (0, 0));
    (
        resp.transaction_states
            .iter()
            .map(|t| {
                (
                    t.transactional_id.to_string(),
                    t.producer_id.0,
                    t.transaction_state.to_string(),
                )
            })
            .collect(),
        resp.unknown_state_filters
            .iter()
            .map(|s| s.to_string())
            .collect(),
    )
}

/// Every broker's listing together (the admin client asks them all).
async fn list_all(client: &Client, req: ListTransactionsRequest) -> Vec<(String, i64, String)> {
    let mut all = Vec::new();
    for broker in [1, 2, 3] {
        all.extend(list(client, broker, req.clone()).await.0);
    }
    all
}

async fn describe(client: &Client, broker: i32, ids: &[&str]) -> Vec<TransactionState> {
    let req = DescribeTransactionsRequest::default()
        .with_transactional_ids(ids.iter().map(|id| TransactionalId(s(id))).collect());
    let resp = client.send_to(broker, req).await.unwrap();
    assert_eq!(resp.throttle_time_ms, 0);
    assert_eq!(resp.transaction_states.len(), ids.len());
    resp.transaction_states
}

/// DescribeProducers of one partition at `broker`: the error code and the
/// producers.
async fn producers(
    client: &Client,
    broker: i32,
    topic: &str,
    partition: i32,
) -> (i16, Vec<ProducerState>) {
    let req = DescribeProducersRequest::default().with_topics(vec![
        TopicRequest::default()
            .with_name(TopicName(s(topic)))
            .with_partition_indexes(vec![partition]),
    ]);
    let resp = client.send_to(broker, req).await.unwrap();
    assert_eq!(resp.throttle_time_ms, 0);
    assert_eq!(resp.topics.len(), 1);
    assert_eq!(resp.topics[0].name.as_str(), topic);
    let p = &resp.topics[0].partitions[0];
    assert_eq!(p.partition_index, partition);
    (p.error_code, p.active_producers.clone())
}

fn topics_of(t: &TransactionState) -> Vec<(String, Vec<i32>)> {
    t.topics
        .iter()
        .map(|t| (t.topic.to_string(), t.partitions.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_transaction_is_listed_described_and_its_producer_shown() {
    let cluster = MockCluster::new(3).await.unwrap();
    cluster.create_topic(TOPIC, 3).unwrap();
    cluster.set_transaction_coordinator("txn-open", 2);
    cluster.set_transaction_coordinator("never-initialised", 2);
    let client = client(&cluster).await;
    let p = producer(&client, "txn-open").await;
    let snap = cluster.transaction_state("txn-open").unwrap();
    let (pid, epoch) = (snap.producer_id, snap.producer_epoch);

    let before = now_ms();
    p.begin_transaction().unwrap();
    let mut last = None;
    for i in 0..3 {
        last = Some(send(&p, 0, &format!("p0-{i}")).await);
    }
    send(&p, 1, "p1-0").await;
    let after = now_ms();
    let last_p0 = last.unwrap();

    // Only the coordinator lists it.
    assert_eq!(
        list(&client, 2, ListTransactionsRequest::default()).await,
        (vec![("txn-open".into(), pid, "Ongoing".into())], vec![])
    );
    for other in [1, 3] {
        assert_eq!(
            list(&client, other, ListTransactionsRequest::default())
                .await
                .0,
            []
        );
    }

    let [t] = &describe(&client, 2, &["txn-open"]).await[..] else {
        unreachable!()
    };
    assert_eq!(t.error_code, 0);
    assert_eq!(t.transactional_id.as_str(), "txn-open");
    assert_eq!(t.transaction_state.as_str(), "Ongoing");
    assert_eq!(t.transaction_timeout_ms, 120_000);
    assert!(
        (before..=after).contains(&t.transaction_start_time_ms),
        "{before} <= {} <= {after}",
        t.transaction_start_time_ms
    );
    assert_eq!((t.producer_id.0, t.producer_epoch), (pid, epoch));
    assert_eq!(
        topics_of(t),
        [(TOPIC.to_owned(), vec![0, 1])],
        "the partitions in the transaction"
    );
    // At another broker, and for an id nobody initialised.
    let wrong = describe(&client, 1, &["txn-open"]).await;
    assert_eq!(wrong[0].error_code, ErrorCode::NOT_COORDINATOR.0);
    let unknown = describe(&client, 2, &["never-initialised"]).await;
    assert_eq!(
        (unknown[0].error_code, unknown[0].transactional_id.as_str()),
        (ErrorCode::TRANSACTIONAL_ID_NOT_FOUND.0, "never-initialised")
    );

    // The partition leader shows the producer and where its transaction
    // started.
    let leader = cluster.leader(TOPIC, 0).unwrap();
    let (code, active) = producers(&client, leader, TOPIC, 0).await;
    assert_eq!(code, 0);
    let [a] = &active[..] else {
        panic!("{active:?}")
    };
    assert_eq!(
        (
            a.producer_id.0,
            a.producer_epoch,
            a.last_sequence,
            a.last_timestamp,
            a.coordinator_epoch,
            a.current_txn_start_offset
        ),
        (pid, i32::from(epoch), 2, last_p0.timestamp, -1, 0)
    );
    let follower = [1, 2, 3].into_iter().find(|b| *b != leader).unwrap();
    assert_eq!(
        producers(&client, follower, TOPIC, 0).await,
        (ErrorCode::NOT_LEADER_OR_FOLLOWER.0, vec![])
    );
    assert_eq!(
        producers(&client, leader, TOPIC, 7).await.0,
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0
    );
    assert_eq!(
        producers(&client, leader, "no-such-topic", 0).await.0,
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0
    );
    // A partition the transaction did not touch has no producer.
    let leader2 = cluster.leader(TOPIC, 2).unwrap();
    assert_eq!(producers(&client, leader2, TOPIC, 2).await, (0, vec![]));

    // Committed: the state moves on, the partitions are cleared, the
    // marker closes the transaction in the log.
    p.commit_transaction().await.unwrap();
    let t = &describe(&client, 2, &["txn-open"]).await[0];
    assert_eq!(t.transaction_state.as_str(), "CompleteCommit");
    assert_eq!(topics_of(t), []);
    assert!((before..=after).contains(&t.transaction_start_time_ms));
    let (_, active) = producers(&client, leader, TOPIC, 0).await;
    assert_eq!(
        (
            active[0].last_sequence,
            active[0].coordinator_epoch,
            active[0].current_txn_start_offset
        ),
        (2, 0, -1)
    );
    assert!(active[0].last_timestamp >= last_p0.timestamp);
    p.close(Duration::from_secs(5)).await.unwrap();
    client.close(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_filters_by_state_producer_id_and_duration() {
    let cluster = MockCluster::new(3).await.unwrap();
    cluster.create_topic(TOPIC, 3).unwrap();
    for id in ["t-done", "t-empty", "t-ongoing", "nope"] {
        cluster.set_transaction_coordinator(id, 1);
    }
    let client = client(&cluster).await;
    let empty = producer(&client, "t-empty").await;
    let done = producer(&client, "t-done").await;
    done.begin_transaction().unwrap();
    send(&done, 0, "d").await;
    done.commit_transaction().await.unwrap();
    let ongoing = producer(&client, "t-ongoing").await;
    ongoing.begin_transaction().unwrap();
    send(&ongoing, 1, "o").await;
    let pid = |id: &str| cluster.transaction_state(id).unwrap().producer_id;
    let entry = |id: &str, state: &str| (id.to_owned(), pid(id), state.to_owned());

    let all = vec![
        entry("t-done", "CompleteCommit"),
        entry("t-empty", "Empty"),
        entry("t-ongoing", "Ongoing"),
    ];
    assert_eq!(
        list(&client, 1, ListTransactionsRequest::default()).await,
        (all.clone(), vec![])
    );
    assert_eq!(
        list_all(&client, ListTransactionsRequest::default()).await,
        all
    );
    // States: an unknown name is echoed back and matches nothing.
    let by_state = |states: &[&str]| {
        ListTransactionsRequest::default().with_state_filters(states.iter().map(|v| s(v)).collect())
    };
    assert_eq!(
        list(&client, 1, by_state(&["Ongoing", "Bogus"])).await,
        (
            vec![entry("t-ongoing", "Ongoing")],
            vec!["Bogus".to_owned()]
        )
    );
    assert_eq!(
        list(&client, 1, by_state(&["Bogus"])).await,
        (vec![], vec!["Bogus".to_owned()])
    );
    assert_eq!(
        list(&client, 1, by_state(&["PrepareCommit"])).await,
        (vec![], vec![])
    );
    assert_eq!(
        list(&client, 1, by_state(&["Empty", "CompleteCommit"]))
            .await
            .0,
        [entry("t-done", "CompleteCommit"), entry("t-empty", "Empty")]
    );
    // Producer ids.
    let by_pid = ListTransactionsRequest::default()
        .with_producer_id_filters(vec![ProducerId(pid("t-done")), ProducerId(-5)]);
    assert_eq!(
        list(&client, 1, by_pid).await.0,
        [entry("t-done", "CompleteCommit")]
    );
    // v1's duration: running longer than it. A transactional id with no
    // transaction since InitProducerId has start time -1, so Kafka keeps it.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let longer_than = |ms: i64| ListTransactionsRequest::default().with_duration_filter(ms);
    assert_eq!(
        list(&client, 1, longer_than(3_600_000)).await.0,
        [entry("t-empty", "Empty")]
    );
    assert_eq!(list(&client, 1, longer_than(10)).await.0, all);
    assert_eq!(list(&client, 1, longer_than(-1)).await.0, all);

    // Describe the other states.
    let ds = describe(&client, 1, &["t-empty", "t-done", "nope"]).await;
    assert_eq!(
        (
            ds[0].transaction_state.as_str(),
            ds[0].transaction_start_time_ms,
            ds[0].producer_id.0,
            ds[0].transaction_timeout_ms
        ),
        ("Empty", -1, pid("t-empty"), 120_000)
    );
    assert_eq!(topics_of(&ds[0]), []);
    assert_eq!(ds[1].transaction_state.as_str(), "CompleteCommit");
    assert!(ds[1].transaction_start_time_ms > 0);
    assert_eq!(ds[2].error_code, ErrorCode::TRANSACTIONAL_ID_NOT_FOUND.0);
    assert!(
        describe(&client, 3, &["t-empty", "t-done"])
            .await
            .iter()
            .all(|t| t.error_code == ErrorCode::NOT_COORDINATOR.0)
    );

    ongoing.abort_transaction().await.unwrap();
    for p in [empty, done, ongoing] {
        p.close(Duration::from_secs(5)).await.unwrap();
    }
    client.close(Duration::from_secs(5)).await;
}

/// `kafka-transactions --find-hanging`: producers with an open transaction
/// in a partition (DescribeProducers at each leader) that no coordinator
/// lists as ongoing (ListTransactions filtered by producer id at every
/// broker).
async fn find_hanging(client: &Client, cluster: &MockCluster) -> Vec<(i32, i64, i64)> {
    let mut hanging = Vec::new();
    for partition in 0..3 {
        let leader = cluster.leader(TOPIC, partition).unwrap();
        let (code, active) = producers(client, leader, TOPIC, partition).await;
        assert_eq!(code, 0);
        for a in active.iter().filter(|a| a.current_txn_start_offset >= 0) {
            let ongoing = ListTransactionsRequest::default()
                .with_producer_id_filters(vec![a.producer_id])
                .with_state_filters(vec![s("Ongoing")]);
            if list_all(client, ongoing).await.is_empty() {
                hanging.push((partition, a.producer_id.0, a.current_txn_start_offset));
            }
        }
    }
    hanging
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_its_coordinator_forgot_is_found_hanging_and_aborted() {
    let cluster = MockCluster::new(3).await.unwrap();
    cluster.create_topic(TOPIC, 3).unwrap();
    let client = client(&cluster).await;
    let p = producer(&client, "txn-lost").await;
    let pid = cluster.transaction_state("txn-lost").unwrap().producer_id;
    p.begin_transaction().unwrap();
    send(&p, 0, "committed").await;
    p.commit_transaction().await.unwrap();
    p.begin_transaction().unwrap();
    let open = send(&p, 2, "left-open").await.offset.unwrap();
    send(&p, 1, "also-open").await;
    assert_eq!(
        find_hanging(&client, &cluster).await,
        [],
        "ongoing, not hanging"
    );

    // The coordinator loses the transaction: the logs keep it open.
    assert!(cluster.forget_transaction("txn-lost"));
    let log = cluster.partition_log(TOPIC, 2).unwrap();
    assert_eq!(
        (log.last_stable_offset, log.high_watermark),
        (open, open + 1)
    );
    let mut codes = Vec::new();
    for broker in [1, 2, 3] {
        codes.push(ErrorCode(
            describe(&client, broker, &["txn-lost"]).await[0].error_code,
        ));
    }
    codes.sort();
    assert_eq!(
        codes,
        [
            ErrorCode::NOT_COORDINATOR,
            ErrorCode::NOT_COORDINATOR,
            ErrorCode::TRANSACTIONAL_ID_NOT_FOUND
        ],
        "its coordinator does not know it"
    );
    assert_eq!(
        find_hanging(&client, &cluster).await,
        [(1, pid, 0), (2, pid, open)]
    );

    // Aborting it in each partition (what `kafka-transactions abort` has
    // the leaders do) releases the last stable offset.
    for (partition, _, _) in find_hanging(&client, &cluster).await {
        let marker = cluster
            .abort_open_transaction(TOPIC, partition, pid)
            .unwrap();
        let log = cluster.partition_log(TOPIC, partition).unwrap();
        assert_eq!(log.last_stable_offset, marker + 1);
        assert_eq!(log.aborted_transactions.len(), 1);
    }
    assert_eq!(find_hanging(&client, &cluster).await, []);
    assert_eq!(cluster.abort_open_transaction(TOPIC, 2, pid), None);
    let leader = cluster.leader(TOPIC, 2).unwrap();
    let (_, active) = producers(&client, leader, TOPIC, 2).await;
    assert_eq!(active[0].current_txn_start_offset, -1);
    // The producer's coordinator no longer knows it; its close may fail.
    let _ = p.close(Duration::from_secs(2)).await;
    client.close(Duration::from_secs(5)).await;
}
