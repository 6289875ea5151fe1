//! How a batch ends an attempt: acknowledged, requeued for a retry (same
//! sequence numbers, exponential backoff, within `delivery.timeout.ms`), or
//! failed for good; and what each answer says about whether it may be in the
//! log (KIP-360's new identity when the broker lost our sequence). Called
//! from the sinks (request not written, response or request failure) and
//! from the sender loop (expiry in the queue, fatal errors).

use std::sync::atomic::Ordering;
use std::time::Duration;

use kafka_protocol::messages::ProduceResponse;
use tokio::time::Instant;

use super::super::accumulator::ProducerBatch;
use super::super::delivery::BatchAck;
use super::super::shared::Shared;
use crate::error::{Context, Error, ErrorCode, Result};

/// Asks the sender for a new producer identity: some partition's sequence
/// is no longer known to match the broker's (KIP-360).
pub(super) fn request_new_identity(shared: &Shared) {
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

/// The request for `batches` could not be queued (no connection): they
/// were not written, and go back to their queues to be retried.
pub(super) fn not_sent(shared: &Shared, batches: Vec<ProducerBatch>, e: Error) {
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

pub(super) fn finish(
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
        batch.last_error = Some(e.clone());
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
    let idle = {
        let mut acc = shared.lock();
        acc.complete(&batch.tp, batch.record_count());
        acc.acked(&batch);
        acc.outstanding() == 0
    };
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
    if idle {
        shared.idle.notify_waiters();
    }
}

/// Fails a batch's records. `was_sent` says whether it was taken by
/// `drain` (its in-flight slot must be released) or expired from the queue.
pub(super) fn fail_batch(shared: &Shared, batch: ProducerBatch, e: Error, was_sent: bool) {
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

pub(super) fn fail_everything(shared: &Shared, e: Error) {
    let batches = shared.lock().take_all();
    for b in batches {
        fail_batch(shared, b, e.clone(), false);
    }
    shared.idle.notify_waiters();
}
