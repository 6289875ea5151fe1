//! Transactions and producers as `kafka-transactions` sees them:
//! ListTransactions at every broker, DescribeTransactions at each
//! transaction coordinator, DescribeProducers at partition leaders, and
//! the `--find-hanging` / `abort` flow (WriteTxnMarkers at the leader).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kafka_protocol::messages::describe_producers_request::TopicRequest;
use kafka_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use kafka_protocol::messages::{
    DescribeProducersRequest, DescribeTransactionsRequest, ListTransactionsRequest, ProducerId,
    TopicName, TransactionalId, WriteTxnMarkersRequest,
};
use kafka_protocol::protocol::StrBytes;

use super::Admin;
use super::leaders::by_topic;
use crate::TopicPartition;
use crate::error::{Context, Error, Result};
use crate::protocol::coordinator::CoordinatorKey;

/// A transaction as [`Admin::list_transactions`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListedTransaction {
    /// The `transactional.id`.
    pub transactional_id: String,
    /// Its producer id.
    pub producer_id: i64,
    /// `Ongoing`, `PrepareCommit`, `CompleteAbort`, `Empty`, ...
    pub state: String,
    /// The coordinator that listed it.
    pub coordinator: i32,
}

/// What [`Admin::list_transactions`] found, and the brokers that could
/// not answer.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ListedTransactions {
    /// Transactions, sorted by id.
    pub transactions: Vec<ListedTransaction>,
    /// Brokers whose transactions are missing, and why.
    pub errors: Vec<(i32, Error)>,
}

/// A transaction described by its coordinator (Java's
/// `TransactionDescription`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransactionDescription {
    /// The `transactional.id`.
    pub transactional_id: String,
    /// The coordinator's node id.
    pub coordinator: i32,
    /// `Ongoing`, `PrepareCommit`, `CompleteCommit`, `Empty`, ...
    pub state: String,
    /// Producer id and epoch.
    pub producer_id: i64,
    /// The producer epoch.
    pub producer_epoch: i16,
    /// `transaction.timeout.ms`.
    pub timeout_ms: i32,
    /// When the current transaction started (ms since the epoch), if one is open.
    pub start_time_ms: Option<i64>,
    /// Partitions in the current transaction.
    pub partitions: Vec<TopicPartition>,
}

/// A producer a partition leader knows (Java's `ProducerState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProducerState {
    /// Producer id.
    pub producer_id: i64,
    /// Producer epoch.
    pub producer_epoch: i32,
    /// Sequence of its last batch.
    pub last_sequence: i32,
    /// Timestamp of its last batch (ms).
    pub last_timestamp: i64,
    /// The coordinator epoch of its last transaction marker, if any.
    pub coordinator_epoch: Option<i32>,
    /// First offset of its open transaction in this partition, if any.
    pub current_transaction_start_offset: Option<i64>,
}

/// An open transaction in a partition that its coordinator does not
/// know (or no longer includes the partition), older than the largest
/// transaction timeout: it holds back `read_committed` consumers until
/// aborted with [`Admin::abort_transaction`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HangingTransaction {
    /// The partition it hangs in.
    pub partition: TopicPartition,
    /// The producer that opened it.
    pub producer: ProducerState,
    /// Its transactional id, when the coordinator still knows the producer.
    pub transactional_id: Option<String>,
}

fn txn_context(api: &'static str, id: &str, coordinator: Option<i32>) -> Context {
    let c = Context::api(api).with_resource("transactional.id", id);
    match coordinator {
        Some(n) => c.with_broker(format!("node {n}")),
        None => c,
    }
}

impl Admin {
    /// Lists transactions at every broker (ListTransactions), optionally
    /// only those in `states`, of `producer_ids`, or running longer than
    /// `min_duration` (v1+).
    pub async fn list_transactions(
        &self,
        states: &[&str],
        producer_ids: &[i64],
        min_duration: Option<Duration>,
    ) -> Result<ListedTransactions> {
        let metadata = self.client.refresh_metadata().await?;
        let request = ListTransactionsRequest::default()
            .with_state_filters(
                states
                    .iter()
                    .map(|s| StrBytes::from_string(s.to_string()))
                    .collect(),
            )
            .with_producer_id_filters(producer_ids.iter().map(|p| ProducerId(*p)).collect())
            .with_duration_filter(
                min_duration.map_or(-1, |d| d.as_millis().min(i64::MAX as u128) as i64),
            );
        let mut out = ListedTransactions::default();
        for &broker in metadata.brokers.keys() {
            let answer = self
                .send_to_or_any(Some(broker), request.clone(), "ListTransactions")
                .await
                .and_then(|(_, r)| {
                    Error::check(r.error_code, None, || {
                        Context::api("ListTransactions").with_broker(format!("node {broker}"))
                    })
                    .map(|()| r)
                });
            match answer {
                Ok(r) => out
                    .transactions
                    .extend(r.transaction_states.into_iter().map(|t| ListedTransaction {
                        transactional_id: t.transactional_id.0.to_string(),
                        producer_id: t.producer_id.0,
                        state: t.transaction_state.to_string(),
                        coordinator: broker,
                    })),
                Err(e) => out.errors.push((broker, e)),
            }
        }
        out.transactions
            .sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        Ok(out)
    }

