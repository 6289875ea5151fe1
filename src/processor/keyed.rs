//! The ordering scheduler: which received record may start processing now.
//!
//! Three orderings, as Confluent's Parallel Consumer offers:
//! - [`ProcessingOrder::Partition`]: one record in flight per partition, in offset
//!   order (what a plain consumer loop gives, but partitions run in parallel).
//! - [`ProcessingOrder::Key`]: one record in flight per key within a partition, in
//!   offset order per key; different keys run in parallel.
//! - [`ProcessingOrder::Unordered`]: any record may start; only the limits apply.
//!
//! Records are queued per *lane*: the partition (Partition ordering) or the
//! (partition, key) pair (Key ordering). A lane's head starts when the lane
//! has nothing in flight; a failed record put back with
//! [`Scheduler::retry_later`] becomes its lane's head again, so it holds up
//! only its own key (Key) or partition (Partition), and nothing under
//! Unordered.
//!
//! **Null keys.** Under Key ordering all records of a partition without a
//! key share one lane, so they run one at a time in offset order. Parallel
//! Consumer does the same (its `ShardKey` for KEY ordering is the topic
//! partition plus the key, and two null keys are equal). An empty key is a
//! key, distinct from no key.
//!
//! **Keys are per partition.** A key's lane is within its partition, as in
//! Parallel Consumer: with Kafka's default partitioner a key lives in one
//! partition anyway, and a record's partition is the unit of commit.
//!
//! **Fairness.** `next_ready` visits partitions round-robin, starting after
//! the one that gave the last record, so a partition with a deep backlog
//! cannot starve the others. Within a partition (Key ordering) the ready lane
//! whose head has the lowest offset goes first, which also lets the commit
//! position advance soonest.
//!
//! Pure and synchronous: retry times are compared with the `now` the caller
//! passes.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::Instant;

use bytes::Bytes;

use crate::TopicPartition;

/// What must not run concurrently (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessingOrder {
    /// One record in flight per partition, in offset order.
    Partition,
    /// One record in flight per key within a partition, in offset order per
    /// key; records without a key form one key per partition.
    Key,
    /// No ordering: any record may start.
    Unordered,
}

/// What the scheduler needs to know of a queued record; the rest of it is
/// opaque here.
pub(crate) trait WorkItem {
    /// The record's partition.
    fn topic_partition(&self) -> &TopicPartition;
    /// The record's offset.
    fn offset(&self) -> i64;
    /// The record's key; `None` for a null key.
    fn key(&self) -> Option<&Bytes>;
}

/// A lane's identity within its partition: the key under Key ordering
/// (`None` = null key), always `None` under Partition ordering.
type LaneKey = Option<Bytes>;

/// A queued record and the earliest time it may start (set by a retry).
#[derive(Debug)]
struct Entry<T> {
    /// The record.
    item: T,
    /// Not before this time; `None` = at once.
    not_before: Option<Instant>,
}

impl<T> Entry<T> {
    /// Whether the entry may start at `now`.
    fn due(&self, now: Instant) -> bool {
        self.not_before.is_none_or(|t| t <= now)
    }
}

/// One lane: records that must run one at a time, in order.
#[derive(Debug)]
struct Lane<T> {
    /// Waiting records, head first.
    queue: VecDeque<Entry<T>>,
    /// Whether the lane's record is in flight.
    busy: bool,
}

impl<T> Default for Lane<T> {
    fn default() -> Self {
        Lane {
            queue: VecDeque::new(),
            busy: false,
        }
    }
}

/// One partition's queued work and in-flight count.
#[derive(Debug)]
struct PartitionWork<T> {
    /// Lanes by key (Partition and Key ordering). A lane is dropped when it is
    /// empty and idle, so keys seen once do not accumulate.
    lanes: HashMap<LaneKey, Lane<T>>,
    /// The lanes that could start their head (not busy, not empty), by head
    /// offset: the order `next_ready` looks at them in.
    idle: BTreeSet<(i64, LaneKey)>,
    /// Unordered: records ready to start, oldest first.
    ready: VecDeque<T>,
    /// Unordered: retried records by the time they may start (and a sequence
    /// number, as times can repeat).
    delayed: BTreeMap<(Instant, u64), T>,
    /// Records waiting (all of the above).
    queued: usize,
    /// Records started and not finished or retried.
    in_flight: usize,
    /// False after `remove_partition`: kept only until its in-flight records
    /// report, so the counts stay true.
    assigned: bool,
}

