//! The fetch loop of one broker lane: plan, send, decode, hand over, repeat.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use kafka_protocol::messages::{ApiKey, FetchResponse};
use tokio::sync::watch;
use tokio::time::Instant;

use super::completed::{self, AbortedTransaction};
use super::lanes::{FetchLane, LogEnds, OwnConnection, wait_for_held_back};
use super::session::{FetchPlan, FetchSession, SessionPartition};
use super::{FetchContext, request, stop_signal, stopping};
use crate::consumer::config::IsolationLevel;
use crate::consumer::partitions::FetchTarget;
use crate::error::{Context, Error, ErrorCode, Result};
use crate::metadata::ClusterMetadata;
use crate::metadata::refresher::is_stale_metadata;
use crate::net::Connection;
use crate::net::pool::{BrokerRef, Lane};

/// What one lane's loop keeps between fetches.
struct LaneState {
    broker: i32,
    lane: FetchLane,
    session: FetchSession,
    /// Log ends seen in this lane's responses (for the held-back rule).
    ends: LogEnds,
    /// The connection of lanes after the first.
    own: OwnConnection,
    /// Since when every fetch to this broker has failed, if they do.
    failing_since: Option<Instant>,
    /// Persistent failures are warned about once a minute.
    failure_log: crate::observe::log_limit::LogLimiter,
    /// A lower Fetch version for this broker, after it answered the
    /// negotiated one with a tagged field that version does not define.
    version_cap: Option<i16>,
}

/// The last Fetch version without tagged fields: what a broker that puts
/// newer versions' tagged fields into its responses (Tansu 0.6 sends v16's
/// NodeEndpoints in v12) can still be read with. Kafka's rule is that
/// unknown tags are skipped; the decoder refuses them, so kafkit steps down.
const UNTAGGED_FETCH_VERSION: i16 = 11;

/// Failures for this long are an operator's business, not a blip.
const PERSISTENT_FAILURE: std::time::Duration = std::time::Duration::from_secs(10);

pub(super) async fn run(
    ctx: Arc<FetchContext>,
    broker: i32,
    lane: FetchLane,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut state = LaneState {
        broker,
        lane,
        session: FetchSession::new(),
        ends: LogEnds::new(),
        own: OwnConnection::default(),
        failing_since: None,
        version_cap: None,
        failure_log: crate::observe::log_limit::LogLimiter::new(std::time::Duration::from_secs(60)),
    };
    let mut metadata = ctx.client.metadata_handle().subscribe();
    let backoff = ctx.client.retry_backoff();
    let partition_limit = usize::try_from(ctx.config.max_partition_fetch_bytes).unwrap_or(0);
    tracing::debug!(broker, lane = lane.index, "fetch loop started");
    loop {
        if stopping(&ctx, &shutdown) {
            tracing::debug!(broker, lane = lane.index, "fetch loop stopped");
            return;
        }
        let wake = ctx.subs.fetch_wake.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        let meta = metadata.borrow_and_update().clone();
        let targets = lane_targets(&ctx, &state, &meta, partition_limit);
        if targets.is_empty() {
            if !meta.brokers.contains_key(&broker) {
                // The broker left the cluster: keep no socket open to it.
                state.own.drop_connection();
            }
            // Nothing to fetch here now: wait for a seek, resume, freed
            // buffer space, a metadata change or the end of a backoff.
            tokio::select! {
                _ = wake => {}
                _ = metadata.changed() => {}
                _ = stop_signal(&ctx, &mut shutdown) => {}
                _ = tokio::time::sleep(backoff) => {}
            }
            continue;
        }
        let failed = tokio::select! {
            failed = fetch_once(&ctx, &mut state, &meta, targets) => failed,
            _ = stop_signal(&ctx, &mut shutdown) => continue,
        };
        if failed {
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = stop_signal(&ctx, &mut shutdown) => {}
            }
        }
    }
}

/// The partitions this lane should fetch now.
fn lane_targets(
    ctx: &FetchContext,
    state: &LaneState,
    meta: &ClusterMetadata,
    partition_limit: usize,
) -> Vec<FetchTarget> {
    let buffer_limit = ctx.config.fetch_buffer_bytes;
    let mut targets = ctx
        .subs
        .fetchable(state.broker, meta, partition_limit, buffer_limit);
    if state.lane.count <= 1 {
        return targets;
    }
    targets.retain(|t| state.lane.owns(&t.tp));
    if targets.is_empty() || !wait_for_held_back(&targets, true, &state.ends) {
        return targets;
    }
    // Everything this lane would fetch is at the log end: a long poll,
    // unless some of its partitions are only held back for their buffers
    // (the candidates without the per-partition bound).
    let candidates = ctx
        .subs
        .fetchable(state.broker, meta, usize::MAX, buffer_limit)
        .into_iter()
        .filter(|t| state.lane.owns(&t.tp))
        .count();
    if wait_for_held_back(&targets, candidates > targets.len(), &state.ends) {
        targets.clear();
    }
    targets
}

