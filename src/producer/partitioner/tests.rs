//! Tests of the partition decision as a whole, and properties of keyed and
//! sticky placement.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;

use super::*;
use crate::metadata::PartitionMetadata;

fn view(n: i32, available: &[i32]) -> TopicPartitions {
    TopicPartitions::new(n, available.iter().copied()).unwrap()
}

fn all(n: i32) -> TopicPartitions {
    TopicPartitions::new(n, 0..n).unwrap()
}

#[test]
fn view_rejects_empty_topics_and_sanitises_available() {
    assert!(TopicPartitions::new(0, []).is_none());
    assert!(TopicPartitions::new(-3, [0]).is_none());
    let v = view(4, &[3, -1, 1, 9, 1, 0]);
    assert_eq!(v.available(), &[0, 1, 3]);
    assert!(v.is_available(3) && !v.is_available(2));
    assert!(v.contains(2) && !v.contains(4) && !v.contains(-1));
}

#[test]
fn view_from_metadata_counts_all_and_offers_partitions_with_leaders() {
    let partition = |partition, leader| PartitionMetadata {
        partition,
        leader,
        leader_epoch: 0,
        replicas: vec![],
        isr: vec![],
        offline_replicas: vec![],
        error: None,
    };
    let topic = TopicMetadata {
        name: "t".into(),
        topic_id: [0; 16],
        is_internal: false,
        partitions: vec![
            partition(0, Some(1)),
            partition(1, None),
            partition(2, Some(2)),
        ],
    };
    let v = TopicPartitions::from_metadata(&topic).unwrap();
    assert_eq!(v.num_partitions(), 3);
    assert_eq!(v.available(), &[0, 2]);

    let empty = TopicMetadata {
        partitions: vec![],
        ..topic
    };
    assert!(TopicPartitions::from_metadata(&empty).is_none());
}

#[test]
fn keyed_partition_is_java_formula() {
    // to_positive(murmur2("foobar")) % 6, from Kafka's vector -790332482:
    // -790332482 & 0x7fffffff = 1357151166, and 1357151166 % 6 = 0.
    assert_eq!(partition_for_key(b"foobar", &all(6)), 0);
    // "21" -> -973932308 -> 1173551340; % 7 = 1173551340 - 7*167650191 = 3.
    assert_eq!(partition_for_key(b"21", &all(7)), 3);
}

#[test]
fn keyed_partition_ignores_availability() {
    // A key's partition must not move because its leader is missing.
    let key = b"foobar";
    assert_eq!(
        partition_for_key(key, &view(6, &[1, 2])),
        partition_for_key(key, &all(6))
    );
}

#[test]
fn explicit_partition_wins_over_everything() {
    let custom = PartitionSelector::new(&PartitionerKind::Custom(Arc::new(Fixed(1))), false);
    let default = PartitionSelector::new(&PartitionerKind::Default, false);
    let rr = PartitionSelector::new(&PartitionerKind::RoundRobin, false);
    for s in [&custom, &default, &rr] {
        assert_eq!(
            s.choose("t", Some(2), Some(b"k"), None, &all(3)).unwrap(),
            PartitionChoice::Partition(2)
        );
    }
}

#[test]
fn explicit_partition_out_of_range_is_an_error() {
    let s = PartitionSelector::new(&PartitionerKind::Default, false);
    let err = s.choose("t", Some(3), None, None, &all(3)).unwrap_err();
    assert!(
        err.to_string().contains("not in the range [0...3)"),
        "{err}"
    );
    assert_eq!(err.context().and_then(|c| c.partition), Some(3));
    assert!(s.choose("t", Some(-1), None, None, &all(3)).is_err());
}

#[test]
fn default_hashes_keys_and_leaves_keyless_records_to_sticky() {
    let s = PartitionSelector::new(&PartitionerKind::Default, false);
    assert_eq!(
        s.choose("t", None, Some(b"foobar"), None, &all(6)).unwrap(),
        PartitionChoice::Partition(0)
    );
    assert_eq!(
        s.choose("t", None, None, Some(b"v"), &all(6)).unwrap(),
        PartitionChoice::Sticky
    );
    // An empty key is a key (Java: non-null byte[]), not "no key".
    assert_eq!(
        s.choose("t", None, Some(b""), None, &all(6)).unwrap(),
        PartitionChoice::Partition(partition_for_key(b"", &all(6)))
    );
}

#[test]
fn ignore_keys_sends_keyed_records_to_sticky() {
    let s = PartitionSelector::new(&PartitionerKind::Default, true);
    assert_eq!(
        s.choose("t", None, Some(b"foobar"), None, &all(6)).unwrap(),
        PartitionChoice::Sticky
    );
}

