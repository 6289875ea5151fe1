//! Tests of the membership machine: a small harness, scripted flows, one
//! table per response's error codes, and a property test over random
//! event sequences.

mod errors;
mod flows;
mod props;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::*;
use crate::{ErrorCode, TopicPartition};

pub(super) const COORD: i32 = 1;

pub(super) fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition::new(topic, partition)
}

pub(super) fn topics(names: &[&str]) -> Vec<Arc<str>> {
    names.iter().map(|n| Arc::from(*n)).collect()
}

/// A machine and a clock.
pub(super) struct H {
    pub m: GroupMachine,
    pub now: Instant,
}

impl H {
    pub fn new(config: GroupConfig) -> Self {
        H {
            m: GroupMachine::new(config).expect("valid config"),
            now: Instant::now(),
        }
    }

    pub fn eager() -> Self {
        H::new(GroupConfig::new("g"))
    }

    pub fn cooperative() -> Self {
        let mut config = GroupConfig::new("g");
        config.protocol = RebalanceProtocol::Cooperative;
        H::new(config)
    }

    pub fn ev(&mut self, event: Event) -> Vec<Action> {
        let actions = self.m.handle(self.now, event);
        if let Some(deadline) = self.m.next_deadline() {
            assert!(deadline > self.now, "deadline not in the future");
        }
        actions
    }

    pub fn advance(&mut self, by: Duration) -> Vec<Action> {
        self.now += by;
        self.ev(Event::Tick)
    }

    /// Advances to the next deadline and ticks.
    pub fn tick_at_deadline(&mut self) -> Vec<Action> {
        let deadline = self.m.next_deadline().expect("a deadline");
        self.now = deadline;
        self.ev(Event::Tick)
    }

    /// Subscribe to `t` and find the coordinator: returns the first
    /// JoinGroup.
    pub fn subscribe_and_find(&mut self) -> JoinGroup {
        let a = self.ev(Event::Subscribe {
            topics: topics(&["t"]),
        });
        assert!(matches!(a.as_slice(), [Action::FindCoordinator]), "{a:?}");
        assert_eq!(self.m.coordinator(), CoordinatorState::Finding);
        let a = self.ev(Event::CoordinatorFound { node_id: COORD });
        join_of(&a)
    }

    /// Joins as follower `m1` of generation `gen` and syncs `assignment`;
    /// returns the actions after the SyncGroup response.
    pub fn join_follower(&mut self, generation: i32, assignment: &[TopicPartition]) -> Vec<Action> {
        let a = self.ev(Event::JoinGroupResponse(join_ok(generation, "m1", "m0")));
        let sync = sync_of(&a);
        assert_eq!(sync.generation_id, generation);
        assert!(
            sync.assignments.is_empty(),
            "a follower sends no assignment"
        );
        assert_eq!(self.m.state(), GroupState::AwaitingSync);
        self.ev(Event::SyncGroupResponse(sync_ok(assignment)))
    }

    /// Reaches Stable as follower `m1`, generation 1, owning `assignment`.
    pub fn stable(&mut self, assignment: &[TopicPartition]) {
        self.subscribe_and_find();
        let a = self.join_follower(1, assignment);
        assert_eq!(a.len(), 1, "{a:?}");
        assert_eq!(assigned(&a), assignment);
        assert!(self.ev(Event::AssignDone).is_empty());
        assert_eq!(self.m.state(), GroupState::Stable);
        assert_eq!(owned(&self.m), assignment);
    }

    /// Advances to the next heartbeat and answers it with `error`.
    pub fn heartbeat(&mut self, error: ErrorCode) -> Vec<Action> {
        let a = self.tick_at_deadline();
        let hb = heartbeat_of(&a);
        assert_eq!(hb.generation_id, self.m.generation().generation_id);
        self.ev(Event::HeartbeatResponse { error })
    }
}

pub(super) fn join_ok(generation: i32, member: &str, leader: &str) -> JoinGroupResponse {
    JoinGroupResponse {
        error: ErrorCode::NONE,
        generation_id: generation,
        protocol_name: "range".into(),
        leader: leader.into(),
        member_id: member.into(),
        members: if member == leader {
            vec![JoinedMember {
                member_id: member.into(),
                group_instance_id: None,
                metadata: Bytes::from_static(b"subscription"),
            }]
        } else {
            Vec::new()
        },
    }
}

