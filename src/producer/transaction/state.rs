//! The transactional producer's state machine, as pure data.
//!
//! Java's `TransactionManager` states and transitions, with no I/O: the
//! producer asks `TransactionState::on` before and after each step and
//! acts only on the state it gets back.
//!
//! ```text
//!                      InitTransactions
//!  Uninitialized ─────────────────────► Initializing ◄─┐ InitTransactions
//!                                         │   └────────┘ (resume)
//!                                         │ InitDone
//!                                         ▼
//!       ┌──────────────────────────────► Ready
//!       │ EndTxnDone                      │ BeginTransaction
//!       │                                 ▼
//!       │                           InTransaction ◄─┐ Send
//!       │                            │         │ └──┘
//!       │                     Commit │         │ Abort
//!       │                            ▼         ▼
//!       ├──────────────────────── Committing  Aborting ◄─┐ Abort (resume),
//!       │ EndTxnDone               │ ▲  │        ▲   │   │ Failed(e)
//!       │                          └─┘  │        │   └───┘
//!       │              Commit (resume)  │        │ Abort
//!       │   Failed(e), also from        ▼        │
//!       │   InTransaction ──────► AbortableError(e)
//!       │                                        │
//!       └────────────── EndTxnDone ◄─── Aborting ┘
//!
//!  any state ── Fatal(e) ──► FatalError(e)   (final: every later event fails with e)
//! ```
//!
//! Rules worth knowing (all Java's):
//! - a commit or abort that timed out is resumed by calling the same method
//!   again; switching from a pending commit to an abort is refused, since the
//!   coordinator may already be committing;
//! - a failure while aborting does not stop the abort (the transaction is
//!   being thrown away anyway);
//! - in the abortable-error state only an abort is accepted; every other
//!   call fails with [`Error::TransactionAbortable`] carrying the first
//!   failure;
//! - the fatal state is final: the producer must be dropped and rebuilt.

use crate::error::Error;

/// Where a transactional producer is in its life.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum TransactionState {
    /// Built; `init_transactions` not called yet.
    Uninitialized,
    /// `init_transactions` is finding the coordinator and a producer id.
    Initializing,
    /// Has a producer id; no transaction open.
    Ready,
    /// A transaction is open: records may be sent.
    InTransaction,
    /// `commit_transaction` is flushing and ending the transaction.
    Committing,
    /// `abort_transaction` is discarding unsent records and ending the
    /// transaction.
    Aborting,
    /// Something failed inside the transaction: only an abort is possible.
    AbortableError(Error),
    /// The producer was fenced or is not allowed to go on.
    FatalError(Error),
}

/// What happened, or what the caller asks for.
#[derive(Debug, Clone)]
pub(crate) enum TransactionEvent {
    /// `init_transactions` called.
    InitTransactions,
    /// InitProducerId answered with a producer id.
    InitDone,
    /// `begin_transaction` called.
    BeginTransaction,
    /// A record is about to be sent.
    Send,
    /// `send_offsets_to_transaction` called.
    SendOffsets,
    /// `commit_transaction` called (begins or resumes a commit).
    Commit,
    /// `abort_transaction` called (begins or resumes an abort).
    Abort,
    /// EndTxn succeeded (or there was nothing to end).
    EndTxnDone,
    /// A record, AddPartitionsToTxn, AddOffsetsToTxn or TxnOffsetCommit
    /// failed: the transaction cannot commit.
    Failed(Error),
    /// The producer cannot continue (fenced, not authorized, ...).
    Fatal(Error),
}

