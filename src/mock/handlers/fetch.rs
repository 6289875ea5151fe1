//! Fetch: KIP-227 sessions, KIP-74 byte limits, the high watermark or last
//! stable offset as the upper bound by isolation level, the aborted
//! transactions a `read_committed` consumer needs, and long polls that wake
//! when data is appended (a `watch` signal, no timer polling); Read on each
//! topic when ACLs are on.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::fetch_response::*;
use kafka_protocol::messages::*;
use tokio::time::Instant;

use super::{code, led_by, topic_name};
use crate::mock::acl::{self, Operation, ResourceType};
use crate::mock::connection::Conn;
use crate::mock::dispatch::Header;
use crate::mock::fetch_session::{FetchPlan, Tp};
use crate::mock::state::{ClusterState, random_positive_i32};

const READ_COMMITTED: i8 = 1;
/// Longest long poll honoured (clients ask for at most 500 ms by default).
const MAX_WAIT_CAP: Duration = Duration::from_secs(30);

pub(crate) async fn handle(conn: &mut Conn, _h: &Header, req: FetchRequest) -> FetchResponse {
    let broker = conn.broker_id;
    let requested: Vec<(Tp, i64, i32)> = req
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| {
                (
                    (t.topic.to_string(), p.partition),
                    p.fetch_offset,
                    p.partition_max_bytes,
                )
            })
        })
        .collect();
    let leader_epochs: HashMap<Tp, i32> = req
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(|p| ((t.topic.to_string(), p.partition), p.current_leader_epoch))
        })
        .collect();
    let forgotten: Vec<Tp> = req
        .forgotten_topics_data
        .iter()
        .flat_map(|t| t.partitions.iter().map(|&p| (t.topic.to_string(), p)))
        .collect();
    let plan = {
        let mut st = conn.shared.lock();
        let Some(b) = st.brokers.get_mut(&broker) else {
            return FetchResponse::default();
        };
        match b.fetch_sessions.plan(
            req.session_id,
            req.session_epoch,
            requested,
            forgotten,
            random_positive_i32,
        ) {
            Ok(plan) => plan,
            Err(e) => return FetchResponse::default().with_error_code(e),
        }
    };
    // Read on each topic of the session (not only those this request
    // names); a partition of another is answered with
    // TOPIC_AUTHORIZATION_FAILED, as Kafka does.
    let denied: HashSet<String> = plan
        .partitions
        .iter()
        .map(|p| &p.tp.0)
        .filter(|t| !acl::allowed(conn, Operation::Read, ResourceType::Topic, t))
        .cloned()
        .collect();
    let wait = Duration::from_millis(req.max_wait_ms.max(0) as u64).min(MAX_WAIT_CAP);
    let deadline = Instant::now() + wait;
    // Subscribed before the first look, so an append between the look and
    // the wait still wakes us.
    let mut changed = conn.shared.data_changed.subscribe();
    loop {
        changed.borrow_and_update();
        let answer = {
            let st = conn.shared.lock();
            read(&st, broker, &plan, &leader_epochs, &denied, &req)
        };
        let enough = answer.bytes >= req.min_bytes.max(1) as usize || answer.errors;
        let now = Instant::now();
        if enough || now >= deadline {
            return finish(conn, broker, &plan, answer);
        }
        let woke = tokio::time::timeout_at(deadline, changed.changed()).await;
        if !matches!(woke, Ok(Ok(()))) {
            // Timed out (or the cluster is going away): answer with what
            // there is now.
            let answer = {
                let st = conn.shared.lock();
                read(&st, broker, &plan, &leader_epochs, &denied, &req)
            };
            return finish(conn, broker, &plan, answer);
        }
    }
}

/// (high watermark, last stable offset, log start) told to the client.
type Marks = (i64, i64, i64);

struct Answer {
    topics: Vec<(String, Vec<(PartitionData, Marks)>)>,
    bytes: usize,
    errors: bool,
}

