//! The record accumulator: one queue of batches per partition.
//!
//! Plain data behind the producer's lock; no I/O. `append` adds a record to
//! the partition's open batch (or opens one); `drain` closes the batches
//! that are ready (full, lingered long enough, or flushed), assigns their
//! idempotent sequence numbers, and hands them out grouped by leader.
//! Batches that failed retriably come back through `requeue` and are sent
//! again, with the same sequence numbers, before anything newer.
//!
//! This file holds the accumulator itself, appending, and taking batches
//! out for transactions, close and expiry. The batch type is in
//! `batch.rs`, readiness and draining in `drain.rs`, and the per-partition
//! queue with its in-flight, connection and sequence bookkeeping (what
//! keeps a partition's batches in order) in `queue.rs`.

mod batch;
mod drain;
mod queue;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

pub(crate) use batch::ProducerBatch;
pub(crate) use drain::DrainMode;
use queue::PartitionQueue;

use super::delivery::{BatchOutcome, DeliveryFuture};
use crate::protocol::records::{BatchWriter, Compression};

/// Topic and partition.
pub(crate) type Tp = (Arc<str>, i32);

/// Settings the accumulator needs.
#[derive(Debug, Clone)]
pub(crate) struct AccumulatorConfig {
    pub batch_size: usize,
    pub linger: Duration,
    pub compression: Compression,
    pub max_in_flight: usize,
    pub max_request_size: usize,
    /// Batches carry the transactional attribute and wait for their
    /// partition to be added to the transaction.
    pub transactional: bool,
}

/// What an append means beyond the record's delivery future.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Appended {
    /// The partition now has a full batch (the sticky partitioner may move
    /// on without cutting a batch short).
    pub full: bool,
    /// The sender must be woken: the record opened a new batch (whose
    /// linger deadline the sender does not know yet, or which is ready at
    /// once with `linger.ms=0` or `batch.size=0`) or filled one. The sender
    /// has no idle tick, so a record that needs it and does not say so
    /// would wait for an unrelated wake-up.
    pub wake: bool,
}

pub(crate) struct Accumulator {
    config: AccumulatorConfig,
    queues: HashMap<Tp, PartitionQueue>,
    /// Records appended and not yet completed.
    outstanding: usize,
    /// Counter behind `ProducerBatch::closed_order`.
    closed: u64,
}

impl Accumulator {
    pub fn new(config: AccumulatorConfig) -> Self {
        Accumulator {
            config,
            queues: HashMap::new(),
            outstanding: 0,
            closed: 0,
        }
    }

    pub fn outstanding(&self) -> usize {
        self.outstanding
    }

