//! A partition's log: record batches stored as the producer sent them.
//!
//! Only the base offset and the partition leader epoch of a batch are
//! rewritten on append (neither is covered by the CRC, exactly as a Kafka
//! leader does); compression, timestamps (`CreateTime`), producer ids and
//! sequences are untouched, so a consumer reads back the producer's bytes.
//!
//! Every replica is always in sync (the mock keeps one copy of each log), so
//! the high watermark equals the log end offset after every append. The last
//! stable offset (LSO) is the first offset of the oldest open transaction,
//! else the high watermark. Aborted transactions are indexed as
//! (producer id, first offset, last offset = the abort marker's offset), which
//! Fetch returns to `read_committed` consumers.
//!
//! The idempotent producer state (per producer id: epoch and the last five
//! batches' sequences) lives here too, as it does in Kafka's log.

use std::collections::{BTreeMap, HashMap, VecDeque};

use bytes::{Bytes, BytesMut};

use crate::mock::batch::ParsedBatch;
use crate::protocol::records::{BatchWriter, Compression, ControlRecord, ControlType};

/// How many recent batches per producer are kept for duplicate detection
/// (Kafka's `max.in.flight.requests.per.connection` limit for idempotence).
const PRODUCER_BATCHES_KEPT: usize = 5;

/// One stored batch, as [`crate::mock::MockCluster::partition_log`] shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchInfo {
    /// Offset of the first record (assigned by the log).
    pub base_offset: i64,
    /// Offset of the last record.
    pub last_offset: i64,
    /// Records in the batch.
    pub record_count: i32,
    /// Producer id (-1 for a non-idempotent producer).
    pub producer_id: i64,
    /// Producer epoch (-1 without a producer id).
    pub producer_epoch: i16,
    /// First sequence number (-1 without a producer id).
    pub base_sequence: i32,
    /// Written inside a transaction.
    pub is_transactional: bool,
    /// A control batch (a transaction's commit or abort marker).
    pub is_control: bool,
    /// The batch's codec, as sent (`None` if the attribute bits name no codec).
    pub compression: Option<Compression>,
    /// Largest record timestamp in the batch.
    pub max_timestamp: i64,
    /// Size of the stored batch in bytes.
    pub size_bytes: usize,
}

/// A transaction that was aborted, as Fetch reports it to `read_committed`
/// consumers (KIP-98).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    /// The aborting producer.
    pub producer_id: i64,
    /// First offset the transaction wrote in this partition.
    pub first_offset: i64,
    /// Offset of the abort marker.
    pub last_offset: i64,
}

/// A snapshot of one partition's log, for tests and users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLogSnapshot {
    /// Every stored batch at or after the log start, in offset order.
    pub batches: Vec<BatchInfo>,
    /// The log start offset (moved by DeleteRecords).
    pub log_start_offset: i64,
    /// The high watermark (= log end offset: all replicas are in sync).
    pub high_watermark: i64,
    /// The last stable offset (read_committed consumers stop here).
    pub last_stable_offset: i64,
    /// The aborted-transaction index.
    pub aborted_transactions: Vec<AbortedTxn>,
}

#[derive(Debug)]
struct StoredBatch {
    info: BatchInfo,
    bytes: Bytes,
}

/// Per producer id: the epoch and the last batches' (first seq, last seq,
/// base offset), newest last; the last batch's timestamp and the
/// coordinator epoch of the last marker (DescribeProducers shows them).
#[derive(Debug, Clone)]
struct ProducerEntry {
    epoch: i16,
    recent: VecDeque<(i32, i32, i64)>,
    last_timestamp: i64,
    coordinator_epoch: i32,
}

impl Default for ProducerEntry {
    fn default() -> Self {
        ProducerEntry {
            epoch: 0,
            recent: VecDeque::new(),
            last_timestamp: -1,
            coordinator_epoch: -1,
        }
    }
}

/// A producer with state in a partition's log, as DescribeProducers
/// reports it (KIP-664).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ActiveProducer {
    pub producer_id: i64,
    pub producer_epoch: i16,
    /// The last sequence written (-1 when only markers were).
    pub last_sequence: i32,
    pub last_timestamp: i64,
    /// -1 until a marker was written.
    pub coordinator_epoch: i32,
    /// First offset of its open transaction here, -1 when none is open.
    pub current_txn_start_offset: i64,
}

