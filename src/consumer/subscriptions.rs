//! The consumer's partition table: which partitions are assigned, where
//! each stands, and the prefetched data waiting to be handed out.
//!
//! Two positions are kept per partition, as in the Java consumer:
//!
//! - the **position** (delivered position): the offset of the next record
//!   `poll` will return. `position()`, `lag()` and (later) offset commits
//!   use it;
//! - the **fetch offset**: where the next Fetch starts. It runs ahead of the
//!   position by whatever sits in the prefetch buffer.
//!
//! A seek, reset, pause or reassignment discards the partition's buffered
//! data and bumps its *generation*; a fetch planned under an older
//! generation is dropped when its response arrives, so stale data can never
//! be delivered. The group driver (a later issue) changes the assignment
//! through [`Subscriptions::assign`] and sets committed positions with
//! [`Subscriptions::seek`].

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use tokio::sync::Notify;
use tokio::time::Instant;

use super::config::OffsetReset;
use super::fetcher::completed::{CompletedFetch, Drained, RawRecord};
use crate::TopicPartition;
use crate::error::{Context, Error, Result};
use crate::metadata::ClusterMetadata;

/// The state of one assigned partition.
#[derive(Debug)]
pub(crate) struct PartitionState {
    /// Bumped by every seek, reset, pause and error that invalidates
    /// fetched data.
    pub generation: u64,
    /// The delivered position; `None` until a reset (or seek) gives one.
    pub position: Option<i64>,
    /// Leader epoch of the last delivered record (KIP-320), if known.
    pub position_epoch: Option<i32>,
    /// How to find a position when `position` is `None`; `None` means the
    /// configured `auto.offset.reset`.
    pub reset: Option<OffsetReset>,
    /// Where the next Fetch starts (the prefetch position).
    pub fetch_offset: i64,
    /// Paused by the application.
    pub paused: bool,
    /// An error `poll` must report (sticky until a seek, as in Java); no
    /// fetching happens meanwhile.
    pub error: Option<Error>,
    /// A corrupt-data error waiting behind the buffered records before it.
    pending_error: Option<Error>,
    /// No fetch before this instant (backoff after a partition error).
    pub retry_after: Option<Instant>,
    /// From the last Fetch response: high watermark, last stable offset,
    /// log start offset (-1 while unknown).
    pub high_watermark: i64,
    pub last_stable_offset: i64,
    pub log_start_offset: i64,
    buffered: VecDeque<CompletedFetch>,
    buffered_bytes: usize,
}

impl PartitionState {
    fn new(generation: u64) -> Self {
        PartitionState {
            generation,
            position: None,
            position_epoch: None,
            reset: None,
            fetch_offset: -1,
            paused: false,
            error: None,
            pending_error: None,
            retry_after: None,
            high_watermark: -1,
            last_stable_offset: -1,
            log_start_offset: -1,
            buffered: VecDeque::new(),
            buffered_bytes: 0,
        }
    }
}

/// One partition a fetch loop should fetch now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FetchTarget {
    pub tp: TopicPartition,
    pub generation: u64,
    pub fetch_offset: i64,
    /// The leader epoch metadata gave (KIP-320), -1 if unknown.
    pub leader_epoch: i32,
}

/// A partition waiting for an offset lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PendingReset {
    pub tp: TopicPartition,
    pub generation: u64,
    pub strategy: OffsetReset,
}

#[derive(Debug, Default)]
struct Table {
    partitions: BTreeMap<TopicPartition, PartitionState>,
    next_generation: u64,
    buffered_bytes: usize,
    /// Where the next `take` starts, so every partition gets its turn.
    round_robin: usize,
}

impl Table {
    fn bump(&mut self) -> u64 {
        self.next_generation += 1;
        self.next_generation
    }

    /// Drops a partition's buffered data and invalidates in-flight fetches.
    fn invalidate(&mut self, tp: &TopicPartition) {
        let generation = self.bump();
        if let Some(state) = self.partitions.get_mut(tp) {
            self.buffered_bytes -= state.buffered_bytes;
            state.buffered.clear();
            state.buffered_bytes = 0;
            state.pending_error = None;
            state.generation = generation;
        }
    }
}

/// The partition table, shared by the consumer handle and its fetch loops.
#[derive(Debug)]
pub(crate) struct Subscriptions {
    table: Mutex<Table>,
    /// Woken when fetched data (or an error) arrives, for `poll`.
    pub data_ready: Notify,
    /// Woken when fetch loops may have something new to fetch: assignment,
    /// seek, resume, buffer space freed, shutdown.
    pub fetch_wake: Notify,
    default_reset: OffsetReset,
}

