//! ACLs on kafkit's embedded cluster: an admin super user creates bindings
//! with raw CreateAcls requests; a user without them gets Kafka's typed
//! authorization errors on produce, fetch, group join and transactions,
//! and succeeds once granted; DescribeAcls/DeleteAcls filters (literal,
//! prefixed, match, any) return exactly the expected bindings; librdkafka,
//! an independent client, is refused alike and succeeds once granted.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kafkit::consumer::{Consumer, GroupMetadata, OffsetAndMetadata, OffsetReset};
use kafkit::mock::MockCluster;
use kafkit::producer::{Producer, ProducerRecord, TransactionalProducer};
use kafkit::protocol::StrBytes;
use kafkit::protocol::messages::create_acls_request::AclCreation;
use kafkit::protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafkit::protocol::messages::{CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest};
use kafkit::sasl::{Credentials, Mechanism, Sasl};
use kafkit::{Client, ErrorCode, SecurityProtocol, TopicPartition};

// Kafka's codes for resource types, pattern types, operations, permissions.
const ANY: i8 = 1;
const TOPIC: i8 = 2;
const GROUP: i8 = 3;
const CLUSTER: i8 = 4;
const TRANSACTIONAL_ID: i8 = 5;
const MATCH: i8 = 2;
const LITERAL: i8 = 3;
const PREFIXED: i8 = 4;
const ALL: i8 = 2;
const READ: i8 = 3;
const WRITE: i8 = 4;
const DESCRIBE: i8 = 8;
const DENY: i8 = 2;
const ALLOW: i8 = 3;

/// (resource type, name, pattern type, principal, operation, permission),
/// host `*`.
type Acl = (i8, String, i8, String, i8, i8);

fn acl(rt: i8, name: &str, pattern: i8, principal: &str, op: i8, perm: i8) -> Acl {
    (rt, name.into(), pattern, principal.into(), op, perm)
}

/// (resource type, name, pattern type, principal, operation, permission);
/// `None` matches any.
type Filter<'a> = (i8, Option<&'a str>, i8, Option<&'a str>, i8, i8);

/// A SASL/PLAIN cluster with ACLs on: `admin` a super user, `alice` and
/// `bob` ordinary users.
async fn acl_cluster() -> MockCluster {
    MockCluster::builder()
        .brokers(3)
        .sasl_user(Mechanism::Plain, "admin", "admin-secret")
        .sasl_user(Mechanism::Plain, "alice", "alice-secret")
        .sasl_user(Mechanism::Plain, "bob", "bob-secret")
        .acls(true)
        .super_user("User:admin")
        .build()
        .await
        .unwrap()
}

async fn client(cluster: &MockCluster, user: &str) -> Client {
    Client::builder(cluster.bootstrap_servers())
        .security_protocol(SecurityProtocol::SaslPlaintext)
        .sasl(Sasl::plain(Credentials::new(
            user,
            format!("{user}-secret"),
        )))
        .request_timeout(Duration::from_secs(10))
        .build()
        .await
        .unwrap()
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_owned())
}

/// Any broker will do: the ACLs are the cluster's.
fn broker(cluster: &MockCluster) -> i32 {
    cluster.broker_ids()[0]
}

/// CreateAcls; the error code of each creation.
async fn create_acls(cluster: &MockCluster, client: &Client, acls: &[Acl]) -> Vec<i16> {
    let creations = acls
        .iter()
        .map(|(rt, name, pattern, principal, op, perm)| {
            AclCreation::default()
                .with_resource_type(*rt)
                .with_resource_name(s(name))
                .with_resource_pattern_type(*pattern)
                .with_principal(s(principal))
                .with_host(s("*"))
                .with_operation(*op)
                .with_permission_type(*perm)
        })
        .collect();
    let resp = client
        .send_to(
            broker(cluster),
            CreateAclsRequest::default().with_creations(creations),
        )
        .await
        .unwrap();
    resp.results.iter().map(|r| r.error_code).collect()
}