pub(super) fn sync_ok(assignment: &[TopicPartition]) -> SyncGroupResponse {
    SyncGroupResponse {
        error: ErrorCode::NONE,
        assignment: assignment.to_vec(),
        protocol_name: Some("range".into()),
    }
}

pub(super) fn owned(m: &GroupMachine) -> Vec<TopicPartition> {
    m.owned_partitions().iter().cloned().collect()
}

pub(super) fn requests(actions: &[Action]) -> Vec<&Request> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send {
                coordinator,
                request,
            } => {
                assert!(*coordinator >= 0);
                Some(request)
            }
            _ => None,
        })
        .collect()
}

pub(super) fn join_of(actions: &[Action]) -> JoinGroup {
    let found: Vec<_> = requests(actions)
        .into_iter()
        .filter_map(|r| match r {
            Request::JoinGroup(j) => Some(j.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(found.len(), 1, "expected one JoinGroup in {actions:?}");
    found.into_iter().next().expect("checked")
}

pub(super) fn sync_of(actions: &[Action]) -> SyncGroup {
    let found: Vec<_> = requests(actions)
        .into_iter()
        .filter_map(|r| match r {
            Request::SyncGroup(s) => Some(s.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(found.len(), 1, "expected one SyncGroup in {actions:?}");
    found.into_iter().next().expect("checked")
}

pub(super) fn heartbeat_of(actions: &[Action]) -> Heartbeat {
    let found: Vec<_> = requests(actions)
        .into_iter()
        .filter_map(|r| match r {
            Request::Heartbeat(h) => Some(h.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(found.len(), 1, "expected one Heartbeat in {actions:?}");
    found.into_iter().next().expect("checked")
}

pub(super) fn has_request(actions: &[Action], kind: RequestKind) -> bool {
    requests(actions).iter().any(|r| r.kind() == kind)
}

pub(super) fn assigned(actions: &[Action]) -> Vec<TopicPartition> {
    callback(actions, |a| match a {
        Action::Assign(p) => Some(p.clone()),
        _ => None,
    })
}

pub(super) fn revoked(actions: &[Action]) -> Vec<TopicPartition> {
    callback(actions, |a| match a {
        Action::Revoke(p) => Some(p.clone()),
        _ => None,
    })
}

pub(super) fn lost(actions: &[Action]) -> Vec<TopicPartition> {
    callback(actions, |a| match a {
        Action::Lose(p) => Some(p.clone()),
        _ => None,
    })
}

fn callback(
    actions: &[Action],
    pick: impl Fn(&Action) -> Option<Vec<TopicPartition>>,
) -> Vec<TopicPartition> {
    let found: Vec<_> = actions.iter().filter_map(pick).collect();
    assert_eq!(found.len(), 1, "expected one such callback in {actions:?}");
    found.into_iter().next().expect("checked")
}

pub(super) fn fatal_code(actions: &[Action]) -> Option<ErrorCode> {
    actions.iter().find_map(|a| match a {
        Action::Fatal(e) => e.code(),
        _ => None,
    })
}

#[test]
fn config_defaults_are_javas_and_validation_rejects_nonsense() {
    let c = GroupConfig::new("g");
    assert_eq!(c.session_timeout, Duration::from_secs(45));
    assert_eq!(c.rebalance_timeout, Duration::from_secs(300));
    assert_eq!(c.heartbeat_interval, Duration::from_secs(3));
    assert_eq!(c.retry_backoff, Duration::from_millis(100));
    assert!(c.validate().is_ok());

    assert!(GroupMachine::new(GroupConfig::new("")).is_err());
    let mut bad = GroupConfig::new("g");
    bad.heartbeat_interval = bad.session_timeout;
    assert!(GroupMachine::new(bad).is_err());
    let mut bad = GroupConfig::new("g");
    bad.group_instance_id = Some(String::new());
    assert!(GroupMachine::new(bad).is_err());
    let mut bad = GroupConfig::new("g");
    bad.rebalance_timeout = Duration::ZERO;
    assert!(GroupMachine::new(bad).is_err());
}
