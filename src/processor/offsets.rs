//! `PartitionOffsets`: which records of one partition are done, so commits
//! never pass a record that is still being processed.
//!
//! Records of a partition finish out of order when they are processed in
//! parallel. Kafka stores one committed offset per partition, so the offset
//! we commit is the lowest one still unfinished: everything below it is done.
//! Records finished *above* it ("completed beyond") would be processed again
//! after a restart; Confluent's Parallel Consumer avoids that by writing them
//! into the commit's metadata string, and so do we
//! ([`PartitionOffsets::encode_metadata`], [`PartitionOffsets::from_committed`]).
//!
//! ```text
//!   offsets:   .. 7  8  9  10 11 12 13 ..
//!   state:        ✓  ✓  …  ✓  …  ✓       (✓ completed, … tracked, not completed)
//!   committable() = 9; completed_beyond() = [10, 12]; in_flight() = 2
//! ```
//!
//! **What holds the commit back.** Only offsets registered with
//! [`PartitionOffsets::started`] and not yet completed. Offsets that were
//! never registered are treated as absent from the log: a fetch skips offsets
//! removed by compaction and transaction markers, and a tracker that waited
//! for them would never commit again. So the runtime must register every
//! record when it *receives* it (queued records hold the commit back too),
//! in offset order. With nothing incomplete, the position is the end of what
//! was received, not one past the highest completion: completions restored
//! from metadata lie above records this session has not received yet.
//!
//! **Memory bound.** The tracker holds one entry per tracked-not-completed
//! offset and one per completed-beyond offset. The first is bounded by how
//! many records the runtime has taken in for the partition; the second grows
//! while one record is stuck and later ones finish. The runtime bounds it by
//! pausing the partition's fetches while [`PartitionOffsets::beyond_len`]
//! exceeds its limit: then at most `limit + in_flight()` entries are held, and
//! restoring from metadata adds at most [`MAX_RESTORED`].

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The version prefix of our commit metadata. Anything else (another
/// client's metadata, an older or newer format) decodes to "nothing
/// completed beyond", which only costs reprocessing.
const METADATA_PREFIX: &str = "kp1:";

/// Bytes of the CRC-32C that ends the payload, so a corrupted string that
/// still happens to be valid base64 is refused instead of trusted.
const CRC_LEN: usize = 4;

/// The most completed-beyond offsets [`PartitionOffsets::from_committed`]
/// restores. A run length in the metadata can claim millions of offsets in
/// three bytes; the farthest past this cap are dropped (redone: safe).
pub(crate) const MAX_RESTORED: usize = 1 << 16;

/// One partition's processing progress (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartitionOffsets {
    /// Everything below is done. Equals the lowest tracked-not-completed
    /// offset when there is one, else one past the highest completed offset
    /// (or the start position).
    committable: i64,
    /// Registered with `started` and not completed yet; all `>= committable`.
    incomplete: BTreeSet<i64>,
    /// Completed offsets above `committable`: finished out of order, or
    /// restored from commit metadata.
    beyond: BTreeSet<i64>,
    /// One past the highest offset registered (`started` or `completed`) in
    /// this session; offsets from here on have not been received.
    received_end: i64,
}

impl PartitionOffsets {
    /// A tracker starting at the committed position `start`: offsets below it
    /// are done, nothing at or above it is.
    pub(crate) fn new(start: i64) -> Self {
        PartitionOffsets {
            committable: start,
            incomplete: BTreeSet::new(),
            beyond: BTreeSet::new(),
            received_end: start,
        }
    }

    /// Registers a received record. Call it for every record the runtime
    /// takes in, in offset order, before processing (or queueing) it.
    ///
    /// Returns `false` (and changes nothing) when the offset is already done
    /// or already tracked: a re-fetched record the runtime should skip or
    /// is already handling.
    pub(crate) fn started(&mut self, offset: i64) -> bool {
        if self.is_done(offset) {
            return false;
        }
        let fresh = self.incomplete.insert(offset);
        self.received_end = self.received_end.max(offset.saturating_add(1));
        self.settle();
        fresh
    }

    /// Marks a record finished: processed successfully, or given up on and
    /// dead-lettered. Both move the commit past it. Completing an offset that
    /// was never registered is allowed and counts as registered-and-done.
    /// Completing a done offset again changes nothing.
    pub(crate) fn completed(&mut self, offset: i64) {
        if offset < self.committable {
            return;
        }
        self.incomplete.remove(&offset);
        self.beyond.insert(offset);
        self.received_end = self.received_end.max(offset.saturating_add(1));
        self.settle();
    }

