//! The uniform sticky partitioner for records without a key (KIP-794).

use super::TopicPartitions;
use super::rng::XorShift64Star;

/// Places records that have no partition preference: Java's built-in
/// partitioner (`BuiltInPartitioner`, KIP-794) without adaptive weighting.
///
/// It sticks to one partition until about `batch.size` bytes have been
/// produced to it, so keyless records fill whole batches instead of
/// scattering one record per batch, then switches to a partition chosen
/// uniformly at random among those with a leader (among all partitions when
/// none has one). The new choice may be the same partition again, as in
/// Java.
///
/// Java can weight the choice by how many batches wait for each partition
/// (`partitioner.adaptive.partitioning.enable`, KIP-794 "adaptive"); this is
/// the uniform variant Java uses when that is off.
///
/// One instance per topic, owned by the record accumulator. It is plain
/// state (`&mut self`): the accumulator serialises access the way Java does
/// with the partition queue's lock. The protocol per record without a
/// preference:
///
/// 1. `let p = sticky.partition(&partitions)`;
/// 2. append the record to `p`'s open batch;
/// 3. `sticky.on_append(bytes_appended, all_batches_full)`, where
///    `all_batches_full` says that `p`'s last batch has no room left (or the
///    queue is empty), which is when switching does not cut a batch short.
///
/// ```
/// use kafkit::producer::partitioner::{StickyPartitioner, TopicPartitions};
///
/// let partitions = TopicPartitions::new(6, 0..6).unwrap();
/// let mut sticky = StickyPartitioner::new(100);
/// let first = sticky.partition(&partitions);
/// // 60 bytes: not yet a batch's worth, so the next record sticks.
/// sticky.on_append(60, false);
/// assert_eq!(sticky.partition(&partitions), first);
/// // 120 bytes and the batch is full: the next record may move.
/// assert!(sticky.on_append(60, true));
/// assert!(sticky.current().is_none());
/// ```
#[derive(Debug, Clone)]
pub struct StickyPartitioner {
    /// Bytes to produce to a partition before switching (`batch.size`).
    batch_size: usize,
    /// The partition records currently stick to; `None` until the first
    /// record and after each switch, so the next choice sees fresh
    /// availability.
    current: Option<i32>,
    /// Bytes appended to `current` since it was chosen.
    produced: usize,
    rng: XorShift64Star,
}

impl StickyPartitioner {
    /// A partitioner that switches after `batch_size` bytes (Java passes
    /// `batch.size`). A size of 0 is treated as 1, as Java clamps it.
    pub fn new(batch_size: usize) -> Self {
        Self::with_rng(batch_size, XorShift64Star::from_entropy())
    }

    /// Like [`new`](Self::new) with a fixed random seed, for reproducible
    /// placement in tests and simulations.
    pub fn with_seed(batch_size: usize, seed: u64) -> Self {
        Self::with_rng(batch_size, XorShift64Star::seeded(seed))
    }

    fn with_rng(batch_size: usize, rng: XorShift64Star) -> Self {
        StickyPartitioner {
            batch_size: batch_size.max(1),
            current: None,
            produced: 0,
            rng,
        }
    }

    /// The partition for the next record without a preference.
    ///
    /// Keeps the current sticky partition while it is still usable; chooses
    /// a new one when there is none yet, after a switch, or when the current
    /// one no longer exists (the topic shrank in metadata) or lost its leader
    /// while other partitions have one. The last case deliberately goes
    /// beyond Java, which keeps a leaderless sticky partition until the next
    /// switch: records without a key have no reason to wait for a leader.
    pub fn partition(&mut self, partitions: &TopicPartitions) -> i32 {
        if let Some(p) = self.current.filter(|&p| Self::usable(p, partitions)) {
            return p;
        }
        let p = self.choose(partitions);
        self.current = Some(p);
        self.produced = 0;
        p
    }

    /// Reports `appended_bytes` appended to the current sticky partition
    /// and switches when enough was produced. Returns whether it switched;
    /// the next [`partition`](Self::partition) call then chooses anew.
    ///
    /// `all_batches_full`: the partition's last open batch is full (or there
    /// is none). Like Java, the switch waits for that once `batch.size`
    /// bytes were produced, so a batch is not abandoned half full, but
    /// happens regardless at twice `batch.size`, so mixing keyed records
    /// into the same batches cannot keep it from ever switching.
    ///
    /// Call it only for records this partitioner placed; it is a no-op
    /// before the first [`partition`](Self::partition) call.
    pub fn on_append(&mut self, appended_bytes: usize, all_batches_full: bool) -> bool {
        if self.current.is_none() {
            return false;
        }
        self.produced = self.produced.saturating_add(appended_bytes);
        let enough = self.produced >= self.batch_size && all_batches_full;
        let too_much = self.produced >= self.batch_size.saturating_mul(2);
        if enough || too_much {
            self.current = None;
            self.produced = 0;
            true
        } else {
            false
        }
    }

