//! `TopicPartition`: the name of one partition of one topic.

use std::fmt;
use std::sync::Arc;

/// One partition of one topic, as Java's `org.apache.kafka.common.TopicPartition`.
///
/// The topic name is an `Arc<str>` because the consumer and producer copy
/// partition names into many maps; cloning one is a reference-count bump.
/// Ordering is by topic, then partition, which is the order assignors and
/// commit requests use.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// The topic name.
    pub topic: Arc<str>,
    /// The partition index within the topic.
    pub partition: i32,
}

impl TopicPartition {
    /// The partition `partition` of `topic`.
    pub fn new(topic: impl Into<Arc<str>>, partition: i32) -> Self {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

/// Shown as Java does: `topic-partition`.
impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_by_topic_then_partition_and_displays_like_java() {
        let mut v = [
            TopicPartition::new("b", 0),
            TopicPartition::new("a", 10),
            TopicPartition::new("a", 2),
        ];
        v.sort();
        let shown: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["a-2", "a-10", "b-0"]);
    }
}
