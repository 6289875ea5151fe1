//! The sender task: drains ready batches, sends one Produce request per
//! leader (pipelined on the leader's produce connection), and completes,
//! retries or fails each batch from the response.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{InitProducerIdRequest, ProduceRequest, ProduceResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;
use tracing::Instrument;

use super::accumulator::{DrainMode, ProducerBatch};
use super::config::Acks;
use super::delivery::BatchAck;
use super::shared::Shared;
use crate::error::{Context, Error, ErrorCode, Result};
use crate::net::PendingResponse;
use crate::net::pool::{BrokerRef, Lane};

/// Runs until the producer is closed and everything is delivered or failed.
pub(crate) async fn run(shared: Arc<Shared>) {
    loop {
        let producer = match ensure_producer_id(&shared).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "InitProducerId failed");
                if !e.is_retriable() {
                    // As in Java, an idempotent producer without a producer id
                    // cannot go on: every record fails, and so do later sends.
                    shared.set_fatal(e.clone());
                    fail_everything(&shared, e);
                    return;
                }
                tokio::time::sleep(shared.config.retry_backoff).await;
                continue;
            }
        };
        let producer = match renew_identity_when_settled(&shared, producer).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "new producer id failed");
                tokio::time::sleep(shared.config.retry_backoff).await;
                continue;
            }
        };
        let mut added = false;
        if shared.txn.is_some() {
            if producer.is_none() {
                // init_transactions has not given an id yet, so nothing can
                // have been buffered (send needs an open transaction).
                if shared.is_closed() {
                    fail_everything(&shared, Error::Closed);
                    return;
                }
                tokio::select! {
                    _ = shared.wake.notified() => {}
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
                continue;
            }
            added = add_partitions_to_txn(&shared).await;
        }
        let metadata = shared.client.metadata();
        let now = Instant::now();
        let flush = shared.flushing();
        let mode = if shared.renew_identity.load(Ordering::Acquire) {
            DrainMode::MaybeWrittenRetriesOnly
        } else {
            DrainMode::All
        };
        let (drained, expired) = {
            let mut acc = shared.lock();
            let expired = acc.expire(now, shared.config.delivery_timeout);
            if let (Some(txn), Some(first)) = (&shared.txn, expired.first()) {
                // Marked while the lock still hides that these records
                // left the outstanding count: see `fail_batch`.
                txn.record_failed(
                    &shared,
                    &Error::DeliveryTimeout {
                        maybe_written: first.maybe_written,
                        last_error: None,
                        context: Context::api("Produce"),
                    },
                );
                if expired.iter().any(|b| b.maybe_written) {
                    txn.sequence_uncertain();
                }
            }
            let drained = acc.drain(now, flush, mode, producer, |(t, p)| {
                metadata.leader_for(t, *p)
            });
            (drained, expired)
        };
        for batch in expired {
            let e = Error::DeliveryTimeout {
                maybe_written: batch.maybe_written,
                last_error: None,
                context: Context::api("Produce"),
            };
            if batch.maybe_written {
                // It went out once: its sequence may be used on the broker.
                request_new_identity(&shared);
            }
            fail_batch(&shared, batch, e, false);
        }
        let drained = match drained {
            Ok(d) => d,
            Err(e) => {
                fail_everything(&shared, e);
                return;
            }
        };
        if drained.leaderless {
            let handle = shared.client.metadata_handle().clone();
            let seen = metadata.generation;
            tokio::spawn(async move {
                let _ = handle.refresh(seen).await;
            });
        }
        let sent = !drained.requests.is_empty();
        for (leader, batches) in drained.requests {
            // Frames are queued here, one request after another, so requests
            // for a partition reach the broker in sequence order; only the
            // wait for each response runs concurrently.
            let span = tracing::debug_span!("produce", broker = leader, batches = batches.len());
            let (batches, started) = start(&shared, leader, batches)
                .instrument(span.clone())
                .await;
            if batches.is_empty() {
                continue;
            }
            let shared = shared.clone();
            tokio::spawn(
                async move {
                    let result = match started {
                        Ok(Some(pending)) => pending.response().await.map(Some),
                        Ok(None) => Ok(None),
                        Err(e) => {
                            // Never queued on a connection: not written.
                            not_sent(&shared, batches, e);
                            return;
                        }
                    };
                    finish(&shared, leader, batches, result);
                }
                .instrument(span),
            );
        }
        if shared.is_closed() && shared.lock().outstanding() == 0 {
            shared.idle.notify_waiters();
            return;
        }
        // Records that arrived for new partitions while AddPartitionsToTxn
        // was out: add them now rather than after a sleep.
        if sent || (drained.needs_txn && added) {
            continue;
        }
        if shared.lock().outstanding() == 0 {
            shared.idle.notify_waiters();
        }
        // Sleep until woken (full batch, flush, close, completion) or the
        // next linger/backoff deadline; wake now and then regardless, to
        // notice new leaders and expired batches.
        let deadline = drained
            .next_wake
            .unwrap_or_else(|| Instant::now() + Duration::from_millis(100))
            .min(
                Instant::now()
                    + if drained.leaderless {
                        shared.config.retry_backoff
                    } else {
                        Duration::from_millis(100)
                    },
            );
        tokio::select! {
            _ = shared.wake.notified() => {}
            _ = tokio::time::sleep_until(deadline) => {}
        }
    }
}

