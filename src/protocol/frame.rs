//! Size-prefixed frames and request/response headers (sans-IO).
//!
//! Every Kafka message on the wire is `[i32 size][header][body]`. Requests
//! carry header v1 (api key, version, correlation id, client id) or v2 (the
//! same plus tagged fields) for flexible versions; responses carry header v0
//! (correlation id) or v1 (plus tagged fields). Which one is used is a
//! property of the API and version, which `kafka-protocol` knows.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};

use crate::error::{Context, Error, Result};
use crate::protocol::versions::api_name_of;

mod alloc_guard;

/// Default cap on a response frame (100 MiB).
pub const DEFAULT_MAX_RESPONSE_SIZE: usize = 100 * 1024 * 1024;

/// Encodes `req` as one complete frame (size prefix included) into `out`.
pub fn encode_request<R: Request>(
    out: &mut BytesMut,
    version: i16,
    correlation_id: i32,
    client_id: Option<&str>,
    req: &R,
) -> Result<()> {
    let ctx = || Context::default();
    let header = RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(client_id.map(|c| StrBytes::from_string(c.to_owned())));
    let start = out.len();
    out.put_i32(0); // patched below, once the size is known
    header
        .encode(out, R::header_version(version))
        .map_err(|e| Error::protocol(format!("encoding request header: {e}"), ctx()))?;
    req.encode(out, version)
        .map_err(|e| Error::protocol(format!("encoding request body v{version}: {e}"), ctx()))?;
    let size = out.len() - start - 4;
    let size =
        i32::try_from(size).map_err(|_| Error::protocol("request larger than 2 GiB", ctx()))?;
    out[start..start + 4].copy_from_slice(&size.to_be_bytes());
    Ok(())
}

/// Takes one complete frame (without its size prefix) off the front of
/// `buf`, or returns `None` when more bytes are needed.
///
/// The declared size is checked against `max_size` *before* any buffering,
/// so a hostile size cannot make us reserve memory. A size below 4 (no room
/// for a correlation id) is malformed.
pub fn split_frame(buf: &mut BytesMut, max_size: usize) -> Result<Option<Bytes>> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let declared = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if declared < 4 {
        return Err(Error::protocol(
            format!("frame size {declared} is too small"),
            Context::default(),
        ));
    }
    let size = declared as usize;
    if size > max_size {
        // A TLS record (alert 0x15 or handshake 0x16, version 3.x) read as a
        // Kafka frame: the other side speaks TLS.
        let tls_hint = if matches!(buf[0], 0x15 | 0x16) && buf[1] == 0x03 && buf[2] <= 0x04 {
            " (the bytes are a TLS record: this is a TLS listener; set security.protocol=SSL or SASL_SSL)"
        } else {
            ""
        };
        return Err(Error::protocol(
            format!("frame size {size} exceeds the limit of {max_size} bytes{tls_hint}"),
            Context::default(),
        ));
    }
    if buf.len() < 4 + size {
        // Reserve what this frame still needs (bounded by max_size above) so
        // the next reads do not reallocate repeatedly.
        buf.reserve(4 + size - buf.len());
        return Ok(None);
    }
    buf.advance(4);
    Ok(Some(buf.split_to(size).freeze()))
}

/// The correlation id of a response frame: the first four bytes of every
/// response header version.
pub fn peek_correlation_id(frame: &[u8]) -> Option<i32> {
    let b: [u8; 4] = frame.get(..4)?.try_into().ok()?;
    Some(i32::from_be_bytes(b))
}

/// Body offsets of `i32`s that the schema says are plain values, for hot
/// responses whose plain values would otherwise trip the allocation guard's
/// slow path on nearly every response. Fetch v7+ starts with
/// `throttle_time_ms` (i32), `error_code` (i16), `session_id` (i32): the
/// session id is a random positive `i32`, larger than most responses.
fn plain_i32_offsets(api_key: i16, version: i16) -> &'static [usize] {
    const FETCH: i16 = kafka_protocol::messages::ApiKey::Fetch as i16;
    match (api_key, version) {
        (FETCH, 7..) => &[0, 6],
        (FETCH, _) => &[0],
        _ => &[],
    }
}

