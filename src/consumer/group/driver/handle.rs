//! [`MembershipHandle`]: what the consumer holds to talk to its membership
//! task, and the types it hands out.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::offsets::OffsetAndMetadata;
use crate::error::Context;
use crate::net::pool::lock;
use crate::{Error, Result, TopicPartition};

/// Which rebalance callback an event stands for (Java's
/// `ConsumerRebalanceListener` methods).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RebalanceKind {
    /// `onPartitionsRevoked`: stop consuming these partitions; they are
    /// still owned, so offsets for them may (and should) be committed now.
    Revoked,
    /// `onPartitionsAssigned`: start consuming these partitions (the list
    /// may be empty: Java calls the listener after every rebalance).
    Assigned,
    /// `onPartitionsLost`: these partitions may already belong to another
    /// member; drop them without committing.
    Lost,
}

/// One rebalance callback for the consumer to run.
///
/// The membership waits until the event is finished, by [`done`](Self::done)
/// or by dropping it, before it hands out the next one or rejoins. Keep it
/// while the user's listener runs (and, for `Revoked`, while the consumer
/// commits what it gives up).
#[derive(Debug)]
pub struct RebalanceEvent {
    kind: RebalanceKind,
    partitions: Vec<TopicPartition>,
    seq: u64,
    ack: Option<mpsc::UnboundedSender<Command>>,
}

impl RebalanceEvent {
    pub(super) fn new(
        kind: RebalanceKind,
        partitions: Vec<TopicPartition>,
        seq: u64,
        ack: mpsc::UnboundedSender<Command>,
    ) -> Self {
        RebalanceEvent {
            kind,
            partitions,
            seq,
            ack: Some(ack),
        }
    }

    /// Which callback.
    pub fn kind(&self) -> RebalanceKind {
        self.kind
    }

    /// The partitions concerned, sorted.
    pub fn partitions(&self) -> &[TopicPartition] {
        &self.partitions
    }

    /// The callback ran: let the membership go on. Same as dropping the
    /// event.
    #[cfg(test)]
    pub fn done(self) {}
}

impl Drop for RebalanceEvent {
    fn drop(&mut self) {
        if let Some(ack) = self.ack.take() {
            let _ = ack.send(Command::CallbackDone { seq: self.seq });
        }
    }
}

/// The consumer's group identity for `send_offsets_to_transaction`
/// (Java's `ConsumerGroupMetadata`, KIP-447): the transaction coordinator
/// fences commits from a member of an older generation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct GroupMetadata {
    /// `group.id`.
    pub group_id: String,
    /// The current generation, or -1 while the member holds none.
    pub generation_id: i32,
    /// The member id the coordinator gave, or empty.
    pub member_id: String,
    /// `group.instance.id`, for a static member.
    pub group_instance_id: Option<String>,
}

impl GroupMetadata {
    /// The identity of a consumer outside any generation of `group_id`
    /// (Java's `new ConsumerGroupMetadata(groupId)`): generation -1, no
    /// member id, no instance id. A group member's comes from
    /// `Consumer::group_metadata`.
    pub fn new(group_id: impl Into<String>) -> Self {
        GroupMetadata {
            group_id: group_id.into(),
            generation_id: -1,
            member_id: String::new(),
            group_instance_id: None,
        }
    }
}

