//! One partition's share of a Fetch response, decoded and waiting in the
//! prefetch buffer until `poll` hands its records out.
//!
//! Batches are decoded (CRC checked, decompressed) by the fetch loop, off
//! the caller's task; records are decoded lazily as `poll` drains them, and
//! keys, values and headers stay slices of the response (or of the one
//! buffer a compressed batch inflated to).

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;

use super::aborted::AbortedFilter;
pub(crate) use super::aborted::AbortedTransaction;
use crate::error::{Context, Error};
use crate::protocol::records::{Record, RecordBatch, Records, TimestampType, decode_batches};

/// Fetched data of one partition.
#[derive(Debug)]
pub(crate) struct CompletedFetch {
    /// The partition's generation when the fetch was planned; a mismatch
    /// means a seek or reset happened since and the data is stale.
    pub generation: u64,
    /// The fetch offset of the request; records below it are skipped (a
    /// response may start inside a batch).
    pub start_offset: i64,
    batches: VecDeque<RecordBatch>,
    current: Option<(RecordBatch, Records)>,
    /// Corrupt data after the good batches: surfaced once the batches
    /// before it are delivered.
    pub error: Option<Error>,
    /// Bytes accounted against the prefetch buffer (wire size).
    pub bytes: usize,
    /// The `read_committed` filter, when the range holds aborted
    /// transactions.
    aborted: Option<AbortedFilter>,
}

/// What decoding one partition's records produced.
#[derive(Debug)]
pub(crate) struct Decoded {
    pub fetch: CompletedFetch,
    /// Where the next fetch of this partition starts.
    pub next_fetch_offset: i64,
    /// Number of records in the accepted batches (for metrics).
    pub record_count: u64,
}

/// A record taken out of the buffer, not yet deserialized.
#[derive(Debug)]
pub(crate) struct RawRecord {
    pub topic: Arc<str>,
    pub partition: i32,
    pub generation: u64,
    pub record: Record,
    pub timestamp_type: TimestampType,
    pub leader_epoch: Option<i32>,
}

/// Decodes `records` fetched at `start_offset`.
///
/// Batches wholly below the fetch offset are dropped. With
/// `stable_bound = Some(lso)` (read_committed), batches at or past the last
/// stable offset are dropped too, and batches of the `aborted` transactions
/// are skipped as they are drained (pass an empty list at
/// read_uncommitted). The first corrupt batch ends the data:
/// the error is kept (naming topic, partition and offset) and the next
/// fetch offset stays at the corrupt batch, so nothing past it is read
/// until the application seeks.
pub(crate) fn decode(
    topic: &Arc<str>,
    partition: i32,
    generation: u64,
    start_offset: i64,
    records: Bytes,
    stable_bound: Option<i64>,
    aborted: Vec<AbortedTransaction>,
) -> Decoded {
    let bytes = records.len();
    let mut batches = VecDeque::new();
    let mut next = start_offset;
    let mut error = None;
    let mut record_count = 0u64;
    let mut any_complete = false;
    for batch in decode_batches(records) {
        match batch {
            Ok(batch) => {
                any_complete = true;
                if batch.last_offset() < next {
                    continue;
                }
                if stable_bound.is_some_and(|lso| batch.base_offset >= lso) {
                    break;
                }
                next = batch.last_offset().saturating_add(1);
                record_count += batch.record_count.max(0) as u64;
                batches.push_back(batch);
            }
            Err(e) => {
                error = Some(corrupt(topic, partition, next, e));
                break;
            }
        }
    }
    if bytes > 0 && !any_complete && error.is_none() {
        // KIP-74 brokers always return at least one whole batch; data that
        // holds none can never make progress, so say so instead of looping.
        error = Some(corrupt(
            topic,
            partition,
            next,
            Error::Records {
                reason: "the fetched data holds no complete batch (a batch larger than \
                         max.partition.fetch.bytes from a pre-KIP-74 broker?)"
                    .into(),
                context: Context::default(),
            },
        ));
    }
    Decoded {
        fetch: CompletedFetch {
            generation,
            start_offset,
            batches,
            current: None,
            error,
            bytes,
            aborted: AbortedFilter::new(aborted),
        },
        next_fetch_offset: next,
        record_count,
    }
}