impl TransactionState {
    /// The state after `event`, or the error the caller gets when the event
    /// is not allowed now (the state is then unchanged).
    pub(crate) fn on(&self, event: TransactionEvent) -> Result<TransactionState, Error> {
        use TransactionEvent as E;
        use TransactionState as S;
        match (self, event) {
            // Final: the first fatal error answers everything.
            (S::FatalError(e), _) => Err(e.clone()),
            (_, E::Fatal(e)) => Ok(S::FatalError(e)),

            (S::Uninitialized | S::Initializing, E::InitTransactions) => Ok(S::Initializing),
            (S::Initializing, E::InitDone) => Ok(S::Ready),
            (S::Ready, E::BeginTransaction) => Ok(S::InTransaction),
            (S::InTransaction, E::Send | E::SendOffsets) => Ok(S::InTransaction),
            (S::InTransaction | S::Committing, E::Commit) => Ok(S::Committing),
            (S::InTransaction | S::Aborting | S::AbortableError(_), E::Abort) => Ok(S::Aborting),
            (S::Committing | S::Aborting, E::EndTxnDone) => Ok(S::Ready),

            (S::InTransaction | S::Committing, E::Failed(e)) => Ok(S::AbortableError(e)),
            // Already throwing the transaction away, or already failed: the
            // first failure is the one reported.
            (S::Aborting, E::Failed(_)) => Ok(S::Aborting),
            (S::AbortableError(e), E::Failed(_)) => Ok(S::AbortableError(e.clone())),

            (S::AbortableError(e), event) => Err(Error::TransactionAbortable {
                reason: format!(
                    "{} refused: an earlier failure left the transaction abortable; call abort_transaction",
                    event.name()
                ),
                cause: Some(Box::new(e.clone())),
            }),
            (S::Committing, E::Abort) => Err(Error::IllegalState(
                "a commit is pending (it timed out or was cancelled): call commit_transaction again to finish it".into(),
            )),
            (S::Aborting, E::Commit) => Err(Error::IllegalState(
                "an abort is pending: call abort_transaction again to finish it".into(),
            )),
            (state, event) => Err(Error::IllegalState(format!(
                "cannot {} in state {}",
                event.name(),
                state.name()
            ))),
        }
    }

    /// Whether records may be sent now.
    pub fn is_in_transaction(&self) -> bool {
        matches!(self, TransactionState::InTransaction)
    }

    /// A short name, as in Java's state names.
    pub fn name(&self) -> &'static str {
        match self {
            TransactionState::Uninitialized => "UNINITIALIZED",
            TransactionState::Initializing => "INITIALIZING",
            TransactionState::Ready => "READY",
            TransactionState::InTransaction => "IN_TRANSACTION",
            TransactionState::Committing => "COMMITTING_TRANSACTION",
            TransactionState::Aborting => "ABORTING_TRANSACTION",
            TransactionState::AbortableError(_) => "ABORTABLE_ERROR",
            TransactionState::FatalError(_) => "FATAL_ERROR",
        }
    }
}

impl TransactionEvent {
    fn name(&self) -> &'static str {
        match self {
            TransactionEvent::InitTransactions => "init_transactions",
            TransactionEvent::InitDone => "complete init_transactions",
            TransactionEvent::BeginTransaction => "begin_transaction",
            TransactionEvent::Send => "send",
            TransactionEvent::SendOffsets => "send_offsets_to_transaction",
            TransactionEvent::Commit => "commit_transaction",
            TransactionEvent::Abort => "abort_transaction",
            TransactionEvent::EndTxnDone => "end the transaction",
            TransactionEvent::Failed(_) => "fail the transaction",
            TransactionEvent::Fatal(_) => "fail the producer",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TransactionEvent as E;
    use super::TransactionState as S;
    use super::*;
    use crate::error::{Context, ErrorCode};

    fn fenced() -> Error {
        Error::from_code(ErrorCode::PRODUCER_FENCED.0, None, Context::default()).unwrap()
    }

    fn timeout() -> Error {
        Error::Timeout {
            what: "request",
            context: Context::default(),
        }
    }

    fn name(r: Result<S, Error>) -> &'static str {
        r.map(|s| s.name()).unwrap_or("ERR")
    }

    #[test]
    fn init_from_uninitialized_and_resume() {
        assert_eq!(
            name(S::Uninitialized.on(E::InitTransactions)),
            "INITIALIZING"
        );
        assert_eq!(
            name(S::Initializing.on(E::InitTransactions)),
            "INITIALIZING"
        );
    }

    #[test]
    fn init_done_makes_ready() {
        assert_eq!(name(S::Initializing.on(E::InitDone)), "READY");
    }

    #[test]
    fn init_twice_is_illegal() {
        let e = S::Ready.on(E::InitTransactions).unwrap_err();
        assert!(matches!(e, Error::IllegalState(_)), "{e}");
    }

    #[test]
    fn begin_from_ready() {
        assert_eq!(name(S::Ready.on(E::BeginTransaction)), "IN_TRANSACTION");
    }

    #[test]
    fn begin_needs_init_and_no_open_transaction() {
        for s in [
            S::Uninitialized,
            S::Initializing,
            S::InTransaction,
            S::Committing,
        ] {
            let e = s.on(E::BeginTransaction).unwrap_err();
            assert!(matches!(e, Error::IllegalState(_)), "{}: {e}", s.name());
        }
    }

