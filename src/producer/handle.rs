//! The typed `Producer` handle, its builder and delivery futures.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore, TryAcquireError};
use tokio::time::Instant;
use tracing::Instrument;

use super::accumulator::{Accumulator, AccumulatorConfig};
use super::config::{Acks, ProducerConfig};
use super::delivery::DeliveryFuture;
use super::partitioner::{
    PartitionChoice, PartitionSelector, PartitionerKind, StickyPartitioner, TopicPartitions,
};
use super::record::{ProducerRecord, RecordMetadata};
use super::routing::Routes;
use super::sender;
use super::shared::{Metrics, Shared};
use super::transaction::{TransactionManager, TransactionalProducerBuilder};
use crate::client::Client;
use crate::error::{Context, Error, ErrorCode, Result};
use crate::protocol::records::Compression;
use crate::serialization::{DefaultSerde, Serializer};

/// A snapshot of a producer's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProducerMetrics {
    /// Records acknowledged.
    pub records_sent: u64,
    /// Records failed for good.
    pub records_failed: u64,
    /// Record sends retried (a record counts once per retry).
    pub records_retried: u64,
    /// Records buffered or in flight.
    pub records_outstanding: u64,
    /// Buffer memory in use, in bytes.
    pub buffer_used: u64,
    /// Batches acknowledged.
    pub batches_sent: u64,
    /// Bytes of acknowledged batches, as encoded (compressed) on the wire.
    pub bytes_sent: u64,
    /// Batches currently in flight (sent, not yet answered).
    pub batches_in_flight: u64,
    /// Times the idempotent producer took a new producer id because the
    /// broker lost its sequence state (KIP-360), or the transactional
    /// producer bumped its epoch after an abort.
    pub producer_id_resets: u64,
    /// Transactional producer: coordinator requests retried (coordinator
    /// moved, loading, concurrent transactions, lost connection).
    pub transactional_retries: u64,
    /// `buffer.memory` not in use, in bytes (Java's `buffer-available-bytes`).
    pub buffer_available: u64,
    /// Produce requests answered (Java's `request-total`, produce only).
    pub requests: u64,
    /// Mean Produce round trip, send to response (Java's `request-latency-avg`).
    pub request_latency_avg: Duration,
    /// Longest Produce round trip (Java's `request-latency-max`).
    pub request_latency_max: Duration,
}

impl ProducerMetrics {
    /// Mean encoded size of an acknowledged batch, in bytes (0 before the
    /// first).
    pub fn average_batch_bytes(&self) -> u64 {
        self.bytes_sent.checked_div(self.batches_sent).unwrap_or(0)
    }
}

/// Builds a [`Producer`]. Every setter names the Java producer setting it
/// mirrors and its default.
pub struct ProducerBuilder<K, V> {
    client: Client,
    config: ProducerConfig,
    key_serializer: Arc<dyn Serializer<K>>,
    value_serializer: Arc<dyn Serializer<V>>,
}

impl<K, V> ProducerBuilder<K, V>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
    DefaultSerde: Serializer<K> + Serializer<V>,
{
    /// A builder using [`DefaultSerde`] for keys and values.
    pub fn new(client: &Client) -> Self {
        ProducerBuilder {
            client: client.clone(),
            config: ProducerConfig::default(),
            key_serializer: Arc::new(DefaultSerde),
            value_serializer: Arc::new(DefaultSerde),
        }
    }
}

impl<K: Send + Sync + 'static, V: Send + Sync + 'static> ProducerBuilder<K, V> {
    setter!(/// `acks`: default [`Acks::All`].
        acks: Acks => acks);
    setter!(/// `linger.ms`: how long a batch waits for more records. Default 5 ms.
        linger: Duration => linger);
    setter!(/// `batch.size`: target bytes per partition batch. Default 16384. 0 means no
        /// batching, as in Java: each record is its own batch, ready at once.
        batch_size: usize => batch_size);
    setter!(/// `max.request.size`: largest Produce request. Default 1 MiB.
        max_request_size: usize => max_request_size);
    setter!(/// `buffer.memory`: bytes of records buffered before sends wait. Default 32 MiB.
        buffer_memory: usize => buffer_memory);
    setter!(/// `max.block.ms`: how long a send may wait for metadata or buffer space. Default 60 s.
        max_block: Duration => max_block);
    setter!(/// `compression.type`. Default none.
        compression: Compression => compression);
    setter!(/// `delivery.timeout.ms`: bound on a record's whole delivery, retries included. Default 120 s.
        delivery_timeout: Duration => delivery_timeout);
    setter!(/// `request.timeout.ms` of Produce requests (the broker's wait for acks). Default 30 s.
        request_timeout: Duration => request_timeout);
    setter!(/// `retry.backoff.ms`: first pause before a retry. Default 100 ms.
        retry_backoff: Duration => retry_backoff);
    setter!(/// `retry.backoff.max.ms`: cap of the exponential retry backoff. Default 1 s.
        retry_backoff_max: Duration => retry_backoff_max);
    setter!(/// `max.in.flight.requests.per.connection`: Produce requests in flight per broker, and batches in flight per partition. Default 5.
        max_in_flight: usize => max_in_flight);
    setter!(/// `partitioner.class`. Default: murmur2 of the key, uniform sticky without key.
        partitioner: PartitionerKind => partitioner);
    setter!(/// `partitioner.ignore.keys`. Default false.
        partitioner_ignore_keys: bool => partitioner_ignore_keys);
    setter!(/// Whether `send {topic}` spans carry the key (UTF-8, lossy) as
        /// `messaging.kafka.message.key`. Default false: keys may be personal data. Not a Java setting.
        trace_record_keys: bool => trace_record_keys);