/// The error for corrupt data at `offset`, naming the partition: the
/// application can `seek` past it.
fn corrupt(topic: &Arc<str>, partition: i32, offset: i64, cause: Error) -> Error {
    let reason = match &cause {
        Error::Records { reason, .. } => reason.clone(),
        other => other.to_string(),
    };
    Error::Records {
        reason: format!(
            "corrupt record data at or after offset {offset}: {reason}; \
             seek past it to continue"
        ),
        context: Context::api("Fetch")
            .with_topic(topic.clone())
            .with_partition(partition),
    }
}

/// Where draining stopped.
#[derive(Debug)]
pub(crate) enum Drained {
    /// `max` records were taken; more may remain.
    Full,
    /// Everything was taken; the fetch can be dropped.
    Exhausted,
    /// Corrupt data reached: the fetch is done and this error is due.
    Failed(Error),
}

impl CompletedFetch {
    /// Moves up to `max - out.len()` records at or after `*position` into
    /// `out`, advancing `*position` (and `*epoch`) past each and past the
    /// end of each finished batch (so gaps left by compaction and control
    /// batches are stepped over).
    pub(crate) fn drain(
        &mut self,
        topic: &Arc<str>,
        partition: i32,
        position: &mut i64,
        epoch: &mut Option<i32>,
        max: usize,
        out: &mut Vec<RawRecord>,
    ) -> Drained {
        let floor = self.start_offset;
        loop {
            if out.len() >= max {
                return Drained::Full;
            }
            if self.current.is_none() {
                let Some(batch) = self.batches.pop_front() else {
                    return match self.error.take() {
                        Some(e) => Drained::Failed(e),
                        None => Drained::Exhausted,
                    };
                };
                let aborted = self.aborted.as_mut().is_some_and(|f| f.is_aborted(&batch));
                if aborted || batch.is_control() {
                    // Transaction markers are not records for the
                    // application, and aborted data is not for a
                    // read_committed one: step over both.
                    *position = (*position).max(batch.last_offset().saturating_add(1));
                    continue;
                }
                let records = batch.records();
                self.current = Some((batch, records));
            }
            let Some((batch, records)) = self.current.as_mut() else {
                continue;
            };
            match records.next() {
                Some(Ok(record)) => {
                    if record.offset < *position || record.offset < floor {
                        continue;
                    }
                    *position = record.offset.saturating_add(1);
                    let leader_epoch =
                        (batch.partition_leader_epoch >= 0).then_some(batch.partition_leader_epoch);
                    *epoch = leader_epoch.or(*epoch);
                    out.push(RawRecord {
                        topic: topic.clone(),
                        partition,
                        generation: self.generation,
                        record,
                        timestamp_type: batch.timestamp_type(),
                        leader_epoch,
                    });
                }
                Some(Err(e)) => {
                    let err = corrupt(topic, partition, *position, e);
                    self.current = None;
                    self.batches.clear();
                    return Drained::Failed(err);
                }
                None => {
                    *position = (*position).max(batch.last_offset().saturating_add(1));
                    self.current = None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::records::{BatchWriter, Compression};

    fn batch(base: i64, n: i64) -> Bytes {
        let mut w = BatchWriter::new(Compression::None);
        for i in 0..n {
            let v = format!("v{}", base + i);
            w.append(1000 + i, None, Some(v.as_bytes()), &[]);
        }
        let mut b = w.finish().unwrap().to_vec();
        b[..8].copy_from_slice(&base.to_be_bytes());
        // Base offset is outside the CRC, so patching it keeps the batch valid.
        Bytes::from(b)
    }

    fn concat(parts: &[Bytes]) -> Bytes {
        Bytes::from(parts.iter().flat_map(|b| b.to_vec()).collect::<Vec<u8>>())
    }

    fn offsets(out: &[RawRecord]) -> Vec<i64> {
        out.iter().map(|r| r.record.offset).collect()
    }

    #[test]
    fn fetch_inside_a_batch_skips_the_earlier_records() {
        let topic: Arc<str> = "t".into();
        let data = concat(&[batch(0, 5), batch(5, 5)]);
        let mut d = decode(&topic, 0, 1, 3, data, None, vec![]);
        assert_eq!(d.next_fetch_offset, 10);
        let (mut pos, mut epoch, mut out) = (3, None, Vec::new());
        assert!(matches!(
            d.fetch
                .drain(&topic, 0, &mut pos, &mut epoch, 100, &mut out),
            Drained::Exhausted
        ));
        assert_eq!(offsets(&out), [3, 4, 5, 6, 7, 8, 9]);
        assert_eq!(pos, 10);
    }

    #[test]
    fn drain_stops_at_max_and_resumes_where_it_stopped() {
        let topic: Arc<str> = "t".into();
        let mut d = decode(&topic, 0, 1, 0, batch(0, 10), None, vec![]);
        let (mut pos, mut epoch, mut out) = (0, None, Vec::new());
        assert!(matches!(
            d.fetch.drain(&topic, 0, &mut pos, &mut epoch, 4, &mut out),
            Drained::Full
        ));
        assert_eq!(pos, 4);
        out.clear();
        assert!(matches!(
            d.fetch
                .drain(&topic, 0, &mut pos, &mut epoch, 100, &mut out),
            Drained::Exhausted
        ));
        assert_eq!(offsets(&out), [4, 5, 6, 7, 8, 9]);
    }

    #[test]
    fn batches_below_the_fetch_offset_are_dropped_and_gaps_stepped_over() {
        let topic: Arc<str> = "t".into();
        // 0..5, then a batch at 20 (a gap, as compaction leaves).
        let data = concat(&[batch(0, 5), batch(20, 2)]);
        let mut d = decode(&topic, 0, 1, 5, data, None, vec![]);
        assert_eq!(d.next_fetch_offset, 22);
        let (mut pos, mut epoch, mut out) = (5, None, Vec::new());
        d.fetch
            .drain(&topic, 0, &mut pos, &mut epoch, 100, &mut out);
        assert_eq!(offsets(&out), [20, 21]);
        assert_eq!(pos, 22);
    }

    #[test]
    fn corrupt_batch_ends_the_data_after_the_good_ones() {
        let topic: Arc<str> = "t".into();
        let mut bad = batch(5, 5).to_vec();
        let last = bad.len() - 1;
        bad[last] ^= 0xff;
        let data = concat(&[batch(0, 5), Bytes::from(bad), batch(10, 5)]);
        let mut d = decode(&topic, 2, 1, 0, data, None, vec![]);
        assert_eq!(
            d.next_fetch_offset, 5,
            "the next fetch stays at the corrupt batch"
        );
        let (mut pos, mut epoch, mut out) = (0, None, Vec::new());
        let Drained::Failed(e) = d
            .fetch
            .drain(&topic, 2, &mut pos, &mut epoch, 100, &mut out)
        else {
            panic!("expected the corrupt batch to fail the drain");
        };
        assert_eq!(offsets(&out), [0, 1, 2, 3, 4]);
        assert_eq!(pos, 5);
        let ctx = e.context().unwrap();
        assert_eq!((ctx.topic.as_deref(), ctx.partition), (Some("t"), Some(2)));
        assert!(e.to_string().contains("offset 5"), "{e}");
    }

    #[test]
    fn read_committed_stops_at_the_last_stable_offset() {
        let topic: Arc<str> = "t".into();
        let data = concat(&[batch(0, 5), batch(5, 5)]);
        let d = decode(&topic, 0, 1, 0, data, Some(5), vec![]);
        assert_eq!(d.next_fetch_offset, 5);
        assert_eq!(d.record_count, 5);
    }

    #[test]
    fn truncated_tail_is_ignored_but_data_without_a_whole_batch_is_an_error() {
        let topic: Arc<str> = "t".into();
        let whole = batch(0, 3);
        let partial = batch(3, 3).slice(..20);
        let d = decode(
            &topic,
            0,
            1,
            0,
            concat(&[whole, partial.clone()]),
            None,
            vec![],
        );
        assert_eq!(d.next_fetch_offset, 3);
        assert!(d.fetch.error.is_none());
        let d = decode(&topic, 0, 1, 3, partial, None, vec![]);
        assert!(d.fetch.error.is_some());
        assert_eq!(d.next_fetch_offset, 3);
    }
}
