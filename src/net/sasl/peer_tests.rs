//! The pool's connections against a scripted SASL broker: every new
//! connection authenticates before any other request, failures are typed
//! and back off, credentials are asked at each connection, and a session
//! with a lifetime is renewed on a new connection while a request in
//! flight on the old one completes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, MetadataRequest, MetadataResponse, RequestHeader, ResponseHeader,
    SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::Instant;

use super::{Credentials, Sasl};
use crate::error::{Error, ErrorCode};
use crate::net::connection::ConnectionConfig;
use crate::net::pool::{BrokerRef, Lane, Pool, PoolConfig};

/// What the scripted broker does.
#[derive(Clone)]
struct Script {
    /// Mechanisms it enables.
    mechanisms: Vec<&'static str>,
    /// The PLAIN password it accepts for user "alice" (changeable).
    password: Arc<Mutex<String>>,
    /// `session_lifetime_ms` it answers an accepted login with.
    lifetime_ms: i64,
    /// How long it takes to answer Metadata.
    metadata_delay: Duration,
    /// Whether ApiVersions lists the SASL APIs.
    advertise_sasl: bool,
}

/// Per connection, the API keys of its requests in order.
type Log = Arc<Mutex<Vec<Vec<i16>>>>;

async fn scripted_broker(script: Script) -> (String, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let log: Log = Arc::default();
    let accepting = log.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let index = {
                let mut log = accepting.lock().unwrap();
                log.push(Vec::new());
                log.len() - 1
            };
            tokio::spawn(serve(stream, script.clone(), accepting.clone(), index));
        }
    });
    (address, log)
}

/// Answers one connection's requests one at a time, as Kafka does.
async fn serve(mut stream: tokio::net::TcpStream, script: Script, log: Log, index: usize) {
    let mut buf = BytesMut::new();
    loop {
        let mut frame = loop {
            if let Ok(Some(frame)) = crate::protocol::frame::split_frame(&mut buf, 1 << 20) {
                break frame;
            }
            if stream.read_buf(&mut buf).await.unwrap_or(0) == 0 {
                return;
            }
        };
        let key = ApiKey::try_from(i16::from_be_bytes([frame[0], frame[1]])).unwrap();
        let version = i16::from_be_bytes([frame[2], frame[3]]);
        let header =
            RequestHeader::decode(&mut frame, key.request_header_version(version)).unwrap();
        log.lock().unwrap()[index].push(key as i16);
        let mut body = BytesMut::new();
        match key {
            ApiKey::ApiVersions => {
                let range = |k: ApiKey, min, max| {
                    ApiVersion::default()
                        .with_api_key(k as i16)
                        .with_min_version(min)
                        .with_max_version(max)
                };
                let mut keys = vec![
                    range(ApiKey::ApiVersions, 0, 3),
                    range(ApiKey::Metadata, 1, 12),
                ];
                if script.advertise_sasl {
                    keys.push(range(ApiKey::SaslHandshake, 0, 1));
                    keys.push(range(ApiKey::SaslAuthenticate, 0, 2));
                }
                ApiVersionsResponse::default()
                    .with_api_keys(keys)
                    .encode(&mut body, version)
                    .unwrap();
            }
            ApiKey::SaslHandshake => {
                let req = SaslHandshakeRequest::decode(&mut frame, version).unwrap();
                let enabled = script.mechanisms.contains(&req.mechanism.as_str());
                SaslHandshakeResponse::default()
                    .with_error_code(if enabled { 0 } else { 33 })
                    .with_mechanisms(
                        script
                            .mechanisms
                            .iter()
                            .map(|m| StrBytes::from_static_str(m))
                            .collect(),
                    )
                    .encode(&mut body, version)
                    .unwrap();
            }
            ApiKey::SaslAuthenticate => {
                let req = SaslAuthenticateRequest::decode(&mut frame, version).unwrap();
                let expected = format!("\0alice\0{}", script.password.lock().unwrap());
                let resp = if req.auth_bytes == expected.as_bytes() {
                    SaslAuthenticateResponse::default().with_session_lifetime_ms(script.lifetime_ms)
                } else {
                    SaslAuthenticateResponse::default()
                        .with_error_code(58)
                        .with_error_message(Some(StrBytes::from_static_str(
                            "Authentication failed: Invalid username or password",
                        )))
                };
                resp.encode(&mut body, version).unwrap();
            }
            ApiKey::Metadata => {
                MetadataRequest::decode(&mut frame, version).unwrap();
                tokio::time::sleep(script.metadata_delay).await;
                MetadataResponse::default()
                    .encode(&mut body, version)
                    .unwrap();
            }
            other => panic!("unexpected request {other:?}"),
        }
        let mut head = BytesMut::new();
        ResponseHeader::default()
            .with_correlation_id(header.correlation_id)
            .encode(&mut head, key.response_header_version(version))
            .unwrap();
        let mut out = ((head.len() + body.len()) as i32).to_be_bytes().to_vec();
        out.extend_from_slice(&head);
        out.extend_from_slice(&body);
        if stream.write_all(&out).await.is_err() {
            return;
        }
    }
}

