//! The admin client (`kafkit::Admin`) end to end: topics, partitions,
//! configs, consumer groups and offset resets on the embedded cluster
//! (which hosts every API used here), with librdkafka as the independent
//! witness of what kafkit's admin wrote and as the writer of what it
//! reads; the group calls Tansu hosts also run on Tansu.

#![cfg(feature = "mock")]

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use kafkit::admin::{
    AlterConfigOp, ConfigResource, ConfigSource, NewPartitions, NewTopic, OffsetSpec, ResetTo,
};
use kafkit::consumer::{Consumer, OffsetAndMetadata, OffsetReset};
use kafkit::mock::MockCluster;
use kafkit::producer::{Producer, ProducerRecord};
use kafkit::{Admin, Client, Error, ErrorCode, TopicPartition};
use rdkafka::consumer::{BaseConsumer, Consumer as _};

async fn client(bootstrap: &str) -> Client {
    Client::builder(bootstrap)
        .request_timeout(Duration::from_secs(15))
        .build()
        .await
        .unwrap()
}

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition::new(topic, partition)
}

/// Produces `per_partition` records to each partition of `topic`, record
/// `i` of a partition with timestamp `base_ts + i`.
async fn produce(client: &Client, topic: &str, partitions: i32, per_partition: i64, base_ts: i64) {
    let producer: Producer<String, String> = Producer::builder(client).build().unwrap();
    let mut acks = Vec::new();
    for p in 0..partitions {
        for i in 0..per_partition {
            let r = ProducerRecord::new(topic, format!("{p}-{i}"))
                .partition(p)
                .timestamp(base_ts + i);
            acks.push(producer.enqueue(r).await.unwrap());
        }
    }
    producer.flush().await;
    for a in acks {
        a.await.unwrap();
    }
    producer.close(Duration::from_secs(5)).await.unwrap();
}

