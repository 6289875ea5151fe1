//! The user data of Java's eager `StickyAssignor` (`StickyAssignorUserData`,
//! KIP-54 and KIP-341) and of its `CooperativeStickyAssignor`.
//!
//! Sticky (eager) members revoke everything before they rejoin, so the
//! subscription's owned partitions are empty; the previous assignment
//! travels in the user data instead, without a version prefix:
//!
//! - v0: `[{topic: string, partitions: [int32]}]`
//! - v1 (KIP-341): v0 followed by `generation: int32`, the group generation
//!   of that assignment, so the leader can tell a stale claim from a current
//!   one.
//!
//! Readers try v1 and fall back to v0, as Java does; data that is neither is
//! ignored by the assignor (Java: empty assignment, generation -1).
//!
//! Cooperative-sticky members send their owned partitions in the
//! subscription itself; their user data is just `generation: int32`, used
//! when the subscription is older than v2 and has no generation field.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};

use super::super::wire::Reader;
use crate::TopicPartition;
use crate::error::{Context, Error, Result};

/// Decoded `StickyAssignorUserData`: a member's previous assignment and,
/// from v1, the generation it belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StickyUserData {
    /// The partitions the member had in its last assignment.
    pub partitions: Vec<TopicPartition>,
    /// The group generation of that assignment (`None` in v0 data).
    pub generation: Option<i32>,
}

/// Encodes sticky user data as Java's `StickyAssignor` writes it: v1 when a
/// generation is given, otherwise v0. Partitions are grouped by topic, both
/// sorted.
///
/// Fails only for a topic name longer than 32767 bytes, which Kafka does not
/// allow.
pub fn encode_sticky_user_data(
    partitions: &[TopicPartition],
    generation: Option<i32>,
) -> Result<Bytes> {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in partitions {
        by_topic.entry(&tp.topic).or_default().push(tp.partition);
    }
    let mut buf = BytesMut::new();
    buf.put_i32(wire_len(by_topic.len())?);
    for (topic, mut list) in by_topic {
        list.sort_unstable();
        list.dedup();
        let len = i16::try_from(topic.len()).map_err(|_| Error::InvalidArgument {
            reason: format!("topic name of {} bytes is too long", topic.len()),
            context: Context::default(),
        })?;
        buf.put_i16(len);
        buf.put_slice(topic.as_bytes());
        buf.put_i32(wire_len(list.len())?);
        for p in list {
            buf.put_i32(p);
        }
    }
    if let Some(generation) = generation {
        buf.put_i32(generation);
    }
    Ok(buf.freeze())
}

fn wire_len(n: usize) -> Result<i32> {
    i32::try_from(n).map_err(|_| Error::InvalidArgument {
        reason: format!("{n} elements do not fit a Kafka array"),
        context: Context::default(),
    })
}

/// Decodes sticky user data: v1 if the bytes hold a generation after the
/// assignment, else v0. Allocation is bounded by the input length (every
/// count is checked against the bytes that follow it).
pub fn decode_sticky_user_data(data: &[u8]) -> Result<StickyUserData> {
    let mut r = Reader::new(data);
    let partitions = read_assignment(&mut r).map_err(|e| {
        Error::protocol(
            format!("invalid sticky assignor user data: {e}"),
            Context::api("JoinGroup"),
        )
    })?;
    // Java reads v1 first; it succeeds whenever four bytes follow the
    // assignment, and fails back to v0 otherwise.
    let generation = r.i32().ok();
    Ok(StickyUserData {
        partitions,
        generation,
    })
}

fn read_assignment(r: &mut Reader<'_>) -> std::result::Result<Vec<TopicPartition>, &'static str> {
    // An entry takes at least 6 bytes (empty name, empty array) and a
    // partition 4, so `partitions` below never exceeds data.len() / 4.
    let entries = r.count(6)?;
    let mut partitions = Vec::new();
    for _ in 0..entries {
        // Java decodes names leniently (invalid UTF-8 becomes U+FFFD); such
        // a name matches no topic and is dropped by the assignor.
        let topic: Arc<str> = Arc::from(String::from_utf8_lossy(r.string()?).as_ref());
        let n = r.count(4)?;
        partitions.reserve(n);
        for _ in 0..n {
            partitions.push(TopicPartition::new(topic.clone(), r.i32()?));
        }
    }
    Ok(partitions)
}

/// Encodes the cooperative-sticky user data: the generation alone, as a
/// big-endian `i32` (Java writes -1 before the first assignment).
pub fn encode_cooperative_user_data(generation: Option<i32>) -> Bytes {
    Bytes::copy_from_slice(&generation.unwrap_or(-1).to_be_bytes())
}

/// Decodes the cooperative-sticky user data. Like Java, bytes that do not
/// hold a generation count as generation -1.
pub fn decode_cooperative_user_data(data: &[u8]) -> i32 {
    Reader::new(data).i32().unwrap_or(-1)
}
