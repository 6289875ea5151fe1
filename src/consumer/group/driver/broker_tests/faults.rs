//! Faults injected on the mock cluster: the member recovers to a stable
//! membership with its partitions, and commits get through.

use std::collections::BTreeMap;
use std::time::Duration;

use kafkit::ErrorCode;
use kafkit::consumer::group::driver::{OffsetAndMetadata, RebalanceKind};
use rdkafka::mocking::MockCoordinator;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

use super::member::{Member, all, config, eventually, group};
use super::support::{self, TestBroker};

use RDKafkaRespErr::{
    RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS as LOAD_IN_PROGRESS,
    RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE as NOT_AVAILABLE,
    RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION as ILLEGAL_GENERATION,
    RD_KAFKA_RESP_ERR_NOT_COORDINATOR as NOT_COORDINATOR,
    RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS as REBALANCE_IN_PROGRESS,
};

const PARTITIONS: i32 = 6;

async fn stable_member(broker: &TestBroker, group: &str, topic: &str) -> Member {
    let m = Member::start(&broker.bootstrap(), config(group), &[topic], "m").await;
    let everything = all(topic, PARTITIONS);
    eventually("member owns everything", Duration::from_secs(20), || {
        let owned = m.owned();
        (owned == everything, owned)
    })
    .await;
    m
}

async fn commit_round_trip(m: &Member, topic: &str, offset: i64) {
    let offsets: BTreeMap<_, _> = all(topic, PARTITIONS)
        .into_iter()
        .map(|tp| (tp, OffsetAndMetadata::new(offset)))
        .collect();
    m.handle.commit(offsets.clone()).await.unwrap();
    let read = m
        .handle
        .committed(offsets.keys().cloned().collect())
        .await
        .unwrap();
    for tp in offsets.keys() {
        assert_eq!(read[tp].as_ref().map(|o| o.offset), Some(offset), "{tp}");
    }
}

/// Heartbeats answered REBALANCE_IN_PROGRESS: the member rejoins and is
/// stable again with everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_rebalance_in_progress_rejoins() {
    support::init_tracing();
    let broker = TestBroker::mock(3);
    let mock = broker.mock_cluster().unwrap();
    let topic = support::unique_topic("fault-hb");
    broker.create_topic(&topic, PARTITIONS).await;
    let m = stable_member(&broker, &group("fault-hb"), &topic).await;
    let before = m.metrics();

    mock.request_errors(RDKafkaApiKey::Heartbeat, &[REBALANCE_IN_PROGRESS; 2]);
    let everything = all(&topic, PARTITIONS);
    eventually(
        "rejoined after REBALANCE_IN_PROGRESS",
        Duration::from_secs(20),
        || {
            let metrics = m.metrics();
            let ok = metrics.rebalances > before.rebalances && m.owned() == everything;
            (ok, metrics)
        },
    )
    .await;
    // Eager: the rejoin revoked everything first, then assigned it again.
    let log = m.view().log;
    assert!(
        log.iter()
            .any(|(k, p)| *k == RebalanceKind::Revoked && p.len() == 6),
        "{log:?}"
    );
    assert!(
        m.handle.take_error().is_none(),
        "a rebalance is no error for the user"
    );
    commit_round_trip(&m, &topic, 7).await;
    m.close().await;
}

