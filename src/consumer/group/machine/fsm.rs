//! [`GroupMachine`]: the membership protocol as `(state, event) -> actions`.

mod callbacks;
mod heartbeat;
mod join;
mod leave;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use callbacks::{CallbackKind, Callbacks};

use super::action::{Action, Request, RequestKind};
use super::config::GroupConfig;
use super::event::Event;
use super::state::{CoordinatorState, Generation, GroupState};
use crate::error::Context;
use crate::{Error, ErrorCode, Result, TopicPartition};

/// The classic consumer-group membership protocol (JoinGroup, SyncGroup,
/// Heartbeat, LeaveGroup), with no I/O and no clock of its own.
///
/// The driver feeds every [`Event`] with the current time to
/// [`handle`](GroupMachine::handle) and carries out the returned
/// [`Action`]s in order; when nothing happens it feeds [`Event::Tick`] at
/// [`next_deadline`](GroupMachine::next_deadline). The behaviour follows the
/// Java consumer's `AbstractCoordinator`/`ConsumerCoordinator`.
#[derive(Debug)]
pub struct GroupMachine {
    config: GroupConfig,
    state: GroupState,
    topics: BTreeSet<Arc<str>>,
    generation: Generation,
    leader: bool,
    owned: BTreeSet<TopicPartition>,
    callbacks: Callbacks,

    coordinator: CoordinatorState,
    /// No FindCoordinator before this (back-off after a failure).
    coordinator_retry_at: Option<Instant>,

    /// The JoinGroup or SyncGroup in flight, if any: at most one at a time,
    /// whatever the state says (a response may arrive after the machine has
    /// moved on, and is then dropped).
    join_in_flight: Option<RequestKind>,
    /// No JoinGroup before this (back-off after a failed join).
    join_retry_at: Option<Instant>,
    /// The user's callback must run before the next JoinGroup (Java's
    /// `needsJoinPrepare`): set after each completed rebalance and each
    /// generation reset.
    needs_join_prepare: bool,
    /// Why a rejoin was requested, until the JoinGroup goes out.
    rejoin_reason: Option<String>,

    /// Generation and member id of the heartbeat in flight.
    heartbeat_in_flight: Option<(i32, String)>,
    next_heartbeat_at: Option<Instant>,
    session_deadline: Option<Instant>,
    poll_deadline: Option<Instant>,

    leave_in_flight: bool,
    /// Closing: the closing callback has been queued.
    close_prepared: bool,
    /// Closing: a LeaveGroup is still to be sent once callbacks are done.
    leave_on_close: bool,
}

impl GroupMachine {
    /// A machine for `config`, in [`GroupState::Idle`] until the first
    /// [`Event::Subscribe`].
    pub fn new(config: GroupConfig) -> Result<Self> {
        config.validate()?;
        Ok(GroupMachine {
            config,
            state: GroupState::Idle,
            topics: BTreeSet::new(),
            generation: Generation::none(),
            leader: false,
            owned: BTreeSet::new(),
            callbacks: Callbacks::default(),
            coordinator: CoordinatorState::Unknown,
            coordinator_retry_at: None,
            join_in_flight: None,
            join_retry_at: None,
            needs_join_prepare: true,
            rejoin_reason: None,
            heartbeat_in_flight: None,
            next_heartbeat_at: None,
            session_deadline: None,
            poll_deadline: None,
            leave_in_flight: false,
            close_prepared: false,
            leave_on_close: false,
        })
    }

