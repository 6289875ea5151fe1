//! OffsetCommit and OffsetFetch to the group coordinator: request builders
//! at a negotiated version and the classification of their responses. No
//! I/O here.

use std::collections::BTreeMap;

use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::{
    GroupId, OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse,
    TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::error::Context;
use crate::{Error, ErrorCode, TopicPartition};

/// An offset to commit for a partition, or one read back (Java's
/// `OffsetAndMetadata`): the offset of the next record to consume, the
/// leader epoch of the last record consumed (KIP-320, lets the next owner
/// detect log truncation), and free-form metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OffsetAndMetadata {
    /// The next offset to consume.
    pub offset: i64,
    /// The leader epoch of the last consumed record, if known.
    pub leader_epoch: Option<i32>,
    /// Metadata stored with the offset (Java's default is the empty string).
    pub metadata: Option<String>,
}

impl OffsetAndMetadata {
    /// An offset with no leader epoch and empty metadata.
    pub fn new(offset: i64) -> Self {
        OffsetAndMetadata {
            offset,
            leader_epoch: None,
            metadata: Some(String::new()),
        }
    }

    /// The same offset with the leader epoch of the last consumed record.
    pub fn with_leader_epoch(mut self, leader_epoch: Option<i32>) -> Self {
        self.leader_epoch = leader_epoch;
        self
    }

    /// The same offset with `metadata` stored beside it.
    pub fn with_metadata(mut self, metadata: impl Into<String>) -> Self {
        self.metadata = Some(metadata.into());
        self
    }
}

/// Who commits: the generation and member, or `-1`/empty for a consumer
/// outside any group (manual assignment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CommitIdentity {
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
}

/// What came of an OffsetCommit or OffsetFetch.
#[derive(Debug)]
pub(super) enum Outcome<T> {
    /// Done (successfully or with an error that is the caller's to see).
    Done(crate::Result<T>),
    /// The coordinator moved or is unavailable: find it again, then retry.
    Rediscover(ErrorCode),
    /// The coordinator is busy (loading, or a transactional commit is
    /// pending): retry after the back-off.
    Backoff(Error),
    /// The group rejected our generation or membership: tell the machine,
    /// and the caller.
    Group(ErrorCode),
}

fn topic_name(topic: &str) -> TopicName {
    TopicName(StrBytes::from_string(topic.to_owned()))
}

fn by_topic<V>(
    items: impl IntoIterator<Item = (TopicPartition, V)>,
) -> BTreeMap<std::sync::Arc<str>, Vec<(i32, V)>> {
    let mut out: BTreeMap<std::sync::Arc<str>, Vec<(i32, V)>> = BTreeMap::new();
    for (tp, v) in items {
        out.entry(tp.topic).or_default().push((tp.partition, v));
    }
    out
}

pub(super) fn offset_commit(
    version: i16,
    group_id: &str,
    identity: &CommitIdentity,
    offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
) -> OffsetCommitRequest {
    let topics = by_topic(offsets.iter().map(|(tp, o)| (tp.clone(), o)))
        .into_iter()
        .map(|(topic, partitions)| {
            OffsetCommitRequestTopic::default()
                .with_name(topic_name(&topic))
                .with_partitions(
                    partitions
                        .into_iter()
                        .map(|(partition, o)| {
                            OffsetCommitRequestPartition::default()
                                .with_partition_index(partition)
                                .with_committed_offset(o.offset)
                                .with_committed_leader_epoch(o.leader_epoch.unwrap_or(-1))
                                .with_committed_metadata(
                                    o.metadata.clone().map(StrBytes::from_string),
                                )
                        })
                        .collect(),
                )
        })
        .collect();
    let mut request = OffsetCommitRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(group_id.to_owned())))
        .with_generation_id_or_member_epoch(identity.generation_id)
        .with_member_id(StrBytes::from_string(identity.member_id.clone()))
        .with_topics(topics);
    if version >= 7 {
        request.group_instance_id = identity
            .group_instance_id
            .clone()
            .map(StrBytes::from_string);
    }
    request
}

/// Sorts the OffsetCommit response's per-partition codes: group and
/// coordinator errors concern the whole request (brokers repeat them for
/// every partition); any other code fails the commit, naming its partition.
pub(super) fn commit_outcome(response: &OffsetCommitResponse) -> Outcome<()> {
    let mut partition_error = None;
    for topic in &response.topics {
        for p in &topic.partitions {
            let code = ErrorCode(p.error_code);
            match code {
                ErrorCode::NONE => {}
                ErrorCode::NOT_COORDINATOR
                | ErrorCode::COORDINATOR_NOT_AVAILABLE
                | ErrorCode::REQUEST_TIMED_OUT => return Outcome::Rediscover(code),
                ErrorCode::UNKNOWN_MEMBER_ID
                | ErrorCode::ILLEGAL_GENERATION
                | ErrorCode::REBALANCE_IN_PROGRESS
                | ErrorCode::FENCED_INSTANCE_ID => return Outcome::Group(code),
                ErrorCode::COORDINATOR_LOAD_IN_PROGRESS => {
                    return Outcome::Backoff(broker_error(code, "OffsetCommit", None));
                }
                _ => {
                    partition_error.get_or_insert_with(|| {
                        broker_error(
                            code,
                            "OffsetCommit",
                            Some(TopicPartition::new(
                                topic.name.0.as_str(),
                                p.partition_index,
                            )),
                        )
                    });
                }
            }
        }
    }
    Outcome::Done(partition_error.map_or(Ok(()), Err))
}

