//! Scripted flows through the protocol, one scenario each.

use std::time::Duration;

use bytes::Bytes;

use super::*;
use crate::Error;
use crate::consumer::group::machine::state::Generation;
use crate::error::Context;

#[test]
fn idle_until_subscribed() {
    let mut h = H::eager();
    assert_eq!(h.m.state(), GroupState::Idle);
    assert!(h.ev(Event::Tick).is_empty());
    assert!(h.ev(Event::Polled).is_empty());
    assert_eq!(h.m.next_deadline(), None);
}

#[test]
fn single_member_leads_then_heartbeats() {
    let mut h = H::eager();
    let join = h.subscribe_and_find();
    assert_eq!(join.member_id, "");
    assert_eq!(join.generation_id, NO_GENERATION_ID);
    assert_eq!(join.topics, topics(&["t"]));
    assert!(join.owned_partitions.is_empty());
    assert_eq!(join.group_instance_id, None);
    assert_eq!(h.m.state(), GroupState::Joining);

    // KIP-394: the first join only hands out the member id.
    let mut required = JoinGroupResponse::error(ErrorCode::MEMBER_ID_REQUIRED);
    required.member_id = "m1".into();
    let a = h.ev(Event::JoinGroupResponse(required));
    let join = join_of(&a);
    assert_eq!(join.member_id, "m1");
    assert_eq!(h.m.state(), GroupState::Joining);

    let a = h.ev(Event::JoinGroupResponse(join_ok(1, "m1", "m1")));
    let [
        Action::ComputeAssignment {
            generation_id,
            protocol_name,
            leader_id,
            members,
        },
    ] = a.as_slice()
    else {
        panic!("expected ComputeAssignment, got {a:?}");
    };
    assert_eq!((*generation_id, protocol_name.as_str()), (1, "range"));
    assert_eq!(leader_id, "m1");
    assert_eq!(members.len(), 1);
    assert!(h.m.is_leader());
    assert_eq!(h.m.state(), GroupState::Assigning);

    let assignments = vec![MemberAssignment {
        member_id: "m1".into(),
        assignment: Bytes::from_static(b"t-0,t-1"),
    }];
    let a = h.ev(Event::AssignmentComputed {
        assignments: assignments.clone(),
    });
    let sync = sync_of(&a);
    assert_eq!(sync.assignments, assignments);
    assert_eq!(sync.protocol_name, "range");
    assert_eq!((sync.generation_id, sync.member_id.as_str()), (1, "m1"));
    assert_eq!(h.m.state(), GroupState::AwaitingSync);

    let a = h.ev(Event::SyncGroupResponse(sync_ok(&[tp("t", 0), tp("t", 1)])));
    assert_eq!(assigned(&a), [tp("t", 0), tp("t", 1)]);
    assert_eq!(h.m.state(), GroupState::Stable);
    assert!(h.ev(Event::AssignDone).is_empty());
    assert_eq!(h.m.commit_generation().map(|g| g.generation_id), Some(1));

    // Heartbeats every interval after the last was sent.
    let start = h.now;
    for round in 1..=3u32 {
        assert_eq!(
            h.m.next_deadline(),
            Some(start + h.m.config().heartbeat_interval * round)
        );
        let a = h.tick_at_deadline();
        let hb = heartbeat_of(&a);
        assert_eq!((hb.generation_id, hb.member_id.as_str()), (1, "m1"));
        assert!(
            h.ev(Event::HeartbeatResponse {
                error: ErrorCode::NONE
            })
            .is_empty()
        );
    }
    assert_eq!(h.m.state(), GroupState::Stable);
}

#[test]
fn follower_joins_and_syncs_without_assigning() {
    let mut h = H::eager();
    h.subscribe_and_find();
    let a = h.join_follower(7, &[tp("t", 2)]);
    assert!(!h.m.is_leader());
    assert_eq!(assigned(&a), [tp("t", 2)]);
    assert_eq!(h.m.generation().generation_id, 7);
    assert_eq!(h.m.generation().member_id, "m1");
}

#[test]
fn heartbeat_not_resent_while_in_flight() {
    let mut h = H::eager();
    h.stable(&[tp("t", 0)]);
    let a = h.tick_at_deadline();
    heartbeat_of(&a);
    // Unanswered: no second heartbeat, only the session deadline remains.
    let a = h.advance(h.m.config().heartbeat_interval * 2);
    assert!(!has_request(&a, RequestKind::Heartbeat), "{a:?}");
}

