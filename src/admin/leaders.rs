//! Routing a per-partition admin request to each partition's leader, with
//! a metadata refresh and retry for partitions whose leader moved.

use std::collections::BTreeMap;
use std::future::Future;

use super::Admin;
use crate::TopicPartition;
use crate::error::{Context, Error, ErrorCode, Result};
use crate::metadata::refresher::is_stale_metadata;

/// What one leader answered: a result per partition asked.
pub(super) type LeaderAnswer<T> = Result<Vec<(TopicPartition, Result<T>)>>;

/// How long [`Admin::route_to_leaders`] keeps retrying partitions whose
/// leader is unknown or moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rounds {
    /// Until the request timeout (the admin calls).
    UntilTimeout,
    /// One round: such partitions get their retriable error at once and a
    /// metadata refresh is asked for (the consumer's position lookups, so
    /// that one partition without a leader holds up no other; it is asked
    /// again on a later poll).
    Once,
}

impl Admin {
    /// Calls `at_leader(leader, partitions)` once per leader, retrying the
    /// partitions whose leader is unknown or moved (after a metadata
    /// refresh) until the request timeout. One result per partition asked,
    /// in order.
    pub(super) async fn at_leaders<T, F, Fut>(
        &self,
        api: &'static str,
        partitions: &[TopicPartition],
        mut at_leader: F,
    ) -> Result<Vec<(TopicPartition, Result<T>)>>
    where
        F: FnMut(i32, Vec<TopicPartition>) -> Fut,
        Fut: Future<Output = LeaderAnswer<T>>,
    {
        self.route_to_leaders(api, partitions, Rounds::UntilTimeout, |leader, tps| {
            at_leader(leader, tps.into_iter().map(|(tp, _)| tp).collect())
        })
        .await
    }

    /// [`at_leaders`](Self::at_leaders) with the leader epoch each partition
    /// was routed by (for KIP-320's `current_leader_epoch`) and a choice of
    /// [`Rounds`].
    pub(super) async fn route_to_leaders<T, F, Fut>(
        &self,
        api: &'static str,
        partitions: &[TopicPartition],
        rounds: Rounds,
        mut at_leader: F,
    ) -> Result<Vec<(TopicPartition, Result<T>)>>
    where
        F: FnMut(i32, Vec<(TopicPartition, i32)>) -> Fut,
        Fut: Future<Output = LeaderAnswer<T>>,
    {
        let deadline = tokio::time::Instant::now() + self.client.request_timeout();
        let mut topics: Vec<&str> = partitions.iter().map(|tp| &*tp.topic).collect();
        topics.sort_unstable();
        topics.dedup();
        let mut done: BTreeMap<TopicPartition, Result<T>> = BTreeMap::new();
        let mut pending: Vec<TopicPartition> = partitions.to_vec();
        while !pending.is_empty() {
            let metadata = self.client.metadata_for(&topics).await?;
            let mut by_leader: BTreeMap<i32, Vec<(TopicPartition, i32)>> = BTreeMap::new();
            let mut retry: Vec<(TopicPartition, Error)> = Vec::new();
            for tp in pending.drain(..) {
                let part = metadata
                    .topic(&tp.topic)
                    .and_then(|t| t.partition(tp.partition));
                match part.and_then(|p| p.leader.map(|l| (l, p.leader_epoch))) {
                    Some((leader, epoch)) => by_leader.entry(leader).or_default().push((tp, epoch)),
                    None => {
                        let code = metadata
                            .topic_errors
                            .get(&*tp.topic)
                            .copied()
                            .or_else(|| part.and_then(|p| p.error))
                            .unwrap_or(if part.is_none() && metadata.topic(&tp.topic).is_some() {
                                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                            } else {
                                ErrorCode::LEADER_NOT_AVAILABLE
                            });
                        let error = Error::Broker {
                            code,
                            message: None,
                            context: Context::api(api)
                                .with_topic(tp.topic.clone())
                                .with_partition(tp.partition),
                        };
                        if error.is_retriable() {
                            retry.push((tp, error));
                        } else {
                            done.insert(tp, Err(error));
                        }
                    }
                }
            }
            for (leader, tps) in by_leader {
                match at_leader(leader, tps.clone()).await {
                    Ok(results) => {
                        for (tp, result) in results {
                            match result {
                                Err(e) if is_stale_metadata(&e) || e.is_retriable() => {
                                    retry.push((tp, e))
                                }
                                other => {
                                    done.insert(tp, other);
                                }
                            }
                        }
                    }
                    Err(e) if e.is_retriable() => {
                        retry.extend(tps.into_iter().map(|(tp, _)| (tp, e.clone())))
                    }
                    Err(e) => {
                        done.extend(tps.into_iter().map(|(tp, _)| (tp, Err(e.clone()))));
                    }
                }
            }
            if retry.is_empty() {
                break;
            }
            if rounds == Rounds::Once {
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
                api,
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
            .map(|tp| {
                let result = done.remove(tp).unwrap_or_else(|| {
                    Err(Error::protocol(
                        "partition missing from response (asked twice?)",
                        Context::api(api)
                            .with_topic(tp.topic.clone())
                            .with_partition(tp.partition),
                    ))
                });
                (tp.clone(), result)
            })
            .collect())
    }
}

/// Partitions grouped by topic, in a stable order (for building requests).
pub(super) fn by_topic(partitions: &[TopicPartition]) -> BTreeMap<&str, Vec<i32>> {
    let mut out: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in partitions {
        out.entry(&*tp.topic).or_default().push(tp.partition);
    }
    out
}