impl<T: WorkItem> PartitionWork<T> {
    /// An empty, assigned partition.
    fn new() -> Self {
        PartitionWork {
            lanes: HashMap::new(),
            idle: BTreeSet::new(),
            ready: VecDeque::new(),
            delayed: BTreeMap::new(),
            queued: 0,
            in_flight: 0,
            assigned: true,
        }
    }

    /// Takes the record to start at `now`, if any, and marks its lane busy.
    fn take_ready(&mut self, ordering: ProcessingOrder, now: Instant) -> Option<T> {
        if ordering == ProcessingOrder::Unordered {
            // Due retries go first: they are older than anything queued.
            while let Some(entry) = self.delayed.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                self.ready.push_front(entry.remove());
            }
            return self.ready.pop_front();
        }
        // The lowest-offset lane whose head is due. Lanes with a delayed head
        // are skipped; there are only as many as records being retried.
        let (offset, key) = self
            .idle
            .iter()
            .find(|(_, key)| {
                self.lanes
                    .get(key)
                    .and_then(|lane| lane.queue.front())
                    .is_some_and(|head| head.due(now))
            })?
            .clone();
        self.idle.remove(&(offset, key.clone()));
        let lane = self.lanes.get_mut(&key)?;
        let entry = lane.queue.pop_front()?;
        lane.busy = true;
        Some(entry.item)
    }

    /// Frees the lane `key` after its record finished or was taken back;
    /// returns whether it was busy.
    fn free_lane(&mut self, key: &LaneKey) -> bool {
        let Some(lane) = self.lanes.get_mut(key) else {
            return false;
        };
        if !lane.busy {
            return false;
        }
        lane.busy = false;
        match lane.queue.front() {
            Some(head) => {
                self.idle.insert((head.item.offset(), key.clone()));
            }
            None => {
                self.lanes.remove(key);
            }
        }
        true
    }
}

/// Queued records of the assigned partitions and what is in flight (see the
/// module docs).
#[derive(Debug)]
pub(crate) struct Scheduler<T> {
    /// What must not run concurrently.
    ordering: ProcessingOrder,
    /// Work per partition, including revoked ones with records in flight.
    partitions: HashMap<TopicPartition, PartitionWork<T>>,
    /// Assigned partitions in round-robin order: the front is asked first.
    rotation: VecDeque<TopicPartition>,
    /// Records in flight, all partitions.
    in_flight_total: usize,
    /// Next sequence number of a delayed Unordered record.
    seq: u64,
}

impl<T: WorkItem> Scheduler<T> {
    /// An empty scheduler for `ordering`.
    pub(crate) fn new(ordering: ProcessingOrder) -> Self {
        Scheduler {
            ordering,
            partitions: HashMap::new(),
            rotation: VecDeque::new(),
            in_flight_total: 0,
            seq: 0,
        }
    }

    /// The ordering this scheduler keeps.
    pub(crate) fn ordering(&self) -> ProcessingOrder {
        self.ordering
    }

    /// The lane of a record with `key`.
    fn lane_key(&self, key: Option<&Bytes>) -> LaneKey {
        match self.ordering {
            ProcessingOrder::Key => key.cloned(),
            ProcessingOrder::Partition | ProcessingOrder::Unordered => None,
        }
    }

    /// Queues a received record behind those of its lane. Push a partition's
    /// records in offset order (the order they were fetched in): a lane runs
    /// in push order.
    pub(crate) fn push(&mut self, item: T) {
        let tp = item.topic_partition().clone();
        let key = self.lane_key(item.key());
        let is_new = !self.partitions.contains_key(&tp);
        let part = self
            .partitions
            .entry(tp.clone())
            .or_insert_with(PartitionWork::new);
        if is_new || !part.assigned {
            // New, or assigned again while records of its previous
            // assignment are still in flight (they keep their keys busy).
            part.assigned = true;
            self.rotation.push_back(tp);
        }
        part.queued += 1;
        if self.ordering == ProcessingOrder::Unordered {
            part.ready.push_back(item);
            return;
        }
        let offset = item.offset();
        let lane = part.lanes.entry(key.clone()).or_default();
        let was_empty = lane.queue.is_empty();
        lane.queue.push_back(Entry {
            item,
            not_before: None,
        });
        if was_empty && !lane.busy {
            part.idle.insert((offset, key));
        }
    }

