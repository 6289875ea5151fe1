//! The eager sticky assignor: minimum movement, generations, user data.

use proptest::prelude::*;

use super::properties::{Group, group, shuffled};
use super::*;

/// `g`'s members reporting `previous` (partition → member index) the way
/// eager sticky members do: in their user data, at `generation`.
fn reporting(
    g: &Group,
    previous: &BTreeMap<TopicPartition, usize>,
    generation: i32,
) -> Vec<GroupMember> {
    g.members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let owned: Vec<TopicPartition> = previous
                .iter()
                .filter(|(_, o)| **o == i)
                .map(|(tp, _)| tp.clone())
                .collect();
            let mut m = m.clone();
            m.subscription.user_data =
                Sticky.subscription_user_data(&m.subscription.topics, &owned, Some(generation));
            m
        })
        .collect()
}

/// Previously owned partitions (by resolved owner) that moved elsewhere.
fn moved(
    previous: &BTreeMap<TopicPartition, usize>,
    members: &[GroupMember],
    result: &BTreeMap<String, Assignment>,
) -> usize {
    previous
        .iter()
        .filter(|(tp, o)| {
            members
                .get(**o)
                .is_some_and(|m| !result[&m.member_id].partitions.contains(tp))
        })
        .count()
}

/// The fewest previously owned partitions that must move to reach counts
/// within one of each other when all members subscribe to everything:
/// members above the larger quota give back the excess, and if more members
/// hold at least the larger quota than may keep it, the extra ones give back
/// one more each.
fn movement_lower_bound(kept: &[usize], total: usize) -> usize {
    let n = kept.len();
    let (floor, extra) = (total / n, total % n);
    let ceil = floor + usize::from(extra > 0);
    let over: usize = kept.iter().map(|&k| k.saturating_sub(ceil)).sum();
    let at_ceil = kept.iter().filter(|&&k| k >= ceil).count();
    over + if extra > 0 {
        at_ceil.saturating_sub(extra)
    } else {
        0
    }
}

fn random_previous(g: &Group, owners: &[u8]) -> BTreeMap<TopicPartition, usize> {
    expected_partitions(&g.topics, &g.members)
        .into_iter()
        .zip(owners.iter().cycle())
        .filter_map(|(tp, &o)| {
            let o = usize::from(o) % (g.members.len() + 1);
            (o < g.members.len()).then_some((tp, o))
        })
        .collect()
}

