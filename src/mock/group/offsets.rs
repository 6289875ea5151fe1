//! OffsetCommit, OffsetFetch, OffsetDelete, and the transaction
//! coordinator's hooks for transactional offset commits.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use kafka_protocol::error::ResponseError as E;
use kafka_protocol::messages::offset_commit_response::*;
use kafka_protocol::messages::offset_delete_response::*;
use kafka_protocol::messages::offset_fetch_response::*;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

use super::state::GroupState;
use super::sync::check_member;
use super::{CommittedOffset, Group, GroupCoordinator};

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// The topics a consumer-protocol subscription names: `version: i16`,
/// `topics: [string]` (the rest, user data and owned partitions, is not
/// needed). `None` when the bytes are not a consumer subscription.
pub(super) fn subscribed_topics(metadata: &[u8]) -> Option<Vec<String>> {
    let mut at = 2usize;
    let mut take = |n: usize| {
        let slice = metadata.get(at..at.checked_add(n)?)?;
        at += n;
        Some(slice)
    };
    let count = i32::from_be_bytes(take(4)?.try_into().ok()?);
    let mut topics = Vec::new();
    for _ in 0..count.max(0) {
        let len = i16::from_be_bytes(take(2)?.try_into().ok()?);
        let name = take(usize::try_from(len).ok()?)?;
        topics.push(String::from_utf8(name.to_vec()).ok()?);
    }
    Some(topics)
}

impl GroupCoordinator {
    /// OffsetCommit (v2–v9: what kafka-protocol 0.18 and Kafka 4 speak).
    pub async fn offset_commit(
        &self,
        req: OffsetCommitRequest,
        version: i16,
    ) -> OffsetCommitResponse {
        let mut inner = self.lock();
        // Checked and written under one lock: no rebalance in between.
        let code = commit_check(&inner.groups, &req);
        let gid = req.group_id.to_string();
        let max = self.config.offset_metadata_max_bytes;
        let mut resp = OffsetCommitResponse::default();
        let mut group = if code == 0 {
            Some(inner.groups.entry(gid).or_insert_with(Group::new))
        } else {
            None
        };
        for t in &req.topics {
            let mut rt = OffsetCommitResponseTopic::default().with_name(t.name.clone());
            for p in &t.partitions {
                let mut pcode = code;
                if pcode == 0 {
                    let meta = p.committed_metadata.as_ref().map(|m| m.to_string());
                    if meta.as_ref().is_some_and(|m| m.len() > max) {
                        pcode = E::OffsetMetadataTooLarge.code();
                    } else if let Some(g) = group.as_deref_mut() {
                        let epoch = if version >= 6 {
                            p.committed_leader_epoch
                        } else {
                            -1
                        };
                        g.offsets.insert(
                            (t.name.to_string(), p.partition_index),
                            CommittedOffset {
                                offset: p.committed_offset,
                                leader_epoch: epoch,
                                metadata: meta,
                            },
                        );
                    }
                }
                rt.partitions.push(
                    OffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(pcode),
                );
            }
            resp.topics.push(rt);
        }
        if let Some(g) = group {
            if let Some(m) = g.members.get_mut(req.member_id.as_str()) {
                m.session_deadline = Instant::now() + m.session_timeout;
            }
        }
        resp
    }

    /// OffsetFetch (v1–v9: what kafka-protocol 0.18 speaks; v8+ several
    /// groups; v7+ `require_stable`).
    pub async fn offset_fetch(&self, req: OffsetFetchRequest, version: i16) -> OffsetFetchResponse {
        let inner = self.lock();
        let mut resp = OffsetFetchResponse::default();
        if version >= 8 {
            for rg in &req.groups {
                let asked: Option<Vec<(String, Vec<i32>)>> = rg.topics.as_ref().map(|ts| {
                    ts.iter()
                        .map(|t| (t.name.to_string(), t.partition_indexes.clone()))
                        .collect()
                });
                let rows = fetch_rows(
                    inner.groups.get(rg.group_id.as_str()),
                    asked,
                    req.require_stable,
                );
                let mut out =
                    OffsetFetchResponseGroup::default().with_group_id(rg.group_id.clone());
                for (topic, parts) in rows {
                    let mut t = OffsetFetchResponseTopics::default().with_name(s(&topic).into());
                    for (p, o, code) in parts {
                        t.partitions.push(
                            OffsetFetchResponsePartitions::default()
                                .with_partition_index(p)
                                .with_committed_offset(o.offset)
                                .with_committed_leader_epoch(o.leader_epoch)
                                .with_metadata(o.metadata.map(|m| s(&m)))
                                .with_error_code(code),
                        );
                    }
                    out.topics.push(t);
                }
                resp.groups.push(out);
            }
            return resp;
        }
        let asked: Option<Vec<(String, Vec<i32>)>> = req.topics.as_ref().map(|ts| {
            ts.iter()
                .map(|t| (t.name.to_string(), t.partition_indexes.clone()))
                .collect()
        });
        let stable = version >= 7 && req.require_stable;
        for (topic, parts) in fetch_rows(inner.groups.get(req.group_id.as_str()), asked, stable) {
            let mut t = OffsetFetchResponseTopic::default().with_name(s(&topic).into());
            for (p, o, code) in parts {
                let mut row = OffsetFetchResponsePartition::default()
                    .with_partition_index(p)
                    .with_committed_offset(o.offset)
                    .with_metadata(o.metadata.map(|m| s(&m)))
                    .with_error_code(code);
                if version >= 5 {
                    row.committed_leader_epoch = o.leader_epoch;
                }
                t.partitions.push(row);
            }
            resp.topics.push(t);
        }
        resp
    }