    /// Describes transactions at their coordinators
    /// (DescribeTransactions). One result per id, in order; an unknown id
    /// is `TRANSACTIONAL_ID_NOT_FOUND`.
    pub async fn describe_transactions(
        &self,
        transactional_ids: &[&str],
    ) -> Result<Vec<(String, Result<TransactionDescription>)>> {
        let mut out = Vec::with_capacity(transactional_ids.len());
        for &id in transactional_ids {
            let result = self
                .retrying("DescribeTransactions", || async move {
                    let coordinator = self
                        .client
                        .find_coordinator(CoordinatorKey::Transaction, id)
                        .await
                        .map_err(|e| e.map_context(|c| c.with_resource("transactional.id", id)))?;
                    let request =
                        DescribeTransactionsRequest::default().with_transactional_ids(vec![
                            TransactionalId(StrBytes::from_string(id.to_owned())),
                        ]);
                    let response = self.client.send_to(coordinator, request).await?;
                    let context = || txn_context("DescribeTransactions", id, Some(coordinator));
                    let Some(t) = response
                        .transaction_states
                        .into_iter()
                        .find(|t| t.transactional_id.0.as_str() == id)
                    else {
                        return Err(Error::protocol(
                            "transaction missing from response",
                            context(),
                        ));
                    };
                    Error::check(t.error_code, None, context)?;
                    Ok(TransactionDescription {
                        transactional_id: id.to_owned(),
                        coordinator,
                        state: t.transaction_state.to_string(),
                        producer_id: t.producer_id.0,
                        producer_epoch: t.producer_epoch,
                        timeout_ms: t.transaction_timeout_ms,
                        start_time_ms: (t.transaction_start_time_ms >= 0)
                            .then_some(t.transaction_start_time_ms),
                        partitions: t
                            .topics
                            .iter()
                            .flat_map(|td| {
                                td.partitions
                                    .iter()
                                    .map(|p| TopicPartition::new(td.topic.0.as_str(), *p))
                            })
                            .collect(),
                    })
                })
                .await;
            out.push((id.to_owned(), result));
        }
        Ok(out)
    }

