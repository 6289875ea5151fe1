//! A guard around `kafka-protocol`'s body decoder against allocations sized
//! from unchecked wire counts.
//!
//! # The problem
//!
//! `kafka-protocol` 0.18 decodes an array by reading its element count and
//! calling `Vec::with_capacity(count)` *before* reading any element. The
//! count comes straight off the wire (an `i32`, or a varint in flexible
//! versions), so eight hostile bytes can ask for `2^31 × size_of::<T>()`
//! bytes. An allocation the allocator refuses aborts the process; it is not
//! a panic we could catch. (Open upstream: kafka-protocol-rs PRs #152, #161,
//! #200.)
//!
//! # The rule
//!
//! Every array element occupies at least one byte on the wire, so a count
//! larger than the bytes that follow it cannot belong to a valid message
//! (the Java client's generated code rejects exactly that). The same holds
//! for byte and string lengths. If we enforce `count <= remaining` before
//! `kafka-protocol` sees a count, its pre-allocation is bounded by the frame
//! size (itself capped by `max_response_size`).
//!
//! # How we enforce it without knowing the schema
//!
//! We decode through our own [`ByteBuf`], which sees every read:
//!
//! - **Varints** (compact lengths, compact array counts, tagged-field counts,
//!   tags and sizes) are read one byte at a time with `try_get_u8`. Every
//!   varint in a response body is a length or count, except tag numbers,
//!   which are small. So at every `try_get_u8` we parse the varint that would
//!   start there; if it exceeds `max(remaining, SMALL) + 1` the read fails
//!   and the response is refused. This never refuses a valid message: a
//!   valid varint is within bounds, and the tail of a valid varint (when the
//!   byte read is a continuation byte) is smaller than the varint itself. A
//!   boolean byte other than 0/1 followed by bytes that look like a huge
//!   varint can be refused; Kafka writes booleans as 0 or 1.
//! - **`i32`s** are either counts/lengths (structural) or plain values
//!   (node ids, ports, session ids, ...), and a plain value may well exceed
//!   the bytes that follow. A suspicious `i32` (positive and larger than
//!   `max(remaining, SMALL)`) is therefore *substituted* with a harmless value
//!   (0) and the decode continues. If no substitution happened (the common
//!   case) that single pass is the real decode. Otherwise we decode again,
//!   substituting 1 instead, and compare the sequence of reads made after the
//!   first substitution. A plain value does not change what is read next; a
//!   count or length does (0 vs 1 elements or bytes). Identical reads prove
//!   every substituted `i32` was plain, so the real decode, run last on the
//!   original bytes, reads the same structure and cannot reach an unchecked
//!   count. Any difference, or a failure of either guarded pass, refuses the
//!   response: a valid message decodes the same whatever its plain values.
//!
//! Residual risk: the bound is `max(remaining, SMALL)`, so a frame of `n`
//! bytes can still reserve up to about `max(n, SMALL) × size_of::<T>()` of
//! (untouched, briefly held) address space, as with the upstream fixes. An array of
//! elements that occupy zero bytes on the wire would defeat the comparison;
//! no Kafka response schema has such an element (every struct has a field in
//! every version it exists in).

use std::ops::Range;

use bytes::{Buf, Bytes, TryGetError};
use kafka_protocol::protocol::Decodable;
use kafka_protocol::protocol::buf::ByteBuf;

/// Counts and lengths up to this are never suspicious, whatever follows.
/// Keeps tag numbers (small by convention) and common plain values (ports,
/// node ids, epochs) off the slow path; the most a tiny frame can make
/// `kafka-protocol` reserve is `SMALL × size_of::<T>()`, a few MiB of
/// untouched address space.
const SMALL: usize = 1 << 16;

