//! Produce: acks 0/1/all, one v2 batch per partition checked (CRC, record
//! count) and appended as sent, idempotent sequences, `max.message.bytes`,
//! Write on each topic (and on the transactional id) when ACLs are on.
//!
//! All replicas are in sync (see [`crate::mock::log`]), so acks=1 and
//! acks=all answer alike; acks=0 gets no response at all, even for errors,
//! as in Kafka.

use bytes::Bytes;
use kafka_protocol::messages::produce_response::*;
use kafka_protocol::messages::*;

use super::{code, led_by_mut};
use crate::mock::acl::{self, Operation, ResourceType};
use crate::mock::batch::ParsedBatch;
use crate::mock::config::max_message_bytes;
use crate::mock::connection::Conn;
use crate::mock::dispatch::{Header, Outcome, encode_response};
use crate::mock::injected::ErrorResponse;
use crate::mock::log::SequenceCheck;

pub(crate) async fn handle(
    conn: &mut Conn,
    h: &Header,
    req: ProduceRequest,
    injected: Option<i16>,
) -> Outcome {
    let acks = req.acks;
    let resp = match injected {
        Some(code) => req.error_response(code, h.version),
        None if !matches!(acks, -1..=1) => {
            req.error_response(code::INVALID_REQUIRED_ACKS, h.version)
        }
        // A transactional request needs Write on its transactional id,
        // checked before anything else, for every partition at once.
        None if req.transactional_id.as_ref().is_some_and(|id| {
            !acl::allowed(conn, Operation::Write, ResourceType::TransactionalId, id)
        }) =>
        {
            req.error_response(code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED, h.version)
        }
        None => append_all(conn, req),
    };
    if acks == 0 {
        return Outcome::NoResponse;
    }
    encode_response(h, &resp)
}

/// A transactional batch's (producer id, epoch), read from its header
/// without checking the rest (that comes with the append).
fn transactional_producer(records: Option<&bytes::Bytes>) -> Option<(i64, i16)> {
    let b = records?;
    if b.len() < crate::mock::batch::HEADER_SIZE || b[22] & 0x10 == 0 {
        return None;
    }
    let pid = i64::from_be_bytes(b[43..51].try_into().ok()?);
    let epoch = i16::from_be_bytes(b[51..53].try_into().ok()?);
    Some((pid, epoch))
}

fn append_all(conn: &mut Conn, req: ProduceRequest) -> ProduceResponse {
    let broker = conn.broker_id;
    let mut appended = false;
    // A transactional batch must go to a partition its transaction added
    // (AddPartitionsToTxn). Asked before taking the state lock: the
    // coordinator takes that lock inside its own.
    let outside_txn: std::collections::HashSet<(String, i32)> = req
        .topic_data
        .iter()
        .flat_map(|t| {
            t.partition_data.iter().filter_map(|p| {
                let (pid, epoch) = transactional_producer(p.records.as_ref())?;
                (!conn
                    .shared
                    .txns
                    .in_transaction(pid, epoch, &t.name, p.index))
                .then(|| (t.name.to_string(), p.index))
            })
        })
        .collect();
    // Write on each topic, asked before existence so that a topic's
    // existence is not told to whom may not write to it.
    let denied: std::collections::HashSet<String> = req
        .topic_data
        .iter()
        .filter(|t| !acl::allowed(conn, Operation::Write, ResourceType::Topic, &t.name))
        .map(|t| t.name.to_string())
        .collect();
    let mut st = conn.shared.lock();
    let responses = req
        .topic_data
        .into_iter()
        .map(|t| {
            let max_bytes = st
                .topics
                .get(t.name.as_str())
                .map(|topic| max_message_bytes(&topic.configs));
            let partition_responses = t
                .partition_data
                .into_iter()
                .map(|p| {
                    let r = PartitionProduceResponse::default().with_index(p.index);
                    let outcome = if denied.contains(t.name.as_str()) {
                        Err(code::TOPIC_AUTHORIZATION_FAILED)
                    } else {
                        led_by_mut(&mut st, &t.name, p.index, broker, -1).and_then(|part| {
                            if outside_txn.contains(&(t.name.to_string(), p.index)) {
                                return Err(code::INVALID_TXN_STATE);
                            }
                            let records = p.records.unwrap_or_else(Bytes::new);
                            if max_bytes.is_some_and(|max| records.len() > max) {
                                return Err(code::MESSAGE_TOO_LARGE);
                            }
                            let batch = ParsedBatch::parse_one(records)?;
                            let epoch = part.leader_epoch;
                            match part.log.check_sequence(&batch) {
                                SequenceCheck::Append => {
                                    appended = true;
                                    Ok((
                                        part.log.append(&batch, epoch),
                                        part.log.log_start_offset(),
                                    ))
                                }
                                SequenceCheck::Duplicate(offset) => {
                                    Ok((offset, part.log.log_start_offset()))
                                }
                                SequenceCheck::Refuse(e) => Err(e),
                            }
                        })
                    };
                    match outcome {
                        Ok((base, log_start)) => r
                            .with_base_offset(base)
                            .with_log_append_time_ms(-1)
                            .with_log_start_offset(log_start),
                        Err(e) => r
                            .with_error_code(e)
                            .with_base_offset(-1)
                            .with_log_append_time_ms(-1)
                            .with_log_start_offset(-1),
                    }
                })
                .collect();
            TopicProduceResponse::default()
                .with_name(t.name)
                .with_partition_responses(partition_responses)
        })
        .collect();
    drop(st);
    if appended {
        conn.shared.notify_data();
    }
    ProduceResponse::default().with_responses(responses)
}
