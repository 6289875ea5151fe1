//! Prometheus collectors (feature `prometheus`): the application registers
//! them in its own `prometheus_client` [`Registry`]; every scrape reads a
//! snapshot of the client's counters (no work between scrapes).
//!
//! ```no_run
//! # async fn demo(producer: kafkit::producer::Producer<String, String>,
//! #               consumer: kafkit::consumer::Consumer<String, String>) {
//! use kafkit::observe::prometheus::{ConsumerCollector, ProducerCollector};
//! let mut registry = prometheus_client::registry::Registry::default();
//! registry.register_collector(Box::new(ProducerCollector::new(&producer)));
//! registry.register_collector(Box::new(ConsumerCollector::new(&consumer)));
//! // Several clients in one registry: one collector each kind, `.and(...)`.
//! # }
//! ```
//!
//! Names are the Java client's metric names (`record-send-total` becomes
//! `kafka_producer_record_send_total`; Prometheus takes rates with
//! `rate()`, so Java's `*-rate` metrics are the `*_total` counters here).
//! Times are in seconds, as Prometheus expects (Java's are in ms). Labels:
//! `client_id` on all; `group` on a group consumer's; `topic` and
//! `partition` on per-partition series. A client that has been dropped
//! disappears from the next scrape.
//!
//! [`Registry`]: prometheus_client::registry::Registry

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Weak};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Unit;

use crate::consumer::Consumer;
use crate::consumer::metrics::MetricsSource;
use crate::producer::shared::Shared;
use crate::producer::{Producer, ProducerMetrics, TransactionalProducer};

