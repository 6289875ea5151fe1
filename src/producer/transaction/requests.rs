//! The transactional requests, built and read without I/O: FindCoordinator
//! (transaction and group keys), InitProducerId, AddPartitionsToTxn,
//! AddOffsetsToTxn, TxnOffsetCommit and EndTxn.
//!
//! Every reader turns a response into `Ok` or the one error the caller must
//! act on; how to act (retry, re-find the coordinator, abort, give up) is
//! [`classify`]'s business.

use std::collections::BTreeMap;

use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, EndTxnRequest,
    GroupId, InitProducerIdRequest, ProducerId, TopicName, TransactionalId, TxnOffsetCommitRequest,
    TxnOffsetCommitResponse,
};
use kafka_protocol::protocol::StrBytes;

use crate::consumer::{GroupMetadata, OffsetAndMetadata};
use crate::error::{Context, Error, ErrorCode, Result};
use crate::protocol::versions::VersionedRequest;
use crate::topic_partition::TopicPartition;

// Up to v3 AddPartitionsToTxn carries one transaction in top-level fields;
// v4+ (KIP-890, broker-to-broker) lists transactions.
const _: () = assert!(AddPartitionsToTxnRequest::MAX_VERSION < 4);

fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

/// The producer id and epoch of the transactional producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProducerIdentity {
    pub id: i64,
    pub epoch: i16,
}

/// InitProducerId for `transactional_id`: a new producer id, or the same id
/// with a bumped epoch, fencing every older producer with this id. With
/// `current` (v3+, KIP-360) the coordinator bumps this producer's own epoch,
/// which is how a transactional producer recovers sequence numbers the
/// broker may not share after an aborted transaction.
pub(crate) fn init_producer_id(
    transactional_id: &str,
    transaction_timeout_ms: i32,
    current: Option<ProducerIdentity>,
) -> InitProducerIdRequest {
    let (id, epoch) = current.map_or((-1, -1), |p| (p.id, p.epoch));
    InitProducerIdRequest::default()
        .with_transactional_id(Some(TransactionalId(str_bytes(transactional_id))))
        .with_transaction_timeout_ms(transaction_timeout_ms)
        .with_producer_id(ProducerId(id))
        .with_producer_epoch(epoch)
}

/// AddPartitionsToTxn (v0–v3) for `partitions`, grouped by topic.
pub(crate) fn add_partitions(
    transactional_id: &str,
    producer: ProducerIdentity,
    partitions: &[TopicPartition],
) -> AddPartitionsToTxnRequest {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in partitions {
        by_topic.entry(&tp.topic).or_default().push(tp.partition);
    }
    AddPartitionsToTxnRequest::default()
        .with_v3_and_below_transactional_id(TransactionalId(str_bytes(transactional_id)))
        .with_v3_and_below_producer_id(ProducerId(producer.id))
        .with_v3_and_below_producer_epoch(producer.epoch)
        .with_v3_and_below_topics(
            by_topic
                .into_iter()
                .map(|(topic, partitions)| {
                    AddPartitionsToTxnTopic::default()
                        .with_name(TopicName(str_bytes(topic)))
                        .with_partitions(partitions)
                })
                .collect(),
        )
}

/// Reads an AddPartitionsToTxn (v0–v3) answer for `asked`: `Ok` when every
/// partition was added, otherwise the error that decides what to do: a
/// fatal one first, then a retriable one (as Java, which re-sends the
/// whole request as soon as one partition's error is retriable, so an
/// UNKNOWN_TOPIC_OR_PARTITION beside OPERATION_NOT_ATTEMPTED is retried,
/// not made abortable), then any other, and OPERATION_NOT_ATTEMPTED last
/// (it only says another partition's error stopped the request).
pub(crate) fn add_partitions_result(
    response: &AddPartitionsToTxnResponse,
    asked: &[TopicPartition],
) -> Result<()> {
    let mut codes: BTreeMap<(&str, i32), i16> = BTreeMap::new();
    for topic in &response.results_by_topic_v3_and_below {
        for p in &topic.results_by_partition {
            codes.insert(
                (topic.name.0.as_str(), p.partition_index),
                p.partition_error_code,
            );
        }
    }
    let mut errors = Vec::new();
    for tp in asked {
        let context = || {
            Context::api("AddPartitionsToTxn")
                .with_topic(tp.topic.clone())
                .with_partition(tp.partition)
        };
        match codes.get(&(&*tp.topic, tp.partition)) {
            Some(0) => {}
            Some(code) => errors.push(Error::Broker {
                code: ErrorCode(*code),
                message: None,
                context: context(),
            }),
            None => errors.push(Error::protocol(
                "partition missing from AddPartitionsToTxn response",
                context(),
            )),
        }
    }
    worst(errors, Precedence::RetryFirst)
}

