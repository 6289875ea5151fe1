//! Java's `RoundRobinPartitioner`.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{Partitioner, TopicPartitions, to_positive};

/// Java's `org.apache.kafka.clients.producer.RoundRobinPartitioner`: each
/// record goes to the next partition in turn, ignoring its key.
///
/// There is one counter per topic, starting at 0. The counter indexes the
/// partitions that have a leader; when none has, it indexes all partitions.
/// The counter is a wrapping 32-bit integer reduced with
/// [`to_positive`], exactly as Java's `AtomicInteger`, so the sequence
/// matches Java's even across the wrap.
#[derive(Debug, Default)]
pub struct RoundRobinPartitioner {
    /// Next counter value per topic. A mutex rather than a concurrent map:
    /// it is held only for a hash lookup and an increment.
    counters: Mutex<HashMap<Box<str>, u32>>,
}

impl RoundRobinPartitioner {
    /// A partitioner with every topic's counter at 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the topic's counter and advances it.
    fn next_value(&self, topic: &str) -> i32 {
        // A panic while holding this lock cannot leave a counter in a state
        // worse than "some value", so a poisoned lock is still usable.
        let mut counters = self
            .counters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let counter = match counters.get_mut(topic) {
            Some(c) => c,
            None => counters.entry(topic.into()).or_insert(0),
        };
        let value = *counter;
        *counter = counter.wrapping_add(1);
        // Same bits as Java's int counter.
        value as i32
    }
}

impl Partitioner for RoundRobinPartitioner {
    fn partition(
        &self,
        topic: &str,
        _key: Option<&[u8]>,
        _value: Option<&[u8]>,
        partitions: &TopicPartitions,
    ) -> i32 {
        let next = to_positive(self.next_value(topic));
        let available = partitions.available();
        if available.is_empty() {
            // No partition has a leader: hand out an unavailable one, as Java
            // does; the record waits for a leader.
            next % partitions.num_partitions()
        } else {
            // `next` is non-negative, so the cast cannot wrap.
            let index = next as usize % available.len();
            available[index]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(n: i32, available: &[i32]) -> TopicPartitions {
        TopicPartitions::new(n, available.iter().copied()).unwrap()
    }

    #[test]
    fn cycles_through_available_partitions_ignoring_keys() {
        let rr = RoundRobinPartitioner::new();
        let v = view(3, &[0, 1, 2]);
        let got: Vec<i32> = (0..7)
            .map(|i| rr.partition("t", Some(format!("k{i}").as_bytes()), None, &v))
            .collect();
        assert_eq!(got, vec![0, 1, 2, 0, 1, 2, 0]);
    }

    #[test]
    fn skips_partitions_without_leader() {
        // Java's RoundRobinPartitionerTest: partition 1 has no leader.
        let rr = RoundRobinPartitioner::new();
        let v = view(3, &[0, 2]);
        let got: Vec<i32> = (0..4).map(|_| rr.partition("t", None, None, &v)).collect();
        assert_eq!(got, vec![0, 2, 0, 2]);
    }

    #[test]
    fn uses_all_partitions_when_none_is_available() {
        let rr = RoundRobinPartitioner::new();
        let v = view(2, &[]);
        let got: Vec<i32> = (0..3).map(|_| rr.partition("t", None, None, &v)).collect();
        assert_eq!(got, vec![0, 1, 0]);
    }

    #[test]
    fn counters_are_per_topic() {
        let rr = RoundRobinPartitioner::new();
        let v = view(4, &[0, 1, 2, 3]);
        assert_eq!(rr.partition("a", None, None, &v), 0);
        assert_eq!(rr.partition("a", None, None, &v), 1);
        assert_eq!(rr.partition("b", None, None, &v), 0);
        assert_eq!(rr.partition("a", None, None, &v), 2);
    }

    #[test]
    fn wraps_like_a_java_int() {
        let rr = RoundRobinPartitioner::new();
        // Start just below Java's Integer.MAX_VALUE.
        rr.counters
            .lock()
            .unwrap()
            .insert("t".into(), (i32::MAX - 1) as u32);
        let v = view(3, &[0, 1, 2]);
        let got: Vec<i32> = (0..4).map(|_| rr.partition("t", None, None, &v)).collect();
        // (MAX-1) % 3 = 0 and MAX % 3 = 1; then the counter wraps to MIN and
        // MIN+1, which to_positive turns into 0 and 1.
        assert_eq!(got, vec![0, 1, 0, 1]);
    }
}
