//! Consumer counters and their snapshot.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::TopicPartition;

/// Counters the fetch loops and `poll` update.
///
/// `records_fetched` / `bytes_fetched` are counted by a fetch loop
/// *before* it hands the decoded data to the partition table
/// ([`Counters::count_fetched`]), and `records_consumed` by `poll` after
/// it took records out of that table; [`ConsumerMetrics::snapshot`] reads
/// consumed before fetched. So a snapshot never shows more records
/// consumed than fetched, whatever it races with.
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
    /// Counts a partition's decoded fetch; call it before handing the
    /// data over (see the type's docs). Release, so that a snapshot that
    /// sees records consumed from this data also sees them fetched.
    pub(crate) fn count_fetched(&self, records: u64, bytes: u64) {
        self.records_fetched.fetch_add(records, Ordering::Release);
        self.bytes_fetched.fetch_add(bytes, Ordering::Release);
    }

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
#[non_exhaustive]
pub struct ConsumerMetrics {
    /// Records received in Fetch responses: every record of each batch
    /// that was decoded for a partition the fetch was planned for
    /// (prefetched, delivered or not, including control records, records
    /// a `read_committed` consumer drops as aborted, records before the
    /// fetch offset in the first batch, and a fetch the partition table
    /// then discards because a seek, reset or revocation made it stale).
    /// Counted when the response is decoded, before the data can be
    /// polled, so never less than `records_consumed`.
    pub records_fetched: u64,
    /// Record bytes received in Fetch responses (wire size), for the same
    /// partitions as `records_fetched`.
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
        // Consumed first: anything consumed was counted as fetched before,
        // so reading fetched afterwards cannot show less.
        let records_consumed = c.records_consumed.load(Ordering::Acquire);
        let records_fetched = c.records_fetched.load(Ordering::Acquire);
        ConsumerMetrics {
            records_fetched,
            bytes_fetched: c.bytes_fetched.load(Ordering::Acquire),
            records_consumed,
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

/// Reads a consumer's counters for an exporter without keeping the
/// consumer alive: `None` once it is dropped.
#[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
#[derive(Debug, Clone)]
pub(crate) struct MetricsSource {
    pub(crate) ctx: std::sync::Weak<crate::consumer::fetch::FetchContext>,
    /// The consumer's closed flag: a closed consumer reads as gone, as Java
    /// removes a closed client's metrics.
    pub(crate) closed: Arc<std::sync::atomic::AtomicBool>,
    pub(crate) group: Option<crate::consumer::group::driver::MembershipMetricsReader>,
}

/// What one read of a [`MetricsSource`] gives.
#[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
pub(crate) struct SourceReading {
    pub client_id: String,
    pub group_id: Option<String>,
    pub consumer: ConsumerMetrics,
    pub group: Option<super::MembershipMetrics>,
}

#[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
impl MetricsSource {
    pub(crate) fn read(&self) -> Option<SourceReading> {
        if self.closed.load(Ordering::Acquire) {
            return None;
        }
        let ctx = self.ctx.upgrade()?;
        let read_committed =
            ctx.config.isolation_level == crate::consumer::config::IsolationLevel::ReadCommitted;
        Some(SourceReading {
            client_id: ctx.client.client_id().to_owned(),
            group_id: ctx.config.group_id.clone(),
            consumer: ConsumerMetrics::snapshot(
                &ctx.counters,
                ctx.subs.buffered_bytes(),
                ctx.subs.lags(read_committed),
            ),
            group: self.group.as_ref().and_then(|g| g.read()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::sync::atomic::AtomicBool;
    use std::sync::{Arc, Mutex};

    /// A fetch loop hands batches over through a locked queue (as the
    /// partition table is) while `poll` takes them and counts them
    /// consumed, and a third thread takes snapshots: none may show more
    /// consumed than fetched. Counting fetched after the hand-over (or
    /// reading fetched before consumed) fails this within a few thousand
    /// hand-overs on two cores.
    #[test]
    fn a_snapshot_never_shows_more_consumed_than_fetched() {
        let counters = Arc::new(Counters::default());
        let table: Arc<Mutex<VecDeque<u64>>> = Arc::default();
        let done = Arc::new(AtomicBool::new(false));
        const HANDOVERS: u64 = 200_000;
        let fetcher = {
            let (counters, table) = (counters.clone(), table.clone());
            std::thread::spawn(move || {
                for _ in 0..HANDOVERS {
                    // As broker_loop does: count, then hand over.
                    counters.count_fetched(3, 100);
                    table.lock().unwrap().push_back(3);
                }
            })
        };
        let poller = {
            let (counters, table, done) = (counters.clone(), table.clone(), done.clone());
            std::thread::spawn(move || {
                let mut taken = 0;
                while taken < HANDOVERS {
                    let batch = table.lock().unwrap().pop_front();
                    if let Some(n) = batch {
                        taken += 1;
                        // As `Consumer::poll` counts (Relaxed).
                        counters.records_consumed.fetch_add(n, Ordering::Relaxed);
                    }
                }
                done.store(true, Ordering::Release);
            })
        };
        let mut snapshots = 0u64;
        while !done.load(Ordering::Acquire) {
            let m = ConsumerMetrics::snapshot(&counters, 0, BTreeMap::new());
            assert!(
                m.records_consumed <= m.records_fetched,
                "consumed {} > fetched {} (snapshot {snapshots})",
                m.records_consumed,
                m.records_fetched
            );
            snapshots += 1;
        }
        fetcher.join().unwrap();
        poller.join().unwrap();
        let m = ConsumerMetrics::snapshot(&counters, 0, BTreeMap::new());
        assert_eq!(m.records_fetched, 3 * HANDOVERS);
        assert_eq!(m.records_consumed, 3 * HANDOVERS);
        assert_eq!(m.bytes_fetched, 100 * HANDOVERS);
    }
}