fn read(
    st: &ClusterState,
    broker: i32,
    plan: &FetchPlan,
    leader_epochs: &HashMap<Tp, i32>,
    denied: &HashSet<String>,
    req: &FetchRequest,
) -> Answer {
    let mut budget = req.max_bytes.max(0) as usize;
    let mut answer = Answer {
        topics: Vec::new(),
        bytes: 0,
        errors: false,
    };
    for planned in &plan.partitions {
        let (topic, partition) = &planned.tp;
        let epoch = leader_epochs.get(&planned.tp).copied().unwrap_or(-1);
        let mut data = PartitionData::default()
            .with_partition_index(*partition)
            .with_high_watermark(-1)
            .with_last_stable_offset(-1)
            .with_log_start_offset(-1);
        let mut marks = (-1, -1, -1);
        let led = if denied.contains(topic) {
            Err(code::TOPIC_AUTHORIZATION_FAILED)
        } else {
            led_by(st, topic, *partition, broker, epoch)
        };
        match led {
            Err(e) => {
                data = data.with_error_code(e);
                answer.errors = true;
            }
            Ok(part) => {
                let log = &part.log;
                marks = (
                    log.high_watermark(),
                    log.last_stable_offset(),
                    log.log_start_offset(),
                );
                data = data
                    .with_high_watermark(marks.0)
                    .with_last_stable_offset(marks.1)
                    .with_log_start_offset(marks.2);
                let upper = if req.isolation_level == READ_COMMITTED {
                    marks.1
                } else {
                    marks.0
                };
                let limit = (planned.max_bytes.max(0) as usize).min(budget);
                // KIP-74: the first batch of the response comes whatever
                // its size, so a consumer can always make progress.
                let oversize_ok = answer.bytes == 0;
                match log.read(planned.fetch_offset, upper, limit, oversize_ok) {
                    Err(e) => {
                        data = data.with_error_code(e);
                        answer.errors = true;
                    }
                    Ok((bytes, next)) => {
                        if req.isolation_level == READ_COMMITTED {
                            let aborted = log
                                .aborted_between(planned.fetch_offset, next)
                                .into_iter()
                                .map(|a| {
                                    AbortedTransaction::default()
                                        .with_producer_id(ProducerId(a.producer_id))
                                        .with_first_offset(a.first_offset)
                                })
                                .collect();
                            data = data.with_aborted_transactions(Some(aborted));
                        }
                        answer.bytes += bytes.len();
                        budget = budget.saturating_sub(bytes.len());
                        data = data.with_records(Some(bytes));
                    }
                }
            }
        }
        // Incremental sessions leave out partitions without news.
        let has_records = data.records.as_ref().is_some_and(|r| !r.is_empty());
        if plan.incremental
            && data.error_code == 0
            && !has_records
            && planned.last_sent == Some(marks)
        {
            continue;
        }
        if data.records.is_none() {
            data = data.with_records(Some(Bytes::new()));
        }
        match answer.topics.last_mut() {
            Some((t, parts)) if t == topic => parts.push((data, marks)),
            _ => answer.topics.push((topic.clone(), vec![(data, marks)])),
        }
    }
    answer
}

fn finish(conn: &Conn, broker: i32, plan: &FetchPlan, answer: Answer) -> FetchResponse {
    if plan.session_id != 0 {
        let mut st = conn.shared.lock();
        if let Some(b) = st.brokers.get_mut(&broker) {
            for (topic, parts) in &answer.topics {
                for (data, marks) in parts {
                    if data.error_code == 0 {
                        let tp = (topic.clone(), data.partition_index);
                        b.fetch_sessions.record_sent(plan.session_id, &tp, *marks);
                    }
                }
            }
        }
    }
    FetchResponse::default()
        .with_session_id(plan.session_id)
        .with_responses(
            answer
                .topics
                .into_iter()
                .map(|(topic, parts)| {
                    FetchableTopicResponse::default()
                        .with_topic(topic_name(&topic))
                        .with_partitions(parts.into_iter().map(|(d, _)| d).collect())
                })
                .collect(),
        )
}
