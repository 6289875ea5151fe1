//! Accumulator unit tests: appending, readiness, sequence order across
//! retries and connections, transactions and aborts, all driven through
//! the accumulator's own calls on a paused clock.

use super::*;

fn acc(linger_ms: u64) -> Accumulator {
    Accumulator::new(AccumulatorConfig {
        batch_size: 1000,
        linger: Duration::from_millis(linger_ms),
        compression: Compression::None,
        max_in_flight: 5,
        max_request_size: 1 << 20,
        transactional: false,
    })
}

fn add(a: &mut Accumulator, tp: &Tp, n: usize, size: usize) -> Vec<DeliveryFuture> {
    (0..n)
        .map(|_| a.append(tp, 0, None, Some(&vec![0u8; size]), &[], size).0)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn batches_wait_for_linger_or_size() {
    let mut a = acc(5);
    let tp: Tp = ("t".into(), 0);
    let _rx = add(&mut a, &tp, 2, 100);
    let d = a
        .drain(Instant::now(), false, DrainMode::All, None, |_| Some(1))
        .unwrap();
    assert!(d.requests.is_empty());
    assert!(d.next_wake.is_some());
    tokio::time::advance(Duration::from_millis(5)).await;
    let d = a
        .drain(Instant::now(), false, DrainMode::All, None, |_| Some(1))
        .unwrap();
    assert_eq!(d.requests.len(), 1);
    assert_eq!(d.requests[0].1[0].record_count(), 2);
}

#[tokio::test(start_paused = true)]
async fn full_batches_are_ready_at_once_and_sequences_advance() {
    let mut a = acc(1000);
    let tp: Tp = ("t".into(), 3);
    let _rx = add(&mut a, &tp, 25, 100); // ~3 batches of ~8 records
    let d = a
        .drain(Instant::now(), false, DrainMode::All, Some((7, 0)), |_| {
            Some(2)
        })
        .unwrap();
    let batches = &d.requests[0].1;
    assert!(batches.len() == 1, "one batch per partition per drain");
    assert_eq!(batches[0].base_sequence, Some(0));
    let first = batches[0].record_count() as i32;
    let d2 = a
        .drain(Instant::now(), false, DrainMode::All, Some((7, 0)), |_| {
            Some(2)
        })
        .unwrap();
    assert_eq!(d2.requests[0].1[0].base_sequence, Some(first));
}

#[tokio::test(start_paused = true)]
async fn requeued_batch_goes_first_and_alone() {
    let mut a = acc(0);
    let tp: Tp = ("t".into(), 0);
    let _rx = add(&mut a, &tp, 25, 100);
    let mut sent = Vec::new();
    for _ in 0..3 {
        let d = a
            .drain(Instant::now(), false, DrainMode::All, Some((1, 0)), |_| {
                Some(1)
            })
            .unwrap();
        sent.extend(d.requests.into_iter().flat_map(|(_, b)| b));
    }
    assert_eq!(sent.len(), 3);
    let seqs: Vec<_> = sent.iter().map(|b| b.base_sequence.unwrap()).collect();
    // The first fails retriably; the later two are still in flight.
    let first = sent.remove(0);
    a.requeue(first, Duration::from_millis(10));
    tokio::time::advance(Duration::from_millis(10)).await;
    // Two still in flight: the retry must wait for them.
    let d = a
        .drain(Instant::now(), false, DrainMode::All, Some((1, 0)), |_| {
            Some(1)
        })
        .unwrap();
    assert!(d.requests.is_empty());
    a.complete(&tp, 0);
    a.complete(&tp, 0);
    let d = a
        .drain(Instant::now(), false, DrainMode::All, Some((1, 0)), |_| {
            Some(1)
        })
        .unwrap();
    let retried = &d.requests[0].1[0];
    assert_eq!(retried.base_sequence, Some(seqs[0]));
    assert_eq!(retried.attempts, 1);
}

fn drain_all(a: &mut Accumulator) -> Vec<ProducerBatch> {
    a.drain(Instant::now(), true, DrainMode::All, Some((1, 0)), |_| {
        Some(1)
    })
    .unwrap()
    .requests
    .into_iter()
    .flat_map(|(_, b)| b)
    .map(|mut b| {
        // What the sink does before writing the batch.
        b.seal().unwrap();
        b
    })
    .collect()
}

#[tokio::test(start_paused = true)]
async fn a_partition_pipelines_on_one_connection_only() {
    let mut a = acc(0);
    let tp: Tp = ("t".into(), 0);
    let _rx = add(&mut a, &tp, 25, 100);
    let first = drain_all(&mut a).remove(0);
    assert!(a.bind(&first, 7));
    // The next batch would go out on another connection while the first
    // is still in flight on connection 7: held back, partition blocked.
    let second = drain_all(&mut a).remove(0);
    assert!(!a.bind(&second, 8));
    let second_seq = second.base_sequence;
    a.unsend(second);
    assert!(
        drain_all(&mut a).is_empty(),
        "blocked until the first settles"
    );
    a.acked(&first);
    a.complete(&tp, first.record_count());
    let again = drain_all(&mut a).remove(0);
    assert_eq!(again.base_sequence, second_seq, "same batch, same sequence");
    assert_eq!(again.attempts, 0, "holding back is not a retry");
    assert!(a.bind(&again, 8));
}

#[tokio::test(start_paused = true)]
async fn nothing_overtakes_a_retry_in_flight() {
    let mut a = acc(0);
    let tp: Tp = ("t".into(), 0);
    let _rx = add(&mut a, &tp, 40, 100);
    let first = drain_all(&mut a).remove(0);
    a.requeue(first, Duration::ZERO);
    let retry = drain_all(&mut a).remove(0);
    assert_eq!(retry.attempts, 1);
    // Fresh batches wait while the retry is in flight.
    assert!(drain_all(&mut a).is_empty());
    a.complete(&tp, retry.record_count());
    assert_eq!(drain_all(&mut a).len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_new_identity_renumbers_queued_batches_from_zero() {
    let mut a = acc(0);
    let tp: Tp = ("t".into(), 0);
    let _rx = add(&mut a, &tp, 25, 100);
    let b1 = drain_all(&mut a).remove(0);
    let b2 = drain_all(&mut a).remove(0);
    let (n1, n2) = (b1.record_count() as i32, b2.record_count() as i32);
    // Both refused; the broker lost our sequence.
    a.requeue(b1, Duration::ZERO);
    a.requeue(b2, Duration::ZERO);
    assert_eq!(a.in_flight(), 0);
    a.reset_identity(9, 3).unwrap();
    let r1 = drain_all(&mut a).remove(0);
    assert_eq!(r1.base_sequence, Some(0));
    let decoded = crate::protocol::records::decode_batches(r1.encoded.clone().unwrap())
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            decoded.producer_id,
            decoded.producer_epoch,
            decoded.base_sequence
        ),
        (9, 3, 0)
    );
    a.complete(&tp, r1.record_count());
    let r2 = drain_all(&mut a).remove(0);
    assert_eq!(r2.base_sequence, Some(n1));
    a.complete(&tp, r2.record_count());
    // The next fresh batch continues after them.
    let r3 = drain_all(&mut a).remove(0);
    assert_eq!(r3.base_sequence, Some(n1 + n2));
}

#[tokio::test(start_paused = true)]
async fn transactional_batches_wait_for_their_partition_to_join_the_transaction() {
    let mut a = acc(0);
    a.config.transactional = true;
    let (t0, t1): (Tp, Tp) = (("t".into(), 0), ("t".into(), 1));
    let _r0 = add(&mut a, &t0, 2, 10);
    let _r1 = add(&mut a, &t1, 2, 10);
    let d = a
        .drain(Instant::now(), true, DrainMode::All, Some((1, 0)), |_| {
            Some(1)
        })
        .unwrap();
    assert!(d.requests.is_empty() && d.needs_txn);
    let mut pending = a.partitions_needing_txn();
    pending.sort();
    assert_eq!(pending, vec![t0.clone(), t1.clone()]);
    a.mark_in_txn(std::slice::from_ref(&t0));
    assert_eq!(a.partitions_needing_txn(), vec![t1.clone()]);
    let sent = drain_all(&mut a);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].tp, t0);
    let decoded = crate::protocol::records::decode_batches(sent[0].encoded.clone().unwrap())
        .next()
        .unwrap()
        .unwrap();
    assert!(decoded.is_transactional());
    // The transaction ends: the next one adds its partitions again.
    a.complete(&t0, sent[0].record_count());
    a.end_transaction();
    let _r2 = add(&mut a, &t0, 1, 10);
    let mut pending = a.partitions_needing_txn();
    pending.sort();
    assert_eq!(pending, vec![t0, t1]);
}

