//! What the machine asks the driver to do.

use std::sync::Arc;

use super::event::{JoinedMember, MemberAssignment};
use crate::{Error, TopicPartition};

/// The coordinator requests the machine sends, to name one in
/// [`Event::RequestFailed`](super::Event::RequestFailed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestKind {
    /// JoinGroup.
    JoinGroup,
    /// SyncGroup.
    SyncGroup,
    /// Heartbeat.
    Heartbeat,
    /// LeaveGroup.
    LeaveGroup,
}

/// A JoinGroup to send. Session and rebalance timeouts come from the
/// machine's [`GroupConfig`](super::GroupConfig); the request should be
/// given a timeout of at least the rebalance timeout (Java adds 5 s), since
/// the coordinator holds it until every member has joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinGroup {
    /// The member id; empty on the first join.
    pub member_id: String,
    /// `group.instance.id`, for a static member.
    pub group_instance_id: Option<String>,
    /// The subscribed topics, for the subscription metadata.
    pub topics: Vec<Arc<str>>,
    /// The partitions this member owns, for the subscription metadata
    /// (what cooperative assignors keep in place).
    pub owned_partitions: Vec<TopicPartition>,
    /// The generation the owned partitions belong to, for the subscription
    /// metadata ([`NO_GENERATION_ID`](super::NO_GENERATION_ID) if none).
    pub generation_id: i32,
    /// Why the member (re)joins (JoinGroup v8+ `reason`, KIP-800).
    pub reason: String,
}

/// A SyncGroup to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncGroup {
    /// The generation joined.
    pub generation_id: i32,
    /// This member's id.
    pub member_id: String,
    /// `group.instance.id`, for a static member.
    pub group_instance_id: Option<String>,
    /// The protocol (assignor) name chosen by the group.
    pub protocol_name: String,
    /// Every member's assignment if this member leads, else empty.
    pub assignments: Vec<MemberAssignment>,
}

/// A Heartbeat to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    /// The current generation.
    pub generation_id: i32,
    /// This member's id.
    pub member_id: String,
    /// `group.instance.id`, for a static member.
    pub group_instance_id: Option<String>,
}

/// A LeaveGroup to send. Only dynamic members leave (KIP-345), so there is
/// no instance id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveGroup {
    /// The id of the member leaving.
    pub member_id: String,
    /// Why (LeaveGroup v5+ `reason`, KIP-800).
    pub reason: String,
}

/// A request to the group coordinator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// JoinGroup.
    JoinGroup(JoinGroup),
    /// SyncGroup.
    SyncGroup(SyncGroup),
    /// Heartbeat.
    Heartbeat(Heartbeat),
    /// LeaveGroup.
    LeaveGroup(LeaveGroup),
}

impl Request {
    /// Which request this is.
    pub fn kind(&self) -> RequestKind {
        match self {
            Request::JoinGroup(_) => RequestKind::JoinGroup,
            Request::SyncGroup(_) => RequestKind::SyncGroup,
            Request::Heartbeat(_) => RequestKind::Heartbeat,
            Request::LeaveGroup(_) => RequestKind::LeaveGroup,
        }
    }
}

/// Something the driver must do. Actions come out of
/// [`GroupMachine::handle`](super::GroupMachine::handle) in the order they
/// are to be done.
#[derive(Debug, Clone)]
pub enum Action {
    /// Send FindCoordinator (key type GROUP, key = group id) to any broker;
    /// answer with `CoordinatorFound` or `FindCoordinatorFailed`.
    FindCoordinator,
    /// Send a request to the coordinator; answer with its response event or
    /// `RequestFailed`.
    Send {
        /// The coordinator's broker id.
        coordinator: i32,
        /// The request.
        request: Request,
    },
    /// This member leads: run the assignor named `protocol_name` over the
    /// members' subscriptions; answer with `AssignmentComputed` or
    /// `AssignmentFailed`.
    ComputeAssignment {
        /// The generation being assigned.
        generation_id: i32,
        /// The protocol (assignor) name the group chose.
        protocol_name: String,
        /// This (the leader's) member id.
        leader_id: String,
        /// Every member with its subscription metadata.
        members: Vec<JoinedMember>,
    },
    /// Call the user's `onPartitionsRevoked`; answer with `RevokeDone`. The
    /// partitions are still owned (and committable) until then.
    Revoke(Vec<TopicPartition>),
    /// Start consuming these partitions and call the user's
    /// `onPartitionsAssigned` (possibly with none, as Java does after every
    /// rebalance); answer with `AssignDone`.
    Assign(Vec<TopicPartition>),
    /// Call the user's `onPartitionsLost`: the partitions may already
    /// belong to another member, so nothing may be committed for them;
    /// answer with `LostDone`.
    Lose(Vec<TopicPartition>),
    /// The coordinator is unknown from now on (drop what was queued for
    /// it; commits must wait for the next coordinator).
    CoordinatorUnknown,
    /// A non-fatal error the user should see from the next poll (as the Java
    /// consumer throws it); membership carries on.
    Raise(Error),
    /// Membership failed for good; the consumer must be closed.
    Fatal(Error),
    /// Closing finished.
    Closed,
}