    /// A record allowed to start now, or `None`. At most `global_limit`
    /// records are in flight in all and `per_partition_limit` per partition
    /// (a limit of 0 lets nothing start; pass `usize::MAX` for none). The
    /// returned record counts as in flight until [`finished`](Self::finished)
    /// or [`retry_later`](Self::retry_later).
    pub(crate) fn next_ready(
        &mut self,
        now: Instant,
        global_limit: usize,
        per_partition_limit: usize,
    ) -> Option<T> {
        if self.in_flight_total >= global_limit {
            return None;
        }
        for _ in 0..self.rotation.len() {
            // Rotate before looking, so the next call starts after this one.
            let tp = self.rotation.pop_front()?;
            self.rotation.push_back(tp.clone());
            let Some(part) = self.partitions.get_mut(&tp) else {
                continue;
            };
            if part.queued == 0 || part.in_flight >= per_partition_limit {
                continue;
            }
            if let Some(item) = part.take_ready(self.ordering, now) {
                part.queued -= 1;
                part.in_flight += 1;
                self.in_flight_total += 1;
                return Some(item);
            }
        }
        None
    }

    /// The record of `tp` with `key` that was in flight finished (done, or
    /// given up on): its slot is free and its lane's next record may start.
    /// Returns `false` when nothing matching was in flight (a caller bug; the
    /// counts are left alone).
    pub(crate) fn finished(&mut self, tp: &TopicPartition, key: Option<&Bytes>) -> bool {
        let lane_key = self.lane_key(key);
        let ordering = self.ordering;
        let Some(part) = self.partitions.get_mut(tp) else {
            return false;
        };
        if part.in_flight == 0 {
            return false;
        }
        if ordering != ProcessingOrder::Unordered && !part.free_lane(&lane_key) {
            return false;
        }
        part.in_flight -= 1;
        self.in_flight_total -= 1;
        self.forget_if_revoked_and_idle(tp);
        true
    }

    /// Puts an in-flight record back at the head of its lane, to start again
    /// no earlier than `not_before` (pass `now` for at once). It frees its
    /// in-flight slot, but under Key and Partition ordering its lane stays
    /// behind it: it holds up only its own key or partition. Under Unordered
    /// it holds up nothing.
    ///
    /// Returns the record when its partition was revoked meanwhile (the
    /// caller drops it; its slot is freed all the same).
    pub(crate) fn retry_later(&mut self, item: T, not_before: Instant) -> Option<T> {
        let tp = item.topic_partition().clone();
        let key = self.lane_key(item.key());
        let ordering = self.ordering;
        let Some(part) = self.partitions.get_mut(&tp) else {
            return Some(item);
        };
        if part.in_flight > 0 {
            part.in_flight -= 1;
            self.in_flight_total -= 1;
        }
        if !part.assigned {
            if ordering != ProcessingOrder::Unordered {
                part.free_lane(&key);
            }
            self.forget_if_revoked_and_idle(&tp);
            return Some(item);
        }
        part.queued += 1;
        if ordering == ProcessingOrder::Unordered {
            part.delayed.insert((not_before, self.seq), item);
            self.seq = self.seq.wrapping_add(1);
            return None;
        }
        let offset = item.offset();
        let lane = part.lanes.entry(key.clone()).or_default();
        lane.busy = false;
        if let Some(head) = lane.queue.front() {
            // Only if the caller retried a record that was not in flight.
            part.idle.remove(&(head.item.offset(), key.clone()));
        }
        lane.queue.push_front(Entry {
            item,
            not_before: Some(not_before),
        });
        part.idle.insert((offset, key));
        None
    }