#[tokio::test(start_paused = true)]
async fn abort_takes_only_batches_not_yet_drained() {
    let mut a = acc(0);
    let tp: Tp = ("t".into(), 0);
    let _rx = add(&mut a, &tp, 25, 100);
    let first = drain_all(&mut a).remove(0);
    // Failed retriably: back in the queue, closed, with its sequence.
    a.requeue(first, Duration::ZERO);
    let before = a.outstanding();
    let open = a.take_open_batches(None);
    assert!(!open.is_empty() && open.iter().all(|b| b.is_open()));
    let dropped: usize = open.iter().map(ProducerBatch::record_count).sum();
    assert_eq!(a.outstanding(), before - dropped);
    let left = drain_all(&mut a);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].base_sequence, Some(0), "the closed batch settles");
    assert!(a.take_open_batches(Some(&[("other".into(), 0)])).is_empty());
}

#[test]
fn sequence_wraps_like_the_broker() {
    let mut a = acc(0);
    let tp: Tp = ("t".into(), 0);
    a.queues.entry(tp.clone()).or_default().next_sequence = i32::MAX - 1;
    let _rx = add(&mut a, &tp, 3, 10);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let d = a
            .drain(Instant::now(), true, DrainMode::All, Some((1, 0)), |_| {
                Some(1)
            })
            .unwrap();
        assert_eq!(d.requests[0].1[0].base_sequence, Some(i32::MAX - 1));
    });
    assert_eq!(a.queues[&tp].next_sequence, 1);
}