/// Which of several partition errors wins after a fatal one.
#[derive(Clone, Copy)]
enum Precedence {
    /// AddPartitionsToTxn: any retriable partition error re-sends the
    /// request; abortable ones count only when nothing is retriable.
    RetryFirst,
    /// TxnOffsetCommit: an abortable partition error fails the call even
    /// when other partitions could be retried (Java stops at it).
    AbortFirst,
}

/// The error to act on among several partition errors.
fn worst(errors: Vec<Error>, precedence: Precedence) -> Result<()> {
    let rank = |e: &Error| match (classify(e), precedence) {
        (Handling::Fatal, _) => 0,
        _ if e.code() == Some(ErrorCode::OPERATION_NOT_ATTEMPTED) => 3,
        (Handling::Retry | Handling::Refind, Precedence::RetryFirst)
        | (Handling::Abortable, Precedence::AbortFirst) => 1,
        _ => 2,
    };
    match errors.into_iter().min_by_key(rank) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// AddOffsetsToTxn: puts the group's offsets topic partition into the
/// transaction.
pub(crate) fn add_offsets(
    transactional_id: &str,
    producer: ProducerIdentity,
    group_id: &str,
) -> AddOffsetsToTxnRequest {
    AddOffsetsToTxnRequest::default()
        .with_transactional_id(TransactionalId(str_bytes(transactional_id)))
        .with_producer_id(ProducerId(producer.id))
        .with_producer_epoch(producer.epoch)
        .with_group_id(GroupId(str_bytes(group_id)))
}

/// TxnOffsetCommit at `version`. From v3 (KIP-447) it carries the
/// consumer's generation, member id and group instance id, so the group
/// coordinator refuses offsets from a member that was fenced by a
/// rebalance; older versions cannot carry them.
pub(crate) fn txn_offset_commit(
    version: i16,
    transactional_id: &str,
    producer: ProducerIdentity,
    group: &GroupMetadata,
    offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
) -> TxnOffsetCommitRequest {
    let mut by_topic: BTreeMap<&str, Vec<TxnOffsetCommitRequestPartition>> = BTreeMap::new();
    for (tp, om) in offsets {
        let mut p = TxnOffsetCommitRequestPartition::default()
            .with_partition_index(tp.partition)
            .with_committed_offset(om.offset)
            .with_committed_metadata(om.metadata.as_deref().map(str_bytes));
        if version >= 2 {
            p = p.with_committed_leader_epoch(om.leader_epoch.unwrap_or(-1));
        }
        by_topic.entry(&tp.topic).or_default().push(p);
    }
    let mut request = TxnOffsetCommitRequest::default()
        .with_transactional_id(TransactionalId(str_bytes(transactional_id)))
        .with_group_id(GroupId(str_bytes(&group.group_id)))
        .with_producer_id(ProducerId(producer.id))
        .with_producer_epoch(producer.epoch)
        .with_topics(
            by_topic
                .into_iter()
                .map(|(topic, partitions)| {
                    TxnOffsetCommitRequestTopic::default()
                        .with_name(TopicName(str_bytes(topic)))
                        .with_partitions(partitions)
                })
                .collect(),
        );
    if version >= 3 {
        request = request
            .with_generation_id(group.generation_id)
            .with_member_id(str_bytes(&group.member_id))
            .with_group_instance_id(group.group_instance_id.as_deref().map(str_bytes));
    }
    request
}

/// Reads a TxnOffsetCommit answer: `Ok` when every partition was stored
/// (pending the transaction's end), else the error to act on.
pub(crate) fn txn_offset_commit_result(response: &TxnOffsetCommitResponse) -> Result<()> {
    let mut errors = Vec::new();
    for topic in &response.topics {
        for p in &topic.partitions {
            if p.error_code != 0 {
                errors.push(Error::Broker {
                    code: ErrorCode(p.error_code),
                    message: None,
                    context: Context::api("TxnOffsetCommit")
                        .with_topic(topic.name.0.as_str())
                        .with_partition(p.partition_index),
                });
            }
        }
    }
    worst(errors, Precedence::AbortFirst)
}

/// EndTxn: commit or abort the transaction.
pub(crate) fn end_txn(
    transactional_id: &str,
    producer: ProducerIdentity,
    commit: bool,
) -> EndTxnRequest {
    EndTxnRequest::default()
        .with_transactional_id(TransactionalId(str_bytes(transactional_id)))
        .with_producer_id(ProducerId(producer.id))
        .with_producer_epoch(producer.epoch)
        .with_committed(commit)
}

/// What to do about an error from a transactional request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Handling {
    /// The coordinator moved or is gone: find it again, then retry.
    Refind,
    /// Try the same coordinator again after a back-off.
    Retry,
    /// The transaction cannot commit: only an abort is possible.
    Abortable,
    /// The producer cannot go on (fenced, not authorized, invalid state).
    Fatal,
}

