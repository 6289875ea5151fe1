//! DescribeUserScramCredentials / AlterUserScramCredentials: credentials
//! set through the API log in (kafkit and librdkafka), changed ones refuse
//! the old password, deleted ones refuse everyone; Kafka's error codes.

use std::time::Duration;

use bytes::Bytes;
use kafkit::mock::MockCluster;
use kafkit::protocol::StrBytes;
use kafkit::protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafkit::protocol::messages::describe_user_scram_credentials_request::UserName;
use kafkit::protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse,
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
};
use kafkit::sasl::{Credentials, Mechanism, Sasl};
use kafkit::{Client, ErrorCode, SecurityProtocol};
use sha2::{Sha256, Sha512};

use crate::support;

const SHA256: i8 = 1;

/// A message that says something (Kafka leaves an unset one empty).
fn said(message: &Option<StrBytes>) -> bool {
    message.as_ref().is_some_and(|m| !m.is_empty())
}

const SHA512: i8 = 2;

/// A cluster with SCRAM-SHA-256 and -512 enabled and an `admin` user.
async fn cluster() -> MockCluster {
    MockCluster::builder()
        .brokers(2)
        .sasl_user(Mechanism::ScramSha256, "admin", "admin-secret")
        .sasl_user(Mechanism::ScramSha512, "admin", "admin-secret")
        .build()
        .await
        .unwrap()
}

async fn login(cluster: &MockCluster, sasl: Sasl) -> kafkit::Result<Client> {
    Client::builder(cluster.bootstrap_servers())
        .security_protocol(SecurityProtocol::SaslPlaintext)
        .sasl(sasl)
        .build()
        .await
}

async fn admin(cluster: &MockCluster) -> Client {
    login(
        cluster,
        Sasl::scram_sha256(Credentials::new("admin", "admin-secret")),
    )
    .await
    .unwrap()
}

fn sasl(mechanism: i8, user: &str, password: &str) -> Sasl {
    let c = Credentials::new(user, password);
    if mechanism == SHA256 {
        Sasl::scram_sha256(c)
    } else {
        Sasl::scram_sha512(c)
    }
}

/// What a client sends to set a password: the salt, the iterations and
/// SaltedPassword = PBKDF2-HMAC(password, salt, iterations) (RFC 5802's Hi).
fn upsert(user: &str, mechanism: i8, password: &str, iterations: i32) -> ScramCredentialUpsertion {
    let salt = format!("salt-of-{user}-{password}").into_bytes();
    let mut salted = vec![0u8; if mechanism == SHA512 { 64 } else { 32 }];
    let rounds = iterations.max(1) as u32;
    if mechanism == SHA512 {
        pbkdf2::pbkdf2_hmac::<Sha512>(password.as_bytes(), &salt, rounds, &mut salted);
    } else {
        pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), &salt, rounds, &mut salted);
    }
    ScramCredentialUpsertion::default()
        .with_name(StrBytes::from_string(user.to_owned()))
        .with_mechanism(mechanism)
        .with_iterations(iterations)
        .with_salt(Bytes::from(salt))
        .with_salted_password(Bytes::from(salted))
}

fn delete(user: &str, mechanism: i8) -> ScramCredentialDeletion {
    ScramCredentialDeletion::default()
        .with_name(StrBytes::from_string(user.to_owned()))
        .with_mechanism(mechanism)
}

async fn alter(
    client: &Client,
    broker: i32,
    deletions: Vec<ScramCredentialDeletion>,
    upsertions: Vec<ScramCredentialUpsertion>,
) -> Vec<(String, i16, Option<String>)> {
    let resp: AlterUserScramCredentialsResponse = client
        .send_to(
            broker,
            AlterUserScramCredentialsRequest::default()
                .with_deletions(deletions)
                .with_upsertions(upsertions),
        )
        .await
        .unwrap();
    assert_eq!(resp.throttle_time_ms, 0);
    resp.results
        .iter()
        .map(|r| {
            (
                r.user.to_string(),
                r.error_code,
                r.error_message
                    .as_ref()
                    .filter(|m| !m.is_empty())
                    .map(|m| m.to_string()),
            )
        })
        .collect()
}

