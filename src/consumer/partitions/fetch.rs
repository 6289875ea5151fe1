//! The fetch loops' side of the table: what a broker's loop should fetch
//! now, and accepting (or refusing, when the partition moved on) what a
//! fetch brought back, its errors included. Apart because every call here
//! checks a fetch against the generation it was planned under.

use tokio::time::Instant;

use super::PartitionTable;
use crate::TopicPartition;
use crate::consumer::config::OffsetReset;
use crate::consumer::fetch::completed::CompletedFetch;
use crate::error::Error;
use crate::metadata::ClusterMetadata;

/// One partition a fetch loop should fetch now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FetchTarget {
    pub tp: TopicPartition,
    pub generation: u64,
    pub fetch_offset: i64,
    /// The leader epoch metadata gave (KIP-320), -1 if unknown.
    pub leader_epoch: i32,
}

impl PartitionTable {
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
        // Paused partitions' buffered records do not count against the
        // bound: they are not being consumed, and counting them would stop
        // the fetches of the partitions that are. Each is bounded by the
        // per-partition limit below, as when it was fetched.
        let paused_bytes: usize = t
            .partitions
            .values()
            .filter(|s| s.paused)
            .map(|s| s.buffered_bytes)
            .sum();
        if t.buffered_bytes.saturating_sub(paused_bytes) >= buffer_limit {
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
}
