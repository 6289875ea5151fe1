//! The consumer's partition table: which partitions are assigned, where
//! each stands, and the prefetched data waiting to be handed out.
//!
//! Two positions are kept per partition, as in the Java consumer:
//!
//! - the **position** (delivered position): the offset of the next record
//!   `poll` will return. `position()`, `lag()` and (later) offset commits
//!   use it;
//! - the **fetch offset**: where the next Fetch starts. It runs ahead of the
//!   position by whatever sits in the prefetch buffer.
//!
//! A seek, reset, pause or reassignment discards the partition's buffered
//! data and bumps its *generation*; a fetch planned under an older
//! generation is dropped when its response arrives, so stale data can never
//! be delivered. Group membership (`consumer::group::member`) changes the
//! assignment through [`PartitionTable::assign`] and sets committed positions
//! with [`PartitionTable::seek`].
//!
//! This file holds the table and the assignment. The calls on it are
//! grouped by who makes them: `positions.rs` (seeks, resets, pauses,
//! positions and lag, for the application), `fetch.rs` (what to fetch and
//! what a fetch brought, for the fetch loops) and `take.rs` (handing
//! buffered records out, for `poll`).

mod fetch;
mod positions;
mod take;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use tokio::sync::Notify;
use tokio::time::Instant;

pub(crate) use fetch::FetchTarget;
pub(crate) use positions::PendingReset;

use super::config::OffsetReset;
use super::fetch::completed::CompletedFetch;
use crate::TopicPartition;
use crate::error::{Context, Error};

/// The state of one assigned partition.
#[derive(Debug)]
pub(crate) struct PartitionState {
    /// Bumped by every seek, reset, pause and error that invalidates
    /// fetched data.
    pub generation: u64,
    /// The delivered position; `None` until a reset (or seek) gives one.
    pub position: Option<i64>,
    /// Leader epoch of the last delivered record (KIP-320), if known.
    pub position_epoch: Option<i32>,
    /// How to find a position when `position` is `None`; `None` means the
    /// configured `auto.offset.reset`.
    pub reset: Option<OffsetReset>,
    /// Where the next Fetch starts (the prefetch position).
    pub fetch_offset: i64,
    /// Paused by the application.
    pub paused: bool,
    /// An error `poll` must report (sticky until a seek, as in Java); no
    /// fetching happens meanwhile.
    pub error: Option<Error>,
    /// A corrupt-data error waiting behind the buffered records before it.
    pending_error: Option<Error>,
    /// No fetch before this instant (backoff after a partition error).
    pub retry_after: Option<Instant>,
    /// From the last Fetch response: high watermark, last stable offset,
    /// log start offset (-1 while unknown).
    pub high_watermark: i64,
    pub last_stable_offset: i64,
    pub log_start_offset: i64,
    buffered: VecDeque<CompletedFetch>,
    buffered_bytes: usize,
}

impl PartitionState {
    fn new(generation: u64) -> Self {
        PartitionState {
            generation,
            position: None,
            position_epoch: None,
            reset: None,
            fetch_offset: -1,
            paused: false,
            error: None,
            pending_error: None,
            retry_after: None,
            high_watermark: -1,
            last_stable_offset: -1,
            log_start_offset: -1,
            buffered: VecDeque::new(),
            buffered_bytes: 0,
        }
    }
}

#[derive(Debug, Default)]
struct Table {
    partitions: BTreeMap<TopicPartition, PartitionState>,
    next_generation: u64,
    buffered_bytes: usize,
    /// Where the next `take` starts, so every partition gets its turn.
    round_robin: usize,
}

impl Table {
    fn bump(&mut self) -> u64 {
        self.next_generation += 1;
        self.next_generation
    }

    /// Drops a partition's buffered data and invalidates in-flight fetches.
    fn invalidate(&mut self, tp: &TopicPartition) {
        let generation = self.bump();
        if let Some(state) = self.partitions.get_mut(tp) {
            self.buffered_bytes -= state.buffered_bytes;
            state.buffered.clear();
            state.buffered_bytes = 0;
            state.pending_error = None;
            state.generation = generation;
        }
    }
}

/// The partition table, shared by the consumer handle and its fetch loops.
#[derive(Debug)]
pub(crate) struct PartitionTable {
    table: Mutex<Table>,
    /// Woken when fetched data (or an error) arrives, for `poll`.
    pub data_ready: Notify,
    /// Woken when fetch loops may have something new to fetch: assignment,
    /// seek, resume, buffer space freed, shutdown.
    pub fetch_wake: Notify,
    default_reset: OffsetReset,
}

impl PartitionTable {
    pub(crate) fn new(default_reset: OffsetReset) -> Self {
        PartitionTable {
            table: Mutex::new(Table::default()),
            data_ready: Notify::new(),
            fetch_wake: Notify::new(),
            default_reset,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        // Nothing panics while holding it, so a poisoned lock still holds
        // consistent data.
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wake_fetchers(&self) {
        self.fetch_wake.notify_waiters();
    }

    /// Replaces the assignment. Partitions that stay keep their position
    /// and buffered data; new ones start without a position (to be reset
    /// per `auto.offset.reset`, or set by the group driver with `seek`).
    pub(crate) fn assign(&self, partitions: impl IntoIterator<Item = TopicPartition>) {
        let mut t = self.lock();
        let wanted: std::collections::BTreeSet<TopicPartition> = partitions.into_iter().collect();
        let gone: Vec<TopicPartition> = t
            .partitions
            .keys()
            .filter(|tp| !wanted.contains(*tp))
            .cloned()
            .collect();
        for tp in gone {
            t.invalidate(&tp);
            t.partitions.remove(&tp);
        }
        for tp in wanted {
            if !t.partitions.contains_key(&tp) {
                let generation = t.bump();
                t.partitions.insert(tp, PartitionState::new(generation));
            }
        }
        drop(t);
        self.wake_fetchers();
        self.data_ready.notify_waiters();
    }

    /// The assigned partitions, sorted.
    pub(crate) fn assignment(&self) -> Vec<TopicPartition> {
        self.lock().partitions.keys().cloned().collect()
    }

    /// The distinct topics of the assignment.
    pub(crate) fn topics(&self) -> Vec<std::sync::Arc<str>> {
        let mut topics: Vec<_> = self
            .lock()
            .partitions
            .keys()
            .map(|tp| tp.topic.clone())
            .collect();
        topics.dedup();
        topics
    }

    fn not_assigned(tp: &TopicPartition) -> Error {
        Error::InvalidArgument {
            reason: "partition is not assigned to this consumer".into(),
            context: Context::default()
                .with_topic(tp.topic.clone())
                .with_partition(tp.partition),
        }
    }
}
