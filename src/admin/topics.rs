//! CreateTopics, DeleteTopics, and topic/cluster descriptions from Metadata.

use std::time::Duration;

use kafka_protocol::messages::create_topics_request::{
    CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig,
};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    BrokerId, CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest, DeleteTopicsResponse,
    MetadataRequest, MetadataResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::Admin;
use crate::error::{Context, Error, ErrorCode, Result};
use crate::metadata::{BrokerInfo, ClusterMetadata, TopicMetadata};

/// A topic to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopic {
    /// Topic name.
    pub name: String,
    /// Number of partitions; -1 for the broker's `num.partitions`.
    pub num_partitions: i32,
    /// Replication factor; -1 for the broker's `default.replication.factor`.
    pub replication_factor: i16,
    /// Topic configs, e.g. `("cleanup.policy", "compact")`.
    pub configs: Vec<(String, String)>,
    /// Explicit replica placement: broker ids per partition, preferred
    /// leader first (then the counts are -1 on the wire, as Kafka wants).
    pub assignments: Option<Vec<Vec<i32>>>,
}

impl NewTopic {
    /// A topic with `num_partitions` partitions and `replication_factor` replicas.
    pub fn new(name: impl Into<String>, num_partitions: i32, replication_factor: i16) -> NewTopic {
        NewTopic {
            name: name.into(),
            num_partitions,
            replication_factor,
            configs: Vec::new(),
            assignments: None,
        }
    }

    /// A topic whose partitions are placed on these brokers: one list of
    /// broker ids per partition, preferred leader first
    /// (`kafka-topics --create --replica-assignment`).
    pub fn with_replica_assignment(
        name: impl Into<String>,
        assignments: Vec<Vec<i32>>,
    ) -> NewTopic {
        NewTopic {
            name: name.into(),
            num_partitions: -1,
            replication_factor: -1,
            configs: Vec::new(),
            assignments: Some(assignments),
        }
    }

    /// Adds a topic config.
    pub fn with_config(mut self, key: impl Into<String>, value: impl Into<String>) -> NewTopic {
        self.configs.push((key.into(), value.into()));
        self
    }
}

/// A topic as listed by [`Admin::list_topics`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TopicListing {
    /// Topic name.
    pub name: String,
    /// Topic id (zero where the broker has none).
    pub topic_id: [u8; 16],
    /// Whether it is internal (`__consumer_offsets`, ...).
    pub is_internal: bool,
}

/// A topic as [`Admin::describe_topics`] describes it (Java's
/// `TopicDescription`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TopicDescription {
    /// Topic name.
    pub name: String,
    /// Topic id (all zero where the broker has none).
    pub topic_id: [u8; 16],
    /// Whether it is internal.
    pub is_internal: bool,
    /// Partitions with leader, replicas and ISR, sorted by index.
    pub partitions: Vec<crate::metadata::PartitionMetadata>,
    /// What the caller may do with the topic, when the broker says.
    pub authorized_operations: Option<Vec<super::AclOperation>>,
}

/// What [`Admin::describe_cluster`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterDescription {
    /// Cluster id.
    pub cluster_id: Option<String>,
    /// Controller node id, if reported.
    pub controller: Option<i32>,
    /// Brokers, sorted by id.
    pub brokers: Vec<BrokerInfo>,
    /// What the caller may do with the cluster, when the broker says
    /// (DescribeCluster).
    pub authorized_operations: Option<Vec<super::AclOperation>>,
}

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_owned()))
}

impl Admin {
    /// Creates topics (CreateTopics). Returns one result per topic, in the
    /// order given; `TOPIC_ALREADY_EXISTS` and friends come back per topic.
    /// Sent to the controller when metadata names one (any broker forwards
    /// since KIP-590); retried on `NOT_CONTROLLER`.
    pub async fn create_topics(
        &self,
        topics: impl IntoIterator<Item = NewTopic>,
    ) -> Result<Vec<(String, Result<()>)>> {
        self.create_topics_checked(topics.into_iter().collect(), false)
            .await
    }

