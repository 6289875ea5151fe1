//! Metadata (brokers, topics with ids, partitions with leaders, epochs,
//! replicas) with topic auto-creation, and DescribeCluster.
//!
//! With ACLs on, as in Kafka: listing every topic shows only those the
//! caller may Describe; a named topic without Describe gets
//! TOPIC_AUTHORIZATION_FAILED whether it exists or not; auto-creation needs
//! Create on the cluster or the topic.

use kafka_protocol::messages::metadata_response::*;
use kafka_protocol::messages::*;

use super::{code, str_bytes, topic_name};
use crate::mock::acl::{self, CLUSTER_NAME, Operation, ResourceType};
use crate::mock::config::{TopicConfigs, valid_topic_name};
use crate::mock::connection::Conn;
use crate::mock::dispatch::Header;
use crate::mock::state::{ClusterState, Topic};

pub(crate) async fn handle(conn: &mut Conn, h: &Header, req: MetadataRequest) -> MetadataResponse {
    let shared = conn.shared.clone();
    let settings = &shared.settings;
    let mut st = shared.lock();
    // Before v4 every Metadata request may auto-create.
    let may_create =
        settings.auto_create_topics && (h.version < 4 || req.allow_auto_topic_creation);
    let mut topics: Vec<MetadataResponseTopic> = match &req.topics {
        // Null (v1+): every topic the caller may describe.
        None => st
            .topics
            .iter()
            .filter(|(name, _)| acl::allowed(conn, Operation::Describe, ResourceType::Topic, name))
            .map(|(name, t)| describe(&st, name, t))
            .collect(),
        Some(wanted) => wanted
            .iter()
            .map(|w| {
                let by_id = w.name.is_none() && !w.topic_id.is_nil();
                let name = match &w.name {
                    Some(n) => n.to_string(),
                    None => st
                        .topics
                        .iter()
                        .find(|(_, t)| t.id == w.topic_id)
                        .map(|(n, _)| n.clone())
                        .unwrap_or_default(),
                };
                // An id that names no topic has nothing to authorize.
                let describable = (by_id && name.is_empty())
                    || acl::allowed(conn, Operation::Describe, ResourceType::Topic, &name);
                if let Some(t) = st.topics.get(&name).filter(|_| describable) {
                    return describe(&st, &name, t);
                }
                let error = if !describable {
                    // Whether the topic exists is not told.
                    code::TOPIC_AUTHORIZATION_FAILED
                } else if by_id {
                    code::UNKNOWN_TOPIC_OR_PARTITION
                } else if !valid_topic_name(&name) {
                    code::INVALID_TOPIC_EXCEPTION
                } else if may_create && !may_create_topic(conn, &name) {
                    code::TOPIC_AUTHORIZATION_FAILED
                } else if may_create {
                    let rf = settings.default_replication_factor;
                    st.create_topic(&name, settings.default_partitions, rf, TopicConfigs::new());
                    if let Some(t) = st.topics.get(&name) {
                        return describe(&st, &name, t);
                    }
                    code::UNKNOWN_TOPIC_OR_PARTITION
                } else {
                    code::UNKNOWN_TOPIC_OR_PARTITION
                };
                MetadataResponseTopic::default()
                    .with_name(w.name.clone())
                    .with_topic_id(w.topic_id)
                    .with_error_code(error)
            })
            .collect(),
    };
    // v8+: the caller's operations on each topic and (v8-10) the cluster,
    // when asked for (left at Kafka's "not asked" value otherwise).
    if h.version >= 8 && req.include_topic_authorized_operations {
        for t in topics.iter_mut().filter(|t| t.error_code == 0) {
            if let Some(name) = &t.name {
                t.topic_authorized_operations =
                    acl::authorized_operations(conn, ResourceType::Topic, name);
            }
        }
    }
    let mut resp = MetadataResponse::default();
    if (8..=10).contains(&h.version) && req.include_cluster_authorized_operations {
        resp.cluster_authorized_operations =
            acl::authorized_operations(conn, ResourceType::Cluster, CLUSTER_NAME);
    }
    resp.with_brokers(brokers(&st, &settings.host))
        .with_cluster_id(Some(str_bytes(&st.cluster_id)))
        .with_controller_id(BrokerId(st.controller()))
        .with_topics(topics)
}

/// Create on the cluster or on the topic (auto-creation, CreateTopics).
pub(crate) fn may_create_topic(conn: &Conn, name: &str) -> bool {
    acl::allowed(conn, Operation::Create, ResourceType::Cluster, CLUSTER_NAME)
        || acl::allowed(conn, Operation::Create, ResourceType::Topic, name)
}

fn brokers(st: &ClusterState, host: &str) -> Vec<MetadataResponseBroker> {
    st.brokers
        .iter()
        .filter(|(_, b)| b.up)
        .map(|(&id, b)| {
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(id))
                .with_host(str_bytes(host))
                .with_port(i32::from(b.port))
        })
        .collect()
}

fn describe(st: &ClusterState, name: &str, t: &Topic) -> MetadataResponseTopic {
    let live = st.live_brokers();
    let partitions = t
        .partitions
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let isr: Vec<BrokerId> = p
                .replicas
                .iter()
                .filter(|r| live.contains(r))
                .map(|&r| BrokerId(r))
                .collect();
            let offline: Vec<BrokerId> = p
                .replicas
                .iter()
                .filter(|r| !live.contains(r))
                .map(|&r| BrokerId(r))
                .collect();
            MetadataResponsePartition::default()
                .with_partition_index(i as i32)
                .with_error_code(if p.leader < 0 {
                    code::LEADER_NOT_AVAILABLE
                } else {
                    0
                })
                .with_leader_id(BrokerId(p.leader))
                .with_leader_epoch(p.leader_epoch)
                .with_replica_nodes(p.replicas.iter().map(|&r| BrokerId(r)).collect())
                .with_isr_nodes(isr)
                .with_offline_replicas(offline)
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(topic_name(name)))
        .with_topic_id(t.id)
        .with_is_internal(false)
        .with_partitions(partitions)
}

pub(crate) async fn describe_cluster(
    conn: &mut Conn,
    _h: &Header,
    req: DescribeClusterRequest,
) -> DescribeClusterResponse {
    use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
    let operations = if req.include_cluster_authorized_operations {
        acl::authorized_operations(conn, ResourceType::Cluster, CLUSTER_NAME)
    } else {
        i32::MIN
    };
    let st = conn.shared.lock();
    let host = &conn.shared.settings.host;
    DescribeClusterResponse::default()
        .with_cluster_authorized_operations(operations)
        .with_cluster_id(str_bytes(&st.cluster_id))
        .with_controller_id(BrokerId(st.controller()))
        .with_endpoint_type(1)
        .with_brokers(
            st.brokers
                .iter()
                .filter(|(_, b)| b.up)
                .map(|(&id, b)| {
                    DescribeClusterBroker::default()
                        .with_broker_id(BrokerId(id))
                        .with_host(str_bytes(host))
                        .with_port(i32::from(b.port))
                })
                .collect(),
        )
}
