//! The `read_committed` filter: which fetched batches belong to aborted
//! transactions.
//!
//! A Fetch answered at `read_committed` lists, per partition, the aborted
//! transactions that overlap the returned range as `(producer id, first
//! offset)`. A transaction's records are not contiguous (other producers
//! interleave), so a batch is aborted when its producer has an aborted
//! transaction that started at or before the batch and whose ABORT marker
//! has not been passed yet. Walking the batches in offset order:
//!
//! 1. every listed transaction whose first offset is at or below the batch's
//!    last offset "opens": its producer is now in the aborted set;
//! 2. a control batch carrying that producer's ABORT marker closes it;
//! 3. a transactional data batch of a producer in the set is dropped.
//!
//! This is the algorithm of KIP-98's consumer design (and of the Java
//! client); it needs no state beyond one response, because the broker
//! lists every aborted transaction that overlaps the fetched range.

use std::collections::{HashSet, VecDeque};

use crate::protocol::records::{ControlRecord, ControlType, RecordBatch};

/// A transaction the broker reports as aborted within the fetched range
/// (Fetch v4+).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct AbortedTransaction {
    /// First offset of the aborted transaction (first field: the sort key).
    pub first_offset: i64,
    /// The producer whose transaction was aborted.
    pub producer_id: i64,
}

/// Per-response filter state (see the module doc).
#[derive(Debug, Default)]
pub(crate) struct AbortedFilter {
    /// Listed transactions not yet reached, by first offset.
    pending: VecDeque<AbortedTransaction>,
    /// Producers inside an aborted transaction at the current batch.
    open: HashSet<i64>,
}

impl AbortedFilter {
    /// A filter for one partition's response; `None` when there is nothing
    /// to filter (no aborted transaction in the range).
    pub(crate) fn new(mut aborted: Vec<AbortedTransaction>) -> Option<AbortedFilter> {
        if aborted.is_empty() {
            return None;
        }
        // Brokers list them in offset order, but nothing says they must.
        aborted.sort_unstable();
        Some(AbortedFilter {
            pending: aborted.into(),
            open: HashSet::new(),
        })
    }

    /// Whether `batch` (the next batch in offset order) must be dropped.
    /// Control batches are never "dropped" here (the caller steps over
    /// them anyway), but an ABORT marker updates the state.
    pub(crate) fn is_aborted(&mut self, batch: &RecordBatch) -> bool {
        if batch.producer_id < 0 {
            return false;
        }
        let last = batch.last_offset();
        while let Some(t) = self.pending.front().copied() {
            if t.first_offset > last {
                break;
            }
            self.pending.pop_front();
            self.open.insert(t.producer_id);
        }
        if batch.is_control() {
            if is_abort_marker(batch) {
                self.open.remove(&batch.producer_id);
            }
            return false;
        }
        batch.is_transactional() && self.open.contains(&batch.producer_id)
    }
}

/// Whether a control batch holds an ABORT marker. A marker of an unknown
/// version or type is not an abort (as in the Java client); a corrupt one
/// cannot get here, the batch CRC having been checked.
fn is_abort_marker(batch: &RecordBatch) -> bool {
    match batch.records().next() {
        Some(Ok(record)) => matches!(
            ControlRecord::decode(&record),
            Ok(ControlRecord {
                kind: ControlType::Abort,
                ..
            })
        ),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
