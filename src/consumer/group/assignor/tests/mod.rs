//! Tests of the assignors and the consumer protocol encoding.
//!
//! `examples` checks the cases documented for Java's assignors, `properties`
//! the invariants every assignor must keep on random groups, `sticky` and
//! `cooperative` the movement and hand-over rules, `wire` the encodings.

mod cooperative;
mod examples;
mod properties;
mod sticky;
mod wire;

/// Helpers shared by the sticky and cooperative tests.
mod sticky_helpers {
    use super::properties::Group;
    use super::*;

    /// Partition ownership drawn from `owners`: each subscribed partition
    /// goes to member `owner % (n + 1)`, or to nobody when that is `n`.
    pub(super) fn owned_by(g: &Group, owners: &[u8]) -> Vec<Vec<TopicPartition>> {
        let mut owned = vec![Vec::new(); g.members.len()];
        let n = g.members.len();
        for (tp, &o) in expected_partitions(&g.topics, &g.members)
            .into_iter()
            .zip(owners.iter().cycle())
        {
            let o = usize::from(o) % (n + 1);
            if let Some(list) = owned.get_mut(o) {
                list.push(tp);
            }
        }
        owned
    }
}

use std::collections::{BTreeMap, BTreeSet};

use super::*;

/// A dynamic member subscribed to `topics`.
fn member(id: &str, topics: &[&str]) -> GroupMember {
    GroupMember {
        member_id: id.to_owned(),
        group_instance_id: None,
        subscription: Subscription {
            topics: topics.iter().map(|t| (*t).to_owned()).collect(),
            ..Subscription::default()
        },
    }
}

/// Partition counts by topic.
fn topics(counts: &[(&str, i32)]) -> BTreeMap<String, i32> {
    counts.iter().map(|(t, n)| ((*t).to_owned(), *n)).collect()
}

/// Partitions from `(topic, partition)` pairs, sorted like an assignment.
fn tps(list: &[(&str, i32)]) -> Vec<TopicPartition> {
    let mut v: Vec<TopicPartition> = list
        .iter()
        .map(|(t, p)| TopicPartition::new(*t, *p))
        .collect();
    v.sort();
    v
}

/// Each member's partitions, by member id.
fn lists(result: &BTreeMap<String, Assignment>) -> BTreeMap<String, Vec<TopicPartition>> {
    result
        .iter()
        .map(|(id, a)| (id.clone(), a.partitions.clone()))
        .collect()
}

/// Every partition that should be assigned: those of topics some member
/// subscribes to and metadata knows.
fn expected_partitions(
    partitions_per_topic: &BTreeMap<String, i32>,
    members: &[GroupMember],
) -> BTreeSet<TopicPartition> {
    let subscribed: BTreeSet<&str> = members
        .iter()
        .flat_map(|m| m.subscription.topics.iter().map(String::as_str))
        .collect();
    partitions_per_topic
        .iter()
        .filter(|(t, _)| subscribed.contains(t.as_str()))
        .flat_map(|(t, &n)| (0..n.max(0)).map(move |p| TopicPartition::new(t.as_str(), p)))
        .collect()
}

/// Checks that no partition goes to two members, that each goes only to a
/// member subscribed to its topic, that every member has an entry, and
/// returns the assigned set.
fn check_valid(
    result: &BTreeMap<String, Assignment>,
    members: &[GroupMember],
) -> BTreeSet<TopicPartition> {
    assert_eq!(result.len(), members.len(), "one entry per member");
    let mut seen = BTreeSet::new();
    for m in members {
        let a = &result[&m.member_id];
        assert!(a.partitions.is_sorted(), "sorted: {:?}", a.partitions);
        for tp in &a.partitions {
            assert!(
                m.subscription.topics.iter().any(|t| **t == *tp.topic),
                "{tp} given to {} which does not subscribe to it",
                m.member_id
            );
            assert!(seen.insert(tp.clone()), "{tp} assigned twice");
        }
    }
    seen
}

/// Partition counts per member.
fn counts(result: &BTreeMap<String, Assignment>) -> Vec<usize> {
    result.values().map(|a| a.partitions.len()).collect()
}

/// max − min of the partition counts.
fn spread(result: &BTreeMap<String, Assignment>) -> usize {
    let c = counts(result);
    c.iter().max().unwrap_or(&0) - c.iter().min().unwrap_or(&0)
}
