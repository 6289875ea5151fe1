//! The record accumulator: one queue of batches per partition.
//!
//! Plain data behind the producer's lock; no I/O. `append` adds a record to
//! the partition's open batch (or opens one); `drain` closes the batches
//! that are ready (full, lingered long enough, or flushed), assigns their
//! idempotent sequence numbers, and hands them out grouped by leader.
//! Batches that failed retriably come back through `requeue` and are sent
//! again, with the same sequence numbers, before anything newer.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::delivery::{BatchOutcome, DeliveryFuture};
use crate::error::Result;
use crate::protocol::records::{BatchWriter, Compression, restamp_producer};

/// Topic and partition.
pub(crate) type Tp = (Arc<str>, i32);

/// A batch on its way to one partition.
pub(crate) struct ProducerBatch {
    pub tp: Tp,
    /// Open batches keep their writer; closed ones their encoded bytes,
    /// resent unchanged on retry (same sequence numbers).
    writer: Option<BatchWriter>,
    pub encoded: Option<Bytes>,
    /// Shared by every record's `DeliveryFuture`; settled once.
    pub outcome: Arc<BatchOutcome>,
    records: u32,
    pub created: Instant,
    /// Buffer memory held, returned when the batch completes.
    pub memory: usize,
    pub attempts: u32,
    pub retry_at: Option<Instant>,
    pub base_sequence: Option<i32>,
    /// Some earlier attempt ended without a definite answer (timeout,
    /// disconnect), so the broker may hold this batch already. Such a batch
    /// may only be retried under the producer id and epoch it was written
    /// with, where the broker recognises it as a duplicate.
    pub maybe_written: bool,
    /// When the batch was first drained (closed); a partition's batches must
    /// reach the broker in this order.
    closed_order: u64,
}

impl ProducerBatch {
    fn size(&self) -> usize {
        match (&self.writer, &self.encoded) {
            (Some(w), _) => w.estimated_size(),
            (None, Some(b)) => b.len(),
            (None, None) => 0,
        }
    }

    pub fn record_count(&self) -> usize {
        self.records as usize
    }
}

#[derive(Default)]
struct PartitionQueue {
    batches: VecDeque<ProducerBatch>,
    in_flight: usize,
    next_sequence: i32,
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
    /// A batch was held back because its predecessors are in flight on
    /// another connection; nothing more is drained until they settle.
    blocked: bool,
    /// A retried batch is in flight: the partition sends nothing else until
    /// it settles, so no batch can overtake it on any connection or leader.
    retry_in_flight: bool,
    /// Transactional producer only: AddPartitionsToTxn succeeded for this
    /// partition in the current transaction, so its batches may be sent.
    in_txn: bool,
}

impl PartitionQueue {
    fn release_one(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if self.in_flight == 0 {
            self.in_flight_conn = None;
            self.blocked = false;
            self.retry_in_flight = false;
        }
    }
}

/// Which batches `drain` may hand out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DrainMode {
    /// Everything ready.
    All,
    /// A new producer identity is pending: only retries of batches that may
    /// already be written, which must finish under the old identity.
    MaybeWrittenRetriesOnly,
}

/// Sequence `n` records after `seq`; wraps to 0 after `i32::MAX` as the
/// broker expects.
fn advance(seq: i32, n: i32) -> i32 {
    if seq > i32::MAX - n {
        n - (i32::MAX - seq) - 1
    } else {
        seq + n
    }
}

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

/// What `drain` decided.
#[derive(Default)]
pub(crate) struct Drained {
    /// Closed batches per leader, each group within `max.request.size`.
    pub requests: Vec<(i32, Vec<ProducerBatch>)>,
    /// Partitions with data but no known leader.
    pub leaderless: bool,
    /// When the next batch becomes ready by lingering or backoff.
    pub next_wake: Option<Instant>,
    /// Partitions with data wait for AddPartitionsToTxn.
    pub needs_txn: bool,
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

