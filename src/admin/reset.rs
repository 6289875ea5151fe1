//! Offset resets as `kafka-consumer-groups --reset-offsets` does them: a
//! plan computed from the partitions' offsets (`--dry-run` prints it),
//! then applied with an admin OffsetCommit (`--execute`), only while the
//! group has no active members.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Admin;
use super::groups::group_context;
use super::offsets::OffsetSpec;
use crate::TopicPartition;
use crate::consumer::OffsetAndMetadata;
use crate::error::{Error, Result};

/// Where to move a group's offsets (the `--reset-offsets` scenarios).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResetTo {
    /// `--to-earliest`: each partition's log start offset.
    Earliest,
    /// `--to-latest`: each partition's end offset.
    Latest,
    /// `--to-current`: the committed offset (no change; fills a plan).
    Current,
    /// `--to-offset N`: the same offset everywhere, kept within
    /// `[earliest, latest]`.
    Offset(i64),
    /// `--shift-by N`: the committed offset plus `N` (may be negative),
    /// kept within `[earliest, latest]`.
    ShiftBy(i64),
    /// `--to-datetime`: the first offset whose timestamp is at or after
    /// this time (ms since the epoch); the end offset when none is.
    Datetime(i64),
    /// `--by-duration`: like `Datetime(now - duration)`.
    ByDuration(Duration),
    /// `--from-file`: these offsets, as given.
    FromFile(BTreeMap<TopicPartition, i64>),
}

/// A reset's plan: the new offset of each partition (`--dry-run` prints
/// `GROUP TOPIC PARTITION NEW-OFFSET` from it).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResetPlan {
    /// The group.
    pub group_id: String,
    /// The new offset of each partition.
    pub offsets: BTreeMap<TopicPartition, i64>,
    /// Partitions whose asked offset was moved into `[earliest, latest]`,
    /// and why (Kafka's tool prints these as warnings).
    pub adjusted: Vec<(TopicPartition, String)>,
}

impl Admin {
    /// Computes where `reset` moves `group_id`'s offsets for `partitions`
    /// (all partitions the group has committed when empty), without
    /// changing anything. Fails, naming the group, while the group has
    /// active members; fails, naming the partition, when a partition's
    /// offsets cannot be read or it has no committed offset to shift.
    pub async fn plan_offset_reset(
        &self,
        group_id: &str,
        partitions: &[TopicPartition],
        reset: &ResetTo,
    ) -> Result<ResetPlan> {
        self.ensure_inactive(group_id).await?;
        let committed = self.list_consumer_group_offsets(group_id).await?;
        let partitions: Vec<TopicPartition> = match (partitions.is_empty(), reset) {
            (false, _) => partitions.to_vec(),
            (true, ResetTo::FromFile(plan)) => plan.keys().cloned().collect(),
            (true, _) => committed.keys().cloned().collect(),
        };
        let asked: Vec<(&str, i32)> = partitions
            .iter()
            .map(|tp| (&*tp.topic, tp.partition))
            .collect();
        let earliest = self.offsets_or_fail(&asked, OffsetSpec::Earliest).await?;
        let latest = self.offsets_or_fail(&asked, OffsetSpec::Latest).await?;
        let by_time = match reset {
            ResetTo::Datetime(ts) => Some(*ts),
            ResetTo::ByDuration(d) => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default();
                Some(now.saturating_sub(*d).as_millis().min(i64::MAX as u128) as i64)
            }
            _ => None,
        };
        let at_time = match by_time {
            Some(ts) => Some(
                self.offsets_or_fail(&asked, OffsetSpec::ForTimestamp(ts))
                    .await?,
            ),
            None => None,
        };
        let mut plan = ResetPlan {
            group_id: group_id.to_owned(),
            offsets: BTreeMap::new(),
            adjusted: Vec::new(),
        };
        for (i, tp) in partitions.iter().enumerate() {
            let (low, high) = (earliest[i], latest[i]);
            let context = || {
                group_context("OffsetReset", group_id, None)
                    .with_topic(tp.topic.clone())
                    .with_partition(tp.partition)
            };
            let current = committed.get(tp).map(|o| o.offset);
            let wanted = match reset {
                ResetTo::Earliest => low,
                ResetTo::Latest => high,
                ResetTo::Offset(n) => *n,
                ResetTo::Current | ResetTo::ShiftBy(_) => {
                    let Some(c) = current else {
                        return Err(Error::InvalidArgument {
                            reason: "the group has no committed offset here to start from".into(),
                            context: context(),
                        });
                    };
                    match reset {
                        ResetTo::ShiftBy(n) => c.saturating_add(*n),
                        _ => c,
                    }
                }
                // No record at or after the time: the end, as Kafka's tool.
                ResetTo::Datetime(_) | ResetTo::ByDuration(_) => match &at_time {
                    Some(found) if found[i] >= 0 => found[i],
                    _ => high,
                },
                ResetTo::FromFile(offsets) => match offsets.get(tp) {
                    Some(o) => *o,
                    None => {
                        return Err(Error::InvalidArgument {
                            reason: "partition not in the file".into(),
                            context: context(),
                        });
                    }
                },
            };
            let new = wanted.clamp(low, high.max(low));
            if new != wanted {
                let bound = if wanted < low { "earliest" } else { "latest" };
                plan.adjusted.push((
                    tp.clone(),
                    format!("new offset {wanted} is outside [{low}, {high}]; set to the {bound} offset {new}"),
                ));
            }
            plan.offsets.insert(tp.clone(), new);
        }
        Ok(plan)
    }

    /// Applies a plan from [`plan_offset_reset`](Admin::plan_offset_reset)
    /// (`--execute`): commits its offsets for the group, after checking
    /// again that the group has no active members. One result per
    /// partition.
    pub async fn reset_consumer_group_offsets(
        &self,
        plan: &ResetPlan,
    ) -> Result<Vec<(TopicPartition, Result<()>)>> {
        self.ensure_inactive(&plan.group_id).await?;
        let offsets: BTreeMap<TopicPartition, OffsetAndMetadata> = plan
            .offsets
            .iter()
            .map(|(tp, o)| (tp.clone(), OffsetAndMetadata::new(*o)))
            .collect();
        self.alter_consumer_group_offsets(&plan.group_id, &offsets)
            .await
    }

    /// Fails unless the group is `Empty` or `Dead` (unknown), as Kafka's
    /// tool does before any reset.
    async fn ensure_inactive(&self, group_id: &str) -> Result<()> {
        let described = self.describe_consumer_groups(&[group_id]).await?;
        let Some((_, description)) = described.into_iter().next() else {
            return Ok(());
        };
        let d = description?;
        if d.state == "Empty" || d.state == "Dead" {
            return Ok(());
        }
        Err(Error::InvalidArgument {
            reason: format!(
                "offsets can only be reset while the group is inactive, but its state is {} with {} member(s); stop its consumers first",
                d.state,
                d.members.len()
            ),
            context: group_context("OffsetReset", group_id, Some(d.coordinator)),
        })
    }

    /// Offsets for every partition, or the first partition's error.
    async fn offsets_or_fail(&self, asked: &[(&str, i32)], spec: OffsetSpec) -> Result<Vec<i64>> {
        self.list_offsets(asked, spec)
            .await?
            .into_iter()
            .map(|(_, r)| r.map(|o| o.offset))
            .collect()
    }
}
