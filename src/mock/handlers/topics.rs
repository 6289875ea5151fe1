//! CreateTopics, DeleteTopics, CreatePartitions and DeleteRecords. With
//! ACLs on they need Create (on the cluster or the topic), Delete, Alter
//! and Delete on each topic; a topic without is answered with
//! TOPIC_AUTHORIZATION_FAILED and the others are handled.

use kafka_protocol::messages::*;

use super::{code, led_by_mut, str_bytes, topic_name};
use crate::mock::acl::{self, Operation, ResourceType};
use crate::mock::config::{TopicConfigs, valid_topic_name, validate_topic_config};
use crate::mock::connection::Conn;
use crate::mock::dispatch::Header;

pub(crate) async fn create_topics(
    conn: &mut Conn,
    h: &Header,
    req: CreateTopicsRequest,
) -> CreateTopicsResponse {
    use create_topics_response::CreatableTopicResult;
    let shared = conn.shared.clone();
    let mut st = shared.lock();
    let n_brokers = st.brokers.len() as i16;
    let mut results = Vec::new();
    for t in &req.topics {
        let name = t.name.to_string();
        let mut r = CreatableTopicResult::default()
            .with_name(t.name.clone())
            .with_num_partitions(-1)
            .with_replication_factor(-1);
        let fail = |r: CreatableTopicResult, code: i16, msg: String| {
            r.with_error_code(code)
                .with_error_message(Some(str_bytes(&msg)))
        };
        // Authorized before validated, as Kafka does.
        if !super::metadata::may_create_topic(conn, &name) {
            results.push(fail(
                r,
                code::TOPIC_AUTHORIZATION_FAILED,
                "Authorization failed.".into(),
            ));
            continue;
        }
        if !valid_topic_name(&name) {
            results.push(fail(
                r,
                code::INVALID_TOPIC_EXCEPTION,
                format!("Invalid topic name {name}"),
            ));
            continue;
        }
        if st.topics.contains_key(&name) {
            results.push(fail(
                r,
                code::TOPIC_ALREADY_EXISTS,
                format!("Topic '{name}' already exists."),
            ));
            continue;
        }
        let mut configs = TopicConfigs::new();
        let mut bad_config = None;
        for c in &t.configs {
            let value = c.value.as_deref().unwrap_or_default();
            match validate_topic_config(&c.name, value) {
                Ok(()) => {
                    configs.insert(c.name.to_string(), value.to_owned());
                }
                Err(msg) => bad_config = Some(msg),
            }
        }
        if let Some(msg) = bad_config {
            results.push(fail(r, code::INVALID_CONFIG, msg));
            continue;
        }
        let assignments: Vec<Vec<i32>> = t
            .assignments
            .iter()
            .map(|a| a.broker_ids.iter().map(|b| b.0).collect())
            .collect();
        let (partitions, rf) = if assignments.is_empty() {
            let partitions = if t.num_partitions == -1 {
                shared.settings.default_partitions
            } else {
                t.num_partitions
            };
            let rf = if t.replication_factor == -1 {
                shared.settings.default_replication_factor
            } else {
                t.replication_factor
            };
            (partitions, rf)
        } else {
            let unknown = assignments
                .iter()
                .flatten()
                .any(|b| !st.brokers.contains_key(b));
            if unknown || t.num_partitions != -1 || t.replication_factor != -1 {
                results.push(fail(
                    r,
                    code::INVALID_REPLICA_ASSIGNMENT,
                    "Invalid replica assignment".into(),
                ));
                continue;
            }
            (assignments.len() as i32, assignments[0].len() as i16)
        };
        if partitions <= 0 {
            results.push(fail(
                r,
                code::INVALID_PARTITIONS,
                "Number of partitions must be larger than 0.".into(),
            ));
            continue;
        }
        if rf <= 0 || rf > n_brokers {
            results.push(fail(
                r,
                code::INVALID_REPLICATION_FACTOR,
                format!("Replication factor: {rf} larger than available brokers: {n_brokers}."),
            ));
            continue;
        }
        r = r
            .with_num_partitions(partitions)
            .with_replication_factor(rf);
        if !req.validate_only {
            if assignments.is_empty() {
                st.create_topic(&name, partitions, rf, configs);
            } else {
                st.create_topic(&name, partitions, rf, configs);
                st.set_replicas(&name, assignments);
            }
            if let Some(topic) = st.topics.get(&name) {
                r = r.with_topic_id(topic.id);
            }
        }
        if h.version >= 5 {
            r = r.with_configs(Some(Vec::new()));
        }
        results.push(r);
    }
    CreateTopicsResponse::default().with_topics(results)
}

