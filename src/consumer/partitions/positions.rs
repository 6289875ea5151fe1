//! Positions, for the application's calls: seeks, lazy resets and their
//! offset lookups, pauses, the delivered position and lag. Apart from the
//! fetch side because these calls move a partition, while the fetch loops
//! only follow it.

use std::collections::BTreeMap;

use tokio::time::Instant;

use super::PartitionTable;
use crate::TopicPartition;
use crate::consumer::config::OffsetReset;
use crate::error::{Context, Error, Result};

/// A partition waiting for an offset lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PendingReset {
    pub tp: TopicPartition,
    pub generation: u64,
    pub strategy: OffsetReset,
}

impl PartitionTable {
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
        // Records already fetched stay buffered while paused and are
        // returned after `resume`, as Java's consumer does since
        // KAFKA-7548: a pause/resume cycle (the processor's back-pressure)
        // then costs no fetch round. A fetch in flight is kept as well.
        for tp in tps {
            if let Some(s) = t.partitions.get_mut(tp) {
                s.paused = paused;
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
}