/// Decodes a response frame (header and body) for request type `R` sent at
/// `version`. Byte fields of the body (e.g. fetched records) are slices of
/// `frame`, not copies.
///
/// The body is decoded through a guard that refuses counts and lengths
/// larger than the bytes that follow them before `kafka-protocol` sizes an
/// allocation from them (see `alloc_guard`); a malformed body is an
/// [`Error::Protocol`] for this response only, the frame boundary is intact.
///
/// Bytes after the body are ignored: fields a newer broker adds to a
/// version we speak arrive as tagged fields, which are parsed, so trailing
/// bytes can only come from a broker bug, and the fields we did read are
/// still valid. The Java client does not check for them either.
pub fn decode_response<R: Request>(mut frame: Bytes, version: i16) -> Result<R::Response> {
    // The correlation id was already used for routing; only the position
    // after the header (and its validity) matters here.
    // Which API and version: a decoding error depends on both, and the
    // caller adds the broker.
    let ctx = || Context::api(api_name_of(R::KEY)).with_api_version(version);
    ResponseHeader::decode(&mut frame, R::Response::header_version(version))
        .map_err(|e| Error::protocol(format!("response header: {e:#}"), ctx()))?;
    let frame = null_sync_assignment_as_empty(R::KEY, version, frame);
    alloc_guard::decode_body::<R::Response>(&frame, version, plain_i32_offsets(R::KEY, version))
        .map_err(|reason| {
            Error::protocol(
                format!("response body (api key {}): {reason}", R::KEY),
                ctx(),
            )
        })
}

/// Body offsets of plain `i32`s at the start of hot *request* bodies (the
/// embedded test cluster decodes requests through the same guard). Fetch
/// v4+: `replica_id`, `max_wait_ms`, `min_bytes`, `max_bytes`, then
/// `isolation_level` (i8) and, v7+, `session_id` and `session_epoch`.
#[cfg(feature = "mock")]
fn plain_request_i32_offsets(api_key: i16, version: i16) -> &'static [usize] {
    const FETCH: i16 = kafka_protocol::messages::ApiKey::Fetch as i16;
    match (api_key, version) {
        (FETCH, 7..=14) => &[0, 4, 8, 12, 17, 21],
        (FETCH, 4..=6) => &[0, 4, 8, 12],
        _ => &[],
    }
}

/// Decodes a request body (the bytes after the request header) of API
/// `api_key` as `T` at `version`, through the allocation guard: a count or
/// length larger than the bytes that follow it is refused before
/// `kafka-protocol` sizes an allocation from it. The error is a reason.
#[cfg(feature = "mock")]
pub fn decode_request_body<T: Decodable>(
    body: &Bytes,
    api_key: i16,
    version: i16,
) -> std::result::Result<T, String> {
    alloc_guard::decode_body::<T>(body, version, plain_request_i32_offsets(api_key, version))
}