/// Creates the bindings as the admin, every one accepted.
async fn grant(cluster: &MockCluster, admin: &Client, acls: &[Acl]) {
    let codes = create_acls(cluster, admin, acls).await;
    assert_eq!(codes, vec![0; acls.len()], "{acls:?}");
}

/// DescribeAcls; the top-level error code and the bindings, sorted.
async fn describe_acls(
    cluster: &MockCluster,
    client: &Client,
    f: Filter<'_>,
) -> (i16, BTreeSet<Acl>) {
    let req = DescribeAclsRequest::default()
        .with_resource_type_filter(f.0)
        .with_resource_name_filter(f.1.map(s))
        .with_pattern_type_filter(f.2)
        .with_principal_filter(f.3.map(s))
        .with_host_filter(None)
        .with_operation(f.4)
        .with_permission_type(f.5);
    let resp = client.send_to(broker(cluster), req).await.unwrap();
    let found = resp
        .resources
        .iter()
        .flat_map(|r| {
            r.acls.iter().map(|a| {
                assert_eq!(a.host.as_str(), "*");
                (
                    r.resource_type,
                    r.resource_name.to_string(),
                    r.pattern_type,
                    a.principal.to_string(),
                    a.operation,
                    a.permission_type,
                )
            })
        })
        .collect();
    (resp.error_code, found)
}