#[tokio::test(start_paused = true)]
async fn batch_size_zero_makes_every_record_its_own_batch_ready_at_once() {
    let mut a = acc(1000);
    a.config.batch_size = 0;
    let tp: Tp = ("t".into(), 0);
    let wakes: Vec<bool> = (0..4)
        .map(|_| a.append(&tp, 0, None, Some(b"v"), &[], 1).1.wake)
        .collect();
    assert_eq!(
        wakes, [true; 4],
        "every record opens a batch the sender must see"
    );
    // No lingering (1 s here): each batch is full with its one record.
    let mut sent = Vec::new();
    for _ in 0..4 {
        let d = a
            .drain(Instant::now(), false, DrainMode::All, Some((1, 0)), |_| {
                Some(1)
            })
            .unwrap();
        sent.extend(d.requests.into_iter().flat_map(|(_, b)| b));
    }
    let counts: Vec<usize> = sent.iter().map(ProducerBatch::record_count).collect();
    assert_eq!(counts, [1, 1, 1, 1]);
    let seqs: Vec<Option<i32>> = sent.iter().map(|b| b.base_sequence).collect();
    assert_eq!(seqs, [Some(0), Some(1), Some(2), Some(3)]);
}

#[tokio::test(start_paused = true)]
async fn a_record_opening_a_batch_wakes_the_sender_and_one_joining_it_does_not() {
    let mut a = acc(5);
    let tp: Tp = ("t".into(), 0);
    let first = a.append(&tp, 0, None, Some(b"v"), &[], 1).1;
    let second = a.append(&tp, 0, None, Some(b"v"), &[], 1).1;
    assert!(
        first.wake && !first.full,
        "the sender must learn the new linger deadline"
    );
    assert!(!second.wake);
}

#[tokio::test(start_paused = true)]
async fn a_batch_expiring_behind_failed_attempts_reports_their_error() {
    let mut a = acc(0);
    let tp: Tp = ("t".into(), 0);
    let _rx = add(&mut a, &tp, 25, 100);
    let mut first = drain_all(&mut a).remove(0);
    // The leader could not be reached: back to the queue with the error.
    first.last_error = Some(crate::error::Error::NoBrokerAvailable(
        "broker 2 (127.0.0.1:1): connection refused".into(),
    ));
    a.requeue(first, Duration::ZERO);
    tokio::time::advance(Duration::from_secs(2)).await;
    let expired = a.expire(Instant::now(), Duration::from_secs(1));
    assert!(
        expired.len() >= 2,
        "the retried batch and the ones behind it"
    );
    for b in &expired {
        let e = b.last_error.as_ref().expect("every expired batch says why");
        assert!(e.to_string().contains("broker 2"), "{e}");
    }
}