/// Asks the sender for a new producer identity: some partition's sequence
/// is no longer known to match the broker's (KIP-360).
fn request_new_identity(shared: &Shared) {
    // A transactional producer never does this: there a lost sequence is
    // an abortable (or, when fenced, fatal) error of the transaction, and
    // the abort bumps the epoch.
    if let Some(txn) = &shared.txn {
        txn.sequence_uncertain();
        return;
    }
    if shared.config.idempotent() && !shared.renew_identity.swap(true, Ordering::AcqRel) {
        tracing::debug!("new producer id requested");
    }
}

/// When a new identity was requested and nothing is in flight or waiting to
/// be retried under the old one, takes a new producer id and renumbers the
/// queued batches. Java bumps the epoch locally for this; a fresh
/// InitProducerId (as librdkafka does) gives the same clean slate and is
/// accepted by every broker.
async fn renew_identity_when_settled(
    shared: &Shared,
    current: Option<(i64, i16)>,
) -> Result<Option<(i64, i16)>> {
    if !shared.renew_identity.load(Ordering::Acquire) {
        return Ok(current);
    }
    {
        let acc = shared.lock();
        if acc.in_flight() > 0 || acc.has_maybe_written_retries() {
            return Ok(current);
        }
    }
    *shared.producer_id.lock().unwrap_or_else(|p| p.into_inner()) = None;
    let fresh = ensure_producer_id(shared).await?;
    if let Some((pid, epoch)) = fresh {
        shared.lock().reset_identity(pid, epoch)?;
    }
    shared.renew_identity.store(false, Ordering::Release);
    shared
        .metrics
        .identity_resets
        .fetch_add(1, Ordering::Relaxed);
    Ok(fresh)
}

/// Transactional producer: AddPartitionsToTxn for the partitions that have
/// data but are not in the transaction yet, before any of their batches is
/// drained. If that fails, their unsent records fail with the error (which
/// makes the transaction abortable, or the producer fatally failed).
/// Returns whether partitions were added.
async fn add_partitions_to_txn(shared: &Shared) -> bool {
    let Some(txn) = &shared.txn else { return false };
    let pending = shared.lock().partitions_needing_txn();
    if pending.is_empty() {
        return false;
    }
    match txn.add_partitions(shared, &pending).await {
        Ok(()) => true,
        Err(e) => {
            tracing::debug!(error = %e, partitions = pending.len(), "AddPartitionsToTxn failed");
            // Before the batches leave the outstanding count (see
            // `fail_batch`); a timeout is not abortable by itself, but
            // dropping these records is.
            txn.record_failed(shared, &e);
            let batches = shared.lock().take_open_batches(Some(&pending));
            for b in batches {
                fail_batch(shared, b, e.clone(), false);
            }
            false
        }
    }
}

/// Abort: the records not sent yet are failed with `e` and dropped.
pub(crate) fn fail_unsent(shared: &Shared, e: Error) {
    let batches = shared.lock().take_open_batches(None);
    for b in batches {
        fail_batch(shared, b, e.clone(), false);
    }
    shared.wake.notify_one();
}

