//! cooperative-sticky: the two-step hand-over of KIP-429.

use proptest::prelude::*;

use super::properties::{Group, assert_java_balanced, group, shuffled};
use super::sticky_helpers::owned_by;
use super::*;

/// `g`'s members owning `owned[i]` at `generation`, as cooperative members
/// report it (subscription v2+: owned partitions and generation fields).
fn owning(g: &Group, owned: &[Vec<TopicPartition>], generation: Option<i32>) -> Vec<GroupMember> {
    g.members
        .iter()
        .zip(owned)
        .map(|(m, o)| {
            let mut m = m.clone();
            m.subscription.owned_partitions = o.clone();
            m.subscription.generation_id = generation;
            m
        })
        .collect()
}

/// Checks one cooperative round: valid, nobody is given a partition it does
/// not own while another member still owns it, and anything left unassigned is owned by some
/// member (so it is waiting to be revoked, not forgotten).
fn check_round(g: &Group, members: &[GroupMember], result: &BTreeMap<String, Assignment>) {
    let assigned = check_valid(result, members);
    for m in members {
        for tp in &result[&m.member_id].partitions {
            for other in members {
                assert!(
                    m.subscription.owned_partitions.contains(tp)
                        || !other.subscription.owned_partitions.contains(tp),
                    "{tp} given to {} while {} still owns it",
                    m.member_id,
                    other.member_id
                );
            }
        }
    }
    for tp in expected_partitions(&g.topics, &g.members).difference(&assigned) {
        assert!(
            members
                .iter()
                .any(|m| m.subscription.owned_partitions.contains(tp)),
            "{tp} left unassigned though nobody owns it"
        );
    }
}

/// Runs rebalances from `owned` until nothing is withheld; each member
/// revokes what its assignment lacks and reports the rest. Returns the
/// final assignment and the number of rounds.
fn run_until_stable(
    g: &Group,
    mut owned: Vec<Vec<TopicPartition>>,
) -> (BTreeMap<String, Assignment>, usize) {
    let want = expected_partitions(&g.topics, &g.members);
    for round in 1..=6 {
        let members = owning(g, &owned, Some(round as i32));
        let got = CooperativeSticky.assign(&g.topics, &members).unwrap();
        check_round(g, &members, &got);
        if check_valid(&got, &members) == want {
            return (got, round);
        }
        owned = g
            .members
            .iter()
            .map(|m| got[&m.member_id].partitions.clone())
            .collect();
    }
    panic!("no stable assignment after 6 rebalances");
}

proptest! {
    /// Equal subscriptions from any previous ownership: the first round
    /// withholds only partitions owned by someone else, the second
    /// completes the balanced assignment, and a third changes nothing.
    #[test]
    fn two_rounds_complete_equal_subscriptions(
        g in group(true),
        owners in prop::collection::vec(any::<u8>(), 1..40),
        seed in any::<u64>(),
    ) {
        let owned = owned_by(&g, &owners);
        let first_members = owning(&g, &owned, Some(4));
        let first = CooperativeSticky.assign(&g.topics, &first_members).unwrap();
        check_round(&g, &first_members, &first);
        prop_assert_eq!(&first, &CooperativeSticky.assign(&g.topics, &shuffled(&first_members, seed)).unwrap());
        // Members keep what they owned unless balance needs it elsewhere,
        // and the first round already gives out every unowned partition.
        let (done, rounds) = run_until_stable(&g, owned);
        prop_assert!(rounds <= 2, "took {rounds} rounds");
        prop_assert!(spread(&done) <= 1, "{:?}", counts(&done));
        let settled: Vec<Vec<TopicPartition>> =
            g.members.iter().map(|m| done[&m.member_id].partitions.clone()).collect();
        let again = CooperativeSticky.assign(&g.topics, &owning(&g, &settled, Some(9))).unwrap();
        prop_assert_eq!(again, done);
    }

    /// Any subscriptions: every round is safe and the group settles on a
    /// Java-balanced assignment within a few rebalances.
    #[test]
    fn any_subscriptions_settle_safely(
        g in group(false),
        owners in prop::collection::vec(any::<u8>(), 1..40),
    ) {
        let (done, _) = run_until_stable(&g, owned_by(&g, &owners));
        assert_java_balanced(&done, &g.members);
    }
}