#[test]
fn heartbeats_continue_while_awaiting_sync() {
    let mut h = H::eager();
    h.subscribe_and_find();
    let a = h.ev(Event::JoinGroupResponse(join_ok(1, "m1", "m0")));
    sync_of(&a);
    let a = h.tick_at_deadline();
    heartbeat_of(&a);
    // REBALANCE_IN_PROGRESS during our own rebalance is ignored.
    h.ev(Event::HeartbeatResponse {
        error: ErrorCode::REBALANCE_IN_PROGRESS,
    });
    let a = h.ev(Event::SyncGroupResponse(sync_ok(&[tp("t", 0)])));
    assert_eq!(assigned(&a), [tp("t", 0)]);
    h.ev(Event::AssignDone);
    assert_eq!(h.m.state(), GroupState::Stable);
}

#[test]
fn no_heartbeat_while_joining() {
    let mut h = H::eager();
    h.subscribe_and_find();
    assert_eq!(h.m.state(), GroupState::Joining);
    let a = h.advance(Duration::from_secs(60));
    assert!(a.is_empty(), "{a:?}");
    assert_eq!(h.m.next_deadline(), None);
}

#[test]
fn eager_rebalance_on_heartbeat_rebalance_in_progress() {
    let mut h = H::eager();
    h.stable(&[tp("t", 0), tp("t", 1)]);
    let a = h.heartbeat(ErrorCode::REBALANCE_IN_PROGRESS);
    // Revoke everything first; no JoinGroup until the user is done.
    assert_eq!(revoked(&a), [tp("t", 0), tp("t", 1)]);
    assert!(!has_request(&a, RequestKind::JoinGroup));
    assert_eq!(h.m.state(), GroupState::Revoking);
    // The revoke callback may commit: the generation is still usable.
    assert_eq!(h.m.commit_generation().map(|g| g.generation_id), Some(1));
    // Heartbeats go on while the callback runs.
    let a = h.tick_at_deadline();
    heartbeat_of(&a);
    h.ev(Event::HeartbeatResponse {
        error: ErrorCode::NONE,
    });

    let a = h.ev(Event::RevokeDone);
    let join = join_of(&a);
    assert!(join.owned_partitions.is_empty());
    assert_eq!((join.member_id.as_str(), join.generation_id), ("m1", 1));
    assert_eq!(join.reason, "group is already rebalancing");
    assert!(owned(&h.m).is_empty());

    let a = h.join_follower(2, &[tp("t", 1)]);
    assert_eq!(assigned(&a), [tp("t", 1)]);
    h.ev(Event::AssignDone);
    assert_eq!(owned(&h.m), [tp("t", 1)]);
}

#[test]
fn eager_rejoin_revokes_even_with_nothing_owned() {
    let mut h = H::eager();
    h.stable(&[]);
    let a = h.heartbeat(ErrorCode::REBALANCE_IN_PROGRESS);
    assert_eq!(revoked(&a), []);
    let a = h.ev(Event::RevokeDone);
    join_of(&a);
}

#[test]
fn cooperative_rebalance_keeps_partitions_and_joins_at_once() {
    let mut h = H::cooperative();
    h.stable(&[tp("t", 0), tp("t", 1)]);
    let a = h.heartbeat(ErrorCode::REBALANCE_IN_PROGRESS);
    let join = join_of(&a);
    assert_eq!(join.owned_partitions, [tp("t", 0), tp("t", 1)]);
    assert_eq!(join.generation_id, 1);
    assert!(!a.iter().any(|a| matches!(a, Action::Revoke(_))));
    // Same assignment back: only an (empty) assign callback.
    let a = h.join_follower(2, &[tp("t", 0), tp("t", 1)]);
    assert_eq!(assigned(&a), []);
    h.ev(Event::AssignDone);
    assert_eq!(h.m.state(), GroupState::Stable);
    assert_eq!(owned(&h.m), [tp("t", 0), tp("t", 1)]);
}

