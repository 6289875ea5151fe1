//! JoinGroup, SyncGroup, Heartbeat and LeaveGroup, and the deadlines that
//! drive rebalances (join completion, session expiry).

use bytes::Bytes;
use kafka_protocol::error::ResponseError as E;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use tokio::sync::oneshot;
use tokio::time::{Instant, sleep_until};

use super::state::{Action, Event, GroupState, transition};
use super::sync::{answer_joins, current_join, new_generation, remove_member, supports};
use super::{Caller, Group, GroupCoordinator, JoinResult, Member, new_member_id};

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn join_error(code: i16, member_id: &str) -> JoinResult {
    JoinResult {
        error: code,
        generation: -1,
        member_id: member_id.to_string(),
        ..JoinResult::default()
    }
}

fn join_response(r: JoinResult, version: i16) -> JoinGroupResponse {
    let mut resp = JoinGroupResponse::default()
        .with_error_code(r.error)
        .with_generation_id(r.generation)
        .with_leader(s(&r.leader))
        .with_member_id(s(&r.member_id));
    // Before v7 the protocol name is not nullable: "" when none.
    resp.protocol_name = Some(s(r.protocol_name.as_deref().unwrap_or("")));
    if version >= 7 {
        resp.protocol_type = r.protocol_type.map(|t| s(&t));
        resp.protocol_name = r.protocol_name.map(|n| s(&n));
    }
    if version >= 9 {
        resp.skip_assignment = r.skip_assignment;
    }
    resp.members = r
        .members
        .into_iter()
        .map(|(id, instance, metadata)| {
            let mut m = JoinGroupResponseMember::default()
                .with_member_id(s(&id))
                .with_metadata(metadata);
            if version >= 5 {
                m.group_instance_id = instance.map(|i| s(&i));
            }
            m
        })
        .collect();
    resp
}

impl GroupCoordinator {
    /// Runs the state machine for `event` and carries out its actions.
    pub(super) fn apply_event(&self, gid: &str, g: &mut Group, event: Event) {
        let (next, actions) = match transition(g.state, event) {
            Ok(t) => t,
            Err(invalid) => {
                tracing::warn!(group = gid, ?invalid, "mock: invalid group transition");
                return;
            }
        };
        g.state = next;
        for action in actions {
            match action {
                Action::ScheduleJoin { initial_delay } => {
                    g.round += 1;
                    let now = Instant::now();
                    g.join_not_before = if initial_delay {
                        now + self.config.initial_rebalance_delay
                    } else {
                        now
                    };
                    let timeout = g
                        .members
                        .values()
                        .map(|m| m.rebalance_timeout)
                        .max()
                        .unwrap_or_default();
                    let deadline = g.join_not_before.max(now + timeout);
                    let first = g.join_not_before.min(deadline);
                    self.spawn_join_deadline(gid.to_string(), g.round, first, deadline);
                    self.try_complete_join(gid, g, false);
                }
                Action::TryCompleteJoin => self.try_complete_join(gid, g, false),
                Action::FailPendingSyncs => {
                    for m in g.members.values_mut() {
                        if let Some(tx) = m.awaiting_sync.take() {
                            let _ = tx.send((E::RebalanceInProgress.code(), Bytes::new()));
                        }
                    }
                }
                Action::NewGeneration => new_generation(g),
                Action::AnswerJoins => answer_joins(g),
                Action::DeliverAssignments => {
                    for m in g.members.values_mut() {
                        if let Some(tx) = m.awaiting_sync.take() {
                            let _ = tx.send((0, m.assignment.clone()));
                        }
                    }
                }
                // The join handler answers the replacing member itself.
                Action::ReturnCurrentAssignment => {}
            }
        }
    }

    /// Completes the join when every known member has rejoined (and the
    /// initial delay passed), or unconditionally at the deadline, removing
    /// members that did not rejoin.
    pub(super) fn try_complete_join(&self, gid: &str, g: &mut Group, deadline_passed: bool) {
        if g.state != GroupState::PreparingRebalance {
            return;
        }
        // As Kafka: members still in the KIP-394 handshake are waited for
        // too (until they expire or the deadline passes).
        let all_joined =
            g.pending_members.is_empty() && g.members.values().all(|m| m.awaiting_join.is_some());
        let ready = all_joined && Instant::now() >= g.join_not_before;
        if !(deadline_passed || ready) {
            return;
        }
        let absent: Vec<String> = g
            .members
            .iter()
            .filter(|(_, m)| m.awaiting_join.is_none())
            .map(|(id, _)| id.clone())
            .collect();
        for id in absent {
            remove_member(g, &id);
        }
        let members = g.members.len();
        self.apply_event(gid, g, Event::JoinCompleted { members });
    }

