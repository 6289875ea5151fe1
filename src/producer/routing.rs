//! Per-topic partition views, cached per metadata snapshot.
//!
//! Every record needs its topic's partitions (count and which have a
//! leader) to be partitioned. Building that view from metadata allocates, so
//! it is built once per topic and metadata generation and shared.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::partitioner::TopicPartitions;
use crate::metadata::ClusterMetadata;

struct Route {
    generation: u64,
    partitions: Arc<TopicPartitions>,
}

/// The cache: topic → its partition view as of a metadata generation.
#[derive(Default)]
pub(crate) struct Routes {
    by_topic: Mutex<HashMap<Arc<str>, Route>>,
}

impl Routes {
    /// `topic`'s cached partitions when they were built from metadata of
    /// generation `generation` (the current one): no snapshot needed.
    pub fn cached(&self, topic: &str, generation: u64) -> Option<Arc<TopicPartitions>> {
        let routes = self.by_topic.lock().unwrap_or_else(|p| p.into_inner());
        routes
            .get(topic)
            .filter(|r| r.generation == generation)
            .map(|r| r.partitions.clone())
    }

    /// `topic`'s partitions in `meta`, or `None` when `meta` does not know
    /// the topic (or knows it without partitions).
    pub fn partitions(&self, topic: &str, meta: &ClusterMetadata) -> Option<Arc<TopicPartitions>> {
        let mut routes = self.by_topic.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = routes.get(topic)
            && r.generation == meta.generation
        {
            return Some(r.partitions.clone());
        }
        let (name, topic_meta) = meta.topics.get_key_value(topic)?;
        let partitions = Arc::new(TopicPartitions::from_metadata(topic_meta)?);
        routes.insert(
            name.clone(),
            Route {
                generation: meta.generation,
                partitions: partitions.clone(),
            },
        );
        Some(partitions)
    }
}