    /// Appends a record; returns its delivery future and whether the
    /// partition now has a full batch (so the sender should wake before the
    /// linger expires).
    pub fn append(
        &mut self,
        tp: &Tp,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&str, Option<&[u8]>)],
        memory: usize,
    ) -> (DeliveryFuture, bool) {
        let cfg = &self.config;
        let queue = self.queues.entry(tp.clone()).or_default();
        let fits = queue
            .batches
            .back()
            .and_then(|b| b.writer.as_ref())
            .is_some_and(|w| {
                w.is_empty()
                    || w.estimated_size() + w.record_size(timestamp, key, value, headers)
                        <= cfg.batch_size
            });
        if !fits {
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
        let full = batch.size() >= cfg.batch_size;
        self.outstanding += 1;
        (delivery, full || queue.batches.len() > 1)
    }

    /// Closes and takes the ready batches. `leader_of` answers the current
    /// leader of a partition; `producer` the idempotent producer id and
    /// epoch, if any; `flush` makes every batch ready now.
    pub fn drain(
        &mut self,
        now: Instant,
        flush: bool,
        mode: DrainMode,
        producer: Option<(i64, i16)>,
        mut leader_of: impl FnMut(&Tp) -> Option<i32>,
    ) -> Result<Drained> {
        let cfg = self.config.clone();
        let mut out = Drained::default();
        let mut by_leader: HashMap<i32, Vec<(usize, ProducerBatch)>> = HashMap::new();
        for (tp, queue) in self.queues.iter_mut() {
            let Some(front) = queue.batches.front() else {
                continue;
            };
            if cfg.transactional && !queue.in_txn {
                out.needs_txn = true;
                continue;
            }
            if queue.blocked
                || queue.retry_in_flight
                || (mode == DrainMode::MaybeWrittenRetriesOnly && !front.maybe_written)
            {
                continue;
            }
            // A retried batch goes alone, so it cannot be overtaken by a newer
            // one (sequence order on the broker).
            let limit = if front.attempts > 0 {
                1
            } else {
                cfg.max_in_flight
            };
            if queue.in_flight >= limit {
                continue;
            }
            if let Some(at) = front.retry_at
                && at > now
            {
                out.next_wake = min_instant(out.next_wake, at);
                continue;
            }
            let full = queue.batches.len() > 1
                || front.size() >= cfg.batch_size
                || front.encoded.is_some();
            let lingered = front.created + cfg.linger <= now;
            if !(full || lingered || flush) {
                out.next_wake = min_instant(out.next_wake, front.created + cfg.linger);
                continue;
            }
            let Some(leader) = leader_of(tp) else {
                out.leaderless = true;
                continue;
            };
            let Some(mut batch) = queue.batches.pop_front() else {
                continue;
            };
            if let Some(mut writer) = batch.writer.take() {
                if cfg.transactional {
                    writer.transactional(true);
                }
                if let Some((pid, epoch)) = producer {
                    writer.producer(pid, epoch, queue.next_sequence);
                    batch.base_sequence = Some(queue.next_sequence);
                    queue.next_sequence = advance(queue.next_sequence, writer.record_count());
                }
                batch.encoded = Some(writer.finish()?);
                self.closed += 1;
                batch.closed_order = self.closed;
            }
            queue.in_flight += 1;
            queue.retry_in_flight = batch.attempts > 0;
            let size = batch.size();
            by_leader.entry(leader).or_default().push((size, batch));
        }
        for (leader, batches) in by_leader {
            // Split into requests no larger than max.request.size (a single
            // oversized batch still goes alone; the broker judges it).
            let mut current: Vec<ProducerBatch> = Vec::new();
            let mut size = 0;
            for (n, batch) in batches {
                if !current.is_empty() && size + n > cfg.max_request_size {
                    out.requests.push((leader, std::mem::take(&mut current)));
                    size = 0;
                }
                size += n;
                current.push(batch);
            }
            if !current.is_empty() {
                out.requests.push((leader, current));
            }
        }
        Ok(out)
    }

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
            .is_some_and(|b| b.encoded.is_some() && b.closed_order < batch.closed_order)
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
                let Some(encoded) = &b.encoded else {
                    // Open batches are numbered when they are drained.
                    break;
                };
                b.encoded = Some(restamp_producer(encoded, producer_id, epoch, seq)?);
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
        insert_in_sequence_order(queue, batch);
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
            while q.batches.back().is_some_and(|b| b.writer.is_some()) {
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
                if let Some(b) = q.batches.pop_front() {
                    out.push(b);
                }
            }
        }
        let n: usize = out.iter().map(ProducerBatch::record_count).sum();
        self.outstanding = self.outstanding.saturating_sub(n);
        out
    }
}

/// Puts a closed batch back before every batch closed after it (and every
/// open one): the order batches were first drained in is their sequence
/// order.
fn insert_in_sequence_order(queue: &mut PartitionQueue, batch: ProducerBatch) {
    let pos = queue
        .batches
        .iter()
        .position(|b| b.encoded.is_none() || b.closed_order > batch.closed_order)
        .unwrap_or(queue.batches.len());
    queue.batches.insert(pos, batch);
}

