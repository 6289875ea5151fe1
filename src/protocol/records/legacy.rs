//! Legacy message sets (magic v0 and v1), decode only, so topics written by
//! pre-0.11 clients stay readable.
//!
//! ```text
//! offset: int64 | messageSize: int32 | crc: uint32 (crc32 IEEE of magic..end)
//! magic: int8 | attributes: int8 | timestamp: int64 (v1 only)
//! key: int32-length bytes | value: int32-length bytes
//! ```
//! A compressed message wraps a whole inner message set in its value. In v1
//! the inner offsets are relative and the wrapper carries the absolute
//! offset of the last inner message.

use bytes::Bytes;

use super::batch::{LegacyHeader, RecordBatch};
use super::compression::decompress;
use super::{Compression, Record, records_error};
use crate::error::Result;
use crate::protocol::primitives::Reader;

/// Smallest legal `messageSize` (v0: crc, magic, attributes, two null lengths).
pub(crate) const MIN_MESSAGE_LEN: i32 = 14;

struct Message {
    offset: i64,
    magic: i8,
    attributes: i8,
    timestamp: i64,
    key: Option<Bytes>,
    value: Option<Bytes>,
}

fn parse(r: &mut Reader) -> Result<Message> {
    let trunc = |_| records_error("legacy message truncated");
    let offset = r.i64().map_err(trunc)?;
    let size = r.i32().map_err(trunc)?;
    if size < MIN_MESSAGE_LEN || size as usize > r.remaining() {
        return Err(records_error(format!(
            "legacy message size {size} is invalid"
        )));
    }
    let body = r.bytes(size as usize).map_err(trunc)?;
    let mut m = Reader::new(body.clone());
    let crc = m.u32().map_err(trunc)?;
    let mut hasher = flate2::Crc::new();
    hasher.update(&body[4..]);
    if hasher.sum() != crc {
        return Err(records_error(format!(
            "CRC mismatch in legacy message at offset {offset}"
        )));
    }
    let magic = m.i8().map_err(trunc)?;
    let attributes = m.i8().map_err(trunc)?;
    let timestamp = match magic {
        0 => -1,
        1 => m.i64().map_err(trunc)?,
        other => {
            return Err(records_error(format!(
                "unexpected magic {other} in a legacy message set"
            )));
        }
    };
    let key = m.i32_bytes().map_err(trunc)?;
    let value = m.i32_bytes().map_err(trunc)?;
    Ok(Message {
        offset,
        magic,
        attributes,
        timestamp,
        key,
        value,
    })
}

fn record(m: Message, offset: i64, timestamp: i64) -> Record {
    Record {
        offset,
        timestamp,
        key: m.key,
        value: m.value,
        headers: Vec::new(),
    }
}

/// Decodes one top-level legacy message (possibly a compressed wrapper)
/// into a batch view.
pub(crate) fn decode_message(bytes: Bytes, max_decompressed: usize) -> Result<RecordBatch> {
    let wrapper = parse(&mut Reader::new(bytes))?;
    let codec = Compression::from_attributes(i16::from(wrapper.attributes))
        .ok_or_else(|| records_error("unknown compression in legacy message"))?;
    let log_append = wrapper.attributes & 0x08 != 0;
    let header = |first: i64, last: i64, timestamp: i64| LegacyHeader {
        base_offset: first,
        magic: wrapper.magic,
        attributes: i16::from(wrapper.attributes) & 0x0f,
        last_offset_delta: (last - first).clamp(0, i64::from(i32::MAX)) as i32,
        timestamp,
    };
    if codec == Compression::None {
        let (offset, ts) = (wrapper.offset, wrapper.timestamp);
        let h = header(offset, offset, ts);
        return Ok(RecordBatch::legacy(h, vec![record(wrapper, offset, ts)]));
    }

    let compressed = wrapper
        .value
        .as_ref()
        .ok_or_else(|| records_error("compressed legacy message without value"))?;
    let inner = Bytes::from(decompress(codec, compressed, max_decompressed)?);
    let mut r = Reader::new(inner);
    let mut messages = Vec::new();
    while r.remaining() > 0 {
        let m = parse(&mut r)?;
        if m.attributes & 0x07 != 0 {
            return Err(records_error("nested compression in a legacy message set"));
        }
        messages.push(m);
    }
    let last_inner = messages.last().map_or(0, |m| m.offset);
    let mut records = Vec::with_capacity(messages.len());
    for m in messages {
        // v1: inner offsets are relative to the wrapper's (last) offset.
        let offset = if wrapper.magic >= 1 {
            wrapper.offset - last_inner + m.offset
        } else {
            m.offset
        };
        let ts = if log_append {
            wrapper.timestamp
        } else {
            m.timestamp
        };
        records.push(record(m, offset, ts));
    }
    let first = records.first().map_or(wrapper.offset, |r| r.offset);
    let last = records.last().map_or(wrapper.offset, |r| r.offset);
    Ok(RecordBatch::legacy(
        header(first, last, wrapper.timestamp),
        records,
    ))
}