    /// Restores the invariants after a change: `committable` is the lowest
    /// incomplete offset; when none is, it is the end of what was received,
    /// moved past completions restored from metadata that start right there.
    /// Completed offsets below it are forgotten, which is what keeps the
    /// tracker small when work finishes in order.
    fn settle(&mut self) {
        let next = match self.incomplete.first() {
            Some(&lowest) => lowest,
            None => {
                // Not the highest *completed* offset plus one: restored
                // completions lie above records not received yet.
                let mut next = self.received_end.max(self.committable);
                for &done in self.beyond.range(next..) {
                    if done != next {
                        break;
                    }
                    next = next.saturating_add(1);
                }
                next
            }
        };
        if next != self.committable {
            self.committable = next;
            // Keep only the completions above the new position.
            self.beyond = self.beyond.split_off(&next);
        }
    }

    /// The offset to commit: the lowest tracked offset not completed (or, with
    /// none, the end of what was received), so every record below it is done.
    /// Kafka's committed offset is the next record to read.
    pub(crate) fn committable(&self) -> i64 {
        self.committable
    }

    /// Completed offsets above [`committable`](Self::committable), ascending.
    pub(crate) fn completed_beyond(&self) -> impl Iterator<Item = i64> + '_ {
        self.beyond.iter().copied()
    }

    /// How many completed offsets are held above the committable one. The
    /// runtime pauses the partition while this exceeds its limit (see the
    /// module docs' memory bound).
    pub(crate) fn beyond_len(&self) -> usize {
        self.beyond.len()
    }

    /// Records registered and not completed yet (queued or being processed).
    pub(crate) fn in_flight(&self) -> usize {
        self.incomplete.len()
    }

    /// Whether the record at `offset` needs no processing: it is below the
    /// committable offset or completed beyond it. A record fetched again after
    /// a restart or a rebalance is skipped when this is true.
    pub(crate) fn is_done(&self, offset: i64) -> bool {
        offset < self.committable || self.beyond.contains(&offset)
    }

    /// The commit metadata for [`committable`](Self::committable): which
    /// offsets above it are completed, in at most `max_len` bytes (brokers
    /// accept 4096 by default, `offset.metadata.max.bytes`).
    ///
    /// Format: `kp1:` then URL-safe base64 without padding of: the committed
    /// offset as an unsigned LEB128 varint, then the lengths of alternating
    /// runs starting at `committable + 1` (not completed, completed, not
    /// completed, ...; a run may be 0 only first), each a varint, then the
    /// CRC-32C of those bytes, big-endian. The committed offset is repeated
    /// inside so metadata that travels with a different offset (a reset by
    /// an admin tool) is refused instead of misread.
    ///
    /// When the whole set does not fit, the completions farthest from the
    /// committed offset are dropped: they are processed again after a restart
    /// (at-least-once), and no offset that was not completed is ever claimed.
    /// Returns the empty string when nothing is completed beyond, or when not
    /// even one run fits in `max_len`.
    pub(crate) fn encode_metadata(&self, max_len: usize) -> String {
        let base = self.committable;
        if self.beyond.is_empty() || base < 0 {
            return String::new();
        }
        let budget = payload_budget(max_len);
        let mut payload = Vec::new();
        put_varint(&mut payload, base as u64);
        if payload.len() >= budget {
            return String::new();
        }
        // `expected` is the next offset a run would start at.
        let mut expected = base.saturating_add(1);
        let runs = Runs::new(&self.beyond);
        let mut wrote_any = false;
        for (gap_start, done_len) in runs {
            let gap = gap_start.saturating_sub(expected) as u64;
            let room = budget - payload.len();
            let gap_bytes = varint_len(gap);
            let full = gap_bytes + varint_len(done_len);
            if full <= room {
                put_varint(&mut payload, gap);
                put_varint(&mut payload, done_len);
                wrote_any = true;
                expected = gap_start.saturating_add(done_len as i64);
                continue;
            }
            // Only part of this run fits: keep its nearest completions (the
            // largest count whose varint fits the remaining bytes).
            if room > gap_bytes {
                let most = max_varint_value(room - gap_bytes).min(done_len);
                if most > 0 {
                    put_varint(&mut payload, gap);
                    put_varint(&mut payload, most);
                    wrote_any = true;
                }
            }
            break;
        }
        if !wrote_any {
            return String::new();
        }
        let crc = crc32c::crc32c(&payload);
        payload.extend_from_slice(&crc.to_be_bytes());
        let mut out = String::with_capacity(max_len.min(4096));
        out.push_str(METADATA_PREFIX);
        URL_SAFE_NO_PAD.encode_string(&payload, &mut out);
        out
    }

    /// A tracker restored from a committed `offset` and its metadata, with the
    /// completed-beyond offsets the metadata names (at most [`MAX_RESTORED`],
    /// the nearest kept).
    ///
    /// Metadata that is absent, not ours, corrupt (bad base64, varint or
    /// CRC), or written for another offset restores nothing beyond: those
    /// records are processed again, never skipped. Never panics.
    pub(crate) fn from_committed(offset: i64, metadata: Option<&str>) -> Self {
        let mut tracker = PartitionOffsets::new(offset);
        if let Some(beyond) = metadata.and_then(|m| decode_metadata(offset, m)) {
            // All above `offset`, which itself is not done: the position
            // stays, and advances past them only once the records between
            // are received and completed (`settle`).
            tracker.beyond = beyond;
        }
        tracker
    }
}

