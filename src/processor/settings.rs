//! The settings a processor runs with; all but the ordering change at run
//! time through [`ProcessorHandle::update`](super::ProcessorHandle::update).

use std::time::Duration;

use super::breaker::BreakerConfig;
use super::retry::RetryPolicy;

/// What limits and protects the processing (changeable at run time).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ProcessorSettings {
    /// Records (or batches) processed at once across all partitions.
    pub max_concurrency: usize,
    /// Records processed at once per partition (with
    /// [`ProcessingOrder::Key`](super::ProcessingOrder::Key) or `Unordered`;
    /// `Partition` order is one at a time).
    pub max_in_flight_per_partition: usize,
    /// Retries of a failed record.
    pub retry: RetryPolicy,
    /// A handler call that takes longer fails (retriably).
    pub handler_timeout: Option<Duration>,
    /// Records per second handed to the handler, all partitions together.
    pub records_per_second: Option<f64>,
    /// Value and key bytes per second handed to the handler.
    pub bytes_per_second: Option<f64>,
    /// Records per second per partition.
    pub partition_records_per_second: Option<f64>,
    /// Consecutive failures open the breaker, which pauses all partitions
    /// for a cool-down and then lets one record through as a probe.
    pub breaker: Option<BreakerConfig>,
}

impl Default for ProcessorSettings {
    fn default() -> Self {
        ProcessorSettings {
            max_concurrency: 16,
            max_in_flight_per_partition: 16,
            retry: RetryPolicy::default(),
            handler_timeout: None,
            records_per_second: None,
            bytes_per_second: None,
            partition_records_per_second: None,
            breaker: None,
        }
    }
}

/// Batch processing: the handler gets up to `max_records` records at a
/// time, waiting up to `max_wait` for a batch to fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchConfig {
    /// The most records per handler call.
    pub max_records: usize,
    /// How long the first record of a batch waits for more.
    pub max_wait: Duration,
}

impl BatchConfig {
    /// Batches of up to `max_records`, each waiting at most `max_wait`.
    pub fn new(max_records: usize, max_wait: Duration) -> BatchConfig {
        BatchConfig {
            max_records: max_records.max(1),
            max_wait,
        }
    }
}