pub(crate) async fn delete_topics(
    conn: &mut Conn,
    _h: &Header,
    req: DeleteTopicsRequest,
) -> DeleteTopicsResponse {
    use delete_topics_response::DeletableTopicResult;
    let mut st = conn.shared.lock();
    let mut wanted: Vec<(Option<String>, uuid::Uuid)> = req
        .topic_names
        .iter()
        .map(|n| (Some(n.to_string()), uuid::Uuid::nil()))
        .collect();
    wanted.extend(
        req.topics
            .iter()
            .map(|t| (t.name.as_ref().map(|n| n.to_string()), t.topic_id)),
    );
    let responses = wanted
        .into_iter()
        .map(|(name, id)| {
            let name = name.or_else(|| {
                st.topics
                    .iter()
                    .find(|(_, t)| t.id == id)
                    .map(|(n, _)| n.clone())
            });
            let mut r = DeletableTopicResult::default().with_topic_id(id);
            match name {
                Some(n) if !acl::allowed(conn, Operation::Delete, ResourceType::Topic, &n) => r
                    .with_name(Some(topic_name(&n)))
                    .with_error_code(code::TOPIC_AUTHORIZATION_FAILED),
                Some(n) => {
                    r = r.with_name(Some(topic_name(&n)));
                    match st.topics.remove(&n) {
                        Some(t) => r.with_topic_id(t.id),
                        None => r.with_error_code(code::UNKNOWN_TOPIC_OR_PARTITION),
                    }
                }
                // Named by an id no topic has (Kafka's DeleteTopics v6+).
                None => r.with_error_code(code::UNKNOWN_TOPIC_ID),
            }
        })
        .collect();
    drop(st);
    conn.shared.notify_data();
    DeleteTopicsResponse::default().with_responses(responses)
}

pub(crate) async fn create_partitions(
    conn: &mut Conn,
    _h: &Header,
    req: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    use create_partitions_response::CreatePartitionsTopicResult;
    let mut st = conn.shared.lock();
    let results = req
        .topics
        .iter()
        .map(|t| {
            let r = CreatePartitionsTopicResult::default().with_name(t.name.clone());
            if !acl::allowed(conn, Operation::Alter, ResourceType::Topic, &t.name) {
                return r.with_error_code(code::TOPIC_AUTHORIZATION_FAILED);
            }
            let Some(topic) = st.topics.get(t.name.as_str()) else {
                return r.with_error_code(code::UNKNOWN_TOPIC_OR_PARTITION);
            };
            let current = topic.partitions.len() as i32;
            if t.count <= current {
                return r.with_error_code(code::INVALID_PARTITIONS).with_error_message(Some(
                    str_bytes(&format!(
                        "Topic currently has {current} partitions, which is higher than the requested {}.",
                        t.count
                    )),
                ));
            }
            let rf = topic.partitions.first().map_or(1, |p| p.replicas.len() as i16);
            if !req.validate_only {
                let new: Vec<_> = (current..t.count)
                    .map(|p| st.new_partition(st.assign_replicas(p, rf)))
                    .collect();
                if let Some(topic) = st.topics.get_mut(t.name.as_str()) {
                    topic.partitions.extend(new);
                }
            }
            r
        })
        .collect();
    CreatePartitionsResponse::default().with_results(results)
}

pub(crate) async fn delete_records(
    conn: &mut Conn,
    _h: &Header,
    req: DeleteRecordsRequest,
) -> DeleteRecordsResponse {
    use delete_records_response::*;
    let broker = conn.broker_id;
    let mut st = conn.shared.lock();
    let topics = req
        .topics
        .iter()
        .map(|t| {
            let deletable = acl::allowed(conn, Operation::Delete, ResourceType::Topic, &t.name);
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let r = DeleteRecordsPartitionResult::default()
                        .with_partition_index(p.partition_index);
                    let outcome = if deletable {
                        led_by_mut(&mut st, &t.name, p.partition_index, broker, -1)
                            .and_then(|part| part.log.delete_before(p.offset))
                    } else {
                        Err(code::TOPIC_AUTHORIZATION_FAILED)
                    };
                    match outcome {
                        Ok(low) => r.with_low_watermark(low),
                        Err(e) => r.with_error_code(e).with_low_watermark(-1),
                    }
                })
                .collect();
            DeleteRecordsTopicResult::default()
                .with_name(t.name.clone())
                .with_partitions(partitions)
        })
        .collect();
    DeleteRecordsResponse::default().with_topics(topics)
}