/// Counters of one member's group activity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MembershipMetrics {
    /// Rebalances completed (each successful SyncGroup; a cooperative
    /// rebalance that moves partitions counts twice, as it takes two).
    pub rebalances: u64,
    /// How long the last completed rebalance took, from leaving the stable
    /// state (or subscribing) to the SyncGroup answer.
    pub last_rebalance: Option<Duration>,
    /// OffsetCommits that succeeded.
    pub commits_ok: u64,
    /// OffsetCommits that failed (each call counts once, after retries).
    pub commits_failed: u64,
    /// Mean time of an OffsetCommit request to the coordinator (Java's
    /// `commit-latency-avg`), zero before the first.
    pub commit_latency_avg: Duration,
    /// Longest such time (Java's `commit-latency-max`).
    pub commit_latency_max: Duration,
    /// OffsetCommit requests timed (the divisor of `commit_latency_avg`).
    pub commit_requests: u64,
    /// When the last rebalance completed (Java's
    /// `last-rebalance-seconds-ago` is its `elapsed()`).
    pub last_rebalance_at: Option<std::time::Instant>,
    /// The current generation, -1 when none.
    pub generation_id: i32,
    /// Whether this member leads the current generation.
    pub leader: bool,
    /// Partitions owned now.
    pub assigned_partitions: usize,
    /// The coordinator accepted this member's LeaveGroup (sent on close by
    /// a dynamic member, or when `max.poll.interval.ms` expired), so the
    /// group rebalanced at once instead of at the session timeout.
    pub left_group: bool,
}

/// An offset commit queued by [`Consumer::commit_async`](crate::consumer::Consumer::commit_async)
/// (and its siblings): a future resolving to the commit's result.
///
/// Commits of one consumer reach the coordinator in the order they were
/// called, sync and async alike, and their handles resolve in that order.
/// Awaiting the handle is optional: dropping it does not cancel the commit
/// (a failure nobody awaits is logged).
#[derive(Debug)]
pub struct CommitHandle {
    state: CommitState,
}

#[derive(Debug)]
enum CommitState {
    Waiting {
        rx: oneshot::Receiver<Result<()>>,
        shared: Arc<Shared>,
    },
    Done(Option<Result<()>>),
}

impl std::future::Future for CommitHandle {
    type Output = Result<()>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<()>> {
        match &mut self.state {
            CommitState::Done(result) => {
                std::task::Poll::Ready(result.take().unwrap_or(Err(Error::Closed)))
            }
            CommitState::Waiting { rx, shared } => {
                let result = match std::pin::Pin::new(rx).poll(cx) {
                    std::task::Poll::Pending => return std::task::Poll::Pending,
                    std::task::Poll::Ready(Ok(result)) => result,
                    // The membership ended before answering.
                    std::task::Poll::Ready(Err(_)) => {
                        Err(shared.fatal.get().cloned().unwrap_or(Error::Closed))
                    }
                };
                self.state = CommitState::Done(None);
                std::task::Poll::Ready(result)
            }
        }
    }
}

/// The commands the handle sends the membership task.
pub(super) enum Command {
    Subscribe(Vec<Arc<str>>),
    Polled,
    CallbackDone {
        seq: u64,
    },
    Commit {
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
        reply: oneshot::Sender<Result<()>>,
    },
    Committed {
        partitions: Vec<TopicPartition>,
        reply: oneshot::Sender<Result<BTreeMap<TopicPartition, Option<OffsetAndMetadata>>>>,
    },
    Close {
        reply: oneshot::Sender<()>,
    },
    /// Stop at once, no I/O (close timed out).
    Shutdown,
}

/// State the task publishes for the handle to read without a round trip.
#[derive(Debug)]
pub(super) struct Shared {
    pub fatal: OnceLock<Error>,
    pub errors: Mutex<VecDeque<Error>>,
    pub group: Mutex<GroupMetadata>,
    pub metrics: Mutex<MembershipMetrics>,
    /// The task has ended (closed, shut down, or every handle dropped).
    pub ended: std::sync::atomic::AtomicBool,
    /// How many times `max.poll.interval.ms` expired (the member left the
    /// group for not polling). The consumer compares it at each poll.
    pub poll_expirations: std::sync::atomic::AtomicU64,
}

/// At most this many raised errors wait for the consumer; older ones are
/// dropped first (a consumer that never polls must not grow memory).
pub(super) const MAX_QUEUED_ERRORS: usize = 64;

