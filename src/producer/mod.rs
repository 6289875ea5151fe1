//! The producer: records are serialized, placed on a partition, batched per
//! partition in the accumulator and sent by a background sender task, one
//! Produce request per leader, with Java's semantics and defaults
//! (`acks=all`, idempotence on, `linger.ms=5`, `batch.size=16384`).

mod accumulator;
pub mod config;
mod delivery;
mod handle;
pub mod partitioner;
pub mod record;
mod routing;
mod sender;
pub(crate) mod shared;
pub mod transaction;

pub use config::{Acks, ProducerConfig};
pub use delivery::DeliveryFuture;
pub use handle::{Producer, ProducerBuilder, ProducerMetrics};
pub use record::{ProducerRecord, RecordMetadata};
pub use transaction::{TransactionState, TransactionalProducer, TransactionalProducerBuilder};