/// Decodes `body` as `T` at `version`, refusing bodies whose counts or
/// lengths exceed the bytes that follow them. The error is a reason.
///
/// `plain_i32_at` lists body offsets known (from the message schema) to hold
/// a plain `i32` rather than a count, such as Fetch's `session_id`; they are
/// never substituted, which keeps hot responses on the one-pass path.
/// Only offsets preceded by fixed-size fields may be listed.
pub(super) fn decode_body<T: Decodable>(
    body: &Bytes,
    version: i16,
    plain_i32_at: &[usize],
) -> Result<T, String> {
    let mut first = Guarded::new(body.clone(), 0, Trace::Record(Vec::new()));
    first.plain_i32_at = plain_i32_at;
    let decoded = T::decode(&mut first, version);
    if let Some(reason) = first.refused.take() {
        return Err(reason);
    }
    if first.substitutions == 0 {
        // Nothing was changed: this was the real decode.
        return decoded.map_err(|e| format!("{e:#}"));
    }
    if let Err(e) = decoded {
        // A valid body decodes whatever its plain values are, so this body
        // is invalid (possibly an impossible count we neutralised).
        return Err(format!("{e:#}"));
    }
    let Trace::Record(expected) = std::mem::replace(&mut first.trace, Trace::Off) else {
        return Err("internal: guard lost its trace".into());
    };
    // Two comparison passes (substituting 1, then 2): a count's change can
    // be masked by the bytes after it (with 0 vs 1 replicas, an `i32`
    // element and the next array's count occupy the same places; found by
    // fuzzing), and masking it for two different counts at once is far
    // harder. Still a heuristic; see the module docs' residual risk.
    for substitute in [1, 2] {
        let mut again = Guarded::new(
            body.clone(),
            substitute,
            Trace::Compare {
                expected: &expected,
                at: 0,
                diverged: false,
            },
        );
        again.plain_i32_at = plain_i32_at;
        let decoded = T::decode(&mut again, version);
        let same_reads = match &again.trace {
            Trace::Compare { at, diverged, .. } => !diverged && *at == expected.len(),
            _ => false,
        };
        if again.refused.is_some()
            || decoded.is_err()
            || !same_reads
            || again.substitutions != first.substitutions
            || again.buf.len() != first.buf.len()
        {
            return Err("a count or length exceeds the bytes that follow it".into());
        }
    }
    T::decode(&mut body.clone(), version).map_err(|e| format!("{e:#}"))
}

/// What a guarded pass does with the reads it sees after the first
/// substitution.
enum Trace<'a> {
    Off,
    Record(Vec<u64>),
    Compare {
        expected: &'a [u64],
        at: usize,
        diverged: bool,
    },
}

/// A read-only view of a body that checks lengths as `kafka-protocol`
/// reads them (see the module docs).
struct Guarded<'a> {
    buf: Bytes,
    len: usize,
    /// The value handed out for a suspicious `i32`.
    substitute: i32,
    substitutions: usize,
    trace: Trace<'a>,
    refused: Option<String>,
    /// Offsets of `i32`s known to be plain values (see `decode_body`).
    plain_i32_at: &'a [usize],
}

impl<'a> Guarded<'a> {
    fn new(buf: Bytes, substitute: i32, trace: Trace<'a>) -> Self {
        Guarded {
            len: buf.len(),
            buf,
            substitute,
            substitutions: 0,
            trace,
            refused: None,
            plain_i32_at: &[],
        }
    }

    fn position(&self) -> usize {
        self.len - self.buf.len()
    }

    /// Notes a read of `cnt` bytes at the current position, once the first
    /// substitution has happened (before it, both passes read the same).
    fn note(&mut self, cnt: usize) {
        if self.substitutions == 0 {
            return;
        }
        // Positions and counts fit in 32 bits: frames are below 2 GiB.
        let event = ((self.position() as u64) << 32) | (cnt as u64 & 0xffff_ffff);
        match &mut self.trace {
            Trace::Off => {}
            Trace::Record(events) => events.push(event),
            Trace::Compare {
                expected,
                at,
                diverged,
            } => {
                if expected.get(*at) == Some(&event) {
                    *at += 1;
                } else {
                    *diverged = true;
                }
            }
        }
    }

    /// Checks the varint that would start at the current position, as
    /// `kafka-protocol` reads one (up to five bytes, low groups first, 32-bit
    /// wrapping). `None` when fine or incomplete (the decoder then fails on
    /// its own).
    fn oversized_varint(&self) -> Option<String> {
        let mut value: u32 = 0;
        for (i, &b) in self.buf.iter().take(5).enumerate() {
            value |= u32::from(b & 0x7f) << (i * 7);
            if b < 0x80 || i == 4 {
                let after = self.buf.len() - (i + 1);
                let bound = after.max(SMALL) + 1;
                return (value as usize > bound).then(|| {
                    format!(
                        "length or count {value} at byte {} exceeds the {after} bytes that follow",
                        self.position()
                    )
                });
            }
        }
        None
    }
}

