//! One partition's queue and what keeps its batches in sequence order:
//! in-flight counts, the one connection a partition pipelines on, the
//! sequence the broker expects next, requeueing a failed batch before
//! newer ones, and renumbering under a new producer identity. Apart from
//! draining because these rules are what `tests/producer_faults.rs`
//! guards, and they read best together.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use super::{Accumulator, ProducerBatch, Tp};
use crate::error::Result;
use crate::protocol::records::restamp_producer;

#[derive(Default)]
pub(super) struct PartitionQueue {
    pub(super) batches: VecDeque<ProducerBatch>,
    pub(super) in_flight: usize,
    pub(super) next_sequence: i32,
    /// The sequence the broker expects next: one past the last acknowledged
    /// batch. An OUT_OF_ORDER_SEQUENCE answer to the batch starting here
    /// means the broker lost track (a real gap), not that a predecessor is
    /// being retried.
    acked_next: i32,
    /// The connection the in-flight batches went out on. A partition's
    /// batches are pipelined on one connection only: over one socket the
    /// broker appends them in send order, while a batch sent on a new
    /// connection could overtake one still pending on the old (a broker that
    /// checks sequences would refuse it, one that does not would reorder).
    in_flight_conn: Option<u64>,
    /// The leader whose sink the in-flight batches were handed to (drained
    /// and maybe not written yet). A partition has one at a time.
    pub(super) in_flight_leader: Option<i32>,
    /// A batch was held back because its predecessors are in flight on
    /// another connection; nothing more is drained until they settle.
    pub(super) blocked: bool,
    /// A retried batch is in flight: the partition sends nothing else until
    /// it settles, so no batch can overtake it on any connection or leader.
    pub(super) retry_in_flight: bool,
    /// Transactional producer only: AddPartitionsToTxn succeeded for this
    /// partition in the current transaction, so its batches may be sent.
    pub(super) in_txn: bool,
    /// Why the partition's last attempt failed, until a batch is
    /// acknowledged: what a batch that expires before its first attempt
    /// (it waited behind failing predecessors) reports.
    pub(super) last_error: Option<crate::error::Error>,
}

impl PartitionQueue {
    fn release_one(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if self.in_flight == 0 {
            self.in_flight_conn = None;
            self.in_flight_leader = None;
            self.blocked = false;
            self.retry_in_flight = false;
        }
    }
}

/// Sequence `n` records after `seq`; wraps to 0 after `i32::MAX` as the
/// broker expects.
pub(super) fn advance(seq: i32, n: i32) -> i32 {
    if seq > i32::MAX - n {
        n - (i32::MAX - seq) - 1
    } else {
        seq + n
    }
}

impl Accumulator {
    /// Binds a drained batch of `tp` to the connection it is about to be
    /// written on. False when an earlier batch of the partition is still in
    /// flight on another connection, or came back to the queue (failed while
    /// this one waited for its connection): the caller must `unsend` it.
    pub fn bind(&mut self, batch: &ProducerBatch, conn: u64) -> bool {
        let Some(q) = self.queues.get_mut(&batch.tp) else {
            return true;
        };
        // A predecessor back in the queue must be written first.
        if q.batches
            .front()
            .is_some_and(|b| !b.is_open() && b.closed_order < batch.closed_order)
        {
            return false;
        }
        match q.in_flight_conn {
            Some(c) if c != conn && q.in_flight > 1 => false,
            _ => {
                q.in_flight_conn = Some(conn);
                true
            }
        }
    }

    /// A drained batch that was not written after all (see `bind`): back to
    /// its place in sequence order, no attempt counted, and the partition
    /// waits until what is in flight settles.
    pub fn unsend(&mut self, batch: ProducerBatch) {
        let queue = self.queues.entry(batch.tp.clone()).or_default();
        queue.release_one();
        if queue.in_flight > 0 {
            queue.blocked = true;
        }
        insert_in_sequence_order(queue, batch);
    }

    /// A sent batch is done (delivered or failed for good).
    pub fn complete(&mut self, tp: &Tp, records: usize) {
        if let Some(q) = self.queues.get_mut(tp) {
            q.release_one();
        }
        self.outstanding = self.outstanding.saturating_sub(records);
    }

    /// A sent batch was acknowledged: the broker now expects the sequence
    /// after it.
    pub fn acked(&mut self, batch: &ProducerBatch) {
        if let (Some(q), Some(seq)) = (self.queues.get_mut(&batch.tp), batch.base_sequence) {
            q.acked_next = advance(seq, batch.records as i32);
        }
        if let Some(q) = self.queues.get_mut(&batch.tp) {
            q.last_error = None;
        }
    }

    /// Whether `batch` starts where the broker's acknowledged sequence ends,
    /// i.e. no predecessor of it is still unsettled.
    pub fn is_next_sequence(&self, batch: &ProducerBatch) -> bool {
        self.queues
            .get(&batch.tp)
            .is_some_and(|q| batch.base_sequence == Some(q.acked_next))
    }

    /// Batches in flight, over all partitions.
    pub fn in_flight(&self) -> usize {
        self.queues.values().map(|q| q.in_flight).sum()
    }

    /// Whether some partition's next batch is a retry that may already be
    /// written (and so must be settled under the current identity).
    pub fn has_maybe_written_retries(&self) -> bool {
        self.queues
            .values()
            .any(|q| q.batches.front().is_some_and(|b| b.maybe_written))
    }

    /// Adopts a new producer id/epoch (KIP-360's answer to a sequence the
    /// broker lost): every partition starts again at sequence 0, and the
    /// closed batches still queued are renumbered in order. Call only with
    /// nothing in flight.
    pub fn reset_identity(&mut self, producer_id: i64, epoch: i16) -> Result<()> {
        for q in self.queues.values_mut() {
            let mut seq = 0;
            for b in q.batches.iter_mut() {
                if b.is_open() {
                    // Open batches are numbered when they are drained.
                    break;
                }
                if let Some(encoded) = &b.encoded {
                    b.encoded = Some(restamp_producer(encoded, producer_id, epoch, seq)?);
                } else if let Some(w) = b.writer.as_mut() {
                    // Drained, not encoded yet: stamp the writer instead.
                    w.producer(producer_id, epoch, seq);
                }
                b.base_sequence = Some(seq);
                seq = advance(seq, b.records as i32);
            }
            q.next_sequence = seq;
            q.acked_next = 0;
        }
        Ok(())
    }

    /// A sent batch failed retriably: back to the front of its queue, in
    /// sequence order, to be sent again after `backoff`.
    pub fn requeue(&mut self, mut batch: ProducerBatch, backoff: Duration) {
        batch.attempts += 1;
        batch.retry_at = Some(Instant::now() + backoff);
        let queue = self.queues.entry(batch.tp.clone()).or_default();
        queue.release_one();
        if batch.last_error.is_some() {
            queue.last_error.clone_from(&batch.last_error);
        }
        insert_in_sequence_order(queue, batch);
    }
}

/// Puts a closed batch back before every batch closed after it (and every
/// open one): the order batches were first drained in is their sequence
/// order.
fn insert_in_sequence_order(queue: &mut PartitionQueue, batch: ProducerBatch) {
    let pos = queue
        .batches
        .iter()
        .position(|b| b.is_open() || b.closed_order > batch.closed_order)
        .unwrap_or(queue.batches.len());
    queue.batches.insert(pos, batch);
}
