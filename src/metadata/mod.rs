//! Cluster metadata: which brokers exist and who leads each partition.
//!
//! [`ClusterMetadata`] is an immutable snapshot; the refresher task (internal)
//! is its only writer and publishes a new snapshot, with a higher
//! [`ClusterMetadata::generation`], after every successful Metadata request.

mod cluster;
pub(crate) mod refresher;

pub use cluster::{BrokerInfo, ClusterMetadata, PartitionMetadata, TopicMetadata};