fn script() -> Script {
    Script {
        mechanisms: vec!["PLAIN", "SCRAM-SHA-512"],
        password: Arc::new(Mutex::new("alice-secret".into())),
        lifetime_ms: 0,
        metadata_delay: Duration::ZERO,
        advertise_sasl: true,
    }
}

fn pool(address: &str, sasl: Sasl) -> Pool {
    Pool::new(PoolConfig {
        bootstrap: vec![address.to_owned()],
        connection: ConnectionConfig {
            client_id: None,
            request_timeout: Duration::from_secs(5),
            max_in_flight: 5,
            max_response_size: 1 << 20,
            broker_label: "".into(),
        },
        connect_timeout: Duration::from_secs(5),
        reconnect_backoff: Duration::from_millis(50),
        reconnect_backoff_max: Duration::from_secs(1),
        connections_max_idle: Duration::from_secs(540),
        security: Default::default(),
        sasl: Some(sasl),
    })
}

const B: BrokerRef = BrokerRef::Bootstrap(0);

#[tokio::test]
async fn every_connection_authenticates_before_any_other_request() {
    let (address, log) = scripted_broker(script()).await;
    let p = pool(
        &address,
        Sasl::plain(Credentials::new("alice", "alice-secret")),
    );
    // Pooled connections on several lanes and an unpooled one (coordinator
    // and extra fetch connections are made that way).
    for lane in [Lane::Control, Lane::Produce, Lane::Fetch] {
        p.get(B, lane)
            .await
            .unwrap()
            .send(MetadataRequest::default())
            .await
            .unwrap();
    }
    p.connect_unpooled(B)
        .await
        .unwrap()
        .send(MetadataRequest::default())
        .await
        .unwrap();
    let log = log.lock().unwrap().clone();
    assert_eq!(log.len(), 4, "{log:?}");
    for keys in log {
        assert_eq!(
            keys,
            [
                ApiKey::ApiVersions as i16,
                ApiKey::SaslHandshake as i16,
                ApiKey::SaslAuthenticate as i16,
                ApiKey::Metadata as i16
            ]
        );
    }
}