#[test]
fn a_joining_member_gets_partitions_after_they_are_revoked() {
    let t = topics(&[("t", 4)]);
    let mut a = member("a", &["t"]);
    a.subscription.owned_partitions = tps(&[("t", 0), ("t", 1)]);
    a.subscription.generation_id = Some(3);
    let mut b = member("b", &["t"]);
    b.subscription.owned_partitions = tps(&[("t", 2), ("t", 3)]);
    b.subscription.generation_id = Some(3);
    let c = member("c", &["t"]);

    // Round 1: the target is 2/1/1; the partition moving to "c" is first
    // taken from its owner and given to nobody.
    let first = CooperativeSticky
        .assign(&t, &[a.clone(), b.clone(), c.clone()])
        .unwrap();
    assert_eq!(first["c"].partitions, vec![]);
    let kept: usize = first.values().map(|x| x.partitions.len()).sum();
    assert_eq!(kept, 3);
    let revoked: Vec<TopicPartition> = tps(&[("t", 0), ("t", 1), ("t", 2), ("t", 3)])
        .into_iter()
        .filter(|tp| !first.values().any(|x| x.partitions.contains(tp)))
        .collect();
    assert_eq!(revoked.len(), 1);

    // Round 2: owners report what they kept; "c" gets the revoked one.
    a.subscription.owned_partitions = first["a"].partitions.clone();
    b.subscription.owned_partitions = first["b"].partitions.clone();
    for m in [&mut a, &mut b] {
        m.subscription.generation_id = Some(4);
    }
    let second = CooperativeSticky.assign(&t, &[a, b, c]).unwrap();
    assert_eq!(second["c"].partitions, revoked);
    assert_eq!(second["a"].partitions, first["a"].partitions);
    assert_eq!(second["b"].partitions, first["b"].partitions);
}

#[test]
fn generation_comes_from_user_data_for_old_subscriptions() {
    // Subscription v1 has owned partitions but no generation field; Java's
    // cooperative-sticky then puts the generation in the user data.
    let data = CooperativeSticky
        .subscription_user_data(&["t".into()], &[], Some(12))
        .unwrap();
    assert_eq!(data.as_ref(), [0, 0, 0, 12]);
    assert_eq!(
        CooperativeSticky
            .subscription_user_data(&["t".into()], &[], None)
            .unwrap()
            .as_ref(),
        (-1i32).to_be_bytes()
    );

    // "old" claims t-0 at generation 2 (from user data); "new" claims it at
    // generation 12. The higher generation keeps it; "old" is not given it.
    let mut stale = member("old", &["t"]);
    stale.subscription.owned_partitions = tps(&[("t", 0)]);
    stale.subscription.user_data = Some(Bytes::from_static(&[0, 0, 0, 2]));
    let mut current = member("new", &["t"]);
    current.subscription.owned_partitions = tps(&[("t", 0)]);
    current.subscription.user_data = Some(data);
    let got = CooperativeSticky
        .assign(&topics(&[("t", 2)]), &[stale, current])
        .unwrap();
    assert_eq!(got["new"].partitions, tps(&[("t", 0)]));
    // t-1 is unowned and goes to the other member at once.
    assert_eq!(got["old"].partitions, tps(&[("t", 1)]));
}

#[test]
fn a_partition_claimed_twice_never_goes_to_a_third_member() {
    // "a" and "b" both claim t-0 in generation 5, so the claim is void and
    // the target is computed as if t-0 were free: it goes to the least
    // loaded member. "c" (owning nothing) would get it, but may not while
    // others own it; "a" and "b" revoke it on seeing their assignments.
    let mut a = member("a", &["t"]);
    a.subscription.owned_partitions = tps(&[("t", 0), ("t", 1)]);
    a.subscription.generation_id = Some(5);
    let mut b = member("b", &["t"]);
    b.subscription.owned_partitions = tps(&[("t", 0), ("t", 2)]);
    b.subscription.generation_id = Some(5);
    let c = member("c", &["t"]);
    let got = CooperativeSticky
        .assign(&topics(&[("t", 3)]), &[a, b, c])
        .unwrap();
    assert_eq!(got["a"].partitions, tps(&[("t", 1)]));
    assert_eq!(got["b"].partitions, tps(&[("t", 2)]));
    assert_eq!(got["c"].partitions, vec![]);
}
