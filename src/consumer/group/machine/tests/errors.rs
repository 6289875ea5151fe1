//! One table per response: every group error code and what follows it.

use std::time::Duration;

use super::*;
use crate::Error;
use crate::error::Context;

/// What a response error must lead to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Then {
    /// Fatal action, state Failed.
    Fatal,
    /// JoinGroup again at once, member id kept, generation kept.
    RejoinNow,
    /// Partitions lost, then JoinGroup with the member id reset (or kept).
    LoseThenRejoin { member_kept: bool },
    /// CoordinatorUnknown, FindCoordinator after the back-off.
    FindCoordinator,
    /// JoinGroup again after the back-off.
    RejoinAfterBackoff,
    /// Raised to the user, JoinGroup again after the back-off.
    RaiseThenRejoin,
}

const FATAL: &[ErrorCode] = &[
    ErrorCode::FENCED_INSTANCE_ID,
    ErrorCode::GROUP_AUTHORIZATION_FAILED,
    ErrorCode::INCONSISTENT_GROUP_PROTOCOL,
    ErrorCode::INVALID_SESSION_TIMEOUT,
    ErrorCode::GROUP_MAX_SIZE_REACHED,
    ErrorCode::UNSUPPORTED_VERSION,
    ErrorCode::INVALID_GROUP_ID,
];

fn join_table() -> Vec<(ErrorCode, Then)> {
    let mut table = vec![
        (ErrorCode::REBALANCE_IN_PROGRESS, Then::RejoinNow),
        (
            ErrorCode::UNKNOWN_MEMBER_ID,
            Then::LoseThenRejoin { member_kept: false },
        ),
        (
            ErrorCode::ILLEGAL_GENERATION,
            Then::LoseThenRejoin { member_kept: true },
        ),
        (ErrorCode::NOT_COORDINATOR, Then::FindCoordinator),
        (ErrorCode::COORDINATOR_NOT_AVAILABLE, Then::FindCoordinator),
        (
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
            Then::RejoinAfterBackoff,
        ),
        (ErrorCode::UNKNOWN_SERVER_ERROR, Then::RaiseThenRejoin),
        (ErrorCode::REQUEST_TIMED_OUT, Then::RejoinAfterBackoff),
    ];
    table.extend(FATAL.iter().map(|c| (*c, Then::Fatal)));
    table
}

/// A cooperative member stable in generation 1 owning t-0, whose next
/// JoinGroup is in flight (so owned partitions are kept into the join).
fn cooperative_joining() -> H {
    let mut h = H::cooperative();
    h.stable(&[tp("t", 0)]);
    let a = h.heartbeat(ErrorCode::REBALANCE_IN_PROGRESS);
    join_of(&a);
    h
}

