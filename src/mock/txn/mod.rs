//! The cluster's transaction coordinator (KIP-98): producer ids and epochs
//! per transactional id with fencing, the partitions and groups of the open
//! transaction, commit/abort markers written into every partition's log
//! (which moves its last stable offset and indexes aborted ranges, so Fetch
//! enforces `read_committed`), transactional offsets completed in the group
//! coordinator, and the abort of transactions older than their timeout.
//!
//! One `std::sync::Mutex` over every transactional id, never held across an
//! `.await`; the cluster state's lock is taken inside it (always in this
//! order) to write markers.

mod admin;
mod state;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub(crate) use admin::{ListFilter, TxnListing};
pub(crate) use state::KAFKA_STATE_NAMES;
pub use state::TxnState;
pub(crate) use state::code;
use state::{TxnEvent, transition};

use crate::mock::state::Shared;

/// Kafka's `transaction.max.timeout.ms`.
const MAX_TIMEOUT: Duration = Duration::from_millis(900_000);

#[derive(Debug)]
struct Txn {
    producer_id: i64,
    epoch: i16,
    state: TxnState,
    timeout: Duration,
    partitions: BTreeSet<(String, i32)>,
    /// When the current (or last) transaction started, in ms since the
    /// epoch; -1 while none has started since InitProducerId, as Kafka
    /// reports it.
    start_ms: i64,
    /// Incremented when a transaction starts, so a stale timeout task for
    /// an earlier transaction does nothing.
    round: u64,
}

/// The coordinator of every transactional id of the cluster.
#[derive(Debug, Default)]
pub(crate) struct TxnCoordinator {
    txns: Mutex<HashMap<String, Txn>>,
}

