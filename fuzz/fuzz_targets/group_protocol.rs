//! What other group members send through the broker, over arbitrary bytes:
//! JoinGroup subscription metadata, SyncGroup assignments, sticky user
//! data, and transaction control records. Decoded subscriptions are then
//! handed to every built-in assignor as the group leader would, so hostile
//! members (owned partitions of unknown topics, duplicates, absurd
//! generations) cannot make the leader panic.
#![no_main]

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use kafkit::consumer::assignor::wire::{decode_assignment, decode_subscription};
use kafkit::consumer::assignor::{
    Assignor, CooperativeSticky, GroupMember, Range, RoundRobin, Sticky, decode_sticky_user_data,
};
use kafkit::protocol::records::{ControlRecord, Record};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = decode_assignment(Bytes::copy_from_slice(data));
    let _ = decode_sticky_user_data(data);
    let _ = ControlRecord::decode(&Record {
        key: Some(Bytes::copy_from_slice(data)),
        value: Some(Bytes::copy_from_slice(data)),
        offset: 0,
        timestamp: 0,
        headers: Vec::new(),
    });

    // Up to three members, split at 0xFF bytes.
    let members: Vec<GroupMember> = data
        .split(|b| *b == 0xFF)
        .take(3)
        .enumerate()
        .filter_map(|(i, part)| {
            let subscription = decode_subscription(Bytes::copy_from_slice(part)).ok()?;
            Some(GroupMember {
                member_id: format!("member-{i}"),
                group_instance_id: (i == 1).then(|| "static".to_string()),
                subscription,
            })
        })
        .collect();
    if members.is_empty() {
        return;
    }
    // Partition counts for the topics the members name, kept small.
    let mut partitions: BTreeMap<String, i32> = BTreeMap::new();
    for m in &members {
        for t in m.subscription.topics.iter().take(8) {
            partitions.insert(t.clone(), (t.len() % 7) as i32);
        }
    }
    let assignors: [Arc<dyn Assignor>; 4] = [
        Arc::new(Range),
        Arc::new(RoundRobin),
        Arc::new(Sticky),
        Arc::new(CooperativeSticky),
    ];
    for a in assignors {
        let _ = a.assign(&partitions, &members);
    }
});
