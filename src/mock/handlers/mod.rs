//! One file per Kafka concept: each handler takes the connection, the
//! request header and the decoded request, and returns the response.
//! Handlers take the cluster state's lock for synchronous work only.

pub(crate) mod acls;
pub(crate) mod api_versions;
pub(crate) mod configs;
pub(crate) mod coordinator;
pub(crate) mod fetch;
pub(crate) mod groups;
pub(crate) mod list_offsets;
pub(crate) mod metadata;
pub(crate) mod produce;
pub(crate) mod replicas;
pub(crate) mod sasl;
pub(crate) mod topics;
pub(crate) mod txn;
pub(crate) mod txn_admin;
pub(crate) mod txn_markers;

use kafka_protocol::messages::TopicName;
use kafka_protocol::protocol::StrBytes;

use crate::mock::state::{ClusterState, Partition};

/// Kafka error codes the handlers answer with.
pub(crate) mod code {
    pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    pub const LEADER_NOT_AVAILABLE: i16 = 5;
    pub const NOT_LEADER_OR_FOLLOWER: i16 = 6;
    pub const MESSAGE_TOO_LARGE: i16 = 10;
    pub const NOT_COORDINATOR: i16 = 16;
    pub const INVALID_TOPIC_EXCEPTION: i16 = 17;
    pub const INVALID_REQUIRED_ACKS: i16 = 21;
    pub const TOPIC_ALREADY_EXISTS: i16 = 36;
    pub const INVALID_PARTITIONS: i16 = 37;
    pub const INVALID_REPLICATION_FACTOR: i16 = 38;
    pub const INVALID_REPLICA_ASSIGNMENT: i16 = 39;
    pub const INVALID_CONFIG: i16 = 40;
    pub const INVALID_REQUEST: i16 = 42;
    pub const COORDINATOR_NOT_AVAILABLE: i16 = 15;
    pub const FENCED_LEADER_EPOCH: i16 = 74;
    pub const UNKNOWN_LEADER_EPOCH: i16 = 76;
    pub const UNKNOWN_TOPIC_ID: i16 = 100;
    pub const OPERATION_NOT_ATTEMPTED: i16 = 55;
    pub const INVALID_TXN_STATE: i16 = 48;
    pub const TOPIC_AUTHORIZATION_FAILED: i16 = 29;
    pub const GROUP_AUTHORIZATION_FAILED: i16 = 30;
    pub const CLUSTER_AUTHORIZATION_FAILED: i16 = 31;
    pub const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: i16 = 53;
    pub const SECURITY_DISABLED: i16 = 54;
}

pub(crate) fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

pub(crate) fn topic_name(s: &str) -> TopicName {
    TopicName(str_bytes(s))
}

/// The partition if `broker` leads it at `current_leader_epoch` (-1: no
/// check), else the error a Kafka leader answers with.
pub(crate) fn led_by<'a>(
    st: &'a ClusterState,
    topic: &str,
    partition: i32,
    broker: i32,
    current_leader_epoch: i32,
) -> Result<&'a Partition, i16> {
    let p = st
        .partition(topic, partition)
        .ok_or(code::UNKNOWN_TOPIC_OR_PARTITION)?;
    check_leader(p, broker, current_leader_epoch)?;
    Ok(p)
}

/// [`led_by`], mutably.
pub(crate) fn led_by_mut<'a>(
    st: &'a mut ClusterState,
    topic: &str,
    partition: i32,
    broker: i32,
    current_leader_epoch: i32,
) -> Result<&'a mut Partition, i16> {
    let p = st
        .partition_mut(topic, partition)
        .ok_or(code::UNKNOWN_TOPIC_OR_PARTITION)?;
    check_leader(p, broker, current_leader_epoch)?;
    Ok(p)
}

fn check_leader(p: &Partition, broker: i32, current_leader_epoch: i32) -> Result<(), i16> {
    // KIP-320: a client with a newer epoch than ours knows of a leader we
    // have not heard of; an older one must refresh its metadata.
    if current_leader_epoch >= 0 && current_leader_epoch > p.leader_epoch {
        return Err(code::UNKNOWN_LEADER_EPOCH);
    }
    if current_leader_epoch >= 0 && current_leader_epoch < p.leader_epoch {
        return Err(code::FENCED_LEADER_EPOCH);
    }
    if p.leader != broker {
        return Err(code::NOT_LEADER_OR_FOLLOWER);
    }
    Ok(())
}
