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

mod action;
mod config;
mod event;
mod machine;
mod state;

#[cfg(test)]
mod tests;

pub use action::{Action, Heartbeat, JoinGroup, LeaveGroup, Request, RequestKind, SyncGroup};
pub use config::{GroupConfig, RebalanceProtocol};
pub use event::{Event, JoinGroupResponse, JoinedMember, MemberAssignment, SyncGroupResponse};
pub use machine::GroupMachine;
pub use state::{CoordinatorState, Generation, GroupState, NO_GENERATION_ID};