    /// Drops the queued records of a revoked partition and returns them. Its
    /// in-flight records still report (`finished` or `retry_later`, which
    /// then hands the record back); until they do, they count in
    /// [`in_flight_total`](Self::in_flight_total) and keep their keys busy,
    /// even if the partition is assigned again meanwhile.
    pub(crate) fn remove_partition(&mut self, tp: &TopicPartition) -> Vec<T> {
        self.rotation.retain(|t| t != tp);
        let Some(part) = self.partitions.get_mut(tp) else {
            return Vec::new();
        };
        let mut dropped: Vec<T> = part.ready.drain(..).collect();
        dropped.extend(std::mem::take(&mut part.delayed).into_values());
        for lane in part.lanes.values_mut() {
            dropped.extend(lane.queue.drain(..).map(|e| e.item));
        }
        part.lanes.retain(|_, lane| lane.busy);
        part.idle.clear();
        part.queued = 0;
        part.assigned = false;
        self.forget_if_revoked_and_idle(tp);
        dropped
    }

    /// Forgets a revoked partition once nothing of it is in flight.
    fn forget_if_revoked_and_idle(&mut self, tp: &TopicPartition) {
        if self
            .partitions
            .get(tp)
            .is_some_and(|p| !p.assigned && p.in_flight == 0)
        {
            self.partitions.remove(tp);
        }
    }

    /// Records of `tp` waiting to start (retries included).
    pub(crate) fn queued(&self, tp: &TopicPartition) -> usize {
        self.partitions.get(tp).map_or(0, |p| p.queued)
    }

    /// Records of `tp` in flight.
    pub(crate) fn in_flight(&self, tp: &TopicPartition) -> usize {
        self.partitions.get(tp).map_or(0, |p| p.in_flight)
    }

    /// Records in flight, all partitions.
    pub(crate) fn in_flight_total(&self) -> usize {
        self.in_flight_total
    }

    /// The earliest time a retried record waits for, if any: when to call
    /// `next_ready` again if nothing else happens. It may be in the past (the
    /// record is due but a limit holds it). Looks at every idle lane: call it
    /// when about to sleep, not per record.
    pub(crate) fn next_retry_at(&self) -> Option<Instant> {
        self.partitions
            .values()
            .filter(|p| p.assigned)
            .flat_map(|p| {
                let lanes = p.idle.iter().filter_map(|(_, key)| {
                    p.lanes
                        .get(key)
                        .and_then(|lane| lane.queue.front())
                        .and_then(|head| head.not_before)
                });
                lanes.chain(p.delayed.keys().next().map(|(t, _)| *t))
            })
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;
    use std::time::Duration;

    /// A test record.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Rec {
        tp: TopicPartition,
        offset: i64,
        key: Option<Bytes>,
    }

    impl WorkItem for Rec {
        fn topic_partition(&self) -> &TopicPartition {
            &self.tp
        }
        fn offset(&self) -> i64 {
            self.offset
        }
        fn key(&self) -> Option<&Bytes> {
            self.key.as_ref()
        }
    }

    /// Partition `p` of topic "t".
    fn tp(p: i32) -> TopicPartition {
        TopicPartition::new("t", p)
    }

    /// A record of partition `p` at `offset` with `key` (`None` = null key).
    fn rec(p: i32, offset: i64, key: Option<&'static str>) -> Rec {
        Rec {
            tp: tp(p),
            offset,
            key: key.map(|k| Bytes::from_static(k.as_bytes())),
        }
    }

    /// Starts everything startable now; returns (partition, offset) pairs.
    fn drain_ready(s: &mut Scheduler<Rec>, now: Instant) -> Vec<(i32, i64)> {
        std::iter::from_fn(|| s.next_ready(now, usize::MAX, usize::MAX))
            .map(|r| (r.tp.partition, r.offset))
            .collect()
    }

    const NO_LIMIT: usize = usize::MAX;

