//! The spans of the messaging conventions, built in one place so names and
//! attributes stay consistent. `tracing` evaluates a span's fields only
//! when a subscriber enables it, so the `format!`s below cost nothing in
//! a build without a subscriber (or with one filtering these levels out).

use tracing::Span;
use tracing::field::Empty;

/// `send {topic}` (span kind producer), per record.
pub(crate) fn send(topic: &str, partition: Option<i32>) -> Span {
    tracing::info_span!(
        "send",
        otel.name = %format_args!("send {topic}"),
        otel.kind = "producer",
        messaging.system = "kafka",
        messaging.operation.name = "send",
        "messaging.operation.type" = "send",
        messaging.destination.name = %topic,
        messaging.destination.partition.id = partition.map(tracing::field::display),
        messaging.kafka.offset = Empty,
        messaging.kafka.message.key = Empty,
        messaging.client.id = Empty,
        "error.type" = Empty,
    )
}

/// One Produce request to a broker (span kind client).
pub(crate) fn produce(broker: i32, batches: usize) -> Span {
    tracing::debug_span!(
        "produce",
        otel.kind = "client",
        messaging.system = "kafka",
        server.address = Empty,
        broker,
        messaging.batch.message_count = Empty,
        batches,
    )
}

/// `poll` (span kind client): one `Consumer::poll`; a poll may return
/// records of several topics, so no destination in the name.
pub(crate) fn poll(timeout_ms: u64) -> Span {
    tracing::info_span!(
        "poll",
        otel.kind = "client",
        messaging.system = "kafka",
        messaging.operation.name = "poll",
        "messaging.operation.type" = "receive",
        messaging.consumer.group.name = Empty,
        messaging.batch.message_count = Empty,
        timeout_ms,
    )
}

/// `process {topic}` (span kind consumer) for one record.
pub(crate) fn process(topic: &str, partition: i32, offset: i64, group: Option<&str>) -> Span {
    tracing::info_span!(
        "process",
        otel.name = %format_args!("process {topic}"),
        otel.kind = "consumer",
        messaging.system = "kafka",
        messaging.operation.name = "process",
        "messaging.operation.type" = "process",
        messaging.destination.name = %topic,
        messaging.destination.partition.id = %partition,
        messaging.kafka.offset = offset,
        messaging.consumer.group.name = group,
    )
}

/// `commit {group}` (span kind client): one OffsetCommit.
pub(crate) fn commit(group: &str, generation: i32, partitions: usize) -> Span {
    tracing::info_span!(
        "commit",
        otel.name = %format_args!("commit {group}"),
        otel.kind = "client",
        messaging.system = "kafka",
        messaging.operation.name = "commit",
        "messaging.operation.type" = "settle",
        messaging.consumer.group.name = %group,
        messaging.batch.message_count = partitions as i64,
        generation,
        "error.type" = Empty,
    )
}

/// `rebalance`: the consumer carrying out one assignment or revocation;
/// `outcome` is recorded when it ends.
pub(crate) fn rebalance(group: &str, kind: &dyn std::fmt::Debug, partitions: usize) -> Span {
    tracing::info_span!(
        "rebalance",
        otel.name = %format_args!("rebalance {group}"),
        messaging.system = "kafka",
        messaging.consumer.group.name = %group,
        kind = ?kind,
        partitions,
        outcome = Empty,
    )
}
