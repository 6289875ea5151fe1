//! SyncGroup, Heartbeat and LeaveGroup, and the group bookkeeping the
//! join path shares (generation, protocol selection, member removal).

use std::collections::BTreeMap;

use bytes::Bytes;
use kafka_protocol::error::ResponseError as E;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::state::{Event, GroupState};
use super::{Group, GroupCoordinator, JoinResult};

/// Whether a joining member's protocol type and protocols fit the group:
/// same type, and at least one protocol every member supports.
pub(super) fn supports(g: &Group, ptype: &str, protocols: &[(String, Bytes)]) -> bool {
    if g.protocol_type.as_deref().is_some_and(|t| t != ptype) {
        return false;
    }
    protocols.iter().any(|(name, _)| {
        g.members
            .values()
            .all(|m| m.protocols.iter().any(|(n, _)| n == name))
    })
}

/// Kafka's selection: among the protocols every member supports, each
/// member votes for the first of them in its own preference order; the
/// most votes win (ties: the earliest in the leader's... first member's
/// order, deterministic).
fn select_protocol(g: &Group) -> Option<String> {
    let first = g.members.values().next()?;
    let candidates: Vec<&String> = first
        .protocols
        .iter()
        .map(|(n, _)| n)
        .filter(|n| {
            g.members
                .values()
                .all(|m| m.protocols.iter().any(|(p, _)| &p == n))
        })
        .collect();
    let mut votes: BTreeMap<&String, usize> = BTreeMap::new();
    for m in g.members.values() {
        if let Some((n, _)) = m.protocols.iter().find(|(n, _)| candidates.contains(&n)) {
            *votes.entry(n).or_default() += 1;
        }
    }
    let best = votes.values().copied().max()?;
    candidates
        .into_iter()
        .find(|n| votes.get(n) == Some(&best))
        .cloned()
}

pub(super) fn new_generation(g: &mut Group) {
    g.generation += 1;
    if g.members.is_empty() {
        g.protocol = None;
        g.protocol_type = None;
        g.leader = None;
        return;
    }
    g.protocol = select_protocol(g);
    if !g.leader.as_ref().is_some_and(|l| g.members.contains_key(l)) {
        g.leader = g.members.keys().next().cloned();
    }
}

/// The answer for `member_id` with the current generation (no member
/// list unless `leader_view`, then the member list with skip_assignment).
pub(super) fn current_join(g: &Group, member_id: &str, leader_view: bool) -> JoinResult {
    let protocol = g.protocol.clone().unwrap_or_default();
    JoinResult {
        error: 0,
        generation: g.generation,
        protocol_type: g.protocol_type.clone(),
        protocol_name: g.protocol.clone(),
        leader: g.leader.clone().unwrap_or_default(),
        member_id: member_id.to_string(),
        members: if leader_view {
            g.members
                .iter()
                .map(|(id, m)| (id.clone(), m.instance_id.clone(), m.metadata(&protocol)))
                .collect()
        } else {
            Vec::new()
        },
        skip_assignment: leader_view,
    }
}

pub(super) fn answer_joins(g: &mut Group) {
    let leader = g.leader.clone().unwrap_or_default();
    let mut answers = Vec::new();
    let now = Instant::now();
    for (id, m) in g.members.iter_mut() {
        // Kafka restarts every member's session when the join completes.
        m.session_deadline = now + m.session_timeout;
        if let Some(tx) = m.awaiting_join.take() {
            answers.push((id.clone(), tx));
        }
    }
    for (id, tx) in answers {
        let mut r = current_join(g, &id, id == leader);
        r.skip_assignment = false;
        let _ = tx.send(r);
    }
}

/// Removes a member, answering its held requests with UNKNOWN_MEMBER_ID.
pub(super) fn remove_member(g: &mut Group, id: &str) {
    if let Some(mut m) = g.members.remove(id) {
        if let Some(tx) = m.awaiting_join.take() {
            let _ = tx.send(JoinResult {
                error: E::UnknownMemberId.code(),
                generation: -1,
                member_id: id.to_string(),
                ..JoinResult::default()
            });
        }
        if let Some(tx) = m.awaiting_sync.take() {
            let _ = tx.send((E::UnknownMemberId.code(), Bytes::new()));
        }
        if let Some(inst) = m.instance_id {
            if g.static_members.get(&inst).map(String::as_str) == Some(id) {
                g.static_members.remove(&inst);
            }
        }
    }
}

