//! The consumer: the fetch pipeline behind the typed [`Consumer`], consumer
//! groups (subscribe, commits, [`RebalanceListener`]) and partition
//! assignment ([`assignor`], public for custom assignors).

pub mod config;
mod fetch;
pub(crate) mod group;
mod handle;
pub mod metrics;
mod offsets;
pub(crate) mod partitions;
pub mod record;
mod stream;

pub use config::{ConsumerConfig, IsolationLevel, OffsetReset};
pub use group::assignor;
pub use group::driver::{CommitHandle, GroupMetadata, MembershipMetrics, OffsetAndMetadata};
pub use group::listener::RebalanceListener;
pub use handle::{Consumer, ConsumerBuilder, OffsetAndTimestamp};
pub use metrics::ConsumerMetrics;
pub use record::{ConsumerRecord, ConsumerRecords};
pub use stream::RecordStream;