#[test]
fn custom_partitioner_sees_key_and_value_and_is_checked() {
    #[derive(Debug)]
    struct KeyLen(AtomicUsize);
    impl Partitioner for KeyLen {
        fn partition(
            &self,
            topic: &str,
            key: Option<&[u8]>,
            value: Option<&[u8]>,
            partitions: &TopicPartitions,
        ) -> i32 {
            assert_eq!(topic, "t");
            assert_eq!(value, Some(&b"value"[..]));
            self.0.fetch_add(1, Ordering::Relaxed);
            key.map_or(0, |k| k.len() as i32) % (partitions.num_partitions() + 1)
        }
    }
    let p = Arc::new(KeyLen(AtomicUsize::new(0)));
    // ignore_keys only concerns the default partitioner.
    let s = PartitionSelector::new(&PartitionerKind::Custom(p.clone()), true);
    assert_eq!(
        s.choose("t", None, Some(b"ab"), Some(b"value"), &all(4))
            .unwrap(),
        PartitionChoice::Partition(2)
    );
    // 4 % 5 = 4: out of range for 4 partitions.
    let err = s
        .choose("t", None, Some(b"abcd"), Some(b"value"), &all(4))
        .unwrap_err();
    assert!(err.to_string().contains("partitioner generated"), "{err}");
    assert_eq!(p.0.load(Ordering::Relaxed), 2);
}

#[test]
fn round_robin_kind_ignores_keys_and_each_selector_has_its_own_counters() {
    let kind = PartitionerKind::RoundRobin;
    let a = PartitionSelector::new(&kind, false);
    let b = PartitionSelector::new(&kind, false);
    let pick = |s: &PartitionSelector| s.choose("t", None, Some(b"same"), None, &all(3)).unwrap();
    assert_eq!(pick(&a), PartitionChoice::Partition(0));
    assert_eq!(pick(&a), PartitionChoice::Partition(1));
    assert_eq!(pick(&b), PartitionChoice::Partition(0));
    assert_eq!(pick(&a), PartitionChoice::Partition(2));
}

#[test]
fn partitioner_trait_is_object_safe_send_sync() {
    fn assert_send_sync<T: Send + Sync + ?Sized>() {}
    assert_send_sync::<dyn Partitioner>();
    assert_send_sync::<PartitionSelector>();
    assert_send_sync::<PartitionerKind>();
    let _: Box<dyn Partitioner> = Box::new(RoundRobinPartitioner::new());
    assert_eq!(
        format!("{:?}", PartitionerKind::Custom(Arc::new(Fixed(0)))),
        "Custom(..)"
    );
    assert_eq!(format!("{:?}", PartitionerKind::default()), "Default");
}

#[derive(Debug)]
struct Fixed(i32);
impl Partitioner for Fixed {
    fn partition(&self, _: &str, _: Option<&[u8]>, _: Option<&[u8]>, _: &TopicPartitions) -> i32 {
        self.0
    }
}

proptest! {
    #[test]
    fn keyed_partition_is_in_range_and_deterministic(
        key in proptest::collection::vec(any::<u8>(), 0..64),
        n in 1i32..10_000,
    ) {
        let v = all(n);
        let p = partition_for_key(&key, &v);
        prop_assert!((0..n).contains(&p));
        prop_assert_eq!(p, partition_for_key(&key, &v));
        prop_assert_eq!(p, to_positive(murmur2(&key)) % n);
    }

    #[test]
    fn sticky_stays_until_a_batch_worth_is_produced(
        seed in any::<u64>(),
        batch_size in 1usize..5_000,
        sizes in proptest::collection::vec(1usize..700, 1..200),
        n in 1i32..32,
    ) {
        let v = all(n);
        let mut s = StickyPartitioner::with_seed(batch_size, seed);
        let mut current = s.partition(&v);
        let mut produced = 0usize;
        for size in sizes {
            prop_assert_eq!(s.partition(&v), current);
            produced += size;
            let switched = s.on_append(size, true);
            prop_assert_eq!(switched, produced >= batch_size);
            if switched {
                current = s.partition(&v);
                produced = 0;
            }
            prop_assert!((0..n).contains(&current));
        }
    }

    #[test]
    fn sticky_spreads_over_available_partitions_across_switches(
        seed in any::<u64>(),
        available in proptest::collection::btree_set(0i32..12, 1..12),
    ) {
        let available: Vec<i32> = available.into_iter().collect();
        let v = view(12, &available);
        let mut s = StickyPartitioner::with_seed(1, seed);
        let mut counts = [0u32; 12];
        let switches = 600 * available.len() as u32;
        for _ in 0..switches {
            counts[s.partition(&v) as usize] += 1;
            s.on_append(1, true);
        }
        for p in 0..12 {
            if available.contains(&p) {
                // Expected 600 each; the bounds are over 10 standard deviations away.
                prop_assert!((350..900).contains(&counts[p as usize]),
                    "partition {} chosen {} times: {:?}", p, counts[p as usize], counts);
            } else {
                prop_assert_eq!(counts[p as usize], 0);
            }
        }
    }
}