    /// Handles one event at time `now` and returns what the driver must do,
    /// in order.
    pub fn handle(&mut self, now: Instant, event: Event) -> Vec<Action> {
        let mut out = Vec::new();
        if !self.accepts(&event) {
            return out;
        }
        match event {
            Event::Subscribe { topics } => self.on_subscribe(topics),
            Event::CoordinatorFound { node_id } => self.on_coordinator_found(now, node_id),
            Event::FindCoordinatorFailed { error } => {
                self.on_find_coordinator_failed(now, error, &mut out)
            }
            Event::JoinGroupResponse(response) => self.on_join_response(now, response, &mut out),
            Event::AssignmentComputed { assignments } => {
                self.on_assignment_computed(now, assignments, &mut out)
            }
            Event::AssignmentFailed { error } => self.on_assignment_failed(now, error, &mut out),
            Event::SyncGroupResponse(response) => self.on_sync_response(now, response, &mut out),
            Event::HeartbeatResponse { error } => self.on_heartbeat_response(now, error, &mut out),
            Event::LeaveGroupResponse { .. } => self.leave_in_flight = false,
            Event::RequestFailed { request, error } => {
                self.on_request_failed(now, request, error, &mut out)
            }
            Event::CommitFailed {
                error,
                generation_id,
            } => self.on_commit_failed(now, error, generation_id, &mut out),
            Event::RevokeDone => self.on_callback_done(CallbackKind::Revoke),
            Event::AssignDone => self.on_callback_done(CallbackKind::Assign),
            Event::LostDone => self.on_callback_done(CallbackKind::Lose),
            Event::Polled => self.on_polled(now),
            Event::MetadataChanged => self.on_metadata_changed(),
            Event::Close => self.on_close(),
            Event::Tick => {}
        }
        self.drive(now, &mut out);
        out
    }

    /// Whether `event` still matters in the current state. Once failed or
    /// closing, only the user's callbacks returning, the LeaveGroup's
    /// outcome and closing itself do; responses to anything else are stale.
    fn accepts(&self, event: &Event) -> bool {
        let callback_done = matches!(
            event,
            Event::RevokeDone | Event::AssignDone | Event::LostDone
        );
        match self.state {
            GroupState::Closed => false,
            GroupState::Failed => callback_done || matches!(event, Event::Close),
            GroupState::Leaving => {
                callback_done
                    || matches!(
                        event,
                        Event::LeaveGroupResponse { .. }
                            | Event::RequestFailed {
                                request: RequestKind::LeaveGroup,
                                ..
                            }
                            | Event::Tick
                    )
            }
            _ => true,
        }
    }

