//! The user's offset calls (commit, committed): queued until a coordinator
//! is known and any back-off is over, sent with the generation the machine
//! allows, retried on coordinator moves within `default.api.timeout.ms`,
//! and failed past it. Commits form one FIFO queue with one commit on the
//! wire at a time: a commit waiting (for a coordinator, a back-off or the
//! commit before it) holds back every later one, and a retried commit goes
//! back to the head, so commits reach the coordinator in call order. Kept apart from the machine's own requests because
//! they follow their own deadlines and may use a coordinator the driver
//! looked up itself.

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use tokio::sync::oneshot;
use tracing::Instrument;

use super::Driver;
use super::actions::Completion;
use crate::consumer::group::driver::offsets::{
    CommitIdentity, OffsetAndMetadata, Outcome, group_commit_error,
};
use crate::consumer::group::machine::{CoordinatorState, Event, GroupState};
use crate::error::Context;
use crate::net::pool::lock;
use crate::{Error, ErrorCode, Result, TopicPartition};

pub(super) type Committed = BTreeMap<TopicPartition, Option<OffsetAndMetadata>>;

pub(super) struct CommitOp {
    pub(super) offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    pub(super) reply: oneshot::Sender<Result<()>>,
    pub(super) deadline: Instant,
    pub(super) not_before: Option<Instant>,
}

pub(super) struct FetchOp {
    pub(super) partitions: Vec<TopicPartition>,
    pub(super) reply: oneshot::Sender<Result<Committed>>,
    pub(super) deadline: Instant,
    pub(super) not_before: Option<Instant>,
}

pub(super) enum OffsetOp {
    Commit(CommitOp),
    Fetch(FetchOp),
}

impl OffsetOp {
    pub(super) fn deadline(&self) -> Instant {
        match self {
            OffsetOp::Commit(c) => c.deadline,
            OffsetOp::Fetch(f) => f.deadline,
        }
    }
    pub(super) fn not_before(&self) -> Option<Instant> {
        match self {
            OffsetOp::Commit(c) => c.not_before,
            OffsetOp::Fetch(f) => f.not_before,
        }
    }
    /// A fetch nobody waits for is dropped. A commit is not: dropping its
    /// handle (`commit_async` ignored) must not cancel it.
    fn caller_gone(&self) -> bool {
        match self {
            OffsetOp::Commit(_) => false,
            OffsetOp::Fetch(f) => f.reply.is_closed(),
        }
    }
    pub(super) fn fail(self, error: Error) -> bool {
        match self {
            OffsetOp::Commit(c) => {
                reply_commit(c, Err(error));
                true
            }
            OffsetOp::Fetch(f) => {
                let _ = f.reply.send(Err(error));
                false
            }
        }
    }
}

/// Answers a commit; a failure nobody waits for (an ignored
/// `commit_async` handle) is logged instead, as Java's default callback
/// does.
fn reply_commit(op: CommitOp, result: Result<()>) {
    if let Err(e) = &result {
        tracing::debug!(error = %e, "commit failed");
    }
    if let Err(Err(e)) = op.reply.send(result) {
        tracing::warn!(error = %e, "asynchronous commit failed");
    }
}

/// A driver-side coordinator lookup, for offset calls while the machine
/// does not look for one (never subscribed, closing, poll expired).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Standalone {
    Unknown,
    Finding,
    Known(i32),
}

impl Driver {
    pub(super) fn queue_op(&mut self, op: OffsetOp) {
        if let Some(e) = self.shared.fatal.get() {
            self.count_commit(op.fail(e.clone()), false);
            return;
        }
        self.waiting_ops.push_back(op);
    }

