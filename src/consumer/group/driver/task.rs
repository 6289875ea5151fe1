//! The membership task: runs the [`GroupMachine`], feeds it the user's
//! commands, the passing of time and metadata changes, and publishes the
//! group's state for the handle.
//!
//! The task's work is split by concern: `actions.rs` carries out what the
//! machine asks (spawned requests, the leader's assignment, rebalance
//! callbacks) and takes the tasks' answers back; `offset_calls.rs` queues,
//! routes and retries the user's offset commits and fetches. This file
//! holds the loop that ties them together.

mod actions;
mod offset_calls;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::{Id as TaskId, JoinSet};
use tracing::Instrument;

use super::assign::{self, TopicCounts};
use super::config::MembershipConfig;
use super::handle::{Command, GroupMetadata, RebalanceEvent, RebalanceKind, Shared};
use super::io::Io;
use crate::client::Client;
use crate::consumer::group::machine::{Event, GroupMachine, GroupState};
use crate::metadata::ClusterMetadata;
use crate::net::pool::lock;
use crate::{Error, Result, TopicPartition};
use actions::Completion;
use offset_calls::{CommitOp, FetchOp, OffsetOp, Standalone};

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
    /// Offset calls waiting to go out, commits in call order.
    waiting_ops: VecDeque<OffsetOp>,
    /// The one commit on the wire. Commits go out one at a time, in the
    /// order they were called (a retried commit goes before every later
    /// one), so an older commit can never land after a newer one and move
    /// the group's position back (Java's guarantee).
    commit_task: Option<TaskId>,
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
    /// Recent completed rebalances, to tell a storm (members that keep
    /// timing out or restarting) from the odd rebalance.
    recent_rebalances: crate::observe::log_limit::Burst,
    storm_log: crate::observe::log_limit::LogLimiter,
}

/// A storm: this many rebalances within [`STORM_WINDOW`].
const STORM_REBALANCES: usize = 5;
const STORM_WINDOW: Duration = Duration::from_secs(300);

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
            commit_task: None,
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
            recent_rebalances: crate::observe::log_limit::Burst::new(STORM_WINDOW),
            storm_log: crate::observe::log_limit::LogLimiter::new(STORM_WINDOW),
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
                let recent = self.recent_rebalances.record(now);
                if recent >= STORM_REBALANCES && self.storm_log.allow().is_some() {
                    tracing::warn!(
                        group = %self.config.group.group_id,
                        rebalances = recent,
                        window_s = STORM_WINDOW.as_secs(),
                        "rebalance storm: the group keeps rebalancing (members timing out, \
                         restarting or exceeding max.poll.interval.ms?)"
                    );
                }
                let mut m = lock(&self.shared.metrics);
                m.rebalances += 1;
                m.last_rebalance = took.or(Some(Duration::ZERO));
                m.last_rebalance_at = Some(std::time::Instant::now());
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

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}
