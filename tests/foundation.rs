//! Foundation against real brokers: ApiVersions, metadata, create/list/delete
//! topics on Tansu and on librdkafka's mock cluster; metadata refresh after a
//! leader move and reconnect after broker down/up on the mock cluster.

mod support;

use support::Outage as _;

use std::time::Duration;

use kafkit::admin::{NewTopic, OffsetSpec};
use kafkit::protocol::messages::ApiKey;
use kafkit::{Client, ErrorCode};

async fn client(bootstrap: &str) -> Client {
    Client::builder(bootstrap)
        .client_id("kafkit-foundation-test")
        .request_timeout(Duration::from_secs(10))
        .build()
        .await
        .unwrap_or_else(|e| panic!("connect to {bootstrap}: {e}"))
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// ApiVersions, describe cluster, create/list/describe/delete topics: the same
/// body against Tansu and (if named) the user's broker.
async fn admin_round_trip(bootstrap: &str, broker_name: &str) {
    let client = client(bootstrap).await;
    let admin = kafkit::Admin::new(&client);

    let cluster = admin.describe_cluster().await.unwrap();
    assert!(
        !cluster.brokers.is_empty(),
        "{broker_name}: no brokers in metadata"
    );
    let broker = cluster.brokers[0].id;
    let versions = client.api_versions(broker).await.unwrap();
    for key in [
        ApiKey::Metadata,
        ApiKey::Produce,
        ApiKey::Fetch,
        ApiKey::ApiVersions,
    ] {
        let (min, max) = versions
            .range(key)
            .unwrap_or_else(|| panic!("{broker_name}: broker lacks {key:?}"));
        assert!(min <= max, "{broker_name}: {key:?} {min}..{max}");
    }

    let topic = unique("kafkit-admin");
    let created = admin
        .create_topics([NewTopic::new(&topic, 3, 1)])
        .await
        .unwrap();
    assert_eq!(created.len(), 1);
    created[0]
        .1
        .as_ref()
        .unwrap_or_else(|e| panic!("{broker_name}: create {topic}: {e}"));

    let again = admin
        .create_topics([NewTopic::new(&topic, 3, 1)])
        .await
        .unwrap();
    assert_eq!(
        again[0].1.as_ref().unwrap_err().code(),
        Some(ErrorCode::TOPIC_ALREADY_EXISTS),
        "{broker_name}: second create"
    );

    let listed = admin.list_topics().await.unwrap();
    assert!(
        listed.iter().any(|t| t.name == topic),
        "{broker_name}: {topic} not listed"
    );

    let described = admin
        .describe_topics(&[&topic, "kafkit-no-such-topic"])
        .await
        .unwrap();
    let meta = described[0].1.as_ref().unwrap();
    assert_eq!(meta.partitions.len(), 3, "{broker_name}");
    assert_eq!(
        described[1].1.as_ref().unwrap_err().code(),
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
        "{broker_name}: describing an unknown topic must not create it"
    );

    // A fresh topic is empty: earliest == latest == 0 on every partition.
    let parts: Vec<(&str, i32)> = (0..3).map(|p| (topic.as_str(), p)).collect();
    for spec in [OffsetSpec::Earliest, OffsetSpec::Latest] {
        for ((_, p), r) in admin.list_offsets(&parts, spec).await.unwrap() {
            assert_eq!(
                r.unwrap().offset,
                0,
                "{broker_name}: {spec:?} of partition {p}"
            );
        }
    }

    let deleted = admin.delete_topics(&[&topic]).await.unwrap();
    deleted[0]
        .1
        .as_ref()
        .unwrap_or_else(|e| panic!("{broker_name}: delete: {e}"));
    let listed = admin.list_topics().await.unwrap();
    assert!(
        !listed.iter().any(|t| t.name == topic),
        "{broker_name}: {topic} still listed"
    );
    client.close(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn tansu_admin_round_trip() {
    let Some(tansu) = support::tansu_or_skip() else {
        return;
    };
    admin_round_trip(&tansu.bootstrap(), "tansu").await;
}

#[tokio::test]
async fn external_broker_admin_round_trip() {
    // Only when the user names a broker: KAFKA_BOOTSTRAP=host:port cargo test
    let Some(bootstrap) = support::external() else {
        return;
    };
    admin_round_trip(&bootstrap, "external").await;
}

#[tokio::test]
async fn mock_cluster_metadata_sees_three_brokers() {
    let mock = support::mock_cluster(3);
    let bootstrap = mock.bootstrap_servers();
    mock.create_topic("kafkit-meta", 6, 3).unwrap();

    let client = client(&bootstrap).await;
    let meta = client.metadata_for(&["kafkit-meta"]).await.unwrap();
    assert_eq!(meta.brokers.len(), 3);
    let topic = meta.topic("kafkit-meta").unwrap();
    assert_eq!(topic.partitions.len(), 6);
    for p in &topic.partitions {
        assert!(
            p.leader.is_some(),
            "partition {} has no leader",
            p.partition
        );
        assert_eq!(p.replicas.len(), 3);
    }
    // The mock cluster has no CreateTopics: a clear error, not a hang.
    let err = kafkit::Admin::new(&client)
        .create_topics([NewTopic::new("x", 1, 1)])
        .await;
    match err {
        Ok(results) => assert!(results[0].1.is_err()),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

#[tokio::test]
async fn mock_cluster_leader_move_refreshes_metadata() {
    let mock = support::mock_cluster(3);
    let bootstrap = mock.bootstrap_servers();
    mock.create_topic("kafkit-move", 1, 3).unwrap();

    let client = client(&bootstrap).await;
    let admin = kafkit::Admin::new(&client);
    let before = client.metadata_for(&["kafkit-move"]).await.unwrap();
    let old_leader = before.leader_for("kafkit-move", 0).unwrap();
    admin
        .list_offsets(&[("kafkit-move", 0)], OffsetSpec::Latest)
        .await
        .unwrap()[0]
        .1
        .as_ref()
        .unwrap();

    let new_leader = if old_leader == 1 { 2 } else { 1 };
    mock.partition_leader("kafkit-move", 0, Some(new_leader))
        .unwrap();

    // No explicit refresh: the cached leader is stale, the old leader answers
    // NOT_LEADER_OR_FOLLOWER (or the new one FENCED_LEADER_EPOCH), and the
    // admin call must refresh metadata and retry at the new leader.
    let r = admin
        .list_offsets(&[("kafkit-move", 0)], OffsetSpec::Latest)
        .await
        .unwrap();
    r[0].1
        .as_ref()
        .unwrap_or_else(|e| panic!("after leader move: {e}"));
    let after = client.metadata();
    assert_eq!(after.leader_for("kafkit-move", 0), Some(new_leader));
    assert!(
        after.generation > before.generation,
        "metadata was not refreshed"
    );
}

#[tokio::test]
async fn mock_cluster_reconnects_after_broker_down_up() {
    let mock = support::mock_cluster(3);
    let bootstrap = mock.bootstrap_servers();
    mock.create_topic("kafkit-down", 1, 3).unwrap();

    let client = Client::builder(&bootstrap)
        .request_timeout(Duration::from_secs(2))
        .connect_timeout(Duration::from_secs(1))
        .build()
        .await
        .unwrap();
    let meta = client.metadata_for(&["kafkit-down"]).await.unwrap();
    let leader = meta.leader_for("kafkit-down", 0).unwrap();
    client.api_versions(leader).await.unwrap();

    mock.take_down(leader).unwrap();
    let err = kafkit::Admin::new(&client)
        .list_offsets(&[("kafkit-down", 0)], OffsetSpec::Earliest)
        .await
        .map(|mut r| r.remove(0).1);
    match err {
        Ok(Err(e)) | Err(e) => assert!(e.is_retriable(), "down broker gave non-retriable {e}"),
        Ok(Ok(_)) => panic!("a down leader answered"),
    }

    mock.bring_up(leader).unwrap();
    // The pool reconnects (after its backoff) on the next use.
    let mut last = None;
    for _ in 0..50 {
        match client.api_versions(leader).await {
            Ok(_) => {
                last = None;
                break;
            }
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(last.is_none(), "no reconnect after broker_up: {last:?}");
    let r = kafkit::Admin::new(&client)
        .list_offsets(&[("kafkit-down", 0)], OffsetSpec::Earliest)
        .await
        .unwrap();
    assert_eq!(r[0].1.as_ref().unwrap().offset, 0);
}

#[cfg(feature = "mock")]
#[tokio::test]
async fn embedded_cluster_admin_round_trip() {
    let broker = support::TestBroker::embedded().await;
    admin_round_trip(&broker.bootstrap(), "embedded").await;
}
