//! An in-process Kafka cluster for tests (feature `mock`): several brokers
//! in one process, each on a real loopback TCP port, so kafkit and any other
//! Kafka client (librdkafka, Java, franz-go) can connect to it.
//!
//! ```no_run
//! # async fn demo() -> kafkit::Result<()> {
//! use kafkit::mock::MockCluster;
//! let cluster = MockCluster::builder().brokers(3).build().await?;
//! cluster.create_topic("events", 3)?;
//! let client = kafkit::Client::builder(cluster.bootstrap_servers()).build().await?;
//! # let _ = client; Ok(()) }
//! ```
//!
//! Dropping the [`MockCluster`] stops every broker and closes every
//! connection.
//!
//! # What is faithful
//! - Produce (acks 0/1/all) appends the record batches as sent (codec,
//!   timestamps, producer ids untouched; only the base offset and partition
//!   leader epoch are written in, which the CRC does not cover); CRCs are
//!   checked; idempotence follows Kafka's producer state (a retry of one of
//!   the last five batches answers with the original offset, a gap is
//!   OUT_OF_ORDER_SEQUENCE_NUMBER, an older epoch INVALID_PRODUCER_EPOCH);
//!   `max.message.bytes` gives MESSAGE_TOO_LARGE.
//! - Fetch: max bytes per request and partition (KIP-74: the first batch
//!   always), long polls woken by appends (no timer polling), incremental
//!   fetch sessions (KIP-227), the high watermark, the last stable offset and
//!   the aborted-transaction list for `read_committed`, OFFSET_OUT_OF_RANGE,
//!   NOT_LEADER_OR_FOLLOWER / FENCED_LEADER_EPOCH on the wrong broker or epoch.
//! - Metadata with topic ids and leader epochs, auto-creation, CreateTopics,
//!   DeleteTopics, CreatePartitions, DeleteRecords, ListOffsets (earliest,
//!   latest by isolation level, by timestamp, max timestamp),
//!   OffsetForLeaderEpoch, DescribeCluster, FindCoordinator (v4 batches),
//!   DescribeConfigs/AlterConfigs/IncrementalAlterConfigs for topics (stored;
//!   broker configs are described, read-only).
//! - SASL on every listener when users are set on the builder
//!   ([`MockClusterBuilder::sasl_user`], [`MockClusterBuilder::sasl_oauthbearer`]):
//!   PLAIN, SCRAM-SHA-256/512 (credentials stored as Kafka stores them) and
//!   OAUTHBEARER with unsecured JWTs; a failed authentication is answered
//!   with SASL_AUTHENTICATION_FAILED and the connection closed; KIP-368
//!   session lifetimes ([`MockClusterBuilder::sasl_session_lifetime`]).
//! - TLS listeners with the `tls` feature (`MockClusterBuilder::tls`,
//!   `tls_client_auth` for mutual TLS): `SSL`, or `SASL_SSL` with users.
//! - Transactions (KIP-98): InitProducerId with a transactional id (epoch
//!   bumps fence the previous producer; an open transaction is aborted),
//!   AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit, EndTxn writing
//!   commit/abort markers into every partition of the transaction, the
//!   transaction timeout aborting (and fencing) a transaction left open,
//!   and Produce refusing a transactional batch for a partition not added
//!   (INVALID_TXN_STATE). So `read_committed` is enforced.
//! - Admin APIs: DescribeUserScramCredentials/AlterUserScramCredentials
//!   (credentials set at run time log in on new connections; the listeners'
//!   enabled mechanisms stay those of the builder's users, as
//!   `sasl.enabled.mechanisms` does), ListTransactions/DescribeTransactions
//!   (per coordinator) and DescribeProducers (per leader), which together
//!   find hanging transactions ([`MockCluster::forget_transaction`] makes
//!   one), DescribeLogDirs (one directory per broker, sizes from the stored
//!   batches, a nominal 1 TiB volume) and ElectLeaders (preferred and
//!   unclean).
//! - Classic consumer groups (see [`group`]): join/sync/heartbeat/leave,
//!   rebalance and session timeouts, static membership, generation fencing,
//!   offsets, ListGroups/DescribeGroups/DeleteGroups.
//! - ACLs with [`MockClusterBuilder::acls`] and
//!   [`MockClusterBuilder::super_user`]: DescribeAcls/CreateAcls/DeleteAcls
//!   (Kafka's filter matching: LITERAL, PREFIXED, MATCH, ANY), the standard
//!   authorizer's decision (`allow.everyone.if.no.acl.found=false`, DENY
//!   first, `*` resources, prefixes, `User:*`, host `*`, ALL, the implied
//!   Describe and DescribeConfigs) and Kafka's checks per API, answered per
//!   topic, partition, group or transactional id with the
//!   `*_AUTHORIZATION_FAILED` codes; a full Metadata listing leaves out
//!   topics the caller may not Describe. Metadata, DescribeCluster and
//!   DescribeGroups fill in the caller's authorized operations when asked.
//!   Without SASL every client is `User:ANONYMOUS`; with the authorizer off
//!   the ACL APIs answer SECURITY_DISABLED, as a broker without one does.
//!
//! # What is simplified
//! - One copy of each log: every replica is always in sync, so the high
//!   watermark is the log end and acks=1 and acks=all are the same.
//! - A stopped broker's partitions fail over to the next live replica at
//!   once (Kafka waits for the controller); a restarted broker takes back
//!   only partitions that had no leader.
//! - No retention, compaction or segments; `retention.ms` and
//!   `cleanup.policy` are stored, not applied.
//! - `group.initial.rebalance.delay.ms` is 0 (Kafka: 3000).
//! - Markers are written at once (Kafka's PrepareCommit/PrepareAbort last
//!   no time here); AddPartitionsToTxn v4+ (KIP-890's batched form) is not
//!   advertised.
//! - ACLs: the host is the client's IP address as Kafka writes it; a
//!   mutual-TLS client is still `User:ANONYMOUS` (no certificate principal);
//!   InitProducerId's "Write on some topic" asks whether an ALLOW for Write
//!   on any topic applies and no DENY on the literal `*` takes it away (Kafka
//!   also weighs DENY prefixes).

mod acl;
mod auth;
mod batch;
mod broker;
mod cluster;
mod config;
mod connection;
mod dispatch;
mod faults;
mod fetch_session;
pub mod group;
mod handlers;
mod injected;
mod injected_admin;
mod log;
mod state;
mod txn;

pub use cluster::{MockCluster, MockClusterBuilder};
pub use kafka_protocol::messages::ApiKey;
pub use log::{AbortedTxn, BatchInfo, PartitionLogSnapshot};
pub use txn::{TransactionSnapshot, TxnState};

/// The request-decoding path of the cluster's connections (header, version
/// check, body through the allocation guard) without a socket, for the fuzz
/// target. `Err` is why a connection would be closed.
#[doc(hidden)]
pub fn decode_request_frame(frame: bytes::Bytes) -> std::result::Result<(), String> {
    dispatch::decode_only(frame)
}