/// The lane's connection: the pool's `Fetch` connection for the first
/// lane, its own for the others.
async fn connection(
    ctx: &FetchContext,
    state: &mut LaneState,
    meta: &ClusterMetadata,
) -> Result<Connection> {
    let broker = BrokerRef::Node(state.broker);
    if state.lane.index == 0 {
        return ctx.client.pool().get(broker, Lane::Fetch).await;
    }
    let address = meta
        .brokers
        .get(&state.broker)
        .map(|b| format!("{}:{}", b.host, b.port))
        .unwrap_or_default();
    state.own.get(ctx.client.pool(), broker, &address).await
}

/// One Fetch round trip. Returns true when the request failed as a whole
/// (the caller backs off).
async fn fetch_once(
    ctx: &FetchContext,
    state: &mut LaneState,
    meta: &ClusterMetadata,
    targets: Vec<FetchTarget>,
) -> bool {
    let (broker, generation) = (state.broker, meta.generation);
    let conn = match connection(ctx, state, meta).await {
        Ok(conn) => conn,
        Err(e) => return request_failed(ctx, state, &e, generation),
    };
    let Some(version) = conn
        .version_for(ApiKey::Fetch)
        .map(|v| state.version_cap.map_or(v, |cap| v.min(cap)))
    else {
        let e = Error::UnsupportedVersion {
            api: "Fetch",
            broker_min: -1,
            broker_max: -1,
            context: Context::api("Fetch").with_broker(broker),
        };
        return request_failed(ctx, state, &e, generation);
    };
    let max_bytes = ctx.config.max_partition_fetch_bytes;
    let wanted = targets
        .iter()
        .map(|t| {
            let p = SessionPartition {
                fetch_offset: t.fetch_offset,
                max_bytes,
                leader_epoch: t.leader_epoch,
            };
            (t.tp.clone(), p)
        })
        .collect();
    let plan = state.session.plan(wanted, version >= 7);
    let req = request::build(&plan, &ctx.config);
    let started = Instant::now();
    match conn.send_version(req, version).await {
        Ok(resp) => {
            ctx.counters.fetch_done(started.elapsed());
            if let Some(since) = state.failing_since.take()
                && since.elapsed() >= PERSISTENT_FAILURE
            {
                tracing::info!(
                    broker = state.broker,
                    "fetching from the broker works again"
                );
            }
            handle_response(ctx, state, &plan, &targets, resp, generation)
        }
        Err(e) => {
            if version > UNTAGGED_FETCH_VERSION && is_undefined_tag(&e) {
                tracing::warn!(
                    broker = state.broker,
                    version,
                    error = %e,
                    "the broker's Fetch response carries a tagged field this version does not define; \
                     fetching from it with v{UNTAGGED_FETCH_VERSION}"
                );
                state.version_cap = Some(UNTAGGED_FETCH_VERSION);
            }
            request_failed(ctx, state, &e, generation)
        }
    }
}

/// Whether `e` is the decoder refusing a tagged field the response's
/// version does not define.
fn is_undefined_tag(e: &Error) -> bool {
    matches!(e, Error::Protocol { reason, .. } if reason.contains("is not valid for version"))
}

fn request_failed(
    ctx: &FetchContext,
    state: &mut LaneState,
    error: &Error,
    generation: u64,
) -> bool {
    let broker = state.broker;
    ctx.counters.fetch_errors.fetch_add(1, Ordering::Relaxed);
    state.session.reset();
    state.own.drop_connection();
    let refreshing = ctx.client.metadata_handle().on_error(error, generation);
    let since = *state.failing_since.get_or_insert_with(Instant::now);
    let failing_for = since.elapsed();
    if failing_for >= PERSISTENT_FAILURE
        && let Some(held_back) = state.failure_log.allow()
    {
        tracing::warn!(
            broker,
            %error,
            failing_for_s = failing_for.as_secs(),
            failures_since_last_warning = held_back,
            "every fetch from this broker fails; its partitions make no progress"
        );
    } else {
        tracing::debug!(broker, %error, refreshing, "fetch failed");
    }
    true
}

