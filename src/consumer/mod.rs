//! The consumer: the fetch pipeline behind the typed [`Consumer`], consumer
//! groups (subscribe, commits, [`RebalanceListener`]) and partition
//! assignment ([`assignor`], public for custom assignors).

pub mod assignor;
pub mod config;
mod fetcher;
pub(crate) mod group;
mod group_member;
mod handle;
mod listener;
pub(crate) mod membership;
pub mod metrics;
mod offsets;
mod pattern;
pub mod record;
mod stream;
pub(crate) mod subscriptions;

pub use config::{ConsumerConfig, IsolationLevel, OffsetReset};
pub use handle::{Consumer, ConsumerBuilder, OffsetAndTimestamp};
pub use listener::RebalanceListener;
pub use membership::{CommitHandle, GroupMetadata, MembershipMetrics, OffsetAndMetadata};
pub use metrics::ConsumerMetrics;
pub use record::{ConsumerRecord, ConsumerRecords};
pub use stream::RecordStream;
