//! The `roundrobin` assignor (Java's `RoundRobinAssignor`).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{
    Assignment, Assignor, GroupMember, into_assignments, partition_count, sorted_members,
    subscribed_topics,
};
use crate::TopicPartition;

/// Deals all partitions of all subscribed topics, sorted by topic then
/// partition, to the members in Java's member order like cards, skipping a
/// member whose subscription lacks the partition's topic.
///
/// With identical subscriptions the counts differ by at most one; with
/// different subscriptions it can be unbalanced (Java documents the same).
#[derive(Debug, Clone, Copy, Default)]
pub struct RoundRobin;

impl Assignor for RoundRobin {
    fn name(&self) -> &str {
        "roundrobin"
    }

    fn assign(
        &self,
        partitions_per_topic: &BTreeMap<String, i32>,
        members: &[GroupMember],
    ) -> crate::Result<BTreeMap<String, Assignment>> {
        let members = sorted_members(members)?;
        let (subscribed, all_topics) = subscribed_topics(&members);
        let mut lists: Vec<Vec<TopicPartition>> = vec![Vec::new(); members.len()];

        // The dealer's position: the member that gets the next partition if
        // it is subscribed. It persists across topics, as Java's circular
        // iterator does.
        let mut next = 0usize;
        for topic in all_topics {
            let Some(count) = partition_count(partitions_per_topic, topic) else {
                continue;
            };
            let name: Arc<str> = Arc::from(topic);
            for partition in 0..count {
                // Some member is subscribed (the topic came from one), so
                // this finds one within a full turn.
                let Some(taker) = (0..members.len())
                    .map(|step| (next + step) % members.len())
                    .find(|&i| subscribed[i].contains(topic))
                else {
                    break;
                };
                lists[taker].push(TopicPartition::new(name.clone(), partition));
                next = (taker + 1) % members.len();
            }
        }
        Ok(into_assignments(&members, lists))
    }
}