/// The outcome of checking an idempotent batch against the producer state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SequenceCheck {
    /// Append it.
    Append,
    /// A retry of a batch already in the log at this base offset: answer
    /// success with that offset, append nothing.
    Duplicate(i64),
    /// Refuse with this error code.
    Refuse(i16),
}

/// Kafka error codes the log produces.
pub(crate) mod code {
    pub const OFFSET_OUT_OF_RANGE: i16 = 1;
    pub const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
    pub const INVALID_PRODUCER_EPOCH: i16 = 47;
}

/// One partition's log. Owned by its partition in the cluster state; every
/// method is synchronous and called under the state lock.
#[derive(Debug, Default)]
pub struct PartitionLog {
    batches: VecDeque<StoredBatch>,
    log_start: i64,
    end: i64,
    /// Open transactions: producer id → first offset written in this partition.
    open_txns: BTreeMap<i64, i64>,
    aborted: Vec<AbortedTxn>,
    producers: HashMap<i64, ProducerEntry>,
    /// Leader epoch → the offset at which it started (Kafka's leader epoch cache).
    epoch_starts: Vec<(i32, i64)>,
}

impl PartitionLog {
    /// A new empty log whose first leader epoch is `epoch`.
    pub(crate) fn new(epoch: i32) -> Self {
        PartitionLog {
            epoch_starts: vec![(epoch, 0)],
            ..PartitionLog::default()
        }
    }

    /// The log start offset.
    pub fn log_start_offset(&self) -> i64 {
        self.log_start
    }

    /// The high watermark (= log end offset; see the module docs).
    pub fn high_watermark(&self) -> i64 {
        self.end
    }

    /// The last stable offset: the first offset of the oldest open
    /// transaction, else the high watermark.
    pub fn last_stable_offset(&self) -> i64 {
        self.open_txns.values().copied().min().unwrap_or(self.end)
    }

    /// Records that the leader epoch became `epoch` at the current log end.
    pub(crate) fn begin_epoch(&mut self, epoch: i32) {
        if self.epoch_starts.last().is_some_and(|&(e, _)| e >= epoch) {
            return;
        }
        self.epoch_starts.push((epoch, self.end));
    }

    /// KIP-101/279's OffsetForLeaderEpoch answer: the largest epoch at or
    /// below `epoch` and its end offset (the start of the next epoch, or the
    /// log end for the current one); `(-1, -1)` when `epoch` predates the log.
    pub fn end_offset_for_epoch(&self, epoch: i32) -> (i32, i64) {
        let Some(i) = self.epoch_starts.iter().rposition(|&(e, _)| e <= epoch) else {
            return (-1, -1);
        };
        let end = self
            .epoch_starts
            .get(i + 1)
            .map_or(self.end, |&(_, start)| start);
        (self.epoch_starts[i].0, end)
    }

    /// Checks an idempotent batch (producer id >= 0) against the producer
    /// state, as Kafka's producer state manager does: an older epoch is
    /// fenced, a retry of one of the last five batches is a duplicate, a new
    /// epoch must start at sequence 0, and otherwise the first sequence must
    /// follow the last one (wrapping at `i32::MAX`). A producer this log has
    /// no state for may start at any sequence (its state may have been
    /// removed by DeleteRecords).
    pub(crate) fn check_sequence(&self, b: &ParsedBatch) -> SequenceCheck {
        if b.producer_id < 0 {
            return SequenceCheck::Append;
        }
        let Some(entry) = self.producers.get(&b.producer_id) else {
            return SequenceCheck::Append;
        };
        if b.producer_epoch < entry.epoch {
            return SequenceCheck::Refuse(code::INVALID_PRODUCER_EPOCH);
        }
        if b.is_control || b.base_sequence < 0 {
            return SequenceCheck::Append;
        }
        if b.producer_epoch > entry.epoch {
            return if b.base_sequence == 0 {
                SequenceCheck::Append
            } else {
                SequenceCheck::Refuse(code::OUT_OF_ORDER_SEQUENCE_NUMBER)
            };
        }
        let last_seq = b.last_sequence();
        if let Some(&(_, _, offset)) = entry
            .recent
            .iter()
            .find(|&&(first, last, _)| first == b.base_sequence && last == last_seq)
        {
            return SequenceCheck::Duplicate(offset);
        }
        match entry.recent.back() {
            Some(&(_, last, _)) if next_sequence(last) != b.base_sequence => {
                SequenceCheck::Refuse(code::OUT_OF_ORDER_SEQUENCE_NUMBER)
            }
            _ => SequenceCheck::Append,
        }
    }