    fn spawn_join_deadline(&self, gid: String, round: u64, first: Instant, deadline: Instant) {
        let this = self.clone();
        tokio::spawn(async move {
            let mut at = first;
            loop {
                sleep_until(at).await;
                let mut inner = this.lock();
                let Some(g) = inner.groups.get_mut(&gid) else {
                    return;
                };
                if g.round != round || g.state != GroupState::PreparingRebalance {
                    return;
                }
                // The initial delay ends before the deadline: complete if
                // everyone is in, else wait for the deadline.
                if Instant::now() < deadline {
                    this.try_complete_join(&gid, g, false);
                    at = deadline;
                    continue;
                }
                this.try_complete_join(&gid, g, true);
                return;
            }
        });
    }

    fn spawn_session_timer(&self, gid: String, member_id: String, at: Instant) {
        let this = self.clone();
        tokio::spawn(async move {
            let mut at = at;
            loop {
                sleep_until(at).await;
                let mut inner = this.lock();
                let Some(g) = inner.groups.get_mut(&gid) else {
                    return;
                };
                let Some(m) = g.members.get_mut(&member_id) else {
                    return;
                };
                // A member parked in JoinGroup/SyncGroup is alive (Kafka
                // completes its heartbeat while it waits).
                if m.awaiting_join.is_some() || m.awaiting_sync.is_some() {
                    m.session_deadline = Instant::now() + m.session_timeout;
                }
                if Instant::now() < m.session_deadline {
                    at = m.session_deadline;
                    continue;
                }
                tracing::debug!(group = %gid, member = %member_id, "mock: session expired");
                remove_member(g, &member_id);
                let remaining = g.members.len();
                this.apply_event(&gid, g, Event::MemberRemoved { remaining });
                return;
            }
        });
    }

    /// A KIP-394 pending member that does not join within its session
    /// timeout is forgotten (and no longer holds up a rebalance).
    fn spawn_pending_expiry(&self, gid: String, member_id: String, at: Instant) {
        let this = self.clone();
        tokio::spawn(async move {
            sleep_until(at).await;
            let mut inner = this.lock();
            if let Some(g) = inner.groups.get_mut(&gid) {
                if g.pending_members.remove(&member_id) {
                    this.try_complete_join(&gid, g, false);
                }
            }
        });
    }

    /// JoinGroup (v0–v9). Held until the rebalance completes.
    pub async fn join_group(
        &self,
        req: JoinGroupRequest,
        version: i16,
        caller: Caller,
    ) -> JoinGroupResponse {
        let rx = match self.join_locked(req, version, caller) {
            Ok(result) => return join_response(result, version),
            Err(rx) => rx,
        };
        let result = rx
            .await
            .unwrap_or_else(|_| join_error(E::UnknownMemberId.code(), ""));
        join_response(result, version)
    }