    /// The producers each partition's leader knows (DescribeProducers):
    /// ids, epochs, last sequences and open transactions. One result per
    /// partition, in order.
    pub async fn describe_producers(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<Vec<(TopicPartition, Result<Vec<ProducerState>>)>> {
        self.at_leaders("DescribeProducers", partitions, |leader, tps| async move {
            let request = DescribeProducersRequest::default().with_topics(
                by_topic(&tps)
                    .into_iter()
                    .map(|(t, parts)| {
                        TopicRequest::default()
                            .with_name(TopicName(StrBytes::from_string(t.to_owned())))
                            .with_partition_indexes(parts)
                    })
                    .collect(),
            );
            let response = self.client.send_to(leader, request).await?;
            let mut out = Vec::new();
            for t in &response.topics {
                for p in &t.partitions {
                    let tp = TopicPartition::new(t.name.0.as_str(), p.partition_index);
                    let result = Error::check(p.error_code, p.error_message.as_deref(), || {
                        Context::api("DescribeProducers")
                            .with_broker(format!("node {leader}"))
                            .with_topic(tp.topic.clone())
                            .with_partition(tp.partition)
                    })
                    .map(|()| {
                        p.active_producers
                            .iter()
                            .map(|s| ProducerState {
                                producer_id: s.producer_id.0,
                                producer_epoch: s.producer_epoch,
                                last_sequence: s.last_sequence,
                                last_timestamp: s.last_timestamp,
                                coordinator_epoch: (s.coordinator_epoch >= 0)
                                    .then_some(s.coordinator_epoch),
                                current_transaction_start_offset: (s.current_txn_start_offset >= 0)
                                    .then_some(s.current_txn_start_offset),
                            })
                            .collect()
                    });
                    out.push((tp, result));
                }
            }
            Ok(out)
        })
        .await
    }

    /// Open transactions in `partitions` that their coordinators do not
    /// account for, whose last write is older than
    /// `max_transaction_timeout` (`kafka-transactions find-hanging`; pass
    /// the brokers' `transaction.max.timeout.ms`, 15 minutes by default).
    /// A partition whose producers cannot be read fails the call.
    pub async fn find_hanging_transactions(
        &self,
        partitions: &[TopicPartition],
        max_transaction_timeout: Duration,
    ) -> Result<Vec<HangingTransaction>> {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as i64;
        let cutoff = now_ms - max_transaction_timeout.as_millis().min(i64::MAX as u128) as i64;
        let mut open: Vec<(TopicPartition, ProducerState)> = Vec::new();
        for (tp, producers) in self.describe_producers(partitions).await? {
            for p in producers? {
                if p.current_transaction_start_offset.is_some() && p.last_timestamp <= cutoff {
                    open.push((tp.clone(), p));
                }
            }
        }
        if open.is_empty() {
            return Ok(Vec::new());
        }
        // Which transactional id each open producer belongs to, if any
        // coordinator still knows it.
        let ids: BTreeSet<i64> = open.iter().map(|(_, p)| p.producer_id).collect();
        let ids: Vec<i64> = ids.into_iter().collect();
        let listed = self.list_transactions(&[], &ids, None).await?;
        if let Some((broker, e)) = listed.errors.into_iter().next() {
            // Without every coordinator's answer a live transaction could
            // look hanging.
            return Err(e.map_context(|c| c.with_broker(format!("node {broker}"))));
        }
        let by_producer: BTreeMap<i64, String> = listed
            .transactions
            .into_iter()
            .map(|t| (t.producer_id, t.transactional_id))
            .collect();
        let names: Vec<&str> = by_producer.values().map(String::as_str).collect();
        let mut described: BTreeMap<String, TransactionDescription> = BTreeMap::new();
        for (id, d) in self.describe_transactions(&names).await? {
            if let Ok(d) = d {
                described.insert(id, d);
            }
        }
        Ok(open
            .into_iter()
            .filter_map(|(tp, p)| {
                let transactional_id = by_producer.get(&p.producer_id).cloned();
                let accounted = transactional_id
                    .as_ref()
                    .and_then(|id| described.get(id))
                    .is_some_and(|d| {
                        matches!(
                            d.state.as_str(),
                            "Ongoing" | "PrepareCommit" | "PrepareAbort"
                        ) && i32::from(d.producer_epoch) == p.producer_epoch
                            && d.partitions.contains(&tp)
                    });
                (!accounted).then_some(HangingTransaction {
                    partition: tp,
                    producer: p,
                    transactional_id,
                })
            })
            .collect())
    }

    /// Aborts a hanging transaction in one partition by writing an ABORT
    /// marker there (WriteTxnMarkers at the partition's leader, as
    /// `kafka-transactions abort` does; needs `ClusterAction`). Use the
    /// producer and coordinator epochs from
    /// [`find_hanging_transactions`](Admin::find_hanging_transactions).
    pub async fn abort_transaction(&self, hanging: &HangingTransaction) -> Result<()> {
        let tp = hanging.partition.clone();
        let producer = hanging.producer;
        let results = self
            .at_leaders(
                "WriteTxnMarkers",
                std::slice::from_ref(&tp),
                |leader, tps| async move {
                    let request = WriteTxnMarkersRequest::default().with_markers(vec![
                        WritableTxnMarker::default()
                            .with_producer_id(ProducerId(producer.producer_id))
                            .with_producer_epoch(producer.producer_epoch as i16)
                            .with_transaction_result(false)
                            .with_coordinator_epoch(producer.coordinator_epoch.unwrap_or(0))
                            .with_topics(
                                by_topic(&tps)
                                    .into_iter()
                                    .map(|(t, parts)| {
                                        WritableTxnMarkerTopic::default()
                                            .with_name(TopicName(StrBytes::from_string(
                                                t.to_owned(),
                                            )))
                                            .with_partition_indexes(parts)
                                    })
                                    .collect(),
                            ),
                    ]);
                    let response = self.client.send_to(leader, request).await?;
                    let mut out = Vec::new();
                    for m in &response.markers {
                        for t in &m.topics {
                            for p in &t.partitions {
                                let tp = TopicPartition::new(t.name.0.as_str(), p.partition_index);
                                let result = Error::check(p.error_code, None, || {
                                    Context::api("WriteTxnMarkers")
                                        .with_broker(format!("node {leader}"))
                                        .with_topic(tp.topic.clone())
                                        .with_partition(tp.partition)
                                });
                                out.push((tp, result));
                            }
                        }
                    }
                    Ok(out)
                },
            )
            .await?;
        results
            .into_iter()
            .next()
            .map_or(Ok(()), |(_, result)| result)
    }
}
