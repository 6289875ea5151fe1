//! Connection tests against a scripted peer over an in-memory duplex: the
//! test plays the broker frame by frame.

use super::*;
use crate::protocol::frame::split_frame;
use bytes::{Buf, BytesMut};
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{
    ApiVersionsResponse, MetadataRequest, MetadataResponse, RequestHeader, ResponseHeader,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

fn config(timeout_ms: u64) -> ConnectionConfig {
    ConnectionConfig {
        client_id: Some("test".into()),
        request_timeout: Duration::from_millis(timeout_ms),
        max_in_flight: 5,
        max_response_size: 1 << 20,
        broker_label: "peer".into(),
    }
}

/// The broker side of the duplex.
struct Peer {
    io: DuplexStream,
    buf: BytesMut,
}

impl Peer {
    async fn recv(&mut self) -> (RequestHeader, Bytes) {
        loop {
            if let Some(mut frame) = split_frame(&mut self.buf, 1 << 20).unwrap() {
                let header =
                    kafka_protocol::protocol::decode_request_header_from_buffer(&mut frame)
                        .unwrap();
                return (header, frame);
            }
            let n = self.io.read_buf(&mut self.buf).await.unwrap();
            assert!(n > 0, "client closed the stream");
        }
    }

    async fn reply<T: Encodable + HeaderVersion>(
        &mut self,
        correlation_id: i32,
        resp: &T,
        version: i16,
    ) {
        let mut body = BytesMut::new();
        ResponseHeader::default()
            .with_correlation_id(correlation_id)
            .encode(&mut body, T::header_version(version))
            .unwrap();
        resp.encode(&mut body, version).unwrap();
        let mut frame = (body.len() as i32).to_be_bytes().to_vec();
        frame.extend_from_slice(&body);
        self.io.write_all(&frame).await.unwrap();
    }

    async fn answer_api_versions(&mut self) {
        let (h, _) = self.recv().await;
        assert_eq!(h.request_api_key, ApiKey::ApiVersions as i16);
        assert_eq!(h.request_api_version, 3);
        assert_eq!(h.client_id.as_deref(), Some("test"));
        self.reply(h.correlation_id, &api_versions(), 3).await;
    }
}

fn api_versions() -> ApiVersionsResponse {
    ApiVersionsResponse::default().with_api_keys(
        [
            (ApiKey::ApiVersions, 0, 3),
            (ApiKey::Metadata, 0, 12),
            (ApiKey::JoinGroup, 0, 9),
        ]
        .into_iter()
        .map(|(k, min, max)| {
            ApiVersion::default()
                .with_api_key(k as i16)
                .with_min_version(min)
                .with_max_version(max)
        })
        .collect(),
    )
}

fn metadata(tag: &str) -> MetadataResponse {
    MetadataResponse::default().with_cluster_id(Some(StrBytes::from_string(tag.to_owned())))
}

async fn connected(timeout_ms: u64) -> (Connection, Peer) {
    let (client, broker) = tokio::io::duplex(1 << 16);
    let mut peer = Peer {
        io: broker,
        buf: BytesMut::new(),
    };
    let (conn, ()) = tokio::join!(
        async {
            Connection::handshake(client, config(timeout_ms))
                .await
                .unwrap()
        },
        peer.answer_api_versions()
    );
    (conn, peer)
}

#[tokio::test]
async fn handshake_negotiates_versions() {
    let (conn, _peer) = connected(1000).await;
    assert_eq!(conn.api_versions().range(ApiKey::Metadata), Some((0, 12)));
    assert_eq!(conn.version_for(ApiKey::Metadata), Some(12));
    assert_eq!(conn.version_for(ApiKey::Fetch), None);
    // The send cap of the version table applies here too.
    assert_eq!(conn.version_for(ApiKey::JoinGroup), Some(5));
    let err = conn
        .send(kafka_protocol::messages::FetchRequest::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UnsupportedVersion { .. }), "{err}");
}

#[tokio::test]
async fn handshake_falls_back_when_v3_is_unsupported() {
    let (client, broker) = tokio::io::duplex(1 << 16);
    let mut peer = Peer {
        io: broker,
        buf: BytesMut::new(),
    };
    let broker_side = async {
        let (h, _) = peer.recv().await;
        assert_eq!(h.request_api_version, 3);
        // An old broker answers in the v0 format with its own range.
        let old = ApiVersionsResponse::default()
            .with_error_code(35)
            .with_api_keys(vec![
                ApiVersion::default()
                    .with_api_key(ApiKey::ApiVersions as i16)
                    .with_min_version(0)
                    .with_max_version(2),
            ]);
        peer.reply(h.correlation_id, &old, 0).await;
        let (h, _) = peer.recv().await;
        assert_eq!(h.request_api_version, 2);
        peer.reply(h.correlation_id, &api_versions(), 2).await;
    };
    let (conn, ()) = tokio::join!(Connection::handshake(client, config(1000)), broker_side);
    assert_eq!(conn.unwrap().version_for(ApiKey::Metadata), Some(12));
}

