//! SASL on kafkit's embedded cluster (PLAIN, SCRAM-SHA-256/512,
//! OAUTHBEARER with unsecured JWTs), with librdkafka as the independent
//! client authenticating with the same settings: what one writes, the
//! other reads, every record counted; wrong credentials, an unknown
//! mechanism and an expired token are refused for both; KIP-368 session
//! lifetimes renew without a failed record.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use kafkit::consumer::{Consumer, OffsetReset};
use kafkit::mock::MockCluster;
use kafkit::producer::{Producer, ProducerRecord};
use kafkit::sasl::{Credentials, Mechanism, Sasl, UnsecuredJwt};
use kafkit::{Client, ErrorCode, SecurityProtocol, TopicPartition};

const PARTITIONS: i32 = 3;

/// A cluster requiring every mechanism, with alice's password per mechanism.
async fn secured() -> MockCluster {
    MockCluster::builder()
        .brokers(3)
        .sasl_user(Mechanism::Plain, "alice", "plain-secret")
        .sasl_user(Mechanism::ScramSha256, "alice", "scram256-secret")
        .sasl_user(Mechanism::ScramSha512, "alice", "scram512-secret")
        .sasl_oauthbearer()
        .build()
        .await
        .unwrap()
}

fn kafkit_sasl(mechanism: Mechanism, password: &str) -> Sasl {
    let c = Credentials::new("alice", password);
    match mechanism {
        Mechanism::Plain => Sasl::plain(c),
        Mechanism::ScramSha256 => Sasl::scram_sha256(c),
        Mechanism::ScramSha512 => Sasl::scram_sha512(c),
        _ => Sasl::oauthbearer(UnsecuredJwt::new("alice")),
    }
}

fn password(mechanism: Mechanism) -> &'static str {
    match mechanism {
        Mechanism::Plain => "plain-secret",
        Mechanism::ScramSha256 => "scram256-secret",
        Mechanism::ScramSha512 => "scram512-secret",
        _ => "",
    }
}

/// librdkafka's settings for the same mechanism and credentials.
fn rdkafka_sasl(mechanism: Mechanism, password: &'static str) -> Vec<(&'static str, &'static str)> {
    let mut c = vec![
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", mechanism.name()),
    ];
    if mechanism == Mechanism::OAuthBearer {
        c.push(("enable.sasl.oauthbearer.unsecure.jwt", "true"));
        c.push(("sasl.oauthbearer.config", "principal=alice"));
    } else {
        c.push(("sasl.username", "alice"));
        c.push(("sasl.password", password));
    }
    c
}

async fn client(cluster: &MockCluster, sasl: Sasl) -> kafkit::Result<Client> {
    Client::builder(cluster.bootstrap_servers())
        .security_protocol(SecurityProtocol::SaslPlaintext)
        .sasl(sasl)
        .build()
        .await
}

