//! The worked examples of Java's assignor documentation (and KIP-54).

use super::*;

fn by_member(result: &BTreeMap<String, Assignment>) -> Vec<(String, Vec<TopicPartition>)> {
    lists(result).into_iter().collect()
}

#[test]
fn range_two_members_two_topics_of_three() {
    // RangeAssignor javadoc: C0 gets [t0p0, t0p1, t1p0, t1p1], C1 [t0p2, t1p2].
    let members = [member("C0", &["t0", "t1"]), member("C1", &["t0", "t1"])];
    let got = Range
        .assign(&topics(&[("t0", 3), ("t1", 3)]), &members)
        .unwrap();
    assert_eq!(
        by_member(&got),
        vec![
            (
                "C0".into(),
                tps(&[("t0", 0), ("t0", 1), ("t1", 0), ("t1", 1)])
            ),
            ("C1".into(), tps(&[("t0", 2), ("t1", 2)])),
        ]
    );
}

#[test]
fn range_extra_partitions_go_to_the_first_members() {
    // 7 partitions over 3 members: 3, 2, 2, contiguous.
    let members = [
        member("b", &["t"]),
        member("c", &["t"]),
        member("a", &["t"]),
    ];
    let got = Range.assign(&topics(&[("t", 7)]), &members).unwrap();
    assert_eq!(got["a"].partitions, tps(&[("t", 0), ("t", 1), ("t", 2)]));
    assert_eq!(got["b"].partitions, tps(&[("t", 3), ("t", 4)]));
    assert_eq!(got["c"].partitions, tps(&[("t", 5), ("t", 6)]));
}

#[test]
fn range_splits_each_topic_among_its_own_subscribers() {
    let members = [
        member("a", &["x", "y"]),
        member("b", &["y"]),
        member("c", &["x"]),
    ];
    let got = Range
        .assign(
            &topics(&[("x", 4), ("y", 3), ("unsubscribed", 5)]),
            &members,
        )
        .unwrap();
    assert_eq!(
        got["a"].partitions,
        tps(&[("x", 0), ("x", 1), ("y", 0), ("y", 1)])
    );
    assert_eq!(got["b"].partitions, tps(&[("y", 2)]));
    assert_eq!(got["c"].partitions, tps(&[("x", 2), ("x", 3)]));
}

#[test]
fn static_members_sort_first_by_instance_id() {
    // KIP-345: Java orders static members by group.instance.id, ahead of
    // dynamic ones, so a restarted static member (new member id) keeps its
    // range.
    let mut z = member("a-dynamic", &["t"]);
    z.group_instance_id = None;
    let mut s1 = member("zzz-new-id", &["t"]);
    s1.group_instance_id = Some("instance-1".into());
    let mut s2 = member("aaa-new-id", &["t"]);
    s2.group_instance_id = Some("instance-2".into());
    let got = Range.assign(&topics(&[("t", 3)]), &[z, s2, s1]).unwrap();
    assert_eq!(got["zzz-new-id"].partitions, tps(&[("t", 0)]));
    assert_eq!(got["aaa-new-id"].partitions, tps(&[("t", 1)]));
    assert_eq!(got["a-dynamic"].partitions, tps(&[("t", 2)]));
}

#[test]
fn roundrobin_two_members_two_topics_of_three() {
    // RoundRobinAssignor javadoc: C0 [t0p0, t0p2, t1p1], C1 [t0p1, t1p0, t1p2].
    let members = [member("C0", &["t0", "t1"]), member("C1", &["t0", "t1"])];
    let got = RoundRobin
        .assign(&topics(&[("t0", 3), ("t1", 3)]), &members)
        .unwrap();
    assert_eq!(
        by_member(&got),
        vec![
            ("C0".into(), tps(&[("t0", 0), ("t0", 2), ("t1", 1)])),
            ("C1".into(), tps(&[("t0", 1), ("t1", 0), ("t1", 2)])),
        ]
    );
}

#[test]
fn roundrobin_skips_members_not_subscribed() {
    // RoundRobinAssignor javadoc: t0, t1, t2 with 1, 2, 3 partitions; C0
    // subscribes to t0, C1 to t0 and t1, C2 to all three.
    let members = [
        member("C0", &["t0"]),
        member("C1", &["t0", "t1"]),
        member("C2", &["t0", "t1", "t2"]),
    ];
    let got = RoundRobin
        .assign(&topics(&[("t0", 1), ("t1", 2), ("t2", 3)]), &members)
        .unwrap();
    assert_eq!(got["C0"].partitions, tps(&[("t0", 0)]));
    assert_eq!(got["C1"].partitions, tps(&[("t1", 0)]));
    assert_eq!(
        got["C2"].partitions,
        tps(&[("t1", 1), ("t2", 0), ("t2", 1), ("t2", 2)])
    );
}

