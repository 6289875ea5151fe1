//! The transactional producer against real brokers.
//!
//! Broker behaviour relied upon (see tests/support and shared/BROKERS.md):
//! - Tansu writes the COMMIT/ABORT control batches EndTxn asks for (only
//!   for partitions whose Produce requests carried the transactional id), stores
//!   TxnOffsetCommit offsets when a transaction with records commits (not
//!   for an offsets-only transaction), and bumps the
//!   epoch on InitProducerId, fencing the older instance;
//! - librdkafka's mock cluster checks a transactional producer's sequence
//!   numbers (it does not for plain idempotent producers) and takes injected
//!   errors per API, but does not store TxnOffsetCommit offsets;
//! - neither broker hides aborted records from read_committed consumers, so
//!   no test here claims that aborted data is invisible: the tests check the
//!   markers and offsets the brokers do write.
//!
//! `produce_faults` reruns tests/producer_faults.rs scenarios transactionally
//! with five requests in flight, where the mock does check sequences.

#[path = "../support/mod.rs"]
mod support;

mod common;

mod close;
mod fencing;
mod init;
mod interop;
mod markers;
mod mock_faults;
mod offsets;
mod produce_epoch;
mod produce_faults;
mod races;
mod read_committed;
