//! The membership task: runs the [`GroupMachine`], carries out its actions
//! and serves the handle's commands.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::{Id as TaskId, JoinSet};
use tracing::Instrument;

use super::assign::{self, Computed, TopicCounts};
use super::config::MembershipConfig;
use super::handle::{Command, GroupMetadata, RebalanceEvent, RebalanceKind, Shared};
use super::io::Io;
use super::offsets::{CommitIdentity, OffsetAndMetadata, Outcome, group_commit_error};
use crate::client::Client;
use crate::consumer::assignor::wire::{MAX_VERSION, encode_subscription};
use crate::consumer::assignor::{RebalanceProtocol, Subscription};
use crate::consumer::group::{
    Action, CoordinatorState, Event, GroupMachine, GroupState, JoinGroup, Request,
};
use crate::error::Context;
use crate::metadata::ClusterMetadata;
use crate::net::pool::lock;
use crate::{Error, ErrorCode, Result, TopicPartition};

type Committed = BTreeMap<TopicPartition, Option<OffsetAndMetadata>>;

/// What a finished task hands back to the loop.
enum Completion {
    /// An answer for the machine, and an error for the user to see.
    Machine {
        event: Event,
        raise: Option<Error>,
    },
    /// The leader's assignment for `generation_id`.
    Assignment {
        generation_id: i32,
        result: Result<Computed>,
    },
    /// The coordinator the driver looked up itself (see `standalone`).
    Standalone(Result<i32>),
    Commit {
        op: CommitOp,
        identity: CommitIdentity,
        outcome: Outcome<()>,
    },
    Fetch {
        op: FetchOp,
        outcome: Outcome<Committed>,
    },
    Nothing,
}

struct CommitOp {
    offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    reply: oneshot::Sender<Result<()>>,
    deadline: Instant,
    not_before: Option<Instant>,
}

struct FetchOp {
    partitions: Vec<TopicPartition>,
    reply: oneshot::Sender<Result<Committed>>,
    deadline: Instant,
    not_before: Option<Instant>,
}

enum OffsetOp {
    Commit(CommitOp),
    Fetch(FetchOp),
}

impl OffsetOp {
    fn deadline(&self) -> Instant {
        match self {
            OffsetOp::Commit(c) => c.deadline,
            OffsetOp::Fetch(f) => f.deadline,
        }
    }
    fn not_before(&self) -> Option<Instant> {
        match self {
            OffsetOp::Commit(c) => c.not_before,
            OffsetOp::Fetch(f) => f.not_before,
        }
    }
    fn caller_gone(&self) -> bool {
        match self {
            OffsetOp::Commit(c) => c.reply.is_closed(),
            OffsetOp::Fetch(f) => f.reply.is_closed(),
        }
    }
    fn fail(self, error: Error) -> bool {
        match self {
            OffsetOp::Commit(c) => {
                let _ = c.reply.send(Err(error));
                true
            }
            OffsetOp::Fetch(f) => {
                let _ = f.reply.send(Err(error));
                false
            }
        }
    }
}

/// A driver-side coordinator lookup, for offset calls while the machine
/// does not look for one (never subscribed, closing, poll expired).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standalone {
    Unknown,
    Finding,
    Known(i32),
}

pub(super) struct Driver {
    machine: GroupMachine,
    config: MembershipConfig,
    io: Io,
    shared: Arc<Shared>,
    commands: mpsc::UnboundedReceiver<Command>,
    /// Weak, so that the command channel closes when every handle is gone.
    commands_tx: mpsc::WeakUnboundedSender<Command>,
    events: mpsc::UnboundedSender<RebalanceEvent>,
    tasks: JoinSet<Completion>,
    /// The answer owed to the machine should a task end without one.
    fallbacks: HashMap<TaskId, Event>,
    queued: VecDeque<Event>,
    /// The callback handed out and not yet finished: (seq, kind).
    callback: Option<(u64, RebalanceKind)>,
    callback_seq: u64,
    waiting_ops: VecDeque<OffsetOp>,
    standalone: Standalone,
    close_waiters: Vec<oneshot::Sender<()>>,
    closed: bool,
    /// The last assignment received and its generation: what eager members
    /// tell sticky assignors they had (they revoke it before rejoining).
    last_assignment: Vec<TopicPartition>,
    last_generation: Option<i32>,
    /// The metadata the last assignment was computed from (leader only).
    assigned_counts: TopicCounts,
    metadata: watch::Receiver<Arc<ClusterMetadata>>,
    metadata_open: bool,
    /// When the current rebalance began, if one is under way.
    rebalance_started: Option<Instant>,
    last_state: GroupState,
}

