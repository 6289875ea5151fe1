//! The transaction APIs, handed to the cluster's transaction coordinator
//! after the coordinator check (NOT_COORDINATOR when a request reaches a
//! broker that does not coordinate its transactional id or group). With
//! ACLs on, each needs Write on the transactional id first
//! (TRANSACTIONAL_ID_AUTHORIZATION_FAILED), then Write on the topics added,
//! Read on the group and on the topics whose offsets are committed.

use kafka_protocol::messages::*;

use super::code;
use crate::mock::acl::{self, Operation, ResourceType};
use crate::mock::connection::Conn;
use crate::mock::dispatch::Header;
use crate::mock::group::CommittedOffset;
use crate::mock::state::CoordinatorKind;

fn coordinates(conn: &Conn, kind: CoordinatorKind, key: &str) -> bool {
    conn.shared.lock().coordinator_for(kind, key) == Some(conn.broker_id)
}

/// Write on the transactional id, which every transaction API needs first.
fn may_write(conn: &Conn, transactional_id: &str) -> bool {
    acl::allowed(
        conn,
        Operation::Write,
        ResourceType::TransactionalId,
        transactional_id,
    )
}

/// InitProducerId with a transactional id (the idempotent case is
/// `coordinator::init_producer_id`).
pub(crate) fn init_producer_id(conn: &Conn, req: &InitProducerIdRequest) -> InitProducerIdResponse {
    let id: &str = req.transactional_id.as_ref().map_or("", |t| t.as_str());
    let fail = |e: i16| {
        InitProducerIdResponse::default()
            .with_error_code(e)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1)
    };
    if !may_write(conn, id) {
        return fail(code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    }
    if !coordinates(conn, CoordinatorKind::Transaction, id) {
        return fail(code::NOT_COORDINATOR);
    }
    let claimed = (req.producer_id.0 >= 0).then_some((req.producer_id.0, req.producer_epoch));
    match conn
        .shared
        .txns
        .init_producer_id(&conn.shared, id, req.transaction_timeout_ms, claimed)
    {
        Ok((pid, epoch)) => InitProducerIdResponse::default()
            .with_producer_id(ProducerId(pid))
            .with_producer_epoch(epoch),
        Err(e) => fail(e),
    }
}

pub(crate) async fn add_partitions_to_txn(
    conn: &mut Conn,
    h: &Header,
    req: AddPartitionsToTxnRequest,
) -> AddPartitionsToTxnResponse {
    use add_partitions_to_txn_response::*;
    let id = req.v3_and_below_transactional_id.to_string();
    let wanted: Vec<(String, i32)> = req
        .v3_and_below_topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|&p| (t.name.to_string(), p)))
        .collect();
    let unknown: Vec<bool> = {
        let st = conn.shared.lock();
        wanted
            .iter()
            .map(|(t, p)| st.partition(t, *p).is_none())
            .collect()
    };
    // Write on each topic; like an unknown one, a topic without refuses
    // the whole request.
    let denied: Vec<bool> = wanted
        .iter()
        .map(|(t, _)| !acl::allowed(conn, Operation::Write, ResourceType::Topic, t))
        .collect();
    let outcome = if !may_write(conn, &id) {
        Err(code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
    } else if !coordinates(conn, CoordinatorKind::Transaction, &id) {
        Err(code::NOT_COORDINATOR)
    } else if denied.iter().any(|&d| d) || unknown.iter().any(|&u| u) {
        // Kafka refuses the whole request: the unknown ones with their
        // error, the others with OPERATION_NOT_ATTEMPTED.
        Err(-1)
    } else {
        conn.shared.txns.add(
            &conn.shared,
            &id,
            req.v3_and_below_producer_id.0,
            req.v3_and_below_producer_epoch,
            h.version,
            &wanted,
        )
    };
    let mut by_topic: Vec<AddPartitionsToTxnTopicResult> = Vec::new();
    for (((topic, partition), unknown), denied) in wanted.iter().zip(unknown).zip(denied) {
        let error = match outcome {
            Ok(()) => 0,
            Err(-1) if denied => code::TOPIC_AUTHORIZATION_FAILED,
            Err(-1) if unknown => code::UNKNOWN_TOPIC_OR_PARTITION,
            Err(-1) => code::OPERATION_NOT_ATTEMPTED,
            Err(e) => e,
        };
        let result = AddPartitionsToTxnPartitionResult::default()
            .with_partition_index(*partition)
            .with_partition_error_code(error);
        match by_topic.iter_mut().find(|t| t.name.as_str() == topic) {
            Some(t) => t.results_by_partition.push(result),
            None => by_topic.push(
                AddPartitionsToTxnTopicResult::default()
                    .with_name(super::topic_name(topic))
                    .with_results_by_partition(vec![result]),
            ),
        }
    }
    AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(by_topic)
}

