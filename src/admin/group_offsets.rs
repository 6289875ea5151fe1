//! A consumer group's committed offsets (OffsetFetch at its coordinator)
//! and its lag against the partitions' end offsets, read without joining
//! the group (Java's `Admin.listConsumerGroupOffsets`; the lag is what
//! `kafka-consumer-groups.sh --describe` prints).

use std::collections::BTreeMap;

use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::{
    GroupId, OffsetCommitRequest, OffsetDeleteRequest, OffsetFetchRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::Admin;
use super::groups::group_context;
use super::offsets::OffsetSpec;
use crate::TopicPartition;
use crate::consumer::{IsolationLevel, OffsetAndMetadata};
use crate::error::{Error, ErrorCode, Result};
use crate::protocol::coordinator::CoordinatorKey;

/// One partition of [`Admin::consumer_group_lag`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PartitionLag {
    /// The group's committed offset.
    pub committed: i64,
    /// The partition's end: high watermark, or the last stable offset for
    /// `read_committed`.
    pub end_offset: i64,
    /// `end_offset - committed`, never negative (a commit can run ahead of
    /// an end offset read a moment earlier).
    pub lag: i64,
}

impl Admin {
    /// The offsets `group_id` has committed, for every partition it
    /// committed (OffsetFetch for all topics at the group's coordinator;
    /// the caller need not be a member). Retries while the coordinator
    /// moves or loads, until the request timeout.
    pub async fn list_consumer_group_offsets(
        &self,
        group_id: &str,
    ) -> Result<BTreeMap<TopicPartition, OffsetAndMetadata>> {
        let deadline = tokio::time::Instant::now() + self.client.request_timeout();
        loop {
            let error = match self.offset_fetch_all(group_id, None).await {
                Ok(offsets) => return Ok(offsets),
                // A broker that cannot answer the all-topics form (Tansu
                // 0.6 answers it with a null array where Kafka's schema
                // has none): name every topic of the cluster instead.
                Err(Error::Protocol { .. }) => {
                    tracing::debug!(
                        group = group_id,
                        "OffsetFetch for all topics unreadable; naming every topic"
                    );
                    match self.offset_fetch_named(group_id).await {
                        Ok(offsets) => return Ok(offsets),
                        Err(e) if e.is_retriable() => e,
                        Err(e) => return Err(e),
                    }
                }
                Err(e) if e.is_retriable() => e,
                Err(e) => return Err(e),
            };
            if tokio::time::Instant::now() >= deadline {
                return Err(error);
            }
            tracing::debug!(group = group_id, %error, "OffsetFetch failed; retrying");
            tokio::time::sleep(self.client.retry_backoff()).await;
        }
    }

    /// OffsetFetch naming every partition of every topic in the cluster.
    async fn offset_fetch_named(
        &self,
        group_id: &str,
    ) -> Result<BTreeMap<TopicPartition, OffsetAndMetadata>> {
        let metadata = self.metadata(None).await?;
        let topics = metadata
            .topics
            .into_iter()
            .filter(|t| t.error_code == 0)
            .filter_map(|t| {
                Some(
                    OffsetFetchRequestTopic::default()
                        .with_name(t.name?)
                        .with_partition_indexes(
                            t.partitions.iter().map(|p| p.partition_index).collect(),
                        ),
                )
            })
            .collect();
        self.offset_fetch_all(group_id, Some(topics)).await
    }