/// A transactional id's state, for tests and users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionSnapshot {
    /// The producer id.
    pub producer_id: i64,
    /// The current producer epoch.
    pub producer_epoch: i16,
    /// Where the transactional id is.
    pub state: TxnState,
    /// Partitions of the open transaction.
    pub partitions: Vec<(String, i32)>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl TxnCoordinator {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Txn>> {
        self.txns.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A snapshot of `transactional_id`.
    pub(crate) fn snapshot(&self, transactional_id: &str) -> Option<TransactionSnapshot> {
        self.lock()
            .get(transactional_id)
            .map(|t| TransactionSnapshot {
                producer_id: t.producer_id,
                producer_epoch: t.epoch,
                state: t.state,
                partitions: t.partitions.iter().cloned().collect(),
            })
    }

    /// Whether `producer_id` at `epoch` has `topic`-`partition` in its open
    /// transaction (Produce of a transactional batch checks it).
    pub(crate) fn in_transaction(
        &self,
        producer_id: i64,
        epoch: i16,
        topic: &str,
        partition: i32,
    ) -> bool {
        self.lock().values().any(|t| {
            t.producer_id == producer_id
                && t.epoch == epoch
                && t.state == TxnState::Ongoing
                && t.partitions.contains(&(topic.to_owned(), partition))
        })
    }

    /// InitProducerId with a transactional id: a new producer id, or the
    /// next epoch of the existing one (an open transaction is aborted
    /// first, fencing the previous producer). KIP-360: a request naming its
    /// current id and epoch must match them.
    pub(crate) fn init_producer_id(
        &self,
        shared: &Shared,
        transactional_id: &str,
        timeout_ms: i32,
        claimed: Option<(i64, i16)>,
    ) -> Result<(i64, i16), i16> {
        let timeout = Duration::from_millis(u64::try_from(timeout_ms).unwrap_or(0));
        if timeout.is_zero() || timeout > MAX_TIMEOUT {
            return Err(code::INVALID_TRANSACTION_TIMEOUT);
        }
        let mut txns = self.lock();
        let Some(t) = txns.get_mut(transactional_id) else {
            let producer_id = shared.lock().allocate_producer_id();
            txns.insert(
                transactional_id.to_owned(),
                Txn {
                    producer_id,
                    epoch: 0,
                    state: TxnState::Empty,
                    timeout,
                    partitions: BTreeSet::new(),
                    start_ms: -1,
                    round: 0,
                },
            );
            return Ok((producer_id, 0));
        };
        if let Some((pid, epoch)) = claimed
            && (pid != t.producer_id || epoch != t.epoch)
        {
            return Err(code::PRODUCER_FENCED);
        }
        if t.state == TxnState::Ongoing {
            end(shared, t, false);
        }
        t.timeout = timeout;
        t.state = TxnState::Empty;
        t.start_ms = -1;
        if t.epoch >= i16::MAX - 1 {
            // Epochs exhausted: a new producer id, as Kafka does.
            t.producer_id = shared.lock().allocate_producer_id();
            t.epoch = 0;
        } else {
            t.epoch += 1;
        }
        Ok((t.producer_id, t.epoch))
    }

    /// The checks every call of a transactional producer passes first.
    fn checked<'a>(
        txns: &'a mut HashMap<String, Txn>,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        version: i16,
    ) -> Result<&'a mut Txn, i16> {
        let t = txns
            .get_mut(transactional_id)
            .ok_or(code::INVALID_PRODUCER_ID_MAPPING)?;
        if t.producer_id != producer_id {
            return Err(code::INVALID_PRODUCER_ID_MAPPING);
        }
        if epoch != t.epoch {
            // Newer versions name fencing for what it is.
            return Err(if version >= 2 {
                code::PRODUCER_FENCED
            } else {
                code::INVALID_PRODUCER_EPOCH
            });
        }
        Ok(t)
    }

    /// AddPartitionsToTxn / AddOffsetsToTxn: opens the transaction (and
    /// arms its timeout) and records the partitions. Unknown partitions are
    /// refused by the caller before this.
    pub(crate) fn add(
        self: &Arc<Self>,
        shared: &Arc<Shared>,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        version: i16,
        partitions: &[(String, i32)],
    ) -> Result<(), i16> {
        let mut txns = self.lock();
        let t = Self::checked(&mut txns, transactional_id, producer_id, epoch, version)?;
        let (next, _) = transition(t.state, TxnEvent::Add)?;
        if t.state != TxnState::Ongoing {
            t.round += 1;
            t.partitions.clear();
            t.start_ms = now_ms();
            arm_timeout(self, shared, transactional_id, t.round, t.timeout);
        }
        t.state = next;
        t.partitions.extend(partitions.iter().cloned());
        Ok(())
    }

    /// EndTxn: writes the markers and completes the group offsets.
    pub(crate) fn end_txn(
        &self,
        shared: &Shared,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        version: i16,
        commit: bool,
    ) -> Result<(), i16> {
        let mut txns = self.lock();
        let t = Self::checked(&mut txns, transactional_id, producer_id, epoch, version)?;
        let (next, write) = transition(t.state, TxnEvent::End { commit })?;
        if write {
            end(shared, t, commit);
        }
        t.state = next;
        Ok(())
    }

    /// The producer id and epoch a TxnOffsetCommit must carry, checked.
    pub(crate) fn check_offset_commit(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        version: i16,
    ) -> Result<(), i16> {
        let mut txns = self.lock();
        let t = Self::checked(&mut txns, transactional_id, producer_id, epoch, version)?;
        if t.state != TxnState::Ongoing {
            return Err(code::INVALID_TXN_STATE);
        }
        Ok(())
    }

    /// The transaction timeout fired for `round`: abort it if still open,
    /// and bump the epoch so the producer is fenced (Kafka's coordinator
    /// does the same).
    fn expire(&self, shared: &Shared, transactional_id: &str, round: u64) {
        let mut txns = self.lock();
        let Some(t) = txns.get_mut(transactional_id) else {
            return;
        };
        if t.round != round || t.state != TxnState::Ongoing {
            return;
        }
        tracing::debug!(transactional_id, "mock: transaction timed out; aborting");
        end(shared, t, false);
        t.state = TxnState::CompleteAbort;
        t.epoch = t.epoch.saturating_add(1);
    }
}

/// Writes commit or abort markers into every partition of `t` and
/// completes (or drops) its staged group offsets.
fn end(shared: &Shared, t: &mut Txn, commit: bool) {
    {
        let mut st = shared.lock();
        for (topic, partition) in &t.partitions {
            if let Some(p) = st.partition_mut(topic, *partition) {
                let leader_epoch = p.leader_epoch;
                p.log
                    .append_marker(t.producer_id, t.epoch, commit, 0, now_ms(), leader_epoch);
            }
        }
    }
    shared.groups.complete_txn_offsets(t.producer_id, commit);
    shared.notify_data();
}

/// A task that aborts the transaction `round` of `transactional_id` when
/// its timeout passes (it holds the coordinator weakly: a dropped cluster
/// ends it).
fn arm_timeout(
    coordinator: &Arc<TxnCoordinator>,
    shared: &Arc<Shared>,
    transactional_id: &str,
    round: u64,
    timeout: Duration,
) {
    let coordinator: Weak<TxnCoordinator> = Arc::downgrade(coordinator);
    let shared: Weak<Shared> = Arc::downgrade(shared);
    let id = transactional_id.to_owned();
    tokio::spawn(async move {
        tokio::time::sleep(timeout).await;
        if let (Some(c), Some(s)) = (coordinator.upgrade(), shared.upgrade()) {
            c.expire(&s, &id, round);
        }
    });
}