#[tokio::test]
async fn a_refused_login_is_a_typed_error_naming_the_broker_and_backs_off() {
    let (address, log) = scripted_broker(script()).await;
    let p = pool(&address, Sasl::plain(Credentials::new("alice", "wrong")));
    let err = p.get(B, Lane::Control).await.unwrap_err();
    assert_eq!(
        err.code(),
        Some(ErrorCode::SASL_AUTHENTICATION_FAILED),
        "{err}"
    );
    assert!(!err.is_retriable(), "{err}");
    let text = err.to_string();
    assert!(text.contains("Invalid username or password"), "{text}");
    assert!(
        text.contains(&address) && text.contains("SaslAuthenticate"),
        "{text}"
    );
    assert!(!text.contains("wrong"), "{text}");
    // The next attempt waits for the reconnect backoff: no storm.
    assert!(p.is_backing_off(B, Lane::Control));
    let started = Instant::now();
    p.get(B, Lane::Control).await.unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(40));
    assert_eq!(log.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn an_unknown_mechanism_lists_what_the_broker_offers() {
    let (address, _) = scripted_broker(script()).await;
    let p = pool(
        &address,
        Sasl::scram_sha256(Credentials::new("alice", "alice-secret")),
    );
    let err = p.get(B, Lane::Control).await.unwrap_err();
    assert_eq!(
        err.code(),
        Some(ErrorCode::UNSUPPORTED_SASL_MECHANISM),
        "{err}"
    );
    assert!(!err.is_retriable());
    let text = err.to_string();
    assert!(
        text.contains("does not enable SCRAM-SHA-256; it offers [PLAIN, SCRAM-SHA-512]"),
        "{text}"
    );
    assert!(text.contains(&address), "{text}");
}

#[tokio::test]
async fn credentials_are_asked_at_every_connection_so_passwords_rotate() {
    let s = script();
    let (address, _) = scripted_broker(s.clone()).await;
    let current = Arc::new(Mutex::new("alice-secret".to_string()));
    let source = current.clone();
    let p = pool(
        &address,
        Sasl::plain(move || {
            let password = source.lock().unwrap().clone();
            async move { Ok(Credentials::new("alice", password)) }
        }),
    );
    let first = p.get(B, Lane::Control).await.unwrap();
    // The broker's password changes; the old connection stays
    // authenticated, a new one needs the new password.
    *s.password.lock().unwrap() = "rotated".into();
    first.close();
    let err = p.get(B, Lane::Control).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::SASL_AUTHENTICATION_FAILED));
    *current.lock().unwrap() = "rotated".into();
    let second = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match p.get(B, Lane::Control).await {
                Ok(conn) => return conn,
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    })
    .await
    .expect("the rotated password is used for the next connection");
    assert_ne!(first.id(), second.id());
    second.send(MetadataRequest::default()).await.unwrap();
}

#[tokio::test]
async fn a_session_lifetime_renews_on_a_new_connection_without_failing_requests_in_flight() {
    let mut s = script();
    s.lifetime_ms = 400;
    s.metadata_delay = Duration::from_millis(600);
    let (address, log) = scripted_broker(s).await;
    let p = pool(
        &address,
        Sasl::plain(Credentials::new("alice", "alice-secret")),
    );
    let first = p.get(B, Lane::Control).await.unwrap();
    let logged_in = Instant::now();
    assert!(!first.needs_replacement());
    // A request the broker holds for 600 ms, past the renewal point
    // (85-95% of 400 ms = 340-380 ms after the login).
    let held = tokio::spawn({
        let first = first.clone();
        async move { first.send(MetadataRequest::default()).await }
    });
    // Until the renewal point the pool hands out the same connection.
    assert_eq!(p.get(B, Lane::Control).await.unwrap().id(), first.id());
    tokio::time::sleep_until(logged_in + Duration::from_millis(400)).await;
    assert!(first.needs_replacement() && !first.is_closed());
    let second = p.get(B, Lane::Control).await.unwrap();
    assert_ne!(
        second.id(),
        first.id(),
        "a new connection after 95% of the lifetime"
    );
    assert!(
        !held.is_finished() && !first.is_closed(),
        "the old one stays open for it"
    );
    held.await
        .unwrap()
        .expect("the request in flight on the old connection completes");
    second.send(MetadataRequest::default()).await.unwrap();
    // The old connection closes once its last handle is gone.
    drop(first);
    let log = log.lock().unwrap().clone();
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(
        &log[1][..3],
        [
            ApiKey::ApiVersions as i16,
            ApiKey::SaslHandshake as i16,
            ApiKey::SaslAuthenticate as i16
        ]
    );
}

#[test]
fn the_renewal_point_is_between_85_and_95_percent_of_the_lifetime() {
    let lifetime = Duration::from_secs(100);
    assert_eq!(
        crate::net::pool::renew_after(lifetime, 0.0),
        Duration::from_secs(85)
    );
    assert_eq!(
        crate::net::pool::renew_after(lifetime, 0.999_999),
        Duration::from_secs_f64(94.999_99)
    );
    assert_eq!(
        crate::net::pool::renew_after(lifetime, 7.0),
        Duration::from_secs(95)
    );
}

#[tokio::test]
async fn a_plaintext_broker_without_sasl_apis_is_a_clear_error() {
    // A broker that advertises neither SASL API.
    let mut s = script();
    s.advertise_sasl = false;
    let (address, _) = scripted_broker(s).await;
    let p = pool(&address, Sasl::plain(Credentials::new("alice", "x")));
    let err = p.get(B, Lane::Control).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::UnsupportedVersion {
                api: "SaslHandshake",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains(&address), "{err}");
}