/// Checks what follows `a`, the actions right after the error.
fn check(h: &mut H, code: ErrorCode, then: Then, a: Vec<Action>) {
    let ctx = format!("{code:?} -> {then:?}: {a:?}");
    match then {
        Then::Fatal => {
            assert_eq!(fatal_code(&a), Some(code), "{ctx}");
            assert_eq!(h.m.state(), GroupState::Failed, "{ctx}");
            assert!(h.advance(Duration::from_secs(60)).is_empty(), "{ctx}");
            assert!(h.ev(Event::Polled).is_empty(), "{ctx}");
            // Close after a fatal error: partitions lost, no LeaveGroup.
            let a = h.ev(Event::Close);
            assert_eq!(lost(&a), [tp("t", 0)], "{ctx}");
            let a = h.ev(Event::LostDone);
            assert!(matches!(a.as_slice(), [Action::Closed]), "{ctx}: {a:?}");
        }
        Then::RejoinNow => {
            let join = join_of(&a);
            assert_eq!(join.member_id, "m1", "{ctx}");
            assert_eq!(join.owned_partitions, [tp("t", 0)], "{ctx}");
        }
        Then::LoseThenRejoin { member_kept } => {
            assert_eq!(lost(&a), [tp("t", 0)], "{ctx}");
            assert!(!has_request(&a, RequestKind::JoinGroup), "{ctx}");
            assert!(h.m.commit_generation().is_none(), "{ctx}");
            let join = join_of(&h.ev(Event::LostDone));
            let member = if member_kept { "m1" } else { "" };
            assert_eq!(join.member_id, member, "{ctx}");
            assert_eq!(join.generation_id, NO_GENERATION_ID, "{ctx}");
            assert!(join.owned_partitions.is_empty(), "{ctx}");
        }
        Then::FindCoordinator => {
            assert!(
                matches!(a.as_slice(), [Action::CoordinatorUnknown]),
                "{ctx}"
            );
            let a = h.tick_at_deadline();
            assert!(
                matches!(a.as_slice(), [Action::FindCoordinator]),
                "{ctx}: {a:?}"
            );
            let a = h.ev(Event::CoordinatorFound { node_id: 2 });
            let a = if a.is_empty() {
                h.tick_at_deadline()
            } else {
                a
            };
            let sent = a
                .iter()
                .any(|a| matches!(a, Action::Send { coordinator: 2, .. }));
            assert!(sent, "{ctx}: the new coordinator is used: {a:?}");
        }
        Then::RejoinAfterBackoff | Then::RaiseThenRejoin => {
            let raised = a.iter().any(|a| matches!(a, Action::Raise(_)));
            assert_eq!(raised, then == Then::RaiseThenRejoin, "{ctx}");
            assert!(!has_request(&a, RequestKind::JoinGroup), "{ctx}");
            assert_eq!(
                h.m.next_deadline(),
                Some(h.now + h.m.config().retry_backoff),
                "{ctx}"
            );
            let join = join_of(&h.tick_at_deadline());
            assert_eq!(join.member_id, "m1", "{ctx}");
        }
    }
}

#[test]
fn join_group_errors() {
    for (code, then) in join_table() {
        let mut h = cooperative_joining();
        let a = h.ev(Event::JoinGroupResponse(JoinGroupResponse::error(code)));
        check(&mut h, code, then, a);
    }
}

#[test]
fn sync_group_errors() {
    for (code, then) in join_table() {
        let mut h = cooperative_joining();
        let a = h.ev(Event::JoinGroupResponse(join_ok(2, "m1", "m0")));
        sync_of(&a);
        let a = h.ev(Event::SyncGroupResponse(SyncGroupResponse::error(code)));
        check(&mut h, code, then, a);
    }
}

#[test]
fn sync_with_another_protocol_name_is_fatal() {
    let mut h = H::eager();
    h.subscribe_and_find();
    h.ev(Event::JoinGroupResponse(join_ok(1, "m1", "m0")));
    let mut response = sync_ok(&[tp("t", 0)]);
    response.protocol_name = Some("roundrobin".into());
    let a = h.ev(Event::SyncGroupResponse(response));
    assert_eq!(fatal_code(&a), Some(ErrorCode::INCONSISTENT_GROUP_PROTOCOL));
}

#[test]
fn heartbeat_errors() {
    let table = [
        (
            ErrorCode::UNKNOWN_MEMBER_ID,
            Then::LoseThenRejoin { member_kept: false },
        ),
        (
            ErrorCode::ILLEGAL_GENERATION,
            Then::LoseThenRejoin { member_kept: true },
        ),
        (ErrorCode::NOT_COORDINATOR, Then::FindCoordinator),
        (ErrorCode::COORDINATOR_NOT_AVAILABLE, Then::FindCoordinator),
        (ErrorCode::FENCED_INSTANCE_ID, Then::Fatal),
        (ErrorCode::GROUP_AUTHORIZATION_FAILED, Then::Fatal),
    ];
    for (code, then) in table {
        let mut h = H::cooperative();
        h.stable(&[tp("t", 0)]);
        let a = h.heartbeat(code);
        check(&mut h, code, then, a);
    }
}

