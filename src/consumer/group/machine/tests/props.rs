//! Random event sequences against a model of what the driver sees.
//!
//! The model tracks, from the actions alone, which callback is running,
//! which partitions are owned (Assign adds at once; Revoke and Lose remove
//! when their callback returns), and which requests are in flight. The
//! machine must never contradict it, whatever the events.

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;

use super::*;
use crate::Error;
use crate::error::Context;

const CODES: &[ErrorCode] = &[
    ErrorCode::NONE,
    ErrorCode::NONE,
    ErrorCode::NONE,
    ErrorCode::NONE,
    ErrorCode::MEMBER_ID_REQUIRED,
    ErrorCode::UNKNOWN_MEMBER_ID,
    ErrorCode::ILLEGAL_GENERATION,
    ErrorCode::REBALANCE_IN_PROGRESS,
    ErrorCode::NOT_COORDINATOR,
    ErrorCode::COORDINATOR_NOT_AVAILABLE,
    ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
    ErrorCode::REQUEST_TIMED_OUT,
    ErrorCode::UNKNOWN_SERVER_ERROR,
    ErrorCode::FENCED_INSTANCE_ID,
    ErrorCode::GROUP_AUTHORIZATION_FAILED,
    ErrorCode::INCONSISTENT_GROUP_PROTOCOL,
];

const KINDS: [RequestKind; 4] = [
    RequestKind::JoinGroup,
    RequestKind::SyncGroup,
    RequestKind::Heartbeat,
    RequestKind::LeaveGroup,
];

fn universe() -> Vec<TopicPartition> {
    ["t", "u"]
        .iter()
        .flat_map(|t| (0..3).map(move |p| tp(t, p)))
        .collect()
}

fn pick<T: Clone>(items: &[T], mask: u8) -> Vec<T> {
    items
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, x)| x.clone())
        .collect()
}

#[derive(Debug, Clone)]
enum Op {
    Subscribe(u8),
    Found(i32),
    FindFailed(bool),
    Join {
        code: usize,
        leader: bool,
        generation: i32,
        member: u8,
    },
    AssignOk,
    AssignFail,
    Sync {
        code: usize,
        parts: u8,
        same_protocol: bool,
    },
    Heartbeat(usize),
    Leave,
    Failed {
        kind: usize,
        fatal: bool,
    },
    Commit {
        code: usize,
        current: bool,
    },
    DoneRight,
    DoneWrong(u8),
    Polled,
    Metadata,
    Close,
    Tick(u64),
    /// Answers whatever is pending the way a healthy cluster would, so that
    /// random sequences get deep into rebalances.
    Progress {
        parts: u8,
        leader: bool,
    },
    /// Progress with an assignment matching the subscription (appended
    /// after the random ops).
    Settle,
    /// Time passes, then the user polls.
    PollAfter(u64),
}

