//! Joining: the callback before the join, JoinGroup, the leader's
//! assignment, SyncGroup, and taking up the new assignment.

use std::collections::BTreeSet;
use std::time::Instant;

use super::callbacks::CallbackKind;
use super::{GroupMachine, Retry, broker_error, is_fatal_group_error};
use crate::consumer::group::machine::action::{Action, JoinGroup, Request, RequestKind, SyncGroup};
use crate::consumer::group::machine::config::RebalanceProtocol;
use crate::consumer::group::machine::event::{
    JoinGroupResponse, MemberAssignment, SyncGroupResponse,
};
use crate::consumer::group::machine::state::{CoordinatorState, Generation, GroupState};
use crate::{Error, ErrorCode, TopicPartition};

impl GroupMachine {
    /// Unjoined: run the callback the join needs, then send JoinGroup once
    /// the coordinator is known and any back-off is over.
    pub(super) fn drive_unjoined(&mut self, now: Instant, out: &mut Vec<Action>) {
        if !self.callbacks.idle() || self.join_in_flight.is_some() {
            return;
        }
        if self.needs_join_prepare {
            self.needs_join_prepare = false;
            if let Some((kind, partitions)) = self.join_prepare_callback() {
                self.callbacks.push(kind, partitions);
                self.state = GroupState::Revoking;
                return;
            }
        }
        if self.join_retry_at.is_some_and(|at| now < at) {
            return;
        }
        let reason = self
            .rejoin_reason
            .clone()
            .unwrap_or_else(|| "joining".to_owned());
        self.send_join(reason, out);
    }

    /// What the user must be told before the member (re)joins (Java's
    /// `onJoinPrepare`): with no valid generation, everything owned is lost;
    /// eager members revoke everything (the callback runs even with nothing
    /// owned, as Java's does); cooperative members revoke only partitions
    /// of topics no longer subscribed.
    fn join_prepare_callback(&self) -> Option<(CallbackKind, Vec<TopicPartition>)> {
        let owned: Vec<TopicPartition> = self.owned.iter().cloned().collect();
        if !self.generation.is_valid() {
            return (!owned.is_empty()).then_some((CallbackKind::Lose, owned));
        }
        match self.config.protocol {
            RebalanceProtocol::Eager => Some((CallbackKind::Revoke, owned)),
            RebalanceProtocol::Cooperative => {
                let gone: Vec<TopicPartition> = owned
                    .into_iter()
                    .filter(|tp| !self.topics.contains(&tp.topic))
                    .collect();
                (!gone.is_empty()).then_some((CallbackKind::Revoke, gone))
            }
        }
    }

    fn send_join(&mut self, reason: String, out: &mut Vec<Action>) {
        let request = Request::JoinGroup(JoinGroup {
            member_id: self.generation.member_id.clone(),
            group_instance_id: self.config.group_instance_id.clone(),
            topics: self.topics.iter().cloned().collect(),
            owned_partitions: self.owned.iter().cloned().collect(),
            generation_id: self.generation.generation_id,
            reason,
        });
        if self.send(request, out) {
            self.rejoin_reason = None;
            self.join_retry_at = None;
            self.join_in_flight = Some(RequestKind::JoinGroup);
            self.state = GroupState::Joining;
        }
    }

    pub(super) fn on_join_response(
        &mut self,
        now: Instant,
        response: JoinGroupResponse,
        out: &mut Vec<Action>,
    ) {
        if self.join_in_flight != Some(RequestKind::JoinGroup) {
            return;
        }
        self.join_in_flight = None;
        if self.state != GroupState::Joining {
            // Closed, left or expired while the join was in flight.
            return;
        }
        match response.error {
            ErrorCode::NONE => self.joined(now, response, out),
            ErrorCode::MEMBER_ID_REQUIRED => {
                // KIP-394: the coordinator hands out the member id first;
                // join again with it at once.
                self.generation.member_id = response.member_id;
                self.join_failed(now, Retry::Now, "need to re-join with the given member id");
            }
            error => self.join_error(now, error, "JoinGroup", out),
        }
    }

    fn joined(&mut self, now: Instant, response: JoinGroupResponse, out: &mut Vec<Action>) {
        self.generation = Generation {
            generation_id: response.generation_id,
            member_id: response.member_id,
            protocol_name: Some(response.protocol_name.clone()),
        };
        self.leader = response.leader == self.generation.member_id;
        // Java resets all membership timers when its heartbeat thread is
        // enabled on a successful join.
        self.next_heartbeat_at = Some(now + self.config.heartbeat_interval);
        self.session_deadline = Some(now + self.config.session_timeout);
        self.poll_deadline = Some(now + self.config.rebalance_timeout);
        if self.leader {
            self.state = GroupState::Assigning;
            out.push(Action::ComputeAssignment {
                generation_id: response.generation_id,
                protocol_name: response.protocol_name,
                leader_id: self.generation.member_id.clone(),
                members: response.members,
            });
        } else {
            self.state = GroupState::AwaitingSync;
            self.send_sync(now, Vec::new(), out);
        }
    }

    pub(super) fn on_assignment_computed(
        &mut self,
        now: Instant,
        assignments: Vec<MemberAssignment>,
        out: &mut Vec<Action>,
    ) {
        if self.state != GroupState::Assigning {
            return;
        }
        if !self.generation.is_valid() {
            // A heartbeat reset the generation while the assignor ran.
            return self.join_failed(now, Retry::Now, "generation reset during assignment");
        }
        self.state = GroupState::AwaitingSync;
        self.send_sync(now, assignments, out);
    }