#[test]
fn heartbeat_load_in_progress_retries_after_backoff() {
    for code in [
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
        ErrorCode::UNKNOWN_SERVER_ERROR,
    ] {
        let mut h = H::eager();
        h.stable(&[tp("t", 0)]);
        assert!(h.heartbeat(code).is_empty());
        assert_eq!(
            h.m.next_deadline(),
            Some(h.now + h.m.config().retry_backoff)
        );
        heartbeat_of(&h.tick_at_deadline());
        assert_eq!(h.m.state(), GroupState::Stable);
    }
}

#[test]
fn heartbeat_rebalance_in_progress_eager_and_cooperative() {
    let mut h = H::eager();
    h.stable(&[tp("t", 0)]);
    let a = h.heartbeat(ErrorCode::REBALANCE_IN_PROGRESS);
    assert_eq!(revoked(&a), [tp("t", 0)]);

    let mut h = H::cooperative();
    h.stable(&[tp("t", 0)]);
    let a = h.heartbeat(ErrorCode::REBALANCE_IN_PROGRESS);
    assert_eq!(join_of(&a).owned_partitions, [tp("t", 0)]);
}

#[test]
fn stale_heartbeat_errors_are_ignored() {
    // A heartbeat of generation 1 answered after generation 2 began.
    let mut h = H::cooperative();
    h.stable(&[tp("t", 0)]);
    heartbeat_of(&h.tick_at_deadline());
    let a = h.ev(Event::CommitFailed {
        error: ErrorCode::REBALANCE_IN_PROGRESS,
        generation_id: 1,
    });
    join_of(&a);
    h.ev(Event::JoinGroupResponse(join_ok(2, "m1", "m0")));
    for code in [
        ErrorCode::ILLEGAL_GENERATION,
        ErrorCode::UNKNOWN_MEMBER_ID,
        ErrorCode::FENCED_INSTANCE_ID,
    ] {
        let mut h2 = H::cooperative();
        h2.stable(&[tp("t", 0)]);
        heartbeat_of(&h2.tick_at_deadline());
        h2.ev(Event::CommitFailed {
            error: ErrorCode::REBALANCE_IN_PROGRESS,
            generation_id: 1,
        });
        h2.ev(Event::JoinGroupResponse(join_ok(2, "m1", "m0")));
        let a = h2.ev(Event::HeartbeatResponse { error: code });
        assert!(a.is_empty(), "{code:?}: {a:?}");
        assert_eq!(h2.m.generation().generation_id, 2, "{code:?}");
        assert_eq!(h2.m.state(), GroupState::AwaitingSync, "{code:?}");
    }
}

#[test]
fn commit_errors() {
    // REBALANCE_IN_PROGRESS: rejoin with the generation kept.
    let mut h = H::eager();
    h.stable(&[tp("t", 0)]);
    let a = h.ev(Event::CommitFailed {
        error: ErrorCode::REBALANCE_IN_PROGRESS,
        generation_id: 1,
    });
    assert_eq!(revoked(&a), [tp("t", 0)]);

    let table = [
        (
            ErrorCode::UNKNOWN_MEMBER_ID,
            Then::LoseThenRejoin { member_kept: false },
        ),
        (
            ErrorCode::ILLEGAL_GENERATION,
            Then::LoseThenRejoin { member_kept: true },
        ),
        (ErrorCode::FENCED_INSTANCE_ID, Then::Fatal),
        (ErrorCode::NOT_COORDINATOR, Then::FindCoordinator),
        (ErrorCode::COORDINATOR_NOT_AVAILABLE, Then::FindCoordinator),
    ];
    for (code, then) in table {
        let mut h = H::cooperative();
        h.stable(&[tp("t", 0)]);
        let a = h.ev(Event::CommitFailed {
            error: code,
            generation_id: 1,
        });
        check(&mut h, code, then, a);
    }

    // Errors for an older generation, and errors about the commit alone,
    // leave membership alone.
    for (code, generation_id) in [
        (ErrorCode::UNKNOWN_MEMBER_ID, 0),
        (ErrorCode::ILLEGAL_GENERATION, 0),
        (ErrorCode::FENCED_INSTANCE_ID, 0),
        (ErrorCode::OFFSET_METADATA_TOO_LARGE, 1),
        (ErrorCode::TOPIC_AUTHORIZATION_FAILED, 1),
    ] {
        let mut h = H::eager();
        h.stable(&[tp("t", 0)]);
        let a = h.ev(Event::CommitFailed {
            error: code,
            generation_id,
        });
        assert!(a.is_empty(), "{code:?}: {a:?}");
        assert_eq!(h.m.state(), GroupState::Stable);
    }
}

