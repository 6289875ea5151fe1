//! ListOffsets, routed to each partition's leader, with a metadata refresh
//! and retry when the leader moved.

use std::collections::BTreeMap;

use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{BrokerId, ListOffsetsRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::Admin;
use super::leaders::{LeaderAnswer, Rounds};
use crate::TopicPartition;
use crate::error::{Context, Error, Result};

/// Which offset to look up (Java's `OffsetSpec`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    /// The log start offset.
    Earliest,
    /// The log end offset (high watermark; for `read_committed`, the last
    /// stable offset).
    Latest,
    /// The offset of the record with the largest timestamp (KIP-734).
    MaxTimestamp,
    /// The first offset whose timestamp is at or after this (ms since epoch).
    ForTimestamp(i64),
}

impl OffsetSpec {
    fn wire(self) -> i64 {
        match self {
            OffsetSpec::Earliest => -2,
            OffsetSpec::Latest => -1,
            OffsetSpec::MaxTimestamp => -3,
            OffsetSpec::ForTimestamp(ts) => ts,
        }
    }
}

/// An offset found by [`Admin::list_offsets`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListedOffset {
    /// The offset; -1 when no record matches a timestamp query.
    pub offset: i64,
    /// The record's timestamp for timestamp queries, else -1.
    pub timestamp: i64,
    /// The leader epoch of that offset, -1 if unknown.
    pub leader_epoch: i32,
}

type Tp = (String, i32);

impl Admin {
    /// Looks up offsets (ListOffsets) for each partition at its leader.
    /// Partitions whose leader moved (`NOT_LEADER_OR_FOLLOWER`,
    /// `FENCED_LEADER_EPOCH`, ...) are retried after a metadata refresh until
    /// the request timeout has passed. One result per partition, in order.
    pub async fn list_offsets(
        &self,
        partitions: &[(&str, i32)],
        spec: OffsetSpec,
    ) -> Result<Vec<(Tp, Result<ListedOffset>)>> {
        self.list_offsets_isolated(partitions, spec, 0).await
    }

    /// [`list_offsets`](Self::list_offsets) at an isolation level (the
    /// wire value: 0 read_uncommitted, 1 read_committed). With
    /// read_committed, `Latest` is the last stable offset, as a
    /// read_committed consumer needs it (Java's `ListOffsetsOptions`).
    pub(crate) async fn list_offsets_isolated(
        &self,
        partitions: &[(&str, i32)],
        spec: OffsetSpec,
        isolation_level: i8,
    ) -> Result<Vec<(Tp, Result<ListedOffset>)>> {
        self.list_offsets_rounds(partitions, spec, isolation_level, true)
            .await
    }

    /// One round of [`list_offsets_isolated`](Self::list_offsets_isolated):
    /// partitions without a leader, or whose leader moved, get their
    /// (retriable) error at once and a metadata refresh is asked for. The
    /// consumer's position lookups use it, so that one partition without a
    /// leader (or not created yet) does not hold up the others: it is
    /// retried on a later poll.
    pub(crate) async fn list_offsets_once(
        &self,
        partitions: &[(&str, i32)],
        spec: OffsetSpec,
        isolation_level: i8,
    ) -> Result<Vec<(Tp, Result<ListedOffset>)>> {
        self.list_offsets_rounds(partitions, spec, isolation_level, false)
            .await
    }

    async fn list_offsets_rounds(
        &self,
        partitions: &[(&str, i32)],
        spec: OffsetSpec,
        isolation_level: i8,
        patient: bool,
    ) -> Result<Vec<(Tp, Result<ListedOffset>)>> {
        let tps: Vec<TopicPartition> = partitions
            .iter()
            .map(|(t, p)| TopicPartition::new(*t, *p))
            .collect();
        let rounds = if patient {
            Rounds::UntilTimeout
        } else {
            Rounds::Once
        };
        let results = self
            .route_to_leaders("ListOffsets", &tps, rounds, |leader, tps| {
                self.list_offsets_at(leader, tps, spec, isolation_level)
            })
            .await?;
        Ok(results
            .into_iter()
            .map(|(tp, r)| ((tp.topic.to_string(), tp.partition), r))
            .collect())
    }

    /// One ListOffsets request to `leader` for `tps` (each with the leader
    /// epoch it was routed by).
    async fn list_offsets_at(
        &self,
        leader: i32,
        tps: Vec<(TopicPartition, i32)>,
        spec: OffsetSpec,
        isolation_level: i8,
    ) -> LeaderAnswer<ListedOffset> {
        let mut topics: BTreeMap<&str, Vec<ListOffsetsPartition>> = BTreeMap::new();
        for (tp, epoch) in &tps {
            topics.entry(&*tp.topic).or_default().push(
                ListOffsetsPartition::default()
                    .with_partition_index(tp.partition)
                    // KIP-320: a leader with a newer epoch answers FENCED_LEADER_EPOCH
                    // instead of serving us from a stale view.
                    .with_current_leader_epoch(*epoch)
                    .with_timestamp(spec.wire()),
            );
        }
        let req = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_isolation_level(isolation_level)
            .with_topics(
                topics
                    .into_iter()
                    .map(|(t, parts)| {
                        ListOffsetsTopic::default()
                            .with_name(TopicName(StrBytes::from_string(t.to_owned())))
                            .with_partitions(parts)
                    })
                    .collect(),
            );
        let resp = self.client.send_to(leader, req).await?;
        let mut out = Vec::new();
        for t in resp.topics {
            for p in t.partitions {
                let tp = TopicPartition::new(t.name.0.as_str(), p.partition_index);
                let ctx = || {
                    Context::api("ListOffsets")
                        .with_broker(leader)
                        .with_topic(t.name.0.as_str())
                        .with_partition(p.partition_index)
                };
                let result = Error::check(p.error_code, None, ctx).map(|()| ListedOffset {
                    offset: p.offset,
                    timestamp: p.timestamp,
                    leader_epoch: p.leader_epoch,
                });
                out.push((tp, result));
            }
        }
        Ok(out)
    }
}