proptest! {
    /// From any previous assignment, with equal subscriptions: balanced,
    /// complete, and exactly the minimum number of moves.
    #[test]
    fn equal_subscriptions_move_the_minimum(
        g in group(true),
        owners in prop::collection::vec(any::<u8>(), 1..40),
        seed in any::<u64>(),
    ) {
        let previous = random_previous(&g, &owners);
        let members = reporting(&g, &previous, 3);
        let got = Sticky.assign(&g.topics, &members).unwrap();
        let total = check_valid(&got, &members).len();
        prop_assert_eq!(total, expected_partitions(&g.topics, &g.members).len());
        prop_assert!(spread(&got) <= 1, "{:?}", counts(&got));
        let kept: Vec<usize> = (0..members.len())
            .map(|i| previous.values().filter(|&&o| o == i).count())
            .collect();
        prop_assert_eq!(moved(&previous, &members, &got), movement_lower_bound(&kept, total));
        prop_assert_eq!(&got, &Sticky.assign(&g.topics, &shuffled(&members, seed)).unwrap());
    }

    /// A member leaving a balanced group: the others keep every partition,
    /// so only the leaver's partitions move.
    #[test]
    fn only_the_leavers_partitions_move(g in group(true), leaver in any::<prop::sample::Index>()) {
        prop_assume!(g.members.len() >= 2);
        let first = Sticky.assign(&g.topics, &g.members).unwrap();
        let sorted = sorted_members(&g.members).unwrap();
        let previous: BTreeMap<TopicPartition, usize> = g.members.iter().enumerate()
            .flat_map(|(i, m)| first[&m.member_id].partitions.iter().map(move |tp| (tp.clone(), i)))
            .collect();
        let mut members = reporting(&g, &previous, 1);
        let gone = leaver.index(members.len());
        let left_id = members.remove(gone).member_id;
        prop_assert!(sorted.iter().any(|m| m.member_id == left_id));
        let second = Sticky.assign(&g.topics, &members).unwrap();
        for m in &members {
            for tp in &first[&m.member_id].partitions {
                prop_assert!(second[&m.member_id].partitions.contains(tp), "{} lost {}", m.member_id, tp);
            }
        }
        prop_assert!(spread(&second) <= 1);
        check_valid(&second, &members);
    }

    /// A member joining a balanced group: exactly the partitions the new
    /// member gets move, and that is the minimum.
    #[test]
    fn a_joiner_takes_only_what_balance_needs(g in group(true)) {
        let first = Sticky.assign(&g.topics, &g.members).unwrap();
        let previous: BTreeMap<TopicPartition, usize> = g.members.iter().enumerate()
            .flat_map(|(i, m)| first[&m.member_id].partitions.iter().map(move |tp| (tp.clone(), i)))
            .collect();
        let mut members = reporting(&g, &previous, 1);
        let mut joiner = member("zz-joiner", &[]);
        joiner.subscription.topics = g.members[0].subscription.topics.clone();
        members.push(joiner);
        let second = Sticky.assign(&g.topics, &members).unwrap();
        let total = check_valid(&second, &members).len();
        prop_assert!(spread(&second) <= 1);
        let mut kept: Vec<usize> = (0..members.len() - 1)
            .map(|i| previous.values().filter(|&&o| o == i).count())
            .collect();
        kept.push(0);
        let moved = moved(&previous, &members, &second);
        prop_assert_eq!(moved, second["zz-joiner"].partitions.len());
        prop_assert_eq!(moved, movement_lower_bound(&kept, total));
    }

    /// Sticky user data round-trips in Java's v1 layout, and v0 (no
    /// generation) decodes with no generation.
    #[test]
    fn user_data_round_trips(
        parts in prop::collection::btree_set(("[a-z._-]{0,12}", any::<i32>()), 0..20),
        generation in prop::option::of(any::<i32>()),
    ) {
        let partitions: Vec<TopicPartition> =
            parts.iter().map(|(t, p)| TopicPartition::new(t.as_str(), *p)).collect();
        let data = encode_sticky_user_data(&partitions, generation).unwrap();
        let back = decode_sticky_user_data(&data).unwrap();
        prop_assert_eq!(back.partitions, partitions);
        prop_assert_eq!(back.generation, generation);
    }

    /// Garbage and truncated user data never panic; what decodes holds no
    /// more partitions than four bytes each could carry.
    #[test]
    fn garbage_user_data_is_harmless(data in prop::collection::vec(any::<u8>(), 0..200), cut in any::<prop::sample::Index>()) {
        if let Ok(d) = decode_sticky_user_data(&data) {
            prop_assert!(d.partitions.len() * 4 <= data.len());
        }
        let valid = encode_sticky_user_data(
            &tps(&[("topic", 0), ("topic", 5), ("other", 2)]), Some(9)).unwrap();
        let cut = cut.index(valid.len());
        let _ = decode_sticky_user_data(&valid[..cut]);
        // A group whose member sends garbage still gets assigned.
        let mut m = member("a", &["topic"]);
        m.subscription.user_data = Some(Bytes::from(data));
        let got = Sticky.assign(&topics(&[("topic", 3)]), &[m, member("b", &["topic"])]).unwrap();
        prop_assert_eq!(check_valid(&got, &[member("a", &["topic"]), member("b", &["topic"])]).len(), 3);
    }
}

#[test]
fn user_data_is_javas_layout() {
    // [{topic "t", partitions [0, 1]}], generation 7: array count, i16
    // length and name, partition count and partitions, then the generation.
    let data = encode_sticky_user_data(&tps(&[("t", 1), ("t", 0)]), Some(7)).unwrap();
    assert_eq!(
        data.as_ref(),
        [
            0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 7
        ]
    );
    // Without the generation it is v0, which decodes with none.
    let v0 = &data[..data.len() - 4];
    let back = decode_sticky_user_data(v0).unwrap();
    assert_eq!(back.partitions, tps(&[("t", 0), ("t", 1)]));
    assert_eq!(back.generation, None);
}