    #[test]
    fn send_only_inside_a_transaction() {
        assert_eq!(name(S::InTransaction.on(E::Send)), "IN_TRANSACTION");
        for s in [S::Uninitialized, S::Ready, S::Committing, S::Aborting] {
            let e = s.on(E::Send).unwrap_err();
            assert!(matches!(e, Error::IllegalState(_)), "{}: {e}", s.name());
            assert!(!e.requires_abort() && !e.is_fatal());
        }
    }

    #[test]
    fn offsets_only_inside_a_transaction() {
        assert_eq!(name(S::InTransaction.on(E::SendOffsets)), "IN_TRANSACTION");
        for s in [S::Ready, S::Committing] {
            assert!(matches!(s.on(E::SendOffsets), Err(Error::IllegalState(_))));
        }
        assert!(
            S::AbortableError(timeout())
                .on(E::SendOffsets)
                .unwrap_err()
                .requires_abort()
        );
    }

    #[test]
    fn commit_begins_and_resumes() {
        assert_eq!(
            name(S::InTransaction.on(E::Commit)),
            "COMMITTING_TRANSACTION"
        );
        assert_eq!(name(S::Committing.on(E::Commit)), "COMMITTING_TRANSACTION");
    }

    #[test]
    fn commit_outside_a_transaction_is_illegal() {
        for s in [S::Ready, S::Uninitialized] {
            assert!(matches!(s.on(E::Commit), Err(Error::IllegalState(_))));
        }
    }

    #[test]
    fn abort_begins_and_resumes() {
        assert_eq!(name(S::InTransaction.on(E::Abort)), "ABORTING_TRANSACTION");
        assert_eq!(name(S::Aborting.on(E::Abort)), "ABORTING_TRANSACTION");
    }

    #[test]
    fn pending_commit_cannot_turn_into_an_abort() {
        let e = S::Committing.on(E::Abort).unwrap_err();
        assert!(e.to_string().contains("commit_transaction again"), "{e}");
        let e = S::Aborting.on(E::Commit).unwrap_err();
        assert!(e.to_string().contains("abort_transaction again"), "{e}");
    }

    #[test]
    fn end_txn_returns_to_ready() {
        assert_eq!(name(S::Committing.on(E::EndTxnDone)), "READY");
        assert_eq!(name(S::Aborting.on(E::EndTxnDone)), "READY");
        assert!(S::InTransaction.on(E::EndTxnDone).is_err());
    }

    #[test]
    fn a_failure_makes_the_transaction_abortable() {
        for s in [S::InTransaction, S::Committing] {
            assert_eq!(name(s.on(E::Failed(timeout()))), "ABORTABLE_ERROR");
        }
    }

    #[test]
    fn abortable_refuses_everything_but_abort_with_an_error_that_says_abort() {
        let s = S::AbortableError(timeout());
        for event in [E::Commit, E::Send, E::BeginTransaction] {
            let e = s.on(event).unwrap_err();
            assert!(e.requires_abort() && !e.is_fatal(), "{e}");
            assert!(e.to_string().contains("abort_transaction"), "{e}");
        }
        assert_eq!(name(s.on(E::Abort)), "ABORTING_TRANSACTION");
    }

    #[test]
    fn the_first_failure_is_kept() {
        let s = S::AbortableError(timeout())
            .on(E::Failed(Error::Closed))
            .unwrap();
        assert!(matches!(s, S::AbortableError(Error::Timeout { .. })));
    }

    #[test]
    fn failures_while_aborting_do_not_stop_the_abort() {
        assert_eq!(
            name(S::Aborting.on(E::Failed(timeout()))),
            "ABORTING_TRANSACTION"
        );
    }

    #[test]
    fn failures_outside_a_transaction_are_not_transitions() {
        assert!(S::Ready.on(E::Failed(timeout())).is_err());
    }

    #[test]
    fn fatal_from_anywhere_and_final() {
        for s in [
            S::Uninitialized,
            S::Initializing,
            S::Ready,
            S::InTransaction,
            S::Committing,
            S::Aborting,
            S::AbortableError(timeout()),
        ] {
            let f = s.on(E::Fatal(fenced())).unwrap();
            assert_eq!(f.name(), "FATAL_ERROR");
            for event in [
                E::Abort,
                E::Commit,
                E::Send,
                E::BeginTransaction,
                E::InitTransactions,
            ] {
                let e = f.on(event).unwrap_err();
                assert!(e.is_fatal(), "{e}");
                assert_eq!(e.code(), Some(ErrorCode::PRODUCER_FENCED));
            }
        }
    }
}