impl Shared {
    pub(super) fn new(group: GroupMetadata) -> Self {
        Shared {
            fatal: OnceLock::new(),
            errors: Mutex::new(VecDeque::new()),
            group: Mutex::new(group),
            metrics: Mutex::new(MembershipMetrics {
                generation_id: -1,
                ..MembershipMetrics::default()
            }),
            ended: std::sync::atomic::AtomicBool::new(false),
            poll_expirations: std::sync::atomic::AtomicU64::new(0),
        }
    }

    pub(super) fn raise(&self, error: Error) {
        let mut errors = lock(&self.errors);
        if errors.len() >= MAX_QUEUED_ERRORS {
            errors.pop_front();
        }
        errors.push_back(error);
    }
}

/// The consumer's handle on its group membership task. Cheap to clone;
/// clones share the task. Dropping every clone stops the task without
/// I/O (no LeaveGroup: the coordinator notices at the session timeout);
/// call [`close`](Self::close) to leave properly.
#[derive(Clone)]
pub struct MembershipHandle {
    pub(super) commands: mpsc::UnboundedSender<Command>,
    pub(super) events: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<RebalanceEvent>>>,
    pub(super) shared: Arc<Shared>,
}

impl std::fmt::Debug for MembershipHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MembershipHandle")
            .field("group", &*lock(&self.shared.group))
            .finish()
    }
}

impl MembershipHandle {
    /// Fails with the fatal error, or [`Error::Closed`] once the task ended.
    fn check(&self) -> Result<()> {
        if let Some(e) = self.shared.fatal.get() {
            return Err(e.clone());
        }
        if self.shared.ended.load(std::sync::atomic::Ordering::Acquire) {
            return Err(Error::Closed);
        }
        Ok(())
    }

    fn send(&self, command: Command) -> Result<()> {
        self.check()?;
        self.commands.send(command).map_err(|_| Error::Closed)
    }

    /// Subscribes to `topics` (replacing the previous subscription) and
    /// joins the group, or rebalances if the topics changed. The topics are
    /// added to the client's metadata interest. Returns at once.
    pub fn subscribe(&self, topics: Vec<String>) -> Result<()> {
        let topics = topics.into_iter().map(Arc::from).collect();
        self.send(Command::Subscribe(topics))
    }

    /// The consumer polled: restarts the `max.poll.interval.ms` clock, and
    /// rejoins if the member left for not polling. Call it on every poll.
    pub fn polled(&self) {
        let _ = self.send(Command::Polled);
    }

