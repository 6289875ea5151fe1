//! TLS against a real TLS endpoint: stunnel in front of Tansu (Tansu
//! advertises the TLS port, so every connection after bootstrap is TLS
//! too), with certificates generated per test run. Covers server-auth and
//! mutual TLS end to end (records counted), each refusal (unknown CA,
//! hostname mismatch, expired certificate, client certificate missing or
//! unknown, TLS client on a plaintext port, plaintext client on a TLS
//! port) as a typed error naming the broker within the connect timeout,
//! and certificate rotation at run time.
#![cfg(any(feature = "tls", feature = "tls-aws-lc"))]

mod support;

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafkit::consumer::{Consumer, OffsetReset};
use kafkit::producer::{Producer, ProducerRecord};
use kafkit::tls::{TlsConfig, TlsSettings};
use kafkit::{Client, ClientBuilder, Error, Properties, SecurityProtocol, TopicPartition};
use support::{PemPair, StunnelService, TestPki, TlsBroker};

const PARTITIONS: i32 = 2;
/// Generous: a refusal must come well within it (checked against
/// `CONNECT_TIMEOUT`, which bounds TCP connect + TLS handshake).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

fn server_auth(server: &PemPair) -> StunnelService {
    StunnelService {
        server: server.clone(),
        client_ca: None,
    }
}

fn mutual(pki: &TestPki) -> StunnelService {
    StunnelService {
        server: pki.server.clone(),
        client_ca: Some(pki.ca.file.clone()),
    }
}

fn ssl_builder(bootstrap: &str, settings: TlsSettings) -> ClientBuilder {
    Client::builder(bootstrap)
        .security_protocol(SecurityProtocol::Ssl)
        .tls_settings(settings)
        .connect_timeout(CONNECT_TIMEOUT)
        .request_timeout(Duration::from_secs(10))
        .reconnect_backoff(Duration::from_millis(50))
        .reconnect_backoff_max(Duration::from_millis(500))
}

async fn create_topic(client: &Client, topic: &str) {
    kafkit::Admin::new(client)
        .create_topics([kafkit::admin::NewTopic::new(topic, PARTITIONS, 1)])
        .await
        .unwrap()
        .remove(0)
        .1
        .unwrap();
}

/// Produces records `from..to` (value `v-i`) and waits for every ack.
async fn produce(client: &Client, topic: &str, range: std::ops::Range<usize>) {
    let producer: Producer<String, String> = Producer::builder(client).build().unwrap();
    let mut deliveries = Vec::new();
    for i in range {
        let record = ProducerRecord::new(topic, format!("v-{i}")).partition(i as i32 % PARTITIONS);
        deliveries.push((i, producer.enqueue(record).await.unwrap()));
    }
    producer.flush().await;
    for (i, d) in deliveries {
        d.await.unwrap_or_else(|e| panic!("record {i}: {e}"));
    }
    producer.close(Duration::from_secs(5)).await.unwrap();
}

/// Reads the topic from the start until `n` records came; checks each of
/// `0..n` is there exactly once.
async fn consume_all(client: &Client, topic: &str, n: usize) {
    let consumer: Consumer<Bytes, Bytes> = Consumer::builder(client)
        .auto_offset_reset(OffsetReset::Earliest)
        .fetch_max_wait(Duration::from_millis(100))
        .build()
        .unwrap();
    consumer
        .assign((0..PARTITIONS).map(|p| TopicPartition::new(topic, p)))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = HashSet::new();
    while seen.len() < n && Instant::now() < deadline {
        for r in consumer.poll(Duration::from_millis(200)).await.unwrap() {
            let value = String::from_utf8(r.value.unwrap().to_vec()).unwrap();
            let i: usize = value.strip_prefix("v-").unwrap().parse().unwrap();
            assert!(i < n, "unexpected record {i}");
            assert!(seen.insert(i), "record {i} read twice");
        }
    }
    assert_eq!(seen.len(), n, "read {} of {n} records", seen.len());
    consumer.close(Duration::from_secs(5)).await;
}

