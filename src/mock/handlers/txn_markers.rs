//! WriteTxnMarkers v1 at the partition leader: what a transaction
//! coordinator sends to end a transaction in each partition, and what
//! `Admin.abortTransaction` (KIP-664, `kafka-transactions abort`) sends to
//! end a hanging one. A marker whose epoch is older than the producer's is
//! refused (INVALID_PRODUCER_EPOCH); a producer with no open transaction
//! in the partition gets its marker written anyway, as Kafka does
//! (markers are idempotent for readers).

use kafka_protocol::messages::*;

use super::led_by_mut;
use crate::mock::connection::Conn;
use crate::mock::dispatch::Header;

const INVALID_PRODUCER_EPOCH: i16 = 47;

pub(crate) async fn write_txn_markers(
    conn: &mut Conn,
    _h: &Header,
    req: WriteTxnMarkersRequest,
) -> WriteTxnMarkersResponse {
    use write_txn_markers_response::{
        WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let markers = {
        let mut st = conn.shared.lock();
        req.markers
            .iter()
            .map(|m| {
                let topics = m
                    .topics
                    .iter()
                    .map(|t| {
                        let partitions = t
                            .partition_indexes
                            .iter()
                            .map(|&index| {
                                let code =
                                    match led_by_mut(&mut st, &t.name, index, conn.broker_id, -1) {
                                        Err(e) => e,
                                        Ok(p) => {
                                            let current = p
                                                .log
                                                .active_producers()
                                                .into_iter()
                                                .find(|a| a.producer_id == m.producer_id.0)
                                                .map(|a| a.producer_epoch);
                                            if current.is_some_and(|e| m.producer_epoch < e) {
                                                INVALID_PRODUCER_EPOCH
                                            } else {
                                                let leader_epoch = p.leader_epoch;
                                                p.log.append_marker(
                                                    m.producer_id.0,
                                                    m.producer_epoch,
                                                    m.transaction_result,
                                                    m.coordinator_epoch,
                                                    now,
                                                    leader_epoch,
                                                );
                                                0
                                            }
                                        }
                                    };
                                WritableTxnMarkerPartitionResult::default()
                                    .with_partition_index(index)
                                    .with_error_code(code)
                            })
                            .collect();
                        WritableTxnMarkerTopicResult::default()
                            .with_name(t.name.clone())
                            .with_partitions(partitions)
                    })
                    .collect();
                WritableTxnMarkerResult::default()
                    .with_producer_id(m.producer_id)
                    .with_topics(topics)
            })
            .collect()
    };
    conn.shared.notify_data();
    WriteTxnMarkersResponse::default().with_markers(markers)
}