    /// Appends a record; returns its delivery future and what the caller
    /// must act on (see [`Appended`]).
    pub fn append(
        &mut self,
        tp: &Tp,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&str, Option<&[u8]>)],
        memory: usize,
    ) -> (DeliveryFuture, Appended) {
        let cfg = &self.config;
        let queue = self.queues.entry(tp.clone()).or_default();
        let mut opened = false;
        let fits = queue
            .batches
            .back()
            .filter(|b| b.is_open())
            .and_then(|b| b.writer.as_ref())
            .is_some_and(|w| {
                w.is_empty()
                    || w.estimated_size() + w.record_size(timestamp, key, value, headers)
                        <= cfg.batch_size
            });
        if !fits {
            opened = true;
            queue.batches.push_back(ProducerBatch {
                tp: tp.clone(),
                writer: Some(BatchWriter::with_capacity(cfg.compression, cfg.batch_size)),
                encoded: None,
                outcome: BatchOutcome::new(tp.0.clone(), tp.1),
                records: 0,
                created: Instant::now(),
                memory: 0,
                attempts: 0,
                retry_at: None,
                base_sequence: None,
                maybe_written: false,
                last_error: None,
                closed_order: 0,
            });
        }
        // The back batch is open: either it fit or it was just pushed.
        let last = queue.batches.len() - 1;
        let batch = &mut queue.batches[last];
        if let Some(w) = batch.writer.as_mut() {
            w.append(timestamp, key, value, headers);
        }
        let delivery = DeliveryFuture::new(batch.outcome.clone(), batch.records, timestamp);
        batch.records += 1;
        batch.memory += memory;
        // A record lands only in a batch with room for it, so a batch that
        // is full now was filled by this record: the sender hears of each
        // batch twice at most (opened, filled), not of every record while
        // the queue has a backlog.
        let filled = batch.size() >= cfg.batch_size;
        self.outstanding += 1;
        (
            delivery,
            Appended {
                full: filled || queue.batches.len() > 1,
                wake: opened || filled,
            },
        )
    }

    /// Transactional producer: partitions with queued data that are not in
    /// the current transaction yet.
    pub fn partitions_needing_txn(&self) -> Vec<Tp> {
        self.queues
            .iter()
            .filter(|(_, q)| !q.in_txn && !q.batches.is_empty())
            .map(|(tp, _)| tp.clone())
            .collect()
    }

    /// AddPartitionsToTxn succeeded for `partitions`: their batches may go.
    pub fn mark_in_txn(&mut self, partitions: &[Tp]) {
        for tp in partitions {
            if let Some(q) = self.queues.get_mut(tp) {
                q.in_txn = true;
            }
        }
    }

    /// The transaction ended: the next one adds its partitions afresh.
    pub fn end_transaction(&mut self) {
        for q in self.queues.values_mut() {
            q.in_txn = false;
        }
    }

    /// Takes the batches not drained yet (still open, no sequence numbers),
    /// of `only` these partitions or of all: an aborted transaction drops
    /// them, as Java's `abortUndrainedBatches` does. Closed batches stay:
    /// they hold sequence numbers and must settle.
    pub fn take_open_batches(&mut self, only: Option<&[Tp]>) -> Vec<ProducerBatch> {
        let mut out = Vec::new();
        for (tp, q) in self.queues.iter_mut() {
            if only.is_some_and(|o| !o.contains(tp)) {
                continue;
            }
            // Open batches are always behind the closed ones.
            while q.batches.back().is_some_and(ProducerBatch::is_open) {
                if let Some(b) = q.batches.pop_back() {
                    out.push(b);
                }
            }
        }
        let n: usize = out.iter().map(ProducerBatch::record_count).sum();
        self.outstanding = self.outstanding.saturating_sub(n);
        out
    }

    /// Takes every queued batch (on close or fatal error).
    pub fn take_all(&mut self) -> Vec<ProducerBatch> {
        let mut out = Vec::new();
        for q in self.queues.values_mut() {
            out.extend(q.batches.drain(..));
        }
        let n: usize = out.iter().map(ProducerBatch::record_count).sum();
        self.outstanding = self.outstanding.saturating_sub(n);
        out
    }

    /// When `expire` will next find a batch to fail: the earliest
    /// `created + delivery.timeout.ms` of a queue's front batch while
    /// nothing of that queue is in flight (an in-flight batch settles, or
    /// times out, through its request; its completion wakes the sender).
    pub fn next_expiry(&self, delivery_timeout: Duration) -> Option<Instant> {
        self.queues
            .values()
            .filter(|q| q.in_flight == 0)
            .filter_map(|q| q.batches.front())
            .map(|b| b.created + delivery_timeout)
            .min()
    }

    /// Batches that waited longer than `delivery.timeout.ms` and are not in
    /// flight: taken out to be failed.
    pub fn expire(&mut self, now: Instant, delivery_timeout: Duration) -> Vec<ProducerBatch> {
        let mut out = Vec::new();
        for q in self.queues.values_mut() {
            // Only from the front while nothing is in flight: expiring a batch
            // behind an in-flight one would leave a sequence gap.
            while q.in_flight == 0
                && q.batches
                    .front()
                    .is_some_and(|b| b.created + delivery_timeout <= now)
            {
                if let Some(mut b) = q.batches.pop_front() {
                    if b.last_error.is_none() {
                        b.last_error.clone_from(&q.last_error);
                    }
                    out.push(b);
                }
            }
        }
        let n: usize = out.iter().map(ProducerBatch::record_count).sum();
        self.outstanding = self.outstanding.saturating_sub(n);
        out
    }
}

#[cfg(test)]
mod tests;