pub(super) fn offset_fetch(
    version: i16,
    group_id: &str,
    partitions: &[TopicPartition],
    require_stable: bool,
) -> OffsetFetchRequest {
    let topics = by_topic(partitions.iter().map(|tp| (tp.clone(), ())))
        .into_iter()
        .map(|(topic, parts)| {
            OffsetFetchRequestTopic::default()
                .with_name(topic_name(&topic))
                .with_partition_indexes(parts.into_iter().map(|(p, ())| p).collect())
        })
        .collect();
    let mut request = OffsetFetchRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(group_id.to_owned())))
        .with_topics(Some(topics));
    if version >= 7 {
        request.require_stable = require_stable;
    }
    request
}

/// The committed offsets of `asked` (none where nothing is committed), or
/// what went wrong. Partitions the broker left out count as uncommitted.
pub(super) fn fetch_outcome(
    response: &OffsetFetchResponse,
    asked: &[TopicPartition],
) -> Outcome<BTreeMap<TopicPartition, Option<OffsetAndMetadata>>> {
    if let Some(outcome) = classify_fetch_code(ErrorCode(response.error_code), None) {
        return outcome;
    }
    let mut out: BTreeMap<TopicPartition, Option<OffsetAndMetadata>> =
        asked.iter().map(|tp| (tp.clone(), None)).collect();
    for topic in &response.topics {
        for p in &topic.partitions {
            let tp = TopicPartition::new(topic.name.0.as_str(), p.partition_index);
            if let Some(outcome) = classify_fetch_code(ErrorCode(p.error_code), Some(&tp)) {
                return outcome;
            }
            // Only answer what was asked: a broker cannot grow the map.
            if let Some(slot) = out.get_mut(&tp) {
                *slot = (p.committed_offset >= 0).then(|| OffsetAndMetadata {
                    offset: p.committed_offset,
                    leader_epoch: (p.committed_leader_epoch >= 0)
                        .then_some(p.committed_leader_epoch),
                    metadata: p.metadata.as_ref().map(|m| m.to_string()),
                });
            }
        }
    }
    Outcome::Done(Ok(out))
}

fn classify_fetch_code<T>(code: ErrorCode, tp: Option<&TopicPartition>) -> Option<Outcome<T>> {
    match code {
        ErrorCode::NONE => None,
        ErrorCode::NOT_COORDINATOR
        | ErrorCode::COORDINATOR_NOT_AVAILABLE
        | ErrorCode::REQUEST_TIMED_OUT => Some(Outcome::Rediscover(code)),
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS | ErrorCode::UNSTABLE_OFFSET_COMMIT => Some(
            Outcome::Backoff(broker_error(code, "OffsetFetch", tp.cloned())),
        ),
        _ => Some(Outcome::Done(Err(broker_error(
            code,
            "OffsetFetch",
            tp.cloned(),
        )))),
    }
}

/// The error a caller sees for a group error on commit, worded as Java's
/// `CommitFailedException` / `RebalanceInProgressException`.
pub(super) fn group_commit_error(code: ErrorCode) -> Error {
    let message = match code {
        ErrorCode::REBALANCE_IN_PROGRESS => {
            "the group is rebalancing; commit again after the rebalance completes (the revoke \
             callback may commit the partitions it gives up)"
        }
        ErrorCode::FENCED_INSTANCE_ID => "another consumer with the same group.instance.id joined",
        _ => {
            "commit cannot be completed since the group has already rebalanced and assigned \
             the partitions to another member"
        }
    };
    broker_error_msg(code, "OffsetCommit", None, Some(message.to_owned()))
}

fn broker_error(code: ErrorCode, api: &'static str, tp: Option<TopicPartition>) -> Error {
    broker_error_msg(code, api, tp, None)
}

