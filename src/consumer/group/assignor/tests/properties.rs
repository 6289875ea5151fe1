//! Invariants of every assignor on random groups.

use proptest::prelude::*;

use super::examples::all_assignors;
use super::*;

/// A random group: partition counts and members.
#[derive(Debug, Clone)]
pub(super) struct Group {
    pub topics: BTreeMap<String, i32>,
    pub members: Vec<GroupMember>,
}

/// A group of 1..=7 members over up to 4 topics of 0..=8 partitions. With
/// `equal`, every member subscribes to every topic; otherwise each member
/// subscribes to a random non-empty subset. Some members are static.
pub(super) fn group(equal: bool) -> impl Strategy<Value = Group> {
    (
        prop::collection::vec(0i32..=8, 1..=4),
        1usize..=7,
        prop::collection::vec((1u8..16, any::<bool>(), any::<u16>()), 7),
    )
        .prop_map(move |(counts, n, per_member)| {
            let topics: BTreeMap<String, i32> = counts
                .iter()
                .enumerate()
                .map(|(i, &c)| (format!("t{i}"), c))
                .collect();
            let names: Vec<&String> = topics.keys().collect();
            let members = per_member
                .iter()
                .take(n)
                .enumerate()
                .map(|(i, &(mask, is_static, salt))| {
                    let subscribed: Vec<String> = names
                        .iter()
                        .enumerate()
                        .filter(|(t, _)| equal || mask & (1 << t) != 0)
                        .map(|(_, name)| (*name).clone())
                        .collect();
                    let subscribed = if subscribed.is_empty() {
                        vec![names[0].clone()]
                    } else {
                        subscribed
                    };
                    GroupMember {
                        // Salted ids so the sorted order differs from the
                        // creation order.
                        member_id: format!("m{salt:05}-{i}"),
                        group_instance_id: is_static.then(|| format!("i{}", salt % 97)),
                        subscription: Subscription {
                            topics: subscribed,
                            ..Subscription::default()
                        },
                    }
                })
                .collect();
            Group { topics, members }
        })
}

/// `members` in a scrambled order chosen by `seed`.
pub(super) fn shuffled(members: &[GroupMember], seed: u64) -> Vec<GroupMember> {
    let mut v = members.to_vec();
    let mut state = seed | 1;
    for i in (1..v.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        v.swap(i, (state % (i as u64 + 1)) as usize);
    }
    v
}

/// Java's balance criterion: no member holds a partition that a member
/// with at least two fewer partitions could take.
pub(super) fn assert_java_balanced(result: &BTreeMap<String, Assignment>, members: &[GroupMember]) {
    for a in members {
        let from = &result[&a.member_id].partitions;
        for b in members {
            let to = &result[&b.member_id].partitions;
            if from.len() <= to.len() + 1 {
                continue;
            }
            for tp in from {
                assert!(
                    !b.subscription.topics.iter().any(|t| **t == *tp.topic),
                    "{tp} could move from {} ({}) to {} ({})",
                    a.member_id,
                    from.len(),
                    b.member_id,
                    to.len()
                );
            }
        }
    }
}

proptest! {
    /// Every assignor: each subscribed partition exactly once (no owned
    /// partitions, so cooperative-sticky withholds nothing), only to
    /// subscribers, the same result for any member order.
    #[test]
    fn complete_valid_and_order_independent(g in group(false), seed in any::<u64>()) {
        let want = expected_partitions(&g.topics, &g.members);
        for assignor in all_assignors() {
            let got = assignor.assign(&g.topics, &g.members).unwrap();
            prop_assert_eq!(&check_valid(&got, &g.members), &want, "{}", assignor.name());
            let again = assignor.assign(&g.topics, &shuffled(&g.members, seed)).unwrap();
            prop_assert_eq!(&got, &again, "{} depends on member order", assignor.name());
        }
    }

    /// Equal subscriptions: roundrobin and the sticky assignors are within
    /// one partition; range is within one partition per topic.
    #[test]
    fn balanced_for_equal_subscriptions(g in group(true)) {
        for assignor in [&RoundRobin as &dyn Assignor, &Sticky, &CooperativeSticky] {
            let got = assignor.assign(&g.topics, &g.members).unwrap();
            prop_assert!(spread(&got) <= 1, "{}: {:?}", assignor.name(), counts(&got));
        }
        let got = Range.assign(&g.topics, &g.members).unwrap();
        for topic in g.topics.keys() {
            let per: Vec<usize> = got
                .values()
                .map(|a| a.partitions.iter().filter(|tp| *tp.topic == **topic).count())
                .collect();
            let (lo, hi) = (per.iter().min().unwrap(), per.iter().max().unwrap());
            prop_assert!(hi - lo <= 1, "range {topic}: {per:?}");
        }
    }

    /// Unequal subscriptions: the sticky assignors meet Java's balance
    /// criterion.
    #[test]
    fn sticky_is_java_balanced_for_any_subscriptions(g in group(false)) {
        for assignor in [&Sticky as &dyn Assignor, &CooperativeSticky] {
            let got = assignor.assign(&g.topics, &g.members).unwrap();
            assert_java_balanced(&got, &g.members);
        }
    }
}
