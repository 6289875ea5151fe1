//! Admin calls, Metadata and group offsets answered per resource.

use std::collections::BTreeMap;
use std::time::Duration;

use kafkit::ErrorCode;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_calls_and_group_offsets_are_answered_per_resource() {
    use kafkit::Admin;
    use kafkit::admin::NewTopic;
    use kafkit::protocol::messages::metadata_request::MetadataRequestTopic;
    use kafkit::protocol::messages::offset_commit_request::{
        OffsetCommitRequestPartition, OffsetCommitRequestTopic,
    };
    use kafkit::protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
    use kafkit::protocol::messages::{
        DescribeClusterRequest, DescribeGroupsRequest, GroupId, MetadataRequest,
        OffsetCommitRequest, OffsetFetchRequest, TopicName,
    };

    let cluster = acl_cluster().await;
    for t in ["public", "secret"] {
        cluster.create_topic(t, 1).unwrap();
    }
    let admin = client(&cluster, "admin").await;
    let alice = client(&cluster, "alice").await;
    grant(
        &cluster,
        &admin,
        &[
            acl(TOPIC, "public", LITERAL, "User:alice", READ, ALLOW),
            acl(TOPIC, "alice-", PREFIXED, "User:alice", ALL, ALLOW),
            acl(GROUP, "g", LITERAL, "User:alice", READ, ALLOW),
        ],
    )
    .await;

    // Metadata: a full listing leaves "secret" out; named, it is refused
    // whether it exists or not.
    let a = Admin::new(&alice);
    let listed: Vec<String> = a
        .list_topics()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(listed, ["public"]);
    let described = a
        .describe_topics(&["public", "secret", "no-such"])
        .await
        .unwrap();
    let codes: Vec<Option<ErrorCode>> = described
        .iter()
        .map(|(_, r)| r.as_ref().err().and_then(|e| e.code()))
        .collect();
    assert_eq!(
        codes,
        [
            None,
            Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED),
            Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED),
        ]
    );
    // CreateTopics and DeleteTopics: per topic.
    let created = a
        .create_topics([
            NewTopic::new("alice-new", 1, 1),
            NewTopic::new("bob-new", 1, 1),
        ])
        .await
        .unwrap();
    let codes: Vec<Option<ErrorCode>> = created
        .iter()
        .map(|(_, r)| r.as_ref().err().and_then(|e| e.code()))
        .collect();
    assert_eq!(codes, [None, Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED)]);
    let deleted = a.delete_topics(&["alice-new", "public"]).await.unwrap();
    let codes: Vec<Option<ErrorCode>> = deleted
        .iter()
        .map(|(_, r)| r.as_ref().err().and_then(|e| e.code()))
        .collect();
    assert_eq!(codes, [None, Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED)]);

    // The admin commits offsets for both topics to group "g".
    let coordinator = cluster.group_coordinator("g").unwrap();
    let commit = |topics: &[&str]| {
        OffsetCommitRequest::default()
            .with_group_id(GroupId(s("g")))
            .with_generation_id_or_member_epoch(-1)
            .with_member_id(s(""))
            .with_topics(
                topics
                    .iter()
                    .map(|t| {
                        OffsetCommitRequestTopic::default()
                            .with_name(TopicName(s(t)))
                            .with_partitions(vec![
                                OffsetCommitRequestPartition::default()
                                    .with_partition_index(0)
                                    .with_committed_offset(7),
                            ])
                    })
                    .collect(),
            )
    };
    let resp = admin
        .send_to(coordinator, commit(&["public", "secret"]))
        .await
        .unwrap();
    let codes: Vec<i16> = resp
        .topics
        .iter()
        .map(|t| t.partitions[0].error_code)
        .collect();
    assert_eq!(codes, [0, 0]);
    // Alice: her topic committed, the other refused, in one answer.
    let resp = alice
        .send_to(coordinator, commit(&["public", "secret"]))
        .await
        .unwrap();
    let codes: Vec<(String, i16)> = resp
        .topics
        .iter()
        .map(|t| (t.name.to_string(), t.partitions[0].error_code))
        .collect();
    assert_eq!(
        codes,
        [
            ("public".to_owned(), 0),
            ("secret".to_owned(), ErrorCode::TOPIC_AUTHORIZATION_FAILED.0)
        ]
    );
    // OffsetFetch: named topics refused per partition, unnamed ones hidden.
    let fetch = |topics: Option<&[&str]>| {
        OffsetFetchRequest::default()
            .with_group_id(GroupId(s("g")))
            .with_topics(topics.map(|ts| {
                ts.iter()
                    .map(|t| {
                        OffsetFetchRequestTopic::default()
                            .with_name(TopicName(s(t)))
                            .with_partition_indexes(vec![0])
                    })
                    .collect()
            }))
    };
    let resp = alice
        .send_to(coordinator, fetch(Some(&["public", "secret"])))
        .await
        .unwrap();
    let rows: Vec<(String, i64, i16)> = resp
        .topics
        .iter()
        .map(|t| {
            (
                t.name.to_string(),
                t.partitions[0].committed_offset,
                t.partitions[0].error_code,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("public".to_owned(), 7, 0),
            (
                "secret".to_owned(),
                -1,
                ErrorCode::TOPIC_AUTHORIZATION_FAILED.0
            )
        ]
    );
    let resp = alice.send_to(coordinator, fetch(None)).await.unwrap();
    let names: Vec<String> = resp.topics.iter().map(|t| t.name.to_string()).collect();
    assert_eq!(names, ["public"]);
    // A group she may not describe.
    let resp = alice
        .send_to(
            coordinator,
            DescribeGroupsRequest::default()
                .with_groups(vec![GroupId(s("g")), GroupId(s("h"))])
                .with_include_authorized_operations(true),
        )
        .await
        .unwrap();
    let codes: BTreeMap<String, (i16, i32)> = resp
        .groups
        .iter()
        .map(|g| {
            (
                g.group_id.to_string(),
                (g.error_code, g.authorized_operations),
            )
        })
        .collect();
    assert_eq!(
        codes["g"],
        (0, bit(READ) | bit(DESCRIBE)),
        "Read implies Describe"
    );
    assert_eq!(codes["h"].0, ErrorCode::GROUP_AUTHORIZATION_FAILED.0);

    // Authorized operations, when asked for: hers on a topic (Read implies
    // Describe; ALL is every topic operation), none on the cluster.
    let resp = alice
        .send_to(
            coordinator,
            MetadataRequest::default()
                .with_topics(Some(
                    ["public", "alice-x"]
                        .iter()
                        .map(|t| MetadataRequestTopic::default().with_name(Some(TopicName(s(t)))))
                        .collect(),
                ))
                .with_allow_auto_topic_creation(true)
                .with_include_topic_authorized_operations(true),
        )
        .await
        .unwrap();
    let ops: Vec<(String, i32)> = resp
        .topics
        .iter()
        .map(|t| {
            (
                t.name.as_ref().unwrap().to_string(),
                t.topic_authorized_operations,
            )
        })
        .collect();
    let every_topic_op = [READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, 10, 11]
        .iter()
        .fold(0, |b, &op| b | bit(op));
    assert_eq!(
        ops,
        [
            ("public".to_owned(), bit(READ) | bit(DESCRIBE)),
            ("alice-x".to_owned(), every_topic_op),
        ],
        "alice-x auto-created: Create on the topic"
    );
    let resp = alice
        .send_to(
            coordinator,
            DescribeClusterRequest::default().with_include_cluster_authorized_operations(true),
        )
        .await
        .unwrap();
    assert_eq!(resp.cluster_authorized_operations, 0);
    let resp = admin
        .send_to(
            coordinator,
            DescribeClusterRequest::default().with_include_cluster_authorized_operations(true),
        )
        .await
        .unwrap();
    let every_cluster_op = [CREATE, 9, 10, 11, 12, ALTER, DESCRIBE]
        .iter()
        .fold(0, |b, &op| b | bit(op));
    assert_eq!(
        resp.cluster_authorized_operations, every_cluster_op,
        "super user"
    );
    alice.close(Duration::from_secs(5)).await;
    admin.close(Duration::from_secs(5)).await;
}