/// The completed set as maximal runs: `(first offset, length)`, ascending.
struct Runs<'a> {
    /// The remaining completed offsets.
    iter: std::iter::Peekable<std::collections::btree_set::Iter<'a, i64>>,
}

impl<'a> Runs<'a> {
    /// Runs over `set`.
    fn new(set: &'a BTreeSet<i64>) -> Self {
        Runs {
            iter: set.iter().peekable(),
        }
    }
}

impl Iterator for Runs<'_> {
    type Item = (i64, u64);

    fn next(&mut self) -> Option<(i64, u64)> {
        let &start = self.iter.next()?;
        let mut len: u64 = 1;
        let mut last = start;
        while let Some(&&o) = self.iter.peek() {
            if Some(o) != last.checked_add(1) {
                break;
            }
            last = o;
            len += 1;
            self.iter.next();
        }
        Some((start, len))
    }
}

/// How many varint bytes fit in `max_len` characters: the prefix, then
/// unpadded base64 of the varints and the CRC (`ceil(4n / 3)` characters for
/// `n` bytes).
fn payload_budget(max_len: usize) -> usize {
    let chars = max_len.saturating_sub(METADATA_PREFIX.len());
    // Largest n with ceil(4n/3) <= chars is floor(3 * chars / 4).
    let bytes = chars.saturating_mul(3) / 4;
    bytes.saturating_sub(CRC_LEN)
}