    #[test]
    fn partition_ordering_runs_one_per_partition_in_offset_order() {
        let now = Instant::now();
        let mut s = Scheduler::new(ProcessingOrder::Partition);
        for o in 0..3 {
            s.push(rec(0, o, Some("a")));
            s.push(rec(1, 10 + o, Some("b")));
        }
        assert_eq!(drain_ready(&mut s, now), [(0, 0), (1, 10)]);
        assert_eq!(s.in_flight_total(), 2);
        assert_eq!((s.queued(&tp(0)), s.in_flight(&tp(0))), (2, 1));
        // Keys do not matter under Partition ordering.
        assert!(s.finished(&tp(0), Some(&Bytes::from_static(b"zzz"))));
        assert_eq!(drain_ready(&mut s, now), [(0, 1)]);
        assert!(s.finished(&tp(1), None));
        assert!(s.finished(&tp(0), None));
        assert_eq!(drain_ready(&mut s, now), [(1, 11), (0, 2)]);
    }

    #[test]
    fn key_ordering_runs_keys_in_parallel_and_each_key_in_order() {
        let now = Instant::now();
        let mut s = Scheduler::new(ProcessingOrder::Key);
        s.push(rec(0, 0, Some("a")));
        s.push(rec(0, 1, Some("b")));
        s.push(rec(0, 2, Some("a")));
        s.push(rec(0, 3, Some("c")));
        s.push(rec(0, 4, Some("b")));
        assert_eq!(drain_ready(&mut s, now), [(0, 0), (0, 1), (0, 3)]);
        assert!(s.finished(&tp(0), Some(&Bytes::from_static(b"b"))));
        assert_eq!(drain_ready(&mut s, now), [(0, 4)]);
        assert!(s.finished(&tp(0), Some(&Bytes::from_static(b"a"))));
        assert_eq!(drain_ready(&mut s, now), [(0, 2)]);
        // Finishing a key that is not in flight is refused.
        assert!(!s.finished(&tp(0), Some(&Bytes::from_static(b"zz"))));
        assert_eq!(s.in_flight_total(), 3);
    }

    #[test]
    fn null_keys_share_one_lane_per_partition_and_empty_keys_are_keys() {
        let now = Instant::now();
        let mut s = Scheduler::new(ProcessingOrder::Key);
        s.push(rec(0, 0, None));
        s.push(rec(0, 1, None));
        s.push(rec(0, 2, Some("")));
        s.push(rec(1, 0, None));
        assert_eq!(drain_ready(&mut s, now), [(0, 0), (1, 0), (0, 2)]);
        assert!(s.finished(&tp(0), None));
        assert_eq!(drain_ready(&mut s, now), [(0, 1)]);
    }

    #[test]
    fn unordered_starts_anything_within_the_limits() {
        let now = Instant::now();
        let mut s = Scheduler::new(ProcessingOrder::Unordered);
        for o in 0..5 {
            s.push(rec(0, o, Some("a")));
        }
        s.push(rec(1, 0, Some("a")));
        let mut started = Vec::new();
        while let Some(r) = s.next_ready(now, 4, 3) {
            started.push((r.tp.partition, r.offset));
        }
        assert_eq!(started, [(0, 0), (1, 0), (0, 1), (0, 2)]);
        assert_eq!(s.in_flight(&tp(0)), 3);
        // The global limit is reached; when partition 1's record finishes,
        // partition 0 is still at its own limit until one of its finishes.
        assert!(s.finished(&tp(1), None));
        assert!(s.next_ready(now, 4, 3).is_none());
        assert!(s.finished(&tp(0), None));
        assert_eq!(s.next_ready(now, 4, 3).map(|r| r.offset), Some(3));
        assert!(s.next_ready(now, 0, NO_LIMIT).is_none());
    }

    #[test]
    fn round_robin_keeps_a_busy_partition_from_starving_the_others() {
        let now = Instant::now();
        let mut s = Scheduler::new(ProcessingOrder::Unordered);
        for o in 0..100 {
            s.push(rec(0, o, None));
        }
        s.push(rec(1, 0, None));
        s.push(rec(2, 0, None));
        let mut order = Vec::new();
        for _ in 0..6 {
            let r = s.next_ready(now, 1, NO_LIMIT).expect("work");
            order.push(r.tp.partition);
            assert!(s.finished(&r.tp, None));
        }
        assert_eq!(order, [0, 1, 2, 0, 0, 0]);
    }

