//! The admin client's cluster-wide calls on the embedded cluster: SCRAM
//! credentials (a user created through `Admin` logs in, with kafkit and
//! with librdkafka), transactions (listed, described, producers per
//! partition, a hanging transaction found and aborted so a read_committed
//! librdkafka consumer reads past it), log directories and leader
//! elections.

#![cfg(feature = "mock")]

mod support;

use std::time::Duration;

use kafkit::admin::{ElectionType, ScramMechanism, UserScramCredentialAlteration};
use kafkit::mock::MockCluster;
use kafkit::producer::{Producer, ProducerRecord, TransactionalProducer};
use kafkit::sasl::{Credentials, Mechanism, Sasl};
use kafkit::{Admin, Client, ErrorCode, SecurityProtocol, TopicPartition};

async fn plain_client(cluster: &MockCluster) -> Client {
    Client::builder(cluster.bootstrap_servers())
        .request_timeout(Duration::from_secs(10))
        .build()
        .await
        .unwrap()
}

async fn scram_login(cluster: &MockCluster, user: &str, password: &str) -> kafkit::Result<Client> {
    Client::builder(cluster.bootstrap_servers())
        .security_protocol(SecurityProtocol::SaslPlaintext)
        .sasl(Sasl::scram_sha512(Credentials::new(user, password)))
        .build()
        .await
}

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition::new(topic, partition)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_users_created_by_the_admin_log_in_with_kafkit_and_librdkafka() {
    let cluster = MockCluster::builder()
        .brokers(2)
        .sasl_user(Mechanism::ScramSha512, "admin", "admin-secret")
        .build()
        .await
        .unwrap();
    cluster.create_topic("secured", 1).unwrap();
    let admin = Admin::new(
        &scram_login(&cluster, "admin", "admin-secret")
            .await
            .unwrap(),
    );
    let upsert = |user: &str, password: &str, iterations| UserScramCredentialAlteration::Upsert {
        user: user.into(),
        mechanism: ScramMechanism::Sha512,
        iterations,
        password: password.into(),
    };
    // The password never shows in Debug output.
    assert!(!format!("{:?}", upsert("alice", "hunter2-secret", 8192)).contains("hunter2"));
    let done = admin
        .alter_user_scram_credentials(&[upsert("alice", "alice-pw", 8192), upsert("weak", "x", 10)])
        .await
        .unwrap();
    done[0].1.as_ref().unwrap();
    let err = done[1].1.as_ref().unwrap_err();
    assert_eq!(
        err.code(),
        Some(ErrorCode::UNACCEPTABLE_CREDENTIAL),
        "{err}"
    );
    assert!(err.to_string().contains("user=weak"), "{err}");

    let described = admin
        .describe_user_scram_credentials(Some(&["alice", "nobody"]))
        .await
        .unwrap();
    let alice = described[0].1.as_ref().unwrap();
    assert_eq!(
        (alice[0].mechanism, alice[0].iterations),
        (ScramMechanism::Sha512, 8192)
    );
    assert_eq!(
        described[1].1.as_ref().unwrap_err().code(),
        Some(ErrorCode::RESOURCE_NOT_FOUND)
    );
    let all = admin.describe_user_scram_credentials(None).await.unwrap();
    let names: Vec<&str> = all.iter().map(|(u, _)| u.as_str()).collect();
    assert_eq!(names, ["admin", "alice"]);

    // alice logs in with kafkit and writes; librdkafka logs in as alice
    // and reads it back.
    let alice = scram_login(&cluster, "alice", "alice-pw").await.unwrap();
    let producer: Producer<String, String> = Producer::builder(&alice).build().unwrap();
    producer
        .send(ProducerRecord::new("secured", "hello".to_owned()))
        .await
        .unwrap();
    producer.close(Duration::from_secs(5)).await.unwrap();
    let read = support::consume_with_rdkafka_config(
        &cluster.bootstrap_servers(),
        "secured",
        1,
        Duration::from_secs(20),
        &[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            ("sasl.username", "alice"),
            ("sasl.password", "alice-pw"),
        ],
    )
    .await;
    assert_eq!(read.len(), 1);
    assert!(scram_login(&cluster, "alice", "wrong").await.is_err());

    // Rotation: a new password replaces the old; deletion locks her out.
    admin
        .alter_user_scram_credentials(&[upsert("alice", "alice-pw-2", 4096)])
        .await
        .unwrap()[0]
        .1
        .as_ref()
        .unwrap();
    assert!(scram_login(&cluster, "alice", "alice-pw").await.is_err());
    scram_login(&cluster, "alice", "alice-pw-2").await.unwrap();
    let deleted = admin
        .alter_user_scram_credentials(&[UserScramCredentialAlteration::Delete {
            user: "alice".into(),
            mechanism: ScramMechanism::Sha512,
        }])
        .await
        .unwrap();
    deleted[0].1.as_ref().unwrap();
    assert!(scram_login(&cluster, "alice", "alice-pw-2").await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_transaction_is_found_aborted_and_read_committed_consumers_move_past_it() {
    let cluster = MockCluster::new(3).await.unwrap();
    cluster.create_topic("hang", 3).unwrap();
    let client = plain_client(&cluster).await;
    let admin = Admin::new(&client);
    let p: TransactionalProducer<String, String> = TransactionalProducer::builder(&client, "txn-a")
        .transaction_timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    p.init_transactions().await.unwrap();
    p.begin_transaction().unwrap();
    p.send(ProducerRecord::new("hang", "committed".to_owned()).partition(0))
        .await
        .unwrap();
    p.commit_transaction().await.unwrap();
    p.begin_transaction().unwrap();
    let open = p
        .send(ProducerRecord::new("hang", "left-open".to_owned()).partition(2))
        .await
        .unwrap()
        .offset
        .unwrap();

    // Listed at its coordinator, described with its partition.
    let listed = admin.list_transactions(&[], &[], None).await.unwrap();
    assert!(listed.errors.is_empty(), "{:?}", listed.errors);
    let t = listed
        .transactions
        .iter()
        .find(|t| t.transactional_id == "txn-a")
        .unwrap();
    assert_eq!(t.state, "Ongoing");
    let ongoing = admin
        .list_transactions(&["Ongoing"], &[t.producer_id], None)
        .await
        .unwrap();
    assert_eq!(ongoing.transactions.len(), 1);
    let none = admin
        .list_transactions(&["CompleteAbort"], &[], None)
        .await
        .unwrap();
    assert!(
        none.transactions
            .iter()
            .all(|t| t.transactional_id != "txn-a")
    );
    let described = admin
        .describe_transactions(&["txn-a", "txn-unknown"])
        .await
        .unwrap();
    let d = described[0].1.as_ref().unwrap();
    assert_eq!(d.state, "Ongoing");
    assert_eq!(d.partitions, vec![tp("hang", 2)]);
    assert_eq!(d.timeout_ms, 120_000);
    assert!(d.start_time_ms.is_some());
    let err = described[1].1.as_ref().unwrap_err();
    assert_eq!(
        err.code(),
        Some(ErrorCode::TRANSACTIONAL_ID_NOT_FOUND),
        "{err}"
    );
    assert!(
        err.to_string().contains("transactional.id=txn-unknown"),
        "{err}"
    );
    let producers = admin
        .describe_producers(&[tp("hang", 2), tp("hang", 9)])
        .await
        .unwrap();
    let active = producers[0].1.as_ref().unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].producer_id, d.producer_id);
    assert_eq!(active[0].current_transaction_start_offset, Some(open));
    assert_eq!(
        producers[1].1.as_ref().unwrap_err().code(),
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
    );
    let all: Vec<TopicPartition> = (0..3).map(|i| tp("hang", i)).collect();
    assert!(
        admin
            .find_hanging_transactions(&all, Duration::ZERO)
            .await
            .unwrap()
            .is_empty(),
        "an ongoing transaction is not hanging"
    );

    // The coordinator loses it: the log keeps it open and holds back the
    // last stable offset.
    assert!(cluster.forget_transaction("txn-a"));
    let hanging = admin
        .find_hanging_transactions(&all, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(hanging.len(), 1, "{hanging:?}");
    assert_eq!(hanging[0].partition, tp("hang", 2));
    assert_eq!(
        hanging[0].producer.current_transaction_start_offset,
        Some(open)
    );
    // Younger than the largest transaction timeout: not reported yet.
    assert!(
        admin
            .find_hanging_transactions(&all, Duration::from_secs(900))
            .await
            .unwrap()
            .is_empty()
    );
    admin.abort_transaction(&hanging[0]).await.unwrap();
    assert!(
        admin
            .find_hanging_transactions(&all, Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
    let log = cluster.partition_log("hang", 2).unwrap();
    assert_eq!(log.last_stable_offset, log.high_watermark);

    // A read_committed librdkafka consumer reads the committed record and
    // nothing of the aborted one.
    let read = support::consume_with_rdkafka_config(
        &cluster.bootstrap_servers(),
        "hang",
        1,
        Duration::from_secs(20),
        &[("isolation.level", "read_committed")],
    )
    .await;
    let values: Vec<&[u8]> = read.iter().filter_map(|r| r.value.as_deref()).collect();
    assert_eq!(values, [b"committed".as_slice()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_dirs_show_every_replica_and_preferred_elections_move_leaders_back() {
    let cluster = MockCluster::new(3).await.unwrap();
    cluster.create_topic("placed", 3).unwrap();
    let client = plain_client(&cluster).await;
    let admin = Admin::new(&client);
    let producer: Producer<String, String> = Producer::builder(&client).build().unwrap();
    for i in 0..30 {
        producer
            .send(ProducerRecord::new("placed", format!("record-{i}")).partition(i % 3))
            .await
            .unwrap();
    }
    let dirs = admin.describe_log_dirs(&[1, 2, 3]).await.unwrap();
    let mut sizes = 0;
    for (broker, d) in &dirs {
        let d = d.as_ref().unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].path, format!("/mock/broker-{broker}"));
        for (tp, r) in &d[0].replicas {
            if &*tp.topic == "placed" {
                let stored: i64 = cluster
                    .partition_log("placed", tp.partition)
                    .unwrap()
                    .batches
                    .iter()
                    .map(|b| b.size_bytes as i64)
                    .sum();
                assert_eq!(r.size, stored);
                sizes += r.size;
            }
        }
    }
    assert!(sizes > 0);

    // Move a leader away from its preferred replica; elect it back.
    let described = admin.describe_topics(&["placed"]).await.unwrap();
    let p0 = described[0].1.as_ref().unwrap().partitions[0].clone();
    let preferred = p0.replicas[0];
    let other = *p0.replicas.iter().find(|r| **r != preferred).unwrap();
    assert!(cluster.set_leader("placed", 0, other));
    let elected = admin
        .elect_leaders(
            ElectionType::Preferred,
            Some(&[tp("placed", 0), tp("placed", 1)]),
        )
        .await
        .unwrap();
    elected[0].1.as_ref().unwrap();
    assert_eq!(
        elected[1].1.as_ref().unwrap_err().code(),
        Some(ErrorCode::ELECTION_NOT_NEEDED)
    );
    assert_eq!(cluster.leader("placed", 0), Some(preferred));
    // The producer follows the leader back.
    producer
        .send(ProducerRecord::new("placed", "after".to_owned()).partition(0))
        .await
        .unwrap();
    producer.close(Duration::from_secs(5)).await.unwrap();
}

/// librdkafka as alice produces one record; the delivery error, if any.
async fn alice_produces(bootstrap: &str, topic: &str) -> Option<rdkafka::error::KafkaError> {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let p: FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("security.protocol", "SASL_PLAINTEXT")
        .set("sasl.mechanism", "PLAIN")
        .set("sasl.username", "alice")
        .set("sasl.password", "alice-secret")
        .set("message.timeout.ms", "10000")
        .create()
        .unwrap();
    p.send(
        FutureRecord::<(), str>::to(topic).payload("x"),
        Duration::from_secs(15),
    )
    .await
    .err()
    .map(|(e, _)| e)
}

async fn plain_login(cluster: &MockCluster, user: &str, password: &str) -> Client {
    Client::builder(cluster.bootstrap_servers())
        .security_protocol(SecurityProtocol::SaslPlaintext)
        .sasl(Sasl::plain(Credentials::new(user, password)))
        .request_timeout(Duration::from_secs(10))
        .build()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acls_created_by_the_admin_let_librdkafka_in_and_filters_find_and_delete_them() {
    use kafkit::admin::{
        AccessControlEntry, AclBinding, AclBindingFilter, AclOperation, AclPermission, PatternType,
        ResourcePattern, ResourceType,
    };
    let cluster = MockCluster::builder()
        .brokers(2)
        .sasl_user(Mechanism::Plain, "admin", "admin-secret")
        .sasl_user(Mechanism::Plain, "alice", "alice-secret")
        .acls(true)
        .super_user("User:admin")
        .build()
        .await
        .unwrap();
    cluster.create_topic("payments", 2).unwrap();
    cluster.create_topic("payments-eu", 1).unwrap();
    let admin = Admin::new(&plain_login(&cluster, "admin", "admin-secret").await);
    let bootstrap = cluster.bootstrap_servers();
    // alice may not write yet: librdkafka is refused.
    let refused = alice_produces(&bootstrap, "payments").await;
    assert!(refused.is_some(), "librdkafka wrote without an ACL");

    let write = AclBinding {
        pattern: ResourcePattern {
            resource_type: ResourceType::Topic,
            name: "payments".into(),
            pattern_type: PatternType::Prefixed,
        },
        entry: AccessControlEntry {
            principal: "User:alice".into(),
            host: "*".into(),
            operation: AclOperation::Write,
            permission: AclPermission::Allow,
        },
    };
    let read = AclBinding::allow(
        ResourceType::Topic,
        "payments",
        "User:alice",
        AclOperation::Read,
    );
    let group = AclBinding::allow(ResourceType::Group, "*", "User:alice", AclOperation::Read);
    let created = admin
        .create_acls(&[write.clone(), read.clone(), group.clone()])
        .await
        .unwrap();
    assert!(created.iter().all(|(_, r)| r.is_ok()), "{created:?}");
    // librdkafka, as alice, now writes (the prefixed ACL covers payments-eu too).
    for topic in ["payments", "payments-eu"] {
        let err = alice_produces(&bootstrap, topic).await;
        assert!(err.is_none(), "{topic}: {err:?}");
    }

    // Filters: by resource (MATCH finds the prefixed binding that applies),
    // by principal and operation, and everything.
    let all = admin.describe_acls(&AclBindingFilter::any()).await.unwrap();
    assert_eq!(all.len(), 3);
    let applies = admin
        .describe_acls(
            &AclBindingFilter::any()
                .resource(ResourceType::Topic, "payments-eu")
                .pattern_type(PatternType::Match),
        )
        .await
        .unwrap();
    assert_eq!(applies, vec![write.clone()]);
    let reads = admin
        .describe_acls(
            &AclBindingFilter::any()
                .principal("User:alice")
                .operation(AclOperation::Read),
        )
        .await
        .unwrap();
    assert_eq!(reads.len(), 2);
    // alice herself may not describe ACLs.
    let alice = Admin::new(&plain_login(&cluster, "alice", "alice-secret").await);
    // Authorized operations, as the broker reports them per caller.
    let topic = alice.describe_topics(&["payments"]).await.unwrap();
    let ops = topic[0]
        .1
        .as_ref()
        .unwrap()
        .authorized_operations
        .clone()
        .unwrap();
    for op in [
        AclOperation::Read,
        AclOperation::Write,
        AclOperation::Describe,
    ] {
        assert!(ops.contains(&op), "{op:?} missing from {ops:?}");
    }
    assert!(!ops.contains(&AclOperation::Delete), "{ops:?}");
    let cluster_ops = admin
        .describe_cluster()
        .await
        .unwrap()
        .authorized_operations
        .unwrap();
    assert!(
        cluster_ops.contains(&AclOperation::Alter),
        "{cluster_ops:?}"
    );
    let alice_cluster = alice
        .describe_cluster()
        .await
        .unwrap()
        .authorized_operations
        .unwrap();
    assert!(
        !alice_cluster.contains(&AclOperation::Alter),
        "{alice_cluster:?}"
    );
    let err = alice
        .describe_acls(&AclBindingFilter::any())
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(ErrorCode::CLUSTER_AUTHORIZATION_FAILED),
        "{err}"
    );

    let deleted = admin
        .delete_acls(&[
            write.to_filter(),
            AclBindingFilter::any().resource(ResourceType::Group, "*"),
        ])
        .await
        .unwrap();
    assert_eq!(deleted[0].as_ref().unwrap(), &vec![write]);
    assert_eq!(deleted[1].as_ref().unwrap(), &vec![group]);
    assert_eq!(
        admin.describe_acls(&AclBindingFilter::any()).await.unwrap(),
        vec![read]
    );
    let refused = alice_produces(&bootstrap, "payments").await;
    assert!(refused.is_some(), "write allowed after its ACL was deleted");
}