fn broker_error_msg(
    code: ErrorCode,
    api: &'static str,
    tp: Option<TopicPartition>,
    message: Option<String>,
) -> Error {
    let mut context = Context::api(api);
    if let Some(tp) = tp {
        context = context.with_topic(tp.topic).with_partition(tp.partition);
    }
    Error::Broker {
        code,
        message,
        context,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::versions::VersionedRequest;
    use bytes::BytesMut;
    use kafka_protocol::messages::offset_commit_response::{
        OffsetCommitResponsePartition, OffsetCommitResponseTopic,
    };
    use kafka_protocol::messages::offset_fetch_response::{
        OffsetFetchResponsePartition, OffsetFetchResponseTopic,
    };
    use kafka_protocol::protocol::Encodable;

    fn tp(t: &str, p: i32) -> TopicPartition {
        TopicPartition::new(t, p)
    }

    #[test]
    fn requests_encode_at_every_version_we_speak() {
        let identity = CommitIdentity {
            generation_id: 4,
            member_id: "m".into(),
            group_instance_id: Some("i".into()),
        };
        let offsets: BTreeMap<_, _> = [
            (tp("a", 0), OffsetAndMetadata::new(5)),
            (
                tp("a", 1),
                OffsetAndMetadata {
                    offset: 7,
                    leader_epoch: Some(3),
                    metadata: None,
                },
            ),
        ]
        .into();
        for v in OffsetCommitRequest::MIN_VERSION..=OffsetCommitRequest::MAX_VERSION {
            let r = offset_commit(v, "g", &identity, &offsets);
            assert_eq!(r.topics.len(), 1);
            assert_eq!(r.topics[0].partitions.len(), 2);
            r.encode(&mut BytesMut::new(), v)
                .unwrap_or_else(|e| panic!("OffsetCommit v{v}: {e:#}"));
        }
        for v in OffsetFetchRequest::MIN_VERSION..=OffsetFetchRequest::MAX_VERSION {
            offset_fetch(v, "g", &[tp("a", 0), tp("b", 2)], true)
                .encode(&mut BytesMut::new(), v)
                .unwrap_or_else(|e| panic!("OffsetFetch v{v}: {e:#}"));
        }
    }

    fn commit_response(codes: &[(i32, ErrorCode)]) -> OffsetCommitResponse {
        OffsetCommitResponse::default().with_topics(vec![
            OffsetCommitResponseTopic::default()
                .with_name(topic_name("a"))
                .with_partitions(
                    codes
                        .iter()
                        .map(|(p, c)| {
                            OffsetCommitResponsePartition::default()
                                .with_partition_index(*p)
                                .with_error_code(c.0)
                        })
                        .collect(),
                ),
        ])
    }

    #[test]
    fn commit_codes_are_sorted_by_what_they_concern() {
        assert!(matches!(
            commit_outcome(&commit_response(&[(0, ErrorCode::NONE)])),
            Outcome::Done(Ok(()))
        ));
        assert!(matches!(
            commit_outcome(&commit_response(&[(0, ErrorCode::NOT_COORDINATOR)])),
            Outcome::Rediscover(ErrorCode::NOT_COORDINATOR)
        ));
        assert!(matches!(
            commit_outcome(&commit_response(&[(0, ErrorCode::ILLEGAL_GENERATION)])),
            Outcome::Group(ErrorCode::ILLEGAL_GENERATION)
        ));
        match commit_outcome(&commit_response(&[
            (0, ErrorCode::NONE),
            (3, ErrorCode::OFFSET_METADATA_TOO_LARGE),
        ])) {
            Outcome::Done(Err(e)) => {
                assert_eq!(e.code(), Some(ErrorCode::OFFSET_METADATA_TOO_LARGE));
                assert_eq!(e.context().and_then(|c| c.partition), Some(3));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn fetch_answers_exactly_what_was_asked() {
        let response = OffsetFetchResponse::default().with_topics(vec![
            OffsetFetchResponseTopic::default()
                .with_name(topic_name("a"))
                .with_partitions(vec![
                    OffsetFetchResponsePartition::default()
                        .with_partition_index(0)
                        .with_committed_offset(42)
                        .with_committed_leader_epoch(2),
                    OffsetFetchResponsePartition::default()
                        .with_partition_index(1)
                        .with_committed_offset(-1),
                    // Not asked for: ignored.
                    OffsetFetchResponsePartition::default()
                        .with_partition_index(9)
                        .with_committed_offset(1),
                ]),
        ]);
        let asked = [tp("a", 0), tp("a", 1), tp("b", 0)];
        let Outcome::Done(Ok(map)) = fetch_outcome(&response, &asked) else {
            panic!("fetch failed")
        };
        assert_eq!(map.len(), 3);
        assert_eq!(
            map[&tp("a", 0)]
                .as_ref()
                .map(|o| (o.offset, o.leader_epoch)),
            Some((42, Some(2)))
        );
        assert_eq!(map[&tp("a", 1)], None);
        assert_eq!(map[&tp("b", 0)], None);

        let busy = response
            .clone()
            .with_error_code(ErrorCode::NOT_COORDINATOR.0);
        assert!(matches!(
            fetch_outcome(&busy, &asked),
            Outcome::Rediscover(_)
        ));
    }
}