    /// `enable.idempotence`: default on when `acks=all` and
    /// `max.in.flight.requests.per.connection` ≤ 5, as in Java.
    pub fn enable_idempotence(mut self, yes: bool) -> Self {
        self.config.enable_idempotence = Some(yes);
        self
    }

    /// `key.serializer`.
    pub fn key_serializer(mut self, s: impl Serializer<K> + 'static) -> Self {
        self.key_serializer = Arc::new(s);
        self
    }

    /// `value.serializer`.
    pub fn value_serializer(mut self, s: impl Serializer<V> + 'static) -> Self {
        self.value_serializer = Arc::new(s);
        self
    }

    /// Turns this into a [`TransactionalProducerBuilder`] with
    /// `transactional.id` = `id`: the settings made so far are kept;
    /// idempotence is forced on and `acks` must stay `all`.
    pub fn transactional_id(self, id: impl Into<String>) -> TransactionalProducerBuilder<K, V> {
        TransactionalProducerBuilder::new(self, id.into())
    }

    /// Builds the producer and starts its sender task. Must run inside a
    /// tokio runtime.
    pub fn build(self) -> Result<Producer<K, V>> {
        self.build_with(None)
    }

    /// The settings, for the transactional builder's checks.
    pub(crate) fn config_mut(&mut self) -> &mut ProducerConfig {
        &mut self.config
    }

    /// Builds the producer, transactional when `txn` is given.
    pub(crate) fn build_with(self, txn: Option<Arc<TransactionManager>>) -> Result<Producer<K, V>> {
        self.config.validate()?;
        let cfg = &self.config;
        let shared = Arc::new(Shared {
            client: self.client.clone(),
            accumulator: Mutex::new(Accumulator::new(AccumulatorConfig {
                batch_size: cfg.batch_size,
                linger: cfg.linger,
                compression: cfg.compression,
                max_in_flight: cfg.max_in_flight,
                max_request_size: cfg.max_request_size,
                transactional: txn.is_some(),
            })),
            sticky: Mutex::new(HashMap::new()),
            routes: Routes::default(),
            selector: PartitionSelector::new(&cfg.partitioner, cfg.partitioner_ignore_keys),
            memory: Semaphore::new(cfg.buffer_memory),
            producer_id: Mutex::new(None),
            renew_identity: AtomicBool::new(false),
            wake: Notify::new(),
            idle: Notify::new(),
            flushes: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            closed_hard: AtomicBool::new(false),
            fatal: Mutex::new(None),
            metrics: Metrics::default(),
            config: self.config,
            txn,
        });
        tokio::spawn(sender::run(shared.clone()));
        Ok(Producer {
            _handles: Arc::new(LastHandle(shared.clone())),
            shared,
            key_serializer: self.key_serializer,
            value_serializer: self.value_serializer,
        })
    }
}

/// A Kafka producer for keys `K` and values `V`.
///
/// Cheap to clone; clones share buffers and the sender. Records are batched
/// per partition and sent by a background task; [`Producer::send`] waits for
/// the acknowledgement, [`Producer::enqueue`] returns once the record is
/// buffered. Dropping the last clone without [`Producer::close`] sends what
/// is buffered at once in the background, then ends the task.
///
/// ```no_run
/// # async fn demo(client: kafkit::Client) -> kafkit::Result<()> {
/// use kafkit::producer::{Producer, ProducerRecord};
/// let producer: Producer<String, String> = Producer::builder(&client).build()?;
/// let meta = producer.send(ProducerRecord::new("events", "hello".to_string()).key("k".to_string())).await?;
/// println!("written at {meta}");
/// producer.close(std::time::Duration::from_secs(5)).await?;
/// # Ok(()) }
/// ```
pub struct Producer<K, V> {
    shared: Arc<Shared>,
    key_serializer: Arc<dyn Serializer<K>>,
    value_serializer: Arc<dyn Serializer<V>>,
    /// Shared by every clone: dropped with the last one.
    _handles: Arc<LastHandle>,
}

