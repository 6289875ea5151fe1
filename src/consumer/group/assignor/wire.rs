//! The "consumer" embedded protocol: how a [`Subscription`] travels in
//! JoinGroup protocol metadata and an [`Assignment`] in SyncGroup, as Java's
//! `ConsumerProtocol` writes them: a big-endian `i16` version, then the body
//! of `ConsumerProtocolSubscription` / `ConsumerProtocolAssignment` at that
//! version (0..=3, never flexible).
//!
//! Decoding is for bytes written by other group members and relayed by the
//! broker, so it trusts nothing. `kafka-protocol` 0.18 reserves
//! `Vec::with_capacity(count)` for an array count read straight off the wire;
//! we therefore walk the body first with our own reader, which refuses any count
//! larger than the bytes after it can hold, and only then let
//! `kafka-protocol` decode it. Its reservations are then bounded by the input
//! length (times the size of a decoded element).
//!
//! A version above 3 is decoded as version 3, as Java does: later versions
//! only append fields, so the known prefix is still valid and the rest is
//! ignored. Trailing bytes are ignored for the same reason.

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition as AssignedTopic;
use kafka_protocol::messages::consumer_protocol_subscription::TopicPartition as OwnedTopic;
use kafka_protocol::messages::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use super::{Assignment, Subscription};
use crate::TopicPartition;
use crate::error::{Context, Error, Result};

/// The highest consumer protocol version this crate knows (subscription v3
/// added `rack_id`, KIP-881).
pub const MAX_VERSION: i16 = 3;

/// Smallest wire size of a string (its `i16` length).
const MIN_STRING: usize = 2;
/// Smallest wire size of a `{topic, partitions}` entry: empty topic name and
/// empty partition array.
const MIN_TOPIC_ENTRY: usize = MIN_STRING + 4;
/// Wire size of an `i32` array element.
const INT32: usize = 4;

/// Encodes `subscription` as JoinGroup protocol metadata at `version`
/// (0..=3). Fields the version lacks are left out, as Java does.
///
/// Fails only for a version outside 0..=3 or a string too long for the wire
/// (more than 32767 bytes), which no valid topic or rack id is.
pub fn encode_subscription(subscription: &Subscription, version: i16) -> Result<Bytes> {
    check_encode_version(version)?;
    let message = ConsumerProtocolSubscription::default()
        .with_topics(
            subscription
                .topics
                .iter()
                .map(|t| StrBytes::from_string(t.clone()))
                .collect(),
        )
        .with_user_data(subscription.user_data.clone())
        .with_owned_partitions(
            group_by_topic(&subscription.owned_partitions)
                .into_iter()
                .map(|(topic, partitions)| {
                    OwnedTopic::default()
                        .with_topic(TopicName(StrBytes::from_string(topic.to_owned())))
                        .with_partitions(partitions)
                })
                .collect(),
        )
        .with_generation_id(subscription.generation_id.unwrap_or(-1))
        .with_rack_id(subscription.rack_id.clone().map(StrBytes::from_string));
    encode_versioned(&message, version, "JoinGroup")
}

/// Decodes JoinGroup protocol metadata written by any consumer (Java,
/// librdkafka, kafkit) into a [`Subscription`].
pub fn decode_subscription(data: Bytes) -> Result<Subscription> {
    let (version, body) = split_version(data, "JoinGroup")?;
    check_subscription_body(&body, version).map_err(|e| invalid(e, "JoinGroup"))?;
    let decoded = ConsumerProtocolSubscription::decode(&mut body.clone(), version)
        .map_err(|e| invalid(format!("{e:#}"), "JoinGroup"))?;
    Ok(Subscription {
        topics: decoded.topics.iter().map(|t| t.to_string()).collect(),
        user_data: decoded.user_data,
        owned_partitions: decoded
            .owned_partitions
            .iter()
            .flat_map(|t| {
                let topic: std::sync::Arc<str> = std::sync::Arc::from(t.topic.0.as_str());
                t.partitions
                    .iter()
                    .map(move |&p| TopicPartition::new(topic.clone(), p))
            })
            .collect(),
        // Before v2 the field does not exist and kafka-protocol reports -1.
        generation_id: (decoded.generation_id != -1).then_some(decoded.generation_id),
        rack_id: decoded.rack_id.map(|r| r.to_string()),
    })
}