/// The build fails with a TLS error naming the broker, well within the
/// connect timeout, and not retriable.
async fn assert_refused(builder: ClientBuilder, broker: &str, cause: &str) -> Error {
    let started = Instant::now();
    let err = builder.build().await.unwrap_err();
    let took = started.elapsed();
    assert!(took < CONNECT_TIMEOUT, "refusal took {took:?}: {err}");
    let text = err.to_string();
    eprintln!("refused in {took:?}: {text}");
    assert!(matches!(err, Error::Tls { .. }), "{text}");
    assert!(!err.is_retriable(), "{text}");
    assert!(text.contains(broker), "names the broker {broker}: {text}");
    assert!(text.contains(cause), "names the cause {cause:?}: {text}");
    err
}

fn settings(ca: &Path) -> TlsSettings {
    TlsSettings::new().ca_file(ca)
}

#[tokio::test]
async fn server_auth_produces_and_consumes_every_record() {
    let pki = TestPki::new();
    let Some(broker) = support::tls_broker_or_skip(&pki.dir, &server_auth(&pki.server)) else {
        return;
    };
    // A DNS name (SNI + DNS SAN) for bootstrap; metadata then sends the
    // client to 127.0.0.1 (IP SAN, no SNI) through TLS.
    let client = ssl_builder(&broker.bootstrap_localhost(), settings(&pki.ca.file))
        .build()
        .await
        .unwrap();
    let topic = support::unique_topic("tls-server-auth");
    create_topic(&client, &topic).await;
    produce(&client, &topic, 0..2000).await;
    consume_all(&client, &topic, 2000).await;
    assert!(client.tls().is_some());
    // What was negotiated with every broker: TLS 1.3 (rustls' and stunnel's
    // best), no SASL.
    for &id in client.metadata().brokers.keys() {
        let negotiated = client.connection_security(id).await.unwrap();
        assert_eq!(negotiated.protocol, kafkit::SecurityProtocol::Ssl);
        assert_eq!(
            negotiated.tls_version.as_deref(),
            Some("TLSv1.3"),
            "{negotiated}"
        );
        assert!(
            negotiated
                .tls_cipher_suite
                .as_deref()
                .is_some_and(|s| s.starts_with("TLS13_")),
            "{negotiated}"
        );
        assert_eq!(negotiated.sasl_mechanism, None);
    }
    client.close(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn properties_file_with_ssl_keys_connects() {
    let pki = TestPki::new();
    let Some(broker) = support::tls_broker_or_skip(&pki.dir, &mutual(&pki)) else {
        return;
    };
    let mut props = Properties::new();
    props.set("bootstrap.servers", format!("SSL://{}", broker.bootstrap()));
    props.set("security.protocol", "SSL");
    props.set("ssl.truststore.type", "PEM");
    props.set("ssl.truststore.location", pki.ca.file.display().to_string());
    props.set("ssl.keystore.type", "PEM");
    props.set(
        "ssl.certificate.location",
        pki.client.cert.display().to_string(),
    );
    props.set("ssl.key.location", pki.client.key.display().to_string());
    props.set("ssl.endpoint.identification.algorithm", "https");
    let client = ClientBuilder::from_properties(&props)
        .unwrap()
        .build()
        .await
        .unwrap();
    let topic = support::unique_topic("tls-props");
    create_topic(&client, &topic).await;
    produce(&client, &topic, 0..200).await;
    consume_all(&client, &topic, 200).await;
    client.close(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn mutual_tls_produces_and_consumes_every_record() {
    let pki = TestPki::new();
    let Some(broker) = support::tls_broker_or_skip(&pki.dir, &mutual(&pki)) else {
        return;
    };
    let client = ssl_builder(
        &broker.bootstrap(),
        settings(&pki.ca.file).client_cert_files(&pki.client.cert, &pki.client.key),
    )
    .build()
    .await
    .unwrap();
    let topic = support::unique_topic("tls-mtls");
    create_topic(&client, &topic).await;
    produce(&client, &topic, 0..1000).await;
    consume_all(&client, &topic, 1000).await;
    client.close(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn mutual_tls_takes_rsa_pkcs1_and_ec_sec1_keys() {
    let pki = TestPki::new();
    let Some(broker) = support::tls_broker_or_skip(&pki.dir, &mutual(&pki)) else {
        return;
    };
    for format in [support::KeyFormat::RsaPkcs1, support::KeyFormat::EcSec1] {
        let pair = match support::openssl_client_cert(&pki.ca, &pki.dir, format) {
            Ok(pair) => pair,
            Err(reason) => return support::skip_or_fail(&reason),
        };
        let client = ssl_builder(
            &broker.bootstrap(),
            settings(&pki.ca.file).client_cert_files(&pair.cert, &pair.key),
        )
        .build()
        .await
        .unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert!(!client.metadata().brokers.is_empty());
        client.close(Duration::from_secs(5)).await;
    }
}

#[tokio::test]
async fn mutual_tls_refuses_a_client_without_or_with_an_unknown_certificate() {
    let pki = TestPki::new();
    let Some(broker) = support::tls_broker_or_skip(&pki.dir, &mutual(&pki)) else {
        return;
    };
    let addr = broker.bootstrap();
    assert_refused(
        ssl_builder(&addr, settings(&pki.ca.file)),
        &addr,
        "refused the client certificate",
    )
    .await;
    assert_refused(
        ssl_builder(
            &addr,
            settings(&pki.ca.file)
                .client_cert_files(&pki.unknown_client.cert, &pki.unknown_client.key),
        ),
        &addr,
        "refused the client certificate",
    )
    .await;
}

#[tokio::test]
async fn hostname_mismatch_is_refused_unless_verification_is_off() {
    let pki = TestPki::new();
    let Some(broker) = support::tls_broker_or_skip(&pki.dir, &server_auth(&pki.wrong_host)) else {
        return;
    };
    let addr = broker.bootstrap_localhost();
    assert_refused(
        ssl_builder(&addr, settings(&pki.ca.file)),
        &addr,
        "hostname mismatch",
    )
    .await;
    // ssl.endpoint.identification.algorithm= (empty): the chain is still
    // checked, the name is not.
    let client = ssl_builder(&addr, settings(&pki.ca.file).verify_hostname(false))
        .build()
        .await
        .unwrap();
    client.close(Duration::from_secs(5)).await;
    // ... but an unknown CA is still refused with verification off.
    drop(broker);
    let Some(other) = support::tls_broker_or_skip(&pki.dir, &server_auth(&pki.other_server)) else {
        return;
    };
    let addr = other.bootstrap();
    assert_refused(
        ssl_builder(&addr, settings(&pki.ca.file).verify_hostname(false)),
        &addr,
        "not signed by a trusted CA",
    )
    .await;
}

#[tokio::test]
async fn unknown_ca_is_refused() {
    let pki = TestPki::new();
    let Some(broker) = support::tls_broker_or_skip(&pki.dir, &server_auth(&pki.other_server))
    else {
        return;
    };
    let addr = broker.bootstrap();
    assert_refused(
        ssl_builder(&addr, settings(&pki.ca.file)),
        &addr,
        "not signed by a trusted CA",
    )
    .await;
}

#[tokio::test]
async fn expired_server_certificate_is_refused() {
    let pki = TestPki::new();
    let Some(broker) = support::tls_broker_or_skip(&pki.dir, &server_auth(&pki.expired)) else {
        return;
    };
    let addr = broker.bootstrap();
    assert_refused(ssl_builder(&addr, settings(&pki.ca.file)), &addr, "expired").await;
}

#[tokio::test]
async fn tls_client_on_a_plaintext_port_fails_fast_and_clearly() {
    let pki = TestPki::new();
    let Some(broker) = support::tls_broker_or_skip(&pki.dir, &server_auth(&pki.server)) else {
        return;
    };
    let addr = broker.plaintext_bootstrap();
    let started = Instant::now();
    let err = ssl_builder(&addr, settings(&pki.ca.file))
        .build()
        .await
        .unwrap_err();
    let text = err.to_string();
    eprintln!("failed in {:?}: {text}", started.elapsed());
    assert!(
        started.elapsed() < CONNECT_TIMEOUT + Duration::from_secs(1),
        "{text}"
    );
    assert!(text.contains(&addr), "{text}");
    assert!(text.contains("TLS"), "{text}");
}

#[tokio::test]
async fn plaintext_client_on_a_tls_port_fails_fast_and_clearly() {
    let pki = TestPki::new();
    let Some(broker) = support::tls_broker_or_skip(&pki.dir, &server_auth(&pki.server)) else {
        return;
    };
    let addr = broker.bootstrap();
    let started = Instant::now();
    let err = Client::builder(&addr)
        .connect_timeout(CONNECT_TIMEOUT)
        .request_timeout(CONNECT_TIMEOUT)
        .build()
        .await
        .unwrap_err();
    let text = err.to_string();
    eprintln!("failed in {:?}: {text}", started.elapsed());
    assert!(
        started.elapsed() < CONNECT_TIMEOUT + Duration::from_secs(1),
        "{text}"
    );
    assert!(text.contains(&addr), "{text}");
    assert!(text.contains("TLS"), "{text}");
}

/// The CA is rotated: the broker's certificate moves to a new CA.
///
/// 1. The client trusts the old CA and produces.
/// 2. The trust file now holds only the new CA and is reloaded: open
///    connections keep working.
/// 3. The endpoint restarts with the old certificate: new connections fail
///    with the TLS error surfaced to the caller, paced by the reconnect
///    backoff (no storm).
/// 4. The endpoint restarts with a new-CA certificate: new connections use
///    the reloaded trust and succeed; every record is read back.
#[tokio::test]
async fn rotated_ca_is_used_by_new_connections() {
    let pki = TestPki::new();
    let Some(TlsBroker { stunnel, tansu }) =
        support::tls_broker_or_skip(&pki.dir, &server_auth(&pki.server))
    else {
        return;
    };
    let tls_port = stunnel.port();
    let trust = pki.dir.join("trust.pem");
    std::fs::write(&trust, &pki.ca.pem).unwrap();
    let tls = TlsConfig::load(settings(&trust)).await.unwrap();
    let client = Client::builder(format!("127.0.0.1:{tls_port}"))
        .security_protocol(SecurityProtocol::Ssl)
        .tls_config(tls.clone())
        .connect_timeout(CONNECT_TIMEOUT)
        .request_timeout(Duration::from_secs(1))
        .reconnect_backoff(Duration::from_millis(50))
        .reconnect_backoff_max(Duration::from_millis(500))
        .build()
        .await
        .unwrap();
    let topic = support::unique_topic("tls-rotate");
    create_topic(&client, &topic).await;
    produce(&client, &topic, 0..100).await;

    // 2. Trust only the new CA from now on: open connections stay.
    std::fs::write(&trust, &pki.other_ca.pem).unwrap();
    client.tls().unwrap().reload().await.unwrap();
    produce(&client, &topic, 100..200).await;

    // 3. Every connection is new now, and the old certificate is no longer
    //    trusted.
    drop(stunnel);
    let old = support::start_stunnel(&pki.dir, tls_port, tansu.port(), &server_auth(&pki.server))
        .unwrap();
    let accepted_before = old.accepted();
    let producer: Producer<String, String> = Producer::builder(&client)
        .delivery_timeout(Duration::from_secs(3))
        .request_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let err = producer
        .send(ProducerRecord::new(topic.as_str(), "lost".to_string()).partition(0))
        .await
        .unwrap_err();
    let text = err.to_string();
    eprintln!("while the certificate is untrusted: {text}");
    assert!(text.contains("not signed by a trusted CA"), "{text}");
    producer.close(Duration::from_secs(1)).await.ok();
    // 3 s of failing connects with a 50..500 ms backoff per (broker, lane)
    // slot: a handful per slot, not a storm.
    let attempts = old.accepted() - accepted_before;
    eprintln!("{attempts} TLS connection attempts in 3 s");
    assert!(
        attempts <= 40,
        "{attempts} connection attempts: a reconnect storm"
    );

    // 4. A certificate from the new CA: trusted after the reload.
    drop(old);
    let _new = support::start_stunnel(
        &pki.dir,
        tls_port,
        tansu.port(),
        &server_auth(&pki.other_server),
    )
    .unwrap();
    produce(&client, &topic, 200..300).await;
    consume_all(&client, &topic, 300).await;
    client.close(Duration::from_secs(5)).await;

    // A bad reload leaves the current material in place.
    std::fs::write(&trust, "not a certificate").unwrap();
    assert!(matches!(tls.reload().await, Err(Error::Config(_))));
    let again = Client::builder(format!("127.0.0.1:{tls_port}"))
        .security_protocol(SecurityProtocol::Ssl)
        .tls_config(tls)
        .build()
        .await
        .unwrap();
    again.close(Duration::from_secs(5)).await;
}

#[cfg(feature = "tls")]
#[tokio::test]
async fn a_ready_rustls_config_is_used_as_given() {
    use kafkit::tls::rustls::pki_types::pem::PemObject;
    let pki = TestPki::new();
    let Some(broker) = support::tls_broker_or_skip(&pki.dir, &server_auth(&pki.server)) else {
        return;
    };
    // Built by the user: trusts the test CA through rustls's own API.
    let mut roots = kafkit::tls::rustls::RootCertStore::empty();
    let der = kafkit::tls::rustls::pki_types::CertificateDer::from_pem_slice(pki.ca.pem.as_bytes())
        .unwrap();
    roots.add(der).unwrap();
    let config = kafkit::tls::rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        kafkit::tls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let client = Client::builder(broker.bootstrap())
        .security_protocol(SecurityProtocol::Ssl)
        .rustls_config(std::sync::Arc::new(config))
        .build()
        .await
        .unwrap();
    assert!(!client.metadata().brokers.is_empty());
    client.close(Duration::from_secs(5)).await;
}

/// Interop witness: librdkafka (OpenSSL) with `security.protocol=SSL` and a
/// client certificate produces through the same stunnel, which shows the
/// set-up is a correct TLS endpoint; kafkit reads every record back.
#[tokio::test]
async fn librdkafka_over_the_same_mutual_tls_endpoint_agrees() {
    use rdkafka::config::ClientConfig;
    use rdkafka::producer::{FutureProducer, FutureRecord};

    let pki = TestPki::new();
    let Some(broker) = support::tls_broker_or_skip(&pki.dir, &mutual(&pki)) else {
        return;
    };
    let client = ssl_builder(
        &broker.bootstrap(),
        settings(&pki.ca.file).client_cert_files(&pki.client.cert, &pki.client.key),
    )
    .build()
    .await
    .unwrap();
    let topic = support::unique_topic("tls-rdkafka");
    create_topic(&client, &topic).await;

    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .set("security.protocol", "SSL")
        .set("ssl.ca.location", pki.ca.file.display().to_string())
        .set(
            "ssl.certificate.location",
            pki.client.cert.display().to_string(),
        )
        .set("ssl.key.location", pki.client.key.display().to_string())
        .set("ssl.endpoint.identification.algorithm", "https")
        .set("message.timeout.ms", "30000")
        .create()
        .unwrap();
    let n = 500;
    for i in 0..n {
        let value = format!("v-{i}");
        let partition = i as i32 % PARTITIONS;
        producer
            .send(
                FutureRecord::<(), _>::to(&topic)
                    .payload(&value)
                    .partition(partition),
                Duration::from_secs(30),
            )
            .await
            .unwrap_or_else(|(e, _)| panic!("librdkafka record {i}: {e}"));
    }
    consume_all(&client, &topic, n).await;
    client.close(Duration::from_secs(5)).await;
}

/// Not a check: prints kafkit's produce rate through stunnel (TLS) and to a
/// plain Tansu, same run, and the TLS connection set-up time
/// (TCP + TLS handshake + ApiVersions, p50 of 50). Run in release:
/// `cargo test --release --features tls --test tls -- --ignored --nocapture perf`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "performance report, run by hand in release"]
async fn perf_tls_vs_plain_produce() {
    let pki = TestPki::new();
    let Some(broker) = support::tls_broker_or_skip(&pki.dir, &server_auth(&pki.server)) else {
        return;
    };
    let Some(plain) = support::tansu_or_skip() else {
        return;
    };
    let n: usize = std::env::var("PERF_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let value = "x".repeat(100);
    for round in 0..2 {
        for tls in [false, true] {
            // The plain baseline needs its own Tansu: the one behind
            // stunnel advertises the TLS port.
            let builder = if tls {
                ssl_builder(&broker.bootstrap(), settings(&pki.ca.file))
            } else {
                Client::builder(plain.bootstrap())
            };
            let client = builder.build().await.unwrap();
            let topic = support::unique_topic("perf");
            kafkit::Admin::new(&client)
                .create_topics([kafkit::admin::NewTopic::new(&topic, 6, 1)])
                .await
                .unwrap()
                .remove(0)
                .1
                .unwrap();
            let producer: Producer<String, String> = Producer::builder(&client).build().unwrap();
            let started = Instant::now();
            let mut deliveries = Vec::with_capacity(n);
            for _ in 0..n {
                deliveries.push(
                    producer
                        .enqueue(ProducerRecord::new(topic.as_str(), value.clone()))
                        .await
                        .unwrap(),
                );
            }
            producer.flush().await;
            for d in deliveries {
                d.await.unwrap();
            }
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "round {round} {}: {n} x 100 B in {secs:.2} s = {:.0} records/s",
                if tls { "TLS  " } else { "plain" },
                n as f64 / secs
            );
            producer.close(Duration::from_secs(5)).await.unwrap();
            client.close(Duration::from_secs(5)).await;
        }
    }
    for tls in [false, true] {
        let mut setups = Vec::new();
        for _ in 0..50 {
            let started = Instant::now();
            let builder = if tls {
                ssl_builder(&broker.bootstrap(), settings(&pki.ca.file))
            } else {
                Client::builder(plain.bootstrap())
            };
            let client = builder.build().await.unwrap();
            setups.push(started.elapsed());
            client.close(Duration::from_secs(1)).await;
        }
        setups.sort();
        eprintln!(
            "{} client build (config + TCP{} + ApiVersions + Metadata): p50 {:?}, p90 {:?}",
            if tls { "TLS  " } else { "plain" },
            if tls { " + TLS" } else { "" },
            setups[25],
            setups[45]
        );
    }
    // The same with one loaded TlsConfig shared by every build: the CA file
    // is read once, so this is connection set-up only.
    let shared = TlsConfig::load(settings(&pki.ca.file)).await.unwrap();
    let mut setups = Vec::new();
    for _ in 0..50 {
        let started = Instant::now();
        let client = ssl_builder(&broker.bootstrap(), TlsSettings::new())
            .tls_config(shared.clone())
            .build()
            .await
            .unwrap();
        setups.push(started.elapsed());
        client.close(Duration::from_secs(1)).await;
    }
    setups.sort();
    eprintln!(
        "TLS   client build with a shared TlsConfig: p50 {:?}, p90 {:?}",
        setups[25], setups[45]
    );
}
