//! The transaction admin APIs (KIP-664): ListTransactions and
//! DescribeTransactions at the transaction coordinator, DescribeProducers
//! at the partition leader. Together they find *hanging* transactions: a
//! producer with an open transaction in a partition's log
//! (DescribeProducers' `current_txn_start_offset`) that its coordinator
//! does not list as ongoing there.

use std::collections::BTreeMap;

use kafka_protocol::messages::*;

use super::{code, led_by, str_bytes, topic_name};
use crate::ErrorCode;
use crate::mock::connection::Conn;
use crate::mock::dispatch::Header;
use crate::mock::state::CoordinatorKind;
use crate::mock::txn::{KAFKA_STATE_NAMES, ListFilter, TxnListing};

/// Whether this broker coordinates `transactional_id` (each broker lists
/// only its own, as each Kafka broker lists its `__transaction_state`
/// partitions; the admin client asks every broker).
fn coordinates(conn: &Conn, transactional_id: &str) -> bool {
    conn.shared
        .lock()
        .coordinator_for(CoordinatorKind::Transaction, transactional_id)
        == Some(conn.broker_id)
}

/// ListTransactions v0-v1: this coordinator's transactional ids passing the
/// state, producer id and (v1) duration filters; state names Kafka does not
/// know are echoed in `unknown_state_filters` (and match nothing).
pub(crate) async fn list_transactions(
    conn: &mut Conn,
    h: &Header,
    req: ListTransactionsRequest,
) -> ListTransactionsResponse {
    use list_transactions_response::TransactionState;
    let unknown: Vec<_> = req
        .state_filters
        .iter()
        .filter(|s| !KAFKA_STATE_NAMES.contains(&s.as_str()))
        .cloned()
        .collect();
    let filter = ListFilter {
        states: req.state_filters.iter().map(|s| s.to_string()).collect(),
        producer_ids: req.producer_id_filters.iter().map(|p| p.0).collect(),
        min_duration_ms: if h.version >= 1 {
            req.duration_filter
        } else {
            -1
        },
    };
    let listed = conn.shared.txns.list(&filter);
    let states = listed
        .into_iter()
        .filter(|t| coordinates(conn, &t.transactional_id))
        .map(|t| {
            TransactionState::default()
                .with_transactional_id(TransactionalId(str_bytes(&t.transactional_id)))
                .with_producer_id(ProducerId(t.producer_id))
                .with_transaction_state(str_bytes(t.state.name()))
        })
        .collect();
    ListTransactionsResponse::default()
        .with_unknown_state_filters(unknown)
        .with_transaction_states(states)
}

fn described(t: TxnListing) -> describe_transactions_response::TransactionState {
    use describe_transactions_response::{TopicData, TransactionState};
    let mut topics: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for (topic, partition) in t.partitions {
        topics.entry(topic).or_default().push(partition);
    }
    TransactionState::default()
        .with_transactional_id(TransactionalId(str_bytes(&t.transactional_id)))
        .with_transaction_state(str_bytes(t.state.name()))
        .with_transaction_timeout_ms(t.timeout_ms)
        .with_transaction_start_time_ms(t.start_ms)
        .with_producer_id(ProducerId(t.producer_id))
        .with_producer_epoch(t.producer_epoch)
        .with_topics(
            topics
                .into_iter()
                .map(|(name, partitions)| {
                    TopicData::default()
                        .with_topic(topic_name(&name))
                        .with_partitions(partitions)
                })
                .collect(),
        )
}

/// DescribeTransactions v0: each id's state, timeout, start time, producer
/// id and epoch and the open transaction's partitions; NOT_COORDINATOR at
/// another broker, TRANSACTIONAL_ID_NOT_FOUND for an id never initialised
/// (or forgotten).
pub(crate) async fn describe_transactions(
    conn: &mut Conn,
    _h: &Header,
    req: DescribeTransactionsRequest,
) -> DescribeTransactionsResponse {
    use describe_transactions_response::TransactionState;
    let states = req
        .transactional_ids
        .iter()
        .map(|id| {
            let failed = |e: i16| {
                TransactionState::default()
                    .with_transactional_id(id.clone())
                    .with_error_code(e)
            };
            if !coordinates(conn, id) {
                return failed(code::NOT_COORDINATOR);
            }
            match conn.shared.txns.describe(id) {
                Some(t) => described(t),
                None => failed(ErrorCode::TRANSACTIONAL_ID_NOT_FOUND.0),
            }
        })
        .collect();
    DescribeTransactionsResponse::default().with_transaction_states(states)
}

/// DescribeProducers v0, at the partition leader: every producer with state
/// in the partition's log; NOT_LEADER_OR_FOLLOWER at another broker,
/// UNKNOWN_TOPIC_OR_PARTITION for one that does not exist.
pub(crate) async fn describe_producers(
    conn: &mut Conn,
    _h: &Header,
    req: DescribeProducersRequest,
) -> DescribeProducersResponse {
    use describe_producers_response::{PartitionResponse, ProducerState, TopicResponse};
    let st = conn.shared.lock();
    let topics = req
        .topics
        .iter()
        .map(|t| {
            let partitions = t
                .partition_indexes
                .iter()
                .map(|&index| {
                    let r = PartitionResponse::default().with_partition_index(index);
                    match led_by(&st, &t.name, index, conn.broker_id, -1) {
                        Err(e) => r
                            .with_error_code(e)
                            .with_error_message(Some(str_bytes(ErrorCode(e).name()))),
                        Ok(p) => r.with_active_producers(
                            p.log
                                .active_producers()
                                .into_iter()
                                .map(|a| {
                                    ProducerState::default()
                                        .with_producer_id(ProducerId(a.producer_id))
                                        .with_producer_epoch(i32::from(a.producer_epoch))
                                        .with_last_sequence(a.last_sequence)
                                        .with_last_timestamp(a.last_timestamp)
                                        .with_coordinator_epoch(a.coordinator_epoch)
                                        .with_current_txn_start_offset(a.current_txn_start_offset)
                                })
                                .collect(),
                        ),
                    }
                })
                .collect();
            TopicResponse::default()
                .with_name(t.name.clone())
                .with_partitions(partitions)
        })
        .collect();
    DescribeProducersResponse::default().with_topics(topics)
}
