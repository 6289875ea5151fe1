//! One sink per broker: the drained batches bound for one leader, written on
//! that broker's produce connection and settled from its answers, on the
//! sink's own task. A broker that is unreachable or slow holds up only the
//! sink's own requests; the sender loop hands batches to every sink without
//! waiting for any of them.
//!
//! A sink takes requests from its channel in the order the sender drained
//! them and writes them one after another (`Connection::start_send` queues
//! a frame; only the wait for the answer runs concurrently), so a
//! partition's batches reach the broker in sequence order (invariant 11):
//! the sender hands a partition's batches to one sink at a time
//! (`Accumulator::drain`), and `Accumulator::bind` keeps them on one
//! connection.
//!
//! A sink has at most `max.in.flight` requests out (Java's
//! `max.in.flight.requests.per.connection`). Requests that queue meanwhile
//! are merged into the next one (one batch per partition, within
//! `max.request.size`). With 1, a request lost with its connection is the
//! only one that may have been written, which is what the fault tests at
//! `max.in.flight=1` rely on against a mock that does not deduplicate.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use kafka_protocol::messages::ProduceRequest;
use kafka_protocol::messages::TopicName;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::protocol::StrBytes;
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;
use tracing::Instrument;

use super::super::accumulator::ProducerBatch;
use super::super::config::Acks;
use super::super::shared::Shared;
use super::complete::{fail_batch, finish, not_sent};
use crate::error::{Context, Error, Result};
use crate::net::pool::{BrokerRef, Lane};
use crate::net::{Connection, PendingResponse};

/// The sender's handles to the sinks, one per broker, started on first use.
pub(super) struct Sinks {
    shared: Arc<Shared>,
    by_broker: HashMap<i32, mpsc::UnboundedSender<Vec<ProducerBatch>>>,
}

impl Sinks {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Sinks {
            shared,
            by_broker: HashMap::new(),
        }
    }

    /// Hands one request's batches to `leader`'s sink. Never waits.
    pub(super) fn send(&mut self, leader: i32, batches: Vec<ProducerBatch>) {
        let shared = &self.shared;
        let tx = self
            .by_broker
            .entry(leader)
            .or_insert_with(|| spawn(shared.clone(), leader));
        if let Err(mpsc::error::SendError(batches)) = tx.send(batches) {
            // A sink ends only when this handle is dropped; should it have
            // ended anyway, a fresh one takes over.
            let tx = spawn(shared.clone(), leader);
            if let Err(mpsc::error::SendError(batches)) = tx.send(batches) {
                not_sent(shared, batches, Error::Closed);
            }
            self.by_broker.insert(leader, tx);
        }
    }
}

fn spawn(shared: Arc<Shared>, broker: i32) -> mpsc::UnboundedSender<Vec<ProducerBatch>> {
    let (tx, rx) = mpsc::unbounded_channel();
    let span = tracing::debug_span!("sink", broker);
    tokio::spawn(run(shared, broker, rx).instrument(span));
    tx
}

/// The sink's task: ends when the sender drops its handle (after the
/// requests queued before are handled).
async fn run(
    shared: Arc<Shared>,
    broker: i32,
    mut rx: mpsc::UnboundedReceiver<Vec<ProducerBatch>>,
) {
    // Whether the current outage was reported: one warning per outage.
    let mut unreachable = false;
    // The broker's address as last seen in metadata: a broker that is down
    // may drop out of the metadata while its partitions wait for it.
    let mut address = Address::default();
    address.get(&shared, broker);
    // Why the last attempt to connect failed, while it keeps failing.
    let mut last_connect_error: Option<Error> = None;
    // Requests this sink has in flight, at most max.in.flight (Java's
    // max.in.flight.requests.per.connection): with 1, a request that is lost
    // with its connection is the only one that could have been written.
    let slots = Arc::new(Semaphore::new(shared.config.max_in_flight));
    // Requests taken from the channel while merging, not sent yet.
    let mut queued: VecDeque<Vec<ProducerBatch>> = VecDeque::new();
    loop {
        let first = match queued.pop_front() {
            Some(b) => b,
            None => match rx.recv().await {
                Some(b) => b,
                None => break,
            },
        };
        // Never closed, so this cannot fail; a permit returns when its
        // request is answered (or fails).
        let Ok(slot) = slots.clone().acquire_owned().await else {
            break;
        };
        // What queued while this sink waited for a slot goes in the same
        // request, within max.request.size and one batch per partition.
        while let Ok(more) = rx.try_recv() {
            queued.push_back(more);
        }
        let batches = merge(&shared, first, &mut queued);
        let batches = seal(&shared, batches);
        if batches.is_empty() {
            continue;
        }
        // Waiting for a connection (reconnect backoff, connect timeout) is
        // bounded by the first batch's delivery.timeout.ms: it then fails
        // with the last connection error rather than when the wait ends.
        let expires = batches
            .iter()
            .map(|b| b.created + shared.config.delivery_timeout)
            .min();
        let get = shared
            .client
            .pool()
            .get(BrokerRef::Node(broker), Lane::Produce);
        let got = match expires {
            Some(at) => match tokio::time::timeout_at(at, get).await {
                Ok(got) => got,
                Err(_) => Err(last_connect_error.clone().unwrap_or(Error::Timeout {
                    what: "connection to the partition leader (delivery.timeout.ms)",
                    context: Context::api("Produce"),
                })),
            },
            None => get.await,
        };
        let conn = match got {
            Ok(conn) => {
                last_connect_error = None;
                if unreachable {
                    tracing::info!(
                        broker,
                        address = address.get(&shared, broker),
                        "produce: broker reachable again"
                    );
                    unreachable = false;
                }
                conn
            }
            Err(e) => {
                let e = address.with_broker(&shared, broker, e);
                last_connect_error = Some(e.clone());
                if !unreachable {
                    tracing::warn!(broker, address = address.get(&shared, broker), error = %e, "produce: broker unreachable; records for the partitions it leads wait for it (delivery.timeout.ms)");
                    unreachable = true;
                }
                not_sent(&shared, batches, e);
                continue;
            }
        };
        let batches = bind(&shared, &conn, batches);
        if batches.is_empty() {
            continue;
        }
        let span = crate::observe::spans::produce(broker, batches.len());
        if !span.is_disabled() {
            span.record("server.address", address.get(&shared, broker));
            let records: usize = batches.iter().map(|b| b.record_count()).sum();
            span.record("messaging.batch.message_count", records);
        }
        let sent_at = Instant::now();
        let started = send_on(&shared, &conn, &batches)
            .instrument(span.clone())
            .await;
        let shared = shared.clone();
        match started {
            // Never queued on a connection: not written.
            Err(e) => not_sent(&shared, batches, address.with_broker(&shared, broker, e)),
            // acks=0: the write is all there is.
            Ok(None) => finish(&shared, broker, batches, Ok(None)),
            Ok(Some(pending)) => {
                tokio::spawn(
                    async move {
                        let result = pending.response().await.map(Some);
                        shared.metrics.request_done(sent_at.elapsed());
                        drop(slot);
                        finish(&shared, broker, batches, result);
                    }
                    .instrument(span),
                );
            }
        }
    }
}