    /// The partition records currently stick to, if one is chosen.
    pub fn current(&self) -> Option<i32> {
        self.current
    }

    /// Bytes produced to the current partition since it was chosen.
    pub fn produced_bytes(&self) -> usize {
        self.produced
    }

    /// The configured sticky batch size in bytes.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// A partition may keep receiving records: it exists, and it has a
    /// leader or no partition has one.
    fn usable(partition: i32, partitions: &TopicPartitions) -> bool {
        partitions.contains(partition)
            && (partitions.available().is_empty() || partitions.is_available(partition))
    }

    /// A uniformly random available partition, or any partition when none
    /// is available (Java's `nextPartition` without load stats).
    fn choose(&mut self, partitions: &TopicPartitions) -> i32 {
        let available = partitions.available();
        if available.is_empty() {
            // num_partitions >= 1 by construction, so the range is non-empty
            // and the index fits an i32.
            self.rng.below(partitions.num_partitions() as usize) as i32
        } else {
            available[self.rng.below(available.len())]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(n: i32, available: &[i32]) -> TopicPartitions {
        TopicPartitions::new(n, available.iter().copied()).unwrap()
    }

    #[test]
    fn sticks_until_batch_size_then_switches() {
        // Java's BuiltInPartitionerTest.testStickyPartitioning: sticky batch
        // size 3, one byte per record.
        let v = view(3, &[0, 1, 2]);
        let mut s = StickyPartitioner::with_seed(3, 7);
        let first = s.partition(&v);
        assert!(!s.on_append(1, true));
        assert_eq!(s.partition(&v), first);
        assert!(!s.on_append(1, true));
        assert_eq!(s.partition(&v), first);
        assert!(s.on_append(1, true), "3 bytes reached: must switch");
        assert_eq!(s.current(), None);
        assert_eq!(s.produced_bytes(), 0);
    }

    #[test]
    fn single_partition_topic_keeps_switching_to_itself() {
        let v = view(1, &[0]);
        let mut s = StickyPartitioner::with_seed(1, 1);
        for _ in 0..10 {
            assert_eq!(s.partition(&v), 0);
            assert!(s.on_append(1, true));
        }
    }

    #[test]
    fn waits_for_full_batch_until_twice_the_size() {
        let v = view(4, &[0, 1, 2, 3]);
        let mut s = StickyPartitioner::with_seed(100, 3);
        let p = s.partition(&v);
        // 150 bytes, batch not full: no switch.
        assert!(!s.on_append(150, false));
        assert_eq!(s.partition(&v), p);
        // 200 bytes: twice the batch size forces the switch.
        assert!(s.on_append(50, false));
    }

    #[test]
    fn never_chooses_a_leaderless_partition_when_others_have_leaders() {
        // Java's unavailablePartitionsTest: partition 1 has no leader.
        let v = view(3, &[0, 2]);
        let mut s = StickyPartitioner::with_seed(1, 11);
        let mut seen = [0u32; 3];
        for _ in 0..100 {
            let p = s.partition(&v);
            seen[p as usize] += 1;
            s.on_append(1, true);
        }
        assert_eq!(seen[1], 0);
        assert!(seen[0] > 0 && seen[2] > 0, "{seen:?}");
    }

    #[test]
    fn leaves_a_partition_that_lost_its_leader() {
        let mut s = StickyPartitioner::with_seed(1000, 5);
        let p = s.partition(&view(2, &[0, 1]));
        let other = 1 - p;
        assert_eq!(s.partition(&view(2, &[other])), other);
    }

    #[test]
    fn keeps_a_leaderless_partition_when_none_has_a_leader() {
        // Java: with no available partition, any partition is chosen.
        let v = view(3, &[]);
        let mut s = StickyPartitioner::with_seed(1000, 9);
        let p = s.partition(&v);
        assert!((0..3).contains(&p));
        assert_eq!(s.partition(&v), p);
    }

    #[test]
    fn rechooses_when_the_topic_shrinks() {
        let mut s = StickyPartitioner::with_seed(1000, 13);
        // Force a high partition by offering only it.
        assert_eq!(s.partition(&view(8, &[7])), 7);
        let p = s.partition(&view(2, &[0, 1]));
        assert!(p < 2);
    }

    #[test]
    fn zero_batch_size_is_clamped() {
        let v = view(2, &[0, 1]);
        let mut s = StickyPartitioner::with_seed(0, 1);
        assert_eq!(s.batch_size(), 1);
        s.partition(&v);
        assert!(s.on_append(1, true));
    }

    #[test]
    fn append_before_any_choice_is_ignored() {
        let mut s = StickyPartitioner::with_seed(1, 1);
        assert!(!s.on_append(10, true));
        assert_eq!(s.produced_bytes(), 0);
    }
}
