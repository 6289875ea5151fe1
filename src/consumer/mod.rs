//! The consumer: the fetch pipeline behind the typed [`Consumer`], consumer
//! groups ([`group`], the membership state machine) and partition
//! assignment ([`assignor`]).

pub mod assignor;
pub mod config;
mod fetcher;
pub mod group;
mod group_member;
mod handle;
mod listener;
pub mod membership;
pub mod metrics;
mod offsets;
mod pattern;
pub mod record;
mod stream;
pub(crate) mod subscriptions;

pub use config::{ConsumerConfig, IsolationLevel, OffsetReset};
pub use handle::{Consumer, ConsumerBuilder, OffsetAndTimestamp};
pub use listener::RebalanceListener;
pub use membership::{CommitHandle, GroupMetadata, OffsetAndMetadata};
pub use metrics::ConsumerMetrics;
pub use record::{ConsumerRecord, ConsumerRecords};
pub use stream::RecordStream;
