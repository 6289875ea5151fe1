//! kafkit's producer, consumer, group member and transactional producer
//! refused with Kafka's typed errors until granted.

use std::collections::BTreeMap;
use std::time::Duration;

use kafkit::consumer::{Consumer, GroupMetadata, OffsetAndMetadata, OffsetReset};
use kafkit::producer::{Producer, ProducerRecord, TransactionalProducer};
use kafkit::{ErrorCode, TopicPartition};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafkit_clients_are_refused_until_granted() {
    let cluster = acl_cluster().await;
    cluster.create_topic("orders", 3).unwrap();
    let admin = client(&cluster, "admin").await;
    let alice = client(&cluster, "alice").await;

    // The super user writes without any ACL.
    let p = producer(&admin, true);
    for i in 0..30 {
        p.send(ProducerRecord::new("orders", format!("o-{i}")))
            .await
            .unwrap();
    }
    p.close(Duration::from_secs(5)).await.unwrap();
    let hw1 = cluster.partition_log("orders", 1).unwrap().high_watermark;

    // Alice has no ACLs: the ACL APIs need the cluster...
    let (code, _) = describe_acls(&cluster, &alice, (ANY, None, ANY, None, ANY, ANY)).await;
    assert_eq!(code, ErrorCode::CLUSTER_AUTHORIZATION_FAILED.0);
    let codes = create_acls(
        &cluster,
        &alice,
        &[acl(TOPIC, "orders", LITERAL, "User:alice", ALL, ALLOW)],
    )
    .await;
    assert_eq!(codes, [ErrorCode::CLUSTER_AUTHORIZATION_FAILED.0]);

    // ... a producer Describe on the topic (refused at once from the
    // metadata, as Java's producer is, not after `max.block.ms`) ...
    let p = producer(&alice, false);
    let started = tokio::time::Instant::now();
    let e = p
        .send(ProducerRecord::new("orders", "x".to_owned()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED), "{e}");
    assert!(started.elapsed() < Duration::from_secs(10), "{e}");
    drop(p);
    // ... a consumer Read on it ...
    let c: Consumer<String, String> = Consumer::builder(&alice)
        .auto_offset_reset(OffsetReset::Earliest)
        .build()
        .unwrap();
    c.assign((0..3).map(|p| TopicPartition::new("orders", p)))
        .unwrap();
    let e = first_poll_error(&c, Duration::from_secs(15))
        .await
        .expect("a fetch without Read fails");
    assert_eq!(e.code(), Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED), "{e}");
    c.close(Duration::from_secs(5)).await;
    // ... a group member Read on the group ...
    let member: Consumer<String, String> = Consumer::builder(&alice)
        .group_id("alice-group")
        .auto_offset_reset(OffsetReset::Earliest)
        .build()
        .unwrap();
    member.subscribe(["orders"]).unwrap();
    let e = first_poll_error(&member, Duration::from_secs(15))
        .await
        .expect("joining without Read on the group fails");
    assert_eq!(e.code(), Some(ErrorCode::GROUP_AUTHORIZATION_FAILED), "{e}");
    member.close(Duration::from_secs(5)).await;
    // ... and a transactional producer Write on its transactional id.
    let txn: TransactionalProducer<String, String> = Producer::builder(&alice)
        .max_block(Duration::from_secs(10))
        .transactional_id("alice-txn")
        .build()
        .unwrap();
    let e = txn.init_transactions().await.unwrap_err();
    assert_eq!(
        e.code(),
        Some(ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED),
        "{e}"
    );
    txn.close(Duration::from_secs(5)).await.ok();

    // Describe on the topic and the group only: the metadata and the
    // coordinator are hers, but an idempotent producer needs IdempotentWrite
    // or Write on some topic, a plain one Write on the topic (Produce
    // answers per partition), a consumer Read, a member Read on the group
    // (JoinGroup refuses).
    grant(
        &cluster,
        &admin,
        &[
            acl(TOPIC, "orders", LITERAL, "User:alice", DESCRIBE, ALLOW),
            acl(GROUP, "alice-group", LITERAL, "User:alice", DESCRIBE, ALLOW),
        ],
    )
    .await;
    let p = producer(&alice, true);
    let e = tokio::time::timeout(
        Duration::from_secs(30),
        p.send(ProducerRecord::new("orders", "x".to_owned())),
    )
    .await
    // It used to hang: the record was appended after the sender had
    // failed for good on InitProducerId.
    .expect("the send ends")
    .unwrap_err();
    assert_eq!(
        e.code(),
        Some(ErrorCode::CLUSTER_AUTHORIZATION_FAILED),
        "{e}"
    );
    drop(p);
    let p = producer(&alice, false);
    let e = p
        .send(ProducerRecord::new("orders", "x".to_owned()).partition(1))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED), "{e}");
    let ctx = e.context().expect("context");
    assert_eq!(
        (ctx.topic.as_deref(), ctx.partition),
        (Some("orders"), Some(1)),
        "{e}"
    );
    drop(p);
    let c: Consumer<String, String> = Consumer::builder(&alice)
        .auto_offset_reset(OffsetReset::Earliest)
        .build()
        .unwrap();
    c.assign((0..3).map(|p| TopicPartition::new("orders", p)))
        .unwrap();
    let e = first_poll_error(&c, Duration::from_secs(15))
        .await
        .expect("a fetch without Read fails");
    assert_eq!(e.code(), Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED), "{e}");
    c.close(Duration::from_secs(5)).await;
    let member: Consumer<String, String> = Consumer::builder(&alice)
        .group_id("alice-group")
        .auto_offset_reset(OffsetReset::Earliest)
        .build()
        .unwrap();
    member.subscribe(["orders"]).unwrap();
    let e = first_poll_error(&member, Duration::from_secs(15))
        .await
        .expect("JoinGroup without Read on the group fails");
    assert_eq!(e.code(), Some(ErrorCode::GROUP_AUTHORIZATION_FAILED), "{e}");
    let ctx = e.context().expect("context");
    assert_eq!(ctx.api, Some("JoinGroup"), "{e}");
    member.close(Duration::from_secs(5)).await;
    assert_eq!(
        cluster.partition_log("orders", 1).unwrap().high_watermark,
        hw1,
        "nothing written by alice"
    );

    // Granted: Write and Read on the topics starting "ord", Read on her
    // groups, Write on her transactional id.
    grant(
        &cluster,
        &admin,
        &[
            acl(TOPIC, "ord", PREFIXED, "User:alice", WRITE, ALLOW),
            acl(TOPIC, "ord", PREFIXED, "User:alice", READ, ALLOW),
            acl(GROUP, "alice-", PREFIXED, "User:alice", READ, ALLOW),
            acl(
                TRANSACTIONAL_ID,
                "alice-txn",
                LITERAL,
                "User:alice",
                WRITE,
                ALLOW,
            ),
        ],
    )
    .await;

    let p = producer(&alice, true);
    for i in 0..10 {
        p.send(ProducerRecord::new("orders", format!("a-{i}")))
            .await
            .unwrap();
    }
    p.close(Duration::from_secs(5)).await.unwrap();

    let member: Consumer<String, String> = Consumer::builder(&alice)
        .group_id("alice-group")
        .auto_offset_reset(OffsetReset::Earliest)
        .enable_auto_commit(false)
        .build()
        .unwrap();
    member.subscribe(["orders"]).unwrap();
    let got = read(&member, 40).await;
    assert_eq!(got.len(), 40, "every record read by the group member");
    member.commit_sync().await.unwrap();
    let committed = cluster.group_state("alice-group").unwrap();
    assert!(!committed.members.is_empty(), "{committed:?}");
    member.close(Duration::from_secs(5)).await;

    let txn: TransactionalProducer<String, String> = Producer::builder(&alice)
        .max_block(Duration::from_secs(10))
        .transactional_id("alice-txn")
        .build()
        .unwrap();
    txn.init_transactions().await.unwrap();
    txn.begin_transaction().unwrap();
    txn.send(ProducerRecord::new("orders", "t-0".to_owned()))
        .await
        .unwrap();
    let offsets = BTreeMap::from([(TopicPartition::new("orders", 0), OffsetAndMetadata::new(1))]);
    txn.send_offsets_to_transaction(offsets.clone(), &GroupMetadata::new("alice-txn-group"))
        .await
        .unwrap();
    txn.commit_transaction().await.unwrap();
    // A group she may not read: the offsets are refused, typed.
    txn.begin_transaction().unwrap();
    let e = txn
        .send_offsets_to_transaction(offsets, &GroupMetadata::new("bobs-group"))
        .await
        .unwrap_err();
    // Abortable, as in Java, with the broker's error as the cause.
    assert!(e.requires_abort(), "{e}");
    let cause = match &e {
        kafkit::Error::TransactionAbortable { cause: Some(c), .. } => c.code(),
        _ => None,
    };
    assert_eq!(cause, Some(ErrorCode::GROUP_AUTHORIZATION_FAILED), "{e}");
    txn.abort_transaction().await.unwrap();
    txn.close(Duration::from_secs(5)).await.ok();

    // A DENY beats the ALLOW: writing is refused again, reading is not.
    grant(
        &cluster,
        &admin,
        &[acl(TOPIC, "orders", LITERAL, "User:*", WRITE, DENY)],
    )
    .await;
    let p = producer(&alice, false);
    let e = p
        .send(ProducerRecord::new("orders", "x".to_owned()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED), "{e}");
    drop(p);
    let c: Consumer<String, String> = Consumer::builder(&alice)
        .auto_offset_reset(OffsetReset::Earliest)
        .build()
        .unwrap();
    c.assign((0..3).map(|p| TopicPartition::new("orders", p)))
        .unwrap();
    // 30 + 10 records and the committed transaction's one.
    assert_eq!(read(&c, 41).await.len(), 41);
    c.close(Duration::from_secs(5)).await;
    alice.close(Duration::from_secs(5)).await;
    admin.close(Duration::from_secs(5)).await;
}
