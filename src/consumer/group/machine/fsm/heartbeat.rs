//! Liveness: heartbeats, the session timeout and the poll interval
//! (KIP-62).

use std::time::Instant;

use super::{GroupMachine, broker_error};
use crate::ErrorCode;
use crate::consumer::group::machine::action::{Action, Heartbeat, Request};
use crate::consumer::group::machine::state::{CoordinatorState, GroupState};

impl GroupMachine {
    /// Whether the member is a member right now: it holds a generation
    /// and is in a phase where Java's heartbeat thread runs.
    fn membership_live(&self) -> bool {
        self.state.heartbeats() && self.generation.is_valid()
    }

    fn heartbeat_due_possible(&self) -> bool {
        self.membership_live()
            && self.heartbeat_in_flight.is_none()
            && matches!(self.coordinator, CoordinatorState::Known(_))
    }

    /// Sends a heartbeat if one is due and none is in flight.
    pub(super) fn maybe_heartbeat(&mut self, now: Instant, out: &mut Vec<Action>) {
        if !self.heartbeat_due_possible() || self.next_heartbeat_at.is_some_and(|at| now < at) {
            return;
        }
        let request = Request::Heartbeat(Heartbeat {
            generation_id: self.generation.generation_id,
            member_id: self.generation.member_id.clone(),
            group_instance_id: self.config.group_instance_id.clone(),
        });
        if self.send(request, out) {
            self.heartbeat_in_flight = Some((
                self.generation.generation_id,
                self.generation.member_id.clone(),
            ));
            // The next one is due an interval after this one was sent.
            self.next_heartbeat_at = Some(now + self.config.heartbeat_interval);
        }
    }

    /// Session expiry: no successful heartbeat within `session.timeout.ms`
    /// makes the coordinator suspect (Java marks it unknown and finds it
    /// again). Poll expiry: the user did not poll within
    /// `max.poll.interval.ms`, so the member leaves.
    pub(super) fn check_session_and_poll(&mut self, now: Instant, out: &mut Vec<Action>) {
        if !self.membership_live() {
            return;
        }
        if matches!(self.coordinator, CoordinatorState::Known(_))
            && self.session_deadline.is_some_and(|at| now >= at)
        {
            self.mark_coordinator_unknown(now, out);
        }
        if self.poll_deadline.is_some_and(|at| now >= at) {
            self.poll_expired(out);
        }
    }

    pub(super) fn on_heartbeat_response(
        &mut self,
        now: Instant,
        error: ErrorCode,
        out: &mut Vec<Action>,
    ) {
        let Some((generation_id, member_id)) = self.heartbeat_in_flight.take() else {
            return;
        };
        // KAFKA-9823: errors for a generation we no longer hold are stale.
        let current = generation_id == self.generation.generation_id
            && member_id == self.generation.member_id;
        match error {
            ErrorCode::NONE => {
                self.session_deadline = Some(now + self.config.session_timeout);
            }
            ErrorCode::REBALANCE_IN_PROGRESS => {
                // During a rebalance of our own (awaiting sync, revoking
                // before the join) this is expected and ignored, as Java does.
                if self.state == GroupState::Stable && current {
                    self.request_rejoin("group is already rebalancing");
                }
            }
            ErrorCode::ILLEGAL_GENERATION | ErrorCode::UNKNOWN_MEMBER_ID if current => {
                self.reset_generation(error == ErrorCode::UNKNOWN_MEMBER_ID, "Heartbeat", error);
            }
            ErrorCode::FENCED_INSTANCE_ID if current => {
                self.fail(broker_error(error, "Heartbeat"), out);
            }
            ErrorCode::ILLEGAL_GENERATION
            | ErrorCode::UNKNOWN_MEMBER_ID
            | ErrorCode::FENCED_INSTANCE_ID => {}
            ErrorCode::GROUP_AUTHORIZATION_FAILED => {
                self.fail(broker_error(error, "Heartbeat"), out);
            }
            ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE => {
                self.mark_coordinator_unknown(now, out);
                self.next_heartbeat_at = Some(now + self.config.retry_backoff);
            }
            _ => {
                // COORDINATOR_LOAD_IN_PROGRESS and anything unexpected: try
                // again after the back-off (Java's failHeartbeat).
                self.next_heartbeat_at = Some(now + self.config.retry_backoff);
            }
        }
    }

    pub(super) fn on_polled(&mut self, now: Instant) {
        self.poll_deadline = Some(now + self.config.rebalance_timeout);
        if self.state == GroupState::PollExpired {
            self.state = GroupState::Unjoined;
            self.request_rejoin("consumer polled again after its poll timeout expired");
        }
    }

    pub(super) fn heartbeat_timer(&self) -> Option<Instant> {
        if self.heartbeat_due_possible() {
            self.next_heartbeat_at
        } else {
            None
        }
    }

    pub(super) fn session_timer(&self) -> Option<Instant> {
        if self.membership_live() && matches!(self.coordinator, CoordinatorState::Known(_)) {
            self.session_deadline
        } else {
            None
        }
    }

    pub(super) fn poll_timer(&self) -> Option<Instant> {
        if self.membership_live() {
            self.poll_deadline
        } else {
            None
        }
    }
}
