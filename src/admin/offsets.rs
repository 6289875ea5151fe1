//! ListOffsets, routed to each partition's leader, with a metadata refresh
//! and retry when the leader moved.

use std::collections::BTreeMap;

use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{BrokerId, ListOffsetsRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::Admin;
use crate::error::{Context, Error, ErrorCode, Result};
use crate::metadata::refresher::is_stale_metadata;

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
        let deadline = tokio::time::Instant::now() + self.client.request_timeout();
        let topics: Vec<&str> = {
            let mut t: Vec<&str> = partitions.iter().map(|(t, _)| *t).collect();
            t.sort_unstable();
            t.dedup();
            t
        };
        let mut done: BTreeMap<Tp, Result<ListedOffset>> = BTreeMap::new();
        let mut pending: Vec<Tp> = partitions
            .iter()
            .map(|(t, p)| (t.to_string(), *p))
            .collect();
        while !pending.is_empty() {
            let metadata = self.client.metadata_for(&topics).await?;
            // Group by leader; partitions without a known leader wait for a refresh.
            let mut by_leader: BTreeMap<i32, Vec<(Tp, i32)>> = BTreeMap::new();
            let mut retry: Vec<(Tp, Error)> = Vec::new();
            for tp in pending.drain(..) {
                let part = metadata.topic(&tp.0).and_then(|t| t.partition(tp.1));
                match part.and_then(|p| p.leader.map(|l| (l, p.leader_epoch))) {
                    Some((leader, epoch)) => by_leader.entry(leader).or_default().push((tp, epoch)),
                    None => {
                        let code = metadata
                            .topic_errors
                            .get(tp.0.as_str())
                            .copied()
                            .or_else(|| part.and_then(|p| p.error))
                            .unwrap_or(ErrorCode::LEADER_NOT_AVAILABLE);
                        let err = Error::Broker {
                            code,
                            message: None,
                            context: Context::api("ListOffsets")
                                .with_topic(tp.0.as_str())
                                .with_partition(tp.1),
                        };
                        retry.push((tp, err));
                    }
                }
            }
            for (leader, tps) in by_leader {
                match self
                    .list_offsets_at(leader, &tps, spec, isolation_level)
                    .await
                {
                    Ok(results) => {
                        for (tp, result) in results {
                            match result {
                                Err(e) if is_stale_metadata(&e) => retry.push((tp, e)),
                                other => {
                                    done.insert(tp, other);
                                }
                            }
                        }
                    }
                    Err(e) if e.is_retriable() => {
                        retry.extend(tps.into_iter().map(|(tp, _)| (tp, e.clone())))
                    }
                    Err(e) => return Err(e),
                }
            }
            if retry.is_empty() {
                break;
            }
            if !patient {
                if let Some((_, e)) = retry.first() {
                    self.client
                        .metadata_handle()
                        .on_error(e, metadata.generation);
                }
                done.extend(retry.into_iter().map(|(tp, e)| (tp, Err(e))));
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                done.extend(retry.into_iter().map(|(tp, e)| (tp, Err(e))));
                break;
            }
            tracing::debug!(
                partitions = retry.len(),
                "leaders moved; refreshing metadata"
            );
            tokio::time::sleep(self.client.retry_backoff()).await;
            self.client
                .metadata_handle()
                .refresh(metadata.generation)
                .await?;
            pending = retry.into_iter().map(|(tp, _)| tp).collect();
        }
        Ok(partitions
            .iter()
            .map(|(t, p)| {
                let tp = (t.to_string(), *p);
                let result = done.remove(&tp).unwrap_or_else(|| {
                    Err(Error::protocol(
                        "partition missing from response",
                        Context::api("ListOffsets"),
                    ))
                });
                (tp, result)
            })
            .collect())
    }

    async fn list_offsets_at(
        &self,
        leader: i32,
        tps: &[(Tp, i32)],
        spec: OffsetSpec,
        isolation_level: i8,
    ) -> Result<Vec<(Tp, Result<ListedOffset>)>> {
        let mut topics: BTreeMap<&str, Vec<ListOffsetsPartition>> = BTreeMap::new();
        for ((topic, partition), epoch) in tps {
            topics.entry(topic.as_str()).or_default().push(
                ListOffsetsPartition::default()
                    .with_partition_index(*partition)
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
                let tp = (t.name.0.to_string(), p.partition_index);
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