    #[test]
    fn a_retry_under_key_ordering_holds_up_only_its_key() {
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(1);
        let mut s = Scheduler::new(ProcessingOrder::Key);
        s.push(rec(0, 0, Some("a")));
        s.push(rec(0, 1, Some("b")));
        s.push(rec(0, 2, Some("a")));
        s.push(rec(0, 3, Some("b")));
        let a0 = s.next_ready(t0, NO_LIMIT, NO_LIMIT).expect("a@0");
        assert_eq!(a0.offset, 0);
        assert_eq!(s.retry_later(a0, later), None);
        assert_eq!(s.in_flight_total(), 0);
        assert_eq!(s.queued(&tp(0)), 4);
        assert_eq!(s.next_retry_at(), Some(later));
        // Key b proceeds; key a waits for its retry, 2 does not pass 0.
        assert_eq!(drain_ready(&mut s, t0), [(0, 1)]);
        assert!(s.finished(&tp(0), Some(&Bytes::from_static(b"b"))));
        assert_eq!(drain_ready(&mut s, t0), [(0, 3)]);
        assert_eq!(drain_ready(&mut s, later), [(0, 0)]);
        assert_eq!(s.next_retry_at(), None);
        assert!(s.finished(&tp(0), Some(&Bytes::from_static(b"a"))));
        assert_eq!(drain_ready(&mut s, later), [(0, 2)]);
    }

    #[test]
    fn a_retry_under_partition_ordering_holds_up_only_its_partition() {
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(1);
        let mut s = Scheduler::new(ProcessingOrder::Partition);
        s.push(rec(0, 0, None));
        s.push(rec(0, 1, None));
        s.push(rec(1, 0, None));
        let first = s.next_ready(t0, NO_LIMIT, NO_LIMIT).expect("p0@0");
        assert_eq!((first.tp.partition, first.offset), (0, 0));
        assert_eq!(s.retry_later(first, later), None);
        assert_eq!(drain_ready(&mut s, t0), [(1, 0)]);
        assert_eq!(drain_ready(&mut s, later), [(0, 0)]);
        assert!(s.finished(&tp(0), None));
        assert_eq!(drain_ready(&mut s, later), [(0, 1)]);
    }

    #[test]
    fn a_retry_under_unordered_holds_up_nothing_and_goes_first_when_due() {
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(1);
        let mut s = Scheduler::new(ProcessingOrder::Unordered);
        for o in 0..3 {
            s.push(rec(0, o, None));
        }
        let r0 = s.next_ready(t0, NO_LIMIT, NO_LIMIT).expect("0");
        assert_eq!(s.retry_later(r0, later), None);
        assert_eq!(s.next_retry_at(), Some(later));
        assert_eq!(drain_ready(&mut s, t0), [(0, 1), (0, 2)]);
        assert_eq!(drain_ready(&mut s, later), [(0, 0)]);
    }

    #[test]
    fn revoking_drops_queued_work_and_in_flight_records_still_report() {
        let now = Instant::now();
        let mut s = Scheduler::new(ProcessingOrder::Key);
        for o in 0..4 {
            s.push(rec(0, o, Some(if o % 2 == 0 { "a" } else { "b" })));
        }
        s.push(rec(1, 0, Some("a")));
        let a0 = s.next_ready(now, NO_LIMIT, NO_LIMIT).expect("a@0");
        let p1_a0 = s.next_ready(now, NO_LIMIT, NO_LIMIT).expect("p1 a@0");
        assert_eq!(p1_a0.tp, tp(1));
        let b1_p0 = s.next_ready(now, NO_LIMIT, NO_LIMIT).expect("b@1");
        let mut dropped: Vec<i64> = s
            .remove_partition(&tp(0))
            .iter()
            .map(|r| r.offset)
            .collect();
        dropped.sort_unstable();
        assert_eq!(dropped, [2, 3]);
        assert_eq!(s.queued(&tp(0)), 0);
        assert_eq!(s.in_flight(&tp(0)), 2);
        assert_eq!(s.in_flight_total(), 3);
        assert!(s.next_ready(now, NO_LIMIT, NO_LIMIT).is_none());
        // Reported after the revocation: the slot frees, a retry comes back.
        assert!(s.finished(&tp(0), a0.key()));
        assert_eq!(s.retry_later(b1_p0.clone(), now), Some(b1_p0));
        assert_eq!(s.in_flight(&tp(0)), 0);
        assert_eq!(s.in_flight_total(), 1);
        assert!(!s.finished(&tp(0), None));
        assert!(s.remove_partition(&tp(7)).is_empty());
    }

