//! Consumer counters and their snapshot.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::TopicPartition;

/// Counters the fetch loops and `poll` update.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub records_fetched: AtomicU64,
    pub bytes_fetched: AtomicU64,
    pub fetch_requests: AtomicU64,
    pub fetch_errors: AtomicU64,
    pub fetch_latency_total_us: AtomicU64,
    pub fetch_latency_max_us: AtomicU64,
    pub records_consumed: AtomicU64,
}

impl Counters {
    pub(crate) fn fetch_done(&self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.fetch_requests.fetch_add(1, Ordering::Relaxed);
        self.fetch_latency_total_us.fetch_add(us, Ordering::Relaxed);
        self.fetch_latency_max_us.fetch_max(us, Ordering::Relaxed);
    }
}

/// A snapshot of a consumer's counters (Java's `records-consumed-total`,
/// `fetch-latency-avg`, `records-lag`, ... in one struct).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerMetrics {
    /// Records received in Fetch responses (prefetched, delivered or not).
    pub records_fetched: u64,
    /// Record bytes received in Fetch responses (wire size).
    pub bytes_fetched: u64,
    /// Records handed to the application.
    pub records_consumed: u64,
    /// Fetch requests answered.
    pub fetch_requests: u64,
    /// Fetch requests that failed as a whole (connection, session, ...).
    pub fetch_errors: u64,
    /// Mean time from sending a Fetch to its response (includes the
    /// broker's `fetch.max.wait.ms` hold).
    pub fetch_latency_avg: Duration,
    /// Longest such time.
    pub fetch_latency_max: Duration,
    /// Bytes prefetched and not yet handed out.
    pub buffered_bytes: u64,
    /// Per partition: high watermark of the last Fetch minus the delivered
    /// position (partitions not fetched yet are absent).
    pub lag: BTreeMap<TopicPartition, i64>,
}

impl ConsumerMetrics {
    pub(crate) fn snapshot(
        c: &Counters,
        buffered_bytes: usize,
        lag: BTreeMap<TopicPartition, i64>,
    ) -> ConsumerMetrics {
        let requests = c.fetch_requests.load(Ordering::Relaxed);
        let total = c.fetch_latency_total_us.load(Ordering::Relaxed);
        ConsumerMetrics {
            records_fetched: c.records_fetched.load(Ordering::Relaxed),
            bytes_fetched: c.bytes_fetched.load(Ordering::Relaxed),
            records_consumed: c.records_consumed.load(Ordering::Relaxed),
            fetch_requests: requests,
            fetch_errors: c.fetch_errors.load(Ordering::Relaxed),
            fetch_latency_avg: Duration::from_micros(total.checked_div(requests).unwrap_or(0)),
            fetch_latency_max: Duration::from_micros(
                c.fetch_latency_max_us.load(Ordering::Relaxed),
            ),
            buffered_bytes: buffered_bytes as u64,
            lag,
        }
    }
}