/// Java's handling of transactional errors: NOT_COORDINATOR and
/// COORDINATOR_NOT_AVAILABLE re-find the coordinator; loading, concurrent
/// transactions and transient errors are retried; a fenced or unauthorized
/// producer, an invalid transaction state or an unsupported version are
/// fatal; everything else makes the transaction abortable.
pub(crate) fn classify(e: &Error) -> Handling {
    match e.code() {
        Some(ErrorCode::NOT_COORDINATOR | ErrorCode::COORDINATOR_NOT_AVAILABLE) => Handling::Refind,
        Some(
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
            | ErrorCode::CONCURRENT_TRANSACTIONS
            | ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
        ) => Handling::Retry,
        // The consumer, not this producer, was fenced: its offsets cannot
        // go into the transaction, which must be aborted.
        Some(
            ErrorCode::FENCED_INSTANCE_ID
            | ErrorCode::ILLEGAL_GENERATION
            | ErrorCode::UNKNOWN_MEMBER_ID
            | ErrorCode::GROUP_AUTHORIZATION_FAILED,
        ) => Handling::Abortable,
        _ if e.is_fatal() => Handling::Fatal,
        // A lost connection or request timeout: the coordinator may have
        // moved, so ask again where it is.
        None if e.is_retriable() => Handling::Refind,
        _ if e.is_retriable() => Handling::Retry,
        _ => Handling::Abortable,
    }
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::FindCoordinatorResponse;

    use crate::protocol::coordinator::coordinator_from;
    use kafka_protocol::messages::add_partitions_to_txn_response::{
        AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
    };
    use kafka_protocol::messages::txn_offset_commit_response::{
        TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
    };

    use super::*;

    const PRODUCER: ProducerIdentity = ProducerIdentity { id: 42, epoch: 3 };

    fn tp(t: &str, p: i32) -> TopicPartition {
        TopicPartition::new(t, p)
    }

    fn broker(code: ErrorCode) -> Error {
        Error::Broker {
            code,
            message: None,
            context: Context::default(),
        }
    }

    #[test]
    fn coordinator_answer_or_error() {
        let ok = FindCoordinatorResponse::default()
            .with_node_id(kafka_protocol::messages::BrokerId(7))
            .with_host(str_bytes("h"))
            .with_port(9);
        assert_eq!(
            coordinator_from(&ok, "tx").unwrap(),
            (7, "h".to_string(), 9)
        );
        let loading = FindCoordinatorResponse::default()
            .with_error_code(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS.0);
        assert_eq!(
            classify(&coordinator_from(&loading, "tx").unwrap_err()),
            Handling::Retry
        );
        let nobody =
            FindCoordinatorResponse::default().with_node_id(kafka_protocol::messages::BrokerId(-1));
        assert_eq!(
            classify(&coordinator_from(&nobody, "tx").unwrap_err()),
            Handling::Refind
        );
    }

    #[test]
    fn init_producer_id_asks_for_a_fresh_id_with_the_transactional_id() {
        let r = init_producer_id("tx", 60_000, None);
        assert_eq!(
            r.transactional_id.as_ref().map(|t| t.0.as_str()),
            Some("tx")
        );
        assert_eq!(r.transaction_timeout_ms, 60_000);
        assert_eq!((r.producer_id.0, r.producer_epoch), (-1, -1));
        // KIP-360: with the current id the coordinator bumps our epoch.
        let bump = init_producer_id("tx", 60_000, Some(PRODUCER));
        assert_eq!((bump.producer_id.0, bump.producer_epoch), (42, 3));
    }

    #[test]
    fn add_partitions_groups_by_topic() {
        let r = add_partitions("tx", PRODUCER, &[tp("b", 1), tp("a", 0), tp("b", 0)]);
        assert_eq!(r.v3_and_below_transactional_id.0.as_str(), "tx");
        assert_eq!(
            (r.v3_and_below_producer_id.0, r.v3_and_below_producer_epoch),
            (42, 3)
        );
        let topics: Vec<(&str, Vec<i32>)> = r
            .v3_and_below_topics
            .iter()
            .map(|t| (t.name.0.as_str(), t.partitions.clone()))
            .collect();
        assert_eq!(topics, vec![("a", vec![0]), ("b", vec![1, 0])]);
    }

    fn add_partitions_response(codes: &[(&str, i32, ErrorCode)]) -> AddPartitionsToTxnResponse {
        let mut by_topic: BTreeMap<&str, Vec<AddPartitionsToTxnPartitionResult>> = BTreeMap::new();
        for (t, p, c) in codes {
            by_topic.entry(t).or_default().push(
                AddPartitionsToTxnPartitionResult::default()
                    .with_partition_index(*p)
                    .with_partition_error_code(c.0),
            );
        }
        AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(
            by_topic
                .into_iter()
                .map(|(t, ps)| {
                    AddPartitionsToTxnTopicResult::default()
                        .with_name(TopicName(str_bytes(t)))
                        .with_results_by_partition(ps)
                })
                .collect(),
        )
    }

    #[test]
    fn add_partitions_result_reports_the_error_that_decides() {
        let asked = [tp("a", 0), tp("a", 1)];
        let ok = add_partitions_response(&[("a", 0, ErrorCode::NONE), ("a", 1, ErrorCode::NONE)]);
        add_partitions_result(&ok, &asked).unwrap();

        // One partition unauthorized, the other not attempted because of it:
        // the authorization failure is what the caller must see.
        let mixed = add_partitions_response(&[
            ("a", 0, ErrorCode::OPERATION_NOT_ATTEMPTED),
            ("a", 1, ErrorCode::TOPIC_AUTHORIZATION_FAILED),
        ]);
        let e = add_partitions_result(&mixed, &asked).unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED));
        assert_eq!(classify(&e), Handling::Abortable);

        let fenced = add_partitions_response(&[
            ("a", 0, ErrorCode::CONCURRENT_TRANSACTIONS),
            ("a", 1, ErrorCode::PRODUCER_FENCED),
        ]);
        let e = add_partitions_result(&fenced, &asked).unwrap_err();
        assert_eq!(classify(&e), Handling::Fatal);

        let busy = add_partitions_response(&[
            ("a", 0, ErrorCode::CONCURRENT_TRANSACTIONS),
            ("a", 1, ErrorCode::CONCURRENT_TRANSACTIONS),
        ]);
        let e = add_partitions_result(&busy, &asked).unwrap_err();
        assert_eq!(classify(&e), Handling::Retry);

        // One partition unknown (a metadata race), the other not attempted
        // because of it: Java re-sends the request, so must we. In either
        // order of the answer.
        for codes in [
            [
                ("a", 0, ErrorCode::OPERATION_NOT_ATTEMPTED),
                ("a", 1, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
            ],
            [
                ("a", 0, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
                ("a", 1, ErrorCode::OPERATION_NOT_ATTEMPTED),
            ],
        ] {
            let e = add_partitions_result(&add_partitions_response(&codes), &asked).unwrap_err();
            assert_eq!(
                e.code(),
                Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
                "{codes:?}"
            );
            assert_eq!(classify(&e), Handling::Retry);
        }
        // A retriable partition beside an unauthorized one: retried first
        // (the authorization error comes back on the retry).
        let e = add_partitions_result(
            &add_partitions_response(&[
                ("a", 0, ErrorCode::TOPIC_AUTHORIZATION_FAILED),
                ("a", 1, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
            ]),
            &asked,
        )
        .unwrap_err();
        assert_eq!(classify(&e), Handling::Retry);

        let missing = add_partitions_response(&[("a", 0, ErrorCode::NONE)]);
        let e = add_partitions_result(&missing, &asked).unwrap_err();
        assert!(matches!(e, Error::Protocol { .. }), "{e}");
    }

    fn group(generation: i32) -> GroupMetadata {
        GroupMetadata {
            group_id: "g".into(),
            generation_id: generation,
            member_id: "m-1".into(),
            group_instance_id: Some("static-1".into()),
        }
    }

    #[test]
    fn txn_offset_commit_carries_the_member_from_v3_only() {
        let mut offsets = BTreeMap::new();
        offsets.insert(tp("in", 1), OffsetAndMetadata::new(10));
        offsets.insert(
            tp("in", 0),
            OffsetAndMetadata {
                offset: 5,
                leader_epoch: Some(2),
                metadata: None,
            },
        );
        let v3 = txn_offset_commit(3, "tx", PRODUCER, &group(4), &offsets);
        assert_eq!(v3.group_id.0.as_str(), "g");
        assert_eq!((v3.generation_id, v3.member_id.as_str()), (4, "m-1"));
        assert_eq!(v3.group_instance_id.as_deref(), Some("static-1"));
        let parts = &v3.topics[0].partitions;
        assert_eq!(
            parts
                .iter()
                .map(|p| (
                    p.partition_index,
                    p.committed_offset,
                    p.committed_leader_epoch
                ))
                .collect::<Vec<_>>(),
            vec![(0, 5, 2), (1, 10, -1)]
        );
        assert_eq!(parts[1].committed_metadata.as_deref(), Some(""));

        // v0 has neither the member nor leader epochs: defaults, which the
        // encoder accepts at that version.
        let v0 = txn_offset_commit(0, "tx", PRODUCER, &group(4), &offsets);
        assert_eq!(v0.generation_id, -1);
        assert!(v0.member_id.is_empty() && v0.group_instance_id.is_none());
        assert_eq!(v0.topics[0].partitions[0].committed_leader_epoch, -1);
        let mut buf = bytes::BytesMut::new();
        kafka_protocol::protocol::Encodable::encode(&v0, &mut buf, 0).unwrap();
    }

    #[test]
    fn txn_offset_commit_result_names_the_failing_partition() {
        let resp = TxnOffsetCommitResponse::default().with_topics(vec![
            TxnOffsetCommitResponseTopic::default()
                .with_name(TopicName(str_bytes("in")))
                .with_partitions(vec![
                    TxnOffsetCommitResponsePartition::default().with_partition_index(0),
                    TxnOffsetCommitResponsePartition::default()
                        .with_partition_index(1)
                        .with_error_code(ErrorCode::ILLEGAL_GENERATION.0),
                ]),
        ]);
        let e = txn_offset_commit_result(&resp).unwrap_err();
        assert_eq!(e.context().and_then(|c| c.partition), Some(1));
        assert_eq!(classify(&e), Handling::Abortable);
    }

    #[test]
    fn txn_offset_commit_result_prefers_the_abortable_error_to_a_retry() {
        // Java stops at a fenced member even when another partition could
        // be retried: retrying cannot make the generation valid again.
        let partition = |i, code: ErrorCode| {
            TxnOffsetCommitResponsePartition::default()
                .with_partition_index(i)
                .with_error_code(code.0)
        };
        let resp = TxnOffsetCommitResponse::default().with_topics(vec![
            TxnOffsetCommitResponseTopic::default()
                .with_name(TopicName(str_bytes("in")))
                .with_partitions(vec![
                    partition(0, ErrorCode::COORDINATOR_LOAD_IN_PROGRESS),
                    partition(1, ErrorCode::UNKNOWN_MEMBER_ID),
                ]),
        ]);
        let e = txn_offset_commit_result(&resp).unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::UNKNOWN_MEMBER_ID));
        assert_eq!(classify(&e), Handling::Abortable);
    }

    #[test]
    fn end_txn_says_commit_or_abort() {
        assert!(end_txn("tx", PRODUCER, true).committed);
        assert!(!end_txn("tx", PRODUCER, false).committed);
    }

    #[test]
    fn classification_follows_java() {
        assert_eq!(
            classify(&broker(ErrorCode::NOT_COORDINATOR)),
            Handling::Refind
        );
        assert_eq!(
            classify(&broker(ErrorCode::COORDINATOR_NOT_AVAILABLE)),
            Handling::Refind
        );
        assert_eq!(
            classify(&broker(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS)),
            Handling::Retry
        );
        assert_eq!(
            classify(&broker(ErrorCode::CONCURRENT_TRANSACTIONS)),
            Handling::Retry
        );
        for fatal in [
            ErrorCode::PRODUCER_FENCED,
            ErrorCode::INVALID_PRODUCER_EPOCH,
            ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
            ErrorCode::INVALID_TXN_STATE,
        ] {
            assert_eq!(classify(&broker(fatal)), Handling::Fatal, "{fatal:?}");
        }
        assert_eq!(
            classify(&broker(ErrorCode::FENCED_INSTANCE_ID)),
            Handling::Abortable
        );
        assert_eq!(
            classify(&broker(ErrorCode::TOPIC_AUTHORIZATION_FAILED)),
            Handling::Abortable
        );
        let lost = Error::Disconnected {
            reason: "reset".into(),
            context: Context::default(),
        };
        assert_eq!(classify(&lost), Handling::Refind);
    }
}
