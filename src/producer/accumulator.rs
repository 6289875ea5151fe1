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
use crate::protocol::records::{BatchWriter, Compression};

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
}

/// Settings the accumulator needs.
#[derive(Debug, Clone)]
pub(crate) struct AccumulatorConfig {
    pub batch_size: usize,
    pub linger: Duration,
    pub compression: Compression,
    pub max_in_flight: usize,
    pub max_request_size: usize,
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
}

pub(crate) struct Accumulator {
    config: AccumulatorConfig,
    queues: HashMap<Tp, PartitionQueue>,
    /// Records appended and not yet completed.
    outstanding: usize,
}

impl Accumulator {
    pub fn new(config: AccumulatorConfig) -> Self {
        Accumulator {
            config,
            queues: HashMap::new(),
            outstanding: 0,
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
                if let Some((pid, epoch)) = producer {
                    writer.producer(pid, epoch, queue.next_sequence);
                    batch.base_sequence = Some(queue.next_sequence);
                    // Sequences wrap to 0 after i32::MAX, as the broker expects.
                    let n = writer.record_count();
                    queue.next_sequence = if queue.next_sequence > i32::MAX - n {
                        n - (i32::MAX - queue.next_sequence) - 1
                    } else {
                        queue.next_sequence + n
                    };
                }
                batch.encoded = Some(writer.finish()?);
            }
            queue.in_flight += 1;
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

    /// A sent batch is done (delivered or failed for good).
    pub fn complete(&mut self, tp: &Tp, records: usize) {
        if let Some(q) = self.queues.get_mut(tp) {
            q.in_flight = q.in_flight.saturating_sub(1);
        }
        self.outstanding = self.outstanding.saturating_sub(records);
    }

    /// A sent batch failed retriably: back to the front of its queue, in
    /// sequence order, to be sent again after `backoff`.
    pub fn requeue(&mut self, mut batch: ProducerBatch, backoff: Duration) {
        batch.attempts += 1;
        batch.retry_at = Some(Instant::now() + backoff);
        let queue = self.queues.entry(batch.tp.clone()).or_default();
        queue.in_flight = queue.in_flight.saturating_sub(1);
        let pos = queue
            .batches
            .iter()
            .position(|b| match (b.base_sequence, batch.base_sequence) {
                (Some(a), Some(me)) => a > me,
                _ => b.attempts == 0,
            })
            .unwrap_or(queue.batches.len());
        queue.batches.insert(pos, batch);
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
        let d = a.drain(Instant::now(), false, None, |_| Some(1)).unwrap();
        assert!(d.requests.is_empty());
        assert!(d.next_wake.is_some());
        tokio::time::advance(Duration::from_millis(5)).await;
        let d = a.drain(Instant::now(), false, None, |_| Some(1)).unwrap();
        assert_eq!(d.requests.len(), 1);
        assert_eq!(d.requests[0].1[0].record_count(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn full_batches_are_ready_at_once_and_sequences_advance() {
        let mut a = acc(1000);
        let tp: Tp = ("t".into(), 3);
        let _rx = add(&mut a, &tp, 25, 100); // ~3 batches of ~8 records
        let d = a
            .drain(Instant::now(), false, Some((7, 0)), |_| Some(2))
            .unwrap();
        let batches = &d.requests[0].1;
        assert!(batches.len() == 1, "one batch per partition per drain");
        assert_eq!(batches[0].base_sequence, Some(0));
        let first = batches[0].record_count() as i32;
        let d2 = a
            .drain(Instant::now(), false, Some((7, 0)), |_| Some(2))
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
                .drain(Instant::now(), false, Some((1, 0)), |_| Some(1))
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
            .drain(Instant::now(), false, Some((1, 0)), |_| Some(1))
            .unwrap();
        assert!(d.requests.is_empty());
        a.complete(&tp, 0);
        a.complete(&tp, 0);
        let d = a
            .drain(Instant::now(), false, Some((1, 0)), |_| Some(1))
            .unwrap();
        let retried = &d.requests[0].1[0];
        assert_eq!(retried.base_sequence, Some(seqs[0]));
        assert_eq!(retried.attempts, 1);
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
                .drain(Instant::now(), true, Some((1, 0)), |_| Some(1))
                .unwrap();
            assert_eq!(d.requests[0].1[0].base_sequence, Some(i32::MAX - 1));
        });
        assert_eq!(a.queues[&tp].next_sequence, 1);
    }
}
