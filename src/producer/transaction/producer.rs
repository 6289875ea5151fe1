//! `TransactionalProducer` and its builder.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::manager::{TransactionManager, aborted};
use super::state::{TransactionEvent, TransactionState};
use crate::client::Client;
use crate::consumer::{GroupMetadata, OffsetAndMetadata};
use crate::error::{Context, Error, Result};
use crate::producer::config::Acks;
use crate::producer::delivery::DeliveryFuture;
use crate::producer::handle::{Producer, ProducerBuilder, ProducerMetrics};
use crate::producer::record::{ProducerRecord, RecordMetadata};
use crate::producer::sender;
use crate::serialization::{DefaultSerde, Serializer};
use crate::topic_partition::TopicPartition;

/// Builds a [`TransactionalProducer`]: a [`ProducerBuilder`]'s settings plus
/// `transactional.id` and `transaction.timeout.ms`. Get one from
/// [`TransactionalProducer::builder`] or
/// [`ProducerBuilder::transactional_id`].
pub struct TransactionalProducerBuilder<K, V> {
    producer: ProducerBuilder<K, V>,
    transactional_id: String,
    transaction_timeout: Duration,
}

impl<K: Send + Sync + 'static, V: Send + Sync + 'static> TransactionalProducerBuilder<K, V> {
    pub(crate) fn new(producer: ProducerBuilder<K, V>, transactional_id: String) -> Self {
        TransactionalProducerBuilder {
            producer,
            transactional_id,
            transaction_timeout: Duration::from_secs(60),
        }
    }

    /// `transaction.timeout.ms`: how long the coordinator lets a
    /// transaction stay open before aborting it. Default 60 s.
    pub fn transaction_timeout(mut self, timeout: Duration) -> Self {
        self.transaction_timeout = timeout;
        self
    }

    /// Builds the producer and starts its sender task (inside a tokio
    /// runtime). Idempotence is forced on; `acks` other than `all` or
    /// `enable.idempotence=false` are configuration errors, as in Java.
    /// Call [`TransactionalProducer::init_transactions`] next.
    pub fn build(mut self) -> Result<TransactionalProducer<K, V>> {
        if self.transactional_id.is_empty() {
            return Err(Error::Config("transactional.id must not be empty".into()));
        }
        if self.transaction_timeout.is_zero() {
            return Err(Error::Config(
                "transaction.timeout.ms must be positive".into(),
            ));
        }
        let config = self.producer.config_mut();
        if config.enable_idempotence == Some(false) {
            return Err(Error::Config(
                "a transactional.id requires enable.idempotence=true".into(),
            ));
        }
        if config.acks != Acks::All {
            return Err(Error::Config(
                "a transactional producer requires acks=all".into(),
            ));
        }
        config.enable_idempotence = Some(true);
        let txn = Arc::new(TransactionManager::new(
            &self.transactional_id,
            self.transaction_timeout,
        ));
        let inner = self.producer.build_with(Some(txn.clone()))?;
        Ok(TransactionalProducer { inner, txn })
    }
}

/// A producer whose records (and a consumer group's offsets) are written in
/// transactions: all committed, or all aborted. Java's transactional
/// `KafkaProducer`, with its method names and state rules.
///
/// ```no_run
/// # async fn demo(client: kafkit::Client) -> kafkit::Result<()> {
/// use kafkit::producer::{ProducerRecord, TransactionalProducer};
/// let producer: TransactionalProducer<String, String> =
///     TransactionalProducer::builder(&client, "my-app-1").build()?;
/// producer.init_transactions().await?;
/// producer.begin_transaction()?;
/// let delivery = producer.enqueue(ProducerRecord::new("out", "v".to_string())).await?;
/// match producer.commit_transaction().await {
///     Ok(()) => println!("committed at {}", delivery.await?),
///     Err(e) if e.is_fatal() => return Err(e), // fenced: build a new producer
///     Err(e) if e.requires_abort() => producer.abort_transaction().await?,
///     Err(e) => return Err(e), // timed out: commit_transaction again resumes
/// }
/// # Ok(()) }
/// ```
///
/// Error handling, as in Java: an error whose
/// [`is_fatal`](Error::is_fatal) is true (fenced by a newer instance with
/// the same `transactional.id`, not authorized) leaves the producer
/// unusable; one whose [`requires_abort`](Error::requires_abort) is true (a
/// record failed) needs [`abort_transaction`](Self::abort_transaction); a
/// timeout of a commit or abort is resumed by calling the same method again.
pub struct TransactionalProducer<K, V> {
    inner: Producer<K, V>,
    txn: Arc<TransactionManager>,
}

