//! DescribeConfigs, AlterConfigs and IncrementalAlterConfigs for topics
//! (stored; `max.message.bytes` changes what Produce accepts) and brokers
//! (described, read-only here). With ACLs on, describing needs
//! DescribeConfigs and altering AlterConfigs, on the topic or (for broker
//! configs) the cluster.

use kafka_protocol::messages::*;

use super::{code, str_bytes};
use crate::mock::acl::{self, CLUSTER_NAME, Operation, ResourceType};
use crate::mock::config::{TOPIC_DEFAULTS, TopicConfigs, validate_topic_config};
use crate::mock::connection::Conn;
use crate::mock::dispatch::Header;
use crate::mock::state::Shared;

/// Kafka's `ConfigResource.Type` codes.
const TOPIC: i8 = 2;
const BROKER: i8 = 4;

/// `ConfigSource` codes (KIP-226).
const DYNAMIC_TOPIC_CONFIG: i8 = 1;
const STATIC_BROKER_CONFIG: i8 = 4;
const DEFAULT_CONFIG: i8 = 5;

/// IncrementalAlterConfigs operations.
const SET: i8 = 0;
const DELETE: i8 = 1;
const APPEND: i8 = 2;
const SUBTRACT: i8 = 3;

/// The broker configs described (read-only here), with their values.
fn broker_configs(shared: &Shared) -> Vec<(&'static str, String)> {
    let s = &shared.settings;
    vec![
        (
            "auto.create.topics.enable",
            s.auto_create_topics.to_string(),
        ),
        (
            "default.replication.factor",
            s.default_replication_factor.to_string(),
        ),
        ("message.max.bytes", "1048588".into()),
        ("num.partitions", s.default_partitions.to_string()),
        ("offsets.topic.replication.factor", "3".into()),
        ("transaction.max.timeout.ms", "900000".into()),
    ]
}

