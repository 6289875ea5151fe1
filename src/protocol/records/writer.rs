//! RecordBatch v2 encoding.
//!
//! Uncompressed batches are written in place: the 61-byte header is
//! reserved, records are appended straight after it, and `finish` patches
//! the header and CRC. Compressed batches collect records the same way and
//! compress the records region once at `finish`.

use bytes::{BufMut, Bytes, BytesMut};

use super::batch::{CRC_START, V2_HEADER_LEN};
use super::compression::compress;
use super::control::ControlRecord;
use super::{Compression, records_error};
use crate::error::Result;
use crate::protocol::primitives::{put_varint, put_varlong, varint_len, varlong_len};

/// Builds one RecordBatch v2.
#[derive(Debug)]
pub struct BatchWriter {
    buf: BytesMut,
    compression: Compression,
    base_offset: i64,
    partition_leader_epoch: i32,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    transactional: bool,
    control: bool,
    first_timestamp: Option<i64>,
    max_timestamp: i64,
    count: i32,
}

impl BatchWriter {
    /// A writer for a batch with `compression`, base offset 0 and no producer
    /// id (as a non-idempotent producer sends it).
    pub fn new(compression: Compression) -> BatchWriter {
        BatchWriter::with_capacity(compression, 0)
    }

    /// Like [`BatchWriter::new`], reserving `capacity` bytes up front
    /// (typically `batch.size`).
    pub fn with_capacity(compression: Compression, capacity: usize) -> BatchWriter {
        let mut buf = BytesMut::with_capacity(V2_HEADER_LEN + capacity);
        buf.put_bytes(0, V2_HEADER_LEN);
        BatchWriter {
            buf,
            compression,
            base_offset: 0,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            transactional: false,
            control: false,
            first_timestamp: None,
            max_timestamp: -1,
            count: 0,
        }
    }

    /// Sets the idempotent producer's id, epoch and the first record's sequence.
    pub fn producer(
        &mut self,
        producer_id: i64,
        producer_epoch: i16,
        base_sequence: i32,
    ) -> &mut Self {
        self.producer_id = producer_id;
        self.producer_epoch = producer_epoch;
        self.base_sequence = base_sequence;
        self
    }

    /// Marks the batch as part of a transaction.
    pub fn transactional(&mut self, yes: bool) -> &mut Self {
        self.transactional = yes;
        self
    }

    /// Sets the base offset (0 for produce; brokers assign offsets).
    pub fn base_offset(&mut self, offset: i64) -> &mut Self {
        self.base_offset = offset;
        self
    }

    /// Sets the partition leader epoch (-1 for produce).
    pub fn partition_leader_epoch(&mut self, epoch: i32) -> &mut Self {
        self.partition_leader_epoch = epoch;
        self
    }

    /// Records appended so far.
    pub fn record_count(&self) -> i32 {
        self.count
    }

    /// Whether no record was appended.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Size of the batch if finished now, before compression.
    pub fn estimated_size(&self) -> usize {
        self.buf.len()
    }

