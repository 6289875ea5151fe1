//! `Processor` and its builder: the consumer it owns (auto-commit off,
//! its own rebalance listener), the ordering, the settings and the
//! dead-letter producer.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::breaker::BreakerConfig;
use super::listener::ProcessorListener;
use super::retry::RetryPolicy;
use super::runtime::{DeadLetters, Fixed, Handler, ProcessorHandle, Shared};
use super::settings::{BatchConfig, ProcessorSettings};
use super::transaction::{Outputs, TransactionConfig};
use super::{ProcessError, ProcessingOrder, dead_letter};
use crate::consumer::{Consumer, ConsumerBuilder, ConsumerRecord};
use crate::error::{Error, Result};
use crate::producer::{Producer, TransactionalProducer};

/// Builds a [`Processor`] (see the [module docs](super)).
pub struct ProcessorBuilder<K, V> {
    consumer: ConsumerBuilder<K, V>,
    topics: Vec<String>,
    order: ProcessingOrder,
    settings: ProcessorSettings,
    dead_letters: Option<DeadLetters<K, V>>,
    commit_interval: Duration,
    poll_timeout: Duration,
    drain_timeout: Duration,
    liveness_timeout: Duration,
    batch: Option<BatchConfig>,
}

impl<K, V> ProcessorBuilder<K, V>
where
    K: Clone + std::hash::Hash + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Records with the same key in order, different keys concurrently
    /// ([`ProcessingOrder::Key`], the default), or one at a time per
    /// partition, or in no order.
    pub fn order(mut self, order: ProcessingOrder) -> Self {
        self.order = order;
        self
    }

    /// Records (or batches) processed at once; default 16.
    pub fn max_concurrency(mut self, n: usize) -> Self {
        self.settings.max_concurrency = n.max(1);
        self
    }

    /// Records processed at once per partition; default 16.
    pub fn max_in_flight_per_partition(mut self, n: usize) -> Self {
        self.settings.max_in_flight_per_partition = n.max(1);
        self
    }

    /// How failed records are retried.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.settings.retry = policy;
        self
    }

    /// A handler call taking longer fails, retriably.
    pub fn handler_timeout(mut self, timeout: Duration) -> Self {
        self.settings.handler_timeout = Some(timeout);
        self
    }

    /// At most this many records per second (all partitions).
    pub fn records_per_second(mut self, rate: f64) -> Self {
        self.settings.records_per_second = Some(rate);
        self
    }

    /// At most this many key and value bytes per second.
    pub fn bytes_per_second(mut self, rate: f64) -> Self {
        self.settings.bytes_per_second = Some(rate);
        self
    }

    /// At most this many records per second per partition.
    pub fn partition_records_per_second(mut self, rate: f64) -> Self {
        self.settings.partition_records_per_second = Some(rate);
        self
    }

    /// A circuit breaker: after `config.failure_threshold` consecutive
    /// failures all partitions pause for `config.cool_down`, then one
    /// record probes.
    pub fn circuit_breaker(mut self, config: BreakerConfig) -> Self {
        self.settings.breaker = Some(config);
        self
    }

    /// Records that fail for good go to `<topic>.DLT` through `producer`,
    /// with key, value and headers as read (the producer's serializers
    /// must write back what the consumer's deserializers read, as the
    /// built-in ones do) plus Spring Kafka's `kafka_dlt-*` headers. Their
    /// offsets are committed only after the write is acknowledged.
    /// Without a dead-letter topic such records are logged and skipped.
    pub fn dead_letter_producer(mut self, producer: Producer<K, V>) -> Self {
        self.dead_letters = Some(DeadLetters {
            producer,
            topic: Arc::new(dead_letter::default_dead_letter_topic),
        });
        self
    }

    /// Names the dead-letter topic of each source topic (default
    /// `<topic>.DLT`). Needs [`dead_letter_producer`](Self::dead_letter_producer).
    pub fn dead_letter_topic(
        mut self,
        name: impl Fn(&str) -> String + Send + Sync + 'static,
    ) -> Self {
        if let Some(dl) = &mut self.dead_letters {
            dl.topic = Arc::new(name);
        }
        self
    }

    /// How often progress is committed; default 5 s (Java's
    /// `auto.commit.interval.ms`). Revocation and shutdown commit too.
    pub fn commit_interval(mut self, interval: Duration) -> Self {
        self.commit_interval = interval;
        self
    }

    /// How long revocation and shutdown wait for running records before
    /// committing without them (they are then redone); default 30 s.
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }

    /// How long the poll loop may go without a poll before
    /// [`Health::live`](super::Health::live) turns false; default 60 s.
    pub fn liveness_timeout(mut self, timeout: Duration) -> Self {
        self.liveness_timeout = timeout;
        self
    }

    /// Process in batches (see [`Processor::run_batches`]).
    pub fn batch(mut self, config: BatchConfig) -> Self {
        self.batch = Some(config);
        self
    }

    /// Builds the consumer (auto-commit off, the processor's rebalance
    /// listener) and subscribes it. Needs a `group.id`. Must run inside a
    /// tokio runtime.
    pub fn build(self) -> Result<Processor<K, V>> {
        if self.topics.is_empty() {
            return Err(Error::Config("a processor needs at least one topic".into()));
        }
        let fixed = Fixed {
            group: String::new(),
            commit_interval: self.commit_interval,
            poll_timeout: self.poll_timeout,
            drain_timeout: self.drain_timeout,
            liveness_timeout: self.liveness_timeout,
            batch: self.batch,
        };
        let shared = Shared::new(self.order, self.settings, fixed, self.dead_letters);
        let consumer = self
            .consumer
            .enable_auto_commit(false)
            .rebalance_listener(ProcessorListener {
                shared: shared.clone(),
            })
            .build()?;
        let group = consumer
            .config()
            .group_id
            .clone()
            .ok_or_else(|| Error::Config("a processor needs a group.id".into()))?;
        shared.fixed.lock().unwrap_or_else(|p| p.into_inner()).group = group;
        consumer.subscribe(self.topics)?;
        Ok(Processor {
            consumer: Arc::new(consumer),
            shared,
        })
    }
}

