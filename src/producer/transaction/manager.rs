//! The transaction manager: the state machine behind a lock, and the
//! coordinator requests of a transaction (InitProducerId,
//! AddPartitionsToTxn, AddOffsetsToTxn + TxnOffsetCommit, EndTxn);
//! `coordinator` finds the coordinators and runs each request in Java's
//! retry loop.
//!
//! Shared by the `TransactionalProducer` handle (init, offsets, commit,
//! abort) and the sender task (AddPartitionsToTxn before a partition's first
//! batch). Coordinator requests of one transaction are serialised by an
//! async lock, so an EndTxn never overtakes an AddPartitionsToTxn whose
//! answer would change whether there is a transaction to end.

mod coordinator;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use kafka_protocol::messages::{InitProducerIdRequest, TransactionalId, TxnOffsetCommitRequest};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

use super::requests::{self, Handling, ProducerIdentity, classify};
use super::state::{TransactionEvent, TransactionState};
use crate::consumer::{GroupMetadata, OffsetAndMetadata};
use crate::error::{Context, Error, ErrorCode, Result};
use crate::producer::accumulator::Tp;
use crate::producer::shared::Shared;
use crate::protocol::coordinator::CoordinatorKey;
use crate::topic_partition::TopicPartition;

/// What the coordinator requests of the current transaction have done.
#[derive(Debug, Default)]
struct TxnIo {
    /// A partition or the offsets of a group were added: the coordinator
    /// has a transaction to end. Without one, commit and abort end locally
    /// (as Java does), since EndTxn on an empty transaction is refused.
    started: bool,
}

pub(crate) struct TransactionManager {
    transactional_id: Arc<str>,
    /// The id as Produce requests carry it (brokers tie the batches to the
    /// transaction by it; Tansu writes no markers without it).
    wire_id: TransactionalId,
    transaction_timeout: Duration,
    state: Mutex<TransactionState>,
    identity: Mutex<Option<ProducerIdentity>>,
    coordinator: Mutex<Option<i32>>,
    io: tokio::sync::Mutex<TxnIo>,
    /// Held shared by each `enqueue` from its state check until its record
    /// is in the accumulator, and taken exclusively by commit and abort
    /// right after they change the state: so every record that passed the
    /// check is appended before the commit flushes (and is committed with
    /// the transaction) or the abort drops unsent records, and none can be
    /// appended after EndTxn, outside any transaction.
    appends: tokio::sync::RwLock<()>,
    /// A batch that was sent failed (or timed out) inside the transaction,
    /// so the broker's sequence for its partition may differ from ours: the
    /// abort bumps the epoch (InitProducerId with the current id, KIP-360),
    /// as Java does, instead of taking a new producer id mid-transaction.
    bump_epoch: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while these are held.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn millis(d: Duration) -> i32 {
    d.as_millis().min(i32::MAX as u128) as i32
}

impl TransactionManager {
    pub fn new(transactional_id: &str, transaction_timeout: Duration) -> Self {
        TransactionManager {
            transactional_id: transactional_id.into(),
            wire_id: TransactionalId(StrBytes::from_string(transactional_id.to_owned())),
            transaction_timeout,
            state: Mutex::new(TransactionState::Uninitialized),
            identity: Mutex::new(None),
            coordinator: Mutex::new(None),
            io: tokio::sync::Mutex::new(TxnIo::default()),
            appends: tokio::sync::RwLock::new(()),
            bump_epoch: AtomicBool::new(false),
        }
    }

    /// Checks that a record may be sent, and holds off a commit or abort
    /// until the guard (kept while the record is appended) is dropped.
    pub async fn begin_append(&self) -> Result<tokio::sync::RwLockReadGuard<'_, ()>> {
        let guard = self.appends.read().await;
        self.check(TransactionEvent::Send)?;
        Ok(guard)
    }

    /// Waits until every `enqueue` that passed its state check has
    /// appended (or failed). Called after the state left InTransaction, so
    /// no new one can pass.
    pub async fn appends_settled(&self) {
        drop(self.appends.write().await);
    }