    /// Checks what [`create_topics`](Admin::create_topics) would do
    /// (CreateTopics with `validate_only`): names, counts, configs and
    /// placement are validated and nothing is created.
    pub async fn validate_create_topics(
        &self,
        topics: impl IntoIterator<Item = NewTopic>,
    ) -> Result<Vec<(String, Result<()>)>> {
        self.create_topics_checked(topics.into_iter().collect(), true)
            .await
    }

    async fn create_topics_checked(
        &self,
        topics: Vec<NewTopic>,
        validate_only: bool,
    ) -> Result<Vec<(String, Result<()>)>> {
        let timeout = self.client.request_timeout();
        let req = CreateTopicsRequest::default()
            .with_timeout_ms(timeout_ms(timeout))
            .with_validate_only(validate_only)
            .with_topics(
                topics
                    .iter()
                    .map(|t| {
                        CreatableTopic::default()
                            .with_name(name(&t.name))
                            .with_num_partitions(t.num_partitions)
                            .with_replication_factor(t.replication_factor)
                            .with_assignments(
                                t.assignments
                                    .iter()
                                    .flatten()
                                    .enumerate()
                                    .map(|(i, brokers)| {
                                        CreatableReplicaAssignment::default()
                                            .with_partition_index(i as i32)
                                            .with_broker_ids(
                                                brokers.iter().map(|b| BrokerId(*b)).collect(),
                                            )
                                    })
                                    .collect(),
                            )
                            .with_configs(
                                t.configs
                                    .iter()
                                    .map(|(k, v)| {
                                        CreatableTopicConfig::default()
                                            .with_name(StrBytes::from_string(k.clone()))
                                            .with_value(Some(StrBytes::from_string(v.clone())))
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            );
        let (broker, resp): (_, CreateTopicsResponse) = self
            .send_to_controller(req, "CreateTopics", |r: &CreateTopicsResponse| {
                r.topics
                    .iter()
                    .any(|t| t.error_code == ErrorCode::NOT_CONTROLLER.0)
            })
            .await?;
        Ok(per_topic(
            topics.iter().map(|t| t.name.as_str()),
            resp.topics
                .iter()
                .map(|t| (t.name.0.as_str(), t.error_code, t.error_message.as_deref())),
            Context::api("CreateTopics"),
            broker,
        ))
    }

    /// Deletes topics by name (DeleteTopics). One result per topic, in order.
    pub async fn delete_topics(&self, names: &[&str]) -> Result<Vec<(String, Result<()>)>> {
        let timeout = self.client.request_timeout();
        let req = DeleteTopicsRequest::default()
            .with_timeout_ms(timeout_ms(timeout))
            .with_topic_names(names.iter().map(|n| name(n)).collect())
            .with_topics(
                names
                    .iter()
                    .map(|n| {
                        kafka_protocol::messages::delete_topics_request::DeleteTopicState::default()
                            .with_name(Some(name(n)))
                    })
                    .collect(),
            );
        let (broker, resp): (_, DeleteTopicsResponse) = self
            .send_to_controller(req, "DeleteTopics", |r: &DeleteTopicsResponse| {
                r.responses
                    .iter()
                    .any(|t| t.error_code == ErrorCode::NOT_CONTROLLER.0)
            })
            .await?;
        let results = resp.responses.iter().map(|t| {
            (
                t.name.as_ref().map(|n| n.0.as_str()).unwrap_or(""),
                t.error_code,
                t.error_message.as_deref(),
            )
        });
        Ok(per_topic(
            names.iter().copied(),
            results,
            Context::api("DeleteTopics"),
            broker,
        ))
    }

    /// Deletes topics by topic id (DeleteTopics v6+), which names the
    /// exact incarnation of a topic: a topic deleted and created again
    /// under the same name is not touched. One result per id, in order.
    pub async fn delete_topics_by_id(
        &self,
        ids: &[[u8; 16]],
    ) -> Result<Vec<([u8; 16], Result<()>)>> {
        let req = DeleteTopicsRequest::default()
            .with_timeout_ms(timeout_ms(self.client.request_timeout()))
            .with_topics(
                ids.iter()
                    .map(|id| {
                        kafka_protocol::messages::delete_topics_request::DeleteTopicState::default()
                            .with_topic_id(uuid_of(*id))
                    })
                    .collect(),
            );
        let (broker, resp): (_, DeleteTopicsResponse) = self
            .send_to_controller(req, "DeleteTopics", |r: &DeleteTopicsResponse| {
                r.responses
                    .iter()
                    .any(|t| t.error_code == ErrorCode::NOT_CONTROLLER.0)
            })
            .await?;
        Ok(ids
            .iter()
            .map(|id| {
                let context = || {
                    super::answered_by(Context::api("DeleteTopics"), broker)
                        .with_resource("topic-id", hex(id))
                };
                let result = match resp
                    .responses
                    .iter()
                    .find(|t| *t.topic_id.as_bytes() == *id)
                {
                    Some(t) => Error::check(t.error_code, t.error_message.as_deref(), context),
                    None => Err(Error::protocol("topic id missing from response", context())),
                };
                (*id, result)
            })
            .collect())
    }

    /// Lists the cluster's topics, internal ones excluded (as Java's
    /// `listTopics()` by default), sorted by name.
    pub async fn list_topics(&self) -> Result<Vec<TopicListing>> {
        Ok(self
            .list_all_topics()
            .await?
            .into_iter()
            .filter(|t| !t.is_internal)
            .collect())
    }

    /// Lists every topic including internal ones, sorted by name.
    pub async fn list_all_topics(&self) -> Result<Vec<TopicListing>> {
        let resp = self.metadata(None).await?;
        let mut out: Vec<TopicListing> = resp
            .topics
            .into_iter()
            .filter(|t| t.error_code == 0)
            .filter_map(|t| {
                Some(TopicListing {
                    name: t.name?.0.to_string(),
                    topic_id: *t.topic_id.as_bytes(),
                    is_internal: t.is_internal,
                })
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Describes topics from a fresh Metadata request (never auto-creates).
    /// One result per topic, in order; an unknown topic is
    /// `UNKNOWN_TOPIC_OR_PARTITION`.
    pub async fn describe_topics(
        &self,
        names: &[&str],
    ) -> Result<Vec<(String, Result<TopicDescription>)>> {
        let resp = self.metadata(Some(names)).await?;
        let operations: std::collections::HashMap<String, i32> = resp
            .topics
            .iter()
            .filter_map(|t| {
                Some((
                    t.name.as_ref()?.0.to_string(),
                    t.topic_authorized_operations,
                ))
            })
            .collect();
        let view = ClusterMetadata::default().apply(resp, true);
        Ok(names
            .iter()
            .map(|n| {
                let result = match (view.topics.get(*n), view.topic_errors.get(*n)) {
                    (Some(t), _) => {
                        Ok(describe(t, operations.get(*n).copied().unwrap_or(i32::MIN)))
                    }
                    (None, Some(code)) => Err(Error::Broker {
                        code: *code,
                        message: None,
                        context: Context::api("Metadata").with_topic(*n),
                    }),
                    (None, None) => Err(Error::protocol(
                        "topic missing from Metadata response",
                        Context::api("Metadata").with_topic(*n),
                    )),
                };
                (n.to_string(), result)
            })
            .collect())
    }

    /// Describes the cluster: id, controller, brokers and the caller's
    /// authorized operations (those from DescribeCluster, where the broker
    /// speaks it).
    pub async fn describe_cluster(&self) -> Result<ClusterDescription> {
        let resp = self.metadata(Some(&[])).await?;
        let view = ClusterMetadata::default().apply(resp, true);
        let request = kafka_protocol::messages::DescribeClusterRequest::default()
            .with_include_cluster_authorized_operations(true);
        // Brokers without DescribeCluster (before KIP-700) still describe.
        let authorized_operations = match self.client.send_any(request).await {
            Ok((_, r)) if r.error_code == 0 => {
                super::acls::authorized_operations(r.cluster_authorized_operations)
            }
            _ => None,
        };
        Ok(ClusterDescription {
            cluster_id: view.cluster_id,
            controller: view.controller,
            brokers: view.brokers.into_values().collect(),
            authorized_operations,
        })
    }

    /// A Metadata request of our own, with auto-creation off: admin calls
    /// must never create what they describe.
    pub(super) async fn metadata(&self, topics: Option<&[&str]>) -> Result<MetadataResponse> {
        let req = MetadataRequest::default()
            .with_allow_auto_topic_creation(false)
            .with_include_topic_authorized_operations(true)
            .with_topics(topics.map(|ts| {
                ts.iter()
                    .map(|t| MetadataRequestTopic::default().with_name(Some(name(t))))
                    .collect()
            }));
        let (_, resp) = self.client.send_any(req).await?;
        Ok(resp)
    }

    /// Sends to the controller (or any broker if none is known), refreshing
    /// metadata and retrying while the response says `NOT_CONTROLLER`, until
    /// the request timeout has passed.
    pub(super) async fn send_to_controller<R>(
        &self,
        req: R,
        api: &'static str,
        not_controller: impl Fn(&R::Response) -> bool,
    ) -> Result<(Option<i32>, R::Response)>
    where
        R: crate::protocol::versions::VersionedRequest + Clone,
        R::Response: crate::protocol::versions::ThrottleTime,
    {
        let deadline = tokio::time::Instant::now() + self.client.request_timeout();
        loop {
            let controller = self.client.metadata().controller;
            let attempt = match controller {
                Some(id) => self
                    .client
                    .send_to(id, req.clone())
                    .await
                    .map(|r| (Some(id), r)),
                None => self.client.send_any(req.clone()).await,
            };
            let retry = match &attempt {
                Ok((_, resp)) => not_controller(resp),
                Err(e) => e.is_retriable(),
            };
            if !retry || tokio::time::Instant::now() >= deadline {
                return attempt.map_err(|e| {
                    e.map_context(|c| Context {
                        api: Some(api),
                        ..c
                    })
                });
            }
            tracing::debug!(api, "controller moved or unreachable; refreshing metadata");
            tokio::time::sleep(self.client.retry_backoff()).await;
            let _ = self.client.refresh_metadata().await;
        }
    }
}

fn describe(t: &TopicMetadata, operations: i32) -> TopicDescription {
    TopicDescription {
        name: t.name.to_string(),
        topic_id: t.topic_id,
        is_internal: t.is_internal,
        partitions: t.partitions.clone(),
        authorized_operations: super::acls::authorized_operations(operations),
    }
}

fn uuid_of(id: [u8; 16]) -> uuid::Uuid {
    uuid::Uuid::from_bytes(id)
}

fn hex(id: &[u8; 16]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn timeout_ms(d: Duration) -> i32 {
    d.as_millis().min(i32::MAX as u128) as i32
}

/// Matches per-topic answers to the names asked for, in the asked order.
pub(super) fn per_topic<'a>(
    asked: impl Iterator<Item = &'a str>,
    answered: impl Iterator<Item = (&'a str, i16, Option<&'a str>)>,
    context: Context,
    broker: Option<i32>,
) -> Vec<(String, Result<()>)> {
    let answered: Vec<(&str, i16, Option<&str>)> = answered.collect();
    let context = match broker {
        Some(id) => context.with_broker(format!("node {id}")),
        None => context,
    };
    asked
        .map(|n| {
            let result = match answered.iter().find(|(name, _, _)| *name == n) {
                Some((_, code, msg)) => Error::check(*code, *msg, || context.clone().with_topic(n)),
                None => Err(Error::protocol(
                    "topic missing from response",
                    context.clone().with_topic(n),
                )),
            };
            (n.to_string(), result)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_topic_keeps_order_and_reports_missing() {
        let r = per_topic(
            ["a", "b", "c"].into_iter(),
            [("c", 0, None), ("a", 36, Some("exists"))].into_iter(),
            Context::api("CreateTopics"),
            Some(7),
        );
        // Each error names the API, the broker that answered and the topic.
        assert_eq!(
            r[0].1.as_ref().unwrap_err().to_string(),
            "broker error TOPIC_ALREADY_EXISTS (36): exists [api=CreateTopics broker=node 7 topic=a]"
        );
        assert_eq!(r[0].0, "a");
        assert_eq!(
            r[0].1.as_ref().unwrap_err().code(),
            Some(ErrorCode::TOPIC_ALREADY_EXISTS)
        );
        assert!(matches!(r[1].1, Err(Error::Protocol { .. })));
        assert!(r[2].1.is_ok());
    }
}
