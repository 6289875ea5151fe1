//! Exactly-once processing (KIP-98, KIP-447): the handler's outputs and
//! the input offsets commit in one transaction. A transaction spans a
//! number of records or an amount of time; at its end no new work starts,
//! running work finishes, and offsets (with the records done beyond them)
//! go into the transaction with the member's group metadata, which fences
//! a member that lost its partitions in a rebalance. An aborted
//! transaction rewinds every partition to its committed offset, so the
//! records are processed again and nothing they produced is visible to
//! `read_committed` readers.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::TopicPartition;
use crate::consumer::{GroupMetadata, OffsetAndMetadata};
use crate::error::Result;
use crate::producer::{ProducerRecord, RecordMetadata, TransactionalProducer};

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The transactional producer, erased of its record types so the runtime
/// (generic over the input types only) can end transactions.
pub(crate) trait Transactions: Send + Sync {
    /// Adds the offsets, commits, and opens the next transaction.
    fn commit<'a>(
        &'a self,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
        group: &'a GroupMetadata,
    ) -> BoxFuture<'a, Result<()>>;
    /// Aborts and opens the next transaction.
    fn abort(&self) -> BoxFuture<'_, Result<()>>;
}

impl<KO, VO> Transactions for TransactionalProducer<KO, VO>
where
    KO: Send + Sync + 'static,
    VO: Send + Sync + 'static,
{
    fn commit<'a>(
        &'a self,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
        group: &'a GroupMetadata,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.send_offsets_to_transaction(offsets, group).await?;
            self.commit_transaction().await?;
            self.begin_transaction()
        })
    }

    fn abort(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            self.abort_transaction().await?;
            self.begin_transaction()
        })
    }
}

/// What a handler writes in exactly-once mode: its records join the
/// transaction that commits the input record's offset. Cheap to clone.
pub struct Outputs<KO, VO> {
    pub(crate) producer: Arc<TransactionalProducer<KO, VO>>,
}

impl<KO, VO> Clone for Outputs<KO, VO> {
    fn clone(&self) -> Self {
        Outputs {
            producer: self.producer.clone(),
        }
    }
}

impl<KO, VO> std::fmt::Debug for Outputs<KO, VO> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outputs").finish_non_exhaustive()
    }
}

impl<KO, VO> Outputs<KO, VO>
where
    KO: Send + Sync + 'static,
    VO: Send + Sync + 'static,
{
    /// Sends a record inside the current transaction and waits for its
    /// acknowledgement (it becomes visible to `read_committed` readers
    /// when the transaction commits). An error whose `requires_abort()` is
    /// true dooms the transaction: the processor aborts it and processes
    /// its records again; return the error from the handler.
    pub async fn send(&self, record: ProducerRecord<KO, VO>) -> Result<RecordMetadata> {
        self.producer.send(record).await
    }
}

/// How long a transaction runs: until `max_records` records finished or
/// `max_time` passed, whichever comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransactionConfig {
    /// Records per transaction at most.
    pub max_records: usize,
    /// Time per transaction at most (Kafka Streams commits every 100 ms
    /// under exactly-once).
    pub max_time: std::time::Duration,
}

impl Default for TransactionConfig {
    fn default() -> Self {
        TransactionConfig {
            max_records: 1_000,
            max_time: std::time::Duration::from_millis(100),
        }
    }
}