impl<K, V> Drop for TransactionalProducer<K, V> {
    /// No I/O (invariant 7): records not sent yet fail, and the sender task
    /// ends once what is in flight settles. Without this the task would
    /// live on and send the buffered records into a transaction that can
    /// never commit.
    fn drop(&mut self) {
        let shared = self.inner.shared();
        if !shared.is_closed() {
            shared.close_without_waiting();
            sender::fail_unsent(shared, aborted());
        }
    }
}

impl<K, V> std::fmt::Debug for TransactionalProducer<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransactionalProducer")
            .field("transactional_id", &self.txn.transactional_id())
            .field("state", &self.txn.state().name())
            .finish()
    }
}

impl<K, V> TransactionalProducer<K, V>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
    DefaultSerde: Serializer<K> + Serializer<V>,
{
    /// A builder with the default serializers and `transactional.id` = `id`.
    pub fn builder(
        client: &Client,
        transactional_id: impl Into<String>,
    ) -> TransactionalProducerBuilder<K, V> {
        ProducerBuilder::new(client).transactional_id(transactional_id)
    }
}

impl<K: Send + Sync + 'static, V: Send + Sync + 'static> TransactionalProducer<K, V> {
    /// Finds the transaction coordinator and gets a producer id and epoch
    /// for the `transactional.id` (Java's `initTransactions`). Fences every
    /// older producer with the same id; a transaction it left open is
    /// aborted by the coordinator. Waits at most `max.block.ms`; after a
    /// timeout, calling it again resumes.
    ///
    /// Cancel-safe: a dropped call leaves the producer initializing; call
    /// it again (a second InitProducerId only bumps the epoch once more).
    pub async fn init_transactions(&self) -> Result<()> {
        self.txn.init(self.inner.shared()).await
    }

    /// Opens a transaction (no I/O; the coordinator learns of it with the
    /// first record or offsets).
    pub fn begin_transaction(&self) -> Result<()> {
        self.txn.transition(TransactionEvent::BeginTransaction)?;
        Ok(())
    }

    /// Sends a record inside the open transaction and waits for its
    /// acknowledgement (acknowledged is not committed: a read_committed
    /// consumer sees it once the transaction commits).
    pub async fn send(&self, record: ProducerRecord<K, V>) -> Result<RecordMetadata> {
        self.enqueue(record).await?.await
    }

    /// Buffers a record inside the open transaction and returns its
    /// delivery future, as [`Producer::enqueue`] does. Fails with
    /// [`Error::IllegalState`] outside a transaction and with
    /// [`Error::TransactionAbortable`] once the transaction must be aborted.
    ///
    /// Cancel-safe: if the future is dropped before it returns, the record
    /// was either not buffered or is part of the transaction (its outcome
    /// is then only seen through `commit_transaction`). A commit or abort
    /// started while this waits (for metadata or buffer memory) waits for
    /// it, so the record is committed or dropped with this transaction.
    pub async fn enqueue(&self, record: ProducerRecord<K, V>) -> Result<DeliveryFuture> {
        let appending = self.txn.begin_append().await?;
        let delivery = match self.inner.enqueue(record).await {
            Ok(d) => d,
            // As Java's `send`: a bad argument leaves the transaction
            // alone; anything else (e.g. no metadata within max.block.ms)
            // means a record of the transaction is missing, so it cannot
            // commit.
            Err(e @ (Error::InvalidArgument { .. } | Error::Closed)) => return Err(e),
            Err(e) => return Err(self.txn.append_failed(self.inner.shared(), e)),
        };
        drop(appending);
        // The sender adds a partition new to the transaction before it
        // lingers: wake it (a permit, coalesced when it is busy).
        self.inner.shared().wake.notify_one();
        Ok(delivery)
    }

    /// Adds the consumer group's offsets to the transaction (Java's
    /// `sendOffsetsToTransaction`): AddOffsetsToTxn to the transaction
    /// coordinator, then TxnOffsetCommit to the group coordinator with the
    /// member's generation (KIP-447, so a member fenced by a rebalance
    /// cannot commit). The offsets are stored if and when the transaction
    /// commits. `offsets` are the next offsets to read, as for
    /// `Consumer::commit_offsets`; `group` is `Consumer::group_metadata()`.
    ///
    /// A timeout leaves the transaction as it was and the call may be
    /// repeated. Cancel-safe in the same way: a dropped call may or may not
    /// have added the offsets; repeating it is harmless (both requests are
    /// idempotent within a transaction).
    pub async fn send_offsets_to_transaction(
        &self,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
        group: &GroupMetadata,
    ) -> Result<()> {
        if group.group_id.is_empty() {
            return Err(Error::InvalidArgument {
                reason: "send_offsets_to_transaction needs a group id".into(),
                context: Context::api("TxnOffsetCommit"),
            });
        }
        if offsets.is_empty() {
            // Java sends nothing either; the transaction is unchanged.
            return self.txn.check(TransactionEvent::SendOffsets);
        }
        self.txn
            .send_offsets(self.inner.shared(), &offsets, group)
            .await
    }

