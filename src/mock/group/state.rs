//! The classic group's state machine, as data: [`transition`] maps a state
//! and an event to the next state and the actions the coordinator carries
//! out. Pure: no clock, no members, no I/O, so every edge is unit-tested.
//!
//! ```text
//!                 MemberJoined
//!   +-------+  (initial delay)   +--------------------+
//!   | Empty | -----------------> | PreparingRebalance | <---------------------+
//!   +-------+ <----------------- +--------------------+                       |
//!     |  ^    JoinCompleted{0}      |  ^  MemberJoined / MemberRemoved       |
//!     |  |                          |  |  (TryCompleteJoin)                  |
//!     |  |        JoinCompleted{n>0}|  +-------------------+                 |
//!     |  |                          v                      | MemberJoined,   |
//!     |  |   MemberRemoved{0} +---------------------+      | MemberRemoved,  |
//!     |  +--------------------| CompletingRebalance |------+ StaticReplaced  |
//!     |  |                    +---------------------+                        |
//!     |  |                          | LeaderSynced                           |
//!     |  |                          v                                        |
//!     |  |   MemberRemoved{0} +--------+   MemberJoined, MemberRemoved{n>0}  |
//!     |  +--------------------| Stable |-------------------------------------+
//!     |                       +--------+   (StaticReplaced stays Stable)
//!     | Deleted
//!     v
//!   +------+
//!   | Dead |  (terminal)
//!   +------+
//! ```
//!
//! Kafka's names throughout (`GroupState` in the Java broker, the strings
//! ListGroups/DescribeGroups return).

/// A classic group's state, named as Kafka names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupState {
    /// No members; offsets may be stored (also a group used only for
    /// offsets).
    Empty,
    /// A rebalance started: the coordinator waits for members to (re)join.
    PreparingRebalance,
    /// The join completed; the coordinator waits for the leader's
    /// assignment (SyncGroup).
    CompletingRebalance,
    /// The leader's assignment was distributed.
    Stable,
    /// Deleted; no further transitions.
    Dead,
}

impl GroupState {
    /// Kafka's name of the state (ListGroups, DescribeGroups).
    pub fn as_str(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

/// Something that happened to a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// A new member joined, or a known member rejoined in a way that needs a
    /// rebalance (changed metadata, or the leader rejoining a stable group).
    MemberJoined,
    /// Every known member rejoined, or the rebalance deadline passed (the
    /// absentees are removed first); `members` remain.
    JoinCompleted { members: usize },
    /// The leader's SyncGroup carried the assignment.
    LeaderSynced,
    /// Members left or expired; `remaining` members are left.
    MemberRemoved { remaining: usize },
    /// A static member rejoined under a new member id (KIP-345).
    StaticMemberReplaced,
    /// DeleteGroups (the caller checked that the group has no members).
    Deleted,
}

/// What the coordinator does after a transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Start a rebalance round: arm the join deadline (the initial
    /// rebalance delay first when the group was empty).
    ScheduleJoin { initial_delay: bool },
    /// Complete the join now if every known member has rejoined.
    TryCompleteJoin,
    /// Answer SyncGroups waiting for an assignment with
    /// REBALANCE_IN_PROGRESS.
    FailPendingSyncs,
    /// Bump the generation (and select protocol and leader if members
    /// remain).
    NewGeneration,
    /// Answer the held JoinGroups (the leader with the member list).
    AnswerJoins,
    /// Store the leader's assignment and answer the held SyncGroups.
    DeliverAssignments,
    /// Answer the replacing static member at once with the current
    /// generation and its assignment.
    ReturnCurrentAssignment,
}

/// An event that is not valid in the state (a coordinator bug, or a caller
/// that did not check its preconditions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Invalid {
    pub state: GroupState,
    pub event: Event,
}

/// The transition function.
pub(crate) fn transition(
    state: GroupState,
    event: Event,
) -> Result<(GroupState, Vec<Action>), Invalid> {
    use Action::*;
    use GroupState::*;
    let to = |s: GroupState, a: &[Action]| Ok((s, a.to_vec()));
    match (state, event) {
        (Empty, Event::MemberJoined) => to(
            PreparingRebalance,
            &[ScheduleJoin {
                initial_delay: true,
            }],
        ),
        (PreparingRebalance, Event::MemberJoined | Event::StaticMemberReplaced) => {
            to(PreparingRebalance, &[TryCompleteJoin])
        }
        (PreparingRebalance, Event::MemberRemoved { .. }) => {
            to(PreparingRebalance, &[TryCompleteJoin])
        }
        (CompletingRebalance, Event::MemberJoined | Event::StaticMemberReplaced) => to(
            PreparingRebalance,
            &[
                FailPendingSyncs,
                ScheduleJoin {
                    initial_delay: false,
                },
            ],
        ),
        (Stable, Event::MemberJoined) => to(
            PreparingRebalance,
            &[ScheduleJoin {
                initial_delay: false,
            }],
        ),
        (Stable, Event::StaticMemberReplaced) => to(Stable, &[ReturnCurrentAssignment]),
        (PreparingRebalance, Event::JoinCompleted { members: 0 }) => to(Empty, &[NewGeneration]),
        (PreparingRebalance, Event::JoinCompleted { .. }) => {
            to(CompletingRebalance, &[NewGeneration, AnswerJoins])
        }
        (CompletingRebalance, Event::LeaderSynced) => to(Stable, &[DeliverAssignments]),
        (CompletingRebalance | Stable, Event::MemberRemoved { remaining: 0 }) => {
            to(Empty, &[FailPendingSyncs, NewGeneration])
        }
        (CompletingRebalance | Stable, Event::MemberRemoved { .. }) => to(
            PreparingRebalance,
            &[
                FailPendingSyncs,
                ScheduleJoin {
                    initial_delay: false,
                },
            ],
        ),
        // Removing a member an Empty group does not have (a KIP-394 pending
        // member that never came back) changes nothing.
        (Empty, Event::MemberRemoved { .. }) => to(Empty, &[]),
        (Empty | Dead, Event::Deleted) => to(Dead, &[]),
        (state, event) => Err(Invalid { state, event }),
    }
}