/// Encodes `assignment` as SyncGroup member assignment bytes at `version`
/// (0..=3; the body is the same in all of them).
pub fn encode_assignment(assignment: &Assignment, version: i16) -> Result<Bytes> {
    check_encode_version(version)?;
    let message = ConsumerProtocolAssignment::default()
        .with_assigned_partitions(
            group_by_topic(&assignment.partitions)
                .into_iter()
                .map(|(topic, partitions)| {
                    AssignedTopic::default()
                        .with_topic(TopicName(StrBytes::from_string(topic.to_owned())))
                        .with_partitions(partitions)
                })
                .collect(),
        )
        .with_user_data(assignment.user_data.clone());
    encode_versioned(&message, version, "SyncGroup")
}

/// Decodes SyncGroup member assignment bytes into an [`Assignment`]
/// (partitions sorted).
///
/// Empty input is an empty assignment: the broker sends no bytes to members
/// the leader left out, and Java treats that the same way.
pub fn decode_assignment(data: Bytes) -> Result<Assignment> {
    if data.is_empty() {
        return Ok(Assignment::default());
    }
    let (version, body) = split_version(data, "SyncGroup")?;
    check_assignment_body(&body).map_err(|e| invalid(e, "SyncGroup"))?;
    let decoded = ConsumerProtocolAssignment::decode(&mut body.clone(), version)
        .map_err(|e| invalid(format!("{e:#}"), "SyncGroup"))?;
    let mut partitions: Vec<TopicPartition> = decoded
        .assigned_partitions
        .iter()
        .flat_map(|t| {
            let topic: std::sync::Arc<str> = std::sync::Arc::from(t.topic.0.as_str());
            t.partitions
                .iter()
                .map(move |&p| TopicPartition::new(topic.clone(), p))
        })
        .collect();
    partitions.sort();
    partitions.dedup();
    Ok(Assignment {
        partitions,
        user_data: decoded.user_data,
    })
}

fn check_encode_version(version: i16) -> Result<()> {
    if (0..=MAX_VERSION).contains(&version) {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            reason: format!("consumer protocol version {version} is not in 0..={MAX_VERSION}"),
            context: Context::default(),
        })
    }
}

fn encode_versioned<M: Encodable>(message: &M, version: i16, api: &'static str) -> Result<Bytes> {
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&version.to_be_bytes());
    message
        .encode(&mut buf, version)
        .map_err(|e| Error::InvalidArgument {
            reason: format!("cannot encode consumer protocol message: {e:#}"),
            context: Context::api(api),
        })?;
    Ok(buf.freeze())
}

/// Partitions grouped by topic, topics and partitions sorted, so encodings
/// are deterministic.
fn group_by_topic(partitions: &[TopicPartition]) -> BTreeMap<&str, Vec<i32>> {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in partitions {
        by_topic.entry(&tp.topic).or_default().push(tp.partition);
    }
    for list in by_topic.values_mut() {
        list.sort_unstable();
        list.dedup();
    }
    by_topic
}

/// Splits off the version header, mapping versions above the known ones to
/// the highest known (see the module docs).
fn split_version(mut data: Bytes, api: &'static str) -> Result<(i16, Bytes)> {
    let mut reader = Reader::new(&data);
    let version = reader
        .i16()
        .map_err(|e| invalid(format!("version: {e}"), api))?;
    if version < 0 {
        return Err(invalid(
            format!("negative consumer protocol version {version}"),
            api,
        ));
    }
    let body = data.split_off(2);
    Ok((version.min(MAX_VERSION), body))
}

fn invalid(reason: impl std::fmt::Display, api: &'static str) -> Error {
    Error::protocol(
        format!("invalid consumer protocol data: {reason}"),
        Context::api(api),
    )
}

