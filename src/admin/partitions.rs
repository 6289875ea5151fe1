//! Partition operations: CreatePartitions (controller), DeleteRecords
//! (each leader), ElectLeaders (controller), DescribeLogDirs (each broker).

use std::collections::BTreeMap;

use kafka_protocol::messages::create_partitions_request::{
    CreatePartitionsAssignment, CreatePartitionsTopic,
};
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::describe_log_dirs_request::DescribableLogDirTopic;
use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use kafka_protocol::messages::{
    BrokerId, CreatePartitionsRequest, CreatePartitionsResponse, DeleteRecordsRequest,
    DescribeLogDirsRequest, ElectLeadersRequest, ElectLeadersResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::leaders::by_topic;
use super::{Admin, answered_by};
use crate::TopicPartition;
use crate::error::{Context, Error, ErrorCode, Result};

/// Which leader [`Admin::elect_leaders`] elects (Java's `ElectionType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElectionType {
    /// The first replica in the assignment, if it is in sync.
    Preferred,
    /// Any live replica, even one out of sync (may lose records).
    Unclean,
}

/// One log directory of a broker, as [`Admin::describe_log_dirs`] shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogDirDescription {
    /// The broker's path of the directory.
    pub path: String,
    /// The directory's error (e.g. `KAFKA_STORAGE_ERROR`), if any.
    pub error: Option<ErrorCode>,
    /// Replicas stored there.
    pub replicas: BTreeMap<TopicPartition, ReplicaInfo>,
    /// Capacity in bytes, when the broker reports it (v4+).
    pub total_bytes: Option<i64>,
    /// Free bytes, when the broker reports it (v4+).
    pub usable_bytes: Option<i64>,
}

/// One replica in a log directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReplicaInfo {
    /// Size on disk in bytes.
    pub size: i64,
    /// How far the replica is behind the leader's end offset.
    pub offset_lag: i64,
    /// Whether this is a future replica being moved here.
    pub is_future: bool,
}

/// A topic's new partition count for [`Admin::create_partitions`]
/// (Java's `NewPartitions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPartitions {
    /// The topic.
    pub topic: String,
    /// The new total number of partitions.
    pub total_count: i32,
    /// Replica broker ids for each new partition; `None` lets the
    /// controller place them.
    pub assignments: Option<Vec<Vec<i32>>>,
}

impl NewPartitions {
    /// Grow `topic` to `total_count` partitions.
    pub fn increase_to(topic: impl Into<String>, total_count: i32) -> NewPartitions {
        NewPartitions {
            topic: topic.into(),
            total_count,
            assignments: None,
        }
    }

    /// Places the new partitions' replicas: one list of broker ids per
    /// new partition, preferred leader first.
    pub fn with_assignments(mut self, assignments: Vec<Vec<i32>>) -> NewPartitions {
        self.assignments = Some(assignments);
        self
    }
}

fn topic_name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_owned()))
}

impl Admin {
    /// Grows topics to a new total partition count (CreatePartitions at
    /// the controller). `validate_only` checks without applying. One
    /// result per topic, in order; shrinking is `INVALID_PARTITIONS`.
    pub async fn create_partitions(
        &self,
        topics: &[NewPartitions],
        validate_only: bool,
    ) -> Result<Vec<(String, Result<()>)>> {
        let request = CreatePartitionsRequest::default()
            .with_timeout_ms(super::topics::timeout_ms(self.client.request_timeout()))
            .with_validate_only(validate_only)
            .with_topics(
                topics
                    .iter()
                    .map(|t| {
                        CreatePartitionsTopic::default()
                            .with_name(topic_name(&t.topic))
                            .with_count(t.total_count)
                            .with_assignments(t.assignments.as_ref().map(|a| {
                                a.iter()
                                    .map(|replicas| {
                                        CreatePartitionsAssignment::default().with_broker_ids(
                                            replicas.iter().map(|b| BrokerId(*b)).collect(),
                                        )
                                    })
                                    .collect()
                            }))
                    })
                    .collect(),
            );
        let (broker, response): (_, CreatePartitionsResponse) = self
            .send_to_controller(
                request,
                "CreatePartitions",
                |r: &CreatePartitionsResponse| {
                    r.results
                        .iter()
                        .any(|t| t.error_code == ErrorCode::NOT_CONTROLLER.0)
                },
            )
            .await?;
        Ok(super::topics::per_topic(
            topics.iter().map(|t| t.topic.as_str()),
            response
                .results
                .iter()
                .map(|t| (t.name.0.as_str(), t.error_code, t.error_message.as_deref())),
            Context::api("CreatePartitions"),
            broker,
        ))
    }

