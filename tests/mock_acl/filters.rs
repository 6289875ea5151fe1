//! DescribeAcls/DeleteAcls filters, creation checks, SECURITY_DISABLED
//! without the authorizer, `User:ANONYMOUS` without SASL.

use std::collections::BTreeSet;
use std::time::Duration;

use kafkit::mock::MockCluster;
use kafkit::{Client, ErrorCode};

use crate::common::*;

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
