//! Consumer-group membership (the classic protocol: JoinGroup, SyncGroup,
//! Heartbeat, LeaveGroup) as a pure state machine.
//!
//! [`GroupMachine`] does no I/O and reads no clock: a driver task feeds it
//! [`Event`]s (responses, the user's calls, callback completions, ticks)
//! with the current time and carries out the [`Action`]s it returns (send
//! a request, run the assignor, call the user's rebalance listener). The
//! behaviour is the Java consumer's, which Kafka users know: eager and
//! cooperative (KIP-429) rebalancing, static membership (KIP-345), the
//! poll interval (KIP-62) and member ids handed out before the join
//! (KIP-394).
//!
//! # The driver's contract
//!
//! - Feed every event with the current time, carry out the returned
//!   actions in order, and feed [`Event::Tick`] at
//!   [`GroupMachine::next_deadline`] when nothing else happens.
//! - Every [`Action::Send`] and [`Action::FindCoordinator`] is answered by
//!   exactly one event: its response, or [`Event::RequestFailed`] /
//!   [`Event::FindCoordinatorFailed`] (timeouts included; give JoinGroup a
//!   timeout above the rebalance timeout). Answers that no longer matter
//!   are ignored by the machine.
//! - Every [`Action::Revoke`], [`Action::Assign`] and [`Action::Lose`] is
//!   answered by its `*Done` event once the user's listener returned; the
//!   machine hands out no other callback and sends no JoinGroup meanwhile.
//! - [`Action::ComputeAssignment`] is answered by
//!   [`Event::AssignmentComputed`] or [`Event::AssignmentFailed`].
//! - OffsetCommit is the driver's: it uses
//!   [`GroupMachine::commit_generation`] and reports group errors back
//!   with [`Event::CommitFailed`].
//!
//! # Choices where Java leaves room
//!
//! - Poll-interval expiry: a dynamic member sends LeaveGroup; a static
//!   member sends none (KIP-345). Both forget generation and member id as
//!   Java does, so at the next poll the partitions are lost and the member
//!   joins afresh (a static member with its instance id, which the
//!   coordinator maps back to its old membership).
//! - A SyncGroup that fails with a retriable error is followed by a new
//!   JoinGroup (as Java's `joinGroupIfNeeded`), not by the same SyncGroup.
//! - Unexpected non-retriable join errors are surfaced with
//!   [`Action::Raise`] and the join is retried after the back-off; the
//!   errors Java treats as fatal end membership with [`Action::Fatal`].
//! - There is no unsubscribe: subscribing to nothing rejoins with no
//!   topics; to leave the group, close.

mod action;
mod config;
mod event;
mod fsm;
mod state;

#[cfg(test)]
mod tests;

pub use action::{Action, Heartbeat, JoinGroup, LeaveGroup, Request, RequestKind, SyncGroup};
pub use config::{GroupConfig, RebalanceProtocol};
pub use event::{Event, JoinGroupResponse, JoinedMember, MemberAssignment, SyncGroupResponse};
pub use fsm::GroupMachine;
pub use state::{CoordinatorState, GroupState, NO_GENERATION_ID};
