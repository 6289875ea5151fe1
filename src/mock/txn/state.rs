//! A transactional id's state machine (KIP-98), pure: events in, the next
//! state or the error code Kafka answers with out.
//!
//! ```text
//!            AddPartitions/AddOffsets
//!  Empty ──────────────────────────────► Ongoing ◄─┐ AddPartitions/AddOffsets
//!    ▲                                      │ └────┘
//!    │ InitProducerId (epoch bump)          │ EndTxn(commit)      EndTxn(abort), timeout,
//!    │                                      ▼                     InitProducerId
//!  CompleteCommit / CompleteAbort ◄── markers written ◄───────────────┘
//! ```
//!
//! The markers are written synchronously here, so the Prepare* states of
//! Kafka's coordinator last no time and are not represented.

/// Where a transactional id is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnState {
    /// No transaction open.
    Empty,
    /// Partitions or offsets were added: a transaction is open.
    Ongoing,
    /// The last transaction committed.
    CompleteCommit,
    /// The last transaction aborted.
    CompleteAbort,
}

impl TxnState {
    /// Kafka's name for the state, as ListTransactions and
    /// DescribeTransactions report it.
    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
        }
    }
}

/// Every state name Kafka's coordinator knows (a ListTransactions filter
/// naming another is reported back as unknown). The Prepare*, Dead and
/// fencing states are known but never reached here: markers are written
/// at once.
pub(crate) const KAFKA_STATE_NAMES: &[&str] = &[
    "Empty",
    "Ongoing",
    "PrepareCommit",
    "PrepareAbort",
    "CompleteCommit",
    "CompleteAbort",
    "Dead",
    "PrepareEpochFence",
];

/// What happens to a transactional id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxnEvent {
    /// AddPartitionsToTxn or AddOffsetsToTxn.
    Add,
    /// EndTxn with `committed`.
    End { commit: bool },
}

/// Kafka error codes of the transaction APIs.
pub(crate) mod code {
    pub const INVALID_PRODUCER_EPOCH: i16 = 47;
    pub const INVALID_TXN_STATE: i16 = 48;
    pub const INVALID_PRODUCER_ID_MAPPING: i16 = 49;
    pub const INVALID_TRANSACTION_TIMEOUT: i16 = 50;
    pub const PRODUCER_FENCED: i16 = 90;
}

/// What an event does from `state`: the next state, and whether markers
/// must be written (EndTxn of an open transaction); or the error.
/// Ending a transaction that already ended the same way is the retry of a
/// lost response and succeeds without writing anything again.
pub(crate) fn transition(state: TxnState, event: TxnEvent) -> Result<(TxnState, bool), i16> {
    use TxnState::*;
    match (state, event) {
        (Empty | Ongoing | CompleteCommit | CompleteAbort, TxnEvent::Add) => Ok((Ongoing, false)),
        (Ongoing, TxnEvent::End { commit: true }) => Ok((CompleteCommit, true)),
        (Ongoing, TxnEvent::End { commit: false }) => Ok((CompleteAbort, true)),
        (CompleteCommit, TxnEvent::End { commit: true }) => Ok((CompleteCommit, false)),
        (CompleteAbort, TxnEvent::End { commit: false }) => Ok((CompleteAbort, false)),
        // An abort with nothing open is harmless (Kafka's producer sends it
        // after a failed begin); a commit of nothing is a misuse.
        (Empty, TxnEvent::End { commit: false }) => Ok((CompleteAbort, false)),
        _ => Err(code::INVALID_TXN_STATE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TxnState::*;

    #[test]
    fn transitions() {
        assert_eq!(transition(Empty, TxnEvent::Add), Ok((Ongoing, false)));
        assert_eq!(transition(Ongoing, TxnEvent::Add), Ok((Ongoing, false)));
        assert_eq!(
            transition(Ongoing, TxnEvent::End { commit: true }),
            Ok((CompleteCommit, true))
        );
        assert_eq!(
            transition(Ongoing, TxnEvent::End { commit: false }),
            Ok((CompleteAbort, true))
        );
        assert_eq!(
            transition(CompleteCommit, TxnEvent::End { commit: true }),
            Ok((CompleteCommit, false))
        );
        assert_eq!(
            transition(CompleteCommit, TxnEvent::End { commit: false }),
            Err(code::INVALID_TXN_STATE)
        );
        assert_eq!(
            transition(Empty, TxnEvent::End { commit: true }),
            Err(code::INVALID_TXN_STATE)
        );
        assert_eq!(
            transition(CompleteAbort, TxnEvent::Add),
            Ok((Ongoing, false))
        );
    }
}