#[test]
fn cooperative_two_phase_handover() {
    let mut h = H::cooperative();
    h.stable(&[tp("t", 0), tp("t", 1)]);
    let a = h.heartbeat(ErrorCode::REBALANCE_IN_PROGRESS);
    join_of(&a);
    // First rebalance: t-1 goes elsewhere, t-2 comes to us.
    let a = h.join_follower(2, &[tp("t", 0), tp("t", 2)]);
    assert_eq!(revoked(&a), [tp("t", 1)]);
    assert!(!a.iter().any(|a| matches!(a, Action::Assign(_))), "{a:?}");
    // t-1 stays ours (committable) until the revoke callback returns.
    assert_eq!(owned(&h.m), [tp("t", 0), tp("t", 1)]);
    let a = h.ev(Event::RevokeDone);
    assert_eq!(assigned(&a), [tp("t", 2)]);
    assert_eq!(owned(&h.m), [tp("t", 0), tp("t", 2)]);
    // Second rebalance right after the callbacks (KIP-429).
    let a = h.ev(Event::AssignDone);
    let join = join_of(&a);
    assert_eq!(join.owned_partitions, [tp("t", 0), tp("t", 2)]);
    assert_eq!(join.generation_id, 2);
    assert_eq!(join.reason, "need to revoke partitions and re-join");
    let a = h.join_follower(3, &[tp("t", 0), tp("t", 2)]);
    assert_eq!(assigned(&a), []);
    assert!(h.ev(Event::AssignDone).is_empty());
    assert_eq!(h.m.state(), GroupState::Stable);
}

#[test]
fn cooperative_subscription_change_revokes_only_dropped_topics() {
    let mut h = H::cooperative();
    h.subscribe_and_find();
    h.ev(Event::Subscribe {
        topics: topics(&["t", "u"]),
    });
    let a = h.join_follower(1, &[tp("t", 0), tp("u", 0)]);
    assert_eq!(assigned(&a), [tp("t", 0), tp("u", 0)]);
    // The subscription changed during the join; the assignment matches the
    // new one, but the rejoin asked for is still pending.
    let a = h.ev(Event::AssignDone);
    join_of(&a);
    let a = h.join_follower(2, &[tp("t", 0), tp("u", 0)]);
    h.ev(Event::AssignDone);
    assert!(!has_request(&a, RequestKind::JoinGroup));

    let a = h.ev(Event::Subscribe {
        topics: topics(&["t"]),
    });
    assert_eq!(revoked(&a), [tp("u", 0)]);
    let a = h.ev(Event::RevokeDone);
    let join = join_of(&a);
    assert_eq!(join.owned_partitions, [tp("t", 0)]);
    assert_eq!(join.topics, topics(&["t"]));
}

#[test]
fn unchanged_subscription_does_not_rejoin() {
    let mut h = H::eager();
    h.stable(&[tp("t", 0)]);
    let a = h.ev(Event::Subscribe {
        topics: topics(&["t"]),
    });
    assert!(a.is_empty(), "{a:?}");
}

#[test]
fn assignment_outside_subscription_triggers_rejoin() {
    let mut h = H::cooperative();
    h.subscribe_and_find();
    let a = h.join_follower(1, &[tp("other", 0)]);
    assert_eq!(assigned(&a), [tp("other", 0)]);
    let a = h.ev(Event::AssignDone);
    // The cooperative prepare revokes the partition of the foreign topic.
    assert_eq!(revoked(&a), [tp("other", 0)]);
}

#[test]
fn coordinator_moves_mid_join() {
    let mut h = H::eager();
    h.subscribe_and_find();
    let a = h.ev(Event::JoinGroupResponse(JoinGroupResponse::error(
        ErrorCode::NOT_COORDINATOR,
    )));
    assert!(
        matches!(a.as_slice(), [Action::CoordinatorUnknown]),
        "{a:?}"
    );
    assert_eq!(h.m.coordinator(), CoordinatorState::Unknown);
    assert_eq!(h.m.state(), GroupState::Unjoined);
    // FindCoordinator after the back-off.
    assert_eq!(
        h.m.next_deadline(),
        Some(h.now + h.m.config().retry_backoff)
    );
    let a = h.tick_at_deadline();
    assert!(matches!(a.as_slice(), [Action::FindCoordinator]), "{a:?}");
    let a = h.ev(Event::CoordinatorFound { node_id: 2 });
    let [
        Action::Send {
            coordinator: 2,
            request: Request::JoinGroup(_),
        },
    ] = a.as_slice()
    else {
        panic!("expected JoinGroup to the new coordinator, got {a:?}");
    };
    h.join_follower(1, &[tp("t", 0)]);
    assert_eq!(h.m.state(), GroupState::Stable);
}

