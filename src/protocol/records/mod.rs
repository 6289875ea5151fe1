//! Kafka's record format: RecordBatch v2 encode and decode, legacy v0/v1
//! message sets (decode only, so old topics stay readable), compression and
//! control records.
//!
//! Decoding is zero-copy: [`decode_batches`] takes the `Bytes` of a fetch
//! response and record keys, values and header values are slices of it (or
//! of the one buffer a compressed batch inflates to). Records are decoded
//! lazily as [`RecordBatch::records`] is iterated.
//!
//! ```
//! use kafkit::protocol::records::{decode_batches, BatchWriter, Compression};
//!
//! let mut w = BatchWriter::new(Compression::Lz4);
//! w.append(1_700_000_000_000, Some(b"key"), Some(b"value"), &[]);
//! let bytes = w.finish().unwrap();
//! let batch = decode_batches(bytes).next().unwrap().unwrap();
//! let record = batch.records().next().unwrap().unwrap();
//! assert_eq!(record.value.as_deref(), Some(&b"value"[..]));
//! ```

mod batch;
pub mod compression;
mod control;
mod legacy;
mod writer;

use bytes::Bytes;

pub use batch::{Batches, RecordBatch, Records, decode_batches, decode_batches_with_limit};
pub use control::{ControlRecord, ControlType};
pub use writer::{BatchWriter, restamp_producer};

/// A compression codec, as named by `compression.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// No compression (`none`).
    #[default]
    None,
    /// `gzip`.
    Gzip,
    /// `snappy`.
    Snappy,
    /// `lz4`.
    Lz4,
    /// `zstd`.
    Zstd,
}

impl Compression {
    /// Every codec, in attribute-bit order.
    pub const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    /// The codec of attribute bits 0-2.
    pub fn from_attributes(attributes: i16) -> Option<Compression> {
        match attributes & 0x07 {
            0 => Some(Compression::None),
            1 => Some(Compression::Gzip),
            2 => Some(Compression::Snappy),
            3 => Some(Compression::Lz4),
            4 => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// The attribute bits of this codec.
    pub fn attribute_bits(self) -> i16 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }

    /// The `compression.type` name.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

impl std::str::FromStr for Compression {
    type Err = crate::Error;

    fn from_str(s: &str) -> crate::Result<Compression> {
        match s {
            "none" => Ok(Compression::None),
            "gzip" => Ok(Compression::Gzip),
            "snappy" => Ok(Compression::Snappy),
            "lz4" => Ok(Compression::Lz4),
            "zstd" => Ok(Compression::Zstd),
            other => Err(crate::Error::Config(format!(
                "unknown compression.type {other:?}"
            ))),
        }
    }
}

/// How a record's timestamp was set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    /// Set by the producer.
    CreateTime,
    /// Set by the broker when appending (`message.timestamp.type=LogAppendTime`).
    LogAppendTime,
}

/// A record header. The key is a string on the wire; it is kept as bytes
/// so decoding does not copy, and checked as UTF-8 when read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Header key bytes (UTF-8 per the protocol).
    pub key: Bytes,
    /// Header value; `None` is a null value.
    pub value: Option<Bytes>,
}

impl Header {
    /// The key as a string, if it is valid UTF-8.
    pub fn key_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.key).ok()
    }
}

/// One decoded record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Absolute offset in the partition.
    pub offset: i64,
    /// Timestamp in ms since the epoch (create or log-append time, per the batch).
    pub timestamp: i64,
    /// Key; `None` is a null key.
    pub key: Option<Bytes>,
    /// Value; `None` is a null value (a tombstone).
    pub value: Option<Bytes>,
    /// Headers in wire order.
    pub headers: Vec<Header>,
}

/// Makes a records-layer error with a reason.
pub(crate) fn records_error(reason: impl std::fmt::Display) -> crate::Error {
    crate::Error::Records {
        reason: reason.to_string(),
        context: crate::error::Context::default(),
    }
}
