//! ListOffsets (earliest, latest by isolation level, by timestamp, max
//! timestamp) and OffsetForLeaderEpoch; both need Describe on the topic
//! when ACLs are on.

use kafka_protocol::messages::*;

use super::{code, led_by};
use crate::mock::acl::{self, Operation, ResourceType};
use crate::mock::connection::Conn;
use crate::mock::dispatch::Header;
use crate::mock::log::PartitionLog;
use crate::protocol::records::decode_batches;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const READ_COMMITTED: i8 = 1;

pub(crate) async fn handle(
    conn: &mut Conn,
    _h: &Header,
    req: ListOffsetsRequest,
) -> ListOffsetsResponse {
    use list_offsets_response::*;
    let broker = conn.broker_id;
    let st = conn.shared.lock();
    let topics = req
        .topics
        .iter()
        .map(|t| {
            let describable = acl::allowed(conn, Operation::Describe, ResourceType::Topic, &t.name);
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let r = ListOffsetsPartitionResponse::default()
                        .with_partition_index(p.partition_index);
                    let led = if describable {
                        led_by(
                            &st,
                            &t.name,
                            p.partition_index,
                            broker,
                            p.current_leader_epoch,
                        )
                    } else {
                        Err(code::TOPIC_AUTHORIZATION_FAILED)
                    };
                    match led {
                        Ok(part) => {
                            let (timestamp, offset) =
                                lookup(&part.log, p.timestamp, req.isolation_level);
                            r.with_timestamp(timestamp)
                                .with_offset(offset)
                                .with_leader_epoch(part.leader_epoch)
                        }
                        Err(e) => r.with_error_code(e).with_timestamp(-1).with_offset(-1),
                    }
                })
                .collect();
            ListOffsetsTopicResponse::default()
                .with_name(t.name.clone())
                .with_partitions(partitions)
        })
        .collect();
    ListOffsetsResponse::default().with_topics(topics)
}

/// (timestamp, offset) for a ListOffsets query; (-1, -1) when no record
/// qualifies, as Kafka answers.
fn lookup(log: &PartitionLog, query: i64, isolation: i8) -> (i64, i64) {
    match query {
        EARLIEST => (-1, log.log_start_offset()),
        LATEST if isolation == READ_COMMITTED => (-1, log.last_stable_offset()),
        LATEST => (-1, log.high_watermark()),
        MAX_TIMESTAMP => records(log)
            .max_by_key(|&(ts, offset)| (ts, -offset))
            .unwrap_or((-1, -1)),
        ts if ts >= 0 => records(log).find(|&(t, _)| t >= ts).unwrap_or((-1, -1)),
        _ => (-1, -1),
    }
}

/// (timestamp, offset) of every data record in the log, in offset order.
/// Decoding the stored batches is slow but only ListOffsets by timestamp
/// needs it.
fn records(log: &PartitionLog) -> impl Iterator<Item = (i64, i64)> + '_ {
    log.batches()
        .filter(|(info, _)| !info.is_control && info.last_offset >= log.log_start_offset())
        .flat_map(|(_, bytes)| {
            decode_batches(bytes.clone())
                .filter_map(Result::ok)
                .flat_map(|b| b.records().filter_map(Result::ok).collect::<Vec<_>>())
                .map(|r| (r.timestamp, r.offset))
                .collect::<Vec<_>>()
        })
        .filter(move |&(_, offset)| offset >= log.log_start_offset())
}

pub(crate) async fn offset_for_leader_epoch(
    conn: &mut Conn,
    _h: &Header,
    req: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    use offset_for_leader_epoch_response::*;
    let broker = conn.broker_id;
    let st = conn.shared.lock();
    let topics = req
        .topics
        .iter()
        .map(|t| {
            let describable =
                acl::allowed(conn, Operation::Describe, ResourceType::Topic, &t.topic);
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let r = EpochEndOffset::default().with_partition(p.partition);
                    let led = if describable {
                        led_by(&st, &t.topic, p.partition, broker, p.current_leader_epoch)
                    } else {
                        Err(code::TOPIC_AUTHORIZATION_FAILED)
                    };
                    match led {
                        Ok(part) => {
                            let (epoch, end) = part.log.end_offset_for_epoch(p.leader_epoch);
                            r.with_leader_epoch(epoch).with_end_offset(end)
                        }
                        Err(e) => r
                            .with_error_code(e)
                            .with_leader_epoch(-1)
                            .with_end_offset(-1),
                    }
                })
                .collect();
            OffsetForLeaderTopicResult::default()
                .with_topic(t.topic.clone())
                .with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}
