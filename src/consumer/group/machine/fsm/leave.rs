//! Leaving the group: on close, and when the user stops polling.

use super::GroupMachine;
use super::callbacks::CallbackKind;
use crate::consumer::group::machine::action::{Action, LeaveGroup, Request};
use crate::consumer::group::machine::state::{CoordinatorState, Generation, GroupState};

impl GroupMachine {
    /// `max.poll.interval.ms` passed without a poll (KIP-62). A dynamic
    /// member sends LeaveGroup so the group rebalances at once; a static
    /// member sends nothing (KIP-345: only the session timeout removes it)
    /// but, as Java, forgets its generation and member id all the same.
    /// Either way the partitions held are lost and the member rejoins at
    /// the next poll.
    pub(super) fn poll_expired(&mut self, out: &mut Vec<Action>) {
        self.send_leave("consumer poll timeout has expired", out);
        self.generation = Generation::none();
        self.leader = false;
        self.needs_join_prepare = true;
        self.rejoin_reason = None;
        self.state = GroupState::PollExpired;
    }

    pub(super) fn on_close(&mut self) {
        match self.state {
            GroupState::Leaving | GroupState::Closed => {}
            GroupState::Failed => {
                // A fatal error ended membership (and reset the generation):
                // no LeaveGroup, and what is owned once the running callback
                // returns is lost.
                self.close_prepared = false;
                self.leave_on_close = false;
                self.state = GroupState::Leaving;
            }
            previous => {
                // Java's onLeavePrepare decides revoke or lost once the
                // callbacks already queued have run; remember whether a
                // rebalance was under way, which makes them lost.
                let rebalancing = matches!(
                    previous,
                    GroupState::Joining | GroupState::Assigning | GroupState::AwaitingSync
                );
                if rebalancing {
                    self.generation.generation_id = super::super::state::NO_GENERATION_ID;
                }
                self.close_prepared = false;
                self.leave_on_close =
                    !matches!(previous, GroupState::Idle | GroupState::PollExpired);
                self.rejoin_reason = None;
                self.state = GroupState::Leaving;
            }
        }
    }

    /// Closing: drain the callbacks, run the last one, send LeaveGroup if
    /// due, and finish when it has been answered.
    pub(super) fn drive_leaving(&mut self, out: &mut Vec<Action>) {
        if !self.callbacks.idle() {
            return;
        }
        if !self.close_prepared {
            self.close_prepared = true;
            let owned: Vec<_> = self.owned.iter().cloned().collect();
            if !owned.is_empty() {
                let kind = if self.generation.is_valid() {
                    CallbackKind::Revoke
                } else {
                    CallbackKind::Lose
                };
                self.callbacks.push(kind, owned);
                return;
            }
        }
        if std::mem::take(&mut self.leave_on_close) {
            self.send_leave("the consumer is being closed", out);
            self.generation = Generation::none();
        }
        if !self.leave_in_flight {
            self.state = GroupState::Closed;
            out.push(Action::Closed);
        }
    }

    /// Sends LeaveGroup if this is a dynamic member the coordinator knows
    /// (Java's `maybeLeaveGroup`: a best-effort, unretried request).
    fn send_leave(&mut self, reason: &str, out: &mut Vec<Action>) {
        let may_leave = !self.config.is_static()
            && !self.generation.member_id.is_empty()
            && matches!(self.coordinator, CoordinatorState::Known(_));
        if !may_leave {
            return;
        }
        let request = Request::LeaveGroup(LeaveGroup {
            member_id: self.generation.member_id.clone(),
            reason: reason.to_owned(),
        });
        if self.send(request, out) {
            self.leave_in_flight = true;
        }
    }
}