fn handle_response(
    ctx: &FetchContext,
    state: &mut LaneState,
    plan: &FetchPlan,
    targets: &[FetchTarget],
    resp: FetchResponse,
    generation: u64,
) -> bool {
    let broker = state.broker;
    match ErrorCode(resp.error_code) {
        ErrorCode::NONE => state.session.on_response(plan, resp.session_id),
        code @ (ErrorCode::FETCH_SESSION_ID_NOT_FOUND | ErrorCode::INVALID_FETCH_SESSION_EPOCH) => {
            // The broker lost or distrusts our session: start a new one
            // with a full fetch right away.
            tracing::debug!(broker, code = code.name(), "fetch session reset");
            state.session.reset();
            return false;
        }
        code => {
            let e = Error::Broker {
                code,
                message: None,
                context: Context::api("Fetch").with_broker(broker),
            };
            return request_failed(ctx, state, &e, generation);
        }
    }
    let by_tp: HashMap<(&str, i32), &FetchTarget> = targets
        .iter()
        .map(|t| ((&*t.tp.topic, t.tp.partition), t))
        .collect();
    let read_committed = ctx.config.isolation_level == IsolationLevel::ReadCommitted;
    let backoff = ctx.client.retry_backoff();
    for topic in resp.responses {
        for p in topic.partitions {
            let Some(target) = by_tp.get(&(topic.topic.0.as_str(), p.partition_index)) else {
                // Not ours to fetch any more (or a broker bug): ignore.
                continue;
            };
            let context = || {
                Context::api("Fetch")
                    .with_broker(broker)
                    .with_topic(target.tp.topic.clone())
                    .with_partition(target.tp.partition)
            };
            match ErrorCode(p.error_code) {
                ErrorCode::NONE => {
                    let records = p.records.unwrap_or_default();
                    // Only a read_committed fetch is answered with the list;
                    // ignore one a broker sends anyway.
                    let aborted = p
                        .aborted_transactions
                        .filter(|_| read_committed)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|a| AbortedTransaction {
                            producer_id: a.producer_id.0,
                            first_offset: a.first_offset,
                        })
                        .collect();
                    let stable_bound = (read_committed && p.last_stable_offset >= 0)
                        .then_some(p.last_stable_offset);
                    state
                        .ends
                        .insert(target.tp.clone(), stable_bound.unwrap_or(p.high_watermark));
                    let bytes = records.len() as u64;
                    let decoded = completed::decode(
                        &target.tp.topic,
                        target.tp.partition,
                        target.generation,
                        target.fetch_offset,
                        records,
                        stable_bound,
                        aborted,
                    );
                    // Counted before the hand-over: once accepted, `poll`
                    // may consume the records at once, and the counters
                    // must never show more consumed than fetched. A fetch
                    // the table then discards as stale stays counted (see
                    // `ConsumerMetrics::records_fetched`).
                    ctx.counters.count_fetched(decoded.record_count, bytes);
                    ctx.subs.accept_fetch(
                        target,
                        decoded.fetch,
                        decoded.next_fetch_offset,
                        (p.high_watermark, p.last_stable_offset, p.log_start_offset),
                    );
                }
                ErrorCode::OFFSET_OUT_OF_RANGE => {
                    let e = Error::Broker {
                        code: ErrorCode::OFFSET_OUT_OF_RANGE,
                        message: Some(format!(
                            "fetch offset {} is out of range (log start {}, high watermark {})",
                            target.fetch_offset, p.log_start_offset, p.high_watermark
                        )),
                        context: context(),
                    };
                    ctx.subs.out_of_range(target, e);
                }
                code => {
                    let e = Error::Broker {
                        code,
                        message: None,
                        context: context(),
                    };
                    if is_stale_metadata(&e) || e.is_retriable() {
                        // Leader moved, epoch fenced, partition not there
                        // yet: refresh metadata and fetch it again (from
                        // whichever broker then leads it) after a backoff.
                        tracing::debug!(tp = %target.tp, broker, code = code.name(), "partition fetch error; rerouting");
                        ctx.client.metadata_handle().on_error(&e, generation);
                        ctx.subs.back_off(target, backoff);
                    } else {
                        ctx.subs.fail(target, e);
                    }
                }
            }
        }
    }
    false
}
