//! Decoding consumer protocol data from other group members allocates in
//! proportion to the input, whatever the input says: measured with a
//! counting global allocator (its own test binary, one test, so nothing
//! else allocates while it measures).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use kafkit::TopicPartition;
use kafkit::consumer::assignor::wire::{
    decode_assignment, decode_subscription, encode_subscription,
};
use kafkit::consumer::assignor::{Subscription, decode_sticky_user_data};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Bytes allocated at the peak of `f`, above what was live before it.
fn peak_of(f: impl FnOnce()) -> usize {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    f();
    PEAK.load(Ordering::Relaxed) - base
}

/// The allowance: decoded elements are a few dozen bytes each and every
/// element takes at least two input bytes, plus fixed overhead.
fn bound(input_len: usize) -> usize {
    64 * input_len + 16 * 1024
}

fn check(input: &[u8]) {
    let data = Bytes::copy_from_slice(input);
    for (what, peak) in [
        (
            "subscription",
            peak_of(|| drop(decode_subscription(data.clone()))),
        ),
        (
            "assignment",
            peak_of(|| drop(decode_assignment(data.clone()))),
        ),
        (
            "sticky user data",
            peak_of(|| drop(decode_sticky_user_data(&data))),
        ),
    ] {
        assert!(
            peak <= bound(input.len()),
            "{what}: {peak} bytes allocated for {} input bytes: {input:02x?}",
            input.len()
        );
    }
}

#[test]
fn decoding_allocates_in_proportion_to_the_input() {
    // Counts at every position of a valid v3 subscription replaced by huge
    // values: each i32 slot in turn becomes 0x7fffffff, 0x40000000, 0x00ffffff.
    let valid = encode_subscription(
        &Subscription {
            topics: vec!["orders".into(), "payments".into()],
            user_data: Some(Bytes::from_static(b"xyz")),
            owned_partitions: vec![
                TopicPartition::new("orders", 1),
                TopicPartition::new("payments", 4),
            ],
            generation_id: Some(3),
            rack_id: Some("rack-a".into()),
        },
        3,
    )
    .unwrap();
    for at in 0..valid.len().saturating_sub(3) {
        for huge in [0x7fff_ffffu32, 0x4000_0000, 0x00ff_ffff, 0x0000_ffff] {
            let mut v = valid.to_vec();
            v[at..at + 4].copy_from_slice(&huge.to_be_bytes());
            check(&v);
            check(&v[..at + 4]);
        }
    }
    // Random garbage of many lengths (deterministic xorshift).
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..20_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let len = (state % 96) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|i| (state.rotate_left(i as u32 * 5) & 0xff) as u8)
            .collect();
        check(&bytes);
    }
}