/// Ends the sender task when the last [`Producer`] handle goes away
/// without [`Producer::close`] (the task holds `Shared` itself, so it
/// cannot notice by reference count). No I/O (invariant 7): the producer
/// is marked closed, and the sender delivers what is buffered or in flight
/// (someone may still await those records' futures), then ends.
struct LastHandle(Arc<Shared>);

impl Drop for LastHandle {
    fn drop(&mut self) {
        if !self.0.is_closed() {
            self.0.close_without_waiting();
        }
    }
}

impl<K, V> Clone for Producer<K, V> {
    fn clone(&self) -> Self {
        Producer {
            shared: self.shared.clone(),
            key_serializer: self.key_serializer.clone(),
            value_serializer: self.value_serializer.clone(),
            _handles: self._handles.clone(),
        }
    }
}

impl<K, V> std::fmt::Debug for Producer<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("config", &self.shared.config)
            .finish()
    }
}

impl<K, V> Producer<K, V>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
    DefaultSerde: Serializer<K> + Serializer<V>,
{
    /// A builder with the default serializers.
    pub fn builder(client: &Client) -> ProducerBuilder<K, V> {
        ProducerBuilder::new(client)
    }
}

impl<K, V> Producer<K, V> {
    // Without bounds, so that a `Drop` impl can reach it.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}

impl<K: Send + Sync + 'static, V: Send + Sync + 'static> Producer<K, V> {
    /// Sends a record and waits for its acknowledgement, in a
    /// `send {topic}` span that ends with the acknowledgement (see
    /// [`crate::observe`]).
    pub async fn send(&self, record: ProducerRecord<K, V>) -> Result<RecordMetadata> {
        // Names the topic and the explicit partition only: never values or
        // headers (keys only with `trace_record_keys`).
        let span = crate::observe::spans::send(&record.topic, record.partition);
        async {
            let meta = self.enqueue_in_span(record).await?.await;
            let current = tracing::Span::current();
            match &meta {
                Ok(m) => {
                    current.record("messaging.destination.partition.id", m.partition);
                    current.record("messaging.kafka.offset", m.offset);
                }
                Err(e) => {
                    current.record("error.type", e.code().map_or("_OTHER", |c| c.name()));
                    tracing::debug!(error = %e, "failed");
                }
            }
            meta
        }
        .instrument(span)
        .await
    }

    /// Buffers a record and returns at once with a future for its delivery,
    /// so a hot loop can keep many records in flight. Waits only for
    /// metadata of a new topic or for buffer space (`max.block.ms`).
    /// Runs in a `send {topic}` span that ends when the record is
    /// buffered (see [`crate::observe`]).
    ///
    /// Cancel-safe: if this future is dropped before it resolves, the
    /// record was not buffered.
    pub async fn enqueue(&self, record: ProducerRecord<K, V>) -> Result<DeliveryFuture> {
        let span = crate::observe::spans::send(&record.topic, record.partition);
        self.enqueue_in_span(record).instrument(span).await
    }