#[test]
fn transport_failure_mid_sync_rejoins_after_rediscovery() {
    let mut h = H::eager();
    h.subscribe_and_find();
    let a = h.ev(Event::JoinGroupResponse(join_ok(1, "m1", "m0")));
    sync_of(&a);
    let a = h.ev(Event::RequestFailed {
        request: RequestKind::SyncGroup,
        error: Error::Disconnected {
            reason: "reset".into(),
            context: Context::api("SyncGroup"),
        },
    });
    assert!(
        matches!(a.as_slice(), [Action::CoordinatorUnknown]),
        "{a:?}"
    );
    let a = h.tick_at_deadline();
    assert!(matches!(a.as_slice(), [Action::FindCoordinator]), "{a:?}");
    let a = h.ev(Event::CoordinatorFound { node_id: COORD });
    // A retry of the same rebalance: the revoke before it already ran
    // (Java's needsJoinPrepare), so JoinGroup goes out at once.
    let join = join_of(&a);
    assert!(!a.iter().any(|a| matches!(a, Action::Revoke(_))), "{a:?}");
    assert_eq!(join.member_id, "m1");
}

#[test]
fn coordinator_lost_while_stable_keeps_membership() {
    let mut h = H::eager();
    h.stable(&[tp("t", 0)]);
    let a = h.heartbeat(ErrorCode::NOT_COORDINATOR);
    assert!(
        matches!(a.as_slice(), [Action::CoordinatorUnknown]),
        "{a:?}"
    );
    assert_eq!(h.m.state(), GroupState::Stable);
    let a = h.tick_at_deadline();
    assert!(matches!(a.as_slice(), [Action::FindCoordinator]), "{a:?}");
    // The heartbeat, due since the back-off ended, goes to the new one.
    let a = h.ev(Event::CoordinatorFound { node_id: 3 });
    let [
        Action::Send {
            coordinator: 3,
            request: Request::Heartbeat(_),
        },
    ] = a.as_slice()
    else {
        panic!("expected a heartbeat to the new coordinator, got {a:?}");
    };
    assert_eq!(owned(&h.m), [tp("t", 0)]);
}

#[test]
fn dynamic_member_close_revokes_then_leaves() {
    let mut h = H::cooperative();
    h.stable(&[tp("t", 0)]);
    let a = h.ev(Event::Close);
    // Both protocols revoke everything on close.
    assert_eq!(revoked(&a), [tp("t", 0)]);
    assert_eq!(h.m.state(), GroupState::Leaving);
    assert!(h.m.commit_generation().is_some(), "revoke may commit");
    let a = h.ev(Event::RevokeDone);
    let [
        Action::Send {
            request: Request::LeaveGroup(leave),
            ..
        },
    ] = a.as_slice()
    else {
        panic!("expected LeaveGroup, got {a:?}");
    };
    assert_eq!(leave.member_id, "m1");
    assert!(
        h.advance(Duration::from_secs(60)).is_empty(),
        "no heartbeats"
    );
    let a = h.ev(Event::LeaveGroupResponse {
        error: ErrorCode::NONE,
    });
    assert!(matches!(a.as_slice(), [Action::Closed]), "{a:?}");
    assert_eq!(h.m.state(), GroupState::Closed);
    assert!(h.ev(Event::Polled).is_empty());
    assert_eq!(h.m.next_deadline(), None);
}

#[test]
fn close_ends_even_if_leave_fails() {
    let mut h = H::eager();
    h.stable(&[]);
    let a = h.ev(Event::Close);
    let a = if a.iter().any(|a| matches!(a, Action::Revoke(_))) {
        h.ev(Event::RevokeDone)
    } else {
        a
    };
    assert!(has_request(&a, RequestKind::LeaveGroup), "{a:?}");
    let a = h.ev(Event::RequestFailed {
        request: RequestKind::LeaveGroup,
        error: Error::Timeout {
            what: "request",
            context: Context::api("LeaveGroup"),
        },
    });
    assert!(matches!(a.as_slice(), [Action::Closed]), "{a:?}");
}

#[test]
fn static_member_close_does_not_leave() {
    let mut config = GroupConfig::new("g");
    config.group_instance_id = Some("instance-1".into());
    let mut h = H::new(config);
    h.subscribe_and_find();
    h.join_follower(1, &[tp("t", 0)]);
    h.ev(Event::AssignDone);
    let a = h.ev(Event::Close);
    assert_eq!(revoked(&a), [tp("t", 0)]);
    let a = h.ev(Event::RevokeDone);
    assert!(matches!(a.as_slice(), [Action::Closed]), "{a:?}");
}