/// (user, error code, [(mechanism, iterations)]) per result.
type Described = Vec<(String, i16, Vec<(i8, i32)>)>;

async fn describe(client: &Client, broker: i32, users: Option<&[&str]>) -> Described {
    let req = DescribeUserScramCredentialsRequest::default().with_users(users.map(|us| {
        us.iter()
            .map(|u| UserName::default().with_name(StrBytes::from_string(u.to_string())))
            .collect()
    }));
    let resp: DescribeUserScramCredentialsResponse = client.send_to(broker, req).await.unwrap();
    assert_eq!(resp.error_code, 0);
    assert!(!said(&resp.error_message));
    resp.results
        .iter()
        .map(|r| {
            // An error says why; a success says nothing.
            assert_eq!(said(&r.error_message), r.error_code != 0, "{r:?}");
            (
                r.user.to_string(),
                r.error_code,
                r.credential_infos
                    .iter()
                    .map(|c| (c.mechanism, c.iterations))
                    .collect(),
            )
        })
        .collect()
}

fn ok(user: &str) -> (String, i16, Option<String>) {
    (user.to_owned(), 0, None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_set_through_the_api_log_in_and_are_described() {
    let cluster = cluster().await;
    let admin = admin(&cluster).await;

    // The builder's user, described on both brokers (any broker answers).
    for broker in [1, 2] {
        assert_eq!(
            describe(&admin, broker, None).await,
            [("admin".into(), 0, vec![(SHA256, 4096), (SHA512, 4096)])]
        );
    }

    // bob: SCRAM-SHA-256 at 8192 iterations, set at broker 2.
    assert_eq!(
        alter(
            &admin,
            2,
            vec![],
            vec![upsert("bob", SHA256, "bob-1", 8192)]
        )
        .await,
        [ok("bob")]
    );
    let bob = login(&cluster, sasl(SHA256, "bob", "bob-1")).await.unwrap();
    bob.close(Duration::from_secs(5)).await;
    let wrong = login(&cluster, sasl(SHA256, "bob", "bob-2"))
        .await
        .unwrap_err();
    assert_eq!(
        wrong.code(),
        Some(ErrorCode::SASL_AUTHENTICATION_FAILED),
        "{wrong}"
    );
    // Only SHA-256 was set for bob.
    let other = login(&cluster, sasl(SHA512, "bob", "bob-1"))
        .await
        .unwrap_err();
    assert_eq!(
        other.code(),
        Some(ErrorCode::SASL_AUTHENTICATION_FAILED),
        "{other}"
    );

    // A new password (and SHA-512 at the maximum count) in one request:
    // the old password stops working, the new one works for both.
    assert_eq!(
        alter(
            &admin,
            1,
            vec![],
            vec![
                upsert("bob", SHA256, "bob-2", 4096),
                upsert("bob", SHA512, "bob-2", 16384),
            ]
        )
        .await,
        [ok("bob")]
    );
    let old = login(&cluster, sasl(SHA256, "bob", "bob-1"))
        .await
        .unwrap_err();
    assert_eq!(old.code(), Some(ErrorCode::SASL_AUTHENTICATION_FAILED));
    for mechanism in [SHA256, SHA512] {
        let c = login(&cluster, sasl(mechanism, "bob", "bob-2"))
            .await
            .unwrap();
        c.close(Duration::from_secs(5)).await;
    }
    assert_eq!(
        describe(&admin, 1, Some(&["bob"])).await,
        [("bob".into(), 0, vec![(SHA256, 4096), (SHA512, 16384)])]
    );
    // An empty list is every user, as null is.
    assert_eq!(
        describe(&admin, 1, Some(&[]))
            .await
            .iter()
            .map(|(u, _, _)| u.as_str())
            .collect::<Vec<_>>(),
        ["admin", "bob"]
    );

    // librdkafka, an independent SCRAM client, logs in as bob too.
    cluster.create_topic("scram-api", 1).unwrap();
    let rd_config = [
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "SCRAM-SHA-512"),
        ("sasl.username", "bob"),
        ("sasl.password", "bob-2"),
    ];
    let records: Vec<support::PeerInput> = (0..10)
        .map(|i| support::PeerInput {
            value: Some(format!("bob-{i}").into_bytes()),
            ..Default::default()
        })
        .collect();
    let written = support::produce_records_with_rdkafka_config(
        &cluster.bootstrap_servers(),
        "scram-api",
        &records,
        "none",
        &rd_config,
    )
    .await;
    assert_eq!(written.len(), 10);
    assert_eq!(
        cluster
            .partition_log("scram-api", 0)
            .unwrap()
            .high_watermark,
        10
    );

    // Deleting SHA-256 leaves SHA-512; deleting both forgets bob.
    assert_eq!(
        alter(&admin, 2, vec![delete("bob", SHA256)], vec![]).await,
        [ok("bob")]
    );
    let gone = login(&cluster, sasl(SHA256, "bob", "bob-2"))
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Some(ErrorCode::SASL_AUTHENTICATION_FAILED));
    assert_eq!(
        describe(&admin, 2, Some(&["bob"])).await,
        [("bob".into(), 0, vec![(SHA512, 16384)])]
    );
    assert_eq!(
        alter(&admin, 2, vec![delete("bob", SHA512)], vec![]).await,
        [ok("bob")]
    );
    assert_eq!(
        describe(&admin, 2, Some(&["bob"])).await,
        [("bob".into(), ErrorCode::RESOURCE_NOT_FOUND.0, vec![])]
    );
    let gone = login(&cluster, sasl(SHA512, "bob", "bob-2"))
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Some(ErrorCode::SASL_AUTHENTICATION_FAILED));
    admin.close(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_changes_answer_kafkas_errors_and_change_nothing() {
    let cluster = cluster().await;
    let admin = admin(&cluster).await;
    let results = alter(
        &admin,
        1,
        vec![
            delete("nobody", SHA256),
            delete("dup", SHA512),
            delete("mech", 0),
        ],
        vec![
            upsert("low", SHA256, "pw", 4095),
            upsert("high", SHA512, "pw", 16385),
            upsert("dup", SHA512, "pw", 4096),
            upsert("", SHA256, "pw", 4096),
            upsert("mech2", 3, "pw", 4096),
            // carol's good change is not applied: her other one is refused.
            upsert("carol", SHA256, "pw", 4096),
            upsert("carol", SHA512, "pw", 100),
        ],
    )
    .await;
    let codes: Vec<(&str, ErrorCode)> = results
        .iter()
        .map(|(u, c, m)| {
            assert!(m.is_some(), "{u}: an error says why");
            (u.as_str(), ErrorCode(*c))
        })
        .collect();
    assert_eq!(
        codes,
        [
            ("nobody", ErrorCode::RESOURCE_NOT_FOUND),
            ("dup", ErrorCode::DUPLICATE_RESOURCE),
            ("mech", ErrorCode::UNSUPPORTED_SASL_MECHANISM),
            ("low", ErrorCode::UNACCEPTABLE_CREDENTIAL),
            ("high", ErrorCode::UNACCEPTABLE_CREDENTIAL),
            ("", ErrorCode::UNACCEPTABLE_CREDENTIAL),
            ("mech2", ErrorCode::UNSUPPORTED_SASL_MECHANISM),
            ("carol", ErrorCode::UNACCEPTABLE_CREDENTIAL),
        ]
    );
    assert_eq!(
        describe(&admin, 1, None).await,
        [("admin".into(), 0, vec![(SHA256, 4096), (SHA512, 4096)])],
        "nothing changed"
    );
    let carol = login(&cluster, sasl(SHA256, "carol", "pw"))
        .await
        .unwrap_err();
    assert_eq!(carol.code(), Some(ErrorCode::SASL_AUTHENTICATION_FAILED));

    // Describe: unknown users, and a user named twice (reported once).
    assert_eq!(
        describe(&admin, 2, Some(&["ghost", "admin", "admin", "admin"])).await,
        [
            ("ghost".into(), ErrorCode::RESOURCE_NOT_FOUND.0, vec![]),
            ("admin".into(), ErrorCode::DUPLICATE_RESOURCE.0, vec![]),
        ]
    );
    admin.close(Duration::from_secs(5)).await;
}