    /// An `enqueue` failed after its state check: the transaction lacks a
    /// record, so it cannot commit (Java's `maybeTransitionToErrorState`).
    /// Returns the error for the caller: wrapped so that `requires_abort()`
    /// is true (the cause may look retriable, e.g. a metadata timeout, but
    /// retrying the record cannot save the transaction), or as it is when
    /// the producer is fenced.
    pub fn append_failed(&self, shared: &Shared, e: Error) -> Error {
        self.record_failed(shared, &e);
        match self.state() {
            TransactionState::AbortableError(_) => Error::TransactionAbortable {
                reason: "a record could not be added to the transaction".into(),
                cause: Some(Box::new(e)),
            },
            _ => e,
        }
    }

    /// A sent batch failed: its partition's sequence is uncertain until the
    /// epoch is bumped at the abort.
    pub fn sequence_uncertain(&self) {
        self.bump_epoch.store(true, Ordering::Release);
    }

    pub fn transactional_id(&self) -> &str {
        &self.transactional_id
    }

    /// The id for Produce requests (a cheap reference-counted clone).
    pub fn wire_id(&self) -> TransactionalId {
        self.wire_id.clone()
    }

    pub fn state(&self) -> TransactionState {
        lock(&self.state).clone()
    }

    /// Applies `event`; on refusal the state is unchanged and the error is
    /// the caller's.
    pub fn transition(&self, event: TransactionEvent) -> Result<TransactionState> {
        let mut state = lock(&self.state);
        let next = state.on(event)?;
        if next.name() != state.name() {
            tracing::debug!(from = state.name(), to = next.name(), transactional_id = %self.transactional_id, "transaction state");
        }
        *state = next.clone();
        Ok(next)
    }

    /// Whether `event` would be accepted now, without applying it.
    pub fn check(&self, event: TransactionEvent) -> Result<()> {
        lock(&self.state).on(event).map(|_| ())
    }

    /// The producer cannot go on: every later call fails with `e`, and so do
    /// the producer's buffered records.
    pub fn fatal(&self, shared: &Shared, e: Error) {
        tracing::error!(error = %e, transactional_id = %self.transactional_id, "transactional producer failed fatally");
        let _ = self.transition(TransactionEvent::Fatal(e.clone()));
        shared.set_fatal(e);
        shared.wake.notify_one();
    }

    /// A record (or a transactional request) failed: a fenced producer is
    /// fatal, anything else makes the transaction abortable.
    pub fn record_failed(&self, shared: &Shared, e: &Error) {
        if classify(e) == Handling::Fatal && !is_produce_epoch_error(e) {
            self.fatal(shared, e.clone());
        } else {
            // Refused outside a transaction (nothing to fail): ignored.
            let _ = self.transition(TransactionEvent::Failed(e.clone()));
        }
    }

    /// Reports a failed transactional request: fatal or abortable, and the
    /// error the caller gets (abortable ones wrapped so that
    /// `requires_abort()` says so whatever the cause).
    fn failed(&self, shared: &Shared, what: &str, e: Error) -> Error {
        match classify(&e) {
            Handling::Fatal => {
                self.fatal(shared, e.clone());
                e
            }
            Handling::Abortable => {
                let _ = self.transition(TransactionEvent::Failed(e.clone()));
                Error::TransactionAbortable {
                    reason: format!("{what} failed"),
                    cause: Some(Box::new(e)),
                }
            }
            // Retries ran out (a timeout): the state stands, the call may be
            // repeated.
            Handling::Retry | Handling::Refind => e,
        }
    }

    fn identity(&self) -> Result<ProducerIdentity> {
        lock(&self.identity)
            .ok_or_else(|| Error::IllegalState("no producer id: call init_transactions".into()))
    }

