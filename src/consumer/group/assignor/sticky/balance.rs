//! The balancing core shared by `sticky` and `cooperative-sticky`: a
//! balanced assignment that keeps as many previous owners as possible.
//!
//! Steps:
//! 1. Resolve who owned each partition before (see [`resolve_owners`]).
//! 2. Keep every partition with its previous owner if the owner is still
//!    subscribed to its topic.
//! 3. Give each remaining partition to the least loaded subscribed member,
//!    most constrained partitions (fewest possible takers) first.
//! 4. While some member A holds a partition that a member B could take and
//!    A has at least two more partitions than B, move one. Moves of
//!    partitions A did not own before are tried first, so stickiness is lost
//!    only when balance needs it.
//!
//! Step 4 stops exactly at Java's balance criterion (no such move left),
//! which for identical subscriptions means counts differ by at most one. Each
//! move lowers the sum of squared counts by at least two, so it terminates.
//! For identical subscriptions the number of previously owned partitions
//! that move is the minimum possible; the tests check it against the bound.
//!
//! Java's `AbstractStickyAssignor` reaches the same two goals by a different
//! search; when several assignments are equally balanced and sticky it may
//! pick another one. That is not an interoperability concern: only the
//! leader runs the assignor, and every member just applies what it is sent.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::super::{GroupMember, partition_count};
use crate::TopicPartition;

/// What one member says it owned before this rebalance.
#[derive(Debug, Clone)]
pub(in crate::consumer::group::assignor) struct Claim {
    /// The partitions it claims.
    pub partitions: Vec<TopicPartition>,
    /// The generation of that ownership; -1 when unknown (Java's
    /// `DEFAULT_GENERATION`).
    pub generation: i32,
}

/// The partitions of all subscribed topics known to metadata, with the
/// members that may take each topic.
struct Universe {
    partitions: Vec<TopicPartition>,
    /// Per partition, the index into `takers`.
    topic_of: Vec<usize>,
    /// Per topic, the members subscribed to it (indices into the sorted
    /// member list), ascending.
    takers: Vec<Vec<usize>>,
    index: BTreeMap<TopicPartition, usize>,
}

impl Universe {
    fn new(partitions_per_topic: &BTreeMap<String, i32>, members: &[&GroupMember]) -> Self {
        let subscribed: Vec<BTreeSet<&str>> = members
            .iter()
            .map(|m| m.subscription.topics.iter().map(String::as_str).collect())
            .collect();
        let all_topics: BTreeSet<&str> = subscribed.iter().flatten().copied().collect();
        let mut u = Universe {
            partitions: Vec::new(),
            topic_of: Vec::new(),
            takers: Vec::new(),
            index: BTreeMap::new(),
        };
        for topic in all_topics {
            let Some(count) = partition_count(partitions_per_topic, topic) else {
                continue;
            };
            let t = u.takers.len();
            u.takers.push(
                (0..members.len())
                    .filter(|&i| subscribed[i].contains(topic))
                    .collect(),
            );
            let name: Arc<str> = Arc::from(topic);
            for p in 0..count {
                let tp = TopicPartition::new(name.clone(), p);
                u.index.insert(tp.clone(), u.partitions.len());
                u.partitions.push(tp);
                u.topic_of.push(t);
            }
        }
        u
    }

    fn may_take(&self, member: usize, partition: usize) -> bool {
        self.takers[self.topic_of[partition]]
            .binary_search(&member)
            .is_ok()
    }
}

/// The previous owner of each partition, by the claims: the one claimant
/// with the highest generation. Claims on unknown partitions are ignored; a
/// partition claimed by two members at its highest generation has no owner
/// (Java: "multiple consumers claiming the same partition in the same
/// generation" are both invalidated); claims from lower generations lose to
/// higher ones (KIP-341, and Java's per-partition rule since 3.x).
fn resolve_owners(universe: &Universe, claims: &[Claim]) -> Vec<Option<usize>> {
    // Per partition: (generation, claimant, contested).
    let mut best: Vec<Option<(i32, usize, bool)>> = vec![None; universe.partitions.len()];
    for (member, claim) in claims.iter().enumerate() {
        let mut seen = BTreeSet::new();
        for tp in &claim.partitions {
            let Some(&p) = universe.index.get(tp) else {
                continue;
            };
            if !seen.insert(p) {
                continue; // a member repeating itself is not a conflict
            }
            best[p] = match best[p] {
                None => Some((claim.generation, member, false)),
                Some((g, _, _)) if claim.generation > g => Some((claim.generation, member, false)),
                Some((g, m, _)) if claim.generation == g => Some((g, m, true)),
                keep => keep,
            };
        }
    }
    best.into_iter()
        .map(|b| b.and_then(|(_, m, contested)| (!contested).then_some(m)))
        .collect()
}

/// The sticky, balanced assignment, as one partition list per member in
/// the order of `members` (which the caller has sorted). `claims` is
/// parallel to `members`.
pub(in crate::consumer::group::assignor) fn sticky_assignment(
    partitions_per_topic: &BTreeMap<String, i32>,
    members: &[&GroupMember],
    claims: &[Claim],
) -> Vec<Vec<TopicPartition>> {
    let universe = Universe::new(partitions_per_topic, members);
    let previous = resolve_owners(&universe, claims);
    let n = members.len();
    let mut held: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
    let mut unassigned = Vec::new();

    for (p, owner) in previous.iter().enumerate() {
        match owner {
            Some(m) if universe.may_take(*m, p) => {
                held[*m].insert(p);
            }
            _ => unassigned.push(p),
        }
    }

    // Most constrained first, so a partition few members can take is not
    // left for a member that already filled up on partitions anyone could
    // take.
    unassigned.sort_by_key(|&p| (universe.takers[universe.topic_of[p]].len(), p));
    for p in unassigned {
        let takers = &universe.takers[universe.topic_of[p]];
        if let Some(&m) = takers.iter().min_by_key(|&&m| (held[m].len(), m)) {
            held[m].insert(p);
        }
    }

    while let Some((p, from, to)) = find_move(&universe, &held, &previous) {
        held[from].remove(&p);
        held[to].insert(p);
    }

    held.into_iter()
        .map(|set| {
            set.into_iter()
                .map(|p| universe.partitions[p].clone())
                .collect()
        })
        .collect()
}

/// A move that improves balance: a partition of a member with at least two
/// more partitions than a member that may take it. Partitions the holder did
/// not own before are preferred (moving them costs no revocation), then the
/// most loaded holders, then the least loaded takers; ties go by member and
/// partition order so the result is deterministic.
fn find_move(
    universe: &Universe,
    held: &[BTreeSet<usize>],
    previous: &[Option<usize>],
) -> Option<(usize, usize, usize)> {
    let min = held.iter().map(BTreeSet::len).min()?;
    let mut by_load: Vec<usize> = (0..held.len()).collect();
    by_load.sort_by_key(|&m| (Reverse(held[m].len()), m));

    for moving_kept in [false, true] {
        for &from in &by_load {
            let load = held[from].len();
            if load < min + 2 {
                break;
            }
            for &p in &held[from] {
                if (previous[p] == Some(from)) != moving_kept {
                    continue;
                }
                let best = universe.takers[universe.topic_of[p]]
                    .iter()
                    .filter(|&&m| m != from)
                    .min_by_key(|&&m| (held[m].len(), m));
                if let Some(&to) = best
                    && held[to].len() + 1 < load
                {
                    return Some((p, from, to));
                }
            }
        }
    }
    None
}
