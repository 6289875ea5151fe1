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
    /// `topic`'s partitions as of metadata generation `generation`: the
    /// cached view when it was built from that generation, else one built
    /// from `snapshot()` (taken only then). `None` when the snapshot does
    /// not know the topic (or knows it without partitions).
    pub fn partitions(
        &self,
        topic: &str,
        generation: u64,
        snapshot: impl FnOnce() -> Arc<ClusterMetadata>,
    ) -> Option<Arc<TopicPartitions>> {
        let mut routes = self.by_topic.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = routes.get(topic)
            && r.generation == generation
        {
            return Some(r.partitions.clone());
        }
        let meta = snapshot();
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