    pub(super) fn on_commit_outcome(
        &mut self,
        op: CommitOp,
        identity: CommitIdentity,
        outcome: Outcome<()>,
    ) {
        // A retry goes back to the head of the queue: it is older than
        // every commit still waiting.
        match outcome {
            Outcome::Done(result) => {
                self.count_commit(true, result.is_ok());
                reply_commit(op, result);
            }
            Outcome::Group(code) => {
                self.feed(Event::CommitFailed {
                    error: code,
                    generation_id: identity.generation_id,
                });
                self.count_commit(true, false);
                reply_commit(op, Err(group_commit_error(code)));
            }
            Outcome::Rediscover(code) => {
                self.coordinator_lost(code, identity.generation_id);
                self.waiting_ops.push_front(OffsetOp::Commit(op));
            }
            Outcome::Backoff(error) => {
                let op = self.backoff(OffsetOp::Commit(op), error);
                if let Some(op) = op {
                    self.waiting_ops.push_front(op);
                }
            }
        }
    }

    pub(super) fn on_fetch_outcome(&mut self, op: FetchOp, outcome: Outcome<Committed>) {
        match outcome {
            Outcome::Done(result) => {
                let _ = op.reply.send(result);
            }
            Outcome::Group(code) => {
                let _ = op.reply.send(Err(group_commit_error(code)));
            }
            Outcome::Rediscover(code) => {
                let generation = self.machine.generation().generation_id;
                self.coordinator_lost(code, generation);
                self.waiting_ops.push_back(OffsetOp::Fetch(op));
            }
            Outcome::Backoff(error) => {
                if let Some(op) = self.backoff(OffsetOp::Fetch(op), error) {
                    self.waiting_ops.push_back(op);
                }
            }
        }
    }

    /// Schedules a retry after `retry.backoff.ms`, or fails the call with
    /// `error` if that would pass its deadline.
    fn backoff(&mut self, mut op: OffsetOp, error: Error) -> Option<OffsetOp> {
        let at = Instant::now() + self.config.group.retry_backoff;
        if at >= op.deadline() {
            let commit = op.fail(error);
            self.count_commit(commit, false);
            return None;
        }
        match &mut op {
            OffsetOp::Commit(c) => c.not_before = Some(at),
            OffsetOp::Fetch(f) => f.not_before = Some(at),
        }
        Some(op)
    }

    /// An offset call found the coordinator gone: the machine must find it
    /// again (the code tells it so), and so must the driver's own lookup.
    fn coordinator_lost(&mut self, code: ErrorCode, generation_id: i32) {
        self.standalone = Standalone::Unknown;
        if matches!(self.machine.coordinator(), CoordinatorState::Known(_)) {
            self.feed(Event::CommitFailed {
                error: code,
                generation_id,
            });
        }
    }

    /// The coordinator offset calls go to: the machine's, or when the
    /// machine is not looking for one, the driver's own lookup.
    fn offset_coordinator(&mut self) -> Option<i32> {
        if let CoordinatorState::Known(id) = self.machine.coordinator() {
            return Some(id);
        }
        if self.machine.state().needs_coordinator() {
            return None;
        }
        match self.standalone {
            Standalone::Known(id) => Some(id),
            Standalone::Finding => None,
            Standalone::Unknown => {
                self.standalone = Standalone::Finding;
                let io = self.io.clone();
                self.spawn(None, async move {
                    Completion::Standalone(io.find_coordinator().await)
                });
                None
            }
        }
    }