async fn ensure_producer_id(shared: &Shared) -> Result<Option<(i64, i16)>> {
    if shared.txn.is_some() {
        // Set by init_transactions, through the transaction coordinator.
        return Ok(*shared.producer_id.lock().unwrap_or_else(|p| p.into_inner()));
    }
    if !shared.config.idempotent() {
        return Ok(None);
    }
    if let Some(p) = *shared.producer_id.lock().unwrap_or_else(|p| p.into_inner()) {
        return Ok(Some(p));
    }
    // kafka-protocol's default is an empty (not null) transactional id,
    // which brokers may reject as INVALID_REQUEST.
    let req = InitProducerIdRequest::default()
        .with_transactional_id(None)
        // Java sends Integer.MAX_VALUE for non-transactional producers; some
        // brokers (librdkafka's mock) reject -1 with INVALID_REQUEST.
        .with_transaction_timeout_ms(i32::MAX)
        .with_producer_id(kafka_protocol::messages::ProducerId(-1))
        .with_producer_epoch(-1);
    let (_, resp) = shared.client.send_any(req).await?;
    Error::check(resp.error_code, None, || Context::api("InitProducerId"))?;
    let p = (resp.producer_id.0, resp.producer_epoch);
    tracing::debug!(
        producer_id = p.0,
        epoch = p.1,
        "idempotent producer initialised"
    );
    *shared.producer_id.lock().unwrap_or_else(|p| p.into_inner()) = Some(p);
    Ok(Some(p))
}

/// Takes the leader's produce connection, holds back any batch whose
/// predecessors are in flight on another connection, and queues one
/// Produce request with the rest. Returns the batches in that request.
async fn start(
    shared: &Shared,
    leader: i32,
    batches: Vec<ProducerBatch>,
) -> (
    Vec<ProducerBatch>,
    Result<Option<PendingResponse<ProduceRequest>>>,
) {
    let conn = match shared
        .client
        .pool()
        .get(BrokerRef::Node(leader), Lane::Produce)
        .await
    {
        Ok(c) => c,
        Err(e) => return (batches, Err(e)),
    };
    let batches: Vec<ProducerBatch> = {
        let mut acc = shared.lock();
        batches
            .into_iter()
            .filter_map(|b| {
                if acc.bind(&b, conn.id()) {
                    Some(b)
                } else {
                    tracing::debug!(topic = %b.tp.0, partition = b.tp.1, "batch waits for its predecessors on an older connection");
                    acc.unsend(b);
                    None
                }
            })
            .collect()
    };
    if batches.is_empty() {
        return (batches, Ok(None));
    }
    for b in &batches {
        tracing::trace!(topic = %b.tp.0, partition = b.tp.1, base_sequence = b.base_sequence, records = b.record_count(), attempts = b.attempts, connection = conn.id(), "batch");
    }
    let result = send_on(shared, &conn, &batches).await;
    (batches, result)
}

/// Queues one Produce request for `batches` on `conn`. `Ok(None)` for
/// acks=0, where the write is all there is.
async fn send_on(
    shared: &Shared,
    conn: &crate::net::Connection,
    batches: &[ProducerBatch],
) -> Result<Option<PendingResponse<ProduceRequest>>> {
    let mut topics: BTreeMap<&str, Vec<PartitionProduceData>> = BTreeMap::new();
    for b in batches {
        topics.entry(&b.tp.0).or_default().push(
            PartitionProduceData::default()
                .with_index(b.tp.1)
                .with_records(b.encoded.clone()),
        );
    }
    let req = ProduceRequest::default()
        .with_transactional_id(shared.txn.as_ref().map(|t| t.wire_id()))
        .with_acks(shared.config.acks.wire())
        .with_timeout_ms(
            shared
                .config
                .request_timeout
                .as_millis()
                .min(i32::MAX as u128) as i32,
        )
        .with_topic_data(
            topics
                .into_iter()
                .map(|(t, parts)| {
                    TopicProduceData::default()
                        .with_name(TopicName(StrBytes::from_string(t.to_owned())))
                        .with_partition_data(parts)
                })
                .collect(),
        );
    if shared.config.acks == Acks::None {
        let version = conn.api_versions().negotiate::<ProduceRequest>()?;
        conn.send_no_response(req, version).await?;
        return Ok(None);
    }
    conn.start_send_timeout(req, shared.config.request_timeout)
        .await
        .map(Some)
}

