//! The consumer protocol encoding of subscriptions and assignments.

use proptest::prelude::*;

use super::super::wire::{
    MAX_VERSION, decode_assignment, decode_subscription, encode_assignment, encode_subscription,
};
use super::*;

fn subscription() -> impl Strategy<Value = Subscription> {
    (
        prop::collection::vec("[a-zA-Z0-9._-]{1,20}", 0..5),
        prop::option::of(prop::collection::vec(any::<u8>(), 0..40)),
        prop::collection::btree_set(("[a-z]{1,6}", 0i32..1000), 0..10),
        prop::option::of(0i32..=i32::MAX),
        prop::option::of("[a-z0-9-]{0,10}"),
    )
        .prop_map(
            |(topics, user_data, owned, generation_id, rack_id)| Subscription {
                topics,
                user_data: user_data.map(Bytes::from),
                owned_partitions: owned
                    .into_iter()
                    .map(|(t, p)| TopicPartition::new(t.as_str(), p))
                    .collect(),
                generation_id,
                rack_id,
            },
        )
}

/// What survives encoding at `version`: later fields are dropped.
fn at_version(s: &Subscription, version: i16) -> Subscription {
    Subscription {
        topics: s.topics.clone(),
        user_data: s.user_data.clone(),
        owned_partitions: if version >= 1 {
            s.owned_partitions.clone()
        } else {
            vec![]
        },
        generation_id: if version >= 2 { s.generation_id } else { None },
        rack_id: if version >= 3 {
            s.rack_id.clone()
        } else {
            None
        },
    }
}

proptest! {
    #[test]
    fn subscriptions_round_trip_at_every_version(s in subscription(), version in 0i16..=MAX_VERSION) {
        let data = encode_subscription(&s, version).unwrap();
        prop_assert_eq!(&data[..2], &version.to_be_bytes());
        prop_assert_eq!(decode_subscription(data).unwrap(), at_version(&s, version));
    }

    #[test]
    fn assignments_round_trip_at_every_version(
        parts in prop::collection::btree_set(("[a-z]{1,6}", any::<i32>()), 0..20),
        user_data in prop::option::of(prop::collection::vec(any::<u8>(), 0..40)),
        version in 0i16..=MAX_VERSION,
    ) {
        let a = Assignment {
            partitions: parts.iter().map(|(t, p)| TopicPartition::new(t.as_str(), *p)).collect(),
            user_data: user_data.map(Bytes::from),
        };
        prop_assert_eq!(decode_assignment(encode_assignment(&a, version).unwrap()).unwrap(), a);
    }

    /// Newer versions only append fields: a v3 body under a higher version
    /// header, followed by fields we do not know, decodes as v3.
    #[test]
    fn future_versions_decode_as_the_latest_known(s in subscription(), version in 4i16..100, tail in prop::collection::vec(any::<u8>(), 0..16)) {
        let v3 = encode_subscription(&s, 3).unwrap();
        let mut future = version.to_be_bytes().to_vec();
        future.extend_from_slice(&v3[2..]);
        future.extend_from_slice(&tail);
        prop_assert_eq!(decode_subscription(Bytes::from(future)).unwrap(), at_version(&s, 3));
    }

    /// Garbage and every truncation of valid data decode to an error or a
    /// value, never a panic; a decoded value cannot hold more entries than
    /// its bytes could carry.
    #[test]
    fn garbage_and_truncation_never_panic(
        data in prop::collection::vec(any::<u8>(), 0..300),
        s in subscription(),
        version in 0i16..=MAX_VERSION,
    ) {
        if let Ok(d) = decode_subscription(Bytes::from(data.clone())) {
            prop_assert!(2 * d.topics.len() + 4 * d.owned_partitions.len() <= data.len());
        }
        if let Ok(a) = decode_assignment(Bytes::from(data.clone())) {
            prop_assert!(4 * a.partitions.len() <= data.len());
        }
        let valid = encode_subscription(&s, version).unwrap();
        for cut in 0..valid.len() {
            let _ = decode_subscription(valid.slice(..cut));
            let _ = decode_assignment(valid.slice(..cut));
        }
    }
}

#[test]
fn subscription_v0_is_javas_layout() {
    let s = Subscription {
        topics: vec!["t".into()],
        ..Subscription::default()
    };
    let data = encode_subscription(&s, 0).unwrap();
    // version 0, one topic "t", null user data.
    assert_eq!(
        data.as_ref(),
        [0, 0, 0, 0, 0, 1, 0, 1, b't', 0xff, 0xff, 0xff, 0xff]
    );
}

#[test]
fn assignment_v1_is_javas_layout_and_empty_bytes_are_no_assignment() {
    let a = Assignment {
        partitions: tps(&[("t", 3)]),
        user_data: None,
    };
    let data = encode_assignment(&a, 1).unwrap();
    assert_eq!(
        data.as_ref(),
        [
            0, 1, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 1, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff
        ]
    );
    assert_eq!(
        decode_assignment(Bytes::new()).unwrap(),
        Assignment::default()
    );
}

#[test]
fn impossible_counts_are_refused_before_decoding() {
    // v0 subscription claiming two billion topics.
    let huge = Bytes::from_static(&[0, 0, 0x7f, 0xff, 0xff, 0xff, 0, 0]);
    assert!(decode_subscription(huge).is_err());
    // v1 subscription with no topics, null user data and a billion owned
    // topic entries.
    let owned = Bytes::from_static(&[0, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x40, 0, 0, 0]);
    assert!(decode_subscription(owned).is_err());
    // Assignment with one topic claiming a billion partitions.
    let parts = Bytes::from_static(&[0, 0, 0, 0, 0, 1, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0]);
    assert!(decode_assignment(parts).is_err());
    // Negative version and negative counts.
    assert!(decode_subscription(Bytes::from_static(&[0xff, 0xff, 0, 0, 0, 0])).is_err());
    assert!(decode_assignment(Bytes::from_static(&[0, 0, 0xff, 0xff, 0xff, 0xfe])).is_err());
}

#[test]
fn encoding_refuses_unknown_versions() {
    assert!(encode_subscription(&Subscription::default(), 4).is_err());
    assert!(encode_assignment(&Assignment::default(), -1).is_err());
}
