//! The cluster view: brokers, topics, partitions, leaders. Immutable
//! snapshots; a new one replaces the old as a whole (`Arc` swap), so readers
//! never see half an update.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use kafka_protocol::messages::MetadataResponse;

use crate::error::ErrorCode;

/// One broker of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BrokerInfo {
    /// The broker's node id.
    pub id: i32,
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: i32,
    /// Rack, if configured.
    pub rack: Option<String>,
}

impl BrokerInfo {
    /// `host:port`, as used to connect.
    pub fn address(&self) -> String {
        crate::client::host_port(&self.host, self.port)
    }
}

/// One partition of a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PartitionMetadata {
    /// Partition index.
    pub partition: i32,
    /// Current leader's node id; `None` while there is no leader.
    pub leader: Option<i32>,
    /// Leader epoch (KIP-320); -1 when the broker does not report it.
    pub leader_epoch: i32,
    /// All replicas.
    pub replicas: Vec<i32>,
    /// In-sync replicas.
    pub isr: Vec<i32>,
    /// Offline replicas.
    pub offline_replicas: Vec<i32>,
    /// Partition-level error from the metadata response, if any
    /// (e.g. `LEADER_NOT_AVAILABLE`).
    pub error: Option<ErrorCode>,
}

/// One topic.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TopicMetadata {
    /// Topic name.
    pub name: Arc<str>,
    /// Topic id (all zero for brokers without topic ids).
    pub topic_id: [u8; 16],
    /// Whether it is an internal topic (`__consumer_offsets`, ...).
    pub is_internal: bool,
    /// Partitions sorted by index.
    pub partitions: Vec<PartitionMetadata>,
}

impl TopicMetadata {
    /// The partition with this index.
    pub fn partition(&self, partition: i32) -> Option<&PartitionMetadata> {
        // Sorted by index and usually dense, so the index is usually the position.
        match self.partitions.get(partition as usize) {
            Some(p) if p.partition == partition => Some(p),
            _ => self.partitions.iter().find(|p| p.partition == partition),
        }
    }
}

/// A snapshot of the cluster as last seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterMetadata {
    /// Increases by one with every snapshot the refresher publishes. A caller
    /// that saw a failure under generation `g` asks for a refresh "newer than
    /// g", so a stale failure cannot throw away fresher data.
    pub generation: u64,
    /// Cluster id.
    pub cluster_id: Option<String>,
    /// Controller node id, if reported.
    pub controller: Option<i32>,
    /// Brokers by id.
    pub brokers: BTreeMap<i32, BrokerInfo>,
    /// Topics by name (only those asked for, unless a full listing was requested).
    pub topics: HashMap<Arc<str>, TopicMetadata>,
    /// Topics the broker answered with an error for (e.g. `UNKNOWN_TOPIC_OR_PARTITION`).
    pub topic_errors: HashMap<Arc<str>, ErrorCode>,
}

impl ClusterMetadata {
    /// The topic, if known.
    pub fn topic(&self, name: &str) -> Option<&TopicMetadata> {
        self.topics.get(name)
    }

    /// The leader of a partition, if known.
    pub fn leader_for(&self, topic: &str, partition: i32) -> Option<i32> {
        self.topic(topic)?.partition(partition)?.leader
    }