    /// `enqueue` in the caller's `send` span.
    #[cfg_attr(not(feature = "opentelemetry"), allow(unused_mut))]
    async fn enqueue_in_span(&self, mut record: ProducerRecord<K, V>) -> Result<DeliveryFuture> {
        let shared = &self.shared;
        shared.check_usable()?;
        record.validate()?;
        let topic = record.topic.clone();
        let key = match &record.key {
            Some(k) => self.key_serializer.serialize(&topic, k)?,
            None => None,
        };
        let value = match &record.value {
            Some(v) => self.value_serializer.serialize(&topic, v)?,
            None => None,
        };
        // max.block.ms bounds the metadata wait and the buffer wait together;
        // the clock is read only when one of them has to wait.
        let mut deadline_at = None;
        let max_block = shared.config.max_block;
        let mut deadline = || *deadline_at.get_or_insert_with(|| Instant::now() + max_block);
        let generation = shared.client.metadata_handle().generation();
        let partitions = match shared
            .routes
            .partitions(&topic, generation, || shared.client.metadata())
        {
            Some(p) => p,
            None => self.wait_for_topic(&topic, deadline()).await?,
        };
        let choice = shared.selector.choose(
            &topic,
            record.partition,
            key.as_deref(),
            value.as_deref(),
            &partitions,
        )?;
        let span = tracing::Span::current();
        if !span.is_disabled()
            && shared.config.trace_record_keys
            && let Some(k) = &key
        {
            span.record(
                "messaging.kafka.message.key",
                String::from_utf8_lossy(k).as_ref(),
            );
        }
        // The trace context of this `send` span travels in the headers
        // (W3C traceparent/tracestate through the user's propagator).
        #[cfg(feature = "opentelemetry")]
        if !span.is_disabled() {
            crate::observe::propagation::inject(&span, &mut record.headers);
        }
        let headers: Vec<(&str, Option<&[u8]>)> = record
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_deref()))
            .collect();
        let timestamp = record.timestamp.unwrap_or_else(now_ms);
        let size = 70
            + key.as_ref().map_or(0, |k| k.len())
            + value.as_ref().map_or(0, |v| v.len())
            + headers
                .iter()
                .map(|(k, v)| k.len() + v.map_or(0, <[u8]>::len) + 4)
                .sum::<usize>();
        if size > shared.config.max_request_size {
            return Err(Error::InvalidArgument {
                reason: format!(
                    "record of {size} bytes exceeds max.request.size ({})",
                    shared.config.max_request_size
                ),
                context: Context::default().with_topic(topic),
            });
        }
        let permits = u32::try_from(size).unwrap_or(u32::MAX);
        match shared.memory.try_acquire_many(permits) {
            Ok(p) => p.forget(),
            Err(TryAcquireError::Closed) => return Err(Error::Closed),
            Err(TryAcquireError::NoPermits) => {
                match tokio::time::timeout_at(deadline(), shared.memory.acquire_many(permits)).await
                {
                    Ok(Ok(p)) => p.forget(),
                    Ok(Err(_)) => return Err(Error::Closed),
                    Err(_) => {
                        return Err(Error::Timeout {
                            what: "buffer memory (max.block.ms)",
                            context: Context::default().with_topic(topic),
                        });
                    }
                }
            }
        }
        let (delivery, appended) = {
            let mut sticky = shared.sticky.lock().unwrap_or_else(|p| p.into_inner());
            let mut acc = shared.lock();
            // Checked again under the lock: the sender may have failed
            // fatally (e.g. InitProducerId refused) or the producer closed
            // while this call waited for metadata. Both set the flag before
            // they take the batches out under this lock, so a record
            // appended after the flag would never be completed.
            if shared.is_closed() {
                drop(acc);
                drop(sticky);
                shared.release_memory(permits as usize);
                return Err(shared.check_usable().err().unwrap_or(Error::Closed));
            }
            let partition = match choice {
                PartitionChoice::Partition(p) => p,
                PartitionChoice::Sticky => sticky
                    .entry(topic.clone())
                    .or_insert_with(|| StickyPartitioner::new(shared.config.batch_size))
                    .partition(&partitions),
            };
            span.record("messaging.destination.partition.id", partition);
            let tp = (topic.clone(), partition);
            let (delivery, appended) = acc.append(
                &tp,
                timestamp,
                key.as_deref(),
                value.as_deref(),
                &headers,
                permits as usize,
            );
            if choice == PartitionChoice::Sticky
                && let Some(s) = sticky.get_mut(&topic)
            {
                s.on_append(size, appended.full);
            }
            (delivery, appended)
        };
        if appended.wake {
            // A new batch (the sender learns its linger deadline, or sends
            // it at once with linger.ms=0) or a full one.
            shared.wake.notify_one();
        }
        Ok(delivery)
    }

    /// Waits (until `deadline`) for `topic` to appear in metadata with at
    /// least one partition, asking the refresher for it each round.
    async fn wait_for_topic(&self, topic: &str, deadline: Instant) -> Result<Arc<TopicPartitions>> {
        let shared = &self.shared;
        let client = &shared.client;
        loop {
            // Names the topic to the refresher (so later refreshes keep it)
            // and refreshes when it is unknown.
            let meta = match tokio::time::timeout_at(deadline, client.metadata_for(&[topic])).await
            {
                Ok(m) => m?,
                Err(_) => client.metadata(),
            };
            if let Some(p) = shared
                .routes
                .partitions(topic, meta.generation, || meta.clone())
            {
                return Ok(p);
            }
            let error = meta.topic_errors.get(topic).copied();
            // As Java's producer: a topic we may not describe, or whose
            // name is invalid, fails the send at once; waiting cannot help.
            if let Some(
                code @ (ErrorCode::TOPIC_AUTHORIZATION_FAILED | ErrorCode::INVALID_TOPIC_EXCEPTION),
            ) = error
            {
                return Err(Error::Broker {
                    code,
                    message: None,
                    context: Context::api("Metadata").with_topic(topic),
                });
            }
            let now = Instant::now();
            if now >= deadline {
                let code = error.unwrap_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
                return Err(Error::Broker {
                    code,
                    message: Some(format!(
                        "topic not present in metadata after {:?} (max.block.ms)",
                        shared.config.max_block
                    )),
                    context: Context::api("Metadata").with_topic(topic),
                });
            }
            // Known but not usable yet (e.g. being created, leader not
            // available): back off, then insist on a newer snapshot.
            tokio::time::sleep(shared.config.retry_backoff.min(deadline - now)).await;
            let _ = tokio::time::timeout_at(
                deadline,
                client.metadata_handle().refresh(meta.generation),
            )
            .await;
        }
    }

    /// Makes every buffered record ready now and waits until all records
    /// enqueued so far are acknowledged or failed.
    ///
    /// Cancel-safe: dropping the future (e.g. a timeout around it) ends the
    /// flush, and later batches linger again.
    pub async fn flush(&self) {
        let shared = &self.shared;
        // Counted down on drop, not after the loop: a flush cancelled by a
        // timeout (as commit and abort do) would otherwise leave the
        // producer flushing for ever, every batch ignoring linger.ms.
        struct Flushing<'a>(&'a AtomicUsize);
        impl Drop for Flushing<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::AcqRel);
            }
        }
        shared.flushes.fetch_add(1, Ordering::AcqRel);
        let _flushing = Flushing(&shared.flushes);
        loop {
            let idle = shared.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if shared.lock().outstanding() == 0 {
                break;
            }
            shared.wake.notify_one();
            // Every path that settles a record checks for idle (see
            // `Shared::idle_check`): no fallback tick.
            idle.await;
        }
    }

    /// Closes the producer: new sends fail with [`Error::Closed`], buffered
    /// records are sent, and whatever is not delivered within `timeout` is
    /// failed. Never waits longer than `timeout` (plus a few ms).
    pub async fn close(&self, timeout: Duration) -> Result<()> {
        let shared = &self.shared;
        shared.closed.store(true, Ordering::Release);
        shared.wake.notify_one();
        let flushed = tokio::time::timeout(timeout, self.flush()).await.is_ok();
        if !flushed {
            shared.closed_hard.store(true, Ordering::Release);
            let batches = shared.lock().take_all();
            let n: usize = batches.iter().map(|b| b.record_count()).sum();
            for b in batches {
                shared.release_memory(b.memory);
                b.outcome.settle(Err(Error::Closed));
            }
            shared.metrics.failed.fetch_add(n as u64, Ordering::Relaxed);
            shared.wake.notify_one();
            return Err(Error::Timeout {
                what: "producer close",
                context: Context::default(),
            });
        }
        Ok(())
    }

    /// A snapshot of the producer's counters.
    pub fn metrics(&self) -> ProducerMetrics {
        ProducerMetrics::of(&self.shared)
    }
}