type Labels = Vec<(&'static str, String)>;

#[derive(Clone, Copy)]
enum Value {
    Counter(u64),
    Gauge(f64),
    GaugeInt(i64),
}

/// Metric families gathered over every client of a collector, in the
/// order first seen: a family is written once (HELP/TYPE once) however
/// many clients contribute series to it.
#[derive(Default)]
struct Families {
    order: Vec<Family>,
}

/// Name, help, unit and the series of one metric family.
type Family = (
    &'static str,
    &'static str,
    Option<Unit>,
    Vec<(Labels, Value)>,
);

impl Families {
    fn add(
        &mut self,
        name: &'static str,
        help: &'static str,
        unit: Option<Unit>,
        labels: Labels,
        value: Value,
    ) {
        match self.order.iter_mut().find(|f| f.0 == name) {
            Some(f) => f.3.push((labels, value)),
            None => self.order.push((name, help, unit, vec![(labels, value)])),
        }
    }

    /// Declares a family that may have no series (so it is still described).
    fn declare(&mut self, name: &'static str, help: &'static str) {
        if !self.order.iter().any(|f| f.0 == name) {
            self.order.push((name, help, None, Vec::new()));
        }
    }

    fn encode(self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for (name, help, unit, series) in &self.order {
            let Some((_, first)) = series.first() else {
                continue;
            };
            let kind = match first {
                Value::Counter(_) => MetricType::Counter,
                Value::Gauge(_) | Value::GaugeInt(_) => MetricType::Gauge,
            };
            let mut metric = encoder.encode_descriptor(name, help, unit.as_ref(), kind)?;
            for (labels, value) in series {
                let m = metric.encode_family(labels)?;
                match *value {
                    Value::Counter(v) => ConstCounter::new(v).encode(m)?,
                    Value::Gauge(v) => ConstGauge::new(v).encode(m)?,
                    Value::GaugeInt(v) => ConstGauge::new(v).encode(m)?,
                }
            }
        }
        Ok(())
    }
}

/// Producers' metrics (`kafka_producer_*`, label `client_id`).
#[derive(Debug, Clone)]
pub struct ProducerCollector {
    producers: Vec<(Weak<Shared>, String)>,
}

impl ProducerCollector {
    /// A collector reading `producer`'s counters until it is closed or
    /// dropped; it does not keep the producer alive.
    pub fn new<K, V>(producer: &Producer<K, V>) -> Self {
        ProducerCollector {
            producers: Vec::new(),
        }
        .and(producer)
    }

    /// This collector reading `producer` too.
    pub fn and<K, V>(mut self, producer: &Producer<K, V>) -> Self {
        let shared: &Arc<Shared> = producer.shared();
        self.producers
            .push((Arc::downgrade(shared), shared.client.client_id().to_owned()));
        self
    }

    /// A collector reading a transactional producer's counters.
    pub fn transactional<K: Send + Sync + 'static, V: Send + Sync + 'static>(
        producer: &TransactionalProducer<K, V>,
    ) -> Self {
        Self::new(producer.producer())
    }
}

impl Collector for ProducerCollector {
    fn encode(&self, encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut f = Families::default();
        for (shared, client_id) in &self.producers {
            // A closed producer leaves the scrape, as Java removes a
            // closed client's metrics.
            let Some(shared) = shared.upgrade().filter(|s| !s.is_closed()) else {
                continue;
            };
            let m = ProducerMetrics::of(&shared);
            let total = shared.config.buffer_memory as f64;
            drop(shared);
            let l = || vec![("client_id", client_id.clone())];
            let c = Value::Counter;
            let g = Value::Gauge;
            f.add(
                "kafka_producer_record_send",
                "Records acknowledged (Java record-send-total).",
                None,
                l(),
                c(m.records_sent),
            );
            f.add(
                "kafka_producer_record_error",
                "Records failed for good (Java record-error-total).",
                None,
                l(),
                c(m.records_failed),
            );
            f.add(
                "kafka_producer_record_retry",
                "Record sends retried (Java record-retry-total).",
                None,
                l(),
                c(m.records_retried),
            );
            f.add(
                "kafka_producer_batch",
                "Batches acknowledged.",
                None,
                l(),
                c(m.batches_sent),
            );
            f.add(
                "kafka_producer_byte",
                "Bytes of acknowledged batches as sent, compressed (Java byte-total).",
                None,
                l(),
                c(m.bytes_sent),
            );
            f.add(
                "kafka_producer_request",
                "Produce requests answered (Java request-total).",
                None,
                l(),
                c(m.requests),
            );
            f.add(
                "kafka_producer_request_latency_avg",
                "Mean Produce round trip (Java request-latency-avg).",
                Some(Unit::Seconds),
                l(),
                g(m.request_latency_avg.as_secs_f64()),
            );
            f.add(
                "kafka_producer_request_latency_max",
                "Longest Produce round trip (Java request-latency-max).",
                Some(Unit::Seconds),
                l(),
                g(m.request_latency_max.as_secs_f64()),
            );
            f.add(
                "kafka_producer_batch_size_avg",
                "Mean bytes per acknowledged batch (Java batch-size-avg).",
                None,
                l(),
                g(m.average_batch_bytes() as f64),
            );
            f.add(
                "kafka_producer_buffer_available",
                "buffer.memory not in use (Java buffer-available-bytes).",
                Some(Unit::Bytes),
                l(),
                g(m.buffer_available as f64),
            );
            f.add(
                "kafka_producer_buffer_total",
                "buffer.memory (Java buffer-total-bytes).",
                Some(Unit::Bytes),
                l(),
                g(total),
            );
            f.add(
                "kafka_producer_records_outstanding",
                "Records buffered or in flight.",
                None,
                l(),
                g(m.records_outstanding as f64),
            );
            f.add(
                "kafka_producer_batches_in_flight",
                "Batches sent and not yet answered.",
                None,
                l(),
                g(m.batches_in_flight as f64),
            );
        }
        f.encode(encoder)
    }
}

/// Consumers' metrics (`kafka_consumer_*`, labels `client_id` and, for a
/// group consumer, `group`), including `kafka_consumer_lag{group, topic,
/// partition}` and its per-topic sum `kafka_consumer_lag_sum{group, topic}`
/// (`group` is empty for a consumer without `group.id`).
#[derive(Debug, Clone)]
pub struct ConsumerCollector {
    sources: Vec<MetricsSource>,
}

impl ConsumerCollector {
    /// A collector reading `consumer`'s counters; it does not keep the
    /// consumer alive.
    pub fn new<K: Send + 'static, V: Send + 'static>(consumer: &Consumer<K, V>) -> Self {
        ConsumerCollector {
            sources: Vec::new(),
        }
        .and(consumer)
    }

    /// This collector reading `consumer` too.
    pub fn and<K: Send + 'static, V: Send + 'static>(mut self, consumer: &Consumer<K, V>) -> Self {
        self.sources.push(consumer.metrics_source());
        self
    }
}

impl Collector for ConsumerCollector {
    fn encode(&self, encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut f = Families::default();
        let mut lags: Vec<(String, Arc<str>, i32, i64)> = Vec::new();
        for r in self.sources.iter().filter_map(MetricsSource::read) {
            let group = r.group_id.clone().unwrap_or_default();
            let base = || {
                let mut l: Labels = vec![("client_id", r.client_id.clone())];
                if r.group_id.is_some() {
                    l.push(("group", group.clone()));
                }
                l
            };
            let m = &r.consumer;
            let c = Value::Counter;
            let g = Value::Gauge;
            f.add(
                "kafka_consumer_records_consumed",
                "Records handed to the application (Java records-consumed-total).",
                None,
                base(),
                c(m.records_consumed),
            );
            f.add(
                "kafka_consumer_bytes_consumed",
                "Record bytes fetched (Java bytes-consumed-total).",
                None,
                base(),
                c(m.bytes_fetched),
            );
            f.add(
                "kafka_consumer_records_fetched",
                "Records received in Fetch responses.",
                None,
                base(),
                c(m.records_fetched),
            );
            f.add(
                "kafka_consumer_fetch",
                "Fetch requests answered (Java fetch-total).",
                None,
                base(),
                c(m.fetch_requests),
            );
            f.add(
                "kafka_consumer_fetch_error",
                "Fetch requests that failed as a whole.",
                None,
                base(),
                c(m.fetch_errors),
            );
            f.add(
                "kafka_consumer_fetch_latency_avg",
                "Mean Fetch round trip, broker wait included (Java fetch-latency-avg).",
                Some(Unit::Seconds),
                base(),
                g(m.fetch_latency_avg.as_secs_f64()),
            );
            f.add(
                "kafka_consumer_fetch_latency_max",
                "Longest Fetch round trip (Java fetch-latency-max).",
                Some(Unit::Seconds),
                base(),
                g(m.fetch_latency_max.as_secs_f64()),
            );
            f.add(
                "kafka_consumer_buffered",
                "Bytes prefetched and not yet handed out.",
                Some(Unit::Bytes),
                base(),
                g(m.buffered_bytes as f64),
            );
            f.declare("kafka_consumer_records_lag", "");
            for (tp, lag) in &m.lag {
                let mut l = base();
                l.push(("topic", tp.topic.to_string()));
                l.push(("partition", tp.partition.to_string()));
                f.add("kafka_consumer_records_lag", "Log end (LSO for read_committed) minus position, per partition (Java records-lag).", None, l, Value::GaugeInt(*lag));
                lags.push((group.clone(), tp.topic.clone(), tp.partition, *lag));
            }
            let max = m.lag.values().copied().max().unwrap_or(0);
            f.add(
                "kafka_consumer_records_lag_max",
                "Largest records-lag of the assigned partitions (Java records-lag-max).",
                None,
                base(),
                Value::GaugeInt(max),
            );
            if let Some(gm) = &r.group {
                f.add(
                    "kafka_consumer_commit",
                    "Offset commits that succeeded (Java commit-total).",
                    None,
                    base(),
                    c(gm.commits_ok),
                );
                f.add(
                    "kafka_consumer_commit_failed",
                    "Offset commits that failed after retries.",
                    None,
                    base(),
                    c(gm.commits_failed),
                );
                f.add(
                    "kafka_consumer_commit_latency_avg",
                    "Mean OffsetCommit round trip (Java commit-latency-avg).",
                    Some(Unit::Seconds),
                    base(),
                    g(gm.commit_latency_avg.as_secs_f64()),
                );
                f.add(
                    "kafka_consumer_commit_latency_max",
                    "Longest OffsetCommit round trip (Java commit-latency-max).",
                    Some(Unit::Seconds),
                    base(),
                    g(gm.commit_latency_max.as_secs_f64()),
                );
                f.add(
                    "kafka_consumer_rebalance",
                    "Rebalances completed (Java rebalance-total).",
                    None,
                    base(),
                    c(gm.rebalances),
                );
                // Java reports -1 before the first rebalance.
                let ago = gm
                    .last_rebalance_at
                    .map_or(-1.0, |t| t.elapsed().as_secs_f64());
                f.add("kafka_consumer_last_rebalance_seconds_ago", "Seconds since the last rebalance completed, -1 before the first (Java last-rebalance-seconds-ago).", None, base(), g(ago));
                f.add(
                    "kafka_consumer_assigned_partitions",
                    "Partitions assigned to this member (Java assigned-partitions).",
                    None,
                    base(),
                    g(gm.assigned_partitions as f64),
                );
            }
        }
        add_lag(
            &mut f,
            lags.iter().map(|(g, t, p, l)| (g.as_str(), &**t, *p, *l)),
        );
        f.encode(encoder)
    }
}

/// Adds `kafka_consumer_lag{group, topic, partition}` and
/// `kafka_consumer_lag_sum{group, topic}`, the gauges an autoscaler reads.
fn add_lag<'a>(f: &mut Families, lags: impl Iterator<Item = (&'a str, &'a str, i32, i64)>) {
    let mut sums: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for (group, topic, partition, lag) in lags {
        let labels = vec![
            ("group", group.to_owned()),
            ("topic", topic.to_owned()),
            ("partition", partition.to_string()),
        ];
        f.add(
            "kafka_consumer_lag",
            "Records behind the log end (LSO for read_committed), per partition.",
            None,
            labels,
            Value::GaugeInt(lag),
        );
        *sums.entry((group, topic)).or_default() += lag.max(0);
    }
    for ((group, topic), sum) in sums {
        let labels = vec![("group", group.to_owned()), ("topic", topic.to_owned())];
        f.add(
            "kafka_consumer_lag_sum",
            "kafka_consumer_lag summed per topic.",
            None,
            labels,
            Value::GaugeInt(sum),
        );
    }
}