impl Driver {
    pub(super) fn new(
        client: Client,
        config: MembershipConfig,
        shared: Arc<Shared>,
        commands: mpsc::UnboundedReceiver<Command>,
        commands_tx: mpsc::WeakUnboundedSender<Command>,
        events: mpsc::UnboundedSender<RebalanceEvent>,
    ) -> Result<Driver> {
        let machine = GroupMachine::new(config.machine_config())?;
        let io = Io::new(
            client.clone(),
            &config.group.group_id,
            config.group.session_timeout,
            config.group.rebalance_timeout,
        );
        let mut metadata = client.metadata_handle().subscribe();
        metadata.borrow_and_update();
        Ok(Driver {
            machine,
            config,
            io,
            shared,
            commands,
            commands_tx,
            events,
            tasks: JoinSet::new(),
            fallbacks: HashMap::new(),
            queued: VecDeque::new(),
            callback: None,
            callback_seq: 0,
            waiting_ops: VecDeque::new(),
            standalone: Standalone::Unknown,
            close_waiters: Vec::new(),
            closed: false,
            last_assignment: Vec::new(),
            last_generation: None,
            assigned_counts: TopicCounts::new(),
            metadata,
            metadata_open: true,
            rebalance_started: None,
            last_state: GroupState::Idle,
        })
    }

    pub(super) async fn run(mut self) {
        let span = tracing::info_span!("consumer_group", group = %self.config.group.group_id);
        async {
            self.main_loop().await;
            self.finish();
        }
        .instrument(span)
        .await
    }