/// The offsets librdkafka sees committed for `group` on `partitions`.
async fn committed_by_librdkafka(
    bootstrap: &str,
    group: &str,
    topic: &str,
    partitions: i32,
) -> BTreeMap<i32, i64> {
    let (bootstrap, group, topic) = (bootstrap.to_owned(), group.to_owned(), topic.to_owned());
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("group.id", &group)
            .create()
            .unwrap();
        let mut list = rdkafka::TopicPartitionList::new();
        for p in 0..partitions {
            list.add_partition(&topic, p);
        }
        let got = consumer
            .committed_offsets(list, Duration::from_secs(10))
            .unwrap();
        got.elements()
            .iter()
            .filter_map(|e| match e.offset() {
                rdkafka::Offset::Offset(o) => Some((e.partition(), o)),
                _ => None,
            })
            .collect()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_configs_are_described_and_altered_incrementally_and_librdkafka_agrees() {
    use rdkafka::admin::{AdminClient, AdminOptions, AlterConfig, ResourceSpecifier};
    let cluster = MockCluster::new(3).await.unwrap();
    let bootstrap = cluster.bootstrap_servers();
    let admin = Admin::new(&client(&bootstrap).await);
    admin
        .create_topics([NewTopic::new("configured", 2, 1).with_config("retention.ms", "1000")])
        .await
        .unwrap()[0]
        .1
        .as_ref()
        .unwrap();
    let topic = ConfigResource::Topic("configured".into());
    let missing = ConfigResource::Topic("no-such-topic".into());
    let described = admin
        .describe_configs(&[topic.clone(), missing.clone()])
        .await
        .unwrap();
    let entries = described[0].1.as_ref().unwrap();
    let retention = entries.iter().find(|e| e.name == "retention.ms").unwrap();
    assert_eq!(retention.value.as_deref(), Some("1000"));
    assert_eq!(retention.source, ConfigSource::DynamicTopicConfig);
    let policy = entries.iter().find(|e| e.name == "cleanup.policy").unwrap();
    assert!(policy.is_default(), "{policy:?}");
    // The unknown topic fails alone, naming itself.
    let err = described[1].1.as_ref().unwrap_err();
    assert_eq!(
        err.code(),
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
        "{err}"
    );
    assert!(err.to_string().contains("no-such-topic"), "{err}");

    // validate_only changes nothing.
    let checked = admin
        .incremental_alter_configs(
            &[(
                topic.clone(),
                vec![AlterConfigOp::Set("retention.ms".into(), "5".into())],
            )],
            true,
        )
        .await
        .unwrap();
    checked[0].1.as_ref().unwrap();
    // SET, APPEND and DELETE in one call; an unknown config on another
    // resource fails only that resource.
    let altered = admin
        .incremental_alter_configs(
            &[
                (
                    topic.clone(),
                    vec![
                        AlterConfigOp::Set("max.message.bytes".into(), "4000".into()),
                        AlterConfigOp::Append("cleanup.policy".into(), "compact".into()),
                        AlterConfigOp::Delete("retention.ms".into()),
                    ],
                ),
                (
                    missing.clone(),
                    vec![AlterConfigOp::Delete("retention.ms".into())],
                ),
            ],
            false,
        )
        .await
        .unwrap();
    altered[0].1.as_ref().unwrap();
    assert!(altered[1].1.is_err());

    // librdkafka reads what kafkit's admin wrote.
    let rd: AdminClient<rdkafka::client::DefaultClientContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .unwrap();
    let opts = AdminOptions::new().request_timeout(Some(Duration::from_secs(10)));
    let seen = rd
        .describe_configs(&[ResourceSpecifier::Topic("configured")], &opts)
        .await
        .unwrap();
    let seen = seen[0].as_ref().unwrap();
    assert_eq!(
        seen.get("max.message.bytes").unwrap().value.as_deref(),
        Some("4000")
    );
    assert_eq!(
        seen.get("cleanup.policy").unwrap().value.as_deref(),
        Some("delete,compact")
    );
    assert_eq!(
        seen.get("retention.ms").unwrap().source,
        rdkafka::admin::ConfigSource::Default
    );

    // And kafkit reads what librdkafka wrote.
    rd.alter_configs(
        &[
            AlterConfig::new(ResourceSpecifier::Topic("configured"))
                .set("segment.bytes", "2000000"),
        ],
        &opts,
    )
    .await
    .unwrap();
    let described = admin.describe_configs(&[topic]).await.unwrap();
    let entries = described[0].1.as_ref().unwrap();
    let segment = entries.iter().find(|e| e.name == "segment.bytes").unwrap();
    assert_eq!(segment.value.as_deref(), Some("2000000"));

    // Broker configs go to that broker and come back read-only here.
    let described = admin
        .describe_configs(&[ConfigResource::Broker(1)])
        .await
        .unwrap();
    let entries = described[0].1.as_ref().unwrap();
    assert!(
        entries.iter().any(|e| e.name == "num.partitions"),
        "{entries:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_partitions_and_records_are_managed_and_librdkafka_sees_the_result() {
    let cluster = MockCluster::new(3).await.unwrap();
    let bootstrap = cluster.bootstrap_servers();
    let client = client(&bootstrap).await;
    let admin = Admin::new(&client);

    // validate_only creates nothing.
    admin
        .validate_create_topics([NewTopic::new("checked", 3, 1)])
        .await
        .unwrap()[0]
        .1
        .as_ref()
        .unwrap();
    assert!(
        admin
            .list_topics()
            .await
            .unwrap()
            .iter()
            .all(|t| t.name != "checked")
    );

    // Explicit placement: the preferred leader is the first broker listed.
    let placed = admin
        .create_topics([NewTopic::with_replica_assignment(
            "placed",
            vec![vec![2], vec![3]],
        )])
        .await
        .unwrap();
    placed[0].1.as_ref().unwrap();
    let described = admin.describe_topics(&["placed"]).await.unwrap();
    let t = described[0].1.as_ref().unwrap();
    assert_eq!(t.partitions.len(), 2);
    assert_eq!(t.partitions[0].leader, Some(2));
    assert_eq!(t.partitions[1].leader, Some(3));

    // Grow one topic; shrinking another fails only that topic.
    admin
        .create_topics([NewTopic::new("grown", 2, 1)])
        .await
        .unwrap()[0]
        .1
        .as_ref()
        .unwrap();
    let grown = admin
        .create_partitions(
            &[
                NewPartitions::increase_to("grown", 5),
                NewPartitions::increase_to("placed", 1),
            ],
            false,
        )
        .await
        .unwrap();
    grown[0].1.as_ref().unwrap();
    assert_eq!(
        grown[1].1.as_ref().unwrap_err().code(),
        Some(ErrorCode::INVALID_PARTITIONS)
    );
    // librdkafka sees five partitions, and reads what follows.
    produce(&client, "grown", 5, 10, 1_000).await;
    let read =
        support::consume_with_rdkafka(&bootstrap, "grown", 50, Duration::from_secs(20)).await;
    assert_eq!(read.len(), 50);
    assert_eq!(read.iter().map(|r| r.partition).max(), Some(4));

    // Delete records before offset 4 of partition 0 and all of partition 1.
    let deleted = admin
        .delete_records(&[
            (tp("grown", 0), 4),
            (tp("grown", 1), -1),
            (tp("grown", 9), 1),
        ])
        .await
        .unwrap();
    assert_eq!(*deleted[0].1.as_ref().unwrap(), 4);
    assert_eq!(*deleted[1].1.as_ref().unwrap(), 10);
    assert_eq!(
        deleted[2].1.as_ref().unwrap_err().code(),
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
    );
    let earliest = admin
        .list_offsets(
            &[("grown", 0), ("grown", 1), ("grown", 2)],
            OffsetSpec::Earliest,
        )
        .await
        .unwrap();
    let starts: Vec<i64> = earliest
        .iter()
        .map(|(_, r)| r.as_ref().unwrap().offset)
        .collect();
    assert_eq!(starts, vec![4, 10, 0]);
    let read =
        support::consume_with_rdkafka(&bootstrap, "grown", 36, Duration::from_secs(20)).await;
    assert_eq!(read.len(), 36, "librdkafka reads only what is left");
    assert!(
        read.iter()
            .filter(|r| r.partition == 0)
            .all(|r| r.offset >= 4)
    );

    // Delete by topic id.
    let listing = admin.list_topics().await.unwrap();
    let id = listing
        .iter()
        .find(|t| t.name == "placed")
        .unwrap()
        .topic_id;
    let deleted = admin.delete_topics_by_id(&[id, [7; 16]]).await.unwrap();
    deleted[0].1.as_ref().unwrap();
    assert_eq!(
        deleted[1].1.as_ref().unwrap_err().code(),
        Some(ErrorCode::UNKNOWN_TOPIC_ID)
    );
    assert!(
        admin
            .list_topics()
            .await
            .unwrap()
            .iter()
            .all(|t| t.name != "placed")
    );
}

fn member(client: &Client, group: &str, instance: Option<&str>) -> Consumer<String, String> {
    let mut b = Consumer::builder(client)
        .group_id(group)
        .auto_offset_reset(OffsetReset::Earliest)
        .session_timeout(Duration::from_secs(6))
        .heartbeat_interval(Duration::from_millis(500))
        .enable_auto_commit(false)
        .fetch_max_wait(Duration::from_millis(100));
    if let Some(id) = instance {
        b = b.group_instance_id(id);
    }
    b.build().unwrap()
}

/// Polls until the consumer has an assignment.
async fn until_assigned(c: &Consumer<String, String>) {
    for _ in 0..200 {
        let _ = c.poll(Duration::from_millis(100)).await;
        if !c.assignment().is_empty() {
            return;
        }
    }
    panic!("no assignment within 20 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_are_listed_described_and_deleted_on_every_broker_that_hosts_them() {
    for broker in support::brokers().await {
        if broker.kind() == support::BrokerKind::Mock {
            continue; // librdkafka's mock cluster hosts no admin group calls.
        }
        eprintln!("== against {broker}");
        let bootstrap = broker.bootstrap();
        let topic = support::unique_topic("admin-groups");
        broker.create_topic(&topic, 4).await;
        let client = client(&bootstrap).await;
        let admin = Admin::new(&client);
        let group = support::unique_topic("described");
        let member_client = Client::builder(&bootstrap)
            .client_id("member-a")
            .build()
            .await
            .unwrap();
        let a = member(&member_client, &group, Some("a"));
        a.subscribe([topic.as_str()]).unwrap();
        until_assigned(&a).await;
        a.commit_offsets(BTreeMap::from([(tp(&topic, 0), OffsetAndMetadata::new(0))]))
            .await
            .unwrap();

        let listed = admin.list_consumer_groups(&[], &[]).await.unwrap();
        assert!(listed.errors.is_empty(), "{:?}", listed.errors);
        let g = listed.groups.iter().find(|g| g.group_id == group).unwrap();
        assert_eq!(g.protocol_type, "consumer");
        let described = admin.describe_consumer_groups(&[&group]).await.unwrap();
        let d = described[0].1.as_ref().unwrap();
        assert_eq!(d.state, "Stable");
        assert_eq!(d.members.len(), 1);
        let m = &d.members[0];
        // Tansu's DescribeGroups leaves out the group.instance.id, client
        // id, host and assignment of each member.
        if broker.kind() != support::BrokerKind::Tansu {
            assert_eq!(m.group_instance_id.as_deref(), Some("a"));
            assert_eq!(m.client_id, "member-a");
            assert_eq!(m.assignment.len(), 4, "{m:?}");
        }

        if broker.kind() == support::BrokerKind::Tansu {
            // Tansu answers DeleteGroups of a group with members with
            // success: the rest is Kafka behaviour it lacks.
            a.close(Duration::from_secs(5)).await;
            continue;
        }
        // Deleting a group with members is refused.
        let refused = admin.delete_consumer_groups(&[&group]).await.unwrap();
        let err = refused[0].1.as_ref().unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::NON_EMPTY_GROUP), "{err}");
        assert!(err.to_string().contains(&group), "{err}");

        // A static member does not leave on close (its session keeps its
        // partitions): remove it, and the group can go.
        a.close(Duration::from_secs(5)).await;
        admin
            .remove_members_from_consumer_group(&group, &["a"])
            .await
            .unwrap()[0]
            .1
            .as_ref()
            .unwrap();
        let deleted = admin
            .delete_consumer_groups(&[&group, "never-existed"])
            .await
            .unwrap();
        deleted[0].1.as_ref().unwrap();
        assert_eq!(
            deleted[1].1.as_ref().unwrap_err().code(),
            Some(ErrorCode::GROUP_ID_NOT_FOUND)
        );
        assert!(
            admin
                .list_consumer_group_offsets(&group)
                .await
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_member_is_removed_by_its_instance_id() {
    let cluster = MockCluster::new(1).await.unwrap();
    cluster.create_topic("static", 2).unwrap();
    let client = client(&cluster.bootstrap_servers()).await;
    let admin = Admin::new(&client);
    let a = member(&client, "static-group", Some("pod-0"));
    a.subscribe(["static"]).unwrap();
    until_assigned(&a).await;
    let removed = admin
        .remove_members_from_consumer_group("static-group", &["pod-0", "pod-9"])
        .await
        .unwrap();
    removed[0].1.as_ref().unwrap();
    assert_eq!(
        removed[1].1.as_ref().unwrap_err().code(),
        Some(ErrorCode::UNKNOWN_MEMBER_ID)
    );
    let described = admin
        .describe_consumer_groups(&["static-group"])
        .await
        .unwrap();
    let d = described[0].1.as_ref().unwrap();
    assert!(
        d.members
            .iter()
            .all(|m| m.group_instance_id.as_deref() != Some("pod-0")),
        "{d:?}"
    );
    a.close(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_altered_and_deleted_by_the_admin_are_what_librdkafka_reads() {
    let cluster = MockCluster::new(3).await.unwrap();
    let bootstrap = cluster.bootstrap_servers();
    cluster.create_topic("altered", 3).unwrap();
    let client = client(&bootstrap).await;
    let admin = Admin::new(&client);
    let offsets = BTreeMap::from([
        (tp("altered", 0), OffsetAndMetadata::new(5)),
        (tp("altered", 1), OffsetAndMetadata::new(7)),
        (tp("altered", 2), OffsetAndMetadata::new(9)),
    ]);
    let done = admin
        .alter_consumer_group_offsets("g-alter", &offsets)
        .await
        .unwrap();
    assert!(done.iter().all(|(_, r)| r.is_ok()), "{done:?}");
    assert_eq!(
        committed_by_librdkafka(&bootstrap, "g-alter", "altered", 3).await,
        BTreeMap::from([(0, 5), (1, 7), (2, 9)])
    );
    let deleted = admin
        .delete_consumer_group_offsets("g-alter", &[tp("altered", 1)])
        .await
        .unwrap();
    deleted[0].1.as_ref().unwrap();
    assert_eq!(
        committed_by_librdkafka(&bootstrap, "g-alter", "altered", 3).await,
        BTreeMap::from([(0, 5), (2, 9)])
    );
    // While a member consumes the topic, its offsets cannot be deleted.
    let a = member(&client, "g-alter", None);
    a.subscribe(["altered"]).unwrap();
    until_assigned(&a).await;
    let refused = admin
        .delete_consumer_group_offsets("g-alter", &[tp("altered", 0)])
        .await
        .unwrap();
    assert_eq!(
        refused[0].1.as_ref().unwrap_err().code(),
        Some(ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC)
    );
    a.close(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reset_mode_plans_the_hand_computed_offsets_and_consumers_start_there() {
    let cluster = MockCluster::new(3).await.unwrap();
    let bootstrap = cluster.bootstrap_servers();
    cluster.create_topic("reset", 2).unwrap();
    let client = client(&bootstrap).await;
    let admin = Admin::new(&client);
    // Ten records per partition; record i has timestamp 1_000 + i.
    produce(&client, "reset", 2, 10, 1_000).await;
    // Partition 0 starts at 2 after a deletion.
    admin.delete_records(&[(tp("reset", 0), 2)]).await.unwrap()[0]
        .1
        .as_ref()
        .unwrap();
    let group = "g-reset";
    let committed = BTreeMap::from([
        (tp("reset", 0), OffsetAndMetadata::new(5)),
        (tp("reset", 1), OffsetAndMetadata::new(6)),
    ]);
    admin
        .alter_consumer_group_offsets(group, &committed)
        .await
        .unwrap();

    let plan = |reset: ResetTo| {
        let admin = admin.clone();
        async move {
            let p = admin.plan_offset_reset(group, &[], &reset).await.unwrap();
            (
                p.offsets.values().copied().collect::<Vec<i64>>(),
                p.adjusted.len(),
            )
        }
    };
    assert_eq!(plan(ResetTo::Earliest).await, (vec![2, 0], 0));
    assert_eq!(plan(ResetTo::Latest).await, (vec![10, 10], 0));
    assert_eq!(plan(ResetTo::Current).await, (vec![5, 6], 0));
    assert_eq!(plan(ResetTo::Offset(3)).await, (vec![3, 3], 0));
    // Out of range: kept within [earliest, latest], with a note each.
    assert_eq!(plan(ResetTo::Offset(1)).await, (vec![2, 1], 1));
    assert_eq!(plan(ResetTo::Offset(50)).await, (vec![10, 10], 2));
    assert_eq!(plan(ResetTo::ShiftBy(-4)).await, (vec![2, 2], 1));
    assert_eq!(plan(ResetTo::ShiftBy(3)).await, (vec![8, 9], 0));
    // Timestamps 1_000 + i: the first record at or after 1_007 is offset 7;
    // before every record is the earliest; after every record is the end.
    assert_eq!(plan(ResetTo::Datetime(1_007)).await, (vec![7, 7], 0));
    assert_eq!(plan(ResetTo::Datetime(0)).await, (vec![2, 0], 0));
    assert_eq!(plan(ResetTo::Datetime(5_000)).await, (vec![10, 10], 0));
    // The records' timestamps are in 1970: any recent duration is past them all.
    assert_eq!(
        plan(ResetTo::ByDuration(Duration::from_secs(3600))).await,
        (vec![10, 10], 0)
    );
    let file = BTreeMap::from([(tp("reset", 0), 4), (tp("reset", 1), 8)]);
    assert_eq!(plan(ResetTo::FromFile(file)).await, (vec![4, 8], 0));
    // Only some partitions.
    let some = admin
        .plan_offset_reset(group, &[tp("reset", 1)], &ResetTo::Earliest)
        .await
        .unwrap();
    assert_eq!(some.offsets, BTreeMap::from([(tp("reset", 1), 0)]));
    // An unknown partition fails the plan, naming it.
    let err = admin
        .plan_offset_reset(group, &[tp("reset", 7)], &ResetTo::Earliest)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("reset-7"), "{err}");
    // Shift-by needs a committed offset to shift.
    let err = admin
        .plan_offset_reset("g-none", &[tp("reset", 0)], &ResetTo::ShiftBy(1))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err}");

    // Execute to offset 4, then a kafkit member and a librdkafka reader of
    // the same group each start exactly there.
    let planned = admin
        .plan_offset_reset(group, &[], &ResetTo::Offset(4))
        .await
        .unwrap();
    let applied = admin.reset_consumer_group_offsets(&planned).await.unwrap();
    assert!(applied.iter().all(|(_, r)| r.is_ok()), "{applied:?}");
    assert_eq!(
        committed_by_librdkafka(&bootstrap, group, "reset", 2).await,
        BTreeMap::from([(0, 4), (1, 4)])
    );
    let a = member(&client, group, None);
    a.subscribe(["reset"]).unwrap();
    let mut first: BTreeMap<i32, i64> = BTreeMap::new();
    let mut seen = 0;
    for _ in 0..200 {
        for r in a.poll(Duration::from_millis(100)).await.unwrap().iter() {
            first.entry(r.partition).or_insert(r.offset);
            seen += 1;
        }
        if seen >= 12 {
            break;
        }
    }
    assert_eq!(first, BTreeMap::from([(0, 4), (1, 4)]));
    assert_eq!(seen, 12);

    // While the member is in the group, resets are refused, naming the group.
    let err = admin
        .plan_offset_reset(group, &[], &ResetTo::Earliest)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err}");
    assert!(err.to_string().contains("group=g-reset"), "{err}");
    assert!(err.to_string().contains("Stable"), "{err}");
    let err = admin
        .reset_consumer_group_offsets(&planned)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err}");
    a.close(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_features_and_every_brokers_api_versions_are_described() {
    let cluster = MockCluster::new(3).await.unwrap();
    let admin = Admin::new(&client(&cluster.bootstrap_servers()).await);
    let description = admin.describe_cluster().await.unwrap();
    let ids: Vec<i32> = description.brokers.iter().map(|b| b.id).collect();
    assert_eq!(ids, vec![1, 2, 3]);
    let versions = admin.broker_api_versions(&ids).await.unwrap();
    for (id, v) in versions {
        let v = v.unwrap();
        assert_eq!(v.broker, id);
        assert_eq!(v.apis.get(&0), Some(&("Produce", 3, 11)), "{v:?}");
    }
    let unknown = admin.broker_api_versions(&[99]).await.unwrap();
    assert!(unknown[0].1.is_err());
    // The embedded cluster finalizes no features; the call still answers.
    admin.describe_features().await.unwrap();
}