    /// The size one more record would add (before compression), for
    /// deciding whether it still fits `batch.size`.
    pub fn record_size(
        &self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&str, Option<&[u8]>)],
    ) -> usize {
        let body = self.body_len(timestamp, key, value, headers);
        varint_len(body as i32) + body
    }

    fn body_len(
        &self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&str, Option<&[u8]>)],
    ) -> usize {
        let ts_delta = timestamp.wrapping_sub(self.first_timestamp.unwrap_or(timestamp));
        let field = |f: Option<&[u8]>| f.map_or(1, |b| varint_len(b.len() as i32) + b.len());
        let mut n = 1 + varlong_len(ts_delta) + varint_len(self.count) + field(key) + field(value);
        n += varint_len(headers.len() as i32);
        for (k, v) in headers {
            n += varint_len(k.len() as i32) + k.len() + field(*v);
        }
        n
    }

    /// Appends a record with `timestamp` (ms since epoch). Its offset is the
    /// next one after the records already appended.
    pub fn append(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&str, Option<&[u8]>)],
    ) {
        let first = *self.first_timestamp.get_or_insert(timestamp);
        let body = self.body_len(timestamp, key, value, headers);
        let buf = &mut self.buf;
        buf.reserve(body + 5);
        put_varint(buf, body as i32);
        buf.put_i8(0); // record attributes: unused
        put_varlong(buf, timestamp.wrapping_sub(first));
        put_varint(buf, self.count);
        put_field(buf, key);
        put_field(buf, value);
        put_varint(buf, headers.len() as i32);
        for (k, v) in headers {
            put_field(buf, Some(k.as_bytes()));
            put_field(buf, *v);
        }
        self.max_timestamp = self.max_timestamp.max(timestamp);
        self.count += 1;
    }

    /// Finishes the batch: header fields, compression and CRC.
    pub fn finish(self) -> Result<Bytes> {
        let mut buf = self.buf;
        if self.compression != Compression::None {
            let compressed = compress(self.compression, &buf[V2_HEADER_LEN..])?;
            buf.truncate(V2_HEADER_LEN);
            buf.extend_from_slice(&compressed);
        }
        let batch_len =
            i32::try_from(buf.len() - 12).map_err(|_| records_error("batch larger than 2 GiB"))?;
        let mut attributes = self.compression.attribute_bits();
        if self.transactional {
            attributes |= 0x10;
        }
        if self.control {
            attributes |= 0x20;
        }
        let first = self.first_timestamp.unwrap_or(-1);
        let mut h = &mut buf[..V2_HEADER_LEN];
        h.put_i64(self.base_offset);
        h.put_i32(batch_len);
        h.put_i32(self.partition_leader_epoch);
        h.put_i8(2);
        h.put_u32(0); // CRC, below
        h.put_i16(attributes);
        h.put_i32((self.count - 1).max(0));
        h.put_i64(first);
        h.put_i64(self.max_timestamp);
        h.put_i64(self.producer_id);
        h.put_i16(self.producer_epoch);
        h.put_i32(self.base_sequence);
        h.put_i32(self.count);
        let crc = crc32c::crc32c(&buf[CRC_START..]);
        buf[17..21].copy_from_slice(&crc.to_be_bytes());
        Ok(buf.freeze())
    }

    /// A control batch holding one transaction marker.
    pub fn control(
        marker: ControlRecord,
        timestamp: i64,
        producer_id: i64,
        producer_epoch: i16,
    ) -> Result<Bytes> {
        let mut w = BatchWriter::new(Compression::None);
        w.producer(producer_id, producer_epoch, -1)
            .transactional(true);
        w.control = true;
        let (key, value) = marker.encode();
        w.append(timestamp, Some(&key), Some(&value), &[]);
        w.finish()
    }
}

/// A copy of the encoded v2 batch `batch` with its producer id, epoch and
/// base sequence replaced and the CRC recomputed.
///
/// The idempotent producer needs this after an epoch bump (KIP-360): batches
/// that were closed under the old epoch are sent again under the new one,
/// renumbered from sequence 0, with their records untouched (compressed
/// data is not recompressed).
pub fn restamp_producer(
    batch: &[u8],
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
) -> Result<Bytes> {
    if batch.len() < V2_HEADER_LEN || batch[16] != 2 {
        return Err(records_error("not a v2 record batch"));
    }
    let mut buf = BytesMut::from(batch);
    let mut h = &mut buf[43..57];
    h.put_i64(producer_id);
    h.put_i16(producer_epoch);
    h.put_i32(base_sequence);
    let crc = crc32c::crc32c(&buf[CRC_START..]);
    buf[17..21].copy_from_slice(&crc.to_be_bytes());
    Ok(buf.freeze())
}

#[inline]
fn put_field(buf: &mut BytesMut, field: Option<&[u8]>) {
    match field {
        None => put_varint(buf, -1),
        Some(b) => {
            put_varint(buf, b.len() as i32);
            buf.put_slice(b);
        }
    }
}