pub(crate) async fn describe_configs(
    conn: &mut Conn,
    _h: &Header,
    req: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    use describe_configs_response::*;
    let shared = conn.shared.clone();
    let st = shared.lock();
    let results = req
        .resources
        .iter()
        .map(|r| {
            let mut result = DescribeConfigsResult::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone());
            let wanted = |name: &str| {
                r.configuration_keys
                    .as_ref()
                    .is_none_or(|keys| keys.iter().any(|k| k.as_str() == name))
            };
            let entry = |name: &str, value: String, source: i8, read_only: bool| {
                DescribeConfigsResourceResult::default()
                    .with_name(str_bytes(name))
                    .with_value(Some(str_bytes(&value)))
                    .with_read_only(read_only)
                    .with_config_source(source)
            };
            if let Some(error) = denied(
                conn,
                Operation::DescribeConfigs,
                r.resource_type,
                &r.resource_name,
            ) {
                return result.with_error_code(error);
            }
            match r.resource_type {
                TOPIC => match st.topics.get(r.resource_name.as_str()) {
                    None => {
                        result = result.with_error_code(code::UNKNOWN_TOPIC_OR_PARTITION);
                    }
                    Some(t) => {
                        result.configs = TOPIC_DEFAULTS
                            .iter()
                            .filter(|(name, _)| wanted(name))
                            .map(|(name, default)| match t.configs.get(*name) {
                                Some(v) => entry(name, v.clone(), DYNAMIC_TOPIC_CONFIG, false),
                                None => entry(name, (*default).to_owned(), DEFAULT_CONFIG, false),
                            })
                            .collect();
                    }
                },
                BROKER => {
                    let known = r
                        .resource_name
                        .parse::<i32>()
                        .is_ok_and(|id| st.brokers.contains_key(&id));
                    if known || r.resource_name.is_empty() {
                        result.configs = broker_configs(&shared)
                            .into_iter()
                            .filter(|(name, _)| wanted(name))
                            .map(|(name, v)| entry(name, v, STATIC_BROKER_CONFIG, true))
                            .collect();
                    } else {
                        result = result
                            .with_error_code(code::INVALID_REQUEST)
                            .with_error_message(Some(str_bytes("unknown broker")));
                    }
                }
                _ => {
                    result = result
                        .with_error_code(code::INVALID_REQUEST)
                        .with_error_message(Some(str_bytes("unsupported resource type")));
                }
            }
            result
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

/// The error for a config resource the caller may not `op` (a topic's
/// rights are on the topic, a broker's on the cluster); `None` if allowed.
fn denied(conn: &Conn, op: Operation, resource_type: i8, name: &str) -> Option<i16> {
    match resource_type {
        TOPIC => (!acl::allowed(conn, op, ResourceType::Topic, name))
            .then_some(code::TOPIC_AUTHORIZATION_FAILED),
        BROKER => (!acl::allowed(conn, op, ResourceType::Cluster, CLUSTER_NAME))
            .then_some(code::CLUSTER_AUTHORIZATION_FAILED),
        _ => None,
    }
}

/// Applies `change` to a topic's configs (validated first; nothing changes
/// on an error), or checks it only.
fn alter_topic(
    shared: &Shared,
    topic: &str,
    validate_only: bool,
    change: impl FnOnce(&mut TopicConfigs) -> Result<(), String>,
) -> (i16, Option<String>) {
    let mut st = shared.lock();
    let Some(t) = st.topics.get_mut(topic) else {
        return (code::UNKNOWN_TOPIC_OR_PARTITION, None);
    };
    let mut next = t.configs.clone();
    if let Err(msg) = change(&mut next) {
        return (code::INVALID_CONFIG, Some(msg));
    }
    for (name, value) in &next {
        if let Err(msg) = validate_topic_config(name, value) {
            return (code::INVALID_CONFIG, Some(msg));
        }
    }
    if !validate_only {
        t.configs = next;
    }
    (0, None)
}

/// Broker configs cannot be altered here; other types are not supported.
fn not_alterable(resource_type: i8) -> (i16, Option<String>) {
    let msg = if resource_type == BROKER {
        "broker configs are read-only in the embedded cluster"
    } else {
        "unsupported resource type"
    };
    (code::INVALID_REQUEST, Some(msg.to_owned()))
}

pub(crate) async fn incremental_alter_configs(
    conn: &mut Conn,
    _h: &Header,
    req: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    use incremental_alter_configs_response::AlterConfigsResourceResponse;
    let responses = req
        .resources
        .iter()
        .map(|r| {
            let refused = denied(
                conn,
                Operation::AlterConfigs,
                r.resource_type,
                &r.resource_name,
            );
            let (error, message) = if let Some(error) = refused {
                (error, None)
            } else if r.resource_type == TOPIC {
                alter_topic(&conn.shared, &r.resource_name, req.validate_only, |c| {
                    for op in &r.configs {
                        let name = op.name.to_string();
                        let value = op.value.as_deref().unwrap_or_default().to_owned();
                        match op.config_operation {
                            SET => {
                                c.insert(name, value);
                            }
                            DELETE => {
                                c.remove(&name);
                            }
                            APPEND | SUBTRACT => {
                                let current = c.get(&name).cloned().unwrap_or_else(|| {
                                    crate::mock::config::topic_default(&name)
                                        .unwrap_or_default()
                                        .to_owned()
                                });
                                let mut items: Vec<String> = current
                                    .split(',')
                                    .map(str::trim)
                                    .filter(|s| !s.is_empty())
                                    .map(str::to_owned)
                                    .collect();
                                for v in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                                    if op.config_operation == APPEND {
                                        if !items.iter().any(|i| i == v) {
                                            items.push(v.to_owned());
                                        }
                                    } else {
                                        items.retain(|i| i != v);
                                    }
                                }
                                c.insert(name, items.join(","));
                            }
                            other => return Err(format!("Unknown config operation {other}")),
                        }
                    }
                    Ok(())
                })
            } else {
                not_alterable(r.resource_type)
            };
            AlterConfigsResourceResponse::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone())
                .with_error_code(error)
                .with_error_message(message.map(|m| str_bytes(&m)))
        })
        .collect();
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}

/// AlterConfigs (the legacy call): the given configs replace the topic's.
pub(crate) async fn alter_configs(
    conn: &mut Conn,
    _h: &Header,
    req: AlterConfigsRequest,
) -> AlterConfigsResponse {
    use alter_configs_response::AlterConfigsResourceResponse;
    let responses = req
        .resources
        .iter()
        .map(|r| {
            let refused = denied(
                conn,
                Operation::AlterConfigs,
                r.resource_type,
                &r.resource_name,
            );
            let (error, message) = if let Some(error) = refused {
                (error, None)
            } else if r.resource_type == TOPIC {
                alter_topic(&conn.shared, &r.resource_name, req.validate_only, |c| {
                    *c = r
                        .configs
                        .iter()
                        .map(|a| {
                            (
                                a.name.to_string(),
                                a.value.as_deref().unwrap_or_default().to_owned(),
                            )
                        })
                        .collect();
                    Ok(())
                })
            } else {
                not_alterable(r.resource_type)
            };
            AlterConfigsResourceResponse::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone())
                .with_error_code(error)
                .with_error_message(message.map(|m| str_bytes(&m)))
        })
        .collect();
    AlterConfigsResponse::default().with_responses(responses)
}