impl Subscriptions {
    pub(crate) fn new(default_reset: OffsetReset) -> Self {
        Subscriptions {
            table: Mutex::new(Table::default()),
            data_ready: Notify::new(),
            fetch_wake: Notify::new(),
            default_reset,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        // Nothing panics while holding it, so a poisoned lock still holds
        // consistent data.
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wake_fetchers(&self) {
        self.fetch_wake.notify_waiters();
    }

    /// Replaces the assignment. Partitions that stay keep their position
    /// and buffered data; new ones start without a position (to be reset
    /// per `auto.offset.reset`, or set by the group driver with `seek`).
    pub(crate) fn assign(&self, partitions: impl IntoIterator<Item = TopicPartition>) {
        let mut t = self.lock();
        let wanted: std::collections::BTreeSet<TopicPartition> = partitions.into_iter().collect();
        let gone: Vec<TopicPartition> = t
            .partitions
            .keys()
            .filter(|tp| !wanted.contains(*tp))
            .cloned()
            .collect();
        for tp in gone {
            t.invalidate(&tp);
            t.partitions.remove(&tp);
        }
        for tp in wanted {
            if !t.partitions.contains_key(&tp) {
                let generation = t.bump();
                t.partitions.insert(tp, PartitionState::new(generation));
            }
        }
        drop(t);
        self.wake_fetchers();
        self.data_ready.notify_waiters();
    }

    /// The assigned partitions, sorted.
    pub(crate) fn assignment(&self) -> Vec<TopicPartition> {
        self.lock().partitions.keys().cloned().collect()
    }

    /// The distinct topics of the assignment.
    pub(crate) fn topics(&self) -> Vec<std::sync::Arc<str>> {
        let mut topics: Vec<_> = self
            .lock()
            .partitions
            .keys()
            .map(|tp| tp.topic.clone())
            .collect();
        topics.dedup();
        topics
    }

    fn not_assigned(tp: &TopicPartition) -> Error {
        Error::InvalidArgument {
            reason: "partition is not assigned to this consumer".into(),
            context: Context::default()
                .with_topic(tp.topic.clone())
                .with_partition(tp.partition),
        }
    }

    /// Sets the delivered (and fetch) position; discards prefetched data
    /// and clears a sticky error.
    pub(crate) fn seek(&self, tp: &TopicPartition, offset: i64) -> Result<()> {
        if offset < 0 {
            return Err(Error::InvalidArgument {
                reason: format!("seek offset {offset} is negative"),
                context: Context::default()
                    .with_topic(tp.topic.clone())
                    .with_partition(tp.partition),
            });
        }
        let mut t = self.lock();
        if !t.partitions.contains_key(tp) {
            return Err(Self::not_assigned(tp));
        }
        t.invalidate(tp);
        if let Some(s) = t.partitions.get_mut(tp) {
            s.position = Some(offset);
            s.position_epoch = None;
            s.fetch_offset = offset;
            s.reset = None;
            s.error = None;
            s.retry_after = None;
        }
        drop(t);
        self.wake_fetchers();
        Ok(())
    }

    /// Forgets the position so the next poll looks one up with `strategy`
    /// (Java's lazy `seekToBeginning`/`seekToEnd`).
    pub(crate) fn request_reset(&self, tp: &TopicPartition, strategy: OffsetReset) -> Result<()> {
        let mut t = self.lock();
        if !t.partitions.contains_key(tp) {
            return Err(Self::not_assigned(tp));
        }
        t.invalidate(tp);
        if let Some(s) = t.partitions.get_mut(tp) {
            s.position = None;
            s.position_epoch = None;
            s.reset = Some(strategy);
            s.error = None;
            s.retry_after = None;
        }
        Ok(())
    }

    /// Partitions without a position. Those whose strategy is `none` get a
    /// sticky error instead (Java's `NoOffsetForPartitionException`).
    pub(crate) fn pending_resets(&self) -> Vec<PendingReset> {
        let mut t = self.lock();
        let now = Instant::now();
        let default = self.default_reset;
        let mut out = Vec::new();
        let mut errors = false;
        for (tp, s) in t.partitions.iter_mut() {
            if s.position.is_some() || s.error.is_some() || s.retry_after.is_some_and(|r| r > now) {
                continue;
            }
            match s.reset.unwrap_or(default) {
                OffsetReset::None => {
                    errors = true;
                    s.error = Some(Error::InvalidArgument {
                        reason: "no position for the partition and auto.offset.reset=none: \
                                 seek to an offset first"
                            .into(),
                        context: Context::default()
                            .with_topic(tp.topic.clone())
                            .with_partition(tp.partition),
                    });
                }
                strategy => out.push(PendingReset {
                    tp: tp.clone(),
                    generation: s.generation,
                    strategy,
                }),
            }
        }
        drop(t);
        if errors {
            self.data_ready.notify_waiters();
        }
        out
    }

    /// Whether some partition waits for a reset (so a waiting poll should
    /// come back to retry it).
    pub(crate) fn has_pending_resets(&self) -> bool {
        self.lock()
            .partitions
            .values()
            .any(|s| s.position.is_none() && s.error.is_none())
    }

    /// Applies a looked-up offset, unless the partition moved on meanwhile.
    pub(crate) fn complete_reset(
        &self,
        reset: &PendingReset,
        result: Result<i64>,
        backoff: std::time::Duration,
    ) {
        let mut t = self.lock();
        let Some(s) = t.partitions.get_mut(&reset.tp) else {
            return;
        };
        if s.generation != reset.generation || s.position.is_some() {
            return;
        }
        match result {
            Ok(offset) if offset >= 0 => {
                s.position = Some(offset);
                s.fetch_offset = offset;
                s.reset = None;
                s.retry_after = None;
                drop(t);
                self.wake_fetchers();
            }
            Ok(offset) => {
                tracing::debug!(tp = %reset.tp, offset, "offset lookup found no offset; retrying");
                s.retry_after = Some(Instant::now() + backoff);
            }
            Err(e) if e.is_retriable() => {
                tracing::debug!(tp = %reset.tp, error = %e, "offset lookup failed; retrying");
                s.retry_after = Some(Instant::now() + backoff);
            }
            Err(e) => {
                s.error = Some(e);
                drop(t);
                self.data_ready.notify_waiters();
            }
        }
    }

    /// Pauses or resumes partitions. Pausing discards their prefetched
    /// data (the position stays at the last delivered record).
    pub(crate) fn set_paused(&self, tps: &[TopicPartition], paused: bool) -> Result<()> {
        let mut t = self.lock();
        if let Some(tp) = tps.iter().find(|tp| !t.partitions.contains_key(*tp)) {
            return Err(Self::not_assigned(tp));
        }
        for tp in tps {
            if paused {
                t.invalidate(tp);
            }
            if let Some(s) = t.partitions.get_mut(tp) {
                s.paused = paused;
                if paused && let Some(p) = s.position {
                    s.fetch_offset = p;
                }
            }
        }
        drop(t);
        self.wake_fetchers();
        Ok(())
    }

    /// The paused partitions, sorted.
    pub(crate) fn paused(&self) -> Vec<TopicPartition> {
        self.lock()
            .partitions
            .iter()
            .filter(|(_, s)| s.paused)
            .map(|(tp, _)| tp.clone())
            .collect()
    }

    /// The delivered position: `Ok(None)` while it awaits a reset.
    pub(crate) fn position(&self, tp: &TopicPartition) -> Result<Option<i64>> {
        let t = self.lock();
        let s = t.partitions.get(tp).ok_or_else(|| Self::not_assigned(tp))?;
        match (&s.position, &s.error) {
            (None, Some(e)) => Err(e.clone()),
            (p, _) => Ok(*p),
        }
    }

    /// Every position known, for commits.
    #[allow(dead_code)] // used by the group driver's offset commits (later part)
    pub(crate) fn positions(&self) -> BTreeMap<TopicPartition, (i64, Option<i32>)> {
        self.lock()
            .partitions
            .iter()
            .filter_map(|(tp, s)| s.position.map(|p| (tp.clone(), (p, s.position_epoch))))
            .collect()
    }

    /// Records behind the end of the log: high watermark (last stable
    /// offset for `read_committed`) from the last Fetch response minus the
    /// delivered position.
    pub(crate) fn lag(&self, tp: &TopicPartition, read_committed: bool) -> Option<i64> {
        let t = self.lock();
        let s = t.partitions.get(tp)?;
        let end = if read_committed {
            s.last_stable_offset
        } else {
            s.high_watermark
        };
        let position = s.position?;
        (end >= 0).then(|| (end - position).max(0))
    }

    /// Every partition's lag, where known.
    pub(crate) fn lags(&self, read_committed: bool) -> BTreeMap<TopicPartition, i64> {
        self.assignment()
            .into_iter()
            .filter_map(|tp| self.lag(&tp, read_committed).map(|l| (tp, l)))
            .collect()
    }

    /// Bytes fetched but not yet handed out.
    pub(crate) fn buffered_bytes(&self) -> usize {
        self.lock().buffered_bytes
    }

    /// What the fetch loop of `broker` should fetch now: assigned, not
    /// paused, positioned, error-free partitions it leads, whose buffers
    /// have room. Nothing while the whole buffer is at its bound.
    /// `None` in `missing` collects partitions with no known leader.
    pub(crate) fn fetchable(
        &self,
        broker: i32,
        metadata: &ClusterMetadata,
        max_partition_bytes: usize,
        buffer_limit: usize,
    ) -> Vec<FetchTarget> {
        let t = self.lock();
        if t.buffered_bytes >= buffer_limit {
            return Vec::new();
        }
        let now = Instant::now();
        let mut out = Vec::new();
        // Partitions of this broker left out only because their prefetched
        // data is not consumed yet.
        let mut held_back = false;
        let mut all_caught_up = true;
        for (tp, s) in &t.partitions {
            if s.paused
                || s.position.is_none()
                || s.error.is_some()
                || s.pending_error.is_some()
                || s.retry_after.is_some_and(|r| r > now)
            {
                continue;
            }
            let Some(part) = metadata
                .topic(&tp.topic)
                .and_then(|t| t.partition(tp.partition))
            else {
                continue;
            };
            if part.leader != Some(broker) {
                continue;
            }
            if s.buffered_bytes >= max_partition_bytes {
                held_back = true;
                continue;
            }
            all_caught_up &= s.high_watermark >= 0 && s.fetch_offset >= s.high_watermark;
            out.push(FetchTarget {
                tp: tp.clone(),
                generation: s.generation,
                fetch_offset: s.fetch_offset,
                leader_epoch: part.leader_epoch,
            });
        }
        if held_back && all_caught_up {
            // Every partition we could fetch is at the log end, so the
            // broker would hold the request for fetch.max.wait.ms, and the
            // held-back partitions, which do have data, would wait behind
            // that long poll. Fetch again once their buffers drain.
            out.clear();
        }
        out
    }

    /// Whether some assigned partition wants fetching but metadata names no
    /// usable leader for it.
    pub(crate) fn leaderless(&self, metadata: &ClusterMetadata) -> bool {
        let t = self.lock();
        t.partitions.iter().any(|(tp, s)| {
            !s.paused
                && match metadata
                    .topic(&tp.topic)
                    .and_then(|m| m.partition(tp.partition))
                {
                    Some(p) => p.leader.is_none_or(|l| !metadata.brokers.contains_key(&l)),
                    None => true,
                }
        })
    }

    /// Stores a fetch's data if the partition is still where the fetch was
    /// planned (same generation and fetch offset); returns whether it was.
    pub(crate) fn accept_fetch(
        &self,
        target: &FetchTarget,
        mut fetch: CompletedFetch,
        next_fetch_offset: i64,
        watermarks: (i64, i64, i64),
    ) -> bool {
        let mut t = self.lock();
        let Some(s) = t.partitions.get_mut(&target.tp) else {
            return false;
        };
        if s.generation != target.generation || s.fetch_offset != target.fetch_offset {
            return false;
        }
        (s.high_watermark, s.last_stable_offset, s.log_start_offset) = watermarks;
        s.retry_after = None;
        s.fetch_offset = next_fetch_offset;
        let has_data = fetch.bytes > 0 || fetch.error.is_some();
        if has_data {
            if let Some(e) = fetch.error.take() {
                // Delivered after the records before it.
                s.pending_error = Some(e);
            }
            let bytes = fetch.bytes;
            s.buffered_bytes += bytes;
            s.buffered.push_back(fetch);
            t.buffered_bytes += bytes;
            drop(t);
            self.data_ready.notify_waiters();
        }
        true
    }

    /// A partition-level fetch error that a metadata refresh or a pause
    /// will fix: back off before fetching the partition again.
    pub(crate) fn back_off(&self, target: &FetchTarget, backoff: std::time::Duration) {
        let mut t = self.lock();
        if let Some(s) = t.partitions.get_mut(&target.tp)
            && s.generation == target.generation
        {
            s.retry_after = Some(Instant::now() + backoff);
        }
    }

    /// `OFFSET_OUT_OF_RANGE` for a planned fetch: reset per the
    /// partition's strategy, or with `none` keep a sticky error naming the
    /// partition and offset.
    pub(crate) fn out_of_range(&self, target: &FetchTarget, error: Error) {
        let mut t = self.lock();
        let Some(s) = t.partitions.get(&target.tp) else {
            return;
        };
        if s.generation != target.generation || s.fetch_offset != target.fetch_offset {
            return;
        }
        let strategy = s.reset.unwrap_or(self.default_reset);
        t.invalidate(&target.tp);
        let Some(s) = t.partitions.get_mut(&target.tp) else {
            return;
        };
        match strategy {
            OffsetReset::None => {
                s.fetch_offset = s.position.unwrap_or(target.fetch_offset);
                s.error = Some(error);
            }
            strategy => {
                tracing::info!(
                    tp = %target.tp,
                    offset = target.fetch_offset,
                    ?strategy,
                    "fetch offset out of range; resetting"
                );
                s.position = None;
                s.position_epoch = None;
                s.reset = Some(strategy);
            }
        }
        drop(t);
        self.data_ready.notify_waiters();
    }

    /// A partition-level error nothing automatic can fix (authorization,
    /// ...): sticky until the application seeks.
    pub(crate) fn fail(&self, target: &FetchTarget, error: Error) {
        let mut t = self.lock();
        if let Some(s) = t.partitions.get_mut(&target.tp)
            && s.generation == target.generation
        {
            s.error = Some(error);
        }
        drop(t);
        self.data_ready.notify_waiters();
    }

    /// Takes up to `max` records, partitions in turns. A partition's error
    /// is returned once the records before it are out: at once when no
    /// record was taken yet, else on the next call.
    pub(crate) fn take(&self, max: usize) -> Result<Vec<RawRecord>> {
        let mut t = self.lock();
        let mut out = Vec::new();
        let keys: Vec<TopicPartition> = t.partitions.keys().cloned().collect();
        if keys.is_empty() {
            return Ok(out);
        }
        let start = t.round_robin % keys.len();
        t.round_robin = t.round_robin.wrapping_add(1);
        let mut freed = 0usize;
        let mut result = Ok(());
        for tp in keys[start..].iter().chain(&keys[..start]) {
            if out.len() >= max {
                break;
            }
            let Some(s) = t.partitions.get_mut(tp) else {
                continue;
            };
            if s.paused {
                continue;
            }
            while out.len() < max {
                let Some(fetch) = s.buffered.front_mut() else {
                    break;
                };
                let Some(position) = s.position.as_mut() else {
                    break;
                };
                if fetch.generation != s.generation {
                    let bytes = fetch.bytes;
                    s.buffered.pop_front();
                    s.buffered_bytes -= bytes;
                    freed += bytes;
                    continue;
                }
                match fetch.drain(
                    &tp.topic,
                    tp.partition,
                    position,
                    &mut s.position_epoch,
                    max,
                    &mut out,
                ) {
                    Drained::Full => {}
                    Drained::Exhausted => {
                        let bytes = fetch.bytes;
                        s.buffered.pop_front();
                        s.buffered_bytes -= bytes;
                        freed += bytes;
                    }
                    Drained::Failed(e) => {
                        let bytes = fetch.bytes;
                        s.buffered.pop_front();
                        s.buffered_bytes -= bytes;
                        freed += bytes;
                        s.error = Some(e);
                        break;
                    }
                }
            }
            if s.buffered.is_empty()
                && let Some(e) = s.pending_error.take()
            {
                s.error = Some(e);
            }
            if s.buffered.is_empty()
                && let Some(e) = &s.error
                && out.is_empty()
            {
                // Partitions take turns at being first, so a partition's
                // error is not starved by the others' records.
                result = Err(e.clone());
                break;
            }
        }
        t.buffered_bytes -= freed;
        drop(t);
        if freed > 0 {
            self.wake_fetchers();
        }
        result.map(|()| out)
    }

    /// Undoes the delivery of records a failed deserialization kept from
    /// the application: each partition goes back to `offset`.
    pub(crate) fn rewind(&self, tp: &TopicPartition, generation: u64, offset: i64) {
        let mut t = self.lock();
        if t.partitions
            .get(tp)
            .is_none_or(|s| s.generation != generation)
        {
            return;
        }
        t.invalidate(tp);
        if let Some(s) = t.partitions.get_mut(tp) {
            s.position = Some(offset);
            s.fetch_offset = offset;
        }
        drop(t);
        self.wake_fetchers();
    }
}