impl Buf for Guarded<'_> {
    fn remaining(&self) -> usize {
        self.buf.len()
    }

    fn chunk(&self) -> &[u8] {
        &self.buf
    }

    fn advance(&mut self, cnt: usize) {
        // Callers check `remaining` first; clamp anyway so a bad count can
        // never panic here.
        let cnt = cnt.min(self.buf.len());
        self.note(cnt);
        self.buf.advance(cnt);
    }

    fn try_get_u8(&mut self) -> Result<u8, TryGetError> {
        if let Some(reason) = self.oversized_varint() {
            self.refused = Some(reason);
            return Err(TryGetError {
                requested: 1,
                available: 0,
            });
        }
        let Some(&b) = self.buf.first() else {
            return Err(TryGetError {
                requested: 1,
                available: 0,
            });
        };
        self.advance(1);
        Ok(b)
    }

    fn try_get_i32(&mut self) -> Result<i32, TryGetError> {
        let Some(bytes) = self.buf.get(..4) else {
            return Err(TryGetError {
                requested: 4,
                available: self.buf.len(),
            });
        };
        let mut raw = [0u8; 4];
        raw.copy_from_slice(bytes);
        let v = i32::from_be_bytes(raw);
        let after = self.buf.len() - 4;
        let suspicious =
            v > 0 && v as usize > after.max(SMALL) && !self.plain_i32_at.contains(&self.position());
        let value = if suspicious {
            // Either a plain value or an impossible count; see module docs.
            self.substitutions += 1;
            self.substitute
        } else {
            v
        };
        self.advance(4);
        Ok(value)
    }
}

