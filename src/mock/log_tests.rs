use super::*;
use crate::protocol::records::{BatchWriter, Compression};

fn batch(pid: i64, epoch: i16, seq: i32, n: usize, txn: bool) -> ParsedBatch {
    let mut w = BatchWriter::new(Compression::None);
    if pid >= 0 {
        w.producer(pid, epoch, seq);
    }
    if txn {
        w.transactional(true);
    }
    for i in 0..n {
        w.append(1_000 + i as i64, None, Some(b"v"), &[]);
    }
    ParsedBatch::parse_one(w.finish().unwrap()).unwrap()
}

#[test]
fn offsets_advance_and_reads_return_whole_batches() {
    let mut log = PartitionLog::new(0);
    assert_eq!(log.append(&batch(-1, -1, -1, 3, false), 0), 0);
    assert_eq!(log.append(&batch(-1, -1, -1, 2, false), 0), 3);
    assert_eq!(log.high_watermark(), 5);
    // Offset 4 is inside the second batch: the whole batch comes back.
    let (bytes, next) = log.read(4, 5, 1 << 20, true).unwrap();
    assert_eq!(next, 5);
    assert_eq!(i64::from_be_bytes(bytes[..8].try_into().unwrap()), 3);
    // A limit below one batch returns nothing unless oversize is allowed.
    assert_eq!(log.read(0, 5, 10, false).unwrap().0.len(), 0);
    assert_eq!(log.read(0, 5, 10, true).unwrap().1, 3);
    assert_eq!(
        log.read(6, 5, 10, true).unwrap_err(),
        code::OFFSET_OUT_OF_RANGE
    );
    assert_eq!(log.delete_before(3).unwrap(), 3);
    assert_eq!(
        log.read(0, 5, 10, true).unwrap_err(),
        code::OFFSET_OUT_OF_RANGE
    );
}

#[test]
fn idempotence_detects_duplicates_gaps_and_old_epochs() {
    let mut log = PartitionLog::new(0);
    let first = batch(7, 0, 0, 2, false);
    assert_eq!(log.check_sequence(&first), SequenceCheck::Append);
    log.append(&first, 0);
    assert_eq!(log.check_sequence(&first), SequenceCheck::Duplicate(0));
    assert_eq!(
        log.check_sequence(&batch(7, 0, 5, 1, false)),
        SequenceCheck::Refuse(code::OUT_OF_ORDER_SEQUENCE_NUMBER)
    );
    let next = batch(7, 0, 2, 1, false);
    assert_eq!(log.check_sequence(&next), SequenceCheck::Append);
    log.append(&next, 0);
    // A new epoch must start at 0; an old one is fenced.
    assert_eq!(
        log.check_sequence(&batch(7, 1, 3, 1, false)),
        SequenceCheck::Refuse(code::OUT_OF_ORDER_SEQUENCE_NUMBER)
    );
    log.append(&batch(7, 1, 0, 1, false), 0);
    assert_eq!(
        log.check_sequence(&batch(7, 0, 3, 1, false)),
        SequenceCheck::Refuse(code::INVALID_PRODUCER_EPOCH)
    );
}

#[test]
fn open_transactions_hold_the_lso_and_aborts_are_indexed() {
    let mut log = PartitionLog::new(0);
    log.append(&batch(-1, -1, -1, 1, false), 0); // 0
    log.append(&batch(9, 0, 0, 2, true), 0); // 1..=2
    log.append(&batch(-1, -1, -1, 1, false), 0); // 3
    assert_eq!(log.last_stable_offset(), 1);
    assert_eq!(log.high_watermark(), 4);
    let marker = log.append_marker(9, 0, false, 0, 5_000, 0);
    assert_eq!(marker, 4);
    assert_eq!(log.last_stable_offset(), 5);
    let aborted = log.aborted_between(0, 5);
    assert_eq!(
        aborted,
        vec![AbortedTxn {
            producer_id: 9,
            first_offset: 1,
            last_offset: 4
        }]
    );
    assert!(log.aborted_between(5, 6).is_empty());
    assert!(log.snapshot().batches.last().unwrap().is_control);
}

#[test]
fn epochs_answer_offset_for_leader_epoch() {
    let mut log = PartitionLog::new(0);
    log.append(&batch(-1, -1, -1, 3, false), 0);
    log.begin_epoch(2);
    log.append(&batch(-1, -1, -1, 2, false), 2);
    assert_eq!(log.end_offset_for_epoch(0), (0, 3));
    assert_eq!(log.end_offset_for_epoch(1), (0, 3));
    assert_eq!(log.end_offset_for_epoch(2), (2, 5));
}
