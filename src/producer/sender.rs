//! The sender task: drains ready batches, sends one Produce request per
//! leader (pipelined on the leader's produce connection), and completes,
//! retries or fails each batch from the response.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{InitProducerIdRequest, ProduceRequest, ProduceResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;
use tracing::Instrument;

use super::accumulator::ProducerBatch;
use super::config::Acks;
use super::delivery::BatchAck;
use super::handle::Shared;
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
        let metadata = shared.client.metadata();
        let now = Instant::now();
        let flush = shared.flushing();
        let (drained, expired) = {
            let mut acc = shared.lock();
            let expired = acc.expire(now, shared.config.delivery_timeout);
            let drained = acc.drain(now, flush, producer, |(t, p)| metadata.leader_for(t, *p));
            (drained, expired)
        };
        for batch in expired {
            fail_batch(
                &shared,
                batch,
                Error::Timeout {
                    what: "delivery (delivery.timeout.ms)",
                    context: Context::api("Produce"),
                },
                false,
            );
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
            let started = start(&shared, leader, &batches)
                .instrument(span.clone())
                .await;
            let shared = shared.clone();
            tokio::spawn(
                async move {
                    let result = match started {
                        Ok(Some(pending)) => pending.response().await.map(Some),
                        Ok(None) => Ok(None),
                        Err(e) => Err(e),
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
        if sent {
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

async fn ensure_producer_id(shared: &Shared) -> Result<Option<(i64, i16)>> {
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

/// Queues the Produce request for `batches` on the leader's produce
/// connection. `Ok(None)` for acks=0, where the write is all there is.
async fn start(
    shared: &Shared,
    leader: i32,
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
    let conn = shared
        .client
        .pool()
        .get(BrokerRef::Node(leader), Lane::Produce)
        .await?;
    if shared.config.acks == Acks::None {
        let version = conn.api_versions().negotiate::<ProduceRequest>()?;
        conn.send_no_response(req, version).await?;
        return Ok(None);
    }
    conn.start_send(req).await.map(Some)
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
    let retriable = e.is_retriable() || e.code() == Some(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
    let expired = batch.created + shared.config.delivery_timeout <= Instant::now();
    if retriable && !expired && !shared.is_closed_hard() {
        let backoff = backoff(shared, batch.attempts);
        tracing::debug!(topic = %batch.tp.0, partition = batch.tp.1, attempts = batch.attempts + 1, error = %e, "retrying batch");
        shared.metrics.retried.fetch_add(
            batch.record_count() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        shared.lock().requeue(batch, backoff);
    } else {
        fail_batch(shared, batch, e, true);
    }
}

fn backoff(shared: &Shared, attempts: u32) -> Duration {
    let base = shared.config.retry_backoff;
    base.saturating_mul(1u32 << attempts.min(16))
        .min(shared.config.retry_backoff_max)
}

fn succeed(shared: &Shared, batch: ProducerBatch, base_offset: i64, log_append_time: i64) {
    shared.lock().complete(&batch.tp, batch.record_count());
    shared.release_memory(batch.memory);
    shared.metrics.sent.fetch_add(
        batch.record_count() as u64,
        std::sync::atomic::Ordering::Relaxed,
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
    if was_sent {
        shared.lock().complete(&batch.tp, batch.record_count());
    }
    shared.release_memory(batch.memory);
    shared.metrics.failed.fetch_add(
        batch.record_count() as u64,
        std::sync::atomic::Ordering::Relaxed,
    );
    let e = e.map_context(|c| c.with_topic(batch.tp.0.clone()).with_partition(batch.tp.1));
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
