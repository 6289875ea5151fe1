//! The typed [`Consumer`]: its state, and the calls that manage its
//! assignment and lifetime.
//!
//! The rest of its surface lives beside it, one concern a file:
//! `builder.rs` (settings and start-up), `poll.rs` (waiting for, taking and
//! deserializing records) and `positions.rs` (seeks, pauses, positions,
//! lag and offset lookups). Group calls are in `group/member.rs`.

mod builder;
mod poll;
mod positions;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub use builder::ConsumerBuilder;
pub use positions::OffsetAndTimestamp;

use super::config::{ConsumerConfig, IsolationLevel};
use super::fetch::{FetchContext, Fetcher};
use super::group::listener::ErasedListener;
use super::group::member::GroupMember;
use super::metrics::ConsumerMetrics;
use crate::TopicPartition;
use crate::client::Client;
use crate::error::{Context, Error, Result};
use crate::serialization::{DefaultSerde, Deserializer};

/// A Kafka consumer for keys `K` and values `V`: partitions are either
/// assigned by the application ([`Consumer::assign`]) or by its group
/// (`group.id` with [`Consumer::subscribe`] or
/// [`Consumer::subscribe_pattern`]).
///
/// Background tasks (per broker, one per fetch connection; see
/// [`ConsumerConfig::fetch_connections_per_broker`]) prefetch records of the assigned
/// partitions into a bounded buffer; [`Consumer::poll`] hands them out.
/// Positions ([`Consumer::position`], [`Consumer::lag`]) follow what was
/// handed out, never what was prefetched: a seek, pause or reassignment
/// discards prefetched records.
///
/// Methods take `&self`, so the consumer can be shared, but like Java's
/// consumer it is meant to be polled from one task: two tasks polling at
/// once split the records between them.
///
/// ```no_run
/// # async fn demo(client: kafkit::Client) -> kafkit::Result<()> {
/// use kafkit::TopicPartition;
/// use kafkit::consumer::Consumer;
/// let consumer: Consumer<String, String> = Consumer::builder(&client).build()?;
/// consumer.assign([TopicPartition::new("events", 0)])?;
/// consumer.seek_to_beginning(&[])?;
/// let records = consumer.poll(std::time::Duration::from_secs(1)).await?;
/// for r in &records {
///     println!("{}-{}@{}: {:?}", r.topic, r.partition, r.offset, r.value);
/// }
/// consumer.close(std::time::Duration::from_secs(5)).await;
/// # Ok(()) }
/// ```
pub struct Consumer<K, V> {
    pub(super) ctx: Arc<FetchContext>,
    fetcher: Fetcher,
    /// Shared with metrics readers, so a closed consumer leaves the scrape.
    closed: Arc<AtomicBool>,
    key_deserializer: Arc<dyn Deserializer<K>>,
    value_deserializer: Arc<dyn Deserializer<V>>,
    /// Whether the key and value deserializers are [`DefaultSerde`].
    default_serde: (bool, bool),
    /// Group membership, when `group.id` is set.
    pub(super) group: Option<GroupMember>,
    pub(super) listener: Option<Arc<dyn ErasedListener<K, V>>>,
}

impl<K, V> std::fmt::Debug for Consumer<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("config", &self.ctx.config)
            .field("assignment", &self.ctx.subs.assignment())
            .finish()
    }
}

impl<K, V> Consumer<K, V>
where
    K: Send + 'static,
    V: Send + 'static,
    DefaultSerde: Deserializer<K> + Deserializer<V>,
{
    /// A builder with the default deserializers.
    pub fn builder(client: &Client) -> ConsumerBuilder<K, V> {
        ConsumerBuilder::new(client)
    }
}

impl<K: Send + 'static, V: Send + 'static> Consumer<K, V> {
    pub(super) fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        self.ctx.client.ensure_open()
    }

    /// The client this consumer fetches through.
    pub fn client(&self) -> &Client {
        &self.ctx.client
    }

    /// The configuration in use.
    pub fn config(&self) -> &ConsumerConfig {
        &self.ctx.config
    }

    /// Assigns exactly these partitions (Java's `assign`), replacing the
    /// previous assignment. Partitions that stay keep their positions; new
    /// ones start at their reset position (`auto.offset.reset`) unless
    /// sought first. An empty list unassigns everything.
    pub fn assign(&self, partitions: impl IntoIterator<Item = TopicPartition>) -> Result<()> {
        self.check_open()?;
        let partitions: Vec<TopicPartition> = partitions.into_iter().collect();
        if let Some(bad) = partitions
            .iter()
            .find(|tp| tp.partition < 0 || tp.topic.is_empty())
        {
            return Err(Error::InvalidArgument {
                reason: "invalid topic partition".into(),
                context: Context::default()
                    .with_topic(bad.topic.clone())
                    .with_partition(bad.partition),
            });
        }
        self.ctx.subs.assign(partitions);
        Ok(())
    }

    /// The assigned partitions, sorted.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.ctx.subs.assignment()
    }

    fn read_committed(&self) -> bool {
        self.ctx.config.isolation_level == IsolationLevel::ReadCommitted
    }

    /// A snapshot of the consumer's counters and per-partition lag.
    pub fn metrics(&self) -> ConsumerMetrics {
        ConsumerMetrics::snapshot(
            &self.ctx.counters,
            self.ctx.subs.buffered_bytes(),
            self.ctx.subs.lags(self.read_committed()),
        )
    }

    /// The counters' reader for exporters (see `observe::prometheus`).
    #[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
    pub(crate) fn metrics_source(&self) -> super::metrics::MetricsSource {
        super::metrics::MetricsSource {
            ctx: Arc::downgrade(&self.ctx),
            closed: Arc::clone(&self.closed),
            group: self.group.as_ref().map(|g| g.handle.metrics_reader()),
        }
    }

    /// Closes the consumer: fetch tasks stop, prefetched records are
    /// dropped, and later calls fail with [`Error::Closed`]. The client
    /// stays open. `timeout` bounds the work a group consumer will do here
    /// (final commit, LeaveGroup); without a group nothing needs waiting.
    pub async fn close(&self, timeout: Duration) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        // Revoke (auto-commit, listener) and leave while still open, so the
        // listener can commit.
        self.leave_group(timeout).await;
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.fetcher.stop();
        self.ctx.subs.assign(Vec::new());
        self.ctx.subs.data_ready.notify_waiters();
    }
}
