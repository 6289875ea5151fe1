//! `read_committed` filtering of scripted fetch data: transactions of
//! several producers interleaved, commit and abort markers, plain and
//! idempotent batches, and a last stable offset below the high watermark.

use std::sync::Arc;

use bytes::Bytes;

use super::AbortedTransaction;
use crate::consumer::fetch::completed::{Drained, RawRecord, decode};
use crate::protocol::records::{BatchWriter, Compression, ControlRecord, ControlType};

/// `n` records at `base`; `pid` None for a plain batch, `transactional` for
/// a batch inside a transaction.
fn data(base: i64, n: i64, pid: Option<i64>, transactional: bool) -> Bytes {
    let mut w = BatchWriter::new(Compression::None);
    w.base_offset(base);
    if let Some(pid) = pid {
        w.producer(pid, 0, base as i32).transactional(transactional);
    }
    for i in 0..n {
        w.append(
            1000 + i,
            None,
            Some(format!("v{}", base + i).as_bytes()),
            &[],
        );
    }
    w.finish().unwrap()
}

fn txn(base: i64, n: i64, pid: i64) -> Bytes {
    data(base, n, Some(pid), true)
}

fn marker(base: i64, pid: i64, kind: ControlType) -> Bytes {
    let m = ControlRecord {
        kind,
        coordinator_epoch: 7,
    };
    let mut b = BatchWriter::control(m, 1000, pid, 0).unwrap().to_vec();
    // The base offset is outside the CRC: patching it keeps the batch valid.
    b[..8].copy_from_slice(&base.to_be_bytes());
    Bytes::from(b)
}

fn concat(parts: &[Bytes]) -> Bytes {
    Bytes::from(parts.iter().flat_map(|b| b.to_vec()).collect::<Vec<u8>>())
}

fn aborted(list: &[(i64, i64)]) -> Vec<AbortedTransaction> {
    list.iter()
        .map(|&(producer_id, first_offset)| AbortedTransaction {
            producer_id,
            first_offset,
        })
        .collect()
}

/// Decodes and drains everything; returns the delivered offsets, the
/// position after draining and the next fetch offset.
fn read(
    start: i64,
    data: Bytes,
    lso: Option<i64>,
    list: Vec<AbortedTransaction>,
) -> (Vec<i64>, i64, i64) {
    let topic: Arc<str> = "t".into();
    let mut d = decode(&topic, 0, 1, start, data, lso, list);
    let (mut pos, mut epoch, mut out) = (start, None, Vec::<RawRecord>::new());
    let drained = d
        .fetch
        .drain(&topic, 0, &mut pos, &mut epoch, usize::MAX, &mut out);
    assert!(matches!(drained, Drained::Exhausted), "{drained:?}");
    let offsets = out.iter().map(|r| r.record.offset).collect();
    (offsets, pos, d.next_fetch_offset)
}

/// Offsets 0..=17 of one partition:
/// - producer 1, transaction A (aborted): 0..=2 and 5..=6, ABORT at 7;
/// - producer 2, transaction B (committed): 3..=4, COMMIT at 8;
/// - producer 1, transaction C (committed): 9..=10, COMMIT at 11;
/// - a plain batch 12..=13 and an idempotent non-transactional one at 14;
/// - producer 2, transaction D (aborted): 15..=16, ABORT at 17.
fn interleaved() -> Bytes {
    concat(&[
        txn(0, 3, 1),
        txn(3, 2, 2),
        txn(5, 2, 1),
        marker(7, 1, ControlType::Abort),
        marker(8, 2, ControlType::Commit),
        txn(9, 2, 1),
        marker(11, 1, ControlType::Commit),
        data(12, 2, None, false),
        data(14, 1, Some(3), false),
        txn(15, 2, 2),
        marker(17, 2, ControlType::Abort),
    ])
}

#[test]
fn aborted_transactions_of_several_producers_are_dropped() {
    let (got, pos, next) = read(0, interleaved(), Some(18), aborted(&[(1, 0), (2, 15)]));
    assert_eq!(got, [3, 4, 9, 10, 12, 13, 14]);
    assert_eq!(
        (pos, next),
        (18, 18),
        "markers and aborted data stepped over"
    );
}

#[test]
fn read_uncommitted_sees_aborted_data_but_never_markers() {
    let (got, pos, _) = read(0, interleaved(), None, vec![]);
    assert_eq!(got, [0, 1, 2, 3, 4, 5, 6, 9, 10, 12, 13, 14, 15, 16]);
    assert_eq!(pos, 18);
}

#[test]
fn the_last_stable_offset_bounds_what_is_read() {
    // Transaction D still open: the LSO is its first offset, the broker
    // lists only the aborted transaction below it.
    let (got, pos, next) = read(0, interleaved(), Some(15), aborted(&[(1, 0)]));
    assert_eq!(got, [3, 4, 9, 10, 12, 13, 14]);
    assert_eq!((pos, next), (15, 15));
}

#[test]
fn a_fetch_starting_inside_an_aborted_transaction_still_drops_its_rest() {
    // Fetching from 5: the broker lists transaction A (first offset 0)
    // because it overlaps the range.
    let (got, _, _) = read(5, interleaved(), Some(18), aborted(&[(1, 0), (2, 15)]));
    assert_eq!(got, [9, 10, 12, 13, 14]);
}

#[test]
fn a_later_aborted_transaction_does_not_reach_back_to_committed_data() {
    // Producer 1 commits 0..=1, then aborts a transaction starting at 3.
    let log = concat(&[
        txn(0, 2, 1),
        marker(2, 1, ControlType::Commit),
        txn(3, 2, 1),
        marker(5, 1, ControlType::Abort),
        txn(6, 1, 1),
        marker(7, 1, ControlType::Commit),
    ]);
    // Listed out of order on purpose, with an unrelated producer.
    let list = aborted(&[(1, 3), (9, 100)]);
    let (got, pos, _) = read(0, log, Some(8), list);
    assert_eq!(got, [0, 1, 6]);
    assert_eq!(pos, 8);
}

#[test]
fn non_transactional_batches_of_a_producer_with_an_open_abort_are_kept() {
    // Idempotent (non-transactional) batches are never part of a
    // transaction, whatever the list says.
    let log = concat(&[data(0, 2, Some(4), false), marker(2, 4, ControlType::Abort)]);
    let (got, _, _) = read(0, log, Some(3), aborted(&[(4, 0)]));
    assert_eq!(got, [0, 1]);
}
