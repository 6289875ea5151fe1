//! DescribeLogDirs and ElectLeaders: where replicas live and which one
//! leads.
//!
//! Each broker has one log directory, `/mock/broker-<id>`, holding every
//! partition it replicates. The cluster keeps one copy of each log, so
//! every replica reports the leader's size and no lag. Elections move the
//! leadership as the controller would (any broker answers: Kafka forwards
//! ElectLeaders to the controller).

use std::collections::BTreeMap;

use kafka_protocol::messages::*;

use super::{code, str_bytes, topic_name};
use crate::ErrorCode;
use crate::mock::connection::Conn;
use crate::mock::dispatch::Header;
use crate::mock::state::ClusterState;

/// The nominal size of each broker's log volume (DescribeLogDirs v4's
/// `total_bytes`; `usable_bytes` is what its partitions leave of it).
pub(crate) const VOLUME_BYTES: i64 = 1 << 40;

/// A broker's log directory name.
pub(crate) fn log_dir(broker: i32) -> String {
    format!("/mock/broker-{broker}")
}

/// DescribeLogDirs v1-v4: this broker's one log directory with the
/// partitions it replicates (all of them for a null topic list, else the
/// named ones it has; the others are left out, as in Kafka).
pub(crate) async fn describe_log_dirs(
    conn: &mut Conn,
    _h: &Header,
    req: DescribeLogDirsRequest,
) -> DescribeLogDirsResponse {
    use describe_log_dirs_response::{
        DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
    };
    let st = conn.shared.lock();
    let wanted: Option<BTreeMap<&str, &[i32]>> = req.topics.as_ref().map(|ts| {
        ts.iter()
            .map(|t| (t.topic.as_str(), t.partitions.as_slice()))
            .collect()
    });
    let mut used = 0i64;
    let mut topics = Vec::new();
    for (name, t) in &st.topics {
        let hosted = t
            .partitions
            .iter()
            .enumerate()
            .filter(|(_, p)| p.replicas.contains(&conn.broker_id));
        let mut partitions = Vec::new();
        for (index, p) in hosted {
            let index = index as i32;
            let size = p.log.size_bytes();
            used += size;
            let asked = match &wanted {
                None => true,
                Some(w) => w.get(name.as_str()).is_some_and(|ps| ps.contains(&index)),
            };
            if asked {
                partitions.push(
                    DescribeLogDirsPartition::default()
                        .with_partition_index(index)
                        .with_partition_size(size)
                        .with_offset_lag(0)
                        .with_is_future_key(false),
                );
            }
        }
        if !partitions.is_empty() {
            topics.push(
                DescribeLogDirsTopic::default()
                    .with_name(topic_name(name))
                    .with_partitions(partitions),
            );
        }
    }
    let dir = DescribeLogDirsResult::default()
        .with_log_dir(str_bytes(&log_dir(conn.broker_id)))
        .with_topics(topics)
        .with_total_bytes(VOLUME_BYTES)
        .with_usable_bytes(VOLUME_BYTES - used);
    DescribeLogDirsResponse::default().with_results(vec![dir])
}

/// Kafka's ElectionType.
const PREFERRED: i8 = 0;
const UNCLEAN: i8 = 1;

/// One partition's election: `Ok(true)` if the leader moved, `Ok(false)`
/// for ELECTION_NOT_NEEDED, else the error and its message.
fn elect(
    st: &mut ClusterState,
    topic: &str,
    partition: i32,
    unclean: bool,
) -> Result<bool, (i16, String)> {
    let live = st.live_brokers();
    let p = st.partition(topic, partition).ok_or_else(|| {
        (
            code::UNKNOWN_TOPIC_OR_PARTITION,
            format!("The partition {topic}-{partition} does not exist."),
        )
    })?;
    let target = if unclean {
        if p.leader >= 0 {
            return Ok(false);
        }
        // Every replica is in sync here, so an unclean election is a clean
        // one that finds no leader only when every replica is down.
        p.replicas.iter().copied().find(|r| live.contains(r))
    } else {
        let preferred = p.replicas.first().copied();
        if preferred == Some(p.leader) {
            return Ok(false);
        }
        preferred.filter(|r| live.contains(r))
    };
    let Some(target) = target else {
        let e = if unclean {
            ErrorCode::ELIGIBLE_LEADERS_NOT_AVAILABLE
        } else {
            ErrorCode::PREFERRED_LEADER_NOT_AVAILABLE
        };
        return Err((
            e.0,
            format!("Failed to elect leader for partition {topic}-{partition}"),
        ));
    };
    st.move_leader(topic, partition, target);
    Ok(true)
}

/// ElectLeaders v0-v2: PREFERRED moves the leadership to the first replica
/// (ELECTION_NOT_NEEDED when it leads already, PREFERRED_LEADER_NOT_AVAILABLE
/// when it is down); UNCLEAN elects a live replica for a partition without a
/// leader (ELECTION_NOT_NEEDED when it has one). A null partition list
/// means every partition, and then answers only the ones that needed an
/// election, as Kafka's controller does.
pub(crate) async fn elect_leaders(
    conn: &mut Conn,
    _h: &Header,
    req: ElectLeadersRequest,
) -> ElectLeadersResponse {
    use elect_leaders_response::{PartitionResult, ReplicaElectionResult};
    let resp = ElectLeadersResponse::default();
    let unclean = match req.election_type {
        PREFERRED => false,
        UNCLEAN => true,
        // Only v1+ carries a type (v0 decodes as PREFERRED), and v1+ has
        // the top-level error code.
        _ => return resp.with_error_code(code::INVALID_REQUEST),
    };
    let shared = conn.shared.clone();
    let mut st = shared.lock();
    let all = req.topic_partitions.is_none();
    let wanted: Vec<(String, Vec<i32>)> = match &req.topic_partitions {
        Some(tps) => tps
            .iter()
            .map(|t| (t.topic.to_string(), t.partitions.clone()))
            .collect(),
        None => st
            .topics
            .iter()
            .map(|(name, t)| (name.clone(), (0..t.partitions.len() as i32).collect()))
            .collect(),
    };
    let mut moved = false;
    let mut results = Vec::new();
    for (topic, partitions) in wanted {
        let mut answers = Vec::new();
        for partition in partitions {
            // Kafka's controller answers a success with a null message and
            // an error with its message.
            let r = PartitionResult::default()
                .with_partition_id(partition)
                .with_error_message(None);
            match elect(&mut st, &topic, partition, unclean) {
                Ok(true) => {
                    moved = true;
                    answers.push(r);
                }
                Ok(false) if all => {}
                Ok(false) => answers.push(
                    r.with_error_code(ErrorCode::ELECTION_NOT_NEEDED.0)
                        .with_error_message(Some(str_bytes(
                            "Leader election not needed for topic partition.",
                        ))),
                ),
                Err((e, message)) => answers.push(
                    r.with_error_code(e)
                        .with_error_message(Some(str_bytes(&message))),
                ),
            }
        }
        if !(all && answers.is_empty()) {
            results.push(
                ReplicaElectionResult::default()
                    .with_topic(topic_name(&topic))
                    .with_partition_result(answers),
            );
        }
    }
    drop(st);
    if moved {
        // Long polls at the old leader answer NOT_LEADER_OR_FOLLOWER now.
        shared.notify_data();
    }
    resp.with_replica_election_results(results)
}
