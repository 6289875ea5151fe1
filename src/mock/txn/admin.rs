//! What the admin APIs read from the transaction coordinator (KIP-664):
//! ListTransactions' filtered listing, DescribeTransactions' description,
//! and the test control that leaves a transaction hanging.

use super::{TxnCoordinator, TxnState, now_ms};

/// ListTransactions' filters; an empty list filters nothing.
#[derive(Debug, Default)]
pub(crate) struct ListFilter {
    /// Kafka state names (unknown names match nothing).
    pub states: Vec<String>,
    /// Producer ids.
    pub producer_ids: Vec<i64>,
    /// v1: only transactions running longer than this (ms); -1 for any.
    pub min_duration_ms: i64,
}

/// One transactional id as the admin APIs show it.
#[derive(Debug, Clone)]
pub(crate) struct TxnListing {
    pub transactional_id: String,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub state: TxnState,
    pub timeout_ms: i32,
    /// -1 while no transaction started since InitProducerId.
    pub start_ms: i64,
    /// The open transaction's partitions (none once it ended: Kafka's
    /// coordinator clears them when the markers are written).
    pub partitions: Vec<(String, i32)>,
}

impl TxnCoordinator {
    fn listing(id: &str, t: &super::Txn) -> TxnListing {
        TxnListing {
            transactional_id: id.to_owned(),
            producer_id: t.producer_id,
            producer_epoch: t.epoch,
            state: t.state,
            timeout_ms: i32::try_from(t.timeout.as_millis()).unwrap_or(i32::MAX),
            start_ms: t.start_ms,
            partitions: if t.state == TxnState::Ongoing {
                t.partitions.iter().cloned().collect()
            } else {
                Vec::new()
            },
        }
    }

    /// Every transactional id passing `filter`, by id. The caller keeps
    /// those this broker coordinates.
    pub(crate) fn list(&self, filter: &ListFilter) -> Vec<TxnListing> {
        let now = now_ms();
        let txns = self.lock();
        let mut out: Vec<TxnListing> = txns
            .iter()
            .filter(|(_, t)| {
                (filter.producer_ids.is_empty() || filter.producer_ids.contains(&t.producer_id))
                    && (filter.states.is_empty()
                        || filter.states.iter().any(|s| s == t.state.name()))
                    // Kafka keeps a transaction that has run *longer* than
                    // the duration (and one that never started: start -1).
                    && (filter.min_duration_ms < 0 || now - t.start_ms > filter.min_duration_ms)
            })
            .map(|(id, t)| Self::listing(id, t))
            .collect();
        out.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        out
    }

    /// `transactional_id`, if the coordinator knows it.
    pub(crate) fn describe(&self, transactional_id: &str) -> Option<TxnListing> {
        self.lock()
            .get(transactional_id)
            .map(|t| Self::listing(transactional_id, t))
    }

    /// Forgets `transactional_id` without writing markers: its open
    /// transaction stays open in the partitions' logs (holding their last
    /// stable offset) while the coordinator no longer knows it, which is
    /// what `kafka-transactions --find-hanging` looks for.
    pub(crate) fn forget(&self, transactional_id: &str) -> bool {
        self.lock().remove(transactional_id).is_some()
    }
}