/// `first` plus the queued requests that follow it, while the total stays
/// within max.request.size and no partition appears twice (a Produce request
/// carries one batch per partition). The rest stays queued, in order.
fn merge(
    shared: &Shared,
    mut batches: Vec<ProducerBatch>,
    queued: &mut VecDeque<Vec<ProducerBatch>>,
) -> Vec<ProducerBatch> {
    let mut size: usize = batches.iter().map(ProducerBatch::size).sum();
    while let Some(next) = queued.front() {
        let next_size: usize = next.iter().map(ProducerBatch::size).sum();
        let overlaps = next.iter().any(|b| batches.iter().any(|a| a.tp == b.tp));
        if overlaps || size + next_size > shared.config.max_request_size {
            break;
        }
        if let Some(next) = queued.pop_front() {
            size += next_size;
            batches.extend(next);
        }
    }
    batches
}

/// Encodes (compresses, checksums) the drained batches, here on the sink's
/// task rather than under the accumulator lock. A batch that cannot be
/// encoded fails; its sequence numbers are taken, so it counts as sent.
fn seal(shared: &Shared, batches: Vec<ProducerBatch>) -> Vec<ProducerBatch> {
    batches
        .into_iter()
        .filter_map(|mut b| match b.seal() {
            Ok(()) => Some(b),
            Err(e) => {
                fail_batch(shared, b, e, true);
                None
            }
        })
        .collect()
}

/// Holds back any batch whose predecessors are in flight on another
/// connection or back in the queue (see `Accumulator::bind`).
fn bind(shared: &Shared, conn: &Connection, batches: Vec<ProducerBatch>) -> Vec<ProducerBatch> {
    let mut acc = shared.lock();
    let mut held_back = false;
    let kept: Vec<ProducerBatch> = batches
        .into_iter()
        .filter_map(|b| {
            if acc.bind(&b, conn.id()) {
                Some(b)
            } else {
                tracing::debug!(topic = %b.tp.0, partition = b.tp.1, "batch waits for its predecessors");
                acc.unsend(b);
                held_back = true;
                None
            }
        })
        .collect();
    drop(acc);
    if held_back {
        // Back in the queue: the sender drains it again once its
        // predecessors settle (their settling wakes it), or now if they
        // are in the queue too.
        shared.wake.notify_one();
    }
    for b in &kept {
        tracing::trace!(topic = %b.tp.0, partition = b.tp.1, base_sequence = b.base_sequence, records = b.record_count(), attempts = b.attempts, connection = conn.id(), "batch");
    }
    kept
}

/// A sink's broker address, for logs and errors.
#[derive(Default)]
struct Address(Option<String>);

impl Address {
    /// The address in the current metadata, else the last one seen.
    fn get(&mut self, shared: &Shared, broker: i32) -> &str {
        if let Some(b) = shared.client.metadata().brokers.get(&broker) {
            self.0 = Some(b.address());
        }
        self.0.as_deref().unwrap_or("address unknown")
    }

    /// `e` naming the broker by node id and address (a connect error names
    /// only the address it tried).
    fn with_broker(&mut self, shared: &Shared, broker: i32, e: Error) -> Error {
        let label = format!("{broker} ({})", self.get(shared, broker));
        match e {
            Error::NoBrokerAvailable(m) => Error::NoBrokerAvailable(format!("broker {label}: {m}")),
            e => e.map_context(|c| c.with_broker(&label)),
        }
    }
}

/// Queues one Produce request for `batches` on `conn`. `Ok(None)` for
/// acks=0, where the write is all there is.
async fn send_on(
    shared: &Shared,
    conn: &Connection,
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
