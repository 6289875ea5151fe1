//! Where the consumer stands and where it can go: seeks, pauses, the
//! delivered position, lag, and ListOffsets lookups (beginning, end, by
//! time). Apart from the poll path because none of it hands out records.

use std::collections::BTreeMap;

use tokio::time::Instant;

use super::Consumer;
use crate::TopicPartition;
use crate::admin::OffsetSpec;
use crate::consumer::config::OffsetReset;
use crate::consumer::offsets;
use crate::error::{Context, Error, Result};

/// An offset found by [`Consumer::offsets_for_times`] (Java's
/// `OffsetAndTimestamp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct OffsetAndTimestamp {
    /// The first offset whose timestamp is at or after the one asked for.
    pub offset: i64,
    /// That record's timestamp.
    pub timestamp: i64,
    /// Its leader epoch, if known.
    pub leader_epoch: Option<i32>,
}

impl<K: Send + 'static, V: Send + 'static> Consumer<K, V> {
    /// Sets the partition's position: the next poll returns the record at
    /// `offset` (or the first after it). Prefetched records are discarded.
    /// Clears the partition's sticky error.
    pub fn seek(&self, tp: &TopicPartition, offset: i64) -> Result<()> {
        self.check_open()?;
        self.ctx.subs.seek(tp, offset)
    }

    fn assigned_or_all(&self, tps: &[TopicPartition]) -> Vec<TopicPartition> {
        if tps.is_empty() {
            self.assignment()
        } else {
            tps.to_vec()
        }
    }

    /// Moves to the first offset of each partition (all assigned ones when
    /// `tps` is empty), looked up lazily by the next `poll` or `position`,
    /// as in Java.
    pub fn seek_to_beginning(&self, tps: &[TopicPartition]) -> Result<()> {
        self.check_open()?;
        for tp in self.assigned_or_all(tps) {
            self.ctx.subs.request_reset(&tp, OffsetReset::Earliest)?;
        }
        self.ctx.subs.fetch_wake.notify_waiters();
        Ok(())
    }

    /// Moves to the end of each partition (all assigned ones when `tps` is
    /// empty), looked up lazily by the next `poll` or `position`.
    ///
    /// The end is what the broker answers to ListOffsets(LATEST) at the
    /// consumer's isolation level: the high watermark on Apache Kafka, the
    /// last stable offset for a `read_committed` consumer (Tansu answers
    /// its last batch's base offset + 1 instead of the high watermark).
    pub fn seek_to_end(&self, tps: &[TopicPartition]) -> Result<()> {
        self.check_open()?;
        for tp in self.assigned_or_all(tps) {
            self.ctx.subs.request_reset(&tp, OffsetReset::Latest)?;
        }
        self.ctx.subs.fetch_wake.notify_waiters();
        Ok(())
    }

    /// The offset of the next record `poll` will return for `tp`, looking
    /// it up first if the partition has no position yet (bounded by
    /// `request.timeout.ms`).
    pub async fn position(&self, tp: &TopicPartition) -> Result<i64> {
        let deadline = Instant::now() + self.ctx.client.request_timeout();
        loop {
            self.check_open()?;
            if let Some(p) = self.ctx.subs.position(tp)? {
                return Ok(p);
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    what: "position lookup",
                    context: Context::default()
                        .with_topic(tp.topic.clone())
                        .with_partition(tp.partition),
                });
            }
            offsets::reset_positions(
                &self.ctx.client,
                &self.ctx.subs,
                self.ctx.config.isolation_level,
            )
            .await;
            if self.ctx.subs.position(tp)?.is_none() {
                tokio::time::sleep(self.ctx.client.retry_backoff()).await;
            }
        }
    }

    /// Stops fetching `tps` until resumed; `poll` returns none of their
    /// records meanwhile. Records already fetched for them are kept and
    /// returned after [`resume`](Self::resume) (Java's behaviour since
    /// KAFKA-7548), so a pause/resume cycle costs no fetch round.
    pub fn pause(&self, tps: &[TopicPartition]) -> Result<()> {
        self.check_open()?;
        self.ctx.subs.set_paused(tps, true)
    }

    /// Fetches `tps` again from their positions.
    pub fn resume(&self, tps: &[TopicPartition]) -> Result<()> {
        self.check_open()?;
        self.ctx.subs.set_paused(tps, false)
    }

    /// The paused partitions, sorted.
    pub fn paused(&self) -> Vec<TopicPartition> {
        self.ctx.subs.paused()
    }

    /// Records between the delivered position and the high watermark of
    /// the partition's last Fetch response (the last stable offset with
    /// `read_committed`); `None` until both are known.
    pub fn lag(&self, tp: &TopicPartition) -> Option<i64> {
        self.ctx.subs.lag(tp, self.read_committed())
    }

    async fn offsets(
        &self,
        tps: &[TopicPartition],
        spec: OffsetSpec,
    ) -> Result<BTreeMap<TopicPartition, i64>> {
        self.check_open()?;
        let mut out = BTreeMap::new();
        for (tp, r) in
            offsets::list(&self.ctx.client, tps, spec, self.ctx.config.isolation_level).await?
        {
            out.insert(tp, r?.offset);
        }
        Ok(out)
    }

    /// The first offset of each partition (log start offset).
    pub async fn beginning_offsets(
        &self,
        tps: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, i64>> {
        self.offsets(tps, OffsetSpec::Earliest).await
    }

    /// The end offset of each partition, as ListOffsets(LATEST) answers it
    /// at the consumer's isolation level (Java's `endOffsets`): the high
    /// watermark, or for `read_committed` the last stable offset (records
    /// of open transactions are not counted); see [`Consumer::seek_to_end`]
    /// for Tansu.
    pub async fn end_offsets(
        &self,
        tps: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, i64>> {
        self.offsets(tps, OffsetSpec::Latest).await
    }

    /// For each partition, the first record whose timestamp is at or after
    /// the given one; `None` when no record is that recent.
    pub async fn offsets_for_times(
        &self,
        times: &BTreeMap<TopicPartition, i64>,
    ) -> Result<BTreeMap<TopicPartition, Option<OffsetAndTimestamp>>> {
        self.check_open()?;
        let mut by_time: BTreeMap<i64, Vec<TopicPartition>> = BTreeMap::new();
        for (tp, ts) in times {
            if *ts < 0 {
                return Err(Error::InvalidArgument {
                    reason: format!("timestamp {ts} is negative"),
                    context: Context::default()
                        .with_topic(tp.topic.clone())
                        .with_partition(tp.partition),
                });
            }
            by_time.entry(*ts).or_default().push(tp.clone());
        }
        let mut out = BTreeMap::new();
        for (ts, tps) in by_time {
            for (tp, r) in offsets::list(
                &self.ctx.client,
                &tps,
                OffsetSpec::ForTimestamp(ts),
                self.ctx.config.isolation_level,
            )
            .await?
            {
                let listed = r?;
                let found = (listed.offset >= 0).then_some(OffsetAndTimestamp {
                    offset: listed.offset,
                    timestamp: listed.timestamp,
                    leader_epoch: (listed.leader_epoch >= 0).then_some(listed.leader_epoch),
                });
                out.insert(tp, found);
            }
        }
        Ok(out)
    }
}
