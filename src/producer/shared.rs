//! [`Shared`]: the state the producer handles, the sender task, its
//! per-broker sinks and the transaction manager share. Its own module so
//! that the handle (which starts the sender) and the sender (which settles
//! what the handle enqueued) both depend on it and not on each other.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{Notify, Semaphore};

use super::accumulator::Accumulator;
use super::config::ProducerConfig;
use super::partitioner::{PartitionSelector, StickyPartitioner};
use super::routing::Routes;
use super::transaction::TransactionManager;
use crate::client::Client;
use crate::error::{Error, Result};

/// Counters of a producer, readable as a snapshot.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    pub sent: AtomicU64,
    pub failed: AtomicU64,
    pub retried: AtomicU64,
    pub batches_sent: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub identity_resets: AtomicU64,
    pub txn_retries: AtomicU64,
    /// Produce requests answered, and their round trips (Java's
    /// `request-latency-avg`/`-max`): per request, never per record.
    pub requests: AtomicU64,
    pub request_latency_total_us: AtomicU64,
    pub request_latency_max_us: AtomicU64,
}

impl Metrics {
    pub(crate) fn request_done(&self, latency: std::time::Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.request_latency_total_us
            .fetch_add(us, Ordering::Relaxed);
        self.request_latency_max_us.fetch_max(us, Ordering::Relaxed);
    }
}

/// State shared by the producer handles and the sender task.
pub(crate) struct Shared {
    pub client: Client,
    pub config: ProducerConfig,
    pub(super) accumulator: Mutex<Accumulator>,
    pub(super) sticky: Mutex<HashMap<Arc<str>, StickyPartitioner>>,
    pub(super) routes: Routes,
    pub(super) selector: PartitionSelector,
    pub(super) memory: Semaphore,
    pub producer_id: Mutex<Option<(i64, i16)>>,
    /// Set when the producer must take a new id before sending new batches.
    pub renew_identity: AtomicBool,
    pub wake: Notify,
    pub idle: Notify,
    pub(super) flushes: AtomicUsize,
    pub(super) closed: AtomicBool,
    pub(super) closed_hard: AtomicBool,
    pub(super) fatal: Mutex<Option<Error>>,
    pub metrics: Metrics,
    /// Set for a `TransactionalProducer`: its transaction state, which the
    /// sender consults per batch (never per record) and tells of failures.
    pub txn: Option<Arc<TransactionManager>>,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, Accumulator> {
        // Nothing panics while holding it, so a poisoned lock still holds
        // consistent data.
        self.accumulator.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn flushing(&self) -> bool {
        self.flushes.load(Ordering::Acquire) > 0 || self.is_closed()
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub fn is_closed_hard(&self) -> bool {
        self.closed_hard.load(Ordering::Acquire)
    }

    /// Marks the producer closed without waiting (no I/O): new sends fail
    /// with [`Error::Closed`]; the sender settles what is queued or in
    /// flight, then ends. For handles dropped without `close`.
    pub fn close_without_waiting(&self) {
        self.closed.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    /// Records an error after which the producer cannot continue.
    pub fn set_fatal(&self, e: Error) {
        *self.fatal.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
        self.closed.store(true, Ordering::Release);
    }

    pub(super) fn check_usable(&self) -> Result<()> {
        // The common case reads one atomic; a fatal error always closes.
        if !self.is_closed() {
            return Ok(());
        }
        if let Some(e) = self.fatal.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Err(e);
        }
        if self.is_closed() {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    pub fn release_memory(&self, bytes: usize) {
        self.memory.add_permits(bytes);
    }

    pub fn idle_check(&self) {
        if self.lock().outstanding() == 0 {
            self.idle.notify_waiters();
        }
    }
}
