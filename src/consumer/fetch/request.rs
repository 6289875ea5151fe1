//! Builds a Fetch request from a session plan.

use std::sync::Arc;

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
use kafka_protocol::messages::{BrokerId, FetchRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::session::FetchPlan;
use crate::TopicPartition;
use crate::consumer::config::ConsumerConfig;

/// The Fetch request for `plan`, with the consumer's bounds.
pub(crate) fn build(plan: &FetchPlan, config: &ConsumerConfig) -> FetchRequest {
    let topics = group(plan.send.iter().map(|(tp, p)| (tp, *p)), |tp, p| {
        FetchPartition::default()
            .with_partition(tp.partition)
            // KIP-320: a leader with a newer epoch answers FENCED_LEADER_EPOCH
            // instead of serving us from a view we no longer hold.
            .with_current_leader_epoch(p.leader_epoch)
            .with_fetch_offset(p.fetch_offset)
            .with_log_start_offset(-1)
            .with_partition_max_bytes(p.max_bytes)
    })
    .into_iter()
    .map(|(topic, partitions)| {
        FetchTopic::default()
            .with_topic(name(&topic))
            .with_partitions(partitions)
    })
    .collect();
    let forgotten = group(plan.forgotten.iter().map(|tp| (tp, ())), |tp, ()| {
        tp.partition
    })
    .into_iter()
    .map(|(topic, partitions)| {
        ForgottenTopic::default()
            .with_topic(name(&topic))
            .with_partitions(partitions)
    })
    .collect();
    FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(i32::try_from(config.fetch_max_wait.as_millis()).unwrap_or(i32::MAX))
        .with_min_bytes(config.fetch_min_bytes)
        .with_max_bytes(config.fetch_max_bytes)
        .with_isolation_level(config.isolation_level.wire())
        .with_session_id(plan.session_id)
        .with_session_epoch(plan.epoch)
        .with_topics(topics)
        .with_forgotten_topics_data(forgotten)
        .with_rack_id(StrBytes::from_string(config.client_rack.clone()))
}

fn name(topic: &Arc<str>) -> TopicName {
    TopicName(StrBytes::from_string(topic.to_string()))
}

/// Groups consecutive entries of the same topic (inputs are sorted by
/// topic, so each topic appears once).
fn group<'a, P, T>(
    items: impl Iterator<Item = (&'a TopicPartition, P)>,
    mut f: impl FnMut(&TopicPartition, P) -> T,
) -> Vec<(Arc<str>, Vec<T>)> {
    let mut out: Vec<(Arc<str>, Vec<T>)> = Vec::new();
    for (tp, p) in items {
        let item = f(tp, p);
        match out.last_mut() {
            Some((topic, items)) if *topic == tp.topic => items.push(item),
            _ => out.push((tp.topic.clone(), vec![item])),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consumer::fetch::session::SessionPartition;

    #[test]
    fn groups_partitions_by_topic_and_carries_the_plan() {
        let p = SessionPartition {
            fetch_offset: 7,
            max_bytes: 1000,
            leader_epoch: 3,
        };
        let plan = FetchPlan {
            session_id: 9,
            epoch: 2,
            full: false,
            send: vec![
                (TopicPartition::new("a", 0), p),
                (TopicPartition::new("a", 1), p),
                (TopicPartition::new("b", 0), p),
            ],
            forgotten: vec![TopicPartition::new("c", 4)],
        };
        let req = build(&plan, &ConsumerConfig::default());
        assert_eq!((req.session_id, req.session_epoch), (9, 2));
        assert_eq!(req.max_wait_ms, 500);
        assert_eq!(req.topics.len(), 2);
        assert_eq!(req.topics[0].partitions.len(), 2);
        assert_eq!(req.topics[0].partitions[1].fetch_offset, 7);
        assert_eq!(req.topics[0].partitions[1].current_leader_epoch, 3);
        assert_eq!(req.forgotten_topics_data[0].partitions, vec![4]);
    }
}