/// The member check Kafka makes for SyncGroup/Heartbeat/OffsetCommit:
/// unknown member, fenced static member, wrong generation.
pub(super) fn check_member(
    g: &Group,
    member_id: &str,
    instance: Option<&str>,
    generation: i32,
) -> Result<(), i16> {
    if let Some(inst) = instance {
        match g.static_members.get(inst) {
            Some(id) if id != member_id => return Err(E::FencedInstanceId.code()),
            None => return Err(E::UnknownMemberId.code()),
            _ => {}
        }
    }
    if !g.members.contains_key(member_id) {
        return Err(E::UnknownMemberId.code());
    }
    if generation != g.generation {
        return Err(E::IllegalGeneration.code());
    }
    Ok(())
}

fn sync_response(
    code: i16,
    assignment: Bytes,
    g: Option<(&Option<String>, &Option<String>)>,
    version: i16,
) -> SyncGroupResponse {
    let mut r = SyncGroupResponse::default()
        .with_error_code(code)
        .with_assignment(assignment);
    if version >= 5 {
        if let Some((ptype, proto)) = g {
            r.protocol_type = ptype.as_ref().map(|t| StrBytes::from_string(t.clone()));
            r.protocol_name = proto.as_ref().map(|t| StrBytes::from_string(t.clone()));
        }
    }
    r
}

impl GroupCoordinator {
    /// SyncGroup (v0–v5). A follower's is held until the leader's arrives.
    pub async fn sync_group(&self, req: SyncGroupRequest, version: i16) -> SyncGroupResponse {
        let gid = req.group_id.to_string();
        let member_id = req.member_id.to_string();
        let (rx, names) = {
            let mut inner = self.lock();
            let Some(g) = inner.groups.get_mut(&gid) else {
                return sync_response(E::UnknownMemberId.code(), Bytes::new(), None, version);
            };
            let names = (g.protocol_type.clone(), g.protocol.clone());
            let fail = |code| sync_response(code, Bytes::new(), None, version);
            if g.state == GroupState::Dead {
                return fail(E::CoordinatorNotAvailable.code());
            }
            let instance = req.group_instance_id.as_ref().map(|i| i.to_string());
            if let Err(code) = check_member(g, &member_id, instance.as_deref(), req.generation_id) {
                return fail(code);
            }
            let mismatch = |asked: &Option<StrBytes>, have: &Option<String>| {
                asked
                    .as_ref()
                    .is_some_and(|a| have.as_deref() != Some(a.as_str()))
            };
            if mismatch(&req.protocol_type, &names.0) || mismatch(&req.protocol_name, &names.1) {
                return fail(E::InconsistentGroupProtocol.code());
            }
            match g.state {
                GroupState::Empty => return fail(E::UnknownMemberId.code()),
                GroupState::PreparingRebalance => return fail(E::RebalanceInProgress.code()),
                GroupState::Stable => {
                    // check_member found the member; no index that could panic.
                    let assignment = g
                        .members
                        .get(&member_id)
                        .map(|m| m.assignment.clone())
                        .unwrap_or_default();
                    return sync_response(0, assignment, Some((&names.0, &names.1)), version);
                }
                _ => {}
            }
            let (tx, rx) = oneshot::channel();
            if let Some(m) = g.members.get_mut(&member_id) {
                m.awaiting_sync = Some(tx);
                m.session_deadline = Instant::now() + m.session_timeout;
            }
            if g.leader.as_deref() == Some(member_id.as_str()) {
                let mut given: BTreeMap<String, Bytes> = req
                    .assignments
                    .iter()
                    .map(|a| (a.member_id.to_string(), a.assignment.clone()))
                    .collect();
                for (id, m) in g.members.iter_mut() {
                    m.assignment = given.remove(id).unwrap_or_default();
                }
                self.apply_event(&gid, g, Event::LeaderSynced);
            }
            (rx, names)
        };
        match rx.await {
            Ok((code, assignment)) => {
                sync_response(code, assignment, Some((&names.0, &names.1)), version)
            }
            Err(_) => sync_response(E::UnknownMemberId.code(), Bytes::new(), None, version),
        }
    }