    /// Sends every buffered record, then commits the transaction with
    /// EndTxn (Java's `commitTransaction`). Waits at most `max.block.ms`;
    /// on a timeout the commit stays pending and calling this again resumes
    /// it (it never turns into an abort). If a record of the transaction
    /// failed, the commit is refused with an error whose `requires_abort()`
    /// is true.
    ///
    /// Cancel-safe: a dropped call leaves the commit pending, exactly as a
    /// timeout does; call it again to finish it.
    pub async fn commit_transaction(&self) -> Result<()> {
        let shared = self.inner.shared();
        self.txn.transition(TransactionEvent::Commit)?;
        let deadline = Instant::now() + shared.config.max_block;
        let flushed = async {
            self.txn.appends_settled().await;
            self.inner.flush().await
        };
        if tokio::time::timeout_at(deadline, flushed).await.is_err() {
            return Err(Error::Timeout {
                what: "commit_transaction: records not all acknowledged within max.block.ms; call commit_transaction again",
                context: Context::default(),
            });
        }
        // A record that failed while flushing made the transaction
        // abortable (or the producer fenced): refuse with that error.
        self.txn.check(TransactionEvent::Commit)?;
        self.txn.end(shared, true, deadline).await
    }

    /// Aborts the transaction (Java's `abortTransaction`): records not sent
    /// yet are dropped (their delivery futures fail with
    /// [`Error::TransactionAbortable`]), records in flight are awaited, then
    /// EndTxn(abort). Waits at most `max.block.ms`; after a timeout calling
    /// it again resumes. Note that the brokers kafkit is tested against do
    /// not hide aborted records from read_committed consumers.
    ///
    /// Cancel-safe: a dropped call leaves the abort pending, as a timeout
    /// does; call it again to finish it.
    pub async fn abort_transaction(&self) -> Result<()> {
        let shared = self.inner.shared();
        self.txn.transition(TransactionEvent::Abort)?;
        let deadline = Instant::now() + shared.config.max_block;
        let settled = async {
            // Records still being appended are dropped with the others.
            self.txn.appends_settled().await;
            sender::fail_unsent(shared, aborted());
            self.inner.flush().await
        };
        if tokio::time::timeout_at(deadline, settled).await.is_err() {
            return Err(Error::Timeout {
                what: "abort_transaction: records in flight not settled within max.block.ms; call abort_transaction again",
                context: Context::default(),
            });
        }
        self.txn.end(shared, false, deadline).await
    }

    /// Waits until every buffered record is acknowledged or failed.
    /// Cancel-safe: dropping it only stops waiting.
    pub async fn flush(&self) {
        self.inner.flush().await
    }

    /// Closes the producer. An open transaction is aborted first (as Java's
    /// graceful close does), and a pending commit (one that timed out) is
    /// finished, within `timeout`; then buffered records are sent or failed
    /// as [`Producer::close`] does.
    ///
    /// Dropping the producer instead does no I/O: records not sent yet fail
    /// at once, and an open transaction stays open at the coordinator until
    /// `transaction.timeout.ms` aborts it (or a new producer with the same
    /// `transactional.id` calls `init_transactions`).
    pub async fn close(&self, timeout: Duration) -> Result<()> {
        let start = Instant::now();
        let finish = match self.txn.state() {
            TransactionState::InTransaction
            | TransactionState::AbortableError(_)
            | TransactionState::Aborting => Some(false),
            TransactionState::Committing => Some(true),
            _ => None,
        };
        let mut result = Ok(());
        if let Some(commit) = finish {
            let end = async {
                if commit {
                    self.commit_transaction().await
                } else {
                    self.abort_transaction().await
                }
            };
            result = match tokio::time::timeout(timeout, end).await {
                Ok(r) => r,
                Err(_) => Err(Error::Timeout {
                    what: "ending the open transaction on close",
                    context: Context::default(),
                }),
            };
        }
        let left = timeout.saturating_sub(start.elapsed());
        let closed = self.inner.close(left).await;
        result.and(closed)
    }

    /// Where the producer is in its transaction life.
    pub fn transaction_state(&self) -> TransactionState {
        self.txn.state()
    }

    /// The `transactional.id`.
    pub fn transactional_id(&self) -> &str {
        self.txn.transactional_id()
    }

    /// A snapshot of the producer's counters.
    pub fn metrics(&self) -> ProducerMetrics {
        self.inner.metrics()
    }

    /// The producer underneath (for exporters).
    #[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
    pub(crate) fn producer(&self) -> &Producer<K, V> {
        &self.inner
    }
}
