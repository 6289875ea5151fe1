//! Control records: the COMMIT and ABORT markers a transaction coordinator
//! writes into each partition of a transaction.
//!
//! Key: `version: int16 (0), type: int16 (0 = ABORT, 1 = COMMIT)`.
//! Value: `version: int16 (0), coordinatorEpoch: int32`.

use super::{Record, records_error};
use crate::error::Result;

/// Which marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlType {
    /// The transaction was aborted: its records must be skipped by
    /// `read_committed` consumers.
    Abort,
    /// The transaction committed.
    Commit,
}

/// A decoded control record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlRecord {
    /// Commit or abort.
    pub kind: ControlType,
    /// The coordinator epoch that wrote it.
    pub coordinator_epoch: i32,
}

impl ControlRecord {
    /// Reads the marker from a record of a control batch.
    pub fn decode(record: &Record) -> Result<ControlRecord> {
        let key = record
            .key
            .as_deref()
            .ok_or_else(|| records_error("control record without key"))?;
        let (version, kind) = match key {
            [v0, v1, t0, t1, ..] => (
                i16::from_be_bytes([*v0, *v1]),
                i16::from_be_bytes([*t0, *t1]),
            ),
            _ => return Err(records_error("control record key too short")),
        };
        if version != 0 {
            return Err(records_error(format!(
                "unknown control record version {version}"
            )));
        }
        let kind = match kind {
            0 => ControlType::Abort,
            1 => ControlType::Commit,
            other => {
                return Err(records_error(format!(
                    "unknown control record type {other}"
                )));
            }
        };
        let coordinator_epoch = match record.value.as_deref() {
            Some([_, _, a, b, c, d, ..]) => i32::from_be_bytes([*a, *b, *c, *d]),
            _ => -1,
        };
        Ok(ControlRecord {
            kind,
            coordinator_epoch,
        })
    }

    /// The (key, value) bytes of this marker.
    pub fn encode(&self) -> ([u8; 4], [u8; 6]) {
        let t: i16 = match self.kind {
            ControlType::Abort => 0,
            ControlType::Commit => 1,
        };
        let mut key = [0u8; 4];
        key[2..].copy_from_slice(&t.to_be_bytes());
        let mut value = [0u8; 6];
        value[2..].copy_from_slice(&self.coordinator_epoch.to_be_bytes());
        (key, value)
    }
}