/// DeleteAcls; per filter, its error code and the bindings it deleted.
async fn delete_acls(
    cluster: &MockCluster,
    client: &Client,
    filters: &[Filter<'_>],
) -> Vec<(i16, BTreeSet<Acl>)> {
    let filters = filters
        .iter()
        .map(|f| {
            DeleteAclsFilter::default()
                .with_resource_type_filter(f.0)
                .with_resource_name_filter(f.1.map(s))
                .with_pattern_type_filter(f.2)
                .with_principal_filter(f.3.map(s))
                .with_host_filter(None)
                .with_operation(f.4)
                .with_permission_type(f.5)
        })
        .collect();
    let resp = client
        .send_to(
            broker(cluster),
            DeleteAclsRequest::default().with_filters(filters),
        )
        .await
        .unwrap();
    resp.filter_results
        .iter()
        .map(|r| {
            let deleted = r
                .matching_acls
                .iter()
                .map(|a| {
                    (
                        a.resource_type,
                        a.resource_name.to_string(),
                        a.pattern_type,
                        a.principal.to_string(),
                        a.operation,
                        a.permission_type,
                    )
                })
                .collect();
            (r.error_code, deleted)
        })
        .collect()
}

fn set(acls: &[Acl]) -> BTreeSet<Acl> {
    acls.iter().cloned().collect()
}

/// A producer that gives up within seconds (authorization errors are not
/// retried, but a wait for metadata would otherwise last `max.block.ms`).
fn producer(client: &Client, idempotent: bool) -> Producer<String, String> {
    Producer::builder(client)
        .enable_idempotence(idempotent)
        .max_block(Duration::from_secs(3))
        .request_timeout(Duration::from_secs(5))
        .delivery_timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Polls until an error comes (or `within` passes) and returns it.
async fn first_poll_error(
    consumer: &Consumer<String, String>,
    within: Duration,
) -> Option<kafkit::Error> {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if let Err(e) = consumer.poll(Duration::from_millis(200)).await {
            return Some(e);
        }
    }
    None
}

/// Polls until `n` records are read.
async fn read(consumer: &Consumer<String, String>, n: usize) -> BTreeSet<String> {
    let mut got = BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while got.len() < n && tokio::time::Instant::now() < deadline {
        for r in &consumer.poll(Duration::from_millis(200)).await.unwrap() {
            got.insert(r.value.clone().unwrap());
        }
    }
    got
}

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

    // ... a producer Describe on the topic (kafkit waits `max.block.ms`
    // for metadata that names the topic, then gives the broker's error) ...
    let p = producer(&alice, false);
    let e = p
        .send(ProducerRecord::new("orders", "x".to_owned()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED), "{e}");
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

    // Describe on the topic only: the metadata is hers, but an idempotent
    // producer needs IdempotentWrite or Write on some topic, a plain one
    // Write on the topic (Produce answers per partition), a consumer Read.
    grant(
        &cluster,
        &admin,
        &[acl(TOPIC, "orders", LITERAL, "User:alice", DESCRIBE, ALLOW)],
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_and_delete_filters_return_exactly_the_matching_bindings() {
    let cluster = acl_cluster().await;
    let admin = client(&cluster, "admin").await;
    let table = [
        acl(TOPIC, "orders", LITERAL, "User:alice", READ, ALLOW),
        acl(TOPIC, "orders", PREFIXED, "User:alice", WRITE, ALLOW),
        acl(TOPIC, "ord", PREFIXED, "User:bob", READ, ALLOW),
        acl(TOPIC, "*", LITERAL, "User:carol", DESCRIBE, ALLOW),
        acl(TOPIC, "payments", LITERAL, "User:alice", READ, DENY),
        acl(GROUP, "orders", LITERAL, "User:alice", READ, ALLOW),
        acl(
            CLUSTER,
            "kafka-cluster",
            LITERAL,
            "User:bob",
            DESCRIBE,
            ALLOW,
        ),
    ];
    grant(&cluster, &admin, &table).await;
    // Creating one again changes nothing; invalid ones are refused.
    grant(&cluster, &admin, &table[..1]).await;
    let codes = create_acls(
        &cluster,
        &admin,
        &[
            acl(TOPIC, "x", MATCH, "User:alice", READ, ALLOW),
            acl(CLUSTER, "other", LITERAL, "User:alice", READ, ALLOW),
            acl(TOPIC, "x", LITERAL, "alice", READ, ALLOW),
            acl(TOPIC, "x", LITERAL, "User:alice", ANY, ALLOW),
        ],
    )
    .await;
    assert_eq!(codes, [ErrorCode::INVALID_REQUEST.0; 4]);

    let (code, all) = describe_acls(&cluster, &admin, (ANY, None, ANY, None, ANY, ANY)).await;
    assert_eq!((code, all), (0, set(&table)));
    // LITERAL and PREFIXED: that pattern type, the name as written.
    let (_, literal) = describe_acls(
        &cluster,
        &admin,
        (TOPIC, Some("orders"), LITERAL, None, ANY, ANY),
    )
    .await;
    assert_eq!(literal, set(&table[0..1]));
    let (_, prefixed) = describe_acls(
        &cluster,
        &admin,
        (TOPIC, Some("orders"), PREFIXED, None, ANY, ANY),
    )
    .await;
    assert_eq!(prefixed, set(&table[1..2]));
    // ANY: every pattern type, the name as written.
    let (_, any) =
        describe_acls(&cluster, &admin, (ANY, Some("orders"), ANY, None, ANY, ANY)).await;
    assert_eq!(
        any,
        set(&[table[0].clone(), table[1].clone(), table[5].clone()])
    );
    // MATCH: every binding that applies to the topic "orders".
    let (_, matched) = describe_acls(
        &cluster,
        &admin,
        (TOPIC, Some("orders"), MATCH, None, ANY, ANY),
    )
    .await;
    assert_eq!(matched, set(&table[0..4]));
    // The entry half: principal, operation, permission.
    let (_, alice_reads) = describe_acls(
        &cluster,
        &admin,
        (ANY, None, ANY, Some("User:alice"), READ, ANY),
    )
    .await;
    assert_eq!(
        alice_reads,
        set(&[table[0].clone(), table[4].clone(), table[5].clone()])
    );
    let (_, denies) = describe_acls(&cluster, &admin, (ANY, None, ANY, None, ANY, DENY)).await;
    assert_eq!(denies, set(&table[4..5]));

    // Bob may describe (cluster Describe), not delete (cluster Alter).
    let bob = client(&cluster, "bob").await;
    let (code, seen) = describe_acls(&cluster, &bob, (ANY, None, ANY, None, ANY, ANY)).await;
    assert_eq!((code, seen.len()), (0, table.len()));
    let refused = delete_acls(&cluster, &bob, &[(ANY, None, ANY, None, ANY, ANY)]).await;
    assert_eq!(
        refused,
        [(ErrorCode::CLUSTER_AUTHORIZATION_FAILED.0, BTreeSet::new())]
    );

    // DeleteAcls: per filter, what it deleted; a binding two filters match
    // is reported under both.
    let deleted = delete_acls(
        &cluster,
        &admin,
        &[
            (TOPIC, Some("orders"), MATCH, None, ANY, ANY),
            (TOPIC, Some("orders"), LITERAL, None, ANY, ANY),
            (GROUP, Some("nothing"), LITERAL, None, ANY, ANY),
            (TOPIC, None, 9, None, ANY, ANY),
        ],
    )
    .await;
    assert_eq!(
        deleted,
        [
            (0, set(&table[0..4])),
            (0, set(&table[0..1])),
            (0, BTreeSet::new()),
            (ErrorCode::INVALID_REQUEST.0, BTreeSet::new()),
        ]
    );
    let (_, left) = describe_acls(&cluster, &admin, (ANY, None, ANY, None, ANY, ANY)).await;
    assert_eq!(left, set(&table[4..]));
    bob.close(Duration::from_secs(5)).await;
    admin.close(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_apis_answer_security_disabled_without_the_authorizer_and_anonymous_is_a_principal() {
    // No authorizer: everything allowed, the ACL APIs disabled.
    let open = MockCluster::builder().brokers(1).build().await.unwrap();
    let c = Client::builder(open.bootstrap_servers())
        .build()
        .await
        .unwrap();
    let (code, _) = describe_acls(&open, &c, (ANY, None, ANY, None, ANY, ANY)).await;
    assert_eq!(code, ErrorCode::SECURITY_DISABLED.0);
    let codes = create_acls(
        &open,
        &c,
        &[acl(TOPIC, "t", LITERAL, "User:alice", READ, ALLOW)],
    )
    .await;
    assert_eq!(codes, [ErrorCode::SECURITY_DISABLED.0]);
    let deleted = delete_acls(&open, &c, &[(ANY, None, ANY, None, ANY, ANY)]).await;
    assert_eq!(deleted, [(ErrorCode::SECURITY_DISABLED.0, BTreeSet::new())]);
    c.close(Duration::from_secs(5)).await;

    // ACLs without SASL: every client is User:ANONYMOUS.
    let anonymous = MockCluster::builder()
        .brokers(1)
        .acls(true)
        .super_user("User:ANONYMOUS")
        .build()
        .await
        .unwrap();
    let c = Client::builder(anonymous.bootstrap_servers())
        .build()
        .await
        .unwrap();
    let (code, _) = describe_acls(&anonymous, &c, (ANY, None, ANY, None, ANY, ANY)).await;
    assert_eq!(code, 0, "User:ANONYMOUS is the super user");
    c.close(Duration::from_secs(5)).await;
    let denied = MockCluster::builder()
        .brokers(1)
        .acls(true)
        .build()
        .await
        .unwrap();
    let c = Client::builder(denied.bootstrap_servers())
        .build()
        .await
        .unwrap();
    let (code, _) = describe_acls(&denied, &c, (ANY, None, ANY, None, ANY, ANY)).await;
    assert_eq!(code, ErrorCode::CLUSTER_AUTHORIZATION_FAILED.0);
    c.close(Duration::from_secs(5)).await;
}

/// librdkafka's settings for a PLAIN user.
fn rdkafka_user(user: &'static str, password: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "PLAIN"),
        ("sasl.username", user),
        ("sasl.password", password),
    ]
}

/// One record produced by librdkafka as bob (not idempotent): the
/// delivery error, if any.
async fn rdkafka_produce_error(bootstrap: &str, topic: &str) -> Option<rdkafka::error::KafkaError> {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let mut cc = rdkafka::ClientConfig::new();
    for (k, v) in rdkafka_user("bob", "bob-secret") {
        cc.set(k, v);
    }
    let p: FutureProducer = cc
        .set("bootstrap.servers", bootstrap)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn librdkafka_is_refused_alike_and_succeeds_once_granted() {
    use rdkafka::consumer::{BaseConsumer, Consumer as _};
    use rdkafka::error::{KafkaError, RDKafkaErrorCode};

    let cluster = acl_cluster().await;
    cluster.create_topic("rd-orders", 3).unwrap();
    let admin = client(&cluster, "admin").await;
    let bootstrap = cluster.bootstrap_servers();

    // Producing without Write: the topic is refused.
    let err = rdkafka_produce_error(&bootstrap, "rd-orders").await;
    assert!(
        matches!(
            err,
            Some(KafkaError::MessageProduction(
                RDKafkaErrorCode::TopicAuthorizationFailed
            ))
        ),
        "{err:?}"
    );
    assert_eq!(
        cluster
            .partition_log("rd-orders", 0)
            .unwrap()
            .high_watermark,
        0
    );

    // A group member without Read on the group, then without Read on the
    // topic: librdkafka reports each as a consumer error.
    let consumer_error = |group: &'static str| {
        let bootstrap = bootstrap.clone();
        tokio::task::spawn_blocking(move || {
            let mut cc = rdkafka::ClientConfig::new();
            for (k, v) in rdkafka_user("bob", "bob-secret") {
                cc.set(k, v);
            }
            let c: BaseConsumer = cc
                .set("bootstrap.servers", &bootstrap)
                .set("group.id", group)
                .set("auto.offset.reset", "earliest")
                .create()
                .unwrap();
            c.subscribe(&["rd-orders"]).unwrap();
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while std::time::Instant::now() < deadline {
                match c.poll(Duration::from_millis(200)) {
                    Some(Err(e)) => return Some(e),
                    Some(Ok(_)) => panic!("read a record without the ACLs"),
                    None => {}
                }
            }
            None
        })
    };
    let e = consumer_error("rd-group").await.unwrap().expect("an error");
    assert!(
        matches!(
            &e,
            KafkaError::MessageConsumption(RDKafkaErrorCode::GroupAuthorizationFailed)
                | KafkaError::Global(RDKafkaErrorCode::GroupAuthorizationFailed)
        ),
        "{e:?}"
    );
    grant(
        &cluster,
        &admin,
        &[acl(GROUP, "rd-group", LITERAL, "User:bob", READ, ALLOW)],
    )
    .await;
    let e = consumer_error("rd-group").await.unwrap().expect("an error");
    assert!(
        matches!(
            &e,
            KafkaError::MessageConsumption(RDKafkaErrorCode::TopicAuthorizationFailed)
                | KafkaError::Global(RDKafkaErrorCode::TopicAuthorizationFailed)
        ),
        "{e:?}"
    );

    // Granted Write and Read on the topic (and Read on the group the peer
    // helper names): what one writes the other reads.
    grant(
        &cluster,
        &admin,
        &[
            acl(TOPIC, "rd-", PREFIXED, "User:bob", WRITE, ALLOW),
            acl(TOPIC, "rd-orders", LITERAL, "User:bob", READ, ALLOW),
            acl(GROUP, "kafkit-test-peer", LITERAL, "User:bob", READ, ALLOW),
        ],
    )
    .await;
    let records: Vec<support::PeerInput> = (0..100)
        .map(|i| support::PeerInput {
            value: Some(format!("rd-{i}").into_bytes()),
            ..Default::default()
        })
        .collect();
    let bob = rdkafka_user("bob", "bob-secret");
    support::produce_records_with_rdkafka_config(&bootstrap, "rd-orders", &records, "lz4", &bob)
        .await;
    let read = support::consume_with_rdkafka_config(
        &bootstrap,
        "rd-orders",
        records.len(),
        Duration::from_secs(30),
        &bob,
    )
    .await;
    assert_eq!(read.len(), records.len());
    admin.close(Duration::from_secs(5)).await;
}