    pub(super) fn on_assignment_failed(
        &mut self,
        now: Instant,
        error: Error,
        out: &mut Vec<Action>,
    ) {
        if self.state != GroupState::Assigning {
            return;
        }
        if error.is_fatal() {
            return self.fail(error, out);
        }
        out.push(Action::Raise(error));
        self.join_failed(now, Retry::Backoff, "assignment failed");
    }

    fn send_sync(
        &mut self,
        now: Instant,
        assignments: Vec<MemberAssignment>,
        out: &mut Vec<Action>,
    ) {
        let request = Request::SyncGroup(SyncGroup {
            generation_id: self.generation.generation_id,
            member_id: self.generation.member_id.clone(),
            group_instance_id: self.config.group_instance_id.clone(),
            protocol_name: self.generation.protocol_name.clone().unwrap_or_default(),
            assignments,
        });
        if self.send(request, out) {
            self.join_in_flight = Some(RequestKind::SyncGroup);
        } else {
            // The coordinator went away during the join: Java fails the
            // rebalance and rejoins once it is found again.
            self.join_failed(now, Retry::Backoff, "coordinator unknown before SyncGroup");
        }
    }

    pub(super) fn on_sync_response(
        &mut self,
        now: Instant,
        response: SyncGroupResponse,
        out: &mut Vec<Action>,
    ) {
        if self.join_in_flight != Some(RequestKind::SyncGroup) {
            return;
        }
        self.join_in_flight = None;
        if self.state != GroupState::AwaitingSync {
            return;
        }
        if response.error != ErrorCode::NONE {
            return self.join_error(now, response.error, "SyncGroup", out);
        }
        if !self.generation.is_valid() {
            // A heartbeat or commit error reset the generation meanwhile:
            // this assignment cannot be trusted (Java checks the same).
            return self.join_failed(now, Retry::Now, "generation reset during SyncGroup");
        }
        if let Some(name) = &response.protocol_name
            && self.generation.protocol_name.as_ref() != Some(name)
        {
            return self.fail(
                broker_error(ErrorCode::INCONSISTENT_GROUP_PROTOCOL, "SyncGroup"),
                out,
            );
        }
        self.synced(response.assignment);
    }

    /// Takes up the assignment (Java's `onJoinComplete`).
    fn synced(&mut self, assignment: Vec<TopicPartition>) {
        self.state = GroupState::Stable;
        self.needs_join_prepare = true;
        let assigned: BTreeSet<TopicPartition> = assignment.into_iter().collect();
        if assigned.iter().any(|tp| !self.topics.contains(&tp.topic)) {
            // The subscription changed during the rebalance (or the leader
            // is behind): rejoin so the assignment catches up.
            self.request_rejoin("assignment does not match subscription");
        }
        let revoked: Vec<TopicPartition> = self.owned.difference(&assigned).cloned().collect();
        let added: Vec<TopicPartition> = assigned.difference(&self.owned).cloned().collect();
        if !revoked.is_empty() {
            self.callbacks.push(CallbackKind::Revoke, revoked);
            if self.config.protocol == RebalanceProtocol::Cooperative {
                // KIP-429: the partitions given up can be assigned to their
                // new owner only in a second rebalance.
                self.request_rejoin("need to revoke partitions and re-join");
            }
        }
        self.callbacks.push(CallbackKind::Assign, added);
    }

    /// A JoinGroup or SyncGroup error, handled as Java's
    /// `joinGroupIfNeeded` does.
    fn join_error(
        &mut self,
        now: Instant,
        error: ErrorCode,
        api: &'static str,
        out: &mut Vec<Action>,
    ) {
        match error {
            ErrorCode::UNKNOWN_MEMBER_ID => {
                self.reset_generation(true, api, error);
                self.join_failed(now, Retry::Now, api);
            }
            ErrorCode::ILLEGAL_GENERATION => {
                self.reset_generation(false, api, error);
                self.join_failed(now, Retry::Now, api);
            }
            ErrorCode::REBALANCE_IN_PROGRESS => {
                self.join_failed(now, Retry::Now, "group began another rebalance");
            }
            ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE => {
                self.mark_coordinator_unknown(now, out);
                self.join_failed(now, Retry::Backoff, "coordinator moved");
            }
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS => {
                self.join_failed(now, Retry::Backoff, "coordinator loading");
            }
            code if is_fatal_group_error(code) => self.fail(broker_error(code, api), out),
            code => {
                if !code.is_retriable() {
                    // Java throws it from poll; the next poll joins again.
                    out.push(Action::Raise(broker_error(code, api)));
                }
                self.join_failed(now, Retry::Backoff, code.name());
            }
        }
    }

    /// The rebalance attempt failed: back to Unjoined to join again.
    pub(super) fn join_failed(&mut self, now: Instant, retry: Retry, reason: &str) {
        self.state = GroupState::Unjoined;
        self.leader = false;
        self.join_retry_at = match retry {
            Retry::Now => None,
            Retry::Backoff => Some(now + self.config.retry_backoff),
        };
        self.request_rejoin(reason);
    }

    pub(super) fn join_timer(&self) -> Option<Instant> {
        let waiting_only_for_time = self.state == GroupState::Unjoined
            && self.callbacks.idle()
            && !self.needs_join_prepare
            && self.join_in_flight.is_none()
            && matches!(self.coordinator, CoordinatorState::Known(_));
        if waiting_only_for_time {
            self.join_retry_at
        } else {
            None
        }
    }
}
