//! The transactional producer (Java's `KafkaProducer` with a
//! `transactional.id`): records to many partitions, and a consumer group's
//! offsets, committed or aborted together.
//!
//! - [`state`]: the state machine, pure data;
//! - `requests`: the transactional requests, built and read without I/O;
//! - `manager`: the state behind a lock, the coordinators and the retries;
//! - [`TransactionalProducer`]: the handle.
//!
//! The plain [`Producer`](crate::producer::Producer) shares the accumulator
//! and sender; what the transaction adds is per batch (a partition's first
//! batch of a transaction waits for AddPartitionsToTxn), never per record.

mod manager;
mod producer;
mod requests;
pub mod state;

pub(crate) use manager::{TransactionManager, record_error};
pub use producer::{TransactionalProducer, TransactionalProducerBuilder};
pub use state::TransactionState;