/// The request for `batches` could not be queued (no connection): they
/// were not written, and go back to their queues to be retried.
fn not_sent(shared: &Shared, batches: Vec<ProducerBatch>, e: Error) {
    tracing::debug!(error = %e, "produce request not sent");
    shared
        .client
        .metadata_handle()
        .on_error(&e, shared.client.metadata().generation);
    for b in batches {
        // Whatever earlier attempts did stands; this one wrote nothing.
        let maybe_written = b.maybe_written;
        retry_or_fail_with(shared, b, e.clone(), maybe_written);
    }
    shared.wake.notify_one();
}

fn finish(
    shared: &Shared,
    leader: i32,
    batches: Vec<ProducerBatch>,
    result: Result<Option<ProduceResponse>>,
) {
    match result {
        Ok(resp) => handle_response(shared, leader, batches, resp),
        Err(e) => {
            tracing::debug!(broker = leader, error = %e, "produce request failed");
            if e.is_retriable() {
                shared
                    .client
                    .metadata_handle()
                    .on_error(&e, shared.client.metadata().generation);
            }
            for b in batches {
                retry_or_fail(shared, b, e.clone());
            }
        }
    }
    shared.wake.notify_one();
}

fn handle_response(
    shared: &Shared,
    leader: i32,
    batches: Vec<ProducerBatch>,
    resp: Option<ProduceResponse>,
) {
    for batch in batches {
        let Some(resp) = resp.as_ref() else {
            // acks=0: written, offsets unknown.
            succeed(shared, batch, -1, -1);
            continue;
        };
        let part = resp
            .responses
            .iter()
            .find(|t| *t.name.0 == *batch.tp.0)
            .and_then(|t| t.partition_responses.iter().find(|p| p.index == batch.tp.1));
        let Some(p) = part else {
            let e = Error::protocol(
                "partition missing from Produce response",
                Context::api("Produce").with_broker(leader),
            );
            fail_batch(shared, batch, e, true);
            continue;
        };
        match ErrorCode(p.error_code) {
            ErrorCode::NONE => succeed(shared, batch, p.base_offset, p.log_append_time_ms),
            // The broker already has this batch (a retry of one that was
            // written): success, and the original offsets are not returned.
            ErrorCode::DUPLICATE_SEQUENCE_NUMBER => succeed(shared, batch, -1, -1),
            // The broker no longer knows our producer id (its state expired
            // with the log), or lost the sequence this batch continues: the
            // batch was refused, and it can only go in under a new identity.
            code @ (ErrorCode::UNKNOWN_PRODUCER_ID | ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
                if code == ErrorCode::UNKNOWN_PRODUCER_ID
                    || shared.lock().is_next_sequence(&batch) =>
            {
                let e = Error::Broker {
                    code,
                    message: None,
                    context: Context::api("Produce").with_broker(leader),
                };
                if shared.txn.is_some() {
                    // No KIP-360 recovery inside a transaction: the batch
                    // fails and the transaction must be aborted.
                    fail_batch(shared, batch, e, true);
                    continue;
                }
                request_new_identity(shared);
                // The broker's answer is definite: under the old identity
                // this batch is not in the log (were it, the answer would be
                // DUPLICATE_SEQUENCE_NUMBER), whatever earlier attempts did.
                retry_or_fail_with(shared, batch, e, false);
            }
            code => {
                let e = Error::Broker {
                    code,
                    message: p.error_message.as_ref().map(|m| m.to_string()),
                    context: Context::api("Produce")
                        .with_broker(leader)
                        .with_topic(batch.tp.0.clone())
                        .with_partition(batch.tp.1),
                };
                shared
                    .client
                    .metadata_handle()
                    .on_error(&e, shared.client.metadata().generation);
                retry_or_fail(shared, batch, e);
            }
        }
    }
}

/// Retries while the error is retriable and the delivery timeout allows;
/// an out-of-order sequence means a predecessor is being retried, so the
/// batch waits its turn with its sequence intact.
fn retry_or_fail(shared: &Shared, batch: ProducerBatch, e: Error) {
    let maybe_written = batch.maybe_written || may_have_been_written(&e);
    retry_or_fail_with(shared, batch, e, maybe_written);
}

fn retry_or_fail_with(shared: &Shared, mut batch: ProducerBatch, e: Error, maybe_written: bool) {
    batch.maybe_written = maybe_written;
    let retriable = e.is_retriable()
        || matches!(
            e.code(),
            Some(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER | ErrorCode::UNKNOWN_PRODUCER_ID)
        );
    let expired = batch.created + shared.config.delivery_timeout <= Instant::now();
    if retriable && expired {
        let e = Error::DeliveryTimeout {
            maybe_written: batch.maybe_written,
            last_error: Some(Box::new(e)),
            context: Context::api("Produce"),
        };
        fail_batch(shared, batch, e, true);
    } else if retriable && !shared.is_closed_hard() {
        let backoff = backoff(shared, batch.attempts);
        tracing::debug!(topic = %batch.tp.0, partition = batch.tp.1, attempts = batch.attempts + 1, error = %e, "retrying batch");
        shared
            .metrics
            .retried
            .fetch_add(batch.record_count() as u64, Ordering::Relaxed);
        shared.lock().requeue(batch, backoff);
    } else {
        fail_batch(shared, batch, e, true);
    }
}

/// Whether a batch answered with `e` may still have been appended: only a
/// definite refusal by the partition leader says it was not.
fn may_have_been_written(e: &Error) -> bool {
    !matches!(
        e.code(),
        Some(
            ErrorCode::NOT_LEADER_OR_FOLLOWER
                | ErrorCode::LEADER_NOT_AVAILABLE
                | ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                | ErrorCode::NOT_ENOUGH_REPLICAS
                | ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER
                | ErrorCode::UNKNOWN_PRODUCER_ID
                | ErrorCode::INVALID_PRODUCER_EPOCH
                | ErrorCode::CORRUPT_MESSAGE
                | ErrorCode::MESSAGE_TOO_LARGE
                | ErrorCode::RECORD_LIST_TOO_LARGE
                | ErrorCode::INVALID_RECORD
        )
    )
}

fn backoff(shared: &Shared, attempts: u32) -> Duration {
    let base = shared.config.retry_backoff;
    base.saturating_mul(1u32 << attempts.min(16))
        .min(shared.config.retry_backoff_max)
}

fn succeed(shared: &Shared, batch: ProducerBatch, base_offset: i64, log_append_time: i64) {
    {
        let mut acc = shared.lock();
        acc.complete(&batch.tp, batch.record_count());
        acc.acked(&batch);
    }
    shared.release_memory(batch.memory);
    shared
        .metrics
        .sent
        .fetch_add(batch.record_count() as u64, Ordering::Relaxed);
    shared.metrics.batches_sent.fetch_add(1, Ordering::Relaxed);
    shared.metrics.bytes_sent.fetch_add(
        batch.encoded.as_ref().map_or(0, |b| b.len() as u64),
        Ordering::Relaxed,
    );
    batch.outcome.settle(Ok(BatchAck {
        base_offset,
        log_append_time,
    }));
    shared.idle_check();
}

/// Fails a batch's records. `was_sent` says whether it was taken by
/// `drain` (its in-flight slot must be released) or expired from the queue.
fn fail_batch(shared: &Shared, batch: ProducerBatch, e: Error, was_sent: bool) {
    let e = e.map_context(|c| c.with_topic(batch.tp.0.clone()).with_partition(batch.tp.1));
    // The transaction learns of the failure (and of the uncertain
    // sequence) before the batch stops counting as outstanding: a commit
    // whose flush sees nothing outstanding must also see the transaction
    // failed, or it would send EndTxn(commit) without this batch.
    let e = match &shared.txn {
        Some(txn) => {
            txn.record_failed(shared, &e);
            crate::producer::transaction::record_error(e)
        }
        None => e,
    };
    if was_sent {
        // Its sequence numbers may or may not be on the broker: later
        // batches of the partition cannot follow it under this identity.
        request_new_identity(shared);
        shared.lock().complete(&batch.tp, batch.record_count());
    }
    shared.release_memory(batch.memory);
    shared
        .metrics
        .failed
        .fetch_add(batch.record_count() as u64, Ordering::Relaxed);
    batch.outcome.settle(Err(e));
    shared.idle_check();
}

fn fail_everything(shared: &Shared, e: Error) {
    let batches = shared.lock().take_all();
    for b in batches {
        fail_batch(shared, b, e.clone(), false);
    }
    shared.idle.notify_waiters();
}
