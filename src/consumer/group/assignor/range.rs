//! The `range` assignor (Java's `RangeAssignor`, the Java default before
//! 3.0 and still first in its default list).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{
    Assignment, Assignor, GroupMember, into_assignments, partition_count, sorted_members,
    subscribed_topics,
};
use crate::TopicPartition;

/// Assigns each topic on its own: the members subscribed to the topic, in
/// Java's member order, get contiguous ranges of its partitions, and the
/// first `partitions % members` of them one partition more.
///
/// Because every topic is split the same way, members with the same
/// subscription get the same partition numbers of co-partitioned topics
/// (useful for joins), at the price of imbalance across many topics.
///
/// Java 3.5+ (KIP-881) can also place partitions by rack; it does so only
/// when partition racks are known, which this interface (partition counts
/// only) does not carry, and then Java falls back to exactly this.
#[derive(Debug, Clone, Copy, Default)]
pub struct Range;

impl Assignor for Range {
    fn name(&self) -> &str {
        "range"
    }

    fn assign(
        &self,
        partitions_per_topic: &BTreeMap<String, i32>,
        members: &[GroupMember],
    ) -> crate::Result<BTreeMap<String, Assignment>> {
        let members = sorted_members(members)?;
        let (subscribed, all_topics) = subscribed_topics(&members);
        let mut lists: Vec<Vec<TopicPartition>> = vec![Vec::new(); members.len()];

        for topic in all_topics {
            let Some(count) = partition_count(partitions_per_topic, topic) else {
                continue;
            };
            let takers: Vec<usize> = (0..members.len())
                .filter(|&i| subscribed[i].contains(topic))
                .collect();
            let name: Arc<str> = Arc::from(topic);
            // `takers` is non-empty: the topic came from some subscription.
            let per_member = count as usize / takers.len();
            let with_extra = count as usize % takers.len();
            for (rank, &member) in takers.iter().enumerate() {
                let start = per_member * rank + rank.min(with_extra);
                let len = per_member + usize::from(rank < with_extra);
                lists[member].extend(
                    (start..start + len).map(|p| TopicPartition::new(name.clone(), p as i32)),
                );
            }
        }
        Ok(into_assignments(&members, lists))
    }
}
