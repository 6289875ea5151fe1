//! A consumer group's committed offsets (OffsetFetch at its coordinator)
//! and its lag against the partitions' end offsets, read without joining
//! the group (Java's `Admin.listConsumerGroupOffsets`; the lag is what
//! `kafka-consumer-groups.sh --describe` prints).

use std::collections::BTreeMap;

use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::{GroupId, OffsetFetchRequest};
use kafka_protocol::protocol::StrBytes;

use super::Admin;
use super::offsets::OffsetSpec;
use crate::TopicPartition;
use crate::consumer::{IsolationLevel, OffsetAndMetadata};
use crate::error::{Context, Error, Result};
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
        let ctx = || {
            Context::api("OffsetFetch")
                .with_broker(format!("{coordinator} (coordinator of {group_id})"))
        };
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