/// `kafka_consumer_lag{group, topic, partition}` and
/// `kafka_consumer_lag_sum{group, topic}` for groups watched from outside
/// (no member of them here): the application computes each group's lag
/// with [`Admin::consumer_group_lag`](crate::Admin::consumer_group_lag)
/// as often as it likes and [`set`](Self::set)s it; scrapes read the last
/// values. The lag exporter example is built on it.
#[derive(Debug, Clone, Default)]
pub struct ConsumerLagCollector {
    groups: Arc<Mutex<BTreeMap<String, Vec<PartitionLag>>>>,
}

/// Topic, partition and lag of one partition of a watched group.
type PartitionLag = (String, i32, i64);

impl ConsumerLagCollector {
    /// An empty collector (shares its state with its clones).
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces `group`'s lag with `lags` (topic, partition, lag).
    pub fn set(&self, group: &str, lags: impl IntoIterator<Item = (String, i32, i64)>) {
        let lags = lags.into_iter().collect();
        crate::net::pool::lock(&self.groups).insert(group.to_owned(), lags);
    }

    /// Stops reporting `group`.
    pub fn remove(&self, group: &str) {
        crate::net::pool::lock(&self.groups).remove(group);
    }
}

impl Collector for ConsumerLagCollector {
    fn encode(&self, encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut f = Families::default();
        {
            let groups = crate::net::pool::lock(&self.groups);
            add_lag(
                &mut f,
                groups.iter().flat_map(|(g, lags)| {
                    lags.iter()
                        .map(move |(t, p, l)| (g.as_str(), t.as_str(), *p, *l))
                }),
            );
        }
        f.encode(encoder)
    }
}