    /// Builds the next snapshot from a Metadata response.
    ///
    /// `full` says the request asked for every topic, so topics missing from
    /// the response were deleted. Otherwise topics not asked about are kept.
    ///
    /// KIP-320: a partition whose reported leader epoch is older than the one
    /// we already hold is kept as it was: a lagging broker must not move a
    /// leader back.
    pub(crate) fn apply(&self, response: MetadataResponse, full: bool) -> ClusterMetadata {
        let brokers: BTreeMap<i32, BrokerInfo> = response
            .brokers
            .into_iter()
            .map(|b| {
                let id = b.node_id.0;
                let info = BrokerInfo {
                    id,
                    host: b.host.to_string(),
                    port: b.port,
                    rack: b.rack.map(|r| r.to_string()),
                };
                (id, info)
            })
            .collect();

        let mut topics = if full {
            HashMap::new()
        } else {
            self.topics.clone()
        };
        let mut topic_errors = if full {
            HashMap::new()
        } else {
            self.topic_errors.clone()
        };
        for t in response.topics {
            let Some(name) = t.name else { continue };
            let name: Arc<str> = Arc::from(name.0.as_str());
            if t.error_code != 0 {
                // The topic's metadata is unusable as a whole (unknown topic,
                // leader election in progress for all, authorization...).
                topics.remove(&name);
                topic_errors.insert(name, ErrorCode(t.error_code));
                continue;
            }
            topic_errors.remove(&name);
            let old = self.topics.get(&name);
            let mut partitions: Vec<PartitionMetadata> = t
                .partitions
                .into_iter()
                .map(|p| {
                    let fresh = PartitionMetadata {
                        partition: p.partition_index,
                        leader: (p.leader_id.0 >= 0).then_some(p.leader_id.0),
                        leader_epoch: p.leader_epoch,
                        replicas: p.replica_nodes.into_iter().map(|b| b.0).collect(),
                        isr: p.isr_nodes.into_iter().map(|b| b.0).collect(),
                        offline_replicas: p.offline_replicas.into_iter().map(|b| b.0).collect(),
                        error: (p.error_code != 0).then_some(ErrorCode(p.error_code)),
                    };
                    match old.and_then(|o| o.partition(fresh.partition)) {
                        Some(prev)
                            if fresh.leader_epoch >= 0
                                && fresh.leader_epoch < prev.leader_epoch =>
                        {
                            tracing::debug!(
                                topic = %name,
                                partition = fresh.partition,
                                seen = fresh.leader_epoch,
                                held = prev.leader_epoch,
                                "ignoring stale partition metadata"
                            );
                            prev.clone()
                        }
                        _ => fresh,
                    }
                })
                .collect();
            partitions.sort_by_key(|p| p.partition);
            topics.insert(
                name.clone(),
                TopicMetadata {
                    name,
                    topic_id: *t.topic_id.as_bytes(),
                    is_internal: t.is_internal,
                    partitions,
                },
            );
        }

        ClusterMetadata {
            generation: self.generation + 1,
            cluster_id: response.cluster_id.map(|c| c.to_string()),
            controller: (response.controller_id.0 >= 0).then_some(response.controller_id.0),
            brokers,
            topics,
            topic_errors,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::metadata_response::{
        MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
    };
    use kafka_protocol::messages::{BrokerId, TopicName};
    use kafka_protocol::protocol::StrBytes;

    fn response(leader: i32, epoch: i32) -> MetadataResponse {
        MetadataResponse::default()
            .with_controller_id(BrokerId(1))
            .with_brokers(vec![
                MetadataResponseBroker::default()
                    .with_node_id(BrokerId(1))
                    .with_host(StrBytes::from_static_str("localhost"))
                    .with_port(9092),
            ])
            .with_topics(vec![
                MetadataResponseTopic::default()
                    .with_name(Some(TopicName(StrBytes::from_static_str("t"))))
                    .with_partitions(vec![
                        MetadataResponsePartition::default()
                            .with_partition_index(1)
                            .with_leader_id(BrokerId(leader))
                            .with_leader_epoch(epoch),
                        MetadataResponsePartition::default()
                            .with_partition_index(0)
                            .with_leader_id(BrokerId(-1))
                            .with_leader_epoch(epoch)
                            .with_error_code(5),
                    ]),
            ])
    }

    #[test]
    fn apply_builds_sorted_partitions_and_bumps_generation() {
        let m = ClusterMetadata::default().apply(response(1, 3), false);
        assert_eq!(m.generation, 1);
        assert_eq!(m.controller, Some(1));
        assert_eq!(m.brokers[&1].address(), "localhost:9092");
        let t = m.topic("t").unwrap();
        assert_eq!(
            t.partitions.iter().map(|p| p.partition).collect::<Vec<_>>(),
            [0, 1]
        );
        assert_eq!(m.leader_for("t", 1), Some(1));
        assert_eq!(m.leader_for("t", 0), None);
        assert_eq!(
            t.partition(0).unwrap().error,
            Some(ErrorCode::LEADER_NOT_AVAILABLE)
        );
    }

    #[test]
    fn older_leader_epoch_does_not_move_leader_back() {
        let m = ClusterMetadata::default().apply(response(2, 5), false);
        let stale = m.apply(response(1, 4), false);
        assert_eq!(stale.leader_for("t", 1), Some(2));
        assert_eq!(stale.generation, 2);
        let newer = stale.apply(response(1, 6), false);
        assert_eq!(newer.leader_for("t", 1), Some(1));
    }

    #[test]
    fn topic_error_replaces_topic_and_full_listing_drops_missing() {
        let m = ClusterMetadata::default().apply(response(1, 0), false);
        let mut gone = MetadataResponse::default();
        gone.topics = vec![
            MetadataResponseTopic::default()
                .with_name(Some(TopicName(StrBytes::from_static_str("t"))))
                .with_error_code(3),
        ];
        let m2 = m.apply(gone, false);
        assert!(m2.topic("t").is_none());
        assert_eq!(
            m2.topic_errors[&Arc::from("t")],
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
        );

        let m3 = m.apply(MetadataResponse::default(), true);
        assert!(m3.topics.is_empty());
        let m4 = m.apply(MetadataResponse::default(), false);
        assert!(m4.topic("t").is_some());
    }
}
