//! What the driver feeds the machine: responses, failures, user calls and
//! the passing of time.

use std::sync::Arc;

use bytes::Bytes;

use super::action::RequestKind;
use crate::{Error, ErrorCode, TopicPartition};

/// One member of the group as listed in the JoinGroup response the leader
/// receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinedMember {
    /// The member's id.
    pub member_id: String,
    /// The member's `group.instance.id`, for static members.
    pub group_instance_id: Option<String>,
    /// The member's subscription for the chosen protocol, as sent
    /// (ConsumerProtocolSubscription bytes; the assignor decodes it).
    pub metadata: Bytes,
}

/// The assignment the leader computed for one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberAssignment {
    /// The member's id.
    pub member_id: String,
    /// The encoded ConsumerProtocolAssignment for it.
    pub assignment: Bytes,
}

/// The fields of a JoinGroup response the membership protocol uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinGroupResponse {
    /// The response's error code.
    pub error: ErrorCode,
    /// The generation the coordinator started.
    pub generation_id: i32,
    /// The protocol (assignor) the group chose; empty if the broker sent
    /// none.
    pub protocol_name: String,
    /// The leader's member id.
    pub leader: String,
    /// This member's id (also set with `MEMBER_ID_REQUIRED`).
    pub member_id: String,
    /// Every member with its metadata; empty unless this member leads.
    pub members: Vec<JoinedMember>,
}

impl JoinGroupResponse {
    /// A response carrying only an error code (and no member id).
    #[cfg(test)]
    pub fn error(error: ErrorCode) -> Self {
        JoinGroupResponse {
            error,
            generation_id: -1,
            protocol_name: String::new(),
            leader: String::new(),
            member_id: String::new(),
            members: Vec::new(),
        }
    }
}

/// The fields of a SyncGroup response the membership protocol uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroupResponse {
    /// The response's error code.
    pub error: ErrorCode,
    /// This member's partitions, decoded by the driver from the
    /// ConsumerProtocolAssignment bytes.
    pub assignment: Vec<TopicPartition>,
    /// The protocol name echoed by brokers that send it (SyncGroup v5+).
    pub protocol_name: Option<String>,
}

impl SyncGroupResponse {
    /// A response carrying only an error code.
    pub fn error(error: ErrorCode) -> Self {
        SyncGroupResponse {
            error,
            assignment: Vec::new(),
            protocol_name: None,
        }
    }
}

/// Something that happened. Every event is handed to
/// [`GroupMachine::handle`](super::GroupMachine::handle) together with the
/// current time.
///
/// For every request the machine asks for ([`Action::Send`](super::Action::Send)
/// and [`Action::FindCoordinator`](super::Action::FindCoordinator)), the
/// driver must feed back exactly one event: the response, or
/// [`Event::RequestFailed`] / [`Event::FindCoordinatorFailed`].
#[derive(Debug, Clone)]
pub enum Event {
    /// The user subscribed (first time or changed topics).
    Subscribe {
        /// The topics subscribed to.
        topics: Vec<Arc<str>>,
    },
    /// FindCoordinator answered.
    CoordinatorFound {
        /// The coordinator's broker id.
        node_id: i32,
    },
    /// FindCoordinator failed: a broker error code (as
    /// [`Error::Broker`]) or a transport failure.
    FindCoordinatorFailed {
        /// Why.
        error: Error,
    },
    /// JoinGroup answered.
    JoinGroupResponse(JoinGroupResponse),
    /// The leader's assignor finished ([`Action::ComputeAssignment`](super::Action::ComputeAssignment)).
    AssignmentComputed {
        /// One assignment per member.
        assignments: Vec<MemberAssignment>,
    },
    /// The leader's assignor failed (unknown protocol, undecodable
    /// subscription). Surfaced to the user; the member rejoins after the
    /// back-off.
    AssignmentFailed {
        /// Why.
        error: Error,
    },
    /// SyncGroup answered.
    SyncGroupResponse(SyncGroupResponse),
    /// Heartbeat answered.
    HeartbeatResponse {
        /// The response's error code.
        error: ErrorCode,
    },
    /// LeaveGroup answered (any outcome ends the leave).
    LeaveGroupResponse {
        /// The response's error code.
        error: ErrorCode,
    },
    /// A coordinator request got no response: connection lost, timed out,
    /// or could not be encoded.
    RequestFailed {
        /// Which request.
        request: RequestKind,
        /// Why.
        error: Error,
    },
    /// An OffsetCommit (sent by the driver on its own) failed with a group
    /// error.
    CommitFailed {
        /// The response's error code.
        error: ErrorCode,
        /// The generation id the commit was sent with; errors for an older
        /// generation are ignored.
        generation_id: i32,
    },
    /// The user's `onPartitionsRevoked` returned.
    RevokeDone,
    /// The user's `onPartitionsAssigned` returned.
    AssignDone,
    /// The user's `onPartitionsLost` returned.
    LostDone,
    /// The user called poll: restarts the `max.poll.interval.ms` clock.
    Polled,
    /// The partition count of a subscribed topic changed (or a topic
    /// appeared or vanished): the leader must rebalance.
    MetadataChanged,
    /// The user closed the consumer.
    Close,
    /// Time passed; timers due at or before the time given fire.
    Tick,
}