/// FindCoordinator and JoinGroup fail with the coordinator errors a broker
/// gives while a coordinator moves or loads: the member still joins.
///
/// The mock writes its JoinGroup error responses with null protocol name
/// and leader (non-nullable at the versions sent), and its FindCoordinator
/// ones with a null host, which kafka-protocol refuses to decode; those answers reach the machine as failed requests,
/// the path a lost connection takes (find the coordinator again, rejoin
/// after the back-off). The per-code handling of JoinGroup errors is
/// covered by the state machine's own tests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinator_errors_while_joining_are_retried() {
    support::init_tracing();
    let broker = TestBroker::mock(3);
    let mock = broker.mock_cluster().unwrap();
    let topic = support::unique_topic("fault-join");
    broker.create_topic(&topic, PARTITIONS).await;
    mock.request_errors(
        RDKafkaApiKey::FindCoordinator,
        &[NOT_AVAILABLE, NOT_AVAILABLE],
    );
    mock.request_errors(
        RDKafkaApiKey::JoinGroup,
        &[NOT_AVAILABLE, NOT_COORDINATOR, LOAD_IN_PROGRESS],
    );
    let m = stable_member(&broker, &group("fault-join"), &topic).await;
    // The mock's FindCoordinator error answers carry a null host, which
    // does not decode either; the machine raises such non-retriable errors
    // for the user to see, and carries on. Nothing else may be raised.
    while let Some(e) = m.handle.take_error() {
        assert!(
            matches!(e, kafkit::Error::Protocol { .. })
                && e.context().and_then(|c| c.api) == Some("FindCoordinator"),
            "unexpected error raised: {e}"
        );
    }
    assert_eq!(m.metrics().rebalances, 1);
    commit_round_trip(&m, &topic, 3).await;
    m.close().await;
}

/// The coordinator moves to another broker while the member is stable:
/// heartbeats and commits find the new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinator_move_is_followed() {
    support::init_tracing();
    let broker = TestBroker::mock(3);
    let mock = broker.mock_cluster().unwrap();
    let topic = support::unique_topic("fault-move");
    broker.create_topic(&topic, PARTITIONS).await;
    let group = group("fault-move");
    let m = stable_member(&broker, &group, &topic).await;
    commit_round_trip(&m, &topic, 1).await;

    // Two moves: whichever broker coordinated, at least one is a change.
    for (i, to) in [1, 2].into_iter().enumerate() {
        mock.coordinator(MockCoordinator::Group(group.clone()), to)
            .unwrap();
        // A few heartbeats reach the new coordinator.
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(m.owned(), all(&topic, PARTITIONS), "move {i}");
        commit_round_trip(&m, &topic, 10 + i as i64).await;
    }
    assert!(m.handle.take_error().is_none());
    let (_, metrics) = m.close().await;
    assert!(metrics.left_group, "LeaveGroup reached the new coordinator");
}

/// OffsetCommit answered with coordinator errors is retried; answered
/// ILLEGAL_GENERATION it fails (the partitions may be someone else's) and
/// the member rejoins, losing its partitions first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_errors_retry_or_fail_and_rejoin() {
    support::init_tracing();
    let broker = TestBroker::mock(3);
    let mock = broker.mock_cluster().unwrap();
    let topic = support::unique_topic("fault-commit");
    broker.create_topic(&topic, PARTITIONS).await;
    let m = stable_member(&broker, &group("fault-commit"), &topic).await;

    mock.request_errors(
        RDKafkaApiKey::OffsetCommit,
        &[NOT_COORDINATOR, LOAD_IN_PROGRESS],
    );
    commit_round_trip(&m, &topic, 5).await;
    assert_eq!(m.metrics().commits_ok, 1);

    let before = m.metrics();
    mock.request_errors(RDKafkaApiKey::OffsetCommit, &[ILLEGAL_GENERATION]);
    let offsets: BTreeMap<_, _> = all(&topic, PARTITIONS)
        .into_iter()
        .map(|tp| (tp, OffsetAndMetadata::new(9)))
        .collect();
    let err = m.handle.commit(offsets).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::ILLEGAL_GENERATION), "{err}");
    assert_eq!(m.metrics().commits_failed, before.commits_failed + 1);
    let everything = all(&topic, PARTITIONS);
    eventually(
        "rejoined after ILLEGAL_GENERATION",
        Duration::from_secs(20),
        || {
            let metrics = m.metrics();
            (
                metrics.rebalances > before.rebalances && m.owned() == everything,
                metrics,
            )
        },
    )
    .await;
    let log = m.view().log;
    assert!(
        log.iter()
            .any(|(k, p)| *k == RebalanceKind::Lost && p.len() == 6),
        "a rejected generation loses the partitions: {log:?}"
    );
    commit_round_trip(&m, &topic, 11).await;
    m.close().await;
}