fn op() -> impl Strategy<Value = Op> {
    let code = 0..CODES.len();
    prop_oneof![
        1 => (1u8..4).prop_map(Op::Subscribe),
        2 => (1i32..3).prop_map(Op::Found),
        1 => any::<bool>().prop_map(Op::FindFailed),
        3 => (code.clone(), any::<bool>(), 1i32..4, 0u8..2).prop_map(|(code, leader, generation, member)| Op::Join { code, leader, generation, member }),
        1 => Just(Op::AssignOk),
        1 => Just(Op::AssignFail),
        3 => (code.clone(), any::<u8>(), prop::bool::weighted(0.9)).prop_map(|(code, parts, same_protocol)| Op::Sync { code, parts, same_protocol }),
        3 => code.clone().prop_map(Op::Heartbeat),
        1 => Just(Op::Leave),
        1 => (0..KINDS.len(), prop::bool::weighted(0.1)).prop_map(|(kind, fatal)| Op::Failed { kind, fatal }),
        1 => (code, any::<bool>()).prop_map(|(code, current)| Op::Commit { code, current }),
        4 => Just(Op::DoneRight),
        1 => any::<u8>().prop_map(Op::DoneWrong),
        2 => Just(Op::Polled),
        1 => Just(Op::Metadata),
        1 => prop::bool::weighted(0.2).prop_map(|_| Op::Close),
        4 => prop_oneof![0u64..5_000, 0u64..400_000].prop_map(Op::Tick),
        12 => (any::<u8>(), any::<bool>()).prop_map(|(parts, leader)| Op::Progress { parts, leader }),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cb {
    Revoke,
    Assign,
    Lose,
}

#[derive(Default)]
struct Model {
    running: Option<(Cb, Vec<TopicPartition>)>,
    owned: BTreeSet<TopicPartition>,
    join_in_flight: Option<RequestKind>,
    heartbeat_in_flight: bool,
    leave_in_flight: bool,
    finding: bool,
    closed: bool,
    fatal: bool,
}

impl Model {
    fn callback(&mut self, cb: Cb, parts: &[TopicPartition]) -> Result<(), String> {
        if let Some(running) = &self.running {
            return Err(format!("{cb:?} while {running:?} runs"));
        }
        let set: BTreeSet<_> = parts.iter().cloned().collect();
        match cb {
            Cb::Assign => {
                if !set.is_disjoint(&self.owned) {
                    return Err(format!("assigned {set:?} already owned {:?}", self.owned));
                }
                self.owned.extend(set);
            }
            Cb::Revoke | Cb::Lose => {
                if !set.is_subset(&self.owned) {
                    return Err(format!("{cb:?} {set:?} not owned {:?}", self.owned));
                }
            }
        }
        self.running = Some((cb, parts.to_vec()));
        Ok(())
    }

    fn done(&mut self, cb: Cb) {
        if let Some((running, parts)) = &self.running
            && *running == cb
        {
            if cb != Cb::Assign {
                for p in parts {
                    self.owned.remove(p);
                }
            }
            self.running = None;
        }
    }

    fn actions(&mut self, actions: &[Action], protocol: RebalanceProtocol) -> Result<(), String> {
        for a in actions {
            if self.closed {
                return Err(format!("{a:?} after Closed"));
            }
            if self.fatal && !matches!(a, Action::Lose(_) | Action::Closed) {
                return Err(format!("{a:?} after Fatal"));
            }
            match a {
                Action::Revoke(p) => self.callback(Cb::Revoke, p)?,
                Action::Assign(p) => self.callback(Cb::Assign, p)?,
                Action::Lose(p) => self.callback(Cb::Lose, p)?,
                Action::FindCoordinator => {
                    if std::mem::replace(&mut self.finding, true) {
                        return Err("second FindCoordinator in flight".into());
                    }
                }
                Action::Send { request, .. } => match request {
                    Request::JoinGroup(j) => {
                        if self.running.is_some() {
                            return Err(format!("JoinGroup while {:?} runs", self.running));
                        }
                        if protocol == RebalanceProtocol::Eager
                            && j.generation_id != NO_GENERATION_ID
                            && !j.owned_partitions.is_empty()
                        {
                            return Err(format!("eager JoinGroup still owning {j:?}"));
                        }
                        let owned: Vec<_> = self.owned.iter().cloned().collect();
                        if j.owned_partitions != owned {
                            return Err(format!("JoinGroup owned {j:?} vs {owned:?}"));
                        }
                        if self
                            .join_in_flight
                            .replace(RequestKind::JoinGroup)
                            .is_some()
                        {
                            return Err("JoinGroup while a join/sync is in flight".into());
                        }
                    }
                    Request::SyncGroup(_) => {
                        if self
                            .join_in_flight
                            .replace(RequestKind::SyncGroup)
                            .is_some()
                        {
                            return Err("SyncGroup while a join/sync is in flight".into());
                        }
                    }
                    Request::Heartbeat(_) => {
                        if std::mem::replace(&mut self.heartbeat_in_flight, true) {
                            return Err("second heartbeat in flight".into());
                        }
                    }
                    Request::LeaveGroup(_) => self.leave_in_flight = true,
                },
                Action::Closed => self.closed = true,
                Action::Fatal(_) => self.fatal = true,
                Action::ComputeAssignment { .. }
                | Action::CoordinatorUnknown
                | Action::Raise(_) => {}
            }
        }
        Ok(())
    }
}

/// The healthy answer to what is pending.
fn progress(h: &H, model: &Model, parts: u8, leader: bool) -> Op {
    let next_generation = h.m.generation().generation_id.max(0) + 1;
    if model.running.is_some() {
        Op::DoneRight
    } else if model.join_in_flight == Some(RequestKind::JoinGroup) {
        Op::Join {
            code: 0,
            leader,
            generation: next_generation,
            member: 0,
        }
    } else if model.join_in_flight == Some(RequestKind::SyncGroup) {
        Op::Sync {
            code: 0,
            parts,
            same_protocol: true,
        }
    } else if h.m.state() == GroupState::Assigning {
        Op::AssignOk
    } else if model.heartbeat_in_flight {
        Op::Heartbeat(0)
    } else if model.finding {
        Op::Found(1)
    } else if model.leave_in_flight {
        Op::Leave
    } else if h.m.state() == GroupState::PollExpired {
        Op::Polled
    } else if h.m.state() == GroupState::Idle {
        Op::Subscribe(1)
    } else {
        Op::Tick(1_000)
    }
}

fn error_of(code: ErrorCode) -> Error {
    Error::from_code(code.0, None, Context::api("FindCoordinator")).unwrap_or(Error::Closed)
}

/// Runs `ops`, then lets a healthy cluster answer everything for a while:
/// the member must settle (Stable with no callback running, or Closed, or
/// Failed) rather than stall or loop.
fn run(protocol: RebalanceProtocol, static_member: bool, ops: Vec<Op>) -> Result<(), String> {
    let mut ops = ops;
    ops.extend((0..SETTLE_STEPS).map(|_| Op::Settle));
    let (h, model) = run_ops(protocol, static_member, ops)?;
    let settled = match h.m.state() {
        GroupState::Stable => model.running.is_none(),
        GroupState::Closed | GroupState::Failed => true,
        _ => false,
    };
    if settled {
        Ok(())
    } else {
        Err(format!(
            "did not settle: {:?}, running {:?}",
            h.m.state(),
            model.running
        ))
    }
}

const SETTLE_STEPS: usize = 60;

fn run_ops(
    protocol: RebalanceProtocol,
    static_member: bool,
    ops: Vec<Op>,
) -> Result<(H, Model), String> {
    let mut config = GroupConfig::new("g");
    config.protocol = protocol;
    if static_member {
        config.group_instance_id = Some("i".into());
    }
    let mut h = H::new(config);
    let mut model = Model::default();
    let universe = universe();
    for op in ops {
        let op = match op {
            Op::Progress { parts, leader } => progress(&h, &model, parts, leader),
            Op::Settle => {
                // Assign what the subscription covers, so that the member
                // has no reason to rejoin once more.
                let parts = universe
                    .iter()
                    .enumerate()
                    .filter(|(_, tp)| h.m.subscription().contains(&tp.topic))
                    .fold(0u8, |mask, (i, _)| mask | (1 << i));
                match progress(&h, &model, parts, false) {
                    // A healthy user polls while it waits.
                    Op::Tick(ms) => Op::PollAfter(ms),
                    op => op,
                }
            }
            op => op,
        };
        let event = match op {
            Op::Subscribe(mask) => Event::Subscribe {
                topics: pick(&topics(&["t", "u"]), mask),
            },
            Op::Found(node_id) => {
                model.finding = false;
                Event::CoordinatorFound { node_id }
            }
            Op::FindFailed(fatal) => {
                model.finding = false;
                Event::FindCoordinatorFailed {
                    error: if fatal {
                        error_of(ErrorCode::GROUP_AUTHORIZATION_FAILED)
                    } else {
                        Error::NoBrokerAvailable("down".into())
                    },
                }
            }
            Op::Join {
                code,
                leader,
                generation,
                member,
            } => {
                if model.join_in_flight == Some(RequestKind::JoinGroup) {
                    model.join_in_flight = None;
                }
                let member = format!("m{member}");
                let mut response =
                    join_ok(generation, &member, if leader { &member } else { "other" });
                response.error = CODES[code];
                Event::JoinGroupResponse(response)
            }
            Op::AssignOk => Event::AssignmentComputed {
                assignments: vec![MemberAssignment {
                    member_id: "m0".into(),
                    assignment: Bytes::new(),
                }],
            },
            Op::AssignFail => Event::AssignmentFailed {
                error: Error::protocol("bad", Context::default()),
            },
            Op::Sync {
                code,
                parts,
                same_protocol,
            } => {
                if model.join_in_flight == Some(RequestKind::SyncGroup) {
                    model.join_in_flight = None;
                }
                let mut response = sync_ok(&pick(&universe, parts));
                response.error = CODES[code];
                if !same_protocol {
                    response.protocol_name = Some("other".into());
                }
                Event::SyncGroupResponse(response)
            }
            Op::Heartbeat(code) => {
                model.heartbeat_in_flight = false;
                Event::HeartbeatResponse { error: CODES[code] }
            }
            Op::Leave => {
                // Answered: without this the settle phase answered the same
                // LeaveGroup for ever and a poll-expired member never polled.
                model.leave_in_flight = false;
                Event::LeaveGroupResponse {
                    error: ErrorCode::NONE,
                }
            }
            Op::Failed { kind, fatal } => {
                let request = KINDS[kind];
                match request {
                    RequestKind::JoinGroup | RequestKind::SyncGroup => {
                        if model.join_in_flight == Some(request) {
                            model.join_in_flight = None;
                        }
                    }
                    RequestKind::Heartbeat => model.heartbeat_in_flight = false,
                    RequestKind::LeaveGroup => model.leave_in_flight = false,
                }
                let error = if fatal {
                    Error::Closed
                } else {
                    Error::Disconnected {
                        reason: "x".into(),
                        context: Context::default(),
                    }
                };
                Event::RequestFailed { request, error }
            }
            Op::Commit { code, current } => Event::CommitFailed {
                error: CODES[code],
                generation_id: if current {
                    h.m.generation().generation_id
                } else {
                    -7
                },
            },
            Op::DoneRight => {
                let cb = model
                    .running
                    .as_ref()
                    .map(|(cb, _)| *cb)
                    .unwrap_or(Cb::Revoke);
                model.done(cb);
                match cb {
                    Cb::Revoke => Event::RevokeDone,
                    Cb::Assign => Event::AssignDone,
                    Cb::Lose => Event::LostDone,
                }
            }
            Op::DoneWrong(n) => {
                let running = model.running.as_ref().map(|(cb, _)| *cb);
                let candidates: Vec<(Cb, Event)> = [
                    (Cb::Revoke, Event::RevokeDone),
                    (Cb::Assign, Event::AssignDone),
                    (Cb::Lose, Event::LostDone),
                ]
                .into_iter()
                .filter(|(cb, _)| Some(*cb) != running)
                .collect();
                let i = usize::from(n) % candidates.len();
                candidates
                    .into_iter()
                    .nth(i)
                    .map(|(_, e)| e)
                    .unwrap_or(Event::Tick)
            }
            Op::Polled => Event::Polled,
            Op::Metadata => Event::MetadataChanged,
            Op::Close => Event::Close,
            Op::Tick(ms) => {
                h.now += Duration::from_millis(ms);
                Event::Tick
            }
            Op::PollAfter(ms) => {
                h.now += Duration::from_millis(ms);
                Event::Polled
            }
            Op::Progress { .. } | Op::Settle => Event::Tick,
        };
        let shown = format!("{event:?}");
        let actions = h.m.handle(h.now, event);
        model
            .actions(&actions, protocol)
            .map_err(|e| format!("after {shown}: {e}"))?;
        let owned: BTreeSet<_> = h.m.owned_partitions().clone();
        if owned != model.owned {
            return Err(format!(
                "after {shown}: owned {owned:?}, model {:?}",
                model.owned
            ));
        }
        if let Some(deadline) = h.m.next_deadline()
            && deadline <= h.now
        {
            return Err(format!("after {shown}: deadline not in the future"));
        }
        if model.closed != (h.m.state() == GroupState::Closed) {
            return Err(format!("after {shown}: Closed action and state disagree"));
        }
    }
    Ok((h, model))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_events_keep_the_invariants(
        cooperative in any::<bool>(),
        static_member in any::<bool>(),
        ops in prop::collection::vec(op(), 0..120),
    ) {
        let protocol = if cooperative { RebalanceProtocol::Cooperative } else { RebalanceProtocol::Eager };
        if let Err(e) = run(protocol, static_member, ops) {
            prop_assert!(false, "{}", e);
        }
    }
}

/// The property test is only worth something if random sequences reach the
/// interesting states; this checks that a plain script of the same ops
/// does.
#[test]
fn the_op_vocabulary_reaches_stable_and_callbacks() {
    let ops = vec![
        Op::Subscribe(1),
        Op::Found(1),
        Op::Join {
            code: 0,
            leader: true,
            generation: 1,
            member: 0,
        },
        Op::AssignOk,
        Op::Sync {
            code: 0,
            parts: 0b11,
            same_protocol: true,
        },
        Op::DoneRight,
        Op::Tick(3_000),
        Op::Heartbeat(7),
        Op::DoneRight,
        Op::Close,
        Op::DoneRight,
        Op::Leave,
    ];
    assert_eq!(run(RebalanceProtocol::Eager, false, ops), Ok(()));
}