    /// How many times the member left the group because
    /// `max.poll.interval.ms` passed without a poll. When it has grown
    /// since the consumer last looked, the partitions the consumer holds
    /// are no longer its own, even before the `Lost` event for them is
    /// handed out (that happens only once the consumer polls again).
    pub(crate) fn poll_expirations(&self) -> u64 {
        self.shared
            .poll_expirations
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// The next rebalance callback to run, waiting for one; `None` once the
    /// membership task has ended (after close).
    pub async fn next_event(&self) -> Option<RebalanceEvent> {
        self.events.lock().await.recv().await
    }

    /// The next rebalance callback to run, if one is waiting (and no other
    /// caller is taking one right now).
    pub fn try_next_event(&self) -> Option<RebalanceEvent> {
        self.events.try_lock().ok()?.try_recv().ok()
    }

    /// The error for the consumer's poll to return, if any: the fatal error
    /// (every time, once membership failed for good), else the oldest error
    /// raised by the membership (an assignment that failed, a group error
    /// Java would throw from poll), each returned once.
    pub fn take_error(&self) -> Option<Error> {
        if let Some(e) = self.shared.fatal.get() {
            return Some(e.clone());
        }
        lock(&self.shared.errors).pop_front()
    }

    /// Commits `offsets` to the group coordinator, waiting for the answer
    /// (Java's `commitSync`), retrying coordinator moves within
    /// `default.api.timeout.ms`.
    ///
    /// The commit carries the member's generation. While a rebalance is in
    /// flight there is none to carry, and the commit fails with
    /// `REBALANCE_IN_PROGRESS` (as Java's `RebalanceInProgressException`:
    /// commit again after the rebalance, or in the revoke callback). A
    /// consumer that never subscribed commits as a standalone consumer
    /// (generation -1, no member id). Group errors (`ILLEGAL_GENERATION`,
    /// `UNKNOWN_MEMBER_ID`) mean the partitions may already be another
    /// member's: the commit fails and the member rejoins.
    pub async fn commit(&self, offsets: BTreeMap<TopicPartition, OffsetAndMetadata>) -> Result<()> {
        self.start_commit(offsets)?.await
    }

    /// Queues a commit of `offsets` behind every commit called before it
    /// and returns at once; the handle resolves to its result. Dropping the
    /// handle does not cancel the commit.
    pub(crate) fn start_commit(
        &self,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> Result<CommitHandle> {
        if offsets.is_empty() {
            self.check()?;
            return Ok(CommitHandle {
                state: CommitState::Done(Some(Ok(()))),
            });
        }
        let (reply, rx) = oneshot::channel();
        self.send(Command::Commit { offsets, reply })?;
        Ok(CommitHandle {
            state: CommitState::Waiting {
                rx,
                shared: self.shared.clone(),
            },
        })
    }

    /// The committed offsets of `partitions` (`None` where nothing is
    /// committed), from the group coordinator (Java's `committed`).
    pub async fn committed(
        &self,
        partitions: Vec<TopicPartition>,
    ) -> Result<BTreeMap<TopicPartition, Option<OffsetAndMetadata>>> {
        if partitions.is_empty() {
            self.check()?;
            return Ok(BTreeMap::new());
        }
        let (reply, rx) = oneshot::channel();
        self.send(Command::Committed { partitions, reply })?;
        rx.await.map_err(|_| self.ended_error())?
    }

    fn ended_error(&self) -> Error {
        self.shared.fatal.get().cloned().unwrap_or(Error::Closed)
    }

    /// The member's group identity now, for
    /// `send_offsets_to_transaction` (KIP-447).
    pub fn group_metadata(&self) -> GroupMetadata {
        lock(&self.shared.group).clone()
    }

    /// A reader of the membership counters that does not keep the group
    /// task alive (for exporters that outlive the consumer).
    pub(crate) fn metrics_reader(&self) -> MembershipMetricsReader {
        MembershipMetricsReader(Arc::downgrade(&self.shared))
    }

    /// A snapshot of the membership counters.
    pub fn metrics(&self) -> MembershipMetrics {
        lock(&self.shared.metrics).clone()
    }

    /// Leaves the group: the owned partitions are revoked (or lost, if the
    /// member holds no valid generation) through one last
    /// [`RebalanceEvent`], then a dynamic member sends LeaveGroup (a static
    /// member does not, KIP-345).
    ///
    /// The consumer must keep taking events ([`next_event`](Self::next_event))
    /// while this runs, to commit in the revoke callback; `next_event`
    /// returns `None` once closing is over. After `timeout` the task is
    /// stopped where it is and this fails with [`Error::Timeout`].
    pub async fn close(&self, timeout: Duration) -> Result<()> {
        let (reply, rx) = oneshot::channel();
        if self.commands.send(Command::Close { reply }).is_err() {
            return Ok(());
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(_) => Ok(()),
            Err(_) => {
                let _ = self.commands.send(Command::Shutdown);
                Err(Error::Timeout {
                    what: "leaving the consumer group",
                    context: Context::api("LeaveGroup"),
                })
            }
        }
    }
}

/// Reads a member's [`MembershipMetrics`] while the member exists.
#[derive(Debug, Clone)]
pub(crate) struct MembershipMetricsReader(std::sync::Weak<Shared>);

impl MembershipMetricsReader {
    /// The counters, `None` once the member is gone.
    pub(crate) fn read(&self) -> Option<MembershipMetrics> {
        self.0.upgrade().map(|s| lock(&s.metrics).clone())
    }
}
