//! The `cooperative-sticky` assignor (KIP-429): the sticky target, handed
//! over in two rebalances so no partition is ever owned by two members.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use super::sticky::balance::{Claim, sticky_assignment};
use super::sticky::user_data::{decode_cooperative_user_data, encode_cooperative_user_data};
use super::{
    Assignment, Assignor, GroupMember, RebalanceProtocol, Subscription, into_assignments,
    sorted_members,
};
use crate::TopicPartition;

/// Java's `CooperativeStickyAssignor`.
///
/// Members keep consuming their partitions while they rejoin and report
/// them as owned partitions. The leader computes the same balanced, sticky
/// target as [`Sticky`](super::Sticky), then withholds every partition that
/// goes to a member other than one that currently owns it: the owner first
/// sees it missing from its assignment and revokes it, then rejoins with
/// the smaller owned set, and the next rebalance hands the (now unowned)
/// partition to its new member.
///
/// Exactly as Java's `CooperativeStickyAssignor` decides it, a partition is
/// withheld from a member that does not own it whenever some other member
/// lists it as owned, whatever that member's generation: the new owner must
/// wait until every current owner has revoked it. A member that already
/// owns a partition keeps it even if a stale or conflicting claim exists;
/// the other claimants see it missing from their assignments and revoke it.
#[derive(Debug, Clone, Copy, Default)]
pub struct CooperativeSticky;

impl Assignor for CooperativeSticky {
    fn name(&self) -> &str {
        "cooperative-sticky"
    }

    fn rebalance_protocol(&self) -> RebalanceProtocol {
        RebalanceProtocol::Cooperative
    }

    /// The generation alone as a big-endian `i32` (-1 before the first
    /// assignment), which is what Java writes; the owned partitions travel
    /// in the subscription itself.
    fn subscription_user_data(
        &self,
        _topics: &[String],
        _owned: &[TopicPartition],
        generation: Option<i32>,
    ) -> Option<Bytes> {
        Some(encode_cooperative_user_data(generation))
    }

    fn assign(
        &self,
        partitions_per_topic: &BTreeMap<String, i32>,
        members: &[GroupMember],
    ) -> crate::Result<BTreeMap<String, Assignment>> {
        let members = sorted_members(members)?;
        let claims: Vec<Claim> = members
            .iter()
            .map(|m| cooperative_claim(&m.subscription))
            .collect();
        let mut lists = sticky_assignment(partitions_per_topic, &members, &claims);

        // Who lists each partition as owned right now.
        let mut owners: BTreeMap<&TopicPartition, BTreeSet<usize>> = BTreeMap::new();
        for (i, m) in members.iter().enumerate() {
            for tp in &m.subscription.owned_partitions {
                owners.entry(tp).or_default().insert(i);
            }
        }
        for (i, list) in lists.iter_mut().enumerate() {
            list.retain(|tp| owners.get(tp).is_none_or(|o| o.contains(&i)));
        }
        Ok(into_assignments(&members, lists))
    }
}

/// What a cooperative member owns: its subscription's owned partitions, at
/// the subscription's generation (v2+) or, for older subscriptions, the
/// generation in its user data (Java's fallback; unreadable counts as -1).
fn cooperative_claim(subscription: &Subscription) -> Claim {
    let generation = subscription.generation_id.unwrap_or_else(|| {
        subscription
            .user_data
            .as_deref()
            .map_or(-1, decode_cooperative_user_data)
    });
    Claim {
        partitions: subscription.owned_partitions.clone(),
        generation,
    }
}