    /// InitProducerId through the transaction coordinator: a producer id
    /// and epoch for this transactional id, fencing any older producer with
    /// the same id (its transaction is aborted by the coordinator).
    pub async fn init(&self, shared: &Shared) -> Result<()> {
        self.transition(TransactionEvent::InitTransactions)?;
        let deadline = Instant::now() + shared.config.max_block;
        match self.init_producer_id(shared, None, deadline).await {
            Ok(p) => {
                tracing::debug!(producer_id = p.id, epoch = p.epoch, transactional_id = %self.transactional_id, "transactional producer initialised");
                self.adopt(shared, p)?;
                self.transition(TransactionEvent::InitDone)?;
                shared.wake.notify_one();
                Ok(())
            }
            Err(e) => {
                let e = if e.code() == Some(ErrorCode::INVALID_TRANSACTION_TIMEOUT) {
                    // transaction.timeout.ms above the broker's
                    // transaction.max.timeout.ms: a configuration error
                    // (fatal in Java too), which no retry can mend.
                    Error::Config(format!(
                        "transaction.timeout.ms ({} ms) refused by the transaction coordinator \
                         (larger than its transaction.max.timeout.ms?): {e}",
                        millis(self.transaction_timeout)
                    ))
                } else {
                    e
                };
                if e.is_fatal() {
                    self.fatal(shared, e.clone());
                }
                // Otherwise the state stays Initializing: init_transactions
                // may be called again (Java's resumable init).
                Err(e)
            }
        }
    }

    async fn init_producer_id(
        &self,
        shared: &Shared,
        current: Option<ProducerIdentity>,
        deadline: Instant,
    ) -> Result<ProducerIdentity> {
        let request = requests::init_producer_id(
            &self.transactional_id,
            millis(self.transaction_timeout),
            current,
        );
        self.call(
            shared,
            "InitProducerId",
            CoordinatorKey::Transaction,
            &self.transactional_id,
            deadline,
            |conn| {
                let request = request.clone();
                // Bumping our own epoch needs v3+.
                let version = conn.api_versions().negotiate::<InitProducerIdRequest>();
                async move {
                    let version = version?;
                    if current.is_some() && version < 3 {
                        return Err(Error::UnsupportedVersion {
                            api: "InitProducerId (epoch bump, v3+)",
                            broker_min: 0,
                            broker_max: version,
                            context: Context::api("InitProducerId"),
                        });
                    }
                    let resp = conn.send_version(request, version).await?;
                    Error::check(resp.error_code, None, || Context::api("InitProducerId"))?;
                    Ok(ProducerIdentity {
                        id: resp.producer_id.0,
                        epoch: resp.producer_epoch,
                    })
                }
            },
        )
        .await
    }

    /// Takes `p` as the producer's identity; queued batches (none at the
    /// times this is called) would be renumbered from 0.
    fn adopt(&self, shared: &Shared, p: ProducerIdentity) -> Result<()> {
        *lock(&self.identity) = Some(p);
        shared.lock().reset_identity(p.id, p.epoch)?;
        *shared.producer_id.lock().unwrap_or_else(|e| e.into_inner()) = Some((p.id, p.epoch));
        Ok(())
    }

    /// AddPartitionsToTxn for partitions about to get their first batch of
    /// this transaction, marked added in the accumulator on success. An
    /// error is for those partitions' records.
    pub async fn add_partitions(&self, shared: &Shared, partitions: &[Tp]) -> Result<()> {
        let mut io = self.io.lock().await;
        match self.state() {
            TransactionState::InTransaction | TransactionState::Committing => {}
            TransactionState::Aborting => return Err(aborted()),
            state => {
                return Err(state
                    .on(TransactionEvent::Send)
                    .err()
                    .unwrap_or_else(aborted));
            }
        }
        let producer = self.identity()?;
        let asked: Vec<TopicPartition> = partitions
            .iter()
            .map(|(t, p)| TopicPartition::new(t.clone(), *p))
            .collect();
        let request = requests::add_partitions(&self.transactional_id, producer, &asked);
        let deadline = Instant::now() + shared.config.max_block;
        let result = self
            .call(
                shared,
                "AddPartitionsToTxn",
                CoordinatorKey::Transaction,
                &self.transactional_id,
                deadline,
                |conn| {
                    let request = request.clone();
                    let asked = &asked;
                    async move {
                        let resp = conn.send(request).await?;
                        requests::add_partitions_result(&resp, asked)
                    }
                },
            )
            .await;
        match result {
            Ok(()) => {
                // Marked under the coordinator lock: an EndTxn waiting for
                // it (and the accumulator's end_transaction after it) must
                // not run first, or the partitions would count as added in
                // the next transaction without AddPartitionsToTxn.
                shared.lock().mark_in_txn(partitions);
                io.started = true;
                tracing::debug!(
                    partitions = asked.len(),
                    "partitions added to the transaction"
                );
                Ok(())
            }
            Err(e) => Err(self.failed(shared, "AddPartitionsToTxn", e)),
        }
    }