    /// The earliest time at which [`Event::Tick`] has something to do, if
    /// any: a heartbeat, a session or poll-interval expiry, or the end of a
    /// retry back-off. Always later than the `now` of the last `handle`.
    pub fn next_deadline(&self) -> Option<Instant> {
        [
            self.coordinator_timer(),
            self.join_timer(),
            self.heartbeat_timer(),
            self.session_timer(),
            self.poll_timer(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The membership phase.
    pub fn state(&self) -> GroupState {
        self.state
    }

    /// What is known of the coordinator.
    pub fn coordinator(&self) -> CoordinatorState {
        self.coordinator
    }

    /// The generation and member id as currently known (possibly reset).
    pub fn generation(&self) -> &Generation {
        &self.generation
    }

    /// The generation to put in an OffsetCommit, when committing is
    /// possible: the member holds a valid generation and no rebalance is in
    /// flight (Java's `generationIfStable`). Still available while the revoke
    /// callback before a rejoin or a close runs, so that it can commit.
    pub fn commit_generation(&self) -> Option<&Generation> {
        let committable = matches!(
            self.state,
            GroupState::Stable | GroupState::Revoking | GroupState::Unjoined | GroupState::Leaving
        );
        (committable && self.generation.is_valid()).then_some(&self.generation)
    }

    /// Whether this member leads the current generation.
    pub fn is_leader(&self) -> bool {
        self.leader
    }

    /// The partitions this member owns.
    pub fn owned_partitions(&self) -> &BTreeSet<TopicPartition> {
        &self.owned
    }

    /// The subscribed topics.
    #[cfg(test)]
    pub fn subscription(&self) -> &BTreeSet<Arc<str>> {
        &self.topics
    }

    /// The configuration.
    pub fn config(&self) -> &GroupConfig {
        &self.config
    }

    /// Moves the machine forward after an event: fires due timers, hands
    /// out the next callback, sends what the state calls for.
    fn drive(&mut self, now: Instant, out: &mut Vec<Action>) {
        if matches!(self.state, GroupState::Closed) {
            return;
        }
        self.check_session_and_poll(now, out);
        // A few rounds at most: each round either changes state or stops.
        for _ in 0..8 {
            self.callbacks.emit_next(&mut self.owned, out);
            let before = self.state;
            match self.state {
                // Nothing happens in Failed until Close moves to Leaving.
                GroupState::Failed => {}
                GroupState::Leaving => self.drive_leaving(out),
                GroupState::Stable if self.rejoin_reason.is_some() && self.callbacks.idle() => {
                    self.state = GroupState::Unjoined;
                }
                GroupState::Revoking if self.callbacks.idle() => {
                    self.state = GroupState::Unjoined;
                }
                GroupState::Unjoined => self.drive_unjoined(now, out),
                _ => {}
            }
            if self.state == before {
                break;
            }
        }
        // A phase may have queued a callback without changing state.
        self.callbacks.emit_next(&mut self.owned, out);
        if self.state.needs_coordinator()
            && self.coordinator == CoordinatorState::Unknown
            && self.coordinator_retry_at.is_none_or(|at| now >= at)
        {
            self.coordinator = CoordinatorState::Finding;
            self.coordinator_retry_at = None;
            out.push(Action::FindCoordinator);
        }
        self.maybe_heartbeat(now, out);
    }

    fn on_subscribe(&mut self, topics: Vec<Arc<str>>) {
        if matches!(self.state, GroupState::Leaving) {
            return;
        }
        let topics: BTreeSet<Arc<str>> = topics.into_iter().collect();
        let changed = topics != self.topics;
        self.topics = topics;
        if self.state == GroupState::Idle {
            self.state = GroupState::Unjoined;
            self.request_rejoin("subscribed");
        } else if changed {
            self.request_rejoin("subscription changed");
        }
    }

    fn on_metadata_changed(&mut self) {
        // Only the leader compares metadata with what it assigned (Java's
        // assignment snapshot); followers learn from the next rebalance.
        if self.leader && self.generation.is_valid() {
            self.request_rejoin("metadata of subscribed topics changed");
        }
    }

    fn on_callback_done(&mut self, kind: CallbackKind) {
        // A `*Done` that does not match the callback running is ignored:
        // the driver's bookkeeping went wrong, not the group's.
        self.callbacks.done(kind, &mut self.owned);
    }

    fn on_commit_failed(
        &mut self,
        now: Instant,
        error: ErrorCode,
        generation_id: i32,
        out: &mut Vec<Action>,
    ) {
        match error {
            ErrorCode::REBALANCE_IN_PROGRESS => {
                // The commit raced a rebalance: rejoin, keep the generation.
                if matches!(self.state, GroupState::Stable) {
                    self.request_rejoin("offset commit failed since group is rebalancing");
                }
            }
            // Errors about an older generation say nothing about ours.
            ErrorCode::UNKNOWN_MEMBER_ID | ErrorCode::ILLEGAL_GENERATION
                if generation_id == self.generation.generation_id && self.generation.is_valid() =>
            {
                let reset_member = error == ErrorCode::UNKNOWN_MEMBER_ID;
                self.reset_generation(reset_member, "offset commit failed", error);
            }
            ErrorCode::FENCED_INSTANCE_ID if generation_id == self.generation.generation_id => {
                self.fail(broker_error(error, "OffsetCommit"), out);
            }
            ErrorCode::NOT_COORDINATOR
            | ErrorCode::COORDINATOR_NOT_AVAILABLE
            | ErrorCode::REQUEST_TIMED_OUT => self.mark_coordinator_unknown(now, out),
            // Everything else concerns the commit alone; the driver reports it.
            _ => {}
        }
    }

    fn on_coordinator_found(&mut self, now: Instant, node_id: i32) {
        if self.coordinator != CoordinatorState::Finding {
            return;
        }
        self.coordinator = CoordinatorState::Known(node_id);
        // As Java: a new coordinator gets a full session before the member
        // doubts it again.
        self.session_deadline = Some(now + self.config.session_timeout);
    }

    fn on_find_coordinator_failed(&mut self, now: Instant, error: Error, out: &mut Vec<Action>) {
        if self.coordinator != CoordinatorState::Finding {
            return;
        }
        self.coordinator = CoordinatorState::Unknown;
        self.coordinator_retry_at = Some(now + self.config.retry_backoff);
        if error.is_fatal() || error.code() == Some(ErrorCode::GROUP_AUTHORIZATION_FAILED) {
            self.fail(error, out);
        } else if !error.is_retriable() {
            out.push(Action::Raise(error));
        }
    }

    fn on_request_failed(
        &mut self,
        now: Instant,
        request: RequestKind,
        error: Error,
        out: &mut Vec<Action>,
    ) {
        let ours = match request {
            RequestKind::JoinGroup | RequestKind::SyncGroup => {
                let ours = self.join_in_flight == Some(request);
                if ours {
                    self.join_in_flight = None;
                    let expected = match request {
                        RequestKind::JoinGroup => GroupState::Joining,
                        _ => GroupState::AwaitingSync,
                    };
                    if self.state == expected {
                        self.join_failed(now, Retry::Backoff, "coordinator request failed");
                    }
                }
                ours
            }
            RequestKind::Heartbeat => {
                let ours = self.heartbeat_in_flight.take().is_some();
                if ours {
                    self.next_heartbeat_at = Some(now + self.config.retry_backoff);
                }
                ours
            }
            RequestKind::LeaveGroup => {
                // Best effort, as Java: a failed leave is not retried.
                std::mem::take(&mut self.leave_in_flight)
            }
        };
        if !ours {
            return;
        }
        if error.is_fatal() {
            self.fail(error, out);
        } else if request != RequestKind::LeaveGroup {
            // No answer from the coordinator: find it again (Java marks it
            // unknown on every disconnect).
            self.mark_coordinator_unknown(now, out);
        }
    }

    /// Asks for a rebalance; the first reason given is kept.
    fn request_rejoin(&mut self, reason: &str) {
        if self.rejoin_reason.is_none() {
            self.rejoin_reason = Some(reason.to_owned());
        }
    }

    /// The coordinator rejected the generation (or the member): forget it,
    /// so that the partitions held are lost (not revoked) before rejoining.
    /// `ILLEGAL_GENERATION` keeps the member id, which is still valid, so
    /// the rejoin does not wait for the old member to time out (KAFKA-13419).
    fn reset_generation(&mut self, reset_member_id: bool, api: &str, error: ErrorCode) {
        self.generation.generation_id = super::state::NO_GENERATION_ID;
        self.generation.protocol_name = None;
        if reset_member_id {
            self.generation.member_id.clear();
        }
        self.leader = false;
        self.needs_join_prepare = true;
        self.request_rejoin(&format!("{api}: {}", error.name()));
    }

    fn mark_coordinator_unknown(&mut self, now: Instant, out: &mut Vec<Action>) {
        if let CoordinatorState::Known(_) = self.coordinator {
            self.coordinator = CoordinatorState::Unknown;
            self.coordinator_retry_at = Some(now + self.config.retry_backoff);
            out.push(Action::CoordinatorUnknown);
        }
    }

    fn fail(&mut self, error: Error, out: &mut Vec<Action>) {
        // While closing, an error changes nothing: the close goes on.
        if matches!(
            self.state,
            GroupState::Failed | GroupState::Leaving | GroupState::Closed
        ) {
            return;
        }
        self.state = GroupState::Failed;
        self.rejoin_reason = None;
        // Membership is over: what is still owned will be lost on close.
        self.callbacks.drop_queued();
        self.generation = Generation::none();
        self.leader = false;
        out.push(Action::Fatal(error));
    }

    fn send(&self, request: Request, out: &mut Vec<Action>) -> bool {
        match self.coordinator {
            CoordinatorState::Known(coordinator) => {
                out.push(Action::Send {
                    coordinator,
                    request,
                });
                true
            }
            _ => false,
        }
    }

    fn coordinator_timer(&self) -> Option<Instant> {
        if self.state.needs_coordinator() && self.coordinator == CoordinatorState::Unknown {
            self.coordinator_retry_at
        } else {
            None
        }
    }
}

/// When a failed join is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// At once (the error itself says how to rejoin).
    Now,
    /// After `retry.backoff.ms`.
    Backoff,
}

/// A broker error for a coordinator API, as the machine reports it.
fn broker_error(code: ErrorCode, api: &'static str) -> Error {
    Error::Broker {
        code,
        message: None,
        context: Context::api(api),
    }
}

/// Group errors after which the member cannot go on (Java throws them from
/// poll as fatal): another instance took our `group.instance.id`, we may
/// not join, or our configuration does not fit the group or broker.
fn is_fatal_group_error(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::FENCED_INSTANCE_ID
            | ErrorCode::GROUP_AUTHORIZATION_FAILED
            | ErrorCode::INCONSISTENT_GROUP_PROTOCOL
            | ErrorCode::INVALID_SESSION_TIMEOUT
            | ErrorCode::GROUP_MAX_SIZE_REACHED
            | ErrorCode::UNSUPPORTED_VERSION
            | ErrorCode::INVALID_GROUP_ID
    )
}