#[test]
fn impossible_counts_in_user_data_are_refused() {
    // Two billion topic entries in four bytes.
    assert!(decode_sticky_user_data(&[0x7f, 0xff, 0xff, 0xff]).is_err());
    // One entry claiming a billion partitions.
    assert!(decode_sticky_user_data(&[0, 0, 0, 1, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0]).is_err());
    assert!(decode_sticky_user_data(&[0xff, 0xff, 0xff, 0xff]).is_err());
}

#[test]
fn no_user_data_before_the_first_assignment() {
    assert_eq!(
        Sticky.subscription_user_data(&["t".into()], &[], None),
        None
    );
    let after = Sticky
        .subscription_user_data(&["t".into()], &[], Some(4))
        .unwrap();
    assert_eq!(decode_sticky_user_data(&after).unwrap().generation, Some(4));
}

/// A member subscribed to `t` whose sticky user data claims `claimed` at
/// `generation`.
fn claiming(id: &str, claimed: &[i32], generation: i32) -> GroupMember {
    let mut m = member(id, &["t"]);
    let owned: Vec<TopicPartition> = claimed
        .iter()
        .map(|&p| TopicPartition::new("t", p))
        .collect();
    m.subscription.user_data = Some(encode_sticky_user_data(&owned, Some(generation)).unwrap());
    m
}

#[test]
fn a_higher_generation_wins_a_conflicting_claim() {
    // "a" was out of the group and still reports generation 4's partitions;
    // "b" got t-0 and t-1 in generation 5. b's claim stands.
    let got = Sticky
        .assign(
            &topics(&[("t", 4)]),
            &[claiming("a", &[0, 1, 2, 3], 4), claiming("b", &[0, 1], 5)],
        )
        .unwrap();
    assert_eq!(got["b"].partitions, tps(&[("t", 0), ("t", 1)]));
    assert_eq!(got["a"].partitions, tps(&[("t", 2), ("t", 3)]));
}

#[test]
fn a_partition_claimed_twice_in_one_generation_belongs_to_neither() {
    // Both claim t-1 in generation 5: the claim is void (Java logs it and
    // drops it from both), so t-1 is assigned like a new partition. "a"
    // keeps t-0; the free t-1, t-2, t-3 go to the least loaded in turn.
    let got = Sticky
        .assign(
            &topics(&[("t", 4)]),
            &[claiming("a", &[0, 1], 5), claiming("b", &[1], 5)],
        )
        .unwrap();
    assert_eq!(got["a"].partitions, tps(&[("t", 0), ("t", 2)]));
    assert_eq!(got["b"].partitions, tps(&[("t", 1), ("t", 3)]));
}

#[test]
fn owned_partitions_are_used_when_a_member_sends_them() {
    // A kafkit member may report ownership in the subscription (v1+)
    // rather than in user data; the generation comes from the subscription.
    let mut a = member("a", &["t"]);
    a.subscription.owned_partitions = tps(&[("t", 2), ("t", 3)]);
    a.subscription.generation_id = Some(8);
    let b = claiming("b", &[2, 3], 7);
    let got = Sticky.assign(&topics(&[("t", 4)]), &[a, b]).unwrap();
    assert_eq!(got["a"].partitions, tps(&[("t", 2), ("t", 3)]));
    assert_eq!(got["b"].partitions, tps(&[("t", 0), ("t", 1)]));
}

#[test]
fn claims_on_unsubscribed_or_vanished_partitions_are_dropped() {
    // "a" claims t-5 (the topic shrank to 2 partitions) and u-0 (it no longer
    // subscribes to u; "b" does).
    let mut a = member("a", &["t"]);
    a.subscription.user_data =
        Some(encode_sticky_user_data(&tps(&[("t", 5), ("u", 0), ("t", 1)]), Some(3)).unwrap());
    let b = member("b", &["t", "u"]);
    let got = Sticky
        .assign(&topics(&[("t", 2), ("u", 1)]), &[a, b])
        .unwrap();
    // u-0 only "b" may take, so it goes first; t-0 then breaks the 1-1 tie
    // by member order.
    assert_eq!(got["a"].partitions, tps(&[("t", 0), ("t", 1)]));
    assert_eq!(got["b"].partitions, tps(&[("u", 0)]));
}