    /// Deletes the records before `offset` in each partition
    /// (DeleteRecords at each leader; `-1` deletes everything up to the
    /// high watermark), as `kafka-delete-records` does. Returns each
    /// partition's new log start offset.
    pub async fn delete_records(
        &self,
        before: &[(TopicPartition, i64)],
    ) -> Result<Vec<(TopicPartition, Result<i64>)>> {
        let offsets: BTreeMap<&TopicPartition, i64> =
            before.iter().map(|(tp, o)| (tp, *o)).collect();
        let partitions: Vec<TopicPartition> = before.iter().map(|(tp, _)| tp.clone()).collect();
        let timeout = super::topics::timeout_ms(self.client.request_timeout());
        self.at_leaders("DeleteRecords", &partitions, |leader, tps| {
            let request = DeleteRecordsRequest::default()
                .with_timeout_ms(timeout)
                .with_topics(
                    by_topic(&tps)
                        .into_iter()
                        .map(|(topic, parts)| {
                            DeleteRecordsTopic::default()
                                .with_name(topic_name(topic))
                                .with_partitions(
                                    parts
                                        .iter()
                                        .map(|p| {
                                            let tp = TopicPartition::new(topic, *p);
                                            DeleteRecordsPartition::default()
                                                .with_partition_index(*p)
                                                .with_offset(
                                                    offsets.get(&tp).copied().unwrap_or(-1),
                                                )
                                        })
                                        .collect(),
                                )
                        })
                        .collect(),
                );
            async move {
                let response = self.client.send_to(leader, request).await?;
                Ok(response
                    .topics
                    .iter()
                    .flat_map(|t| {
                        t.partitions.iter().map(move |p| {
                            let tp = TopicPartition::new(t.name.0.as_str(), p.partition_index);
                            let result = Error::check(p.error_code, None, || {
                                Context::api("DeleteRecords")
                                    .with_broker(format!("node {leader}"))
                                    .with_topic(tp.topic.clone())
                                    .with_partition(tp.partition)
                            })
                            .map(|()| p.low_watermark);
                            (tp, result)
                        })
                    })
                    .collect())
            }
        })
        .await
    }

    /// Elects leaders (ElectLeaders at the controller) for `partitions`,
    /// or for every partition whose preferred replica does not lead when
    /// `None` (`kafka-leader-election --all-topic-partitions`).
    /// `ELECTION_NOT_NEEDED` comes back per partition when the right
    /// replica already leads.
    pub async fn elect_leaders(
        &self,
        election: ElectionType,
        partitions: Option<&[TopicPartition]>,
    ) -> Result<Vec<(TopicPartition, Result<()>)>> {
        let request = ElectLeadersRequest::default()
            .with_election_type(match election {
                ElectionType::Preferred => 0,
                ElectionType::Unclean => 1,
            })
            .with_timeout_ms(super::topics::timeout_ms(self.client.request_timeout()))
            .with_topic_partitions(partitions.map(|ps| {
                by_topic(ps)
                    .into_iter()
                    .map(|(t, parts)| {
                        TopicPartitions::default()
                            .with_topic(topic_name(t))
                            .with_partitions(parts)
                    })
                    .collect()
            }));
        let (broker, response): (_, ElectLeadersResponse) = self
            .send_to_controller(request, "ElectLeaders", |r: &ElectLeadersResponse| {
                r.error_code == ErrorCode::NOT_CONTROLLER.0
            })
            .await?;
        let context = || answered_by(Context::api("ElectLeaders"), broker);
        Error::check(response.error_code, None, context)?;
        let mut answered: BTreeMap<TopicPartition, Result<()>> = BTreeMap::new();
        for t in &response.replica_election_results {
            for p in &t.partition_result {
                let tp = TopicPartition::new(t.topic.0.as_str(), p.partition_id);
                let result = Error::check(p.error_code, p.error_message.as_deref(), || {
                    context()
                        .with_topic(tp.topic.clone())
                        .with_partition(tp.partition)
                });
                answered.insert(tp, result);
            }
        }
        Ok(match partitions {
            None => answered.into_iter().collect(),
            Some(ps) => ps
                .iter()
                .map(|tp| {
                    let result = answered.remove(tp).unwrap_or_else(|| {
                        Err(Error::protocol(
                            "partition missing from response",
                            context()
                                .with_topic(tp.topic.clone())
                                .with_partition(tp.partition),
                        ))
                    });
                    (tp.clone(), result)
                })
                .collect(),
        })
    }

    /// Describes the log directories of each broker (DescribeLogDirs):
    /// which replicas each holds and their sizes (`kafka-log-dirs
    /// --describe`). One result per broker, in order.
    pub async fn describe_log_dirs(
        &self,
        brokers: &[i32],
    ) -> Result<Vec<(i32, Result<Vec<LogDirDescription>>)>> {
        let mut out = Vec::with_capacity(brokers.len());
        for &broker in brokers {
            // Null topics: every replica on the broker.
            let request =
                DescribeLogDirsRequest::default().with_topics(None::<Vec<DescribableLogDirTopic>>);
            let result = self
                .send_to_or_any(Some(broker), request, "DescribeLogDirs")
                .await
                .and_then(|(_, response)| {
                    Error::check(response.error_code, None, || {
                        Context::api("DescribeLogDirs").with_broker(format!("node {broker}"))
                    })?;
                    Ok(response.results.iter().map(log_dir).collect())
                });
            out.push((broker, result));
        }
        Ok(out)
    }
}

fn log_dir(
    d: &kafka_protocol::messages::describe_log_dirs_response::DescribeLogDirsResult,
) -> LogDirDescription {
    let mut replicas = BTreeMap::new();
    for t in &d.topics {
        for p in &t.partitions {
            replicas.insert(
                TopicPartition::new(t.name.0.as_str(), p.partition_index),
                ReplicaInfo {
                    size: p.partition_size,
                    offset_lag: p.offset_lag,
                    is_future: p.is_future_key,
                },
            );
        }
    }
    LogDirDescription {
        path: d.log_dir.as_str().to_owned(),
        error: (d.error_code != 0).then_some(ErrorCode(d.error_code)),
        replicas,
        // -1 from brokers before v4 or that cannot tell.
        total_bytes: (d.total_bytes >= 0).then_some(d.total_bytes),
        usable_bytes: (d.usable_bytes >= 0).then_some(d.usable_bytes),
    }
}