    /// Heartbeat (v0–v4).
    pub async fn heartbeat(&self, req: HeartbeatRequest, _version: i16) -> HeartbeatResponse {
        let code = self.heartbeat_code(&req);
        HeartbeatResponse::default().with_error_code(code)
    }

    fn heartbeat_code(&self, req: &HeartbeatRequest) -> i16 {
        let mut inner = self.lock();
        let Some(g) = inner.groups.get_mut(req.group_id.as_str()) else {
            return E::UnknownMemberId.code();
        };
        let member_id = req.member_id.to_string();
        match g.state {
            GroupState::Dead => return E::CoordinatorNotAvailable.code(),
            GroupState::Empty => return E::UnknownMemberId.code(),
            _ => {}
        }
        let instance = req.group_instance_id.as_ref().map(|i| i.to_string());
        if let Err(code) = check_member(g, &member_id, instance.as_deref(), req.generation_id) {
            return code;
        }
        if let Some(m) = g.members.get_mut(&member_id) {
            m.session_deadline = Instant::now() + m.session_timeout;
        }
        if g.state == GroupState::PreparingRebalance {
            return E::RebalanceInProgress.code();
        }
        0
    }

    /// LeaveGroup (v0–v5; v3+ batch leave by member or instance id).
    pub async fn leave_group(&self, req: LeaveGroupRequest, version: i16) -> LeaveGroupResponse {
        let leaving: Vec<(String, Option<String>)> = if version >= 3 {
            req.members
                .iter()
                .map(|m| {
                    (
                        m.member_id.to_string(),
                        m.group_instance_id.as_ref().map(|i| i.to_string()),
                    )
                })
                .collect()
        } else {
            vec![(req.member_id.to_string(), None)]
        };
        let mut inner = self.lock();
        let gid = req.group_id.to_string();
        let mut results = Vec::new();
        let mut removed = false;
        match inner.groups.get_mut(&gid) {
            None => {
                for (id, inst) in &leaving {
                    results.push((id.clone(), inst.clone(), E::UnknownMemberId.code()));
                }
            }
            Some(g) => {
                for (id, inst) in &leaving {
                    let target = match inst {
                        Some(i) => match g.static_members.get(i) {
                            Some(current) if id.is_empty() || id == current => Ok(current.clone()),
                            Some(_) => Err(E::FencedInstanceId.code()),
                            None => Err(E::UnknownMemberId.code()),
                        },
                        None if g.members.contains_key(id) => Ok(id.clone()),
                        None if g.pending_members.remove(id) => Err(0),
                        None => Err(E::UnknownMemberId.code()),
                    };
                    match target {
                        Ok(target) => {
                            remove_member(g, &target);
                            removed = true;
                            results.push((id.clone(), inst.clone(), 0));
                        }
                        Err(code) => results.push((id.clone(), inst.clone(), code)),
                    }
                }
                if !removed && g.state == GroupState::PreparingRebalance {
                    // A pending member left: the join may be complete now.
                    self.try_complete_join(&gid, g, false);
                }
                if removed {
                    let remaining = g.members.len();
                    self.apply_event(&gid, g, Event::MemberRemoved { remaining });
                }
            }
        }
        let mut resp = LeaveGroupResponse::default();
        if version >= 3 {
            resp.members = results
                .into_iter()
                .map(|(id, inst, code)| {
                    MemberResponse::default()
                        .with_member_id(StrBytes::from_string(id))
                        .with_group_instance_id(inst.map(StrBytes::from_string))
                        .with_error_code(code)
                })
                .collect();
        } else if let Some((_, _, code)) = results.first() {
            resp.error_code = *code;
        }
        resp
    }
}
