//! Observability: `tracing` spans named by the OpenTelemetry messaging
//! conventions, Prometheus collectors (feature `prometheus`) and W3C trace
//! context in record headers (feature `opentelemetry`).
//!
//! kafkit's counters are atomics the clients update anyway (one
//! `fetch_add` per batch or per `poll`, never a lock per record); the
//! exporters here only read snapshots of them when scraped, so a build
//! with these features costs nothing on the hot path until scraped.
//!
//! Spans (names as `otel.name`, which tracing-opentelemetry uses as the
//! OpenTelemetry span name; the `tracing` name is the operation):
//!
//! | span | where | attributes |
//! | --- | --- | --- |
//! | `send {topic}` | [`Producer::send`](crate::producer::Producer::send), [`Producer::enqueue`](crate::producer::Producer::enqueue) | `messaging.destination.name`, `messaging.destination.partition.id`, `messaging.kafka.offset` (after the ack, `send` only), `messaging.kafka.message.key` (only with `ProducerBuilder::trace_record_keys`) |
//! | `produce` | one Produce request | `server.address`, `messaging.batch.message_count` |
//! | `poll` | [`Consumer::poll`](crate::consumer::Consumer::poll) | `messaging.batch.message_count` |
//! | `process {topic}` | [`Consumer::process_span`](crate::consumer::Consumer::process_span), which the application enters | `messaging.destination.name`, `messaging.destination.partition.id`, `messaging.kafka.offset`, `messaging.consumer.group.name`; parent: the `send` span whose context came in the headers |
//! | `commit {group}` | each OffsetCommit | `messaging.consumer.group.name`, `messaging.batch.message_count` (partitions) |
//! | `rebalance` | each assignment or revocation the consumer carries out | `kind`, `partitions`, `outcome` |
//!
//! Every span carries `messaging.system = "kafka"` and
//! `messaging.operation.name`. No span or log carries a payload; keys only
//! when the application allows it.

pub(crate) mod log_limit;
pub(crate) mod spans;

#[cfg(feature = "prometheus")]
pub mod prometheus;

#[cfg(feature = "opentelemetry")]
pub mod propagation;
