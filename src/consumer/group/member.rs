//! The consumer as a group member: `subscribe`, commits, and running the
//! membership's rebalance events inside `poll` (Java's
//! `ConsumerCoordinator` duties on the consumer's side).
//!
//! The membership task ([`super::driver`]) decides; this module acts on
//! the consumer's partition table in the polling task, where the user's
//! [`RebalanceListener`](super::RebalanceListener) may run and use the
//! consumer: a `Revoked` event auto-commits the partitions' positions (when
//! `enable.auto.commit`), calls the listener, then drops the partitions; an
//! `Assigned` event reads the committed offsets, adds the partitions at
//! those positions (the rest start at `auto.offset.reset`), then calls the
//! listener; a `Lost` event calls the listener and drops the partitions
//! without committing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tracing::Instrument;

use super::driver::{
    CommitHandle, MembershipHandle, OffsetAndMetadata, RebalanceEvent, RebalanceKind,
};
use super::pattern::{self, PatternWatch};
use crate::TopicPartition;
use crate::consumer::Consumer;
use crate::consumer::record::ConsumerRecord;
use crate::error::{Error, Result};

/// The consumer's side of group membership.
pub(crate) struct GroupMember {
    pub handle: MembershipHandle,
    /// `auto.commit.interval.ms` when `enable.auto.commit`.
    auto_commit: Option<Duration>,
    next_auto_commit: Mutex<Instant>,
    /// An `Assigned` event whose committed offsets could not be read yet:
    /// retried by the next poll (its partitions must not fall back to
    /// `auto.offset.reset` while their committed offsets are unknown).
    pending_assign: Mutex<Option<RebalanceEvent>>,
    /// The subscribed topics; a pattern subscription's task updates it.
    subscription: Arc<Mutex<Vec<String>>>,
    /// The pattern subscription's matcher, if the subscription is one.
    pattern: Mutex<Option<PatternWatch>>,
    /// The membership's poll-expiry count when the consumer last looked.
    seen_poll_expirations: AtomicU64,
}

