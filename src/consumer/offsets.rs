//! Offset lookups (ListOffsets at each partition's leader, through
//! [`crate::Admin::list_offsets`] and its leader-move retry): positions for
//! partitions that have none, and the consumer's `beginning_offsets`,
//! `end_offsets` and `offsets_for_times`.

use std::collections::BTreeMap;

use super::config::{IsolationLevel, OffsetReset};
use super::partitions::{PartitionTable, PendingReset};
use crate::TopicPartition;
use crate::admin::{ListedOffset, OffsetSpec};
use crate::client::Client;
use crate::error::Result;

/// Looks up `spec` for each partition at the consumer's isolation level
/// (`Latest` is the last stable offset for read_committed, as in Java);
/// one result per partition.
pub(crate) async fn list(
    client: &Client,
    tps: &[TopicPartition],
    spec: OffsetSpec,
    isolation: IsolationLevel,
) -> Result<BTreeMap<TopicPartition, Result<ListedOffset>>> {
    let query: Vec<(&str, i32)> = tps.iter().map(|tp| (&*tp.topic, tp.partition)).collect();
    let results = crate::admin::Admin::new(client)
        .list_offsets_isolated(&query, spec, isolation.wire())
        .await?;
    Ok(results
        .into_iter()
        .map(|((topic, partition), r)| (TopicPartition::new(topic, partition), r))
        .collect())
}

/// [`list`] in one round: partitions without a leader fail at once
/// (retriable) instead of holding up the others.
async fn list_once(
    client: &Client,
    tps: &[TopicPartition],
    spec: OffsetSpec,
    isolation: IsolationLevel,
) -> Result<BTreeMap<TopicPartition, Result<ListedOffset>>> {
    let query: Vec<(&str, i32)> = tps.iter().map(|tp| (&*tp.topic, tp.partition)).collect();
    let results = crate::admin::Admin::new(client)
        .list_offsets_once(&query, spec, isolation.wire())
        .await?;
    Ok(results
        .into_iter()
        .map(|((topic, partition), r)| (TopicPartition::new(topic, partition), r))
        .collect())
}

/// Finds a position for every partition that needs one, per its reset
/// strategy. Results are applied only if the partition was not sought
/// meanwhile, so this is safe to abandon half way (cancel-safe).
pub(crate) async fn reset_positions(
    client: &Client,
    subs: &PartitionTable,
    isolation: IsolationLevel,
) {
    let pending = subs.pending_resets();
    if pending.is_empty() {
        return;
    }
    let backoff = client.retry_backoff();
    for strategy in [OffsetReset::Earliest, OffsetReset::Latest] {
        let group: Vec<&PendingReset> = pending.iter().filter(|r| r.strategy == strategy).collect();
        if group.is_empty() {
            continue;
        }
        let spec = match strategy {
            OffsetReset::Earliest => OffsetSpec::Earliest,
            _ => OffsetSpec::Latest,
        };
        let tps: Vec<TopicPartition> = group.iter().map(|r| r.tp.clone()).collect();
        match list_once(client, &tps, spec, isolation).await {
            Ok(mut results) => {
                for reset in group {
                    let result = match results.remove(&reset.tp) {
                        Some(r) => r.map(|l| l.offset),
                        None => continue,
                    };
                    subs.complete_reset(reset, result, backoff);
                }
            }
            Err(e) => {
                for reset in group {
                    subs.complete_reset(reset, Err(e.clone()), backoff);
                }
            }
        }
    }
}