#[tokio::test]
async fn pipelined_responses_are_routed_by_correlation_id() {
    let (conn, mut peer) = connected(2000).await;
    let broker_side = async {
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(peer.recv().await.0.correlation_id);
        }
        // All three were written before any answer; answer in reverse.
        for id in seen.iter().rev() {
            peer.reply(*id, &metadata(&format!("c{id}")), 12).await;
        }
        seen
    };
    let (a, b, c, seen) = tokio::join!(
        conn.send(MetadataRequest::default()),
        conn.send(MetadataRequest::default()),
        conn.send(MetadataRequest::default()),
        broker_side
    );
    let mut got: Vec<String> = [a, b, c]
        .into_iter()
        .map(|r| r.unwrap().cluster_id.unwrap().to_string())
        .collect();
    got.sort();
    let mut want: Vec<String> = seen.iter().map(|id| format!("c{id}")).collect();
    want.sort();
    assert_eq!(got, want);
}

#[tokio::test(start_paused = true)]
async fn request_timeout_poisons_the_connection() {
    let (conn, mut peer) = connected(30_000).await;
    let (r, _) = tokio::join!(conn.send(MetadataRequest::default()), peer.recv());
    let err = r.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                what: "request",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.is_retriable());
    assert!(conn.is_closed());
    // With the clock paused, "fails fast" is exact: no time passes.
    let started = Instant::now();
    let again = conn.send(MetadataRequest::default()).await.unwrap_err();
    assert!(
        matches!(again, Error::Timeout { .. }),
        "later sends fail with the shared error: {again}"
    );
    assert_eq!(started, Instant::now(), "later sends must not wait");
}

#[tokio::test]
async fn half_frame_then_close_fails_every_in_flight_request_with_one_error() {
    let (conn, mut peer) = connected(5000).await;
    let broker_side = async {
        let (h1, _) = peer.recv().await;
        let _ = peer.recv().await;
        // Declare 100 bytes, send 6, hang up.
        let mut half = 100i32.to_be_bytes().to_vec();
        half.extend_from_slice(&h1.correlation_id.to_be_bytes());
        half.extend_from_slice(&[0, 0]);
        peer.io.write_all(&half).await.unwrap();
        drop(peer);
    };
    let (a, b, ()) = tokio::join!(
        conn.send(MetadataRequest::default()),
        conn.send(MetadataRequest::default()),
        broker_side
    );
    let (a, b) = (a.unwrap_err(), b.unwrap_err());
    assert!(
        matches!(a, Error::Disconnected { .. } | Error::Io { .. }),
        "{a}"
    );
    assert_eq!(a.to_string(), b.to_string());
    assert!(conn.is_closed());
}

#[tokio::test]
async fn oversize_frame_is_rejected() {
    let (conn, mut peer) = connected(5000).await;
    let broker_side = async {
        peer.recv().await;
        peer.io
            .write_all(&(64i32 << 20).to_be_bytes())
            .await
            .unwrap();
        peer
    };
    let (r, _peer) = tokio::join!(conn.send(MetadataRequest::default()), broker_side);
    let err = r.unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err}");
    assert!(err.to_string().contains("exceeds"), "{err}");
}

#[tokio::test]
async fn unknown_correlation_id_poisons() {
    let (conn, mut peer) = connected(5000).await;
    let broker_side = async {
        let (h, _) = peer.recv().await;
        peer.reply(h.correlation_id + 1000, &metadata("x"), 12)
            .await;
        peer
    };
    let (r, _peer) = tokio::join!(conn.send(MetadataRequest::default()), broker_side);
    assert!(matches!(r.unwrap_err(), Error::Protocol { .. }));
    assert!(conn.is_closed());
}

