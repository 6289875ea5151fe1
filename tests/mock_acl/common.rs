//! Helpers: Kafka's ACL codes, a SASL/PLAIN cluster with ACLs on, and the
//! ACL requests sent raw through `Client::send_to`.

use std::collections::BTreeSet;
use std::time::Duration;

use kafkit::consumer::Consumer;
use kafkit::mock::MockCluster;
use kafkit::producer::Producer;
use kafkit::protocol::StrBytes;
use kafkit::protocol::messages::create_acls_request::AclCreation;
use kafkit::protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafkit::protocol::messages::{CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest};
use kafkit::sasl::{Credentials, Mechanism, Sasl};
use kafkit::{Client, SecurityProtocol};

// Kafka's codes for resource types, pattern types, operations, permissions.
pub const ANY: i8 = 1;
pub const TOPIC: i8 = 2;
pub const GROUP: i8 = 3;
pub const CLUSTER: i8 = 4;
pub const TRANSACTIONAL_ID: i8 = 5;
pub const MATCH: i8 = 2;
pub const LITERAL: i8 = 3;
pub const PREFIXED: i8 = 4;
pub const ALL: i8 = 2;
pub const READ: i8 = 3;
pub const WRITE: i8 = 4;
pub const CREATE: i8 = 5;
pub const DELETE: i8 = 6;
pub const ALTER: i8 = 7;
pub const DESCRIBE: i8 = 8;
pub const DENY: i8 = 2;
pub const ALLOW: i8 = 3;

/// An operation's bit in an authorized-operations field.
pub fn bit(op: i8) -> i32 {
    1 << op
}

/// (resource type, name, pattern type, principal, operation, permission),
/// host `*`.
pub type Acl = (i8, String, i8, String, i8, i8);

pub fn acl(rt: i8, name: &str, pattern: i8, principal: &str, op: i8, perm: i8) -> Acl {
    (rt, name.into(), pattern, principal.into(), op, perm)
}

/// (resource type, name, pattern type, principal, operation, permission);
/// `None` matches any.
pub type Filter<'a> = (i8, Option<&'a str>, i8, Option<&'a str>, i8, i8);

/// A SASL/PLAIN cluster with ACLs on: `admin` a super user, `alice` and
/// `bob` ordinary users.
pub async fn acl_cluster() -> MockCluster {
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

pub async fn client(cluster: &MockCluster, user: &str) -> Client {
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

pub fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_owned())
}

/// Any broker will do: the ACLs are the cluster's.
pub fn broker(cluster: &MockCluster) -> i32 {
    cluster.broker_ids()[0]
}

/// CreateAcls; the error code of each creation.
pub async fn create_acls(cluster: &MockCluster, client: &Client, acls: &[Acl]) -> Vec<i16> {
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
pub async fn grant(cluster: &MockCluster, admin: &Client, acls: &[Acl]) {
    let codes = create_acls(cluster, admin, acls).await;
    assert_eq!(codes, vec![0; acls.len()], "{acls:?}");
}

/// DescribeAcls; the top-level error code and the bindings, sorted.
pub async fn describe_acls(
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
pub async fn delete_acls(
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

pub fn set(acls: &[Acl]) -> BTreeSet<Acl> {
    acls.iter().cloned().collect()
}

/// A producer whose records time out within seconds; `max.block.ms` stays
/// long, so that a send refused at once shows it did not wait for it.
pub fn producer(client: &Client, idempotent: bool) -> Producer<String, String> {
    Producer::builder(client)
        .enable_idempotence(idempotent)
        .max_block(Duration::from_secs(30))
        .request_timeout(Duration::from_secs(5))
        .delivery_timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Polls until an error comes (or `within` passes) and returns it.
pub async fn first_poll_error(
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
pub async fn read(consumer: &Consumer<String, String>, n: usize) -> BTreeSet<String> {
    let mut got = BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while got.len() < n && tokio::time::Instant::now() < deadline {
        for r in &consumer.poll(Duration::from_millis(200)).await.unwrap() {
            got.insert(r.value.clone().unwrap());
        }
    }
    got
}
