//! The processor's rebalance listener: assigned partitions get their
//! progress back from the committed offset's metadata; revoked ones stop
//! taking work, finish what runs (bounded), commit, and only then go;
//! lost ones go at once (no commit: another member may own them already).

use std::sync::Arc;

use super::runtime::Shared;
use crate::TopicPartition;
use crate::consumer::{Consumer, RebalanceListener};

pub(crate) struct ProcessorListener<K, V> {
    pub(crate) shared: Arc<Shared<K, V>>,
}

impl<K, V> RebalanceListener<K, V> for ProcessorListener<K, V>
where
    K: Clone + std::hash::Hash + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    async fn on_partitions_assigned(
        &self,
        consumer: &Consumer<K, V>,
        partitions: &[TopicPartition],
    ) {
        self.shared.set_joined();
        if partitions.is_empty() {
            return;
        }
        // The committed offsets carry the records done beyond them; a
        // failure to read them only costs reprocessing.
        let committed = match consumer.committed(partitions).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "processor: committed offsets unreadable; done records may be redone");
                Default::default()
            }
        };
        let mut core = self.shared.core();
        for tp in partitions {
            let restored = committed
                .get(tp)
                .and_then(|c| c.as_ref())
                .map(|c| (c.offset, c.metadata.clone()));
            core.assign(tp.clone(), restored);
        }
    }

    async fn on_partitions_revoked(
        &self,
        consumer: &Consumer<K, V>,
        partitions: &[TopicPartition],
    ) {
        if partitions.is_empty() {
            return;
        }
        self.shared.core().revoking(partitions);
        self.shared.drain(Some(partitions)).await;
        self.shared.commit(consumer, Some(partitions)).await;
        self.shared.core().release(partitions);
    }

    async fn on_partitions_lost(&self, consumer: &Consumer<K, V>, partitions: &[TopicPartition]) {
        self.shared.partitions_lost(consumer, partitions).await;
    }
}