impl GroupMember {
    pub fn new(handle: MembershipHandle, auto_commit: Option<Duration>) -> Self {
        GroupMember {
            handle,
            next_auto_commit: Mutex::new(Instant::now() + auto_commit.unwrap_or_default()),
            auto_commit,
            pending_assign: Mutex::new(None),
            subscription: Arc::new(Mutex::new(Vec::new())),
            pattern: Mutex::new(None),
            seen_poll_expirations: AtomicU64::new(0),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A group call on a consumer built without `group.id`: a usage error,
/// neither fatal to the client nor retriable (Java's
/// `InvalidGroupIdException`).
fn no_group() -> Error {
    Error::InvalidArgument {
        reason: "this needs a consumer group: set group.id on the builder".into(),
        context: Default::default(),
    }
}

impl<K: Send + 'static, V: Send + 'static> Consumer<K, V> {
    fn member(&self) -> Result<&GroupMember> {
        self.group.as_ref().ok_or_else(no_group)
    }

    /// Subscribes to `topics` (Java's `subscribe`), replacing the previous
    /// subscription: the consumer joins its group (`group.id`) and the
    /// group's assignor decides which partitions it reads. Returns at once;
    /// partitions arrive through [`Consumer::poll`], which runs the
    /// rebalance listener.
    pub fn subscribe<T: Into<String>>(&self, topics: impl IntoIterator<Item = T>) -> Result<()> {
        self.check_open()?;
        let member = self.member()?;
        let topics: Vec<String> = topics.into_iter().map(Into::into).collect();
        if let Some(bad) = topics.iter().find(|t| t.is_empty()) {
            return Err(Error::InvalidArgument {
                reason: format!("invalid topic name {bad:?}"),
                context: Default::default(),
            });
        }
        drop(lock(&member.pattern).take());
        member.handle.subscribe(topics.clone())?;
        *lock(&member.subscription) = topics;
        Ok(())
    }

    /// Subscribes to every topic whose whole name matches the regular
    /// expression `pattern` (Java's `subscribe(Pattern)`), replacing the
    /// previous subscription. The cluster's topics are matched now and
    /// again every `metadata.max.age.ms` (the client's), so topics created
    /// later join the subscription with a rebalance; internal topics never
    /// match. An invalid expression is an [`Error::InvalidArgument`].
    pub fn subscribe_pattern(&self, pattern: &str) -> Result<()> {
        self.check_open()?;
        let member = self.member()?;
        let regex = pattern::compile(pattern)?;
        // Stop the old watch first, so it cannot resubscribe after this.
        drop(lock(&member.pattern).take());
        let watch = PatternWatch::start(
            self.ctx.client.clone(),
            regex,
            member.handle.clone(),
            member.subscription.clone(),
        );
        *lock(&member.pattern) = Some(watch);
        Ok(())
    }

    /// The subscribed topics (empty without a group or before `subscribe`).
    pub fn subscription(&self) -> Vec<String> {
        self.group
            .as_ref()
            .map(|g| lock(&g.subscription).clone())
            .unwrap_or_default()
    }

    /// Commits the delivered positions of every assigned partition (Java's
    /// `commitSync()`), waiting for the coordinator.
    pub async fn commit_sync(&self) -> Result<()> {
        self.check_open()?;
        let offsets = self.positions_of(None);
        self.member()?.handle.commit(offsets).await
    }

    /// Commits the delivered positions of every assigned partition in the
    /// background (Java's `commitAsync()`): the commit is queued at once,
    /// behind every commit called before it, and this returns without
    /// waiting. Commits of one consumer reach the coordinator in call
    /// order, sync and async alike, so a later commit is never overtaken by
    /// an earlier one.
    ///
    /// The [`CommitHandle`] resolves to the commit's result (Java's
    /// `OffsetCommitCallback`); await it or drop it: dropping does not
    /// cancel the commit, and a failure nobody awaits is logged.
    ///
    /// ```no_run
    /// # async fn demo(consumer: kafkit::consumer::Consumer<String, String>) -> kafkit::Result<()> {
    /// consumer.commit_async()?; // fire and forget
    /// let last = consumer.commit_async()?;
    /// last.await?; // this one and every commit before it went out
    /// # Ok(()) }
    /// ```
    pub fn commit_async(&self) -> Result<CommitHandle> {
        self.check_open()?;
        let member = self.member()?;
        let offsets = self.positions_of(None);
        member.handle.start_commit(offsets)
    }

    /// Commits the given offsets in the background (Java's
    /// `commitAsync(Map, callback)`), queued in call order as
    /// [`commit_async`](Self::commit_async) is.
    pub fn commit_offsets_async(
        &self,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> Result<CommitHandle> {
        self.check_open()?;
        self.member()?.handle.start_commit(offsets)
    }

    /// Commits the given offsets (Java's `commitSync(Map)`): each is the
    /// offset of the next record to read.
    pub async fn commit_offsets(
        &self,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> Result<()> {
        self.check_open()?;
        self.member()?.handle.commit(offsets).await
    }

    /// Commits `record`'s partition up to and including `record` (offset
    /// `record.offset + 1`, with its leader epoch), waiting for the
    /// coordinator: Java users' `commitSync(Map.of(tp, new
    /// OffsetAndMetadata(record.offset() + 1)))` idiom.
    pub async fn commit_record(&self, record: &ConsumerRecord<K, V>) -> Result<()> {
        self.check_open()?;
        let member = self.member()?;
        let mut offset = OffsetAndMetadata::new(record.offset + 1);
        offset.leader_epoch = record.leader_epoch;
        let tp = record.topic_partition();
        member.handle.commit(BTreeMap::from([(tp, offset)])).await
    }

    /// The group's committed offsets of `partitions` (Java's `committed`);
    /// `None` where nothing is committed.
    pub async fn committed(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, Option<OffsetAndMetadata>>> {
        self.check_open()?;
        self.member()?.handle.committed(partitions.to_vec()).await
    }

    /// The member's group identity, for
    /// `TransactionalProducer::send_offsets_to_transaction` (Java's
    /// `groupMetadata()`, KIP-447).
    pub fn group_metadata(&self) -> Result<super::driver::GroupMetadata> {
        Ok(self.member()?.handle.group_metadata())
    }

    /// Group counters (rebalances, commits), when the consumer is in a
    /// group.
    pub fn group_metrics(&self) -> Option<super::driver::MembershipMetrics> {
        self.group.as_ref().map(|g| g.handle.metrics())
    }

    /// Delivered positions of `only` (all assigned partitions with `None`)
    /// as offsets to commit.
    fn positions_of(
        &self,
        only: Option<&BTreeSet<TopicPartition>>,
    ) -> BTreeMap<TopicPartition, OffsetAndMetadata> {
        self.ctx
            .subs
            .positions()
            .into_iter()
            .filter(|(tp, _)| only.is_none_or(|o| o.contains(tp)))
            .map(|(tp, (offset, epoch))| {
                let mut o = OffsetAndMetadata::new(offset);
                o.leader_epoch = epoch;
                (tp, o)
            })
            .collect()
    }

    /// What `poll` does for the group before taking records: report the
    /// poll, run queued rebalance events, auto-commit when due, and surface
    /// the membership's errors.
    pub(crate) async fn group_work(&self) -> Result<()> {
        let Some(member) = &self.group else {
            return Ok(());
        };
        // The member left the group while the application did not poll
        // (max.poll.interval.ms): its partitions may already be another
        // member's. Drop them before anything is taken from the buffer,
        // or records prefetched for them would be handed out a second
        // time (Java declares them lost at this poll, before fetching).
        // The `Lost` event for them follows once the membership sees this
        // poll, and runs the listener.
        let expirations = member.handle.poll_expirations();
        if member
            .seen_poll_expirations
            .swap(expirations, Ordering::AcqRel)
            != expirations
        {
            tracing::info!("max.poll.interval.ms expired: dropping the partitions held");
            self.ctx.subs.assign(Vec::new());
        }
        member.handle.polled();
        let retry = lock(&member.pending_assign).take();
        if let Some(event) = retry {
            self.run_event(event).await?;
        }
        while let Some(event) = member.handle.try_next_event() {
            self.run_event(event).await?;
        }
        if let Some(interval) = member.auto_commit {
            let due = {
                let mut next = lock(&member.next_auto_commit);
                let now = Instant::now();
                let due = now >= *next;
                if due {
                    *next = now + interval;
                }
                due
            };
            if due && !self.assignment().is_empty() {
                // Fire and forget: a failure is logged, the next commit
                // supersedes it.
                drop(self.commit_async()?);
            }
        }
        match member.handle.take_error() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The next rebalance event, for `poll` to wait on beside records;
    /// never resolves without a group (or once the membership ended).
    pub(crate) async fn next_group_event(&self) -> RebalanceEvent {
        if let Some(member) = &self.group
            && let Some(event) = member.handle.next_event().await
        {
            return event;
        }
        std::future::pending().await
    }

    /// Carries out one rebalance event; the membership goes on when the
    /// event is dropped at the end.
    pub(crate) async fn run_event(&self, event: RebalanceEvent) -> Result<()> {
        let group = self.ctx.config.group_id.as_deref().unwrap_or_default();
        let span = crate::observe::spans::rebalance(group, &event.kind(), event.partitions().len());
        // What an operator asks first after a rebalance: who got what. Topic
        // and partition names only, never more.
        tracing::info!(
            group,
            kind = ?event.kind(),
            count = event.partitions().len(),
            partitions = %PartitionList(event.partitions()),
            "rebalance: partitions {}",
            match event.kind() {
                RebalanceKind::Assigned => "assigned",
                RebalanceKind::Revoked => "revoked",
                RebalanceKind::Lost => "lost",
            }
        );
        let result = self.handle_event(event).instrument(span.clone()).await;
        span.record("outcome", if result.is_ok() { "ok" } else { "error" });
        result
    }

    async fn handle_event(&self, event: RebalanceEvent) -> Result<()> {
        let Some(member) = &self.group else {
            return Ok(());
        };
        let partitions = event.partitions().to_vec();
        match event.kind() {
            RebalanceKind::Revoked => {
                let set: BTreeSet<TopicPartition> = partitions.iter().cloned().collect();
                if member.auto_commit.is_some() {
                    // Commit what was consumed before giving it up, so the
                    // next owner starts right after it.
                    let offsets = self.positions_of(Some(&set));
                    if let Err(e) = member.handle.commit(offsets).await {
                        tracing::warn!(error = %e, "commit on revoke failed");
                    }
                }
                if let Some(l) = &self.listener {
                    l.revoked(self, &partitions).await;
                }
                self.drop_partitions(&set);
            }
            RebalanceKind::Lost => {
                if let Some(l) = &self.listener {
                    l.lost(self, &partitions).await;
                }
                self.drop_partitions(&partitions.iter().cloned().collect());
            }
            RebalanceKind::Assigned => {
                // Read where the group left off before the partitions become
                // fetchable; on failure keep the event for the next poll.
                let committed = match member.handle.committed(partitions.clone()).await {
                    Ok(c) => c,
                    Err(e) => {
                        *lock(&member.pending_assign) = Some(event);
                        return Err(e);
                    }
                };
                let mut all: BTreeSet<TopicPartition> = self.assignment().into_iter().collect();
                all.extend(partitions.iter().cloned());
                self.ctx.subs.assign(all);
                for (tp, offset) in committed {
                    if let Some(o) = offset
                        && o.offset >= 0
                    {
                        self.ctx.subs.seek(&tp, o.offset)?;
                    }
                }
                if let Some(l) = &self.listener {
                    l.assigned(self, &partitions).await;
                }
            }
        }
        drop(event);
        Ok(())
    }

    fn drop_partitions(&self, gone: &BTreeSet<TopicPartition>) {
        let keep: Vec<TopicPartition> = self
            .assignment()
            .into_iter()
            .filter(|tp| !gone.contains(tp))
            .collect();
        self.ctx.subs.assign(keep);
    }

    /// Leaves the group (revoking, with auto-commit and the listener, then
    /// LeaveGroup), bounded by `timeout`.
    pub(crate) async fn leave_group(&self, timeout: Duration) {
        let Some(member) = &self.group else {
            return;
        };
        let events = async {
            while let Some(event) = member.handle.next_event().await {
                if let Err(e) = self.run_event(event).await {
                    tracing::debug!(error = %e, "rebalance event during close failed");
                }
            }
        };
        let (closed, ()) = tokio::join!(member.handle.close(timeout), events);
        if let Err(e) = closed {
            tracing::warn!(error = %e, "leaving the group did not finish");
        }
    }
}

/// Renders partitions as `topic-0,topic-1,...`, at most [`PartitionList::MAX`]
/// of them, so an assignment of thousands stays one readable line.
struct PartitionList<'a>(&'a [TopicPartition]);

impl PartitionList<'_> {
    const MAX: usize = 64;
}

impl std::fmt::Display for PartitionList<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, tp) in self.0.iter().take(Self::MAX).enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{tp}")?;
        }
        if self.0.len() > Self::MAX {
            write!(f, ",... ({} more)", self.0.len() - Self::MAX)?;
        }
        Ok(())
    }
}