    /// AddOffsetsToTxn, then TxnOffsetCommit to the group coordinator: the
    /// offsets are stored when the transaction commits.
    pub async fn send_offsets(
        &self,
        shared: &Shared,
        offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
        group: &GroupMetadata,
    ) -> Result<()> {
        self.check(TransactionEvent::SendOffsets)?;
        let mut io = self.io.lock().await;
        // Again under the lock: a commit or abort that began while this
        // waited for it must not see offsets added behind its back (an
        // AddOffsetsToTxn after EndTxn would open a new transaction).
        self.check(TransactionEvent::SendOffsets)?;
        let producer = self.identity()?;
        let deadline = Instant::now() + shared.config.max_block;
        let add = requests::add_offsets(&self.transactional_id, producer, &group.group_id);
        self.call(
            shared,
            "AddOffsetsToTxn",
            CoordinatorKey::Transaction,
            &self.transactional_id,
            deadline,
            |conn| {
                let add = add.clone();
                async move {
                    let resp = conn.send(add).await?;
                    Error::check(resp.error_code, None, || Context::api("AddOffsetsToTxn"))
                }
            },
        )
        .await
        .map_err(|e| self.failed(shared, "AddOffsetsToTxn", e))?;
        io.started = true;
        self.call(
            shared,
            "TxnOffsetCommit",
            CoordinatorKey::Group,
            &group.group_id,
            deadline,
            |conn| {
                // The member fields exist from v3 only: build for the
                // version this coordinator speaks.
                let prepared = conn
                    .api_versions()
                    .negotiate::<TxnOffsetCommitRequest>()
                    .map(|version| {
                        let request = requests::txn_offset_commit(
                            version,
                            &self.transactional_id,
                            producer,
                            group,
                            offsets,
                        );
                        (version, request)
                    });
                async move {
                    let (version, request) = prepared?;
                    let resp = conn.send_version(request, version).await?;
                    requests::txn_offset_commit_result(&resp)
                }
            },
        )
        .await
        .map_err(|e| self.failed(shared, "TxnOffsetCommit", e))
    }

