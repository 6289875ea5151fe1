//! The leader's job: run the group's assignor over every member's
//! subscription.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::client::Client;
use crate::consumer::assignor::wire::{MAX_VERSION, decode_subscription, encode_assignment};
use crate::consumer::assignor::{Assignment, Assignor, GroupMember};
use crate::consumer::group::machine::{JoinedMember, MemberAssignment};
use crate::error::Context;
use crate::metadata::ClusterMetadata;
use crate::{Error, Result};

/// Partition counts of topics, as the leader saw them when it assigned
/// (Java's assignment snapshot): a change means the leader must rebalance.
pub(super) type TopicCounts = BTreeMap<String, i32>;

/// What the leader computed: every member's encoded assignment, and the
/// metadata it was computed from.
pub(super) struct Computed {
    pub assignments: Vec<MemberAssignment>,
    pub counts: TopicCounts,
}

/// Decodes the members' subscriptions, fetches the partition counts of
/// every topic any member subscribed to, runs the assignor the group chose
/// and encodes each member's share.
pub(super) async fn compute(
    client: Client,
    assignors: Vec<Arc<dyn Assignor>>,
    protocol_name: String,
    members: Vec<JoinedMember>,
) -> Result<Computed> {
    let assignor = assignors
        .iter()
        .find(|a| a.name() == protocol_name)
        .cloned()
        .ok_or_else(|| {
            Error::protocol(
                format!(
                    "the group chose assignor {protocol_name:?}, which this member does not offer"
                ),
                Context::api("JoinGroup"),
            )
        })?;
    let members = decode_members(members)?;
    let topics: BTreeSet<&str> = members
        .iter()
        .flat_map(|m| m.subscription.topics.iter().map(String::as_str))
        .collect();
    let topics: Vec<&str> = topics.into_iter().collect();
    // Partition counts as of now, not as of the last periodic refresh (as
    // librdkafka's leader does): an assignment from a stale count leaves
    // new partitions unconsumed until the next metadata change. The cached
    // snapshot serves if the refresh fails.
    let cached = client.metadata_for(&topics).await?;
    let metadata = client.refresh_metadata().await.unwrap_or(cached);
    let counts = partition_counts(&metadata, &topics);
    let assigned = assignor.assign(&counts, &members)?;
    let assignments = encode_all(&members, assigned)?;
    tracing::debug!(
        assignor = assignor.name(),
        members = members.len(),
        topics = counts.len(),
        "assignment computed"
    );
    Ok(Computed {
        assignments,
        counts,
    })
}

fn decode_members(members: Vec<JoinedMember>) -> Result<Vec<GroupMember>> {
    members
        .into_iter()
        .map(|m| {
            let subscription = decode_subscription(m.metadata)?;
            Ok(GroupMember {
                member_id: m.member_id,
                group_instance_id: m.group_instance_id,
                subscription,
            })
        })
        .collect()
}

/// The partition counts of `topics` that metadata knows (topics in error
/// or absent are left out, so the assignor skips them).
pub(super) fn partition_counts(metadata: &ClusterMetadata, topics: &[&str]) -> TopicCounts {
    topics
        .iter()
        .filter_map(|t| {
            let tm = metadata.topic(t)?;
            let n = i32::try_from(tm.partitions.len()).ok()?;
            (n > 0).then(|| ((*t).to_owned(), n))
        })
        .collect()
}

/// One encoded assignment per member, in the members' order; a member the
/// assignor left out gets an empty one (Java sends every member one).
fn encode_all(
    members: &[GroupMember],
    mut assigned: BTreeMap<String, Assignment>,
) -> Result<Vec<MemberAssignment>> {
    members
        .iter()
        .map(|m| {
            let assignment = assigned.remove(&m.member_id).unwrap_or_default();
            Ok(MemberAssignment {
                member_id: m.member_id.clone(),
                assignment: encode_assignment(&assignment, MAX_VERSION)?,
            })
        })
        .collect()
}