    /// The join under the lock: `Ok` answers now, `Err` waits.
    fn join_locked(
        &self,
        req: JoinGroupRequest,
        version: i16,
        caller: Caller,
    ) -> Result<JoinResult, oneshot::Receiver<JoinResult>> {
        let gid = req.group_id.to_string();
        let member_id = req.member_id.to_string();
        let instance = req.group_instance_id.as_ref().map(|i| i.to_string());
        let session = std::time::Duration::from_millis(req.session_timeout_ms.max(0) as u64);
        if gid.is_empty() {
            return Ok(join_error(E::InvalidGroupId.code(), &member_id));
        }
        if session < self.config.min_session_timeout || session > self.config.max_session_timeout {
            return Ok(join_error(E::InvalidSessionTimeout.code(), &member_id));
        }
        // v0 has no rebalance timeout: it is the session timeout.
        let rebalance = if version >= 1 {
            std::time::Duration::from_millis(req.rebalance_timeout_ms.max(0) as u64)
        } else {
            session
        };
        let protocols: Vec<(String, Bytes)> = req
            .protocols
            .iter()
            .map(|p| (p.name.to_string(), p.metadata.clone()))
            .collect();
        let ptype = req.protocol_type.to_string();
        if ptype.is_empty() || protocols.is_empty() {
            return Ok(join_error(E::InconsistentGroupProtocol.code(), &member_id));
        }
        let mut inner = self.lock();
        if !member_id.is_empty() && !inner.groups.contains_key(&gid) {
            return Ok(join_error(E::UnknownMemberId.code(), &member_id));
        }
        let g = inner.groups.entry(gid.clone()).or_insert_with(Group::new);
        if g.state == GroupState::Dead {
            return Ok(join_error(E::CoordinatorNotAvailable.code(), &member_id));
        }
        if !g.members.is_empty() && !supports(g, &ptype, &protocols) {
            return Ok(join_error(E::InconsistentGroupProtocol.code(), &member_id));
        }
        let member = || Member {
            instance_id: instance.clone(),
            client: caller.clone(),
            session_timeout: session,
            rebalance_timeout: rebalance,
            protocol_type: ptype.clone(),
            protocols: protocols.clone(),
            assignment: Bytes::new(),
            session_deadline: Instant::now() + session,
            awaiting_join: None,
            awaiting_sync: None,
        };
        let (tx, rx) = oneshot::channel();
        if member_id.is_empty() {
            let prefix = instance.as_deref().unwrap_or(&caller.client_id);
            let new_id = new_member_id(prefix);
            if let Some(inst) = &instance {
                if let Some(old_id) = g.static_members.get(inst).cloned() {
                    return match self.replace_static(&gid, g, &old_id, &new_id, member(), tx) {
                        Some(answer) => Ok(answer),
                        None => Err(rx),
                    };
                }
                g.static_members.insert(inst.clone(), new_id.clone());
            } else if version >= 4 {
                // KIP-394: hand out an id; the member joins again with it.
                g.pending_members.insert(new_id.clone());
                self.spawn_pending_expiry(gid, new_id.clone(), Instant::now() + session);
                return Ok(join_error(E::MemberIdRequired.code(), &new_id));
            }
            self.add_and_join(&gid, g, &new_id, member(), tx);
            return Err(rx);
        }
        if let Some(inst) = &instance {
            if g.static_members
                .get(inst)
                .is_some_and(|id| id != &member_id)
            {
                return Ok(join_error(E::FencedInstanceId.code(), &member_id));
            }
        }
        if g.pending_members.remove(&member_id) {
            self.add_and_join(&gid, g, &member_id, member(), tx);
            return Err(rx);
        }
        let Some(m) = g.members.get_mut(&member_id) else {
            return Ok(join_error(E::UnknownMemberId.code(), &member_id));
        };
        if let Some(inst) = &instance {
            if g.static_members.get(inst) != Some(&member_id) {
                return Ok(join_error(E::FencedInstanceId.code(), &member_id));
            }
        }
        let changed = m.protocols != protocols;
        m.protocols = protocols;
        m.session_timeout = session;
        m.rebalance_timeout = rebalance;
        m.session_deadline = Instant::now() + session;
        let is_leader = g.leader.as_deref() == Some(member_id.as_str());
        match g.state {
            GroupState::PreparingRebalance => {
                m.awaiting_join = Some(tx);
                self.apply_event(&gid, g, Event::MemberJoined);
                Err(rx)
            }
            // Same metadata: the member missed the join response; answer
            // with the current generation (Kafka does the same). In a
            // stable group the leader's rejoin asks for a new assignment.
            GroupState::CompletingRebalance if !changed => {
                let mut answer = current_join(g, &member_id, is_leader);
                answer.skip_assignment = false;
                Ok(answer)
            }
            GroupState::Stable if !changed && !is_leader => Ok(current_join(g, &member_id, false)),
            GroupState::CompletingRebalance | GroupState::Stable => {
                m.awaiting_join = Some(tx);
                self.apply_event(&gid, g, Event::MemberJoined);
                Err(rx)
            }
            GroupState::Empty | GroupState::Dead => {
                Ok(join_error(E::UnknownMemberId.code(), &member_id))
            }
        }
    }

    fn add_and_join(
        &self,
        gid: &str,
        g: &mut Group,
        id: &str,
        mut m: Member,
        tx: oneshot::Sender<JoinResult>,
    ) {
        if g.members.is_empty() {
            g.protocol_type = Some(m.protocol_type.clone());
        }
        m.awaiting_join = Some(tx);
        let at = m.session_deadline;
        g.members.insert(id.to_string(), m);
        self.spawn_session_timer(gid.to_string(), id.to_string(), at);
        self.apply_event(gid, g, Event::MemberJoined);
    }

    /// KIP-345: a static member rejoined with a new member id. `Some`
    /// answers at once (stable group), `None` waits for the rebalance.
    fn replace_static(
        &self,
        gid: &str,
        g: &mut Group,
        old_id: &str,
        new_id: &str,
        mut m: Member,
        tx: oneshot::Sender<JoinResult>,
    ) -> Option<JoinResult> {
        // The instance map and the members agree (remove_member keeps
        // them so); were they not, the dropped sender answers the waiting
        // join with UNKNOWN_MEMBER_ID.
        let mut old = g.members.remove(old_id)?;
        if let Some(t) = old.awaiting_join.take() {
            let _ = t.send(join_error(E::FencedInstanceId.code(), old_id));
        }
        if let Some(t) = old.awaiting_sync.take() {
            let _ = t.send((E::FencedInstanceId.code(), Bytes::new()));
        }
        m.assignment = old.assignment;
        if let Some(inst) = &m.instance_id {
            g.static_members.insert(inst.clone(), new_id.to_string());
        }
        if g.leader.as_deref() == Some(old_id) {
            g.leader = Some(new_id.to_string());
        }
        let at = m.session_deadline;
        let stable = g.state == GroupState::Stable;
        if !stable {
            m.awaiting_join = Some(tx);
        }
        g.members.insert(new_id.to_string(), m);
        self.spawn_session_timer(gid.to_string(), new_id.to_string(), at);
        self.apply_event(gid, g, Event::StaticMemberReplaced);
        if stable {
            let leader = g.leader.as_deref() == Some(new_id);
            return Some(current_join(g, new_id, leader));
        }
        None
    }
}
