//! Readiness and draining: which partitions' front batches may go now
//! (full, lingered, flushed, backed off, in the transaction, under the
//! in-flight limit), closing them with their sequence numbers, and
//! grouping them by leader into requests within `max.request.size`.

use std::collections::HashMap;

use tokio::time::Instant;

use super::queue::advance;
use super::{Accumulator, ProducerBatch, Tp};
use crate::error::Result;

/// Which batches `drain` may hand out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DrainMode {
    /// Everything ready.
    All,
    /// A new producer identity is pending: only retries of batches that may
    /// already be written, which must finish under the old identity.
    MaybeWrittenRetriesOnly,
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

impl Accumulator {
    /// Closes and takes the ready batches: each gets its sequence numbers
    /// here but is encoded by `ProducerBatch::seal`, after the lock is
    /// released. `leader_of` answers the current
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
            let full =
                queue.batches.len() > 1 || front.size() >= cfg.batch_size || !front.is_open();
            let lingered = front.created + cfg.linger <= now;
            if !(full || lingered || flush) {
                out.next_wake = min_instant(out.next_wake, front.created + cfg.linger);
                continue;
            }
            let Some(leader) = leader_of(tp) else {
                out.leaderless = true;
                continue;
            };
            // Every batch of a partition in flight goes to one leader's
            // sink: a batch for a new leader waits until those sent to the
            // old one settle, or it could be written before them (each sink
            // runs on its own). Their completion wakes the sender.
            if queue.in_flight > 0 && queue.in_flight_leader != Some(leader) {
                continue;
            }
            let Some(mut batch) = queue.batches.pop_front() else {
                continue;
            };
            if batch.is_open()
                && let Some(mut writer) = batch.writer.take()
            {
                if cfg.transactional {
                    writer.transactional(true);
                }
                if let Some((pid, epoch)) = producer {
                    writer.producer(pid, epoch, queue.next_sequence);
                    batch.base_sequence = Some(queue.next_sequence);
                    queue.next_sequence = advance(queue.next_sequence, writer.record_count());
                }
                // Encoded (compressed, checksummed) by the sink, outside
                // this lock: `ProducerBatch::seal`.
                batch.writer = Some(writer);
                self.closed += 1;
                batch.closed_order = self.closed;
            }
            queue.in_flight += 1;
            queue.in_flight_leader = Some(leader);
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
}

fn min_instant(a: Option<Instant>, b: Instant) -> Option<Instant> {
    Some(a.map_or(b, |a| a.min(b)))
}