    async fn main_loop(&mut self) {
        // The client closing ends the membership at once: the
        // JoinGroup/SyncGroup connection is this member's own, which the
        // client's close cannot reach, and a JoinGroup held on it would
        // otherwise keep it open for up to the rebalance timeout.
        let client_closed = self.io.client.pool().closed();
        tokio::pin!(client_closed);
        loop {
            let wake = self.next_wake();
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown) | None => return,
                    Some(command) => self.on_command(command),
                },
                () = &mut client_closed => {
                    tracing::debug!("client closed; membership ends");
                    return;
                }
                Some(done) = self.tasks.join_next_with_id(), if !self.tasks.is_empty() => {
                    self.on_task_done(done)
                }
                _ = sleep_until(wake), if wake.is_some() => self.feed(Event::Tick),
                changed = self.metadata.changed(), if self.metadata_open => match changed {
                    Ok(()) => self.on_metadata(),
                    Err(_) => self.metadata_open = false,
                },
            }
            self.dispatch_offset_ops();
            if self.closed {
                return;
            }
        }
    }

    /// Ends the task: answers everyone still waiting, drops the
    /// JoinGroup/SyncGroup connection and abandons requests in flight.
    fn finish(&mut self) {
        self.shared.ended.store(true, Ordering::Release);
        self.io.close_group_connection();
        let error = self.shared.fatal.get().cloned().unwrap_or(Error::Closed);
        for op in self.waiting_ops.drain(..) {
            op.fail(error.clone());
        }
        for waiter in self.close_waiters.drain(..) {
            let _ = waiter.send(());
        }
        self.tasks.abort_all();
    }

    fn next_wake(&self) -> Option<Instant> {
        let ops = self
            .waiting_ops
            .iter()
            .map(|op| op.not_before().unwrap_or(op.deadline()).min(op.deadline()))
            .min();
        [self.machine.next_deadline(), ops]
            .into_iter()
            .flatten()
            .min()
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Subscribe(topics) => {
                // Register the topics with metadata so that refreshes track
                // them (the leader needs their partition counts).
                let client = self.io.client.clone();
                let names: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
                self.spawn(None, async move {
                    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                    if let Err(e) = client.metadata_for(&refs).await {
                        tracing::debug!(error = %e, "metadata for subscribed topics failed");
                    }
                    Completion::Nothing
                });
                self.feed(Event::Subscribe { topics });
            }
            Command::Polled => self.feed(Event::Polled),
            Command::CallbackDone { seq } => match self.callback {
                Some((s, kind)) if s == seq => {
                    self.callback = None;
                    self.feed(match kind {
                        RebalanceKind::Revoked => Event::RevokeDone,
                        RebalanceKind::Assigned => Event::AssignDone,
                        RebalanceKind::Lost => Event::LostDone,
                    });
                }
                _ => {}
            },
            Command::Commit { offsets, reply } => {
                let op = OffsetOp::Commit(CommitOp {
                    offsets,
                    reply,
                    deadline: Instant::now() + self.config.default_api_timeout,
                    not_before: None,
                });
                self.queue_op(op);
            }
            Command::Committed { partitions, reply } => {
                let op = OffsetOp::Fetch(FetchOp {
                    partitions,
                    reply,
                    deadline: Instant::now() + self.config.default_api_timeout,
                    not_before: None,
                });
                self.queue_op(op);
            }
            Command::Close { reply } => {
                self.close_waiters.push(reply);
                self.feed(Event::Close);
            }
            Command::Shutdown => {}
        }
    }

    fn queue_op(&mut self, op: OffsetOp) {
        if let Some(e) = self.shared.fatal.get() {
            self.count_commit(op.fail(e.clone()), false);
            return;
        }
        self.waiting_ops.push_back(op);
    }

    /// Feeds one event, then every event that carrying out its actions
    /// produced, and publishes the new state.
    fn feed(&mut self, event: Event) {
        self.queued.push_back(event);
        while let Some(event) = self.queued.pop_front() {
            let actions = self.machine.handle(Instant::now(), event);
            for action in actions {
                self.carry_out(action);
            }
        }
        self.publish();
    }

    fn carry_out(&mut self, action: Action) {
        match action {
            Action::FindCoordinator => {
                let io = self.io.clone();
                let fallback = Event::FindCoordinatorFailed {
                    error: task_ended("FindCoordinator"),
                };
                self.spawn(Some(fallback), async move {
                    let event = match io.find_coordinator().await {
                        Ok(node_id) => {
                            tracing::debug!(coordinator = node_id, "coordinator found");
                            Event::CoordinatorFound { node_id }
                        }
                        Err(error) => {
                            tracing::debug!(%error, "FindCoordinator failed");
                            Event::FindCoordinatorFailed { error }
                        }
                    };
                    Completion::Machine { event, raise: None }
                });
            }
            Action::Send {
                coordinator,
                request,
            } => self.send(coordinator, request),
            Action::ComputeAssignment {
                generation_id,
                protocol_name,
                leader_id,
                members,
            } => {
                let span = tracing::debug_span!(
                    "assign",
                    generation = generation_id,
                    member_id = %leader_id,
                    assignor = %protocol_name,
                    members = members.len()
                );
                let client = self.io.client.clone();
                let assignors = self.config.assignors.clone();
                let fallback = Event::AssignmentFailed {
                    error: task_ended("assignor"),
                };
                self.spawn(
                    Some(fallback),
                    async move {
                        let result =
                            assign::compute(client, assignors, protocol_name, members).await;
                        Completion::Assignment {
                            generation_id,
                            result,
                        }
                    }
                    .instrument(span),
                );
            }
            Action::Revoke(partitions) => self.callback(RebalanceKind::Revoked, partitions),
            Action::Assign(partitions) => self.callback(RebalanceKind::Assigned, partitions),
            Action::Lose(partitions) => self.callback(RebalanceKind::Lost, partitions),
            Action::CoordinatorUnknown => {
                tracing::debug!("coordinator unknown");
                self.io.close_group_connection();
            }
            Action::Raise(error) => {
                tracing::warn!(%error, "group membership error");
                self.shared.raise(error);
            }
            Action::Fatal(error) => {
                tracing::error!(%error, "group membership failed");
                let _ = self.shared.fatal.set(error.clone());
                for op in std::mem::take(&mut self.waiting_ops) {
                    let commit = op.fail(error.clone());
                    self.count_commit(commit, false);
                }
            }
            Action::Closed => {
                tracing::debug!("left the group");
                self.closed = true;
            }
        }
    }

    fn callback(&mut self, kind: RebalanceKind, partitions: Vec<TopicPartition>) {
        self.callback_seq += 1;
        let seq = self.callback_seq;
        self.callback = Some((seq, kind));
        tracing::debug!(?kind, partitions = partitions.len(), "rebalance callback");
        let Some(ack) = self.commands_tx.upgrade() else {
            // Every handle is gone: the loop ends at its next turn.
            return;
        };
        let _ = self
            .events
            .send(RebalanceEvent::new(kind, partitions, seq, ack));
    }

    fn send(&mut self, coordinator: i32, request: Request) {
        let kind = request.kind();
        let protocols = match &request {
            Request::JoinGroup(join) => match self.protocols(join) {
                Ok(p) => p,
                Err(error) => {
                    self.queued.push_back(Event::RequestFailed {
                        request: kind,
                        error,
                    });
                    return;
                }
            },
            _ => Vec::new(),
        };
        let span = request_span(&request, coordinator);
        let io = self.io.clone();
        let fallback = Event::RequestFailed {
            request: kind,
            error: task_ended("coordinator request"),
        };
        self.spawn(
            Some(fallback),
            async move {
                let (event, raise) = match io
                    .coordinator_request(coordinator, request, protocols)
                    .await
                {
                    Ok(answer) => answer,
                    Err(error) => {
                        tracing::debug!(%error, "request failed");
                        (
                            Event::RequestFailed {
                                request: kind,
                                error,
                            },
                            None,
                        )
                    }
                };
                Completion::Machine { event, raise }
            }
            .instrument(span),
        );
    }

    /// One `(assignor name, subscription)` per configured assignor, in
    /// preference order, for the JoinGroup.
    fn protocols(&self, join: &JoinGroup) -> Result<Vec<(String, Bytes)>> {
        let topics: Vec<String> = join.topics.iter().map(|t| t.to_string()).collect();
        // Eager members revoked everything before rejoining; sticky
        // assignors still want what they had (Java keeps it in the assignor).
        let (owned, generation) = match self.machine.config().protocol {
            RebalanceProtocol::Cooperative => (
                join.owned_partitions.clone(),
                (join.generation_id >= 0).then_some(join.generation_id),
            ),
            RebalanceProtocol::Eager => (self.last_assignment.clone(), self.last_generation),
        };
        self.config
            .assignors
            .iter()
            .map(|assignor| {
                let subscription = Subscription {
                    topics: topics.clone(),
                    user_data: assignor.subscription_user_data(&topics, &owned, generation),
                    owned_partitions: join.owned_partitions.clone(),
                    generation_id: (join.generation_id >= 0).then_some(join.generation_id),
                    rack_id: self.config.client_rack.clone(),
                };
                Ok((
                    assignor.name().to_owned(),
                    encode_subscription(&subscription, MAX_VERSION)?,
                ))
            })
            .collect()
    }

    fn spawn<F>(&mut self, fallback: Option<Event>, task: F)
    where
        F: std::future::Future<Output = Completion> + Send + 'static,
    {
        let handle = self.tasks.spawn(task);
        if let Some(event) = fallback {
            self.fallbacks.insert(handle.id(), event);
        }
    }

    fn on_task_done(
        &mut self,
        done: std::result::Result<(TaskId, Completion), tokio::task::JoinError>,
    ) {
        let completion = match done {
            Ok((id, completion)) => {
                self.fallbacks.remove(&id);
                completion
            }
            Err(e) => {
                // A task that panicked or was aborted still owes the machine
                // its answer.
                match self.fallbacks.remove(&e.id()) {
                    Some(event) => Completion::Machine { event, raise: None },
                    None => Completion::Nothing,
                }
            }
        };
        match completion {
            Completion::Machine { event, raise } => {
                if let Some(error) = raise {
                    self.shared.raise(error);
                }
                let synced = match &event {
                    Event::SyncGroupResponse(r) if r.error == ErrorCode::NONE => {
                        Some(r.assignment.clone())
                    }
                    _ => None,
                };
                match &event {
                    Event::CoordinatorFound { node_id } => {
                        self.standalone = Standalone::Known(*node_id);
                    }
                    Event::LeaveGroupResponse { error } => {
                        tracing::debug!(error = %error.name(), "LeaveGroup answered");
                        lock(&self.shared.metrics).left_group = *error == ErrorCode::NONE;
                    }
                    _ => {}
                }
                self.feed(event);
                if let Some(assignment) = synced
                    && self.machine.state() == GroupState::Stable
                {
                    self.last_assignment = assignment;
                    self.last_generation = Some(self.machine.generation().generation_id);
                }
            }
            Completion::Assignment {
                generation_id,
                result,
            } => {
                // An assignment for a generation the machine left behind
                // must not be sent for the new one.
                let current = self.machine.state() == GroupState::Assigning
                    && self.machine.generation().generation_id == generation_id;
                if !current {
                    return;
                }
                match result {
                    Ok(computed) => {
                        self.assigned_counts = computed.counts;
                        self.feed(Event::AssignmentComputed {
                            assignments: computed.assignments,
                        });
                    }
                    Err(error) => self.feed(Event::AssignmentFailed { error }),
                }
            }
            Completion::Standalone(result) => {
                self.standalone = match result {
                    Ok(id) => Standalone::Known(id),
                    Err(_) => Standalone::Unknown,
                };
            }
            Completion::Commit {
                op,
                identity,
                outcome,
            } => self.on_commit_outcome(op, identity, outcome),
            Completion::Fetch { op, outcome } => self.on_fetch_outcome(op, outcome),
            Completion::Nothing => {}
        }
    }

    fn on_commit_outcome(&mut self, op: CommitOp, identity: CommitIdentity, outcome: Outcome<()>) {
        match outcome {
            Outcome::Done(result) => {
                if let Err(e) = &result {
                    tracing::debug!(error = %e, "commit failed");
                }
                self.count_commit(true, result.is_ok());
                let _ = op.reply.send(result);
            }
            Outcome::Group(code) => {
                self.feed(Event::CommitFailed {
                    error: code,
                    generation_id: identity.generation_id,
                });
                self.count_commit(true, false);
                let _ = op.reply.send(Err(group_commit_error(code)));
            }
            Outcome::Rediscover(code) => {
                self.coordinator_lost(code, identity.generation_id);
                self.waiting_ops.push_back(OffsetOp::Commit(op));
            }
            Outcome::Backoff(error) => {
                let op = self.backoff(OffsetOp::Commit(op), error);
                if let Some(op) = op {
                    self.waiting_ops.push_back(op);
                }
            }
        }
    }

    fn on_fetch_outcome(&mut self, op: FetchOp, outcome: Outcome<Committed>) {
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
    fn dispatch_offset_ops(&mut self) {
        if self.waiting_ops.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut keep = VecDeque::new();
        let ops = std::mem::take(&mut self.waiting_ops);
        let mut coordinator = None;
        let mut looked = false;
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
            if op.not_before().is_some_and(|t| now < t) {
                keep.push_back(op);
                continue;
            }
            if !looked {
                coordinator = self.offset_coordinator();
                looked = true;
            }
            let Some(coordinator) = coordinator else {
                keep.push_back(op);
                continue;
            };
            match op {
                OffsetOp::Commit(op) => self.start_commit(coordinator, op),
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
                let _ = op.reply.send(Err(e));
                return;
            }
        };
        let span = tracing::debug_span!(
            "commit",
            generation = identity.generation_id,
            member_id = %identity.member_id,
            partitions = op.offsets.len()
        );
        let io = self.io.clone();
        self.spawn(
            None,
            async move {
                let outcome = io.commit(coordinator, &identity, &op.offsets).await;
                Completion::Commit {
                    op,
                    identity,
                    outcome,
                }
            }
            .instrument(span),
        );
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

    fn count_commit(&self, is_commit: bool, ok: bool) {
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

    /// The leader rebalances when the partition count of a topic it
    /// assigned changes (Java's metadata snapshot check). Topics missing
    /// from the new snapshot are not taken as deleted: a refresh can miss
    /// a topic for a moment.
    fn on_metadata(&mut self) {
        if !self.machine.is_leader() || self.assigned_counts.is_empty() {
            return;
        }
        let snapshot = self.metadata.borrow_and_update().clone();
        let topics: Vec<&str> = self.assigned_counts.keys().map(String::as_str).collect();
        let now = assign::partition_counts(&snapshot, &topics);
        let changed = now
            .iter()
            .any(|(t, n)| self.assigned_counts.get(t).is_some_and(|old| old != n));
        if changed {
            tracing::info!("partition count of a subscribed topic changed; rebalancing");
            self.assigned_counts.clear();
            self.feed(Event::MetadataChanged);
        }
    }

    /// Publishes the group identity and counters, and traces rebalances.
    fn publish(&mut self) {
        let state = self.machine.state();
        let generation = self.machine.generation();
        let now = Instant::now();
        if state != self.last_state {
            let rebalancing = matches!(
                state,
                GroupState::Unjoined
                    | GroupState::Revoking
                    | GroupState::Joining
                    | GroupState::Assigning
                    | GroupState::AwaitingSync
            );
            if rebalancing && self.rebalance_started.is_none() {
                self.rebalance_started = Some(now);
            }
            if state == GroupState::PollExpired {
                self.shared.poll_expirations.fetch_add(1, Ordering::AcqRel);
            }
            if state == GroupState::Stable {
                let took = self.rebalance_started.take().map(|t| now - t);
                tracing::info!(
                    generation = generation.generation_id,
                    member_id = %generation.member_id,
                    leader = self.machine.is_leader(),
                    protocol = generation.protocol_name.as_deref().unwrap_or(""),
                    took_ms = took.map(|d| d.as_millis() as u64),
                    "joined group"
                );
                let mut m = lock(&self.shared.metrics);
                m.rebalances += 1;
                m.last_rebalance = took.or(Some(Duration::ZERO));
            } else {
                tracing::debug!(from = ?self.last_state, to = ?state, "membership state");
            }
            self.last_state = state;
        }
        {
            let mut m = lock(&self.shared.metrics);
            m.generation_id = generation.generation_id;
            m.leader = self.machine.is_leader();
            m.assigned_partitions = self.machine.owned_partitions().len();
        }
        let mut group = lock(&self.shared.group);
        *group = GroupMetadata {
            group_id: self.config.group.group_id.clone(),
            generation_id: generation.generation_id,
            member_id: generation.member_id.clone(),
            group_instance_id: self.config.group.group_instance_id.clone(),
        };
    }
}

fn request_span(request: &Request, coordinator: i32) -> tracing::Span {
    match request {
        Request::JoinGroup(j) => tracing::debug_span!(
            "JoinGroup",
            coordinator,
            member_id = %j.member_id,
            generation = j.generation_id,
            reason = %j.reason
        ),
        Request::SyncGroup(s) => tracing::debug_span!(
            "SyncGroup",
            coordinator,
            member_id = %s.member_id,
            generation = s.generation_id,
            leader = !s.assignments.is_empty()
        ),
        Request::Heartbeat(h) => tracing::trace_span!(
            "Heartbeat",
            coordinator,
            member_id = %h.member_id,
            generation = h.generation_id
        ),
        Request::LeaveGroup(l) => tracing::debug_span!(
            "LeaveGroup",
            coordinator,
            member_id = %l.member_id,
            reason = %l.reason
        ),
    }
}

fn task_ended(what: &str) -> Error {
    Error::Disconnected {
        reason: format!("{what} task ended without an answer").into(),
        context: Context::default(),
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}