    /// Sends the offset calls whose coordinator is known and whose
    /// back-off is over; fails those past their deadline.
    pub(super) fn dispatch_offset_ops(&mut self) {
        if self.waiting_ops.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut keep = VecDeque::new();
        let ops = std::mem::take(&mut self.waiting_ops);
        let mut coordinator = None;
        let mut looked = false;
        // Later commits wait while one is on the wire or an earlier one
        // waits in the queue.
        let mut commits_held = self.commit_task.is_some();
        for op in ops {
            if op.caller_gone() {
                continue;
            }
            if now >= op.deadline() {
                let what = match op {
                    OffsetOp::Commit(_) => "offset commit (default.api.timeout.ms)",
                    OffsetOp::Fetch(_) => "offset fetch (default.api.timeout.ms)",
                };
                let commit = op.fail(Error::Timeout {
                    what,
                    context: Context::api("FindCoordinator"),
                });
                self.count_commit(commit, false);
                continue;
            }
            let is_commit = matches!(op, OffsetOp::Commit(_));
            if is_commit && commits_held {
                keep.push_back(op);
                continue;
            }
            if op.not_before().is_some_and(|t| now < t) {
                commits_held |= is_commit;
                keep.push_back(op);
                continue;
            }
            if !looked {
                coordinator = self.offset_coordinator();
                looked = true;
            }
            let Some(coordinator) = coordinator else {
                commits_held |= is_commit;
                keep.push_back(op);
                continue;
            };
            match op {
                OffsetOp::Commit(op) => {
                    self.start_commit(coordinator, op);
                    commits_held = self.commit_task.is_some();
                }
                OffsetOp::Fetch(op) => self.start_fetch(coordinator, op),
            }
        }
        // Calls queued while dispatching (none today) go after the kept ones.
        keep.append(&mut self.waiting_ops);
        self.waiting_ops = keep;
    }

    fn start_commit(&mut self, coordinator: i32, op: CommitOp) {
        let identity = match self.commit_identity() {
            Ok(identity) => identity,
            Err(e) => {
                self.count_commit(true, false);
                reply_commit(op, Err(e));
                return;
            }
        };
        let span = crate::observe::spans::commit(
            &self.config.group.group_id,
            identity.generation_id,
            op.offsets.len(),
        );
        let io = self.io.clone();
        let shared = self.shared.clone();
        let task = self.spawn(
            None,
            async move {
                let started = std::time::Instant::now();
                let outcome = io.commit(coordinator, &identity, &op.offsets).await;
                record_commit_latency(&shared, started.elapsed());
                Completion::Commit {
                    op,
                    identity,
                    outcome,
                }
            }
            .instrument(span),
        );
        self.commit_task = Some(task);
    }

    /// The generation to commit with: the stable one; none (-1) for a
    /// consumer that never joined; a rebalance error otherwise.
    fn commit_identity(&self) -> Result<CommitIdentity> {
        let instance = self.config.group.group_instance_id.clone();
        if let Some(g) = self.machine.commit_generation() {
            return Ok(CommitIdentity {
                generation_id: g.generation_id,
                member_id: g.member_id.clone(),
                group_instance_id: instance,
            });
        }
        if self.machine.state() == GroupState::Idle {
            return Ok(CommitIdentity {
                generation_id: -1,
                member_id: String::new(),
                group_instance_id: None,
            });
        }
        if let Some(e) = self.shared.fatal.get() {
            return Err(e.clone());
        }
        Err(group_commit_error(ErrorCode::REBALANCE_IN_PROGRESS))
    }

    fn start_fetch(&mut self, coordinator: i32, op: FetchOp) {
        let io = self.io.clone();
        let require_stable = self.config.require_stable_offsets;
        self.spawn(None, async move {
            let outcome = io.fetch(coordinator, &op.partitions, require_stable).await;
            Completion::Fetch { op, outcome }
        });
    }

    pub(super) fn count_commit(&self, is_commit: bool, ok: bool) {
        if !is_commit {
            return;
        }
        let mut m = lock(&self.shared.metrics);
        if ok {
            m.commits_ok += 1;
        } else {
            m.commits_failed += 1;
        }
    }
}

/// Java's `commit-latency-avg`/`-max`: one commit round trip (not per record).
fn record_commit_latency(shared: &super::Shared, took: std::time::Duration) {
    let mut m = lock(&shared.metrics);
    let n = m.commit_requests;
    // Running mean in whole microseconds: no separate total to keep.
    let avg = m.commit_latency_avg.as_micros() as u64;
    let took_us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
    let new_avg = (u128::from(avg) * u128::from(n) + u128::from(took_us)) / u128::from(n + 1);
    m.commit_latency_avg = std::time::Duration::from_micros(new_avg as u64);
    m.commit_latency_max = m.commit_latency_max.max(took);
    m.commit_requests = n + 1;
}
