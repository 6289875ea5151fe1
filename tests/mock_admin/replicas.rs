//! DescribeLogDirs (one log directory per broker, partition sizes from the
//! stored batches) and ElectLeaders (preferred and unclean elections).

use std::collections::BTreeMap;
use std::time::Duration;

use kafkit::Client;
use kafkit::ErrorCode;
use kafkit::mock::MockCluster;
use kafkit::producer::{Producer, ProducerRecord};
use kafkit::protocol::StrBytes;
use kafkit::protocol::messages::describe_log_dirs_request::DescribableLogDirTopic;
use kafkit::protocol::messages::elect_leaders_request::TopicPartitions;
use kafkit::protocol::messages::metadata_request::MetadataRequestTopic;
use kafkit::protocol::messages::{
    DescribeLogDirsRequest, ElectLeadersRequest, ElectLeadersResponse, MetadataRequest, TopicName,
};

use crate::client;

fn name(v: &str) -> TopicName {
    TopicName(StrBytes::from_string(v.to_owned()))
}

/// Each partition's replicas, from a Metadata request.
async fn replicas(client: &Client, topic: &str) -> Vec<Vec<i32>> {
    let req = MetadataRequest::default()
        .with_topics(Some(vec![
            MetadataRequestTopic::default().with_name(Some(name(topic))),
        ]))
        .with_allow_auto_topic_creation(false);
    let resp = client.send_to(1, req).await.unwrap();
    let mut parts: Vec<(i32, Vec<i32>)> = resp.topics[0]
        .partitions
        .iter()
        .map(|p| {
            (
                p.partition_index,
                p.replica_nodes.iter().map(|b| b.0).collect(),
            )
        })
        .collect();
    parts.sort();
    parts.into_iter().map(|(_, r)| r).collect()
}

/// (topic, partition) → (size, offset lag, is future) per topic as one
/// broker's only log directory lists them, checking the directory.
async fn log_dir(
    client: &Client,
    broker: i32,
    topics: Option<Vec<DescribableLogDirTopic>>,
) -> (BTreeMap<(String, i32), (i64, i64, bool)>, i64) {
    let resp = client
        .send_to(
            broker,
            DescribeLogDirsRequest::default().with_topics(topics),
        )
        .await
        .unwrap();
    assert_eq!((resp.error_code, resp.throttle_time_ms), (0, 0));
    let [dir] = &resp.results[..] else {
        panic!("one log dir: {resp:?}")
    };
    assert_eq!(dir.error_code, 0);
    assert_eq!(dir.log_dir.as_str(), format!("/mock/broker-{broker}"));
    assert_eq!(dir.total_bytes, 1 << 40);
    let mut seen = BTreeMap::new();
    for t in &dir.topics {
        for p in &t.partitions {
            let key = (t.name.to_string(), p.partition_index);
            let value = (p.partition_size, p.offset_lag, p.is_future_key);
            assert!(seen.insert(key, value).is_none(), "listed once");
        }
    }
    (seen, dir.total_bytes - dir.usable_bytes)
}

