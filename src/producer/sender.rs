//! The sender: one task that decides what goes out (producer identity,
//! AddPartitionsToTxn, expiry, draining ready batches), and one sink per
//! broker (`sink.rs`) that writes them and settles them from the answers
//! (`complete.rs`). The task never waits for a broker, so a dead or slow
//! broker delays only the partitions it leads.
//!
//! There is no idle tick: the task sleeps until the next deadline it knows
//! (a batch's linger or retry backoff, a queued batch's delivery timeout,
//! the leaderless retry backoff) or until it is woken: a record opened a
//! new batch or filled one, a flush or close began, a batch settled or came
//! back to its queue, the transaction changed, metadata changed while a
//! partition had no leader. A missed wake-up shows up as a hang, which the
//! sequential-send tests in `tests/producer.rs` catch.

mod complete;
mod sink;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use kafka_protocol::messages::InitProducerIdRequest;
use tokio::time::Instant;

use super::accumulator::DrainMode;
use super::shared::Shared;
use crate::error::{Context, Error, Result};
use complete::{fail_batch, fail_everything, request_new_identity};
use sink::Sinks;

/// Runs until the producer is closed and everything is delivered or failed.
pub(crate) async fn run(shared: Arc<Shared>) {
    let mut sinks = Sinks::new(shared.clone());
    let mut metadata_changes = Some(shared.client.metadata_handle().subscribe());
    // When the sender last asked for metadata for leaderless partitions.
    let mut leaderless_refresh: Option<Instant> = None;
    loop {
        let producer = match ensure_producer_id(&shared).await {
            Ok(p) => p,
            Err(e) => {
                if !e.is_retriable() {
                    tracing::error!(error = %e, "InitProducerId failed; the producer cannot go on");
                    // As in Java, an idempotent producer without a producer id
                    // cannot go on: every record fails, and so do later sends.
                    shared.set_fatal(e.clone());
                    fail_everything(&shared, e);
                    return;
                }
                tracing::warn!(error = %e, "InitProducerId failed; retrying");
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
                // have been buffered (send needs an open transaction). It
                // wakes the sender when it has the id; so does close.
                if shared.is_closed() {
                    fail_everything(&shared, Error::Closed);
                    return;
                }
                shared.wake.notified().await;
                continue;
            }
            added = add_partitions_to_txn(&shared).await;
        }
        let metadata = match metadata_changes.as_mut() {
            // Seen now: only a later snapshot wakes the sender.
            Some(rx) => rx.borrow_and_update().clone(),
            None => shared.client.metadata(),
        };
        let now = Instant::now();
        let flush = shared.flushing();
        let mode = if shared.renew_identity.load(Ordering::Acquire) {
            DrainMode::MaybeWrittenRetriesOnly
        } else {
            DrainMode::All
        };
        let (drained, expired, next_expiry) = {
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
            let next_expiry = acc.next_expiry(shared.config.delivery_timeout);
            (drained, expired, next_expiry)
        };
        for mut batch in expired {
            let e = Error::DeliveryTimeout {
                maybe_written: batch.maybe_written,
                // Why the last attempt failed (e.g. the leader could not
                // be reached), if there was one.
                last_error: batch.last_error.take().map(Box::new),
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
        if drained.leaderless
            && leaderless_refresh.is_none_or(|at| at + shared.config.retry_backoff <= now)
        {
            leaderless_refresh = Some(now);
            let handle = shared.client.metadata_handle().clone();
            let seen = metadata.generation;
            tokio::spawn(async move {
                let _ = handle.refresh(seen).await;
            });
        }
        let sent = !drained.requests.is_empty();
        for (leader, batches) in drained.requests {
            sinks.send(leader, batches);
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
        // Sleep until woken or the next deadline this drain knows of. A
        // partition without a leader is retried when metadata changes, and
        // after retry.backoff.ms at the latest (the refresh may bring the
        // same answer).
        let mut deadline = [drained.next_wake, next_expiry].into_iter().flatten().min();
        if drained.leaderless {
            let retry = Instant::now() + shared.config.retry_backoff;
            deadline = Some(deadline.map_or(retry, |d| d.min(retry)));
        }
        let watch_metadata = drained.leaderless && metadata_changes.is_some();
        tokio::select! {
            _ = shared.wake.notified() => {}
            _ = sleep_until(deadline) => {}
            changed = changed(&mut metadata_changes), if watch_metadata => {
                if changed.is_err() {
                    // The client is gone; the deadline still applies.
                    metadata_changes = None;
                }
            }
        }
    }
}

/// Sleeps until `deadline`, or for ever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

async fn changed(
    rx: &mut Option<tokio::sync::watch::Receiver<Arc<crate::metadata::ClusterMetadata>>>,
) -> std::result::Result<(), tokio::sync::watch::error::RecvError> {
    match rx {
        Some(rx) => rx.changed().await,
        None => std::future::pending().await,
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