#[test]
fn static_member_sends_instance_id() {
    let mut config = GroupConfig::new("g");
    config.group_instance_id = Some("instance-1".into());
    let mut h = H::new(config);
    let join = h.subscribe_and_find();
    assert_eq!(join.group_instance_id.as_deref(), Some("instance-1"));
    let a = h.ev(Event::JoinGroupResponse(join_ok(1, "m1", "m0")));
    assert_eq!(sync_of(&a).group_instance_id.as_deref(), Some("instance-1"));
    h.ev(Event::SyncGroupResponse(sync_ok(&[])));
    h.ev(Event::AssignDone);
    let a = h.tick_at_deadline();
    assert_eq!(
        heartbeat_of(&a).group_instance_id.as_deref(),
        Some("instance-1")
    );
}

#[test]
fn close_before_joining_closes_at_once() {
    let mut h = H::eager();
    let a = h.ev(Event::Close);
    assert!(matches!(a.as_slice(), [Action::Closed]), "{a:?}");
}

#[test]
fn close_during_join_loses_and_leaves() {
    let mut h = H::cooperative();
    h.stable(&[tp("t", 0)]);
    let a = h.heartbeat(ErrorCode::REBALANCE_IN_PROGRESS);
    join_of(&a);
    let a = h.ev(Event::Close);
    // A rebalance is under way: the partitions may already be elsewhere.
    assert_eq!(lost(&a), [tp("t", 0)]);
    let a = h.ev(Event::LostDone);
    assert!(has_request(&a, RequestKind::LeaveGroup), "{a:?}");
    // The join answer arriving late is dropped.
    assert!(
        h.ev(Event::JoinGroupResponse(join_ok(2, "m1", "m0")))
            .is_empty()
    );
    let a = h.ev(Event::LeaveGroupResponse {
        error: ErrorCode::NONE,
    });
    assert!(matches!(a.as_slice(), [Action::Closed]), "{a:?}");
}

#[test]
fn close_waits_for_the_running_callback() {
    let mut h = H::eager();
    h.subscribe_and_find();
    let a = h.join_follower(1, &[tp("t", 0)]);
    assert_eq!(assigned(&a), [tp("t", 0)]);
    // Close while the assign callback runs: nothing overlaps it.
    assert!(h.ev(Event::Close).is_empty());
    let a = h.ev(Event::AssignDone);
    assert_eq!(revoked(&a), [tp("t", 0)]);
}

#[test]
fn poll_interval_expiry_dynamic_member_leaves_and_rejoins_on_poll() {
    let mut h = H::eager();
    h.stable(&[tp("t", 0)]);
    let poll_deadline = h.now + h.m.config().rebalance_timeout;
    // Heartbeats keep the session alive, but nobody polls.
    let mut left = None;
    while h.now < poll_deadline {
        let a = h.tick_at_deadline();
        if has_request(&a, RequestKind::LeaveGroup) {
            left = Some(a);
            break;
        }
        heartbeat_of(&a);
        h.ev(Event::HeartbeatResponse {
            error: ErrorCode::NONE,
        });
    }
    let a = left.expect("left the group at the poll deadline");
    assert_eq!(h.now, poll_deadline);
    let Some(Request::LeaveGroup(leave)) = requests(&a).first().copied() else {
        panic!("{a:?}");
    };
    assert_eq!(leave.reason, "consumer poll timeout has expired");
    assert_eq!(h.m.state(), GroupState::PollExpired);
    assert_eq!(h.m.generation(), &Generation::none());
    assert_eq!(h.m.next_deadline(), None, "no heartbeats after leaving");
    h.ev(Event::LeaveGroupResponse {
        error: ErrorCode::NONE,
    });

    // The next poll: partitions are lost, then a fresh join.
    let a = h.ev(Event::Polled);
    assert_eq!(lost(&a), [tp("t", 0)]);
    let a = h.ev(Event::LostDone);
    let join = join_of(&a);
    assert_eq!(join.member_id, "");
    assert!(join.owned_partitions.is_empty());
}

