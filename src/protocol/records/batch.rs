//! RecordBatch v2 decoding.
//!
//! ```text
//! baseOffset: int64            | batchLength: int32 (bytes after this field)
//! partitionLeaderEpoch: int32  | magic: int8 (2) | crc: uint32 (crc32c of attributes..end)
//! attributes: int16            | lastOffsetDelta: int32
//! baseTimestamp: int64         | maxTimestamp: int64
//! producerId: int64            | producerEpoch: int16 | baseSequence: int32
//! records: [Record]            (int32 count, then each record varint-length-prefixed)
//! ```

use bytes::Bytes;

use super::compression::{DEFAULT_MAX_DECOMPRESSED, decompress};
use super::legacy;
use super::{Compression, Header, Record, TimestampType, records_error};
use crate::error::Result;
use crate::protocol::primitives::Reader;

/// Size of the v2 batch header up to and including the record count.
pub(crate) const V2_HEADER_LEN: usize = 61;
/// Offset of the magic byte in every format (v0, v1, v2).
const MAGIC_OFFSET: usize = 16;
/// Where the CRC-covered region starts in v2.
pub(crate) const CRC_START: usize = 21;

/// One batch: the v2 header fields and its records (lazily decoded). A
/// legacy v0/v1 message set is presented as batches too, with the records
/// already decoded.
#[derive(Debug, Clone)]
pub struct RecordBatch {
    /// Offset of the first record.
    pub base_offset: i64,
    /// Leader epoch when the batch was appended (-1 for legacy).
    pub partition_leader_epoch: i32,
    /// Format version: 2, or 0/1 for legacy message sets.
    pub magic: i8,
    /// Raw attributes (compression, timestamp type, transactional, control).
    pub attributes: i16,
    /// Offset of the last record relative to `base_offset`.
    pub last_offset_delta: i32,
    /// Timestamp of the first record (or the batch's log append time).
    pub base_timestamp: i64,
    /// Largest timestamp in the batch.
    pub max_timestamp: i64,
    /// Idempotent/transactional producer id, -1 if none.
    pub producer_id: i64,
    /// Producer epoch, -1 if none.
    pub producer_epoch: i16,
    /// Sequence number of the first record, -1 if none.
    pub base_sequence: i32,
    /// Records declared in the header.
    pub record_count: i32,
    body: Body,
}

#[derive(Debug, Clone)]
enum Body {
    /// Uncompressed v2 records (a slice of the input or of the inflated buffer).
    V2(Bytes),
    /// Legacy messages, decoded up front (they carry a CRC each).
    Legacy(Vec<Record>),
}

impl RecordBatch {
    /// Offset of the last record.
    pub fn last_offset(&self) -> i64 {
        self.base_offset + i64::from(self.last_offset_delta)
    }

    /// The batch's compression codec (`None` if the bits are invalid).
    pub fn compression(&self) -> Option<Compression> {
        Compression::from_attributes(self.attributes)
    }