pub(crate) async fn add_offsets_to_txn(
    conn: &mut Conn,
    h: &Header,
    req: AddOffsetsToTxnRequest,
) -> AddOffsetsToTxnResponse {
    let id = req.transactional_id.to_string();
    let error = if !may_write(conn, &id) {
        code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    } else if !acl::allowed(conn, Operation::Read, ResourceType::Group, &req.group_id) {
        code::GROUP_AUTHORIZATION_FAILED
    } else if !coordinates(conn, CoordinatorKind::Transaction, &id) {
        code::NOT_COORDINATOR
    } else {
        match conn.shared.txns.add(
            &conn.shared,
            &id,
            req.producer_id.0,
            req.producer_epoch,
            h.version,
            &[],
        ) {
            Ok(()) => 0,
            Err(e) => e,
        }
    };
    AddOffsetsToTxnResponse::default().with_error_code(error)
}

pub(crate) async fn end_txn(conn: &mut Conn, h: &Header, req: EndTxnRequest) -> EndTxnResponse {
    let id = req.transactional_id.to_string();
    let error = if !may_write(conn, &id) {
        code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    } else if !coordinates(conn, CoordinatorKind::Transaction, &id) {
        code::NOT_COORDINATOR
    } else {
        match conn.shared.txns.end_txn(
            &conn.shared,
            &id,
            req.producer_id.0,
            req.producer_epoch,
            h.version,
            req.committed,
        ) {
            Ok(()) => 0,
            Err(e) => e,
        }
    };
    EndTxnResponse::default()
        .with_error_code(error)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1)
}

pub(crate) async fn txn_offset_commit(
    conn: &mut Conn,
    h: &Header,
    req: TxnOffsetCommitRequest,
) -> TxnOffsetCommitResponse {
    use txn_offset_commit_response::*;
    let group = req.group_id.to_string();
    let error = if !may_write(conn, &req.transactional_id) {
        code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    } else if !acl::allowed(conn, Operation::Read, ResourceType::Group, &group) {
        code::GROUP_AUTHORIZATION_FAILED
    } else if !coordinates(conn, CoordinatorKind::Group, &group) {
        code::NOT_COORDINATOR
    } else {
        match conn.shared.txns.check_offset_commit(
            &req.transactional_id,
            req.producer_id.0,
            req.producer_epoch,
            h.version,
        ) {
            Ok(()) => 0,
            Err(e) => e,
        }
    };
    let offsets: Vec<((String, i32), CommittedOffset)> = req
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| {
                (
                    (t.name.to_string(), p.partition_index),
                    CommittedOffset {
                        offset: p.committed_offset,
                        leader_epoch: p.committed_leader_epoch,
                        metadata: p.committed_metadata.as_deref().map(str::to_owned),
                    },
                )
            })
        })
        .collect();
    let results: Vec<((String, i32), i16)> = if error == 0 {
        // Read on each topic: the others' offsets are staged, these refused.
        let (offsets, denied): (Vec<_>, Vec<_>) = offsets
            .into_iter()
            .partition(|((t, _), _)| acl::allowed(conn, Operation::Read, ResourceType::Topic, t));
        let mut staged = conn.shared.groups.stage_txn_offsets(
            &group,
            req.producer_id.0,
            req.producer_epoch,
            offsets,
        );
        staged.extend(
            denied
                .into_iter()
                .map(|(tp, _)| (tp, code::TOPIC_AUTHORIZATION_FAILED)),
        );
        staged
    } else {
        offsets.into_iter().map(|(tp, _)| (tp, error)).collect()
    };
    let mut topics: Vec<TxnOffsetCommitResponseTopic> = Vec::new();
    for ((topic, partition), e) in results {
        let p = TxnOffsetCommitResponsePartition::default()
            .with_partition_index(partition)
            .with_error_code(e);
        match topics.iter_mut().find(|t| t.name.as_str() == topic) {
            Some(t) => t.partitions.push(p),
            None => topics.push(
                TxnOffsetCommitResponseTopic::default()
                    .with_name(super::topic_name(&topic))
                    .with_partitions(vec![p]),
            ),
        }
    }
    TxnOffsetCommitResponse::default().with_topics(topics)
}
