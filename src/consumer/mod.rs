//! The consumer: fetching, consumer groups and partition assignment.
//!
//! Submodules are added as they land: `assignor` (pluggable partition
//! assignment strategies), `group` (the group membership state machine) and
//! the fetch pipeline behind the typed consumer.

pub mod config;
mod fetcher;
mod handle;
pub mod metrics;
mod offsets;
pub mod record;
pub(crate) mod subscriptions;

pub use config::{ConsumerConfig, IsolationLevel, OffsetReset};
pub use handle::{Consumer, ConsumerBuilder, OffsetAndTimestamp};
pub use metrics::ConsumerMetrics;
pub use record::{ConsumerRecord, ConsumerRecords};
