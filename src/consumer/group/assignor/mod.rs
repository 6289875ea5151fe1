//! Consumer-group partition assignors: which member of a group consumes which
//! partition.
//!
//! In the classic group protocol the broker only elects a leader; the leader
//! runs an assignor over every member's [`Subscription`] and sends each
//! member its [`Assignment`] in SyncGroup. Members of one group may be Java,
//! librdkafka or kafkit consumers, so each assignor here produces what the
//! Java assignor of the same [`name`](Assignor::name) produces where that is
//! specified (range, roundrobin), reads and writes the same user data (sticky,
//! cooperative-sticky) and obeys the same rebalance protocol.
//!
//! Everything here is pure logic: no I/O, deterministic for a given input
//! whatever the order of the members. Subscriptions come from other members
//! through the broker and are untrusted; [`wire`] decodes them with bounded
//! allocation and the assignors never panic on their content.

mod cooperative;
mod range;
mod roundrobin;
mod sticky;
pub mod wire;

#[cfg(test)]
mod tests;

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use crate::TopicPartition;
use crate::error::{Context, Error};

pub use cooperative::CooperativeSticky;
pub use range::Range;
pub use roundrobin::RoundRobin;
pub use sticky::Sticky;
pub use sticky::user_data::{StickyUserData, decode_sticky_user_data, encode_sticky_user_data};

/// Re-exported so assignors and group membership speak of one protocol.
pub use crate::consumer::group::machine::RebalanceProtocol;

/// One member's subscription, as carried in the JoinGroup protocol metadata
/// (Java's `ConsumerPartitionAssignor.Subscription`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subscription {
    /// The topics the member wants to consume.
    pub topics: Vec<String>,
    /// Assignor-specific data (see [`Assignor::subscription_user_data`]).
    pub user_data: Option<Bytes>,
    /// The partitions the member owns while it rejoins (subscription v1+);
    /// empty for eager members, which revoke everything before joining.
    pub owned_partitions: Vec<TopicPartition>,
    /// The generation in which the member got `owned_partitions`
    /// (subscription v2+; `None` is -1 on the wire).
    pub generation_id: Option<i32>,
    /// The member's `client.rack` (subscription v3+).
    pub rack_id: Option<String>,
}

/// What one member is told to consume (Java's
/// `ConsumerPartitionAssignor.Assignment`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assignment {
    /// The partitions assigned to the member, sorted.
    pub partitions: Vec<TopicPartition>,
    /// Assignor-specific data for the member; the built-in assignors send
    /// none, as Java's do.
    pub user_data: Option<Bytes>,
}

/// One member of the group as the leader sees it in the JoinGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    /// The broker-assigned member id.
    pub member_id: String,
    /// The member's `group.instance.id` when it is a static member (KIP-345).
    pub group_instance_id: Option<String>,
    /// The member's decoded subscription.
    pub subscription: Subscription,
}

/// A partition assignment strategy (Java's `ConsumerPartitionAssignor`).
pub trait Assignor: Send + Sync + 'static {
    /// The protocol name sent in JoinGroup: `"range"`, `"roundrobin"`,
    /// `"sticky"`, `"cooperative-sticky"`. Members agree on an assignor by
    /// this name, so it must equal the Java assignor's to mix clients.
    fn name(&self) -> &str;

    /// The rebalance protocol this assignor needs from the group machinery.
    fn rebalance_protocol(&self) -> RebalanceProtocol {
        RebalanceProtocol::Eager
    }

    /// The user data this member puts in its own subscription.
    ///
    /// `owned` is the member's last assignment (for eager members: the
    /// partitions it had before revoking them to rejoin) and `generation` the
    /// group generation of that assignment, `None` before the first one.
    fn subscription_user_data(
        &self,
        topics: &[String],
        owned: &[TopicPartition],
        generation: Option<i32>,
    ) -> Option<Bytes> {
        let _ = (topics, owned, generation);
        None
    }

    /// Computes every member's assignment. Run by the group leader only.
    ///
    /// `partitions_per_topic` holds the partition count of every subscribed
    /// topic known to metadata; subscribed topics missing from it are not
    /// assigned. The result has one entry per member (possibly with no
    /// partitions) and is the same for the same input, whatever the order of
    /// `members`. Fails only on an impossible member list (duplicate ids).
    fn assign(
        &self,
        partitions_per_topic: &BTreeMap<String, i32>,
        members: &[GroupMember],
    ) -> crate::Result<BTreeMap<String, Assignment>>;
}

/// Java's member order (`AbstractPartitionAssignor.MemberInfo`): static
/// members first, by `group.instance.id`, then dynamic members by member id.
///
/// Since KIP-345 Java sorts this way so that a restarted static member, which
/// gets a new member id, keeps its place and so its range or round-robin
/// share. Matching it keeps a mixed group's assignment the same whichever
/// client is leader. Member ids break ties between equal instance ids, which
/// the broker never produces, so the order is total.
fn java_member_order(a: &GroupMember, b: &GroupMember) -> Ordering {
    match (&a.group_instance_id, &b.group_instance_id) {
        (Some(x), Some(y)) => x.cmp(y).then_with(|| a.member_id.cmp(&b.member_id)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.member_id.cmp(&b.member_id),
    }
}

/// The members in Java's order, after checking member ids are unique (the
/// result is keyed by member id, so duplicates could not all be answered).
fn sorted_members(members: &[GroupMember]) -> crate::Result<Vec<&GroupMember>> {
    let mut sorted: Vec<&GroupMember> = members.iter().collect();
    sorted.sort_by(|a, b| java_member_order(a, b));
    let mut ids = BTreeSet::new();
    for m in &sorted {
        if !ids.insert(m.member_id.as_str()) {
            return Err(Error::protocol(
                format!("member id {:?} appears twice in the group", m.member_id),
                Context::api("JoinGroup"),
            ));
        }
    }
    Ok(sorted)
}

/// The partition count of `topic` from metadata, if known; negative counts
/// (never sent by a broker) count as none.
/// Each member's subscribed topics, and their union: where range and
/// round-robin start.
fn subscribed_topics<'a>(
    members: &[&'a GroupMember],
) -> (Vec<BTreeSet<&'a str>>, BTreeSet<&'a str>) {
    let subscribed: Vec<BTreeSet<&str>> = members
        .iter()
        .map(|m| m.subscription.topics.iter().map(String::as_str).collect())
        .collect();
    let all_topics = subscribed.iter().flatten().copied().collect();
    (subscribed, all_topics)
}

fn partition_count(partitions_per_topic: &BTreeMap<String, i32>, topic: &str) -> Option<i32> {
    partitions_per_topic.get(topic).map(|&n| n.max(0))
}

/// Turns per-member partition lists into the result map, sorting each list
/// and including every member.
fn into_assignments(
    members: &[&GroupMember],
    mut lists: Vec<Vec<TopicPartition>>,
) -> BTreeMap<String, Assignment> {
    let mut out = BTreeMap::new();
    for (i, m) in members.iter().enumerate() {
        let mut partitions = lists.get_mut(i).map(std::mem::take).unwrap_or_default();
        partitions.sort();
        partitions.dedup();
        out.insert(
            m.member_id.clone(),
            Assignment {
                partitions,
                user_data: None,
            },
        );
    }
    out
}