    /// OffsetFetch for `topics`, or for every partition the group
    /// committed when `None`.
    async fn offset_fetch_all(
        &self,
        group_id: &str,
        topics: Option<Vec<OffsetFetchRequestTopic>>,
    ) -> Result<BTreeMap<TopicPartition, OffsetAndMetadata>> {
        let coordinator = self
            .client
            .find_coordinator(CoordinatorKey::Group, group_id)
            .await?;
        // Null topics: every partition the group committed (v2+).
        let request = OffsetFetchRequest::default()
            .with_group_id(GroupId(StrBytes::from_string(group_id.to_owned())))
            .with_topics(topics);
        let ctx = || group_context("OffsetFetch", group_id, Some(coordinator));
        let response = self.client.send_to(coordinator, request).await?;
        Error::check(response.error_code, None, ctx)?;
        let mut out = BTreeMap::new();
        for topic in &response.topics {
            for p in &topic.partitions {
                let tp = TopicPartition::new(topic.name.0.as_str(), p.partition_index);
                Error::check(p.error_code, None, || {
                    ctx()
                        .with_topic(tp.topic.clone())
                        .with_partition(tp.partition)
                })?;
                // -1: nothing committed for this partition.
                if p.committed_offset >= 0 {
                    out.insert(
                        tp,
                        OffsetAndMetadata {
                            offset: p.committed_offset,
                            leader_epoch: (p.committed_leader_epoch >= 0)
                                .then_some(p.committed_leader_epoch),
                            metadata: p.metadata.as_ref().map(|m| m.to_string()),
                        },
                    );
                }
            }
        }
        Ok(out)
    }

    /// How far `group_id` is behind, per partition it has committed:
    /// end offset (high watermark, or last stable offset with
    /// `IsolationLevel::ReadCommitted`, as that group's consumers read)
    /// minus committed offset. Reads committed offsets and end offsets;
    /// never joins the group. A partition whose end offset cannot be read
    /// fails the call.
    pub async fn consumer_group_lag(
        &self,
        group_id: &str,
        isolation: IsolationLevel,
    ) -> Result<BTreeMap<TopicPartition, PartitionLag>> {
        let committed = self.list_consumer_group_offsets(group_id).await?;
        if committed.is_empty() {
            return Ok(BTreeMap::new());
        }
        let partitions: Vec<(&str, i32)> = committed
            .keys()
            .map(|tp| (&*tp.topic, tp.partition))
            .collect();
        let level = match isolation {
            IsolationLevel::ReadCommitted => 1,
            IsolationLevel::ReadUncommitted => 0,
        };
        let ends = self
            .list_offsets_isolated(&partitions, OffsetSpec::Latest, level)
            .await?;
        let mut out = BTreeMap::new();
        for ((topic, partition), end) in ends {
            let tp = TopicPartition::new(topic.as_str(), partition);
            let end = end?.offset;
            let Some(c) = committed.get(&tp) else {
                continue;
            };
            out.insert(
                tp,
                PartitionLag {
                    committed: c.offset,
                    end_offset: end,
                    lag: (end - c.offset).max(0),
                },
            );
        }
        Ok(out)
    }
}