    /// Appends a validated batch (call [`Self::check_sequence`] first) and
    /// returns its base offset. The stored copy gets the base offset and
    /// `leader_epoch` written in; the CRC does not cover either.
    pub(crate) fn append(&mut self, b: &ParsedBatch, leader_epoch: i32) -> i64 {
        let base = self.end;
        let mut bytes = BytesMut::from(&b.bytes[..]);
        bytes[0..8].copy_from_slice(&base.to_be_bytes());
        bytes[12..16].copy_from_slice(&leader_epoch.to_be_bytes());
        let info = BatchInfo {
            base_offset: base,
            last_offset: base + i64::from(b.last_offset_delta),
            record_count: b.record_count,
            producer_id: b.producer_id,
            producer_epoch: b.producer_epoch,
            base_sequence: b.base_sequence,
            is_transactional: b.is_transactional,
            is_control: b.is_control,
            compression: Compression::from_attributes(b.attributes),
            max_timestamp: b.max_timestamp,
            size_bytes: bytes.len(),
        };
        self.end = info.last_offset + 1;
        if b.producer_id >= 0 {
            let entry = self.producers.entry(b.producer_id).or_default();
            if b.producer_epoch != entry.epoch {
                entry.recent.clear();
            }
            entry.epoch = b.producer_epoch;
            entry.last_timestamp = b.max_timestamp;
            if !b.is_control && b.base_sequence >= 0 {
                if entry.recent.len() == PRODUCER_BATCHES_KEPT {
                    entry.recent.pop_front();
                }
                entry
                    .recent
                    .push_back((b.base_sequence, b.last_sequence(), base));
            }
            if b.is_transactional && !b.is_control {
                self.open_txns.entry(b.producer_id).or_insert(base);
            }
        }
        self.batches.push_back(StoredBatch {
            info,
            bytes: bytes.freeze(),
        });
        base
    }

    /// Appends a transaction marker (a control batch) for `producer_id`,
    /// ends its open transaction in this partition (moving the LSO) and, for
    /// an abort, indexes the aborted range. Returns the marker's offset.
    ///
    /// Called by the transaction coordinator's EndTxn, and by
    /// [`crate::mock::MockCluster::abort_open_transaction`].
    pub fn append_marker(
        &mut self,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        coordinator_epoch: i32,
        timestamp: i64,
        leader_epoch: i32,
    ) -> i64 {
        let marker = ControlRecord {
            kind: if commit {
                ControlType::Commit
            } else {
                ControlType::Abort
            },
            coordinator_epoch,
        };
        // Encoding a one-record uncompressed batch cannot fail.
        let bytes = BatchWriter::control(marker, timestamp, producer_id, producer_epoch)
            .unwrap_or_default();
        let parsed = match ParsedBatch::parse_one(bytes) {
            Ok(p) => p,
            Err(_) => return self.end,
        };
        let offset = self.append(&parsed, leader_epoch);
        if let Some(entry) = self.producers.get_mut(&producer_id) {
            entry.coordinator_epoch = coordinator_epoch;
        }
        if let Some(first) = self.open_txns.remove(&producer_id) {
            if !commit {
                self.aborted.push(AbortedTxn {
                    producer_id,
                    first_offset: first,
                    last_offset: offset,
                });
            }
        }
        offset
    }