/// Feeds `result` back as each member's previous assignment, the way an
/// eager sticky member reports it in its user data.
fn with_previous(
    members: &[GroupMember],
    result: &BTreeMap<String, Assignment>,
    generation: i32,
) -> Vec<GroupMember> {
    members
        .iter()
        .map(|m| {
            let mut m = m.clone();
            m.subscription.user_data = Sticky.subscription_user_data(
                &m.subscription.topics,
                &result[&m.member_id].partitions,
                Some(generation),
            );
            m
        })
        .collect()
}

#[test]
fn sticky_kip54_example_one_member_leaves() {
    // KIP-54: four topics of two partitions, three members; when C1 leaves,
    // C0 and C2 keep theirs and split C1's.
    let t = topics(&[("t0", 2), ("t1", 2), ("t2", 2), ("t3", 2)]);
    let all = ["t0", "t1", "t2", "t3"];
    let members = [member("C0", &all), member("C1", &all), member("C2", &all)];
    let first = Sticky.assign(&t, &members).unwrap();
    assert_eq!(
        first["C0"].partitions,
        tps(&[("t0", 0), ("t1", 1), ("t3", 0)])
    );
    assert_eq!(
        first["C1"].partitions,
        tps(&[("t0", 1), ("t2", 0), ("t3", 1)])
    );
    assert_eq!(first["C2"].partitions, tps(&[("t1", 0), ("t2", 1)]));

    let before = with_previous(&members, &first, 1);
    let remaining = [before[0].clone(), before[2].clone()];
    let second = Sticky.assign(&t, &remaining).unwrap();
    // Java's documented result for this case.
    assert_eq!(
        second["C0"].partitions,
        tps(&[("t0", 0), ("t1", 1), ("t2", 0), ("t3", 0)])
    );
    assert_eq!(
        second["C2"].partitions,
        tps(&[("t0", 1), ("t1", 0), ("t2", 1), ("t3", 1)])
    );
}

#[test]
fn sticky_kip54_example_unequal_subscriptions() {
    // KIP-54: t0, t1, t2 with 1, 2, 3 partitions; C0 subscribes to t0, C1
    // to t0 and t1, C2 to all. Sticky gives C0 [t0p0], C1 [t1p0, t1p1], C2
    // [t2p0, t2p1, t2p2]; when C0 leaves, C1 adds t0p0 and C2 is untouched.
    let t = topics(&[("t0", 1), ("t1", 2), ("t2", 3)]);
    let members = [
        member("C0", &["t0"]),
        member("C1", &["t0", "t1"]),
        member("C2", &["t0", "t1", "t2"]),
    ];
    let first = Sticky.assign(&t, &members).unwrap();
    assert_eq!(first["C0"].partitions, tps(&[("t0", 0)]));
    assert_eq!(first["C1"].partitions, tps(&[("t1", 0), ("t1", 1)]));
    assert_eq!(
        first["C2"].partitions,
        tps(&[("t2", 0), ("t2", 1), ("t2", 2)])
    );

    let before = with_previous(&members, &first, 1);
    let second = Sticky.assign(&t, &before[1..]).unwrap();
    assert_eq!(
        second["C1"].partitions,
        tps(&[("t0", 0), ("t1", 0), ("t1", 1)])
    );
    assert_eq!(
        second["C2"].partitions,
        tps(&[("t2", 0), ("t2", 1), ("t2", 2)])
    );
}

#[test]
fn names_and_protocols_match_java() {
    assert_eq!(Range.name(), "range");
    assert_eq!(RoundRobin.name(), "roundrobin");
    assert_eq!(Sticky.name(), "sticky");
    assert_eq!(CooperativeSticky.name(), "cooperative-sticky");
    assert_eq!(Range.rebalance_protocol(), RebalanceProtocol::Eager);
    assert_eq!(RoundRobin.rebalance_protocol(), RebalanceProtocol::Eager);
    assert_eq!(Sticky.rebalance_protocol(), RebalanceProtocol::Eager);
    assert_eq!(
        CooperativeSticky.rebalance_protocol(),
        RebalanceProtocol::Cooperative
    );
}

#[test]
fn duplicate_member_ids_are_refused_and_empty_groups_get_nothing() {
    let members = [member("a", &["t"]), member("a", &["t"])];
    for assignor in all_assignors() {
        assert!(assignor.assign(&topics(&[("t", 2)]), &members).is_err());
        assert!(
            assignor
                .assign(&topics(&[("t", 2)]), &[])
                .unwrap()
                .is_empty()
        );
    }
}

#[test]
fn unknown_topics_and_negative_counts_assign_nothing() {
    let members = [member("a", &["missing", "neg"]), member("b", &["neg"])];
    for assignor in all_assignors() {
        let got = assignor.assign(&topics(&[("neg", -3)]), &members).unwrap();
        assert_eq!(counts(&got), vec![0, 0], "{}", assignor.name());
    }
}

/// One of each assignor, for tests that hold for all of them.
pub(super) fn all_assignors() -> Vec<Box<dyn Assignor>> {
    vec![
        Box::new(Range),
        Box::new(RoundRobin),
        Box::new(Sticky),
        Box::new(CooperativeSticky),
    ]
}