/// A running processing loop over a consumer group (see the [module
/// docs](super)).
pub struct Processor<K, V> {
    consumer: Arc<Consumer<K, V>>,
    shared: Arc<Shared<K, V>>,
}

impl<K, V> std::fmt::Debug for Processor<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Processor").finish_non_exhaustive()
    }
}

impl<K, V> Processor<K, V>
where
    K: Clone + std::hash::Hash + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A processor for `topics` with the consumer `consumer` configures
    /// (bootstrap, `group.id`, deserializers, ...).
    pub fn builder<T: Into<String>>(
        consumer: ConsumerBuilder<K, V>,
        topics: impl IntoIterator<Item = T>,
    ) -> ProcessorBuilder<K, V> {
        ProcessorBuilder {
            consumer,
            topics: topics.into_iter().map(Into::into).collect(),
            order: ProcessingOrder::Key,
            settings: ProcessorSettings::default(),
            dead_letters: None,
            commit_interval: Duration::from_secs(5),
            poll_timeout: Duration::from_millis(100),
            drain_timeout: Duration::from_secs(30),
            liveness_timeout: Duration::from_secs(60),
            batch: None,
        }
    }

    /// A handle for health probes, run-time settings and shutdown.
    pub fn handle(&self) -> ProcessorHandle<K, V> {
        ProcessorHandle {
            shared: self.shared.clone(),
        }
    }

    /// The consumer (for its metrics, assignment and group metadata).
    pub fn consumer(&self) -> &Consumer<K, V> {
        &self.consumer
    }

    /// Processes records with `handler` until `shutdown` resolves (or a
    /// handle asks), then drains, commits and leaves the group. Returns an
    /// error only when the consumer cannot go on (fenced, closed).
    ///
    /// Not cancel-safe: dropping the future skips the final drain and
    /// commit (records finished since the last commit are redone), so
    /// stop it through `shutdown` or [`ProcessorHandle::shutdown`].
    pub async fn run<F, Fut>(self, handler: F, shutdown: impl Future<Output = ()>) -> Result<()>
    where
        F: Fn(Arc<ConsumerRecord<K, V>>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<(), ProcessError>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let erased: Handler<K, V> = Arc::new(move |mut records: Vec<Arc<ConsumerRecord<K, V>>>| {
            let handler = handler.clone();
            Box::pin(async move {
                match records.pop() {
                    Some(r) => handler(r).await,
                    None => Ok(()),
                }
            })
        });
        self.shared.run(self.consumer, erased, shutdown).await
    }

    /// Exactly-once processing (KIP-447): the handler writes its outputs
    /// through [`Outputs`], and they commit in one transaction with the
    /// input offsets, per `config` (records or time per transaction). An
    /// aborted transaction rewinds the partitions, so its records are
    /// processed again and its outputs are never visible to
    /// `read_committed` readers. The producer's `transactional.id` must be
    /// stable across restarts of this member (e.g. the pod's name), so a
    /// restarted instance fences its predecessor. Dead letters are written
    /// outside the transaction (at least once).
    pub async fn run_exactly_once<KO, VO, F, Fut>(
        self,
        producer: TransactionalProducer<KO, VO>,
        config: TransactionConfig,
        handler: F,
        shutdown: impl Future<Output = ()>,
    ) -> Result<()>
    where
        KO: Send + Sync + 'static,
        VO: Send + Sync + 'static,
        F: Fn(Arc<ConsumerRecord<K, V>>, Outputs<KO, VO>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<(), ProcessError>> + Send + 'static,
    {
        producer.init_transactions().await?;
        producer.begin_transaction()?;
        let producer = Arc::new(producer);
        self.shared.set_transactions(producer.clone(), config);
        let outputs = Outputs { producer };
        let handler = Arc::new(handler);
        let erased: Handler<K, V> = Arc::new(move |mut records: Vec<Arc<ConsumerRecord<K, V>>>| {
            let handler = handler.clone();
            let outputs = outputs.clone();
            Box::pin(async move {
                match records.pop() {
                    Some(r) => handler(r, outputs).await,
                    None => Ok(()),
                }
            })
        });
        self.shared.run(self.consumer, erased, shutdown).await
    }

    /// Like [`run`](Self::run) with a handler for batches of up to the
    /// builder's [`BatchConfig`] (`max_records` records, waiting
    /// `max_wait` for a batch to fill; batches of 100 within 100 ms
    /// without one). A batch succeeds or fails whole: it is retried whole,
    /// and dead-lettered record by record. Batches respect the ordering:
    /// no two records of one key (or partition) are in the same or in
    /// concurrent batches.
    pub async fn run_batches<F, Fut>(
        self,
        handler: F,
        shutdown: impl Future<Output = ()>,
    ) -> Result<()>
    where
        F: Fn(Vec<Arc<ConsumerRecord<K, V>>>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<(), ProcessError>> + Send + 'static,
    {
        {
            let mut fixed = self.shared.fixed.lock().unwrap_or_else(|p| p.into_inner());
            if fixed.batch.is_none() {
                fixed.batch = Some(BatchConfig::new(100, Duration::from_millis(100)));
            }
        }
        let handler = Arc::new(handler);
        let erased: Handler<K, V> = Arc::new(move |records: Vec<Arc<ConsumerRecord<K, V>>>| {
            let handler = handler.clone();
            Box::pin(async move { handler(records).await })
        });
        self.shared.run(self.consumer, erased, shutdown).await
    }
}
