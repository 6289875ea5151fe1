//! The eager `sticky` assignor (KIP-54) and what it shares with
//! `cooperative-sticky`.

pub(super) mod balance;
pub mod user_data;

use std::collections::BTreeMap;

use bytes::Bytes;

use super::{Assignment, Assignor, GroupMember, Subscription, into_assignments, sorted_members};
use crate::TopicPartition;
use balance::{Claim, sticky_assignment};
use user_data::{decode_sticky_user_data, encode_sticky_user_data};

/// Java's `StickyAssignor`: a balanced assignment (partition counts differ
/// by at most one when subscriptions are equal) that moves as few
/// partitions as possible from their previous owners. Eager: members revoke
/// everything before rejoining, so previous ownership travels in the user
/// data ([`StickyUserData`](super::StickyUserData)).
///
/// Stateless: the previous assignment comes from each member's
/// subscription, not from memory, so a newly elected leader assigns as well
/// as the old one did.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sticky;

impl Assignor for Sticky {
    fn name(&self) -> &str {
        "sticky"
    }

    /// Java's `StickyAssignorUserData` v1 (previous assignment and its
    /// generation), so Java and librdkafka leaders can be sticky for this
    /// member too; none before the member's first assignment.
    fn subscription_user_data(
        &self,
        _topics: &[String],
        owned: &[TopicPartition],
        generation: Option<i32>,
    ) -> Option<Bytes> {
        if owned.is_empty() && generation.is_none() {
            return None;
        }
        match encode_sticky_user_data(owned, Some(generation.unwrap_or(-1))) {
            Ok(data) => Some(data),
            Err(e) => {
                // Only an impossible topic name gets here; joining without
                // stickiness beats not joining.
                tracing::warn!(error = %e, "cannot encode sticky assignor user data");
                None
            }
        }
    }

    fn assign(
        &self,
        partitions_per_topic: &BTreeMap<String, i32>,
        members: &[GroupMember],
    ) -> crate::Result<BTreeMap<String, Assignment>> {
        let members = sorted_members(members)?;
        let claims: Vec<Claim> = members
            .iter()
            .map(|m| eager_claim(&m.member_id, &m.subscription))
            .collect();
        let lists = sticky_assignment(partitions_per_topic, &members, &claims);
        Ok(into_assignments(&members, lists))
    }
}

/// What a sticky member owned before: the subscription's owned partitions
/// when it sends them (a kafkit member may), else the previous assignment in
/// its user data. Unreadable user data is ignored, as Java does: one member's
/// garbage must not stop the whole group from rebalancing.
fn eager_claim(member_id: &str, subscription: &Subscription) -> Claim {
    let from_user_data = subscription
        .user_data
        .as_ref()
        .filter(|d| !d.is_empty())
        .and_then(|d| match decode_sticky_user_data(d) {
            Ok(decoded) => Some(decoded),
            Err(e) => {
                tracing::warn!(member_id, error = %e, "ignoring unreadable sticky user data");
                None
            }
        });
    if !subscription.owned_partitions.is_empty() {
        let generation = subscription
            .generation_id
            .or_else(|| from_user_data.as_ref().and_then(|d| d.generation));
        return Claim {
            partitions: subscription.owned_partitions.clone(),
            generation: generation.unwrap_or(-1),
        };
    }
    match from_user_data {
        Some(d) => Claim {
            partitions: d.partitions,
            generation: d.generation.unwrap_or(-1),
        },
        None => Claim::default_generation(),
    }
}

impl Claim {
    /// No claim, at Java's `DEFAULT_GENERATION`.
    pub(super) fn default_generation() -> Claim {
        Claim {
            partitions: Vec::new(),
            generation: -1,
        }
    }
}