    /// OffsetDelete (v0+).
    pub async fn offset_delete(
        &self,
        req: OffsetDeleteRequest,
        _version: i16,
    ) -> OffsetDeleteResponse {
        let mut inner = self.lock();
        let mut resp = OffsetDeleteResponse::default();
        let Some(g) = inner.groups.get_mut(req.group_id.as_str()) else {
            return resp.with_error_code(E::GroupIdNotFound.code());
        };
        if g.state == GroupState::Dead {
            return resp.with_error_code(E::GroupIdNotFound.code());
        }
        let mut subscribed = BTreeSet::new();
        if !g.members.is_empty() {
            if g.protocol_type.as_deref() != Some("consumer") {
                return resp.with_error_code(E::NonEmptyGroup.code());
            }
            let protocol = g.protocol.clone().unwrap_or_default();
            for m in g.members.values() {
                subscribed.extend(subscribed_topics(&m.metadata(&protocol)).unwrap_or_default());
            }
        }
        for t in &req.topics {
            let mut rt = OffsetDeleteResponseTopic::default().with_name(t.name.clone());
            let busy = subscribed.contains(t.name.as_str());
            for p in &t.partitions {
                let code = if busy {
                    E::GroupSubscribedToTopic.code()
                } else {
                    g.offsets.remove(&(t.name.to_string(), p.partition_index));
                    0
                };
                rt.partitions.push(
                    OffsetDeleteResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code),
                );
            }
            resp.topics.push(rt);
        }
        resp
    }

    /// TxnOffsetCommit's hook: stages offsets of producer `producer_id` in
    /// `group` until [`complete_txn_offsets`](Self::complete_txn_offsets).
    /// Returns the error code for every partition (0, or
    /// OFFSET_METADATA_TOO_LARGE for one whose metadata is too long).
    pub fn stage_txn_offsets(
        &self,
        group: &str,
        producer_id: i64,
        _producer_epoch: i16,
        offsets: Vec<((String, i32), CommittedOffset)>,
    ) -> Vec<((String, i32), i16)> {
        let max = self.config.offset_metadata_max_bytes;
        let mut inner = self.lock();
        let g = inner
            .groups
            .entry(group.to_string())
            .or_insert_with(Group::new);
        let staged = g.pending_txn.entry(producer_id).or_default();
        offsets
            .into_iter()
            .map(|(tp, o)| {
                if o.metadata.as_ref().is_some_and(|m| m.len() > max) {
                    return (tp, E::OffsetMetadataTooLarge.code());
                }
                staged.insert(tp.clone(), o);
                (tp, 0)
            })
            .collect()
    }

    /// EndTxn's hook (the marker is written): the producer's staged offsets
    /// become committed (`commit`) or are dropped, in every group.
    pub fn complete_txn_offsets(&self, producer_id: i64, commit: bool) {
        let mut inner = self.lock();
        for g in inner.groups.values_mut() {
            if let Some(staged) = g.pending_txn.remove(&producer_id) {
                if commit {
                    g.offsets.extend(staged);
                }
            }
        }
    }
}

/// Kafka's validateOffsetCommit: a member's commit is checked against
/// its generation; a simple commit (generation -1, no member) only in
/// a group without members.
fn commit_check(groups: &HashMap<String, Group>, req: &OffsetCommitRequest) -> i16 {
    let Some(g) = groups.get(req.group_id.as_str()) else {
        if req.generation_id_or_member_epoch < 0 && req.member_id.is_empty() {
            return 0;
        }
        return E::IllegalGeneration.code();
    };
    if g.state == GroupState::Dead {
        return E::CoordinatorNotAvailable.code();
    }
    let instance = req.group_instance_id.as_ref().map(|i| i.as_str());
    if req.generation_id_or_member_epoch >= 0 || !req.member_id.is_empty() || instance.is_some() {
        if let Err(code) = check_member(
            g,
            &req.member_id,
            instance,
            req.generation_id_or_member_epoch,
        ) {
            return code;
        }
        if g.state == GroupState::CompletingRebalance {
            return E::RebalanceInProgress.code();
        }
        return 0;
    }
    if !g.members.is_empty() {
        return E::UnknownMemberId.code();
    }
    0
}

type Rows = Vec<(String, Vec<(i32, CommittedOffset, i16)>)>;

/// The rows of one group's OffsetFetch: the asked partitions (-1 for
/// unknown ones) or every committed one when `asked` is null.
fn fetch_rows(
    g: Option<&Group>,
    asked: Option<Vec<(String, Vec<i32>)>>,
    require_stable: bool,
) -> Rows {
    let none = CommittedOffset {
        offset: -1,
        leader_epoch: -1,
        metadata: Some(String::new()),
    };
    let asked = match asked {
        Some(a) => a,
        None => {
            let mut by_topic: BTreeMap<String, Vec<i32>> = BTreeMap::new();
            for (t, p) in g
                .map(|g| g.offsets.keys().cloned().collect::<Vec<_>>())
                .unwrap_or_default()
            {
                by_topic.entry(t).or_default().push(p);
            }
            by_topic.into_iter().collect()
        }
    };
    asked
        .into_iter()
        .map(|(topic, parts)| {
            let rows = parts
                .into_iter()
                .map(|p| {
                    let key = (topic.clone(), p);
                    let pending =
                        g.is_some_and(|g| g.pending_txn.values().any(|s| s.contains_key(&key)));
                    if require_stable && pending {
                        return (p, none.clone(), E::UnstableOffsetCommit.code());
                    }
                    let o = g
                        .and_then(|g| g.offsets.get(&key))
                        .cloned()
                        .unwrap_or_else(|| none.clone());
                    (p, o, 0)
                })
                .collect();
            (topic, rows)
        })
        .collect()
}