    #[test]
    fn reassigned_while_records_are_in_flight_keeps_their_keys_busy() {
        let now = Instant::now();
        let mut s = Scheduler::new(ProcessingOrder::Key);
        s.push(rec(0, 0, Some("a")));
        let a0 = s.next_ready(now, NO_LIMIT, NO_LIMIT).expect("a@0");
        assert!(s.remove_partition(&tp(0)).is_empty());
        // Assigned again and re-fetched from offset 0 before a@0 reported.
        s.push(rec(0, 0, Some("a")));
        s.push(rec(0, 1, Some("b")));
        assert_eq!(drain_ready(&mut s, now), [(0, 1)]);
        assert!(s.finished(&tp(0), a0.key()));
        assert_eq!(drain_ready(&mut s, now), [(0, 0)]);
    }

    #[test]
    fn idle_lanes_are_dropped_so_keys_do_not_accumulate() {
        let now = Instant::now();
        let mut s = Scheduler::new(ProcessingOrder::Key);
        for o in 0..1000 {
            s.push(Rec {
                tp: tp(0),
                offset: o,
                key: Some(Bytes::from(o.to_string())),
            });
            let r = s.next_ready(now, NO_LIMIT, NO_LIMIT).expect("ready");
            assert!(s.finished(&r.tp, r.key()));
        }
        let part = s.partitions.get(&tp(0)).expect("assigned");
        assert!(part.lanes.is_empty() && part.idle.is_empty());
    }

    /// One step of the scheduler property test.
    #[derive(Debug, Clone)]
    enum Op {
        /// Receive the next record of partition `.0` with key `.1` (None = null).
        Push(i32, Option<u8>),
        /// Start whatever may start.
        Start,
        /// Finish the in-flight record at this index (modulo their count).
        Finish(usize),
        /// Retry the in-flight record at this index after this many ticks.
        Retry(usize, u64),
        /// Let one tick pass.
        Tick,
    }