/// Walks a subscription body, checking every count and length.
fn check_subscription_body(body: &[u8], version: i16) -> std::result::Result<(), String> {
    let mut r = Reader::new(body);
    let topics = r.count(MIN_STRING).map_err(|e| format!("topics: {e}"))?;
    for _ in 0..topics {
        r.string().map_err(|e| format!("topic: {e}"))?;
    }
    r.nullable_bytes().map_err(|e| format!("user data: {e}"))?;
    if version >= 1 {
        topic_entries(&mut r).map_err(|e| format!("owned partitions: {e}"))?;
    }
    if version >= 2 {
        r.i32().map_err(|e| format!("generation: {e}"))?;
    }
    if version >= 3 {
        r.nullable_string().map_err(|e| format!("rack id: {e}"))?;
    }
    Ok(())
}

/// Walks an assignment body, checking every count and length.
fn check_assignment_body(body: &[u8]) -> std::result::Result<(), String> {
    let mut r = Reader::new(body);
    topic_entries(&mut r).map_err(|e| format!("assigned partitions: {e}"))?;
    r.nullable_bytes().map_err(|e| format!("user data: {e}"))?;
    Ok(())
}

/// Walks a `[{topic: string, partitions: [int32]}]` array, the shape shared
/// by owned partitions, assigned partitions and sticky user data.
fn topic_entries(r: &mut Reader<'_>) -> std::result::Result<(), &'static str> {
    let entries = r.count(MIN_TOPIC_ENTRY)?;
    for _ in 0..entries {
        r.string()?;
        let partitions = r.count(INT32)?;
        r.skip(partitions * INT32)?;
    }
    Ok(())
}

/// A bounds-checked reader of the classic (non-flexible) Kafka encoding.
///
/// Every read fails instead of panicking, and [`Reader::count`] refuses an
/// array count whose elements could not fit in the bytes left, which is what
/// keeps allocation sized by counts bounded by the input length.
pub(super) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub(super) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// The next `n` bytes.
    pub(super) fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], &'static str> {
        if n > self.buf.len() {
            return Err("truncated");
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// Skips `n` bytes.
    pub(super) fn skip(&mut self, n: usize) -> std::result::Result<(), &'static str> {
        self.take(n).map(|_| ())
    }

    /// A big-endian `i16`.
    pub(super) fn i16(&mut self) -> std::result::Result<i16, &'static str> {
        let b = self.take(2)?.try_into().map_err(|_| "truncated")?;
        Ok(i16::from_be_bytes(b))
    }

    /// A big-endian `i32`.
    pub(super) fn i32(&mut self) -> std::result::Result<i32, &'static str> {
        let b = self.take(4)?.try_into().map_err(|_| "truncated")?;
        Ok(i32::from_be_bytes(b))
    }

    /// The element count of a non-nullable array whose elements take at
    /// least `min_element` bytes each: negative counts and counts that
    /// cannot fit in the remaining bytes are refused.
    pub(super) fn count(&mut self, min_element: usize) -> std::result::Result<usize, &'static str> {
        let n = self.i32()?;
        let n = usize::try_from(n).map_err(|_| "negative array count")?;
        if n.saturating_mul(min_element.max(1)) > self.buf.len() {
            return Err("array count exceeds the bytes that follow");
        }
        Ok(n)
    }

    /// A non-null string's bytes (`i16` length).
    pub(super) fn string(&mut self) -> std::result::Result<&'a [u8], &'static str> {
        self.nullable_string()?.ok_or("null string")
    }

    /// A nullable string's bytes (`i16` length, -1 for null).
    pub(super) fn nullable_string(
        &mut self,
    ) -> std::result::Result<Option<&'a [u8]>, &'static str> {
        let len = self.i16()?;
        match len {
            -1 => Ok(None),
            n if n < 0 => Err("negative string length"),
            n => self.take(n as usize).map(Some),
        }
    }

    /// Nullable bytes (`i32` length, -1 for null).
    pub(super) fn nullable_bytes(&mut self) -> std::result::Result<Option<&'a [u8]>, &'static str> {
        let len = self.i32()?;
        match len {
            -1 => Ok(None),
            n if n < 0 => Err("negative bytes length"),
            n => self.take(n as usize).map(Some),
        }
    }
}