fn stored_bytes(cluster: &MockCluster, topic: &str, partition: i32) -> i64 {
    let log = cluster.partition_log(topic, partition).unwrap();
    log.batches.iter().map(|b| b.size_bytes as i64).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_dirs_list_each_brokers_replicas_with_their_sizes() {
    let cluster = MockCluster::builder()
        .brokers(3)
        .replication_factor(2)
        .build()
        .await
        .unwrap();
    cluster.create_topic("dirs", 3).unwrap();
    cluster.create_topic("other", 1).unwrap();
    let client = client(&cluster).await;
    let producer: Producer<String, String> = Producer::builder(&client).build().unwrap();
    for (topic, partition, n) in [("dirs", 0, 5), ("dirs", 1, 3), ("other", 0, 2)] {
        for i in 0..n {
            let r = ProducerRecord::new(topic, format!("v{i}")).partition(partition);
            producer.send(r).await.unwrap();
        }
    }
    producer.close(Duration::from_secs(5)).await.unwrap();
    let mut placement = BTreeMap::new();
    for topic in ["dirs", "other"] {
        for (p, rs) in replicas(&client, topic).await.into_iter().enumerate() {
            assert_eq!(rs.len(), 2);
            placement.insert((topic.to_owned(), p as i32), rs);
        }
    }
    assert!(stored_bytes(&cluster, "dirs", 0) > 0);
    assert_eq!(stored_bytes(&cluster, "dirs", 2), 0);

    for broker in [1, 2, 3] {
        let expected: BTreeMap<(String, i32), (i64, i64, bool)> = placement
            .iter()
            .filter(|(_, rs)| rs.contains(&broker))
            .map(|((t, p), _)| ((t.clone(), *p), (stored_bytes(&cluster, t, *p), 0, false)))
            .collect();
        let (seen, used) = log_dir(&client, broker, None).await;
        assert_eq!(seen, expected, "broker {broker}: every replica it hosts");
        assert_eq!(used, expected.values().map(|v| v.0).sum::<i64>());

        // Named partitions: only those this broker hosts; unknown topics
        // and partitions are left out.
        let named = vec![
            DescribableLogDirTopic::default()
                .with_topic(name("dirs"))
                .with_partitions(vec![0, 1, 2, 9]),
            DescribableLogDirTopic::default()
                .with_topic(name("nope"))
                .with_partitions(vec![0]),
        ];
        let (seen, _) = log_dir(&client, broker, Some(named)).await;
        let dirs_only: BTreeMap<_, _> = expected
            .clone()
            .into_iter()
            .filter(|((t, _), _)| t == "dirs")
            .collect();
        assert_eq!(seen, dirs_only, "broker {broker}");
        assert_eq!(
            log_dir(&client, broker, Some(vec![])).await.0,
            BTreeMap::new()
        );
    }
    client.close(Duration::from_secs(5)).await;
}

/// (topic, partition, error code, has a message) per result.
fn results(resp: &ElectLeadersResponse) -> Vec<(String, i32, ErrorCode, bool)> {
    assert_eq!(resp.throttle_time_ms, 0);
    resp.replica_election_results
        .iter()
        .flat_map(|t| {
            t.partition_result.iter().map(|p| {
                (
                    t.topic.to_string(),
                    p.partition_id,
                    ErrorCode(p.error_code),
                    p.error_message.is_some(),
                )
            })
        })
        .collect()
}

fn elect(election_type: i8, partitions: Option<&[(&str, &[i32])]>) -> ElectLeadersRequest {
    ElectLeadersRequest::default()
        .with_election_type(election_type)
        .with_timeout_ms(10_000)
        .with_topic_partitions(partitions.map(|ps| {
            ps.iter()
                .map(|(t, p)| {
                    TopicPartitions::default()
                        .with_topic(name(t))
                        .with_partitions(p.to_vec())
                })
                .collect()
        }))
}

const PREFERRED: i8 = 0;
const UNCLEAN: i8 = 1;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preferred_elections_move_leaders_back_to_the_first_replica() {
    let cluster = MockCluster::new(3).await.unwrap();
    cluster.create_topic("elect", 3).unwrap();
    let client = client(&cluster).await;
    let placement = replicas(&client, "elect").await;
    let preferred = |p: usize| placement[p][0];
    for p in 0..3 {
        assert_eq!(cluster.leader("elect", p as i32), Some(preferred(p)));
    }
    let away = |p: usize| placement[p][1];
    assert!(cluster.set_leader("elect", 0, away(0)));
    assert!(cluster.set_leader("elect", 2, away(2)));

    // Named partitions: moved, not needed, unknown.
    let resp = client
        .send_to(
            2,
            elect(PREFERRED, Some(&[("elect", &[0, 1, 9]), ("ghost", &[0])])),
        )
        .await
        .unwrap();
    assert_eq!(resp.error_code, 0);
    assert_eq!(
        results(&resp),
        [
            ("elect".into(), 0, ErrorCode(0), false),
            ("elect".into(), 1, ErrorCode::ELECTION_NOT_NEEDED, true),
            (
                "elect".into(),
                9,
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                true
            ),
            (
                "ghost".into(),
                0,
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                true
            ),
        ]
    );
    assert_eq!(cluster.leader("elect", 0), Some(preferred(0)));
    assert_eq!(cluster.leader("elect", 2), Some(away(2)), "not asked");

    // Every partition (null list): only the ones elected are answered.
    let resp = client.send_to(1, elect(PREFERRED, None)).await.unwrap();
    assert_eq!(results(&resp), [("elect".into(), 2, ErrorCode(0), false)]);
    assert_eq!(cluster.leader("elect", 2), Some(preferred(2)));
    let resp = client.send_to(3, elect(PREFERRED, None)).await.unwrap();
    assert_eq!(results(&resp), []);

    // The preferred replica down: it cannot lead; an unclean election is
    // not needed while a leader is up.
    cluster.stop_broker(preferred(0));
    let up = *cluster
        .broker_ids()
        .iter()
        .find(|b| **b != preferred(0))
        .unwrap();
    let resp = client
        .send_to(up, elect(PREFERRED, Some(&[("elect", &[0])])))
        .await
        .unwrap();
    assert_eq!(
        results(&resp),
        [(
            "elect".into(),
            0,
            ErrorCode::PREFERRED_LEADER_NOT_AVAILABLE,
            true
        )]
    );
    let resp = client
        .send_to(up, elect(UNCLEAN, Some(&[("elect", &[0])])))
        .await
        .unwrap();
    assert_eq!(
        results(&resp),
        [("elect".into(), 0, ErrorCode::ELECTION_NOT_NEEDED, true)]
    );
    // Back up, it does not take the lead by itself; the election gives it.
    cluster.start_broker(preferred(0)).await.unwrap();
    assert_ne!(cluster.leader("elect", 0), Some(preferred(0)));
    let resp = client
        .send_to(up, elect(PREFERRED, Some(&[("elect", &[0])])))
        .await
        .unwrap();
    assert_eq!(results(&resp), [("elect".into(), 0, ErrorCode(0), false)]);
    assert_eq!(cluster.leader("elect", 0), Some(preferred(0)));

    // kafkit's producer follows the moved leaders.
    let producer: Producer<String, String> = Producer::builder(&client).build().unwrap();
    for p in 0..3 {
        let r = ProducerRecord::new("elect", "after".to_owned()).partition(p);
        producer.send(r).await.unwrap();
    }
    producer.close(Duration::from_secs(5)).await.unwrap();

    // An election type Kafka does not know.
    let resp = client.send_to(1, elect(5, None)).await.unwrap();
    assert_eq!(ErrorCode(resp.error_code), ErrorCode::INVALID_REQUEST);
    client.close(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unclean_election_needs_a_live_replica() {
    let cluster = MockCluster::builder()
        .brokers(2)
        .replication_factor(1)
        .build()
        .await
        .unwrap();
    cluster.create_topic("solo", 2).unwrap();
    let client = client(&cluster).await;
    let placement = replicas(&client, "solo").await;
    let lone = placement[1][0];
    let other = placement[0][0];
    assert_ne!(lone, other);
    cluster.stop_broker(lone);
    assert_eq!(cluster.leader("solo", 1), Some(-1));
    let resp = client
        .send_to(other, elect(UNCLEAN, Some(&[("solo", &[0, 1])])))
        .await
        .unwrap();
    assert_eq!(
        results(&resp),
        [
            ("solo".into(), 0, ErrorCode::ELECTION_NOT_NEEDED, true),
            (
                "solo".into(),
                1,
                ErrorCode::ELIGIBLE_LEADERS_NOT_AVAILABLE,
                true
            ),
        ]
    );
    let resp = client
        .send_to(other, elect(PREFERRED, Some(&[("solo", &[1])])))
        .await
        .unwrap();
    assert_eq!(
        results(&resp),
        [(
            "solo".into(),
            1,
            ErrorCode::PREFERRED_LEADER_NOT_AVAILABLE,
            true
        )]
    );
    client.close(Duration::from_secs(5)).await;
}