/// Decodes our metadata for committed `offset`; `None` when it is not ours,
/// corrupt, or for another offset.
fn decode_metadata(offset: i64, metadata: &str) -> Option<BTreeSet<i64>> {
    let encoded = metadata.strip_prefix(METADATA_PREFIX)?;
    // A string longer than any broker accepts is not ours; refusing it also
    // bounds the decoding work.
    if encoded.len() > 1 << 20 {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(encoded).ok()?;
    let split = bytes.len().checked_sub(CRC_LEN)?;
    let (payload, crc) = bytes.split_at(split);
    let crc = u32::from_be_bytes(crc.try_into().ok()?);
    if crc32c::crc32c(payload) != crc {
        return None;
    }
    let mut input = payload;
    let base = get_varint(&mut input)?;
    if i64::try_from(base).ok()? != offset {
        return None;
    }
    let mut beyond = BTreeSet::new();
    let mut next = offset.checked_add(1)?;
    while !input.is_empty() {
        let gap = i64::try_from(get_varint(&mut input)?).ok()?;
        let done = get_varint(&mut input)?;
        next = next.checked_add(gap)?;
        for _ in 0..done {
            if beyond.len() >= MAX_RESTORED {
                return Some(beyond);
            }
            beyond.insert(next);
            match next.checked_add(1) {
                Some(n) => next = n,
                None => return Some(beyond),
            }
        }
    }
    Some(beyond)
}

/// Appends `value` as an unsigned LEB128 varint.
fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads an unsigned LEB128 varint from the front of `input`; `None` when it
/// is cut short or longer than 64 bits.
fn get_varint(input: &mut &[u8]) -> Option<u64> {
    let mut value: u64 = 0;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = input.split_first()?;
        *input = rest;
        let bits = u64::from(byte & 0x7f);
        // The tenth byte may only carry the top bit of 64.
        if shift == 63 && bits > 1 {
            return None;
        }
        value |= bits << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// Bytes of `value` as a varint.
fn varint_len(value: u64) -> usize {
    let bits = 64 - value.leading_zeros() as usize;
    bits.div_ceil(7).max(1)
}

/// The largest value a varint of at most `bytes` bytes holds.
fn max_varint_value(bytes: usize) -> u64 {
    if bytes >= 10 {
        u64::MAX
    } else {
        (1u64 << (7 * bytes)) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn in_order_completion_advances_and_forgets() {
        let mut p = PartitionOffsets::new(10);
        for o in 10..15 {
            assert!(p.started(o));
        }
        assert_eq!(p.in_flight(), 5);
        p.completed(10);
        p.completed(11);
        assert_eq!(p.committable(), 12);
        assert_eq!(p.beyond_len(), 0);
        for o in 12..15 {
            p.completed(o);
        }
        assert_eq!(p.committable(), 15);
        assert_eq!(p.in_flight(), 0);
        assert!(p.is_done(14));
        assert!(!p.is_done(15));
    }

    #[test]
    fn a_stuck_record_holds_the_commit_and_later_ones_are_beyond() {
        let mut p = PartitionOffsets::new(0);
        for o in 0..6 {
            p.started(o);
        }
        for o in [1, 2, 4, 5] {
            p.completed(o);
        }
        assert_eq!(p.committable(), 0);
        assert_eq!(p.completed_beyond().collect::<Vec<_>>(), [1, 2, 4, 5]);
        assert_eq!(p.beyond_len(), 4);
        assert_eq!(p.in_flight(), 2);
        assert!(p.is_done(4) && !p.is_done(3) && !p.is_done(0));
        p.completed(0);
        assert_eq!(p.committable(), 3);
        assert_eq!(p.completed_beyond().collect::<Vec<_>>(), [4, 5]);
        p.completed(3);
        assert_eq!(p.committable(), 6);
        assert_eq!(p.beyond_len(), 0);
    }

    #[test]
    fn offsets_never_received_do_not_hold_the_commit() {
        // Compaction and transaction markers leave holes: 3 and 4 never come.
        let mut p = PartitionOffsets::new(0);
        for o in [0, 1, 2, 5, 6] {
            p.started(o);
        }
        for o in [6, 5, 2, 1, 0] {
            p.completed(o);
        }
        assert_eq!(p.committable(), 7);
    }

    #[test]
    fn a_refetched_done_record_is_not_started_again() {
        let mut p = PartitionOffsets::new(0);
        p.started(0);
        p.started(1);
        p.completed(1);
        assert!(!p.started(1), "completed beyond");
        assert!(!p.started(0), "already tracked");
        p.completed(0);
        assert!(!p.started(0), "below committable");
        assert_eq!(p.in_flight(), 0);
        // Completing twice or below the position changes nothing.
        p.completed(0);
        p.completed(1);
        assert_eq!(p.committable(), 2);
    }

    #[test]
    fn completing_an_unregistered_offset_counts_as_done() {
        let mut p = PartitionOffsets::new(5);
        p.started(5);
        p.completed(8);
        assert_eq!(p.committable(), 5);
        assert!(p.is_done(8));
        p.completed(5);
        assert_eq!(p.committable(), 9);
    }

    #[test]
    fn restored_completions_are_skipped_and_the_commit_waits_for_the_gap() {
        let mut before = PartitionOffsets::new(0);
        for o in 0..4 {
            before.started(o);
        }
        before.completed(1);
        before.completed(3);
        let m = before.encode_metadata(4096);

        let mut p = PartitionOffsets::from_committed(0, Some(&m));
        assert_eq!(p.committable(), 0);
        assert!(p.is_done(1) && p.is_done(3) && !p.is_done(2));
        assert!(p.started(0));
        // 0 finishes before 1..3 are received: 1 was done last time, 2 was
        // not, so the commit stops at 2 and does not jump to 4.
        p.completed(0);
        assert_eq!(p.committable(), 2);
        assert!(!p.started(1));
        assert!(p.started(2));
        assert!(!p.started(3));
        p.completed(2);
        assert_eq!(p.committable(), 4);
        assert_eq!(p.beyond_len(), 0);
    }

    #[test]
    fn metadata_is_empty_when_nothing_is_beyond() {
        let mut p = PartitionOffsets::new(3);
        assert_eq!(p.encode_metadata(4096), "");
        p.started(3);
        assert_eq!(p.encode_metadata(4096), "");
        let restored = PartitionOffsets::from_committed(3, Some(""));
        assert_eq!(restored.beyond_len(), 0);
        assert_eq!(restored.committable(), 3);
    }

    #[test]
    fn metadata_round_trips_and_is_compact_ascii() {
        let mut p = PartitionOffsets::new(1000);
        for o in 1000..1100 {
            p.started(o);
        }
        for o in (1001..1100).filter(|o| o % 3 != 0) {
            p.completed(o);
        }
        let m = p.encode_metadata(4096);
        assert!(m.starts_with("kp1:"), "{m}");
        assert!(m.is_ascii());
        assert!(m.len() < 120, "{} bytes: {m}", m.len());
        let r = PartitionOffsets::from_committed(1000, Some(&m));
        assert_eq!(r.committable(), 1000);
        assert_eq!(
            r.completed_beyond().collect::<Vec<_>>(),
            p.completed_beyond().collect::<Vec<_>>()
        );
        // A long contiguous run costs a few bytes.
        let mut q = PartitionOffsets::new(0);
        q.started(0);
        for o in 1..100_000 {
            q.completed(o);
        }
        let m = q.encode_metadata(4096);
        assert!(m.len() < 20, "{m}");
        let r = PartitionOffsets::from_committed(0, Some(&m));
        assert_eq!(r.beyond_len(), MAX_RESTORED, "restoring is capped");
        assert_eq!(r.completed_beyond().next(), Some(1));
        assert_eq!(r.completed_beyond().last(), Some(MAX_RESTORED as i64));
    }

    #[test]
    fn metadata_for_another_offset_or_corrupted_restores_nothing() {
        let mut p = PartitionOffsets::new(7);
        p.started(7);
        p.completed(9);
        let m = p.encode_metadata(4096);
        assert_eq!(
            PartitionOffsets::from_committed(7, Some(&m))
                .completed_beyond()
                .collect::<Vec<_>>(),
            [9]
        );
        assert_eq!(
            PartitionOffsets::from_committed(8, Some(&m)).beyond_len(),
            0
        );
        // Flip one character of the payload: the CRC refuses it.
        let mut bytes = m.clone().into_bytes();
        let last = bytes.len() - 3;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let bad = String::from_utf8(bytes).expect("ascii");
        assert_eq!(
            PartitionOffsets::from_committed(7, Some(&bad)).beyond_len(),
            0
        );
        for other in [
            "",
            "kp1:",
            "kp1:!!!",
            "kp2:AAAA",
            "some other client's metadata",
        ] {
            let r = PartitionOffsets::from_committed(7, Some(other));
            assert_eq!((r.committable(), r.beyond_len()), (7, 0), "{other}");
        }
        assert_eq!(PartitionOffsets::from_committed(7, None).beyond_len(), 0);
    }

    #[test]
    fn too_long_metadata_drops_the_farthest_completions() {
        let mut p = PartitionOffsets::new(0);
        p.started(0);
        // Every other offset completed: one run pair per completion.
        for o in (2..2000).step_by(2) {
            p.completed(o);
        }
        let m = p.encode_metadata(64);
        assert!(m.len() <= 64, "{}", m.len());
        let r = PartitionOffsets::from_committed(0, Some(&m));
        let kept: Vec<i64> = r.completed_beyond().collect();
        assert!(!kept.is_empty());
        let expected: Vec<i64> = (2..2000).step_by(2).take(kept.len()).collect();
        assert_eq!(kept, expected, "the nearest completions are the ones kept");
        // Too small for even one run: nothing, rather than a wrong claim.
        assert_eq!(p.encode_metadata(8), "");
    }

    #[test]
    fn a_partly_fitting_run_is_cut_not_dropped() {
        let mut p = PartitionOffsets::new(0);
        p.started(0);
        for o in 1..=1_000_000 {
            p.completed(o);
        }
        // prefix 4 + base64 of (base 1 + gap 1 + run 2 + crc 4 = 8 bytes).
        let m = p.encode_metadata(4 + 11);
        let r = PartitionOffsets::from_committed(0, Some(&m));
        assert_eq!(r.beyond_len(), (1 << 14) - 1);
        assert_eq!(r.completed_beyond().next(), Some(1));
    }

    #[test]
    fn varints_round_trip_at_the_edges() {
        for v in [0, 1, 127, 128, 16_383, 16_384, u64::MAX >> 1, u64::MAX] {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            assert_eq!(buf.len(), varint_len(v));
            let mut input = buf.as_slice();
            assert_eq!(get_varint(&mut input), Some(v));
            assert!(input.is_empty());
        }
        // Eleven continuation bytes and a tenth byte over 64 bits are refused.
        assert_eq!(get_varint(&mut [0xffu8; 11].as_slice()), None);
        let mut over = vec![0xffu8; 9];
        over.push(0x02);
        assert_eq!(get_varint(&mut over.as_slice()), None);
    }

    /// The lowest offset of `0..n` not in `done`.
    fn lowest_missing(n: i64, done: &BTreeSet<i64>) -> i64 {
        (0..n).find(|o| !done.contains(o)).unwrap_or(n)
    }

    proptest! {
        #[test]
        fn committable_is_the_lowest_not_completed(
            order in Just((0..64i64).collect::<Vec<_>>()).prop_shuffle(),
            take in 0usize..=64,
        ) {
            let mut p = PartitionOffsets::new(0);
            for o in 0..64 {
                p.started(o);
            }
            let mut done = BTreeSet::new();
            for &o in order.iter().take(take) {
                p.completed(o);
                done.insert(o);
                let c = lowest_missing(64, &done);
                prop_assert_eq!(p.committable(), c);
                let beyond: Vec<i64> = done.range(c..).copied().collect();
                prop_assert_eq!(p.completed_beyond().collect::<Vec<_>>(), beyond);
                for q in 0..64 {
                    prop_assert_eq!(p.is_done(q), done.contains(&q));
                }
            }
            prop_assert_eq!(p.in_flight(), 64 - done.len());
        }

        #[test]
        fn metadata_round_trips_when_it_fits_and_never_overclaims(
            base in 0i64..1_000_000_000_000,
            pattern in proptest::collection::vec(any::<bool>(), 1..600),
            max_len in 0usize..400,
        ) {
            let mut p = PartitionOffsets::new(base);
            p.started(base);
            for (i, &done) in pattern.iter().enumerate() {
                if done {
                    p.completed(base + 1 + i as i64);
                }
            }
            let truth: Vec<i64> = p.completed_beyond().collect();
            let full = p.encode_metadata(usize::MAX);
            let r = PartitionOffsets::from_committed(base, Some(&full));
            prop_assert_eq!(r.completed_beyond().collect::<Vec<_>>(), truth.clone());

            let cut = p.encode_metadata(max_len);
            prop_assert!(cut.len() <= max_len);
            prop_assert!(cut.is_ascii());
            let r = PartitionOffsets::from_committed(base, Some(&cut));
            let kept: Vec<i64> = r.completed_beyond().collect();
            // A prefix of the truth: nothing claimed that was not completed,
            // and only the farthest dropped.
            prop_assert!(kept.len() <= truth.len());
            prop_assert_eq!(&truth[..kept.len()], kept.as_slice());
            if full.len() <= max_len {
                prop_assert_eq!(kept, truth);
            }
        }

        #[test]
        fn decoding_arbitrary_strings_never_panics_or_overclaims(
            s in ".{0,200}",
            b in proptest::collection::vec(any::<u8>(), 0..200),
            offset in any::<i64>(),
        ) {
            let r = PartitionOffsets::from_committed(offset, Some(&s));
            prop_assert_eq!(r.committable(), offset);
            let ours = format!("kp1:{}", URL_SAFE_NO_PAD.encode(&b));
            let r = PartitionOffsets::from_committed(offset, Some(&ours));
            prop_assert!(r.beyond_len() <= MAX_RESTORED);
            prop_assert!(r.completed_beyond().all(|o| o > offset));
            // Random runs behind a matching offset and a valid CRC reach the
            // run decoder itself: huge runs, overflowing offsets, odd counts.
            let mut payload = Vec::new();
            put_varint(&mut payload, offset as u64);
            payload.extend_from_slice(&b);
            let crc = crc32c::crc32c(&payload);
            payload.extend_from_slice(&crc.to_be_bytes());
            let framed = format!("kp1:{}", URL_SAFE_NO_PAD.encode(&payload));
            let mut r = PartitionOffsets::from_committed(offset, Some(&framed));
            prop_assert!(r.beyond_len() <= MAX_RESTORED);
            prop_assert!(r.completed_beyond().all(|o| o > offset));
            prop_assert_eq!(r.committable(), offset);
            // Restored completions never move the position by themselves.
            r.started(offset);
            prop_assert_eq!(r.committable(), offset);
        }
    }
}
