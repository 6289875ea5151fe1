//! The processor's decisions, synchronous and under one mutex: which
//! records are taken in, which start (ordering, concurrency, rate limits,
//! circuit breaker, batches), what a finished job changes, which
//! partitions to pause, and what to commit. No I/O and no waiting here:
//! `runtime.rs` does that.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use bytes::Bytes;
use std::time::Instant;
use tokio::sync::watch;

use super::breaker::{Admission, CircuitBreaker};
use super::keyed::{ProcessingOrder, Scheduler, WorkItem};
use super::offsets::PartitionOffsets;
use super::rate::TokenBucket;
use super::settings::{BatchConfig, ProcessorSettings};
use crate::TopicPartition;
use crate::consumer::{ConsumerRecord, OffsetAndMetadata};

/// Kafka's default `offset.metadata.max.bytes`.
const MAX_METADATA: usize = 4096;
/// Completed-beyond offsets a partition may hold before it is paused (the
/// tracker's memory bound while one record is stuck).
const MAX_BEYOND: usize = 10_000;
/// Records taken in per partition before it is paused.
const MAX_QUEUED_PER_PARTITION: usize = 20_000;
/// Records taken in overall before every partition is paused.
const MAX_QUEUED: usize = 100_000;

/// One record on its way through the processor.
pub(crate) struct Work<K, V> {
    pub record: Arc<ConsumerRecord<K, V>>,
    pub tp: TopicPartition,
    pub key: Option<Bytes>,
    /// The partition's assignment epoch when taken in: a result for an
    /// older epoch (the partition was revoked meanwhile) is dropped.
    pub epoch: u64,
    /// Handler calls so far.
    pub attempts: u32,
    /// When the first call started.
    pub first_attempt: Option<Instant>,
    /// Put back in its lane to start later (a retry, or held back by a
    /// rate limit): the scheduler's wake-up time only matters while one is.
    pub delayed: bool,
}

impl<K, V> WorkItem for Work<K, V> {
    fn topic_partition(&self) -> &TopicPartition {
        &self.tp
    }

    fn offset(&self) -> i64 {
        self.record.offset
    }

    fn key(&self) -> Option<&Bytes> {
        self.key.as_ref()
    }
}

/// Records started together (one, or a batch), with the signal that
/// their partitions were revoked.
pub(crate) struct Job<K, V> {
    pub items: Vec<Work<K, V>>,
    pub cancelled: watch::Receiver<bool>,
    /// The handler timeout in force when the job started.
    pub timeout: Option<std::time::Duration>,
}

impl<K, V> Job<K, V> {
    pub(crate) fn records(&self) -> Vec<Arc<ConsumerRecord<K, V>>> {
        self.items.iter().map(|w| w.record.clone()).collect()
    }

    pub(crate) fn first_partition(&self) -> &TopicPartition {
        &self.items[0].tp
    }

    pub(crate) fn first_offset(&self) -> i64 {
        self.items[0].record.offset
    }

    /// Handler calls so far (the most of any record in the job).
    pub(crate) fn attempts(&self) -> u32 {
        self.items.iter().map(|w| w.attempts).max().unwrap_or(0)
    }
}

/// A batch split at its failed record: done before it, it, after it.
pub(crate) type SplitBatch<K, V> = (Job<K, V>, Job<K, V>, Option<Job<K, V>>);

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The handler succeeded.
    Processed,
    /// Given up on, and written to the dead-letter topic (or skipped).
    DeadLettered,
    /// Not done (revoked or shutting down): must not be committed.
    Abandoned,
}

/// One assigned partition.
struct Assigned {
    offsets: Option<PartitionOffsets>,
    epoch: u64,
    /// Fires when the partition is revoked or lost.
    cancel: watch::Sender<bool>,
    /// Jobs of this partition started and not finished.
    running: usize,
    /// No new work: revocation is draining it.
    revoking: bool,
    /// What was last committed, to commit only changes.
    last_commit: Option<(i64, String)>,
    /// The first offset taken in, when no committed offset was found (an
    /// abort rewinds there).
    first_offset: Option<i64>,
    limiter: Option<TokenBucket>,
}

