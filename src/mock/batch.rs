//! The broker's view of a produced record batch (v2): its header fields,
//! checked the way a Kafka leader checks them before appending, without
//! decompressing the records.

use bytes::Bytes;

/// Size of the v2 batch header, up to and including the record count.
pub(crate) const HEADER_SIZE: usize = 61;

/// Kafka error codes for malformed batches.
pub(crate) mod code {
    pub const CORRUPT_MESSAGE: i16 = 2;
    pub const INVALID_RECORD: i16 = 87;
}

/// A record batch from a Produce request, header parsed and CRC checked.
#[derive(Debug, Clone)]
pub(crate) struct ParsedBatch {
    /// The batch's bytes exactly as sent.
    pub bytes: Bytes,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub record_count: i32,
    pub is_transactional: bool,
    pub is_control: bool,
}

fn i16_at(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}

fn i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn i64_at(b: &[u8], at: usize) -> i64 {
    let mut raw = [0u8; 8];
    raw.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(raw)
}

impl ParsedBatch {
    /// The batch's last sequence number (wrapping like Kafka's).
    pub fn last_sequence(&self) -> i32 {
        if self.base_sequence < 0 {
            return -1;
        }
        let last = i64::from(self.base_sequence) + i64::from(self.last_offset_delta);
        if last > i64::from(i32::MAX) {
            (last - i64::from(i32::MAX) - 1) as i32
        } else {
            last as i32
        }
    }

    /// Parses the records of one partition of a Produce request (v3+):
    /// exactly one v2 batch with a valid CRC, at least one record, and a last
    /// offset delta matching its record count. The error is a Kafka error
    /// code (`INVALID_RECORD` or `CORRUPT_MESSAGE`).
    pub fn parse_one(records: Bytes) -> Result<ParsedBatch, i16> {
        if records.len() < HEADER_SIZE {
            return Err(code::CORRUPT_MESSAGE);
        }
        let batch_length = i32_at(&records, 8);
        let total = usize::try_from(batch_length)
            .ok()
            .and_then(|l| l.checked_add(12))
            .ok_or(code::CORRUPT_MESSAGE)?;
        if total < HEADER_SIZE || total > records.len() {
            return Err(code::CORRUPT_MESSAGE);
        }
        if records[16] != 2 {
            return Err(code::INVALID_RECORD);
        }
        if total != records.len() {
            // A second batch (or trailing bytes) for the same partition.
            return Err(code::INVALID_RECORD);
        }
        let crc = u32::from_be_bytes([records[17], records[18], records[19], records[20]]);
        if crc32c::crc32c(&records[21..total]) != crc {
            return Err(code::CORRUPT_MESSAGE);
        }
        let attributes = i16_at(&records, 21);
        let last_offset_delta = i32_at(&records, 23);
        let record_count = i32_at(&records, 57);
        if record_count < 1 || last_offset_delta != record_count - 1 {
            return Err(code::INVALID_RECORD);
        }
        Ok(ParsedBatch {
            attributes,
            last_offset_delta,
            max_timestamp: i64_at(&records, 35),
            producer_id: i64_at(&records, 43),
            producer_epoch: i16_at(&records, 51),
            base_sequence: i32_at(&records, 53),
            record_count,
            is_transactional: attributes & 0x10 != 0,
            is_control: attributes & 0x20 != 0,
            bytes: records,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::records::{BatchWriter, Compression};

    fn batch(n: usize) -> Bytes {
        let mut w = BatchWriter::new(Compression::None);
        w.producer(7, 1, 10);
        for i in 0..n {
            w.append(1_000 + i as i64, None, Some(b"v"), &[]);
        }
        w.finish().unwrap()
    }

    #[test]
    fn parses_header_fields() {
        let b = ParsedBatch::parse_one(batch(3)).unwrap();
        assert_eq!(b.record_count, 3);
        assert_eq!(b.last_offset_delta, 2);
        assert_eq!(
            (b.producer_id, b.producer_epoch, b.base_sequence),
            (7, 1, 10)
        );
        assert_eq!(b.last_sequence(), 12);
        assert_eq!(b.max_timestamp, 1_002);
        assert!(!b.is_transactional && !b.is_control);
    }

    #[test]
    fn refuses_bad_crc_two_batches_and_truncation() {
        let good = batch(2);
        let mut bad = good.to_vec();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(
            ParsedBatch::parse_one(Bytes::from(bad)).unwrap_err(),
            code::CORRUPT_MESSAGE
        );
        let mut two = good.to_vec();
        two.extend_from_slice(&good);
        assert_eq!(
            ParsedBatch::parse_one(Bytes::from(two)).unwrap_err(),
            code::INVALID_RECORD
        );
        for cut in [0, 10, 60, good.len() - 1] {
            assert!(ParsedBatch::parse_one(good.slice(..cut)).is_err());
        }
    }

    #[test]
    fn sequence_wraps() {
        let mut b = ParsedBatch::parse_one(batch(3)).unwrap();
        b.base_sequence = i32::MAX - 1;
        assert_eq!(b.last_sequence(), 0);
    }
}