#[tokio::test]
async fn malformed_body_fails_only_that_request() {
    let (conn, mut peer) = connected(5000).await;
    let broker_side = async {
        let (h, _) = peer.recv().await;
        // A header and a body that stops after two bytes.
        let mut frame = 6i32.to_be_bytes().to_vec();
        frame.extend_from_slice(&h.correlation_id.to_be_bytes());
        frame.extend_from_slice(&[0, 0]);
        peer.io.write_all(&frame).await.unwrap();
        let (h, _) = peer.recv().await;
        peer.reply(h.correlation_id, &metadata("ok"), 12).await;
        peer
    };
    let (first, _peer) = tokio::join!(
        async {
            let first = conn.send(MetadataRequest::default()).await;
            let second = conn.send(MetadataRequest::default()).await;
            (first, second)
        },
        broker_side
    );
    let err = first.0.unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }));
    // The error keeps what it depends on: API, version and broker.
    let context = err.context().cloned().unwrap_or_default();
    assert_eq!(
        (context.api, context.api_version, context.broker.as_deref()),
        (Some("Metadata"), Some(12), Some("peer")),
        "{err}"
    );
    assert!(
        err.to_string().contains("[api=Metadata v12 broker=peer]"),
        "{err}"
    );
    assert_eq!(first.1.unwrap().cluster_id.as_deref(), Some("ok"));
}

#[tokio::test]
async fn dropped_send_leaves_the_stream_intact() {
    let (conn, mut peer) = connected(5000).await;
    {
        let fut = conn.send(MetadataRequest::default());
        tokio::pin!(fut);
        // Poll until the request is on the wire, then drop the caller.
        tokio::select! {
            _ = &mut fut => panic!("no response was sent yet"),
            (h, body) = peer.recv() => {
                assert_eq!(h.request_api_key, ApiKey::Metadata as i16);
                MetadataRequest::decode(&mut body.clone(), 12).unwrap();
                peer.reply(h.correlation_id, &metadata("late"), 12).await;
            }
        }
    }
    let broker_side = async {
        let (h, mut body) = peer.recv().await;
        MetadataRequest::decode(&mut body, 12).unwrap();
        assert!(!body.has_remaining());
        peer.reply(h.correlation_id, &metadata("next"), 12).await;
    };
    let (r, ()) = tokio::join!(conn.send(MetadataRequest::default()), broker_side);
    assert_eq!(r.unwrap().cluster_id.as_deref(), Some("next"));
    assert!(!conn.is_closed());
}

#[tokio::test(start_paused = true)]
async fn throttle_time_delays_the_next_request() {
    let (conn, mut peer) = connected(60_000).await;
    let broker_side = async {
        let (h, _) = peer.recv().await;
        peer.reply(
            h.correlation_id,
            &metadata("t").with_throttle_time_ms(1500),
            12,
        )
        .await;
        let (h, _) = peer.recv().await;
        let at = Instant::now();
        peer.reply(h.correlation_id, &metadata("u"), 12).await;
        at
    };
    let client_side = async {
        conn.send(MetadataRequest::default()).await.unwrap();
        let sent_at = Instant::now();
        conn.send(MetadataRequest::default()).await.unwrap();
        sent_at
    };
    let (sent_at, received_at) = tokio::join!(client_side, broker_side);
    assert!(
        received_at.duration_since(sent_at) >= Duration::from_millis(1500),
        "second request reached the broker after {:?}",
        received_at.duration_since(sent_at)
    );
}

#[tokio::test]
async fn close_fails_in_flight_and_later_requests() {
    let (conn, mut peer) = connected(5000).await;
    let c2 = conn.clone();
    let (r, _) = tokio::join!(conn.send(MetadataRequest::default()), async {
        peer.recv().await;
        c2.close();
    });
    assert!(matches!(r.unwrap_err(), Error::Disconnected { .. }));
    assert!(matches!(
        conn.send(MetadataRequest::default()).await.unwrap_err(),
        Error::Disconnected { .. }
    ));
}

#[tokio::test]
async fn half_frame_poison_is_what_later_sends_get() {
    let (conn, mut peer) = connected(5000).await;
    let broker_side = async {
        let (h, _) = peer.recv().await;
        let mut half = 50i32.to_be_bytes().to_vec();
        half.extend_from_slice(&h.correlation_id.to_be_bytes());
        peer.io.write_all(&half).await.unwrap();
        drop(peer);
    };
    let (first, ()) = tokio::join!(conn.send(MetadataRequest::default()), broker_side);
    let first = first.unwrap_err();
    let later = conn.send(MetadataRequest::default()).await.unwrap_err();
    assert_eq!(first.to_string(), later.to_string());
    assert!(
        first.is_retriable(),
        "a lost connection is retriable: {first}"
    );
}