#[cfg(test)]
mod tests {
    use super::Action::*;
    use super::GroupState::*;
    use super::*;

    fn run(start: GroupState, events: &[Event]) -> (GroupState, Vec<Vec<Action>>) {
        let mut state = start;
        let mut all = Vec::new();
        for &e in events {
            let (next, actions) = transition(state, e).unwrap();
            state = next;
            all.push(actions);
        }
        (state, all)
    }

    #[test]
    fn first_join_waits_the_initial_delay_then_completes_and_syncs() {
        let (state, actions) = run(
            Empty,
            &[
                Event::MemberJoined,
                Event::MemberJoined,
                Event::JoinCompleted { members: 2 },
                Event::LeaderSynced,
            ],
        );
        assert_eq!(state, Stable);
        assert_eq!(
            actions,
            vec![
                vec![ScheduleJoin {
                    initial_delay: true
                }],
                vec![TryCompleteJoin],
                vec![NewGeneration, AnswerJoins],
                vec![DeliverAssignments],
            ]
        );
    }

    #[test]
    fn join_in_stable_group_rebalances_without_initial_delay() {
        let (state, actions) = run(Stable, &[Event::MemberJoined]);
        assert_eq!(state, PreparingRebalance);
        assert_eq!(
            actions[0],
            vec![ScheduleJoin {
                initial_delay: false
            }]
        );
    }

    #[test]
    fn member_not_rejoining_is_removed_at_the_deadline() {
        // Two members stable; one rejoins, the deadline completes the join
        // with the one that did (the coordinator removed the other).
        let (state, actions) = run(
            Stable,
            &[Event::MemberJoined, Event::JoinCompleted { members: 1 }],
        );
        assert_eq!(state, CompletingRebalance);
        assert_eq!(actions[1], vec![NewGeneration, AnswerJoins]);
        // Nobody rejoined: the group is empty with a new generation.
        let (state, actions) = run(
            Stable,
            &[Event::MemberJoined, Event::JoinCompleted { members: 0 }],
        );
        assert_eq!(state, Empty);
        assert_eq!(actions[1], vec![NewGeneration]);
    }

    #[test]
    fn session_expiry_or_leave_rebalances_or_empties() {
        for from in [Stable, CompletingRebalance] {
            let (state, actions) = run(from, &[Event::MemberRemoved { remaining: 2 }]);
            assert_eq!(state, PreparingRebalance);
            assert_eq!(
                actions[0],
                vec![
                    FailPendingSyncs,
                    ScheduleJoin {
                        initial_delay: false
                    }
                ]
            );
            let (state, actions) = run(from, &[Event::MemberRemoved { remaining: 0 }]);
            assert_eq!(state, Empty);
            assert_eq!(actions[0], vec![FailPendingSyncs, NewGeneration]);
        }
        let (state, actions) = run(PreparingRebalance, &[Event::MemberRemoved { remaining: 1 }]);
        assert_eq!(state, PreparingRebalance);
        assert_eq!(actions[0], vec![TryCompleteJoin]);
    }

    #[test]
    fn static_replace_keeps_a_stable_group_stable() {
        let (state, actions) = run(Stable, &[Event::StaticMemberReplaced]);
        assert_eq!(state, Stable);
        assert_eq!(actions[0], vec![ReturnCurrentAssignment]);
        let (state, _) = run(CompletingRebalance, &[Event::StaticMemberReplaced]);
        assert_eq!(state, PreparingRebalance);
    }

    #[test]
    fn join_during_completing_rebalance_fails_pending_syncs() {
        let (state, actions) = run(CompletingRebalance, &[Event::MemberJoined]);
        assert_eq!(state, PreparingRebalance);
        assert_eq!(actions[0][0], FailPendingSyncs);
    }

    #[test]
    fn only_empty_groups_are_deleted_and_dead_is_terminal() {
        assert_eq!(transition(Empty, Event::Deleted).unwrap().0, Dead);
        for s in [PreparingRebalance, CompletingRebalance, Stable] {
            assert!(transition(s, Event::Deleted).is_err());
        }
        for e in [
            Event::MemberJoined,
            Event::LeaderSynced,
            Event::JoinCompleted { members: 1 },
            Event::StaticMemberReplaced,
        ] {
            assert!(transition(Dead, e).is_err());
        }
    }

    #[test]
    fn leader_sync_outside_completing_rebalance_is_invalid() {
        for s in [Empty, PreparingRebalance, Stable] {
            assert!(transition(s, Event::LeaderSynced).is_err());
        }
    }
}