impl Admin {
    /// Sets a group's committed offsets (OffsetCommit as an admin: no
    /// member id, generation -1), as `kafka-consumer-groups
    /// --reset-offsets --execute` does. The coordinator refuses while the
    /// group has members (`UNKNOWN_MEMBER_ID`); check with
    /// [`describe_consumer_groups`](Admin::describe_consumer_groups) first
    /// or use [`reset_consumer_group_offsets`](Admin::reset_consumer_group_offsets).
    /// One result per partition, in order.
    pub async fn alter_consumer_group_offsets(
        &self,
        group_id: &str,
        offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> Result<Vec<(TopicPartition, Result<()>)>> {
        let mut topics: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
        for (tp, o) in offsets {
            topics.entry(&*tp.topic).or_default().push(
                OffsetCommitRequestPartition::default()
                    .with_partition_index(tp.partition)
                    .with_committed_offset(o.offset)
                    .with_committed_leader_epoch(o.leader_epoch.unwrap_or(-1))
                    .with_committed_metadata(Some(StrBytes::from_string(
                        o.metadata.clone().unwrap_or_default(),
                    ))),
            );
        }
        let request = OffsetCommitRequest::default()
            .with_group_id(GroupId(StrBytes::from_string(group_id.to_owned())))
            .with_generation_id_or_member_epoch(-1)
            .with_member_id(StrBytes::from_static_str(""))
            .with_retention_time_ms(-1)
            .with_topics(
                topics
                    .into_iter()
                    .map(|(t, parts)| {
                        OffsetCommitRequestTopic::default()
                            .with_name(TopicName(StrBytes::from_string(t.to_owned())))
                            .with_partitions(parts)
                    })
                    .collect(),
            );
        let (coordinator, response) = self
            .at_group_coordinator("OffsetCommit", group_id, |coordinator| {
                let request = request.clone();
                async move {
                    let response = self.client.send_to(coordinator, request).await?;
                    // A coordinator error is the same for every partition:
                    // surface it whole so it is retried.
                    if let Some(p) = response
                        .topics
                        .iter()
                        .flat_map(|t| &t.partitions)
                        .find(|p| ErrorCode(p.error_code).is_retriable())
                    {
                        Error::check(p.error_code, None, || {
                            group_context("OffsetCommit", group_id, Some(coordinator))
                        })?;
                    }
                    Ok((coordinator, response))
                }
            })
            .await?;
        let answered = partition_codes!(response.topics);
        Ok(per_partition(
            offsets.keys(),
            &answered,
            "OffsetCommit",
            group_id,
            coordinator,
        ))
    }

    /// Deletes a group's committed offsets for some partitions
    /// (OffsetDelete). Refused per partition with
    /// `GROUP_SUBSCRIBED_TO_TOPIC` while members consume the topic.
    pub async fn delete_consumer_group_offsets(
        &self,
        group_id: &str,
        partitions: &[TopicPartition],
    ) -> Result<Vec<(TopicPartition, Result<()>)>> {
        let request = OffsetDeleteRequest::default()
            .with_group_id(GroupId(StrBytes::from_string(group_id.to_owned())))
            .with_topics(
                super::leaders::by_topic(partitions)
                    .into_iter()
                    .map(|(t, parts)| {
                        OffsetDeleteRequestTopic::default()
                            .with_name(TopicName(StrBytes::from_string(t.to_owned())))
                            .with_partitions(
                                parts
                                    .into_iter()
                                    .map(|p| {
                                        OffsetDeleteRequestPartition::default()
                                            .with_partition_index(p)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            );
        let (coordinator, response) = self
            .at_group_coordinator("OffsetDelete", group_id, |coordinator| {
                let request = request.clone();
                async move {
                    let response = self.client.send_to(coordinator, request).await?;
                    Error::check(response.error_code, None, || {
                        group_context("OffsetDelete", group_id, Some(coordinator))
                    })?;
                    Ok((coordinator, response))
                }
            })
            .await?;
        let answered = partition_codes!(response.topics);
        Ok(per_partition(
            partitions.iter(),
            &answered,
            "OffsetDelete",
            group_id,
            coordinator,
        ))
    }
}

/// Each partition's error code in a response's `topics` (OffsetCommit's
/// and OffsetDelete's have the same shape but different types).
macro_rules! partition_codes {
    ($topics:expr) => {
        $topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(move |p| {
                    (
                        TopicPartition::new(t.name.0.as_str(), p.partition_index),
                        p.error_code,
                    )
                })
            })
            .collect::<BTreeMap<TopicPartition, i16>>()
    };
}
use partition_codes;

/// One result per asked partition from a coordinator's per-partition codes.
fn per_partition<'a>(
    asked: impl Iterator<Item = &'a TopicPartition>,
    answered: &BTreeMap<TopicPartition, i16>,
    api: &'static str,
    group_id: &str,
    coordinator: i32,
) -> Vec<(TopicPartition, Result<()>)> {
    asked
        .map(|tp| {
            let context = || {
                group_context(api, group_id, Some(coordinator))
                    .with_topic(tp.topic.clone())
                    .with_partition(tp.partition)
            };
            let result = match answered.get(tp) {
                Some(code) => Error::check(*code, None, context),
                None => Err(Error::protocol(
                    "partition missing from response",
                    context(),
                )),
            };
            (tp.clone(), result)
        })
        .collect()
}