impl ProducerMetrics {
    /// The counters of the producer sharing `s`.
    pub(crate) fn of(s: &Shared) -> ProducerMetrics {
        let (outstanding, in_flight) = {
            let acc = s.lock();
            (acc.outstanding() as u64, acc.in_flight() as u64)
        };
        let requests = s.metrics.requests.load(Ordering::Relaxed);
        ProducerMetrics {
            records_sent: s.metrics.sent.load(Ordering::Relaxed),
            records_failed: s.metrics.failed.load(Ordering::Relaxed),
            records_retried: s.metrics.retried.load(Ordering::Relaxed),
            records_outstanding: outstanding,
            buffer_used: (s.config.buffer_memory - s.memory.available_permits()) as u64,
            batches_sent: s.metrics.batches_sent.load(Ordering::Relaxed),
            bytes_sent: s.metrics.bytes_sent.load(Ordering::Relaxed),
            batches_in_flight: in_flight,
            producer_id_resets: s.metrics.identity_resets.load(Ordering::Relaxed),
            transactional_retries: s.metrics.txn_retries.load(Ordering::Relaxed),
            buffer_available: s.memory.available_permits() as u64,
            requests,
            request_latency_avg: Duration::from_micros(
                s.metrics
                    .request_latency_total_us
                    .load(Ordering::Relaxed)
                    .checked_div(requests)
                    .unwrap_or(0),
            ),
            request_latency_max: Duration::from_micros(
                s.metrics.request_latency_max_us.load(Ordering::Relaxed),
            ),
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