#[test]
fn find_coordinator_errors() {
    // Retriable: FindCoordinator again after the back-off.
    let mut h = H::eager();
    h.ev(Event::Subscribe {
        topics: topics(&["t"]),
    });
    let a = h.ev(Event::FindCoordinatorFailed {
        error: Error::from_code(
            ErrorCode::COORDINATOR_NOT_AVAILABLE.0,
            None,
            Context::api("FindCoordinator"),
        )
        .expect("an error"),
    });
    assert!(a.is_empty(), "{a:?}");
    assert_eq!(
        h.m.next_deadline(),
        Some(h.now + h.m.config().retry_backoff)
    );
    assert!(matches!(
        h.tick_at_deadline().as_slice(),
        [Action::FindCoordinator]
    ));

    // Transport failure: the same.
    let a = h.ev(Event::FindCoordinatorFailed {
        error: Error::NoBrokerAvailable("all down".into()),
    });
    assert!(a.is_empty(), "{a:?}");
    assert!(matches!(
        h.tick_at_deadline().as_slice(),
        [Action::FindCoordinator]
    ));

    // Not allowed to use the group: fatal.
    let a = h.ev(Event::FindCoordinatorFailed {
        error: Error::from_code(
            ErrorCode::GROUP_AUTHORIZATION_FAILED.0,
            None,
            Context::api("FindCoordinator"),
        )
        .expect("an error"),
    });
    assert_eq!(fatal_code(&a), Some(ErrorCode::GROUP_AUTHORIZATION_FAILED));
    assert_eq!(h.m.state(), GroupState::Failed);
}

#[test]
fn request_failures() {
    // A heartbeat lost in transport: coordinator unknown, retry.
    let mut h = H::eager();
    h.stable(&[tp("t", 0)]);
    heartbeat_of(&h.tick_at_deadline());
    let a = h.ev(Event::RequestFailed {
        request: RequestKind::Heartbeat,
        error: Error::Timeout {
            what: "request",
            context: Context::api("Heartbeat"),
        },
    });
    assert!(
        matches!(a.as_slice(), [Action::CoordinatorUnknown]),
        "{a:?}"
    );

    // A join that cannot be encoded for this broker: fatal.
    let mut h = H::eager();
    h.subscribe_and_find();
    let a = h.ev(Event::RequestFailed {
        request: RequestKind::JoinGroup,
        error: Error::UnsupportedVersion {
            api: "JoinGroup",
            broker_min: -1,
            broker_max: -1,
            context: Context::api("JoinGroup"),
        },
    });
    assert!(matches!(a.as_slice(), [Action::Fatal(_)]), "{a:?}");

    // A failure for a request not in flight is ignored.
    let mut h = H::eager();
    h.stable(&[tp("t", 0)]);
    let a = h.ev(Event::RequestFailed {
        request: RequestKind::SyncGroup,
        error: Error::Closed,
    });
    assert!(a.is_empty(), "{a:?}");
    assert_eq!(h.m.state(), GroupState::Stable);
}