fn min_instant(a: Option<Instant>, b: Instant) -> Option<Instant> {
    Some(a.map_or(b, |a| a.min(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acc(linger_ms: u64) -> Accumulator {
        Accumulator::new(AccumulatorConfig {
            batch_size: 1000,
            linger: Duration::from_millis(linger_ms),
            compression: Compression::None,
            max_in_flight: 5,
            max_request_size: 1 << 20,
            transactional: false,
        })
    }

    fn add(a: &mut Accumulator, tp: &Tp, n: usize, size: usize) -> Vec<DeliveryFuture> {
        (0..n)
            .map(|_| a.append(tp, 0, None, Some(&vec![0u8; size]), &[], size).0)
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn batches_wait_for_linger_or_size() {
        let mut a = acc(5);
        let tp: Tp = ("t".into(), 0);
        let _rx = add(&mut a, &tp, 2, 100);
        let d = a
            .drain(Instant::now(), false, DrainMode::All, None, |_| Some(1))
            .unwrap();
        assert!(d.requests.is_empty());
        assert!(d.next_wake.is_some());
        tokio::time::advance(Duration::from_millis(5)).await;
        let d = a
            .drain(Instant::now(), false, DrainMode::All, None, |_| Some(1))
            .unwrap();
        assert_eq!(d.requests.len(), 1);
        assert_eq!(d.requests[0].1[0].record_count(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn full_batches_are_ready_at_once_and_sequences_advance() {
        let mut a = acc(1000);
        let tp: Tp = ("t".into(), 3);
        let _rx = add(&mut a, &tp, 25, 100); // ~3 batches of ~8 records
        let d = a
            .drain(Instant::now(), false, DrainMode::All, Some((7, 0)), |_| {
                Some(2)
            })
            .unwrap();
        let batches = &d.requests[0].1;
        assert!(batches.len() == 1, "one batch per partition per drain");
        assert_eq!(batches[0].base_sequence, Some(0));
        let first = batches[0].record_count() as i32;
        let d2 = a
            .drain(Instant::now(), false, DrainMode::All, Some((7, 0)), |_| {
                Some(2)
            })
            .unwrap();
        assert_eq!(d2.requests[0].1[0].base_sequence, Some(first));
    }

    #[tokio::test(start_paused = true)]
    async fn requeued_batch_goes_first_and_alone() {
        let mut a = acc(0);
        let tp: Tp = ("t".into(), 0);
        let _rx = add(&mut a, &tp, 25, 100);
        let mut sent = Vec::new();
        for _ in 0..3 {
            let d = a
                .drain(Instant::now(), false, DrainMode::All, Some((1, 0)), |_| {
                    Some(1)
                })
                .unwrap();
            sent.extend(d.requests.into_iter().flat_map(|(_, b)| b));
        }
        assert_eq!(sent.len(), 3);
        let seqs: Vec<_> = sent.iter().map(|b| b.base_sequence.unwrap()).collect();
        // The first fails retriably; the later two are still in flight.
        let first = sent.remove(0);
        a.requeue(first, Duration::from_millis(10));
        tokio::time::advance(Duration::from_millis(10)).await;
        // Two still in flight: the retry must wait for them.
        let d = a
            .drain(Instant::now(), false, DrainMode::All, Some((1, 0)), |_| {
                Some(1)
            })
            .unwrap();
        assert!(d.requests.is_empty());
        a.complete(&tp, 0);
        a.complete(&tp, 0);
        let d = a
            .drain(Instant::now(), false, DrainMode::All, Some((1, 0)), |_| {
                Some(1)
            })
            .unwrap();
        let retried = &d.requests[0].1[0];
        assert_eq!(retried.base_sequence, Some(seqs[0]));
        assert_eq!(retried.attempts, 1);
    }

    fn drain_all(a: &mut Accumulator) -> Vec<ProducerBatch> {
        a.drain(Instant::now(), true, DrainMode::All, Some((1, 0)), |_| {
            Some(1)
        })
        .unwrap()
        .requests
        .into_iter()
        .flat_map(|(_, b)| b)
        .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_partition_pipelines_on_one_connection_only() {
        let mut a = acc(0);
        let tp: Tp = ("t".into(), 0);
        let _rx = add(&mut a, &tp, 25, 100);
        let first = drain_all(&mut a).remove(0);
        assert!(a.bind(&first, 7));
        // The next batch would go out on another connection while the first
        // is still in flight on connection 7: held back, partition blocked.
        let second = drain_all(&mut a).remove(0);
        assert!(!a.bind(&second, 8));
        let second_seq = second.base_sequence;
        a.unsend(second);
        assert!(
            drain_all(&mut a).is_empty(),
            "blocked until the first settles"
        );
        a.acked(&first);
        a.complete(&tp, first.record_count());
        let again = drain_all(&mut a).remove(0);
        assert_eq!(again.base_sequence, second_seq, "same batch, same sequence");
        assert_eq!(again.attempts, 0, "holding back is not a retry");
        assert!(a.bind(&again, 8));
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_overtakes_a_retry_in_flight() {
        let mut a = acc(0);
        let tp: Tp = ("t".into(), 0);
        let _rx = add(&mut a, &tp, 40, 100);
        let first = drain_all(&mut a).remove(0);
        a.requeue(first, Duration::ZERO);
        let retry = drain_all(&mut a).remove(0);
        assert_eq!(retry.attempts, 1);
        // Fresh batches wait while the retry is in flight.
        assert!(drain_all(&mut a).is_empty());
        a.complete(&tp, retry.record_count());
        assert_eq!(drain_all(&mut a).len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_identity_renumbers_queued_batches_from_zero() {
        let mut a = acc(0);
        let tp: Tp = ("t".into(), 0);
        let _rx = add(&mut a, &tp, 25, 100);
        let b1 = drain_all(&mut a).remove(0);
        let b2 = drain_all(&mut a).remove(0);
        let (n1, n2) = (b1.record_count() as i32, b2.record_count() as i32);
        // Both refused; the broker lost our sequence.
        a.requeue(b1, Duration::ZERO);
        a.requeue(b2, Duration::ZERO);
        assert_eq!(a.in_flight(), 0);
        a.reset_identity(9, 3).unwrap();
        let r1 = drain_all(&mut a).remove(0);
        assert_eq!(r1.base_sequence, Some(0));
        let decoded = crate::protocol::records::decode_batches(r1.encoded.clone().unwrap())
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                decoded.producer_id,
                decoded.producer_epoch,
                decoded.base_sequence
            ),
            (9, 3, 0)
        );
        a.complete(&tp, r1.record_count());
        let r2 = drain_all(&mut a).remove(0);
        assert_eq!(r2.base_sequence, Some(n1));
        a.complete(&tp, r2.record_count());
        // The next fresh batch continues after them.
        let r3 = drain_all(&mut a).remove(0);
        assert_eq!(r3.base_sequence, Some(n1 + n2));
    }

    #[tokio::test(start_paused = true)]
    async fn transactional_batches_wait_for_their_partition_to_join_the_transaction() {
        let mut a = acc(0);
        a.config.transactional = true;
        let (t0, t1): (Tp, Tp) = (("t".into(), 0), ("t".into(), 1));
        let _r0 = add(&mut a, &t0, 2, 10);
        let _r1 = add(&mut a, &t1, 2, 10);
        let d = a
            .drain(Instant::now(), true, DrainMode::All, Some((1, 0)), |_| {
                Some(1)
            })
            .unwrap();
        assert!(d.requests.is_empty() && d.needs_txn);
        let mut pending = a.partitions_needing_txn();
        pending.sort();
        assert_eq!(pending, vec![t0.clone(), t1.clone()]);
        a.mark_in_txn(std::slice::from_ref(&t0));
        assert_eq!(a.partitions_needing_txn(), vec![t1.clone()]);
        let sent = drain_all(&mut a);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].tp, t0);
        let decoded = crate::protocol::records::decode_batches(sent[0].encoded.clone().unwrap())
            .next()
            .unwrap()
            .unwrap();
        assert!(decoded.is_transactional());
        // The transaction ends: the next one adds its partitions again.
        a.complete(&t0, sent[0].record_count());
        a.end_transaction();
        let _r2 = add(&mut a, &t0, 1, 10);
        let mut pending = a.partitions_needing_txn();
        pending.sort();
        assert_eq!(pending, vec![t0, t1]);
    }

    #[tokio::test(start_paused = true)]
    async fn abort_takes_only_batches_not_yet_drained() {
        let mut a = acc(0);
        let tp: Tp = ("t".into(), 0);
        let _rx = add(&mut a, &tp, 25, 100);
        let first = drain_all(&mut a).remove(0);
        // Failed retriably: back in the queue, closed, with its sequence.
        a.requeue(first, Duration::ZERO);
        let before = a.outstanding();
        let open = a.take_open_batches(None);
        assert!(!open.is_empty() && open.iter().all(|b| b.encoded.is_none()));
        let dropped: usize = open.iter().map(ProducerBatch::record_count).sum();
        assert_eq!(a.outstanding(), before - dropped);
        let left = drain_all(&mut a);
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].base_sequence, Some(0), "the closed batch settles");
        assert!(a.take_open_batches(Some(&[("other".into(), 0)])).is_empty());
    }

    #[test]
    fn sequence_wraps_like_the_broker() {
        let mut a = acc(0);
        let tp: Tp = ("t".into(), 0);
        a.queues.entry(tp.clone()).or_default().next_sequence = i32::MAX - 1;
        let _rx = add(&mut a, &tp, 3, 10);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let d = a
                .drain(Instant::now(), true, DrainMode::All, Some((1, 0)), |_| {
                    Some(1)
                })
                .unwrap();
            assert_eq!(d.requests[0].1[0].base_sequence, Some(i32::MAX - 1));
        });
        assert_eq!(a.queues[&tp].next_sequence, 1);
    }
}
