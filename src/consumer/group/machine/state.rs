//! The membership phases, the coordinator's status and the generation.

/// The phase of group membership the member is in.
///
/// Mirrors Java's `AbstractCoordinator.MemberState` (UNJOINED,
/// PREPARING_REBALANCE, COMPLETING_REBALANCE, STABLE), split finer so that
/// every wait is visible: the user's revoke callback before a join, the
/// leader's assignment, the poll-interval expiry and closing.
///
/// The coordinator's status is tracked beside the phase, not in it (see
/// [`CoordinatorState`]): as in Java, a stable member that loses its
/// coordinator stays stable, rediscovers it and keeps heartbeating; a
/// request that needs the coordinator simply waits until it is known again.
///
/// ```text
///              Subscribe
///   Idle ─────────────────► Unjoined ◄──────────────────────────────────┐
///                             │    │                                    │ join/sync failed,
///     callbacks idle and a    │    │ nothing to give up                 │ generation reset,
///     join needs preparing:   │    │                                    │ rejoin requested
///     Revoke(all) if eager,   ▼    │                                    │ (REBALANCE_IN_PROGRESS,
///     Lose(owned) if reset  Revoking                                    │  subscription or
///                             │ RevokeDone / LostDone                   │  metadata change,
///                             ▼    ▼                                    │  cooperative revoke)
///          coordinator known, backoff over ─► JoinGroup                 │
///                                  │                                    │
///        MEMBER_ID_REQUIRED ──► Joining ─────── error ──────────────────┤
///        (JoinGroup again)     ╱        ╲                               │
///                     leader  ╱          ╲ follower                     │
///                            ▼            ▼                             │
///                      Assigning ──► AwaitingSync ───── error ──────────┤
///          ComputeAssignment,  SyncGroup   │                            │
///          AssignmentComputed              │ SyncGroup ok:              │
///                                          │ Revoke(owned − new) if     │
///                                          │ cooperative, Assign(new)   │
///                                          ▼                            │
///                                        Stable ────────────────────────┘
///                                          │ max.poll.interval expired:
///                                          │ LeaveGroup (dynamic member)
///                                          ▼
///                                     PollExpired ── Polled ──► Unjoined
///
///   any ── Close ──► Leaving: Revoke (or Lose) all owned, then
///                    LeaveGroup (dynamic member) ──► Closed
///   any ── fatal error ──► Failed ── Close ──► Lose(owned) ──► Closed
/// ```
///
/// Heartbeats are sent while the member holds a generation and is in
/// `Revoking`, `Assigning`, `AwaitingSync` or `Stable` (Java enables its
/// heartbeat thread from COMPLETING_REBALANCE on, and keeps it running while
/// the revoke callback of the next rebalance runs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupState {
    /// Nothing subscribed yet: the member does not try to join.
    Idle,
    /// The member must (re)join and is waiting for the coordinator, for a
    /// back-off to end, or for the previous callback to finish.
    Unjoined,
    /// The user's revoke (or lost) callback runs before the JoinGroup is
    /// sent, so that the user can commit offsets for what it gives up.
    Revoking,
    /// JoinGroup is in flight.
    Joining,
    /// This member leads the group: the assignor is computing the
    /// assignment for every member.
    Assigning,
    /// SyncGroup is in flight.
    AwaitingSync,
    /// The member holds a generation and an assignment, and heartbeats.
    Stable,
    /// The user did not poll within `max.poll.interval.ms`: the member left
    /// the group and rejoins at the next poll.
    PollExpired,
    /// Closing: the last callback runs, then LeaveGroup is in flight.
    Leaving,
    /// Closed; the machine does nothing more.
    Closed,
    /// A fatal error ended membership; only `Close` is still accepted.
    Failed,
}

impl GroupState {
    /// Whether the member is in a phase where it heartbeats (given that it
    /// holds a generation and knows its coordinator).
    pub(crate) fn heartbeats(self) -> bool {
        matches!(
            self,
            GroupState::Revoking
                | GroupState::Assigning
                | GroupState::AwaitingSync
                | GroupState::Stable
        )
    }

    /// Whether the member needs its coordinator in this phase.
    pub(crate) fn needs_coordinator(self) -> bool {
        !matches!(
            self,
            GroupState::Idle
                | GroupState::PollExpired
                | GroupState::Leaving
                | GroupState::Closed
                | GroupState::Failed
        )
    }
}

/// What the member knows about its group coordinator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CoordinatorState {
    /// Unknown; a FindCoordinator is sent once the back-off ends.
    Unknown,
    /// FindCoordinator is in flight.
    Finding,
    /// The coordinator is this broker.
    Known(i32),
}

/// The generation id a member uses before it has joined or after the
/// coordinator rejected its generation (Java's `NO_GENERATION`).
pub const NO_GENERATION_ID: i32 = -1;

/// A generation of the group as this member knows it: what OffsetCommit and
/// Heartbeat carry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Generation {
    /// The generation id ([`NO_GENERATION_ID`] when none).
    pub generation_id: i32,
    /// The member id the coordinator gave (empty when none).
    pub member_id: String,
    /// The protocol (assignor) name the group chose, once joined.
    pub protocol_name: Option<String>,
}

impl Generation {
    /// No generation and no member id.
    pub fn none() -> Self {
        Generation {
            generation_id: NO_GENERATION_ID,
            member_id: String::new(),
            protocol_name: None,
        }
    }

    /// Whether this is a generation the coordinator handed out (as opposed
    /// to none, or one reset after an error).
    pub fn is_valid(&self) -> bool {
        self.generation_id != NO_GENERATION_ID && !self.member_id.is_empty()
    }
}