const ALL: [Mechanism; 4] = [
    Mechanism::Plain,
    Mechanism::ScramSha256,
    Mechanism::ScramSha512,
    Mechanism::OAuthBearer,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mechanism_authenticates_kafkit_and_librdkafka_alike() {
    let cluster = secured().await;
    for mechanism in ALL {
        let what = mechanism.name();
        let topic = format!("sasl-{}", what.to_ascii_lowercase());
        cluster.create_topic(&topic, PARTITIONS).unwrap();
        let client = client(&cluster, kafkit_sasl(mechanism, password(mechanism)))
            .await
            .unwrap();

        // kafkit writes, librdkafka (same mechanism and user) reads.
        let producer: Producer<String, String> = Producer::builder(&client).build().unwrap();
        let n = 3_000;
        let acked = support::produce_numbered(&producer, &topic, n, Duration::ZERO, what).await;
        producer.close(Duration::from_secs(5)).await.unwrap();
        assert_eq!(acked.values().map(Vec::len).sum::<usize>(), n, "{what}");
        let read = support::consume_with_rdkafka_config(
            &cluster.bootstrap_servers(),
            &topic,
            n,
            Duration::from_secs(60),
            &rdkafka_sasl(mechanism, password(mechanism)),
        )
        .await;
        let values: BTreeSet<String> = read
            .iter()
            .map(|r| String::from_utf8(r.value.clone().unwrap()).unwrap())
            .collect();
        assert_eq!(
            (read.len(), values.len()),
            (n, n),
            "{what}: librdkafka read back"
        );
        assert!(
            (0..n).all(|i| values.contains(&format!("value-{i}"))),
            "{what}"
        );

        // librdkafka writes, kafkit reads.
        let rd_topic = format!("{topic}-rd");
        cluster.create_topic(&rd_topic, PARTITIONS).unwrap();
        let records: Vec<support::PeerInput> = (0..1_000)
            .map(|i| support::PeerInput {
                value: Some(format!("rd-{i}").into_bytes()),
                ..Default::default()
            })
            .collect();
        support::produce_records_with_rdkafka_config(
            &cluster.bootstrap_servers(),
            &rd_topic,
            &records,
            "lz4",
            &rdkafka_sasl(mechanism, password(mechanism)),
        )
        .await;
        let consumer: Consumer<String, String> = Consumer::builder(&client)
            .auto_offset_reset(OffsetReset::Earliest)
            .build()
            .unwrap();
        consumer
            .assign((0..PARTITIONS).map(|p| TopicPartition::new(rd_topic.as_str(), p)))
            .unwrap();
        let mut got = BTreeSet::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while got.len() < records.len() && tokio::time::Instant::now() < deadline {
            for r in &consumer.poll(Duration::from_millis(500)).await.unwrap() {
                assert!(got.insert(r.value.clone().unwrap()), "{what}: read twice");
            }
        }
        assert_eq!(got.len(), records.len(), "{what}: kafkit read back");
        consumer.close(Duration::from_secs(5)).await;
        client.close(Duration::from_secs(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_unknown_mechanisms_and_expired_tokens_are_refused_for_both() {
    let cluster = MockCluster::builder()
        .brokers(1)
        .sasl_user(Mechanism::Plain, "alice", "plain-secret")
        .sasl_user(Mechanism::ScramSha256, "alice", "scram256-secret")
        .sasl_oauthbearer()
        .build()
        .await
        .unwrap();
    let broker = cluster.bootstrap_servers();
    for (mechanism, sasl, code) in [
        (
            "PLAIN",
            Sasl::plain(Credentials::new("alice", "wrong")),
            ErrorCode::SASL_AUTHENTICATION_FAILED,
        ),
        (
            "SCRAM-SHA-256",
            Sasl::scram_sha256(Credentials::new("alice", "wrong")),
            ErrorCode::SASL_AUTHENTICATION_FAILED,
        ),
        (
            "SCRAM-SHA-512 (not enabled)",
            Sasl::scram_sha512(Credentials::new("alice", "scram256-secret")),
            ErrorCode::UNSUPPORTED_SASL_MECHANISM,
        ),
        (
            "OAUTHBEARER (expired)",
            Sasl::oauthbearer(UnsecuredJwt::new("alice").with_lifetime(Duration::ZERO)),
            ErrorCode::SASL_AUTHENTICATION_FAILED,
        ),
    ] {
        let e = client(&cluster, sasl).await.unwrap_err();
        assert_eq!(e.code(), Some(code), "{mechanism}: {e}");
        let text = e.to_string();
        assert!(
            text.contains(&broker),
            "{mechanism}: the broker is named: {text}"
        );
        assert!(!text.contains("scram256-secret"), "{mechanism}: {text}");
    }
    // librdkafka with a wrong password gets no metadata either.
    let bootstrap = broker.clone();
    let refused = tokio::task::spawn_blocking(move || {
        use rdkafka::consumer::{BaseConsumer, Consumer as _};
        let c: BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("security.protocol", "SASL_PLAINTEXT")
            .set("sasl.mechanism", "PLAIN")
            .set("sasl.username", "alice")
            .set("sasl.password", "wrong")
            .create()
            .unwrap();
        c.fetch_metadata(None, Duration::from_secs(5)).map(|_| ())
    })
    .await
    .unwrap();
    assert!(
        refused.is_err(),
        "librdkafka with a wrong password: {refused:?}"
    );
    // A client that does not authenticate gets nothing but the gate.
    let open = Client::builder(&broker)
        .connect_timeout(Duration::from_secs(5))
        .request_timeout(Duration::from_secs(5))
        .build()
        .await;
    assert!(open.is_err(), "a plaintext client on a SASL listener");
}

/// Three brokers giving SCRAM-SHA-512 sessions a 2 s lifetime, `topic`, and
/// a client of user alice.
async fn renewing_cluster(topic: &str) -> (MockCluster, Client) {
    let cluster = MockCluster::builder()
        .brokers(3)
        .sasl_user(Mechanism::ScramSha512, "alice", "scram512-secret")
        .sasl_session_lifetime(Duration::from_secs(2))
        .build()
        .await
        .unwrap();
    cluster.create_topic(topic, PARTITIONS).unwrap();
    let client = client(
        &cluster,
        kafkit_sasl(Mechanism::ScramSha512, "scram512-secret"),
    )
    .await
    .unwrap();
    (cluster, client)
}

/// Records stored in `topic`, all partitions (a duplicate adds one).
fn stored(cluster: &MockCluster, topic: &str) -> i64 {
    (0..PARTITIONS)
        .map(|p| cluster.partition_log(topic, p).unwrap().high_watermark)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_session_lifetimes_renew_without_a_failed_record() {
    let (cluster, client) = renewing_cluster("renew").await;
    let first = *client.metadata().brokers.keys().next().unwrap();
    let negotiated = client.connection_security(first).await.unwrap();
    assert_eq!(negotiated.protocol, kafkit::SecurityProtocol::SaslPlaintext);
    assert_eq!(negotiated.sasl_mechanism, Some(Mechanism::ScramSha512));
    assert_eq!(
        negotiated.sasl_session_lifetime,
        Some(Duration::from_secs(2))
    );
    assert_eq!(negotiated.tls_version, None);
    let producer: Producer<String, String> = Producer::builder(&client).build().unwrap();
    // About four lifetimes of steady sends; every one must succeed.
    let mut sent = 0usize;
    let until = tokio::time::Instant::now() + Duration::from_secs(8);
    while tokio::time::Instant::now() < until {
        producer
            .send(ProducerRecord::new("renew", format!("value-{sent}")))
            .await
            .unwrap_or_else(|e| panic!("record {sent}: {e}"));
        sent += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    producer.close(Duration::from_secs(5)).await.unwrap();
    assert_eq!(stored(&cluster, "renew"), sent as i64);
    // Renewed before each expiry: several authentications, and no
    // connection ever reached the broker's expiry check.
    assert_eq!(cluster.expired_sessions(), 0);
    assert!(
        cluster.authentications() >= 4,
        "{} authentications in 8 s of 2 s sessions",
        cluster.authentications()
    );
}

/// The same renewal under a pipelined producer (up to five requests in
/// flight per broker while connections are replaced): every record lands
/// once, in order per partition, none fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_renewal_under_a_pipelined_producer_loses_reorders_and_doubles_nothing() {
    let (cluster, client) = renewing_cluster("renew-pipelined").await;
    let producer: Producer<String, String> = Producer::builder(&client).build().unwrap();
    let n = 150_000;
    let before = cluster.authentications();
    // 150 pauses of 40 ms: about 6 s, three session lifetimes.
    let acked = support::produce_numbered(
        &producer,
        "renew-pipelined",
        n,
        Duration::from_millis(40),
        "pipelined renewal",
    )
    .await;
    producer.close(Duration::from_secs(5)).await.unwrap();
    assert_eq!(acked.values().map(Vec::len).sum::<usize>(), n);
    assert_eq!(
        stored(&cluster, "renew-pipelined"),
        n as i64,
        "stored records (a duplicate adds one)"
    );
    for (partition, records) in &acked {
        // Enqueue order is offset order within a partition.
        let mut by_offset = records.clone();
        by_offset.sort_unstable();
        assert!(
            by_offset.windows(2).all(|w| w[0].1 < w[1].1),
            "partition {partition}: records stored out of enqueue order"
        );
    }
    assert_eq!(cluster.expired_sessions(), 0);
    assert!(
        cluster.authentications() - before >= 3,
        "{} authentications in ~6 s of 2 s sessions",
        cluster.authentications() - before
    );
}

/// SASL_SSL with SCRAM-SHA-512 on the embedded cluster's TLS listener: a
/// consumer group and transactions over it (kafkit), librdkafka reading the
/// committed records with the same TLS and SASL settings; then mutual TLS
/// accepting a client certificate from the CA and refusing a client
/// without one.
#[cfg(feature = "tls")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_ssl_with_groups_and_transactions_and_mutual_tls() {
    use kafkit::consumer::IsolationLevel;
    use kafkit::producer::TransactionalProducer;
    use kafkit::tls::TlsSettings;

    let pki = support::TestPki::new();
    let cert = std::fs::read_to_string(&pki.server.cert).unwrap();
    let key = std::fs::read_to_string(&pki.server.key).unwrap();
    let cluster = MockCluster::builder()
        .brokers(3)
        .tls(cert.clone(), key.clone())
        .sasl_user(Mechanism::ScramSha512, "alice", "scram512-secret")
        .build()
        .await
        .unwrap();
    cluster.create_topic("secure-in", 1).unwrap();
    cluster.create_topic("secure-out", PARTITIONS).unwrap();
    let client = Client::builder(cluster.bootstrap_servers())
        .security_protocol(SecurityProtocol::SaslSsl)
        .tls_settings(TlsSettings::new().ca_file(&pki.ca.file))
        .sasl(kafkit_sasl(Mechanism::ScramSha512, "scram512-secret"))
        .build()
        .await
        .unwrap();

    // A group member over SASL_SSL reads what was produced and commits.
    let producer: Producer<String, String> = Producer::builder(&client).build().unwrap();
    for i in 0..100 {
        producer
            .send(ProducerRecord::new("secure-in", format!("in-{i}")))
            .await
            .unwrap();
    }
    producer.close(Duration::from_secs(5)).await.unwrap();
    let member: Consumer<String, String> = Consumer::builder(&client)
        .group_id("secure-group")
        .auto_offset_reset(OffsetReset::Earliest)
        .enable_auto_commit(false)
        .build()
        .unwrap();
    member.subscribe(["secure-in"]).unwrap();
    let mut read = BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while read.len() < 100 && tokio::time::Instant::now() < deadline {
        for r in &member.poll(Duration::from_millis(500)).await.unwrap() {
            assert!(read.insert(r.value.clone().unwrap()), "read twice");
        }
    }
    assert_eq!(read.len(), 100);
    member.commit_sync().await.unwrap();
    let group = cluster.group_state("secure-group").unwrap();
    assert!(!group.members.is_empty(), "{group:?}");

    // Transactions over SASL_SSL: committed ones read, aborted ones not.
    let txn: TransactionalProducer<String, String> =
        TransactionalProducer::builder(&client, "secure-txn")
            .build()
            .unwrap();
    txn.init_transactions().await.unwrap();
    for (prefix, commit) in [("c", true), ("a", false)] {
        txn.begin_transaction().unwrap();
        for i in 0..30 {
            let r = ProducerRecord::new("secure-out", format!("{prefix}-{i}"))
                .partition(i % PARTITIONS);
            txn.send(r).await.unwrap();
        }
        if commit {
            txn.commit_transaction().await.unwrap();
        } else {
            txn.abort_transaction().await.unwrap();
        }
    }
    txn.close(Duration::from_secs(5)).await.unwrap();
    let rc: Consumer<String, String> = Consumer::builder(&client)
        .isolation_level(IsolationLevel::ReadCommitted)
        .auto_offset_reset(OffsetReset::Earliest)
        .build()
        .unwrap();
    rc.assign((0..PARTITIONS).map(|p| TopicPartition::new("secure-out", p)))
        .unwrap();
    let mut committed = BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while committed.len() < 30 && tokio::time::Instant::now() < deadline {
        for r in &rc.poll(Duration::from_millis(500)).await.unwrap() {
            committed.insert(r.value.clone().unwrap());
        }
    }
    assert_eq!(committed, (0..30).map(|i| format!("c-{i}")).collect());
    // librdkafka, same TLS and SASL settings, read_committed: the same 30.
    let ca = pki.ca.file.to_string_lossy().into_owned();
    let rd = support::consume_with_rdkafka_config(
        &cluster.bootstrap_servers(),
        "secure-out",
        30,
        Duration::from_secs(30),
        &[
            ("security.protocol", "SASL_SSL"),
            ("ssl.ca.location", ca.as_str()),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            ("sasl.username", "alice"),
            ("sasl.password", "scram512-secret"),
        ],
    )
    .await;
    assert_eq!(rd.len(), 30, "librdkafka over SASL_SSL");
    member.close(Duration::from_secs(5)).await;
    rc.close(Duration::from_secs(5)).await;
    client.close(Duration::from_secs(5)).await;

    // Mutual TLS: a client certificate from the CA is required.
    let mtls = MockCluster::builder()
        .brokers(1)
        .tls(cert, key)
        .tls_client_auth(pki.ca.pem.clone())
        .build()
        .await
        .unwrap();
    let with_cert = Client::builder(mtls.bootstrap_servers())
        .security_protocol(SecurityProtocol::Ssl)
        .tls_settings(
            TlsSettings::new()
                .ca_file(&pki.ca.file)
                .client_cert_files(&pki.client.cert, &pki.client.key),
        )
        .build()
        .await;
    assert!(with_cert.is_ok(), "{:?}", with_cert.err());
    let without = Client::builder(mtls.bootstrap_servers())
        .security_protocol(SecurityProtocol::Ssl)
        .tls_settings(TlsSettings::new().ca_file(&pki.ca.file))
        .connect_timeout(Duration::from_secs(5))
        .request_timeout(Duration::from_secs(5))
        .build()
        .await;
    assert!(
        without.is_err(),
        "a client without a certificate is refused"
    );
    let unknown = Client::builder(mtls.bootstrap_servers())
        .security_protocol(SecurityProtocol::Ssl)
        .tls_settings(
            TlsSettings::new()
                .ca_file(&pki.ca.file)
                .client_cert_files(&pki.unknown_client.cert, &pki.unknown_client.key),
        )
        .connect_timeout(Duration::from_secs(5))
        .request_timeout(Duration::from_secs(5))
        .build()
        .await;
    assert!(unknown.is_err(), "a certificate from another CA is refused");
}