impl ByteBuf for Guarded<'_> {
    fn peek_bytes(&mut self, r: Range<usize>) -> Bytes {
        // Only reached through `try_peek_bytes`, which checks the range;
        // stay panic-free regardless.
        let end = r.end.min(self.buf.len());
        let start = r.start.min(end);
        self.buf.slice(start..end)
    }

    fn get_bytes(&mut self, size: usize) -> Bytes {
        let size = size.min(self.buf.len());
        self.note(size);
        self.buf.split_to(size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzz_regression_masked_replica_count_is_refused() {
        use kafka_protocol::messages::MetadataResponse;
        // Metadata v1 body (after the correlation id) whose replica count
        // 704643072 reads exactly like a plain value when replaced by 0 or
        // 1: the isr count that follows lines up with the one element.
        let body: &[u8] = &[
            0, 0, 0, 0, 9, 9, 5, 246, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 246, 0, 0,
            0, 1, 0, 42, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 2, 73, 229, 109, 182,
            219, 146,
        ];
        let r = decode_body::<MetadataResponse>(&Bytes::from_static(body), 1, &[]);
        assert!(r.is_err(), "the impossible count must be refused");
    }
    use bytes::{BufMut, BytesMut};
    use kafka_protocol::messages::metadata_response::{
        MetadataResponseBroker, MetadataResponseTopic,
    };
    use kafka_protocol::messages::{BrokerId, FetchResponse, MetadataResponse, TopicName};
    use kafka_protocol::protocol::{Encodable, StrBytes};
    use proptest::prelude::*;

    fn encode<T: Encodable>(msg: &T, version: i16) -> Bytes {
        let mut b = BytesMut::new();
        msg.encode(&mut b, version).unwrap();
        b.freeze()
    }

    /// A Metadata response whose plain `i32`s exceed the bytes after them
    /// (a port and a node id at the very end), which is valid.
    fn big_plain_values() -> MetadataResponse {
        MetadataResponse::default()
            .with_throttle_time_ms(1_000_000)
            .with_brokers(vec![
                MetadataResponseBroker::default()
                    .with_node_id(BrokerId(2_000_000_000))
                    .with_host(StrBytes::from_static_str("h"))
                    .with_port(65_000),
            ])
            .with_controller_id(BrokerId(1_500_000_000))
    }

    #[test]
    fn valid_bodies_with_large_plain_values_decode_exactly() {
        for version in [1i16, 5, 8, 9, 12] {
            let msg = big_plain_values();
            let body = encode(&msg, version);
            // The slow path (substitution, second pass, real decode) is taken.
            let mut probe = Guarded::new(body.clone(), 0, Trace::Off);
            MetadataResponse::decode(&mut probe, version).unwrap();
            assert!(probe.substitutions > 0, "v{version}");
            let got: MetadataResponse = decode_body(&body, version, &[]).unwrap();
            let want = MetadataResponse::decode(&mut body.clone(), version).unwrap();
            assert_eq!(got, want, "v{version}");
            assert_eq!(got.brokers[0].port, 65_000);
            assert_eq!(got.controller_id, BrokerId(1_500_000_000));
        }
    }

    #[test]
    fn huge_array_count_is_refused_before_kafka_protocol_allocates() {
        // Metadata v1: brokers array with i32 count 0x7fff_ffff and no
        // elements. Unguarded, this asks for ~2^31 × size_of(broker).
        let mut b = BytesMut::new();
        b.put_i32(i32::MAX);
        assert!(decode_body::<MetadataResponse>(&b.freeze(), 1, &[]).is_err());

        // Metadata v12 (flexible): compact array count u32::MAX via varint.
        let body = Bytes::from_static(&[0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f]);
        let err = decode_body::<MetadataResponse>(&body, 12, &[]).unwrap_err();
        assert!(err.contains("exceeds"), "{err}");
    }

    #[test]
    fn huge_count_hidden_behind_a_plain_value_is_refused() {
        // Fetch v4: throttle (i32), then responses array count: a huge count
        // that the first pass substitutes like a plain value.
        let mut b = BytesMut::new();
        b.put_i32(0);
        b.put_i32(0x4000_0000);
        b.put_slice(&[0; 16]);
        assert!(decode_body::<FetchResponse>(&b.freeze(), 4, &[]).is_err());
    }

    #[test]
    fn truncated_body_reports_kafka_protocols_reason() {
        let body = encode(&big_plain_values(), 9);
        let cut = body.slice(..body.len() - 3);
        assert!(decode_body::<MetadataResponse>(&cut, 9, &[]).is_err());
    }

    proptest! {
        /// The guard returns exactly what kafka-protocol returns for every
        /// valid body, including ones with large plain values.
        #[test]
        fn guard_is_transparent_for_valid_bodies(
            version in 0i16..=12,
            throttle in any::<i32>(),
            controller in any::<i32>(),
            brokers in prop::collection::vec((any::<i32>(), "[a-z]{0,12}", any::<i32>()), 0..4),
            topics in prop::collection::vec(("[a-z]{1,8}", any::<bool>()), 0..4),
        ) {
            let msg = MetadataResponse::default()
                .with_throttle_time_ms(if version >= 3 { throttle } else { 0 })
                .with_controller_id(BrokerId(if version >= 1 { controller } else { -1 }))
                .with_brokers(brokers.iter().map(|(id, host, port)| {
                    MetadataResponseBroker::default()
                        .with_node_id(BrokerId(*id))
                        .with_host(StrBytes::from_string(host.clone()))
                        .with_port(*port)
                }).collect())
                .with_topics(topics.iter().map(|(name, internal)| {
                    MetadataResponseTopic::default()
                        .with_name(Some(TopicName(StrBytes::from_string(name.clone()))))
                        .with_is_internal(version >= 1 && *internal)
                }).collect());
            let body = encode(&msg, version);
            let got: MetadataResponse = decode_body(&body, version, &[]).unwrap();
            let want = MetadataResponse::decode(&mut body.clone(), version).unwrap();
            prop_assert_eq!(got, want);
        }

        /// Arbitrary bytes never panic or abort through the guard.
        #[test]
        fn arbitrary_bodies_never_panic(data in prop::collection::vec(any::<u8>(), 0..256), version in 0i16..=12) {
            let body = Bytes::from(data);
            let _ = decode_body::<MetadataResponse>(&body, version, &[]);
            let _ = decode_body::<FetchResponse>(&body, version.max(4), &[0, 6]);
        }
    }
}