pub(crate) struct Core<K, V> {
    settings: ProcessorSettings,
    scheduler: Scheduler<Work<K, V>>,
    partitions: HashMap<TopicPartition, Assigned>,
    next_epoch: u64,
    records_limiter: Option<TokenBucket>,
    bytes_limiter: Option<TokenBucket>,
    breaker: Option<CircuitBreaker>,
    /// Started records waiting for a batch to fill, and since when.
    forming: Vec<Work<K, V>>,
    forming_since: Option<Instant>,
    /// Partitions we paused.
    paused: HashSet<TopicPartition>,
    paused_all: bool,
    /// A wake-up already scheduled (so one is not spawned per call).
    wake_at: Option<Instant>,
    /// Records put back in their lanes with a start time (see
    /// `Work::delayed`): the scheduler is asked for its next wake-up only
    /// while there are any (asking walks every waiting lane).
    delayed: usize,
    stopped: bool,
    /// A transaction is ending: nothing new starts.
    committing: bool,
    /// Jobs finished since the last commit (a transaction's size).
    finished_since_commit: usize,
    pub processed: u64,
    pub dead_lettered: u64,
}

impl<K, V> Core<K, V>
where
    K: Hash,
{
    pub(crate) fn new(order: ProcessingOrder, settings: ProcessorSettings, now: Instant) -> Self {
        let mut core = Core {
            settings: ProcessorSettings::default(),
            scheduler: Scheduler::new(order),
            partitions: HashMap::new(),
            next_epoch: 1,
            records_limiter: None,
            bytes_limiter: None,
            breaker: None,
            forming: Vec::new(),
            forming_since: None,
            paused: HashSet::new(),
            paused_all: false,
            wake_at: None,
            delayed: 0,
            stopped: false,
            committing: false,
            finished_since_commit: 0,
            processed: 0,
            dead_lettered: 0,
        };
        core.set_settings(settings, now);
        core
    }

    pub(crate) fn settings(&self) -> &ProcessorSettings {
        &self.settings
    }

    /// Applies new settings; limiters and the breaker keep their state.
    pub(crate) fn set_settings(&mut self, settings: ProcessorSettings, now: Instant) {
        fn limiter(current: &mut Option<TokenBucket>, rate: Option<f64>, now: Instant) {
            match (rate.filter(|r| *r > 0.0), current.as_mut()) {
                (None, _) => *current = None,
                // A second's worth of burst: smooth, yet a slow start
                // does not lose the first second.
                (Some(r), Some(b)) => b.set_rate(r, r.max(1.0), now),
                (Some(r), None) => *current = Some(TokenBucket::new(r, r.max(1.0), now)),
            }
        }
        limiter(&mut self.records_limiter, settings.records_per_second, now);
        limiter(&mut self.bytes_limiter, settings.bytes_per_second, now);
        for p in self.partitions.values_mut() {
            limiter(&mut p.limiter, settings.partition_records_per_second, now);
        }
        match (settings.breaker, self.breaker.as_mut()) {
            (None, _) => self.breaker = None,
            (Some(c), Some(b)) => b.set_config(c, now),
            (Some(c), None) => self.breaker = Some(CircuitBreaker::new(c)),
        }
        self.settings = settings;
    }

    /// A partition was assigned; `committed` is its committed offset and
    /// metadata, if any (the records done beyond it come back from there).
    pub(crate) fn assign(&mut self, tp: TopicPartition, committed: Option<(i64, Option<String>)>) {
        let offsets = committed.map(|(o, m)| PartitionOffsets::from_committed(o, m.as_deref()));
        let last_commit = offsets.as_ref().map(|o| (o.committable(), String::new()));
        let epoch = self.next_epoch;
        self.next_epoch += 1;
        let limiter = self
            .settings
            .partition_records_per_second
            .filter(|r| *r > 0.0)
            .map(|r| TokenBucket::new(r, r.max(1.0), Instant::now()));
        self.partitions.insert(
            tp,
            Assigned {
                offsets,
                epoch,
                cancel: watch::channel(false).0,
                running: 0,
                revoking: false,
                last_commit,
                limiter,
                first_offset: None,
            },
        );
    }

    /// Revocation begins: queued work of these partitions is dropped (it
    /// was not started, so it is not done), retry waits end, nothing new
    /// starts; running jobs may finish.
    pub(crate) fn revoking(&mut self, partitions: &[TopicPartition]) {
        for tp in partitions {
            let dropped = self.scheduler.remove_partition(tp);
            let delayed = dropped.iter().filter(|w| w.delayed).count();
            self.delayed = self.delayed.saturating_sub(delayed);
            // A forming batch's records of the partition were handed out:
            // free their slots.
            let (gone, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.forming)
                .into_iter()
                .partition(|w| &w.tp == tp);
            self.forming = keep;
            for w in gone {
                self.scheduler.finished(&w.tp, w.key.as_ref());
                if let Some(p) = self.partitions.get_mut(tp) {
                    p.running = p.running.saturating_sub(1);
                }
            }
            if let Some(p) = self.partitions.get_mut(tp) {
                p.revoking = true;
                p.cancel.send_replace(true);
            }
        }
        if self.forming.is_empty() {
            self.forming_since = None;
        }
    }

    /// The partitions are gone: later results for them are dropped.
    pub(crate) fn release(&mut self, partitions: &[TopicPartition]) {
        for tp in partitions {
            self.partitions.remove(tp);
            self.paused.remove(tp);
        }
    }

    /// Takes in polled records: each is registered with its partition's
    /// tracker, and skipped when already done (a record finished before a
    /// restart or rebalance, remembered in the commit metadata).
    pub(crate) fn accept(&mut self, records: Vec<ConsumerRecord<K, V>>) {
        for record in records {
            let tp = record.topic_partition();
            let Some(p) = self.partitions.get_mut(&tp) else {
                continue; // Not (or no longer) ours.
            };
            if p.revoking {
                continue;
            }
            let offsets = p
                .offsets
                .get_or_insert_with(|| PartitionOffsets::new(record.offset));
            p.first_offset.get_or_insert(record.offset);
            if !offsets.started(record.offset) {
                continue;
            }
            let key = record.key.as_ref().map(key_bytes);
            self.scheduler.push(Work {
                record: Arc::new(record),
                tp,
                key,
                epoch: p.epoch,
                attempts: 0,
                first_attempt: None,
                delayed: false,
            });
        }
    }

    /// The jobs that may start now, and when to look again if something
    /// (a rate limit, the breaker, a forming batch) holds work back.
    pub(crate) fn next_jobs(
        &mut self,
        now: Instant,
        batch: Option<BatchConfig>,
    ) -> (Vec<Job<K, V>>, Option<Instant>) {
        let mut jobs = Vec::new();
        let mut wake: Option<Instant> = None;
        if self.stopped || self.committing {
            return (jobs, None);
        }
        loop {
            let probe = match self.breaker.as_mut().map(|b| b.allow(now)) {
                None | Some(Admission::Allowed) => false,
                Some(Admission::Probe) => true,
                Some(Admission::Rejected { retry_at }) => {
                    wake = earliest(wake, retry_at);
                    break;
                }
            };
            if let Some(at) = self.limiters_wait(now, None) {
                if probe {
                    self.breaker_probe_unused();
                }
                wake = earliest(wake, at);
                break;
            }
            // The scheduler counts records handed out; with batches the
            // concurrency limit counts batches.
            let global = match batch {
                None => self.settings.max_concurrency,
                Some(b) => self.settings.max_concurrency.saturating_mul(b.max_records),
            };
            let Some(mut work) =
                self.scheduler
                    .next_ready(now, global, self.settings.max_in_flight_per_partition)
            else {
                if probe {
                    self.breaker_probe_unused();
                }
                break;
            };
            if work.delayed {
                work.delayed = false;
                self.delayed = self.delayed.saturating_sub(1);
            }
            // A partition over its own rate goes back to the head of its
            // queue until its tokens are there.
            if let Some(at) = self.limiters_wait(now, Some(&work.tp)) {
                // Back at the head of its lane, holding no slot.
                work.delayed = true;
                if self.scheduler.retry_later(work, now).is_none() {
                    self.delayed += 1;
                }
                if probe {
                    self.breaker_probe_unused();
                }
                wake = earliest(wake, at);
                break;
            }
            self.take_tokens(&work, now);
            work.attempts += 1;
            work.first_attempt.get_or_insert(now);
            if let Some(p) = self.partitions.get_mut(&work.tp) {
                p.running += 1;
            }
            match batch {
                None => {
                    jobs.push(self.job(vec![work]));
                }
                Some(b) => {
                    self.forming.push(work);
                    self.forming_since.get_or_insert(now);
                    if self.forming.len() >= b.max_records {
                        let items = std::mem::take(&mut self.forming);
                        self.forming_since = None;
                        jobs.push(self.job(items));
                    }
                }
            }
            if probe {
                break; // One record probes a half-open breaker.
            }
        }
        if let (Some(b), Some(since)) = (batch, self.forming_since) {
            if now >= since + b.max_wait || self.scheduler_idle() {
                let items = std::mem::take(&mut self.forming);
                self.forming_since = None;
                if !items.is_empty() {
                    jobs.push(self.job(items));
                }
            } else {
                wake = earliest(wake, since + b.max_wait);
            }
        }
        if self.delayed > 0
            && let Some(at) = self.scheduler.next_retry_at()
        {
            wake = earliest(wake, at.max(now));
        }
        // Only schedule a wake-up earlier than the one pending.
        let wake = match (wake, self.wake_at) {
            (Some(w), Some(pending)) if pending <= w && pending > now => None,
            (Some(w), _) => {
                self.wake_at = Some(w);
                Some(w)
            }
            (None, _) => None,
        };
        (jobs, wake)
    }

    /// A scheduled wake-up fired.
    pub(crate) fn woke(&mut self, at: Instant) {
        if self.wake_at == Some(at) {
            self.wake_at = None;
        }
    }

    fn job(&self, items: Vec<Work<K, V>>) -> Job<K, V> {
        let cancelled = self
            .partitions
            .get(&items[0].tp)
            .map_or_else(|| watch::channel(true).1, |p| p.cancel.subscribe());
        Job {
            items,
            cancelled,
            timeout: self.settings.handler_timeout,
        }
    }

    /// Nothing more will become ready without a job finishing: a forming
    /// batch need not wait for records that cannot come.
    fn scheduler_idle(&self) -> bool {
        self.queued_records() == 0
    }

    /// When the rate limits allow the next record, if not now. A record
    /// starts once a token is there; its bytes may overdraw the bytes
    /// bucket, which the following records then wait for.
    fn limiters_wait(&self, now: Instant, tp_hint: Option<&TopicPartition>) -> Option<Instant> {
        let mut wait = None;
        let buckets = [self.records_limiter.as_ref(), self.bytes_limiter.as_ref()];
        for (i, bucket) in buckets.into_iter().enumerate() {
            let Some(b) = bucket else { continue };
            let available = b.available(now);
            // Records need a whole token; bytes only a positive balance.
            let needed = if i == 0 { 1.0 } else { f64::MIN_POSITIVE };
            if available < needed {
                let secs = (needed - available) / b.rate_per_sec();
                wait = earliest(
                    wait,
                    now + std::time::Duration::from_secs_f64(secs.min(3600.0)),
                );
            }
        }
        if let Some(b) = tp_hint
            .and_then(|tp| self.partitions.get(tp))
            .and_then(|p| p.limiter.as_ref())
        {
            let available = b.available(now);
            if available < 1.0 {
                let secs = (1.0 - available) / b.rate_per_sec();
                wait = earliest(
                    wait,
                    now + std::time::Duration::from_secs_f64(secs.min(3600.0)),
                );
            }
        }
        wait
    }

    fn take_tokens(&mut self, work: &Work<K, V>, now: Instant) {
        if let Some(b) = self.records_limiter.as_mut() {
            b.take_owed(1.0, now);
        }
        if let Some(b) = self.bytes_limiter.as_mut() {
            b.take_owed(record_bytes(&work.record) as f64, now);
        }
        if let Some(b) = self
            .partitions
            .get_mut(&work.tp)
            .and_then(|p| p.limiter.as_mut())
        {
            b.take_owed(1.0, now);
        }
    }

    fn breaker_probe_unused(&mut self) {
        if let Some(b) = self.breaker.as_mut() {
            b.on_cancelled();
        }
    }

    /// Splits a batch at its failed record `i`: the records before it, it
    /// alone, and the ones after it (if any).
    pub(crate) fn split_batch(&self, mut job: Job<K, V>, i: usize) -> SplitBatch<K, V> {
        let rest: Vec<Work<K, V>> = job.items.split_off(i + 1);
        let failed = job.items.pop().map(|w| vec![w]).unwrap_or_default();
        let part = |items: Vec<Work<K, V>>| Job {
            items,
            cancelled: job.cancelled.clone(),
            timeout: job.timeout,
        };
        let rest = (!rest.is_empty()).then(|| part(rest));
        let failed = part(failed);
        (job, failed, rest)
    }

    /// Records handed out but not attempted for good (the rest of a batch
    /// whose earlier record failed): back to the head of their lanes, to
    /// start again at once, the attempt not counted.
    pub(crate) fn put_back(&mut self, job: Job<K, V>) {
        for mut w in job.items {
            w.attempts = w.attempts.saturating_sub(1);
            if let Some(p) = self.partitions.get_mut(&w.tp)
                && p.epoch == w.epoch
            {
                p.running = p.running.saturating_sub(1);
            }
            w.delayed = true;
            if self.scheduler.retry_later(w, Instant::now()).is_none() {
                self.delayed += 1;
            }
        }
    }

    /// How long until the job's next attempt, or `None` to give up.
    pub(crate) fn retry_delay(
        &self,
        job: &Job<K, V>,
        now: Instant,
        random: f64,
    ) -> Option<std::time::Duration> {
        let first = job
            .items
            .iter()
            .filter_map(|w| w.first_attempt)
            .min()
            .unwrap_or(now);
        self.settings
            .retry
            .next_delay(job.attempts(), now.saturating_duration_since(first), random)
    }

    /// Puts a failed job's records back at the head of their lanes, to
    /// start again from `at`; records of revoked partitions are dropped
    /// (not done: their next owner processes them).
    pub(crate) fn retry_later(&mut self, job: Job<K, V>, at: Instant) {
        for mut w in job.items {
            if let Some(p) = self.partitions.get_mut(&w.tp)
                && p.epoch == w.epoch
            {
                p.running = p.running.saturating_sub(1);
            }
            w.delayed = true;
            if self.scheduler.retry_later(w, at).is_none() {
                self.delayed += 1;
            }
        }
    }

    pub(crate) fn breaker_open(&self) -> bool {
        self.breaker
            .as_ref()
            .is_some_and(|b| !matches!(b.state(), super::breaker::BreakerState::Closed { .. }))
    }

    /// A handler call failed (counts towards the breaker).
    pub(crate) fn handler_failed(&mut self, now: Instant) {
        if let Some(b) = self.breaker.as_mut() {
            b.on_failure(now);
        }
    }

    /// A job ended: its records are done (or not), its slots are free.
    pub(crate) fn job_finished(&mut self, job: &Job<K, V>, outcome: Outcome, now: Instant) {
        if outcome == Outcome::Processed
            && let Some(b) = self.breaker.as_mut()
        {
            b.on_success(now);
        }
        if outcome != Outcome::Abandoned {
            self.finished_since_commit += job.items.len();
        }
        for w in &job.items {
            self.scheduler.finished(&w.tp, w.key.as_ref());
            let Some(p) = self.partitions.get_mut(&w.tp) else {
                continue;
            };
            if p.epoch != w.epoch {
                continue; // Revoked and assigned again meanwhile.
            }
            p.running = p.running.saturating_sub(1);
            match outcome {
                Outcome::Processed => {
                    self.processed += 1;
                    if let Some(o) = p.offsets.as_mut() {
                        o.completed(w.record.offset);
                    }
                }
                Outcome::DeadLettered => {
                    self.dead_lettered += 1;
                    if let Some(o) = p.offsets.as_mut() {
                        o.completed(w.record.offset);
                    }
                }
                Outcome::Abandoned => {}
            }
        }
    }

    /// A transaction ends (`true`) or the next one runs (`false`).
    pub(crate) fn set_committing(&mut self, committing: bool) {
        self.committing = committing;
    }

    pub(crate) fn finished_since_commit(&self) -> usize {
        self.finished_since_commit
    }

    /// The first offset taken in for `tp` in this assignment, when no
    /// committed offset gave its start.
    pub(crate) fn first_offset(&self, tp: &TopicPartition) -> Option<i64> {
        self.partitions.get(tp).and_then(|p| p.first_offset)
    }

    /// Jobs running (handler, retry wait or dead-letter write) for
    /// `partitions`, or for all.
    pub(crate) fn running(&self, partitions: Option<&[TopicPartition]>) -> usize {
        match partitions {
            None => self.partitions.values().map(|p| p.running).sum(),
            Some(tps) => tps
                .iter()
                .filter_map(|tp| self.partitions.get(tp))
                .map(|p| p.running)
                .sum(),
        }
    }

    pub(crate) fn queued(&self) -> usize {
        self.queued_records() + self.forming.len()
    }

    fn queued_records(&self) -> usize {
        self.partitions
            .keys()
            .map(|tp| self.scheduler.queued(tp))
            .sum()
    }

    pub(crate) fn assigned(&self) -> usize {
        self.partitions.len()
    }

    /// Shutdown: nothing new starts; a forming batch is dropped (its
    /// records are not done).
    pub(crate) fn stop(&mut self) {
        self.stopped = true;
        for w in std::mem::take(&mut self.forming) {
            if let Some(p) = self.partitions.get_mut(&w.tp) {
                p.running = p.running.saturating_sub(1);
            }
        }
        for p in self.partitions.values() {
            p.cancel.send_replace(true);
        }
    }

    /// Which partitions to pause and resume now: those with too much
    /// buffered (or too much finished beyond a stuck record), all of them
    /// while the breaker is open or the whole buffer is full.
    pub(crate) fn flow(&mut self, now: Instant) -> (Vec<TopicPartition>, Vec<TopicPartition>) {
        let total = self.queued();
        let all = self.breaker_rejecting(now)
            || total >= MAX_QUEUED
            || (self.paused_all && total > MAX_QUEUED / 2);
        self.paused_all = all;
        let mut pause = Vec::new();
        let mut resume = Vec::new();
        for (tp, p) in &self.partitions {
            let queued = self.scheduler.queued(tp);
            let beyond = p.offsets.as_ref().map_or(0, |o| o.beyond_len());
            let was = self.paused.contains(tp);
            // Hysteresis: pause at the limit, resume at half of it.
            let full = if was {
                queued > MAX_QUEUED_PER_PARTITION / 2 || beyond > MAX_BEYOND / 2
            } else {
                queued >= MAX_QUEUED_PER_PARTITION || beyond >= MAX_BEYOND
            };
            let want = all || full;
            if want && !was {
                pause.push(tp.clone());
            } else if !want && was {
                resume.push(tp.clone());
            }
        }
        for tp in &pause {
            self.paused.insert(tp.clone());
        }
        for tp in &resume {
            self.paused.remove(tp);
        }
        (pause, resume)
    }

    fn breaker_rejecting(&mut self, now: Instant) -> bool {
        matches!(
            self.breaker.as_ref().map(|b| b.state()),
            Some(super::breaker::BreakerState::Open { until }) if until > now
        )
    }

    /// The offsets to commit where they changed: each partition's safe
    /// offset with the records done beyond it in the metadata.
    pub(crate) fn commit_offsets(
        &self,
        only: Option<&[TopicPartition]>,
    ) -> BTreeMap<TopicPartition, OffsetAndMetadata> {
        let mut out = BTreeMap::new();
        for (tp, p) in &self.partitions {
            if only.is_some_and(|o| !o.contains(tp)) {
                continue;
            }
            let Some(o) = &p.offsets else { continue };
            let offset = o.committable();
            let metadata = o.encode_metadata(MAX_METADATA);
            if p.last_commit.as_ref() == Some(&(offset, metadata.clone())) {
                continue;
            }
            let mut c = OffsetAndMetadata::new(offset);
            c.metadata = Some(metadata);
            out.insert(tp.clone(), c);
        }
        out
    }

    /// Those offsets were committed.
    pub(crate) fn committed(&mut self, offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>) {
        self.finished_since_commit = 0;
        for (tp, c) in offsets {
            if let Some(p) = self.partitions.get_mut(tp) {
                p.last_commit = Some((c.offset, c.metadata.clone().unwrap_or_default()));
            }
        }
    }
}

fn earliest(a: Option<Instant>, b: Instant) -> Option<Instant> {
    Some(a.map_or(b, |a| a.min(b)))
}

/// What a record weighs for the bytes-per-second limit.
fn record_bytes<K, V>(record: &ConsumerRecord<K, V>) -> usize {
    (record.serialized_key_size.max(0) + record.serialized_value_size.max(0)) as usize
}

/// A record key as the scheduler orders by: its hash (two keys that
/// collide are ordered together, which costs parallelism, never order).
fn key_bytes<K: Hash>(key: &K) -> Bytes {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    Bytes::copy_from_slice(&h.finish().to_be_bytes())
}