    /// A random operation.
    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0..3i32, proptest::option::of(0..3u8)).prop_map(|(p, k)| Op::Push(p, k)),
            3 => Just(Op::Start),
            2 => any::<usize>().prop_map(Op::Finish),
            1 => (any::<usize>(), 0..3u64).prop_map(|(i, d)| Op::Retry(i, d)),
            1 => Just(Op::Tick),
        ]
    }

    /// The lane a record belongs to under `ordering`.
    fn unit(ordering: ProcessingOrder, r: &Rec) -> (i32, Option<Bytes>) {
        match ordering {
            ProcessingOrder::Key => (r.tp.partition, r.key.clone()),
            _ => (r.tp.partition, None),
        }
    }

    /// Checks one start against the model: one record in flight per lane,
    /// offsets never going back within a lane, retries not before their time.
    fn start(
        ordering: ProcessingOrder,
        r: &Rec,
        now: Instant,
        busy: &mut HashSet<(i32, Option<Bytes>)>,
        last: &mut HashMap<(i32, Option<Bytes>), i64>,
        not_before: &HashMap<(i32, i64), Instant>,
    ) -> Result<(), TestCaseError> {
        let u = unit(ordering, r);
        if ordering != ProcessingOrder::Unordered {
            prop_assert!(busy.insert(u.clone()), "two in flight in {:?}", u);
            if let Some(&prev) = last.get(&u) {
                prop_assert!(
                    r.offset >= prev,
                    "{:?}: {} started after {}",
                    u,
                    r.offset,
                    prev
                );
            }
            last.insert(u, r.offset);
        }
        if let Some(&t) = not_before.get(&(r.tp.partition, r.offset)) {
            prop_assert!(now >= t, "retry started early");
        }
        Ok(())
    }

    /// Runs `ops` and checks the ordering guarantees at every start: one
    /// record in flight per lane, starts in offset order per lane (a retried
    /// record may start again, nothing may pass it), retries not before
    /// their time, the limits, and in the end every record finished once.
    fn check(ordering: ProcessingOrder, ops: &[Op]) -> Result<(), TestCaseError> {
        const GLOBAL: usize = 4;
        const PER_PARTITION: usize = 3;
        let t0 = Instant::now();
        let mut now = t0;
        let mut s = Scheduler::new(ordering);
        let mut next_offset = [0i64; 3];
        let mut pushed = 0usize;
        let mut in_flight: Vec<Rec> = Vec::new();
        let mut busy: HashSet<(i32, Option<Bytes>)> = HashSet::new();
        let mut last_start: HashMap<(i32, Option<Bytes>), i64> = HashMap::new();
        let mut not_before: HashMap<(i32, i64), Instant> = HashMap::new();
        let mut finished: HashSet<(i32, i64)> = HashSet::new();

        for op in ops {
            match op {
                Op::Push(p, k) => {
                    let offset = next_offset[*p as usize];
                    next_offset[*p as usize] += 1;
                    pushed += 1;
                    s.push(Rec {
                        tp: tp(*p),
                        offset,
                        key: k.map(|k| Bytes::from(vec![k])),
                    });
                }
                Op::Start => {
                    while let Some(r) = s.next_ready(now, GLOBAL, PER_PARTITION) {
                        start(ordering, &r, now, &mut busy, &mut last_start, &not_before)?;
                        in_flight.push(r);
                        prop_assert!(s.in_flight_total() <= GLOBAL);
                        for p in 0..3 {
                            prop_assert!(s.in_flight(&tp(p)) <= PER_PARTITION);
                        }
                    }
                    prop_assert_eq!(s.in_flight_total(), in_flight.len());
                }
                Op::Finish(i) if !in_flight.is_empty() => {
                    let r = in_flight.swap_remove(i % in_flight.len());
                    busy.remove(&unit(ordering, &r));
                    prop_assert!(s.finished(&r.tp, r.key()));
                    prop_assert!(
                        finished.insert((r.tp.partition, r.offset)),
                        "finished twice"
                    );
                }
                Op::Retry(i, d) if !in_flight.is_empty() => {
                    let r = in_flight.swap_remove(i % in_flight.len());
                    busy.remove(&unit(ordering, &r));
                    let at = now + Duration::from_secs(*d);
                    not_before.insert((r.tp.partition, r.offset), at);
                    prop_assert!(s.retry_later(r, at).is_none());
                }
                Op::Finish(_) | Op::Retry(..) => {}
                Op::Tick => now += Duration::from_secs(1),
            }
        }
        // Drain: every record eventually starts and finishes once.
        for _ in 0..=pushed {
            for r in in_flight.drain(..) {
                busy.remove(&unit(ordering, &r));
                prop_assert!(s.finished(&r.tp, r.key()));
                prop_assert!(
                    finished.insert((r.tp.partition, r.offset)),
                    "finished twice"
                );
            }
            now += Duration::from_secs(10);
            while let Some(r) = s.next_ready(now, GLOBAL, PER_PARTITION) {
                start(ordering, &r, now, &mut busy, &mut last_start, &not_before)?;
                in_flight.push(r);
            }
        }
        prop_assert!(in_flight.is_empty());
        prop_assert_eq!(finished.len(), pushed);
        prop_assert_eq!(s.in_flight_total(), 0);
        for p in 0..3 {
            prop_assert_eq!(s.queued(&tp(p)), 0);
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn key_ordering_starts_each_key_in_offset_order_one_at_a_time(
            ops in proptest::collection::vec(op(), 0..200),
        ) {
            check(ProcessingOrder::Key, &ops)?;
        }

        #[test]
        fn partition_ordering_starts_each_partition_in_offset_order_one_at_a_time(
            ops in proptest::collection::vec(op(), 0..200),
        ) {
            check(ProcessingOrder::Partition, &ops)?;
        }

        #[test]
        fn unordered_runs_everything_once_within_the_limits(
            ops in proptest::collection::vec(op(), 0..200),
        ) {
            check(ProcessingOrder::Unordered, &ops)?;
        }
    }
}