#[test]
fn poll_interval_expiry_static_member_sends_no_leave() {
    let mut config = GroupConfig::new("g");
    config.group_instance_id = Some("i".into());
    config.rebalance_timeout = Duration::from_secs(10);
    let mut h = H::new(config);
    h.subscribe_and_find();
    h.join_follower(1, &[tp("t", 0)]);
    h.ev(Event::AssignDone);
    // Polling keeps the member in (each event also sends the heartbeat
    // that is due).
    h.now += Duration::from_secs(9);
    heartbeat_of(&h.ev(Event::Polled));
    h.ev(Event::HeartbeatResponse {
        error: ErrorCode::NONE,
    });
    h.now += Duration::from_secs(9);
    heartbeat_of(&h.ev(Event::Tick));
    h.ev(Event::HeartbeatResponse {
        error: ErrorCode::NONE,
    });
    assert_eq!(h.m.state(), GroupState::Stable);
    assert_eq!(h.m.next_deadline(), Some(h.now + Duration::from_secs(1)));
    let a = h.tick_at_deadline();
    assert!(!has_request(&a, RequestKind::LeaveGroup), "{a:?}");
    assert_eq!(h.m.state(), GroupState::PollExpired);
    let a = h.ev(Event::Polled);
    assert_eq!(lost(&a), [tp("t", 0)]);
    let join = join_of(&h.ev(Event::LostDone));
    assert_eq!(join.group_instance_id.as_deref(), Some("i"));
}

#[test]
fn session_expiry_marks_coordinator_unknown() {
    let mut h = H::eager();
    h.stable(&[tp("t", 0)]);
    let session_end = h.now + h.m.config().session_timeout;
    // Heartbeats go out but are never answered.
    let a = h.tick_at_deadline();
    heartbeat_of(&a);
    assert_eq!(h.m.next_deadline(), Some(session_end));
    let a = h.tick_at_deadline();
    assert!(
        matches!(a.as_slice(), [Action::CoordinatorUnknown]),
        "{a:?}"
    );
    // The stale heartbeat finally fails; the member is still in Stable.
    h.ev(Event::RequestFailed {
        request: RequestKind::Heartbeat,
        error: Error::Disconnected {
            reason: "gone".into(),
            context: Context::api("Heartbeat"),
        },
    });
    let a = h.tick_at_deadline();
    assert!(matches!(a.as_slice(), [Action::FindCoordinator]), "{a:?}");
    // The overdue heartbeat goes out at once; the coordinator has evicted
    // us meanwhile.
    let a = h.ev(Event::CoordinatorFound { node_id: COORD });
    heartbeat_of(&a);
    let a = h.ev(Event::HeartbeatResponse {
        error: ErrorCode::UNKNOWN_MEMBER_ID,
    });
    assert_eq!(lost(&a), [tp("t", 0)]);
    let join = join_of(&h.ev(Event::LostDone));
    assert_eq!(join.member_id, "");
}

#[test]
fn leader_rejoins_on_metadata_change_follower_does_not() {
    let mut h = H::eager();
    h.subscribe_and_find();
    h.ev(Event::JoinGroupResponse(join_ok(1, "m1", "m1")));
    h.ev(Event::AssignmentComputed {
        assignments: Vec::new(),
    });
    h.ev(Event::SyncGroupResponse(sync_ok(&[tp("t", 0)])));
    h.ev(Event::AssignDone);
    let a = h.ev(Event::MetadataChanged);
    assert_eq!(revoked(&a), [tp("t", 0)]);

    let mut f = H::eager();
    f.stable(&[tp("t", 0)]);
    assert!(f.ev(Event::MetadataChanged).is_empty());
}

#[test]
fn assignor_failure_is_raised_and_the_leader_rejoins() {
    let mut h = H::eager();
    h.subscribe_and_find();
    h.ev(Event::JoinGroupResponse(join_ok(1, "m1", "m1")));
    let a = h.ev(Event::AssignmentFailed {
        error: Error::protocol("bad subscription", Context::default()),
    });
    assert!(matches!(a.as_slice(), [Action::Raise(_)]), "{a:?}");
    assert_eq!(h.m.state(), GroupState::Unjoined);
    let a = h.tick_at_deadline();
    // A retry of the same rebalance: no second revoke.
    assert_eq!(join_of(&a).member_id, "m1");
}