    /// EndTxn (when the coordinator has a transaction), then back to Ready.
    /// The caller has already moved to Committing or Aborting and flushed.
    pub async fn end(&self, shared: &Shared, commit: bool, deadline: Instant) -> Result<()> {
        let mut io = self.io.lock().await;
        // Looked at again under the lock: a send_offsets_to_transaction or
        // AddPartitionsToTxn that held it may have failed meanwhile, making
        // the transaction abortable (or the producer fenced); EndTxn(commit)
        // would then commit a transaction that lacks what failed.
        match (commit, self.state()) {
            (true, TransactionState::Committing) | (false, TransactionState::Aborting) => {}
            (_, TransactionState::AbortableError(e)) => {
                return Err(Error::TransactionAbortable {
                    reason: "commit_transaction refused: a request of the transaction failed while it was committing; call abort_transaction".into(),
                    cause: Some(Box::new(e)),
                });
            }
            (_, TransactionState::FatalError(e)) => return Err(e),
            // Another call ended the transaction first.
            (_, state) => {
                return Err(Error::IllegalState(format!(
                    "the transaction was ended by another call (state {})",
                    state.name()
                )));
            }
        }
        if io.started {
            let producer = self.identity()?;
            let request = requests::end_txn(&self.transactional_id, producer, commit);
            let ended = self
                .call(
                    shared,
                    "EndTxn",
                    CoordinatorKey::Transaction,
                    &self.transactional_id,
                    deadline,
                    |conn| {
                        let request = request.clone();
                        async move {
                            let resp = conn.send(request).await?;
                            Error::check(resp.error_code, None, || Context::api("EndTxn"))
                        }
                    },
                )
                .await;
            match ended {
                Ok(()) => {}
                // The coordinator no longer maps our producer id to the
                // transactional id (it expired): it has no transaction of
                // ours to abort, and would refuse this EndTxn for ever.
                // As Java, skip it and take a new identity below.
                Err(e) if !commit && e.code() == Some(ErrorCode::INVALID_PRODUCER_ID_MAPPING) => {
                    tracing::debug!(error = %e, "abort: the coordinator lost the producer id; re-initialising");
                    self.bump_epoch.store(true, Ordering::Release);
                }
                Err(e) if commit => return Err(self.failed(shared, "EndTxn(commit)", e)),
                Err(e) => {
                    if classify(&e) == Handling::Fatal {
                        self.fatal(shared, e.clone());
                    }
                    // Otherwise the abort stays pending: calling
                    // abort_transaction again resumes it.
                    return Err(e);
                }
            }
            io.started = false;
        }
        if !commit && self.bump_epoch.load(Ordering::Acquire) {
            // Nothing is in flight now (the caller flushed): a bumped epoch
            // restarts every partition's sequence at 0.
            let current = self.identity()?;
            let p = self
                .init_producer_id(shared, Some(current), deadline)
                .await
                .inspect_err(|e| {
                    if classify(e) == Handling::Fatal {
                        self.fatal(shared, e.clone());
                    }
                })?;
            tracing::debug!(
                producer_id = p.id,
                epoch = p.epoch,
                "epoch bumped after the abort"
            );
            self.adopt(shared, p)?;
            shared
                .metrics
                .identity_resets
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.bump_epoch.store(false, Ordering::Release);
        }
        shared.lock().end_transaction();
        self.transition(TransactionEvent::EndTxnDone)?;
        tracing::debug!(commit, transactional_id = %self.transactional_id, "transaction ended");
        Ok(())
    }
}

/// INVALID_PRODUCER_EPOCH in a Produce response: abortable, not fatal
/// (KIP-588). A partition leader cannot tell a fenced producer from one
/// whose transaction the coordinator timed out (bumping the epoch); the
/// abort finds out: EndTxn answers PRODUCER_FENCED when fenced, and the
/// epoch-bumping InitProducerId after it (a sent batch failed) recovers a
/// timed-out producer. From coordinator requests the code stays fatal.
pub(crate) fn is_produce_epoch_error(e: &Error) -> bool {
    e.code() == Some(ErrorCode::INVALID_PRODUCER_EPOCH)
        && e.context().and_then(|c| c.api) == Some("Produce")
}

/// The error a transactional record's delivery fails with. The Produce
/// INVALID_PRODUCER_EPOCH is wrapped so that its `is_fatal()` (true for
/// the bare code) does not contradict the abortable transaction.
pub(crate) fn record_error(e: Error) -> Error {
    if is_produce_epoch_error(&e) {
        Error::TransactionAbortable {
            reason: "the partition leader refused the producer epoch (the transaction may have timed out, KIP-588); abort to find out whether the producer was fenced".into(),
            cause: Some(Box::new(e)),
        }
    } else {
        e
    }
}

/// The error of a record the producer dropped because its transaction was
/// aborted before the record was sent.
pub(crate) fn aborted() -> Error {
    Error::TransactionAbortable {
        reason: "the transaction was aborted before the record was sent".into(),
        cause: None,
    }
}