    /// Reads from `offset`: whole batches, starting with the one containing
    /// `offset`, that lie below `upper` (the HW or the LSO), up to
    /// `max_bytes` — except that the first batch is returned whatever its
    /// size when `allow_oversize` (KIP-74: progress is always possible).
    /// Returns the bytes and the offset after the last batch returned.
    pub(crate) fn read(
        &self,
        offset: i64,
        upper: i64,
        max_bytes: usize,
        allow_oversize: bool,
    ) -> Result<(Bytes, i64), i16> {
        if offset < self.log_start || offset > self.end {
            return Err(code::OFFSET_OUT_OF_RANGE);
        }
        let start = self
            .batches
            .partition_point(|b| b.info.last_offset < offset);
        let mut chosen: Vec<&Bytes> = Vec::new();
        let mut size = 0usize;
        let mut next = offset;
        for b in self.batches.range(start..) {
            if b.info.base_offset >= upper {
                break;
            }
            let fits = size + b.bytes.len() <= max_bytes;
            if !(fits || chosen.is_empty() && allow_oversize) {
                break;
            }
            size += b.bytes.len();
            next = b.info.last_offset + 1;
            chosen.push(&b.bytes);
        }
        let bytes = match chosen.as_slice() {
            [] => Bytes::new(),
            [one] => (*one).clone(),
            many => {
                let mut out = BytesMut::with_capacity(size);
                for b in many {
                    out.extend_from_slice(b);
                }
                out.freeze()
            }
        };
        Ok((bytes, next))
    }

    /// Aborted transactions overlapping `[from, to)`, for a read_committed
    /// fetch that returned data up to `to`.
    pub(crate) fn aborted_between(&self, from: i64, to: i64) -> Vec<AbortedTxn> {
        self.aborted
            .iter()
            .filter(|a| a.last_offset >= from && a.first_offset < to)
            .copied()
            .collect()
    }

    /// DeleteRecords: moves the log start to `offset` (-1 = the high
    /// watermark) and drops the batches wholly before it.
    pub(crate) fn delete_before(&mut self, offset: i64) -> Result<i64, i16> {
        let offset = if offset == -1 { self.end } else { offset };
        if offset < 0 || offset > self.end {
            return Err(code::OFFSET_OUT_OF_RANGE);
        }
        if offset > self.log_start {
            self.log_start = offset;
            while self
                .batches
                .front()
                .is_some_and(|b| b.info.last_offset < offset)
            {
                self.batches.pop_front();
            }
            self.aborted.retain(|a| a.last_offset >= offset);
        }
        Ok(self.log_start)
    }

    /// Stored batches from the log start, with their bytes, in offset order.
    pub(crate) fn batches(&self) -> impl Iterator<Item = (&BatchInfo, &Bytes)> {
        self.batches.iter().map(|b| (&b.info, &b.bytes))
    }

    /// Every producer with state here, by producer id (DescribeProducers).
    pub(crate) fn active_producers(&self) -> Vec<ActiveProducer> {
        let mut out: Vec<ActiveProducer> = self
            .producers
            .iter()
            .map(|(&producer_id, e)| ActiveProducer {
                producer_id,
                producer_epoch: e.epoch,
                last_sequence: e.recent.back().map_or(-1, |&(_, last, _)| last),
                last_timestamp: e.last_timestamp,
                coordinator_epoch: e.coordinator_epoch,
                current_txn_start_offset: self.open_txns.get(&producer_id).copied().unwrap_or(-1),
            })
            .collect();
        out.sort_by_key(|p| p.producer_id);
        out
    }

    /// Bytes of the stored batches (DescribeLogDirs' partition size).
    pub(crate) fn size_bytes(&self) -> i64 {
        self.batches.iter().map(|b| b.bytes.len() as i64).sum()
    }

    /// A snapshot for inspection.
    pub fn snapshot(&self) -> PartitionLogSnapshot {
        PartitionLogSnapshot {
            batches: self.batches.iter().map(|b| b.info.clone()).collect(),
            log_start_offset: self.log_start,
            high_watermark: self.high_watermark(),
            last_stable_offset: self.last_stable_offset(),
            aborted_transactions: self.aborted.clone(),
        }
    }
}

/// The sequence after `seq` (sequences wrap from `i32::MAX` to 0).
pub(crate) fn next_sequence(seq: i32) -> i32 {
    if seq == i32::MAX { 0 } else { seq + 1 }
}

#[cfg(test)]
#[path = "log_tests.rs"]
mod tests;