#[test]
fn generation_reset_during_sync_discards_the_assignment() {
    let mut h = H::eager();
    h.stable(&[]);
    let a = h.heartbeat(ErrorCode::REBALANCE_IN_PROGRESS);
    revoked(&a);
    join_of(&h.ev(Event::RevokeDone));
    let a = h.ev(Event::JoinGroupResponse(join_ok(2, "m1", "m0")));
    sync_of(&a);
    // A heartbeat of generation 2 is told the member is unknown.
    let a = h.tick_at_deadline();
    heartbeat_of(&a);
    h.ev(Event::HeartbeatResponse {
        error: ErrorCode::UNKNOWN_MEMBER_ID,
    });
    let a = h.ev(Event::SyncGroupResponse(sync_ok(&[tp("t", 0)])));
    assert!(!a.iter().any(|a| matches!(a, Action::Assign(_))), "{a:?}");
    let join = join_of(&a);
    assert_eq!(join.member_id, "");
}

#[test]
fn mismatched_callback_done_is_ignored() {
    let mut h = H::eager();
    h.subscribe_and_find();
    let a = h.join_follower(1, &[tp("t", 0)]);
    assigned(&a);
    assert!(h.ev(Event::RevokeDone).is_empty());
    assert!(h.ev(Event::LostDone).is_empty());
    // Still waiting for AssignDone before the rejoin can start.
    assert!(h.ev(Event::MetadataChanged).is_empty());
    h.ev(Event::AssignDone);
    assert_eq!(h.m.state(), GroupState::Stable);
}

#[test]
fn unsolicited_responses_are_ignored() {
    let mut h = H::eager();
    h.stable(&[tp("t", 0)]);
    assert!(
        h.ev(Event::JoinGroupResponse(join_ok(9, "x", "x")))
            .is_empty()
    );
    assert!(h.ev(Event::SyncGroupResponse(sync_ok(&[]))).is_empty());
    assert!(
        h.ev(Event::HeartbeatResponse {
            error: ErrorCode::UNKNOWN_MEMBER_ID
        })
        .is_empty()
    );
    assert!(h.ev(Event::CoordinatorFound { node_id: 5 }).is_empty());
    assert_eq!(h.m.coordinator(), CoordinatorState::Known(COORD));
    assert_eq!(h.m.state(), GroupState::Stable);
    assert_eq!(h.m.generation().generation_id, 1);
}

#[test]
fn fatal_error_while_a_callback_runs_then_close() {
    let mut h = H::cooperative();
    h.stable(&[tp("t", 0), tp("t", 1)]);
    let a = h.ev(Event::Subscribe {
        topics: topics(&["u"]),
    });
    assert_eq!(revoked(&a), [tp("t", 0), tp("t", 1)]);
    let a = h.ev(Event::CommitFailed {
        error: ErrorCode::FENCED_INSTANCE_ID,
        generation_id: 1,
    });
    assert_eq!(fatal_code(&a), Some(ErrorCode::FENCED_INSTANCE_ID));
    // Close waits for the running revoke, which still completes.
    assert!(h.ev(Event::Close).is_empty());
    let a = h.ev(Event::RevokeDone);
    assert!(matches!(a.as_slice(), [Action::Closed]), "{a:?}");
    assert!(owned(&h.m).is_empty());
}

#[test]
fn heartbeat_in_flight_at_poll_expiry_is_answered_as_stale() {
    let mut config = GroupConfig::new("g");
    config.rebalance_timeout = Duration::from_secs(4);
    let mut h = H::new(config);
    h.subscribe_and_find();
    h.join_follower(1, &[tp("t", 0)]);
    h.ev(Event::AssignDone);
    heartbeat_of(&h.tick_at_deadline());
    let a = h.tick_at_deadline();
    assert!(has_request(&a, RequestKind::LeaveGroup), "{a:?}");
    lost(&h.ev(Event::Polled));
    join_of(&h.ev(Event::LostDone));
    sync_of(&h.ev(Event::JoinGroupResponse(join_ok(2, "m2", "m0"))));
    // The old heartbeat is still out: no second one until it is answered,
    // and its error is about a generation we no longer hold.
    assert!(!has_request(
        &h.advance(Duration::from_secs(3)),
        RequestKind::Heartbeat
    ));
    let a = h.ev(Event::HeartbeatResponse {
        error: ErrorCode::UNKNOWN_MEMBER_ID,
    });
    assert!(!a.iter().any(|a| matches!(a, Action::Lose(_))), "{a:?}");
    assert_eq!(heartbeat_of(&a).member_id, "m2");
    assert_eq!(h.m.generation().member_id, "m2");
}