    /// How timestamps were set.
    pub fn timestamp_type(&self) -> TimestampType {
        if self.attributes & 0x08 != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    /// Part of a transaction.
    pub fn is_transactional(&self) -> bool {
        self.attributes & 0x10 != 0
    }

    /// A control batch (transaction commit/abort markers).
    pub fn is_control(&self) -> bool {
        self.attributes & 0x20 != 0
    }

    /// Iterates the records. A malformed record yields an error and ends
    /// the iteration.
    pub fn records(&self) -> Records {
        match &self.body {
            Body::V2(data) => Records::V2 {
                data: data.clone(),
                pos: 0,
                left: self.record_count.max(0) as u32,
                base_offset: self.base_offset,
                base_timestamp: self.base_timestamp,
                log_append: match self.timestamp_type() {
                    TimestampType::LogAppendTime => Some(self.max_timestamp),
                    TimestampType::CreateTime => None,
                },
            },
            Body::Legacy(records) => Records::Legacy(records.clone().into_iter()),
        }
    }

    pub(crate) fn legacy(header: LegacyHeader, records: Vec<Record>) -> RecordBatch {
        RecordBatch {
            base_offset: header.base_offset,
            partition_leader_epoch: -1,
            magic: header.magic,
            attributes: header.attributes,
            last_offset_delta: header.last_offset_delta,
            base_timestamp: header.timestamp,
            max_timestamp: header.timestamp,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            record_count: records.len() as i32,
            body: Body::Legacy(records),
        }
    }
}

/// The header fields a legacy message contributes to its batch view.
pub(crate) struct LegacyHeader {
    pub base_offset: i64,
    pub magic: i8,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub timestamp: i64,
}

/// Iterator over the records of one batch.
#[derive(Debug)]
pub enum Records {
    /// Lazily decoded v2 records.
    #[doc(hidden)]
    V2 {
        data: Bytes,
        pos: usize,
        left: u32,
        base_offset: i64,
        base_timestamp: i64,
        log_append: Option<i64>,
    },
    /// Pre-decoded legacy records.
    #[doc(hidden)]
    Legacy(std::vec::IntoIter<Record>),
}

impl Iterator for Records {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Result<Record>> {
        match self {
            Records::Legacy(it) => it.next().map(Ok),
            Records::V2 {
                data,
                pos,
                left,
                base_offset,
                base_timestamp,
                log_append,
            } => {
                if *left == 0 {
                    return None;
                }
                *left -= 1;
                let r = decode_record(data, pos, *base_offset, *base_timestamp, *log_append);
                if r.is_err() {
                    *left = 0;
                }
                Some(r)
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Records::V2 { left, .. } => (0, Some(*left as usize)),
            Records::Legacy(it) => it.size_hint(),
        }
    }
}

/// Decodes the record at `*pos` of `data`, advancing `*pos` past it.
///
/// The hot path of consumption, so it works on a plain slice bounded by the
/// record's own length (one bounds check per field, no per-field error
/// mapping) and only touches `Bytes` to hand out the key/value/header slices.
fn decode_record(
    data: &Bytes,
    pos: &mut usize,
    base_offset: i64,
    base_timestamp: i64,
    log_append: Option<i64>,
) -> Result<Record> {
    let all: &[u8] = data;
    let len = varint(all, pos).ok_or_else(|| records_error("record length truncated"))?;
    let end = usize::try_from(len)
        .ok()
        .and_then(|l| pos.checked_add(l))
        .filter(|end| *end <= all.len())
        .ok_or_else(|| records_error(format!("record length {len} exceeds the batch")))?;
    // Every read below is bounded by this record's own bytes.
    let rec = &all[..end];
    let malformed = || records_error("malformed record");
    let mut p = *pos + 1; // attributes: unused
    let ts_delta = varlong(rec, &mut p).ok_or_else(malformed)?;
    let offset_delta = varint(rec, &mut p).ok_or_else(malformed)?;
    let key = field(data, rec, &mut p).ok_or_else(malformed)?;
    let value = field(data, rec, &mut p).ok_or_else(malformed)?;
    let header_count = varint(rec, &mut p).ok_or_else(malformed)?;
    if header_count < 0 {
        return Err(records_error(format!(
            "negative header count {header_count}"
        )));
    }
    // Each header takes at least two bytes: never reserve more than the record holds.
    let mut headers = Vec::with_capacity((header_count as usize).min(end.saturating_sub(p) / 2));
    for _ in 0..header_count {
        let key = field(data, rec, &mut p)
            .ok_or_else(malformed)?
            .ok_or_else(|| records_error("null header key"))?;
        let value = field(data, rec, &mut p).ok_or_else(malformed)?;
        headers.push(Header { key, value });
    }
    if p != end {
        return Err(records_error("record length does not match its fields"));
    }
    *pos = end;
    Ok(Record {
        offset: base_offset.wrapping_add(i64::from(offset_delta)),
        timestamp: log_append.unwrap_or_else(|| base_timestamp.wrapping_add(ts_delta)),
        key,
        value,
        headers,
    })
}

#[inline(always)]
fn uvarint(buf: &[u8], pos: &mut usize, max_bytes: usize) -> Option<u64> {
    let first = *buf.get(*pos)?;
    if first < 0x80 {
        *pos += 1;
        return Some(u64::from(first));
    }
    let mut value = u64::from(first & 0x7f);
    for i in 1..max_bytes {
        let b = *buf.get(*pos + i)?;
        value |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            *pos += i + 1;
            return Some(value);
        }
    }
    None
}

#[inline(always)]
fn varint(buf: &[u8], pos: &mut usize) -> Option<i32> {
    let u = uvarint(buf, pos, 5)? as u32;
    Some(((u >> 1) as i32) ^ -((u & 1) as i32))
}

#[inline(always)]
fn varlong(buf: &[u8], pos: &mut usize) -> Option<i64> {
    let u = uvarint(buf, pos, 10)?;
    Some(((u >> 1) as i64) ^ -((u & 1) as i64))
}

/// A varint-length-prefixed field (-1 = null) as a slice of `data`;
/// `Some(None)` for null, `None` when malformed.
#[inline(always)]
fn field(data: &Bytes, rec: &[u8], pos: &mut usize) -> Option<Option<Bytes>> {
    let len = varint(rec, pos)?;
    if len < 0 {
        return Some(None);
    }
    let end = pos.checked_add(len as usize).filter(|e| *e <= rec.len())?;
    let out = if len == 0 {
        Bytes::new()
    } else {
        data.slice(*pos..end)
    };
    *pos = end;
    Some(Some(out))
}

/// Iterator over the batches in a buffer (a fetch response's records).
///
/// Ends cleanly at a truncated last batch (brokers may cut the response
/// mid-batch). A batch with a bad CRC or corrupt compression yields an
/// error and iteration continues with the next batch, since the framing is
/// intact; a batch whose framing is invalid yields an error and ends it.
#[derive(Debug)]
pub struct Batches {
    data: Bytes,
    pos: usize,
    max_decompressed: usize,
    done: bool,
}

/// Decodes the batches in `data`, with the default 256 MiB cap on a batch's
/// decompressed size.
pub fn decode_batches(data: Bytes) -> Batches {
    decode_batches_with_limit(data, DEFAULT_MAX_DECOMPRESSED)
}

/// Like [`decode_batches`], with a cap on each batch's decompressed size.
pub fn decode_batches_with_limit(data: Bytes, max_decompressed: usize) -> Batches {
    Batches {
        data,
        pos: 0,
        max_decompressed,
        done: false,
    }
}

impl Iterator for Batches {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Result<RecordBatch>> {
        if self.done {
            return None;
        }
        let rest = self.data.len() - self.pos;
        if rest < 17 {
            // Not even a full header: a truncated tail.
            self.done = true;
            return None;
        }
        let at = |i: usize| self.data[self.pos + i];
        let batch_len = i32::from_be_bytes([at(8), at(9), at(10), at(11)]);
        let magic = at(MAGIC_OFFSET) as i8;
        let min_len = match magic {
            2 => (V2_HEADER_LEN - 12) as i32,
            0 | 1 => legacy::MIN_MESSAGE_LEN,
            other => {
                self.done = true;
                return Some(Err(records_error(format!("unknown magic {other}"))));
            }
        };
        if batch_len < min_len {
            self.done = true;
            return Some(Err(records_error(format!(
                "batch length {batch_len} below the minimum {min_len}"
            ))));
        }
        let total = 12 + batch_len as usize;
        if total > rest {
            self.done = true;
            return None;
        }
        let bytes = self.data.slice(self.pos..self.pos + total);
        self.pos += total;
        let decoded = if magic == 2 {
            decode_v2(bytes, self.max_decompressed)
        } else {
            legacy::decode_message(bytes, self.max_decompressed)
        };
        Some(decoded)
    }
}

fn decode_v2(bytes: Bytes, max_decompressed: usize) -> Result<RecordBatch> {
    let mut r = Reader::new(bytes.clone());
    let trunc = |_| records_error("batch header truncated");
    let base_offset = r.i64().map_err(trunc)?;
    let _len = r.i32().map_err(trunc)?;
    let partition_leader_epoch = r.i32().map_err(trunc)?;
    let magic = r.i8().map_err(trunc)?;
    let crc = r.u32().map_err(trunc)?;
    let computed = crc32c::crc32c(&bytes[CRC_START..]);
    if crc != computed {
        return Err(records_error(format!(
            "CRC mismatch in batch at offset {base_offset}: stored {crc:#010x}, computed {computed:#010x}"
        )));
    }
    let attributes = r.i16().map_err(trunc)?;
    let last_offset_delta = r.i32().map_err(trunc)?;
    let base_timestamp = r.i64().map_err(trunc)?;
    let max_timestamp = r.i64().map_err(trunc)?;
    let producer_id = r.i64().map_err(trunc)?;
    let producer_epoch = r.i16().map_err(trunc)?;
    let base_sequence = r.i32().map_err(trunc)?;
    let record_count = r.i32().map_err(trunc)?;
    if record_count < 0 {
        return Err(records_error(format!(
            "negative record count {record_count}"
        )));
    }
    let records = bytes.slice(V2_HEADER_LEN..);
    let codec = Compression::from_attributes(attributes).ok_or_else(|| {
        records_error(format!("unknown compression in attributes {attributes:#x}"))
    })?;
    let body = match codec {
        Compression::None => records,
        c => Bytes::from(
            decompress(c, &records, max_decompressed)
                .map_err(|e| records_error(format!("batch at offset {base_offset}: {e}")))?,
        ),
    };
    Ok(RecordBatch {
        base_offset,
        partition_leader_epoch,
        magic,
        attributes,
        last_offset_delta,
        base_timestamp,
        max_timestamp,
        producer_id,
        producer_epoch,
        base_sequence,
        record_count,
        body: Body::V2(body),
    })
}