#[tokio::test]
async fn send_no_response_completes_once_written_and_ids_stay_distinct() {
    use kafka_protocol::messages::ProduceRequest;
    let (conn, mut peer) = connected(5000).await;
    conn.send_no_response(ProduceRequest::default().with_acks(0), 3)
        .await
        .unwrap();
    let (produce, mut body) = peer.recv().await;
    assert_eq!(produce.request_api_key, ApiKey::Produce as i16);
    assert_eq!(produce.request_api_version, 3);
    let decoded = ProduceRequest::decode(&mut body, 3).unwrap();
    assert_eq!(decoded.acks, 0);
    // The next request gets its own correlation id and its response routes.
    let broker_side = async {
        let (h, _) = peer.recv().await;
        assert_ne!(h.correlation_id, produce.correlation_id);
        peer.reply(h.correlation_id, &metadata("after"), 12).await;
    };
    let (r, ()) = tokio::join!(conn.send(MetadataRequest::default()), broker_side);
    assert_eq!(r.unwrap().cluster_id.as_deref(), Some("after"));
}

#[tokio::test]
async fn dropping_the_last_handle_ends_the_tasks_and_closes_the_stream() {
    let (conn, mut peer) = connected(5000).await;
    let other = conn.clone();
    drop(conn);
    assert!(!other.is_closed(), "a clone keeps the connection alive");
    drop(other);
    // The peer sees end of stream once both tasks have let go of it. The
    // timeout only keeps a broken implementation from hanging the suite.
    let eof = tokio::time::timeout(Duration::from_secs(10), async {
        let mut scratch = BytesMut::new();
        loop {
            match peer.io.read_buf(&mut scratch).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(eof.is_ok(), "the stream was not closed");
}

#[tokio::test]
async fn max_in_flight_bounds_what_is_outstanding() {
    let (client, broker) = tokio::io::duplex(1 << 16);
    let mut peer = Peer {
        io: broker,
        buf: BytesMut::new(),
    };
    let mut cfg = config(5000);
    cfg.max_in_flight = 2;
    let (conn, ()) = tokio::join!(
        async { Connection::handshake(client, cfg).await.unwrap() },
        peer.answer_api_versions()
    );
    let broker_side = async {
        let (a, _) = peer.recv().await;
        let (b, _) = peer.recv().await;
        // A third request must not arrive while two are unanswered.
        let third = tokio::time::timeout(Duration::from_millis(200), peer.recv()).await;
        assert!(
            third.is_err(),
            "a third request was sent past max_in_flight"
        );
        peer.reply(a.correlation_id, &metadata("a"), 12).await;
        let (c, _) = peer.recv().await;
        peer.reply(b.correlation_id, &metadata("b"), 12).await;
        peer.reply(c.correlation_id, &metadata("c"), 12).await;
    };
    let (x, y, z, ()) = tokio::join!(
        conn.send(MetadataRequest::default()),
        conn.send(MetadataRequest::default()),
        conn.send(MetadataRequest::default()),
        broker_side
    );
    for r in [x, y, z] {
        r.unwrap();
    }
}

#[tokio::test]
async fn handshake_falls_back_to_v0_when_the_error_body_is_unreadable() {
    let (client, broker) = tokio::io::duplex(1 << 16);
    let mut peer = Peer {
        io: broker,
        buf: BytesMut::new(),
    };
    let broker_side = async {
        let (h, _) = peer.recv().await;
        assert_eq!(h.request_api_version, 3);
        // UNSUPPORTED_VERSION, then bytes that are no ApiVersions body.
        let mut frame = 9i32.to_be_bytes().to_vec();
        frame.extend_from_slice(&h.correlation_id.to_be_bytes());
        frame.extend_from_slice(&[0, 35, 0xff, 0xff, 0xff]);
        peer.io.write_all(&frame).await.unwrap();
        let (h, _) = peer.recv().await;
        assert_eq!(h.request_api_version, 0);
        peer.reply(h.correlation_id, &api_versions(), 0).await;
    };
    let (conn, ()) = tokio::join!(Connection::handshake(client, config(1000)), broker_side);
    let conn = conn.unwrap();
    assert_eq!(conn.api_versions().range(ApiKey::Metadata), Some((0, 12)));
}

#[tokio::test]
async fn handshake_reports_other_broker_errors() {
    let (client, broker) = tokio::io::duplex(1 << 16);
    let mut peer = Peer {
        io: broker,
        buf: BytesMut::new(),
    };
    let broker_side = async {
        let (h, _) = peer.recv().await;
        // CLUSTER_AUTHORIZATION_FAILED.
        let denied = ApiVersionsResponse::default().with_error_code(31);
        peer.reply(h.correlation_id, &denied, 3).await;
    };
    let (r, ()) = tokio::join!(Connection::handshake(client, config(1000)), broker_side);
    let err = r.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode(31)), "{err}");
}