/// SyncGroup's `assignment` is non-nullable bytes, but librdkafka's mock
/// cluster answers an errored SyncGroup (v0-v3) with a null (-1 length)
/// one, which kafka-protocol refuses. Read as empty, which is what the
/// broker means: no assignment.
fn null_sync_assignment_as_empty(key: i16, version: i16, body: Bytes) -> Bytes {
    const SYNC_GROUP: i16 = 14;
    if key != SYNC_GROUP || version > 3 {
        return body;
    }
    // [throttle_time_ms: i32 (v1+)] error_code: i16, assignment: bytes.
    let at = if version >= 1 { 6 } else { 2 };
    if body.len() == at + 4 && body[at..] == (-1i32).to_be_bytes() {
        let mut fixed = body.to_vec();
        fixed[at..].copy_from_slice(&0i32.to_be_bytes());
        return Bytes::from(fixed);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::{
        ApiVersionsRequest, FetchRequest, MetadataRequest, MetadataResponse, ProduceRequest,
    };
    use proptest::prelude::*;

    #[test]
    fn a_tls_record_read_as_a_frame_says_the_listener_speaks_tls() {
        // A TLS 1.2 fatal alert (handshake_failure), as a TLS listener
        // answers plaintext; and a ServerHello-like handshake record.
        for bytes in [
            &[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28][..],
            &[0x16, 0x03, 0x01, 0x00, 0x50],
        ] {
            let mut buf = BytesMut::from(bytes);
            let err = split_frame(&mut buf, 100 << 20).unwrap_err().to_string();
            assert!(err.contains("TLS listener"), "{err}");
        }
        let mut buf = BytesMut::from(&[0x7f, 0xff, 0xff, 0xff][..]);
        let err = split_frame(&mut buf, 100 << 20).unwrap_err().to_string();
        assert!(err.contains("exceeds") && !err.contains("TLS"), "{err}");
    }

    #[test]
    fn null_sync_group_assignment_reads_as_empty() {
        use kafka_protocol::messages::SyncGroupRequest;
        // v3 body: throttle_time_ms 0, error_code INVALID_REQUEST (42),
        // assignment length -1 (null), as librdkafka's mock sends it.
        let mut body = vec![0u8; 4];
        body.extend_from_slice(&42i16.to_be_bytes());
        body.extend_from_slice(&(-1i32).to_be_bytes());
        let mut frame = 7i32.to_be_bytes().to_vec(); // correlation id
        frame.extend_from_slice(&body);
        let resp = decode_response::<SyncGroupRequest>(Bytes::from(frame), 3).unwrap();
        assert_eq!(resp.error_code, 42);
        assert!(resp.assignment.is_empty());
        // Other APIs and flexible versions are left alone.
        let untouched = Bytes::from(body);
        assert_eq!(
            null_sync_assignment_as_empty(14, 4, untouched.clone()),
            untouched
        );
        assert_eq!(
            null_sync_assignment_as_empty(1, 3, untouched.clone()),
            untouched
        );
    }

    fn frame_of(payload: &[u8]) -> Vec<u8> {
        let mut v = (payload.len() as i32).to_be_bytes().to_vec();
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn request_round_trips_through_kafka_protocol_header_decode() {
        for version in [1i16, 9, 12] {
            let req = MetadataRequest::default().with_allow_auto_topic_creation(true);
            let mut out = BytesMut::new();
            encode_request(&mut out, version, 42, Some("kafkit"), &req).unwrap();
            let mut buf = out.freeze();
            let size = buf.get_i32() as usize;
            assert_eq!(size, buf.len());
            let header =
                RequestHeader::decode(&mut buf, MetadataRequest::header_version(version)).unwrap();
            assert_eq!(header.request_api_key, 3);
            assert_eq!(header.request_api_version, version);
            assert_eq!(header.correlation_id, 42);
            assert_eq!(header.client_id.as_deref(), Some("kafkit"));
            let body = MetadataRequest::decode(&mut buf, version).unwrap();
            assert_eq!(body, req);
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn response_decodes_header_and_body() {
        for version in [2i16, 9, 12] {
            let resp =
                MetadataResponse::default().with_cluster_id(Some(StrBytes::from_static_str("c")));
            let mut body = BytesMut::new();
            ResponseHeader::default()
                .with_correlation_id(7)
                .encode(&mut body, MetadataResponse::header_version(version))
                .unwrap();
            resp.encode(&mut body, version).unwrap();
            let mut buf = BytesMut::from(&frame_of(&body)[..]);
            let frame = split_frame(&mut buf, 1 << 20).unwrap().unwrap();
            assert_eq!(peek_correlation_id(&frame), Some(7));
            let decoded = decode_response::<MetadataRequest>(frame, version).unwrap();
            assert_eq!(decoded.cluster_id.as_deref(), Some("c"));
        }
    }

    #[test]
    fn oversize_and_undersize_frames_are_rejected_before_buffering() {
        let mut buf = BytesMut::from(&i32::MAX.to_be_bytes()[..]);
        let cap_before = buf.capacity();
        assert!(split_frame(&mut buf, 1024).is_err());
        assert_eq!(buf.capacity(), cap_before);
        let mut buf = BytesMut::from(&3i32.to_be_bytes()[..]);
        assert!(split_frame(&mut buf, 1024).is_err());
        let mut buf = BytesMut::from(&(-1i32).to_be_bytes()[..]);
        assert!(split_frame(&mut buf, 1024).is_err());
    }

    #[test]
    fn truncated_body_is_an_error_not_a_panic() {
        let frame = Bytes::from_static(&[0, 0, 0, 1, 0, 0]);
        assert!(decode_response::<MetadataRequest>(frame, 12).is_err());
    }

    /// Found by the `response_frame` fuzz target with the guard switched
    /// off: a Produce v3 response whose topic count (0x1800_0000) made
    /// kafka-protocol reserve 36 GiB. It must be a protocol error.
    #[test]
    fn fuzz_regression_produce_count_is_refused() {
        let mut buf = BytesMut::from(
            &[
                0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x05, 0x00, 0x18, 0x00, 0x00, 0x00, 0x00, 0x00,
            ][..],
        );
        let frame = split_frame(&mut buf, 1 << 20).unwrap().unwrap();
        let err = decode_response::<ProduceRequest>(frame, 3).unwrap_err();
        assert!(matches!(err, Error::Protocol { .. }), "{err}");
    }

    proptest! {
        /// Every request header we encode is what kafka-protocol's own
        /// header decoder reads back (v1 for classic versions, v2 with
        /// tagged fields for flexible ones), and the size prefix is exact.
        #[test]
        fn request_header_round_trips(
            which in 0usize..4,
            version_seed in any::<u16>(),
            correlation_id in any::<i32>(),
            client_id in prop::option::of("[ -~]{0,40}"),
        ) {
            let mut out = BytesMut::new();
            let (key, version) = match which {
                0 => {
                    let v = (version_seed % 13) as i16;
                    encode_request(&mut out, v, correlation_id, client_id.as_deref(), &MetadataRequest::default()).unwrap();
                    (3, v)
                }
                1 => {
                    let v = 4 + (version_seed % 9) as i16;
                    encode_request(&mut out, v, correlation_id, client_id.as_deref(), &FetchRequest::default()).unwrap();
                    (1, v)
                }
                2 => {
                    let v = (version_seed % 4) as i16;
                    encode_request(&mut out, v, correlation_id, client_id.as_deref(), &ApiVersionsRequest::default()).unwrap();
                    (18, v)
                }
                _ => {
                    let v = 3 + (version_seed % 9) as i16;
                    encode_request(&mut out, v, correlation_id, client_id.as_deref(), &ProduceRequest::default()).unwrap();
                    (0, v)
                }
            };
            let mut buf = out.freeze();
            let size = buf.get_i32();
            prop_assert_eq!(size as usize, buf.len());
            let header = kafka_protocol::protocol::decode_request_header_from_buffer(&mut buf).unwrap();
            prop_assert_eq!(header.request_api_key, key);
            prop_assert_eq!(header.request_api_version, version);
            prop_assert_eq!(header.correlation_id, correlation_id);
            prop_assert_eq!(header.client_id.as_deref(), client_id.as_deref());
        }

        /// Arbitrary frames through the splitter and full response decode
        /// (header and body, through the allocation guard) never panic and
        /// never abort.
        #[test]
        fn arbitrary_frames_through_response_decode_never_panic(
            data in prop::collection::vec(any::<u8>(), 0..512),
            which in 0usize..4,
        ) {
            let mut buf = BytesMut::from(&data[..]);
            while let Ok(Some(frame)) = split_frame(&mut buf, 4096) {
                let _ = match which {
                    0 => decode_response::<MetadataRequest>(frame, 12).map(|_| ()),
                    1 => decode_response::<FetchRequest>(frame, 4).map(|_| ()),
                    2 => decode_response::<ProduceRequest>(frame, 3).map(|_| ()),
                    _ => decode_response::<ApiVersionsRequest>(frame, 3).map(|_| ()),
                };
            }
        }

        #[test]
        fn splitter_yields_the_same_frames_for_any_chunking(
            payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 4..64), 1..8),
            cuts in prop::collection::vec(1usize..32, 1..64),
        ) {
            let wire: Vec<u8> = payloads.iter().flat_map(|p| frame_of(p)).collect();
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            let mut pos = 0;
            let mut cut = cuts.iter().cycle();
            while pos < wire.len() {
                let n = (*cut.next().unwrap()).min(wire.len() - pos);
                buf.extend_from_slice(&wire[pos..pos + n]);
                pos += n;
                while let Some(f) = split_frame(&mut buf, 1 << 20).unwrap() {
                    got.push(f.to_vec());
                }
            }
            prop_assert_eq!(got, payloads);
            prop_assert!(buf.is_empty());
        }

        /// The frame splitter, correlation peek and both response header
        /// versions over arbitrary bytes (bodies: see the test above).
        #[test]
        fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..512), flexible in any::<bool>()) {
            let mut buf = BytesMut::from(&data[..]);
            while let Ok(Some(mut frame)) = split_frame(&mut buf, 4096) {
                let _ = peek_correlation_id(&frame);
                let _ = ResponseHeader::decode(&mut frame, i16::from(flexible));
            }
        }
    }
}
