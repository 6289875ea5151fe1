//! The processor's tasks: the poll loop (the `run` future), one task per
//! job (a record, or a batch) that calls the handler, retries it and
//! dead-letters it, and the commits. Decisions are made by [`Core`] under
//! one mutex, never held across an `.await`; this file does the waiting.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use super::core::{Core, Job, Outcome};
use super::dead_letter::dead_letter_headers;
use super::health::Health;
use super::settings::{BatchConfig, ProcessorSettings};
use super::transaction::{TransactionConfig, Transactions};
use super::{ProcessError, ProcessingOrder};
use crate::TopicPartition;
use crate::consumer::{Consumer, ConsumerRecord, OffsetAndMetadata};
use crate::error::Result;
use crate::producer::{Producer, ProducerRecord};

/// The handler, erased: a batch of records in, success or why not out
/// (a record handler is a batch of one).
pub(crate) type Handler<K, V> = Arc<
    dyn Fn(
            Vec<Arc<ConsumerRecord<K, V>>>,
        ) -> Pin<Box<dyn Future<Output = Result<(), ProcessError>> + Send>>
        + Send
        + Sync,
>;

/// Where dead letters go.
pub(crate) struct DeadLetters<K, V> {
    pub producer: Producer<K, V>,
    pub topic: Arc<dyn Fn(&str) -> String + Send + Sync>,
}

/// How the runtime is set up (fixed for a processor's life).
pub(crate) struct Fixed {
    pub group: String,
    pub commit_interval: Duration,
    pub poll_timeout: Duration,
    pub drain_timeout: Duration,
    pub liveness_timeout: Duration,
    pub batch: Option<BatchConfig>,
}

/// State shared by the poll loop, the job tasks, the rebalance listener
/// and [`ProcessorHandle`]s.
pub(crate) struct Shared<K, V> {
    core: Mutex<Core<K, V>>,
    /// Wakes whoever waits for jobs to finish (revocation, shutdown).
    pub(crate) jobs_changed: Notify,
    /// Weak: the `run` future owns the consumer, so dropping it (a crash,
    /// or a caller that gave up) drops the member, as killing the process
    /// would, even while handles are alive.
    pub(crate) consumer: OnceLock<std::sync::Weak<Consumer<K, V>>>,
    /// The job tasks running, so dropping `run` aborts them (no zombie
    /// handler keeps writing for a member that is gone).
    jobs: Mutex<HashMap<u64, tokio::task::AbortHandle>>,
    next_job: AtomicU64,
    handler: OnceLock<Handler<K, V>>,
    dead_letters: Option<DeadLetters<K, V>>,
    pub(crate) fixed: Mutex<Fixed>,
    /// Set once shutdown begins: retry waits end, nothing new starts.
    stop: watch::Sender<bool>,
    started: std::time::Instant,
    /// When the last poll returned, in ms since `started` (0 = never).
    last_poll_ms: AtomicU64,
    joined: std::sync::atomic::AtomicBool,
    /// Exactly-once mode: commits go through this transaction.
    txn: OnceLock<(Arc<dyn Transactions>, TransactionConfig)>,
    /// The poll loop reports a fatal error (a fenced producer) here.
    fatal: Mutex<Option<crate::Error>>,
}

impl<K, V> Shared<K, V>
where
    K: Clone + std::hash::Hash + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub(crate) fn new(
        order: ProcessingOrder,
        settings: ProcessorSettings,
        fixed: Fixed,
        dead_letters: Option<DeadLetters<K, V>>,
    ) -> Arc<Self> {
        Arc::new(Shared {
            core: Mutex::new(Core::new(order, settings, std::time::Instant::now())),
            jobs_changed: Notify::new(),
            consumer: OnceLock::new(),
            jobs: Mutex::new(HashMap::new()),
            next_job: AtomicU64::new(0),
            handler: OnceLock::new(),
            dead_letters,
            fixed: Mutex::new(fixed),
            stop: watch::channel(false).0,
            started: std::time::Instant::now(),
            last_poll_ms: AtomicU64::new(0),
            joined: std::sync::atomic::AtomicBool::new(false),
            txn: OnceLock::new(),
            fatal: Mutex::new(None),
        })
    }

    /// The core, even after a job task panicked while holding it: the
    /// state is updated in small steps that leave it consistent.
    pub(crate) fn core(&self) -> MutexGuard<'_, Core<K, V>> {
        self.core.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn fixed(&self) -> MutexGuard<'_, Fixed> {
        self.fixed.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    pub(crate) fn set_joined(&self) {
        self.joined.store(true, AtomicOrdering::Relaxed);
    }

    /// Starts every job the core allows now, and schedules a wake-up for
    /// the earliest moment it will allow more (rate limits, breaker
    /// cool-down, a batch's wait).
    pub(crate) fn dispatch(self: &Arc<Self>) {
        let jobs = self.step(None);
        for job in jobs {
            self.spawn_worker(job);
        }
    }

    /// One pass of the core under one lock: a finished job's outcome (if
    /// any), then the jobs that may start and which partitions to pause or
    /// resume. Applies the pauses and the wake-up; returns the jobs.
    fn step(self: &Arc<Self>, finished: Option<(&Job<K, V>, Outcome)>) -> Vec<Job<K, V>> {
        let now = std::time::Instant::now();
        let batch = self.fixed().batch;
        let stopping = self.stopping() || self.handler.get().is_none();
        let (jobs, wake, pause, resume) = {
            let mut core = self.core();
            if let Some((job, outcome)) = finished {
                core.job_finished(job, outcome, now);
            }
            let (jobs, wake) = if stopping {
                (Vec::new(), None)
            } else {
                core.next_jobs(now, batch)
            };
            let (pause, resume) = core.flow(now);
            (jobs, wake, pause, resume)
        };
        if finished.is_some() {
            self.jobs_changed.notify_waiters();
        }
        if let Some(consumer) = self.consumer.get().and_then(std::sync::Weak::upgrade) {
            // Partitions no longer assigned are refused; nothing to do then.
            if !pause.is_empty() {
                let _ = consumer.pause(&pause);
            }
            if !resume.is_empty() {
                let _ = consumer.resume(&resume);
            }
        }
        if let Some(at) = wake {
            let shared = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep_until(Instant::from_std(at)).await;
                shared.core().woke(at);
                shared.dispatch();
            });
        }
        jobs
    }

    /// A task that runs `job`, then the jobs its completion lets start
    /// (one itself, the others in new workers), until none is ready: one
    /// spawn per burst of work, not per record.
    fn spawn_worker(self: &Arc<Self>, job: Job<K, V>) {
        let Some(handler) = self.handler.get().cloned() else {
            return;
        };
        let shared = self.clone();
        let id = self.next_job.fetch_add(1, AtomicOrdering::Relaxed);
        // Registered before it can finish (the lock is held across the
        // spawn), removed by the task itself at its end.
        let mut running = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        let task = tokio::spawn(async move {
            let mut next = Some(job);
            while let Some(job) = next.take() {
                let mut more = shared
                    .clone()
                    .run_job(job, handler.clone())
                    .await
                    .into_iter();
                next = more.next();
                for other in more {
                    shared.spawn_worker(other);
                }
            }
            shared
                .jobs
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
        });
        running.insert(id, task.abort_handle());
    }

    /// One job: one handler call (with its timeout). A retriable failure
    /// puts the records back in their lanes to start again after the
    /// policy's backoff (holding back only their own keys or partitions,
    /// not a concurrency slot); a final one dead-letters them.
    async fn run_job(self: Arc<Self>, job: Job<K, V>, handler: Handler<K, V>) -> Vec<Job<K, V>> {
        let mut cancelled = job.cancelled.clone();
        let records = job.records();
        let timeout = job.timeout;
        let call = handler(records);
        let result = match timeout {
            None => call.await,
            Some(t) => match tokio::time::timeout(t, call).await {
                Ok(r) => r,
                Err(_) => Err(ProcessError::retry(format!(
                    "handler timed out after {} ms",
                    t.as_millis()
                ))),
            },
        };
        let error = match result {
            Ok(()) => return self.finish(job, Outcome::Processed),
            Err(e) => e,
        };
        // A batch that names its failed record: those before it are done,
        // those after it go back to their lanes, and only it fails.
        let job = match error.failed_record() {
            Some(i) if job.items.len() > 1 && i < job.items.len() => {
                let (done, failed, rest) = self.core().split_batch(job, i);
                let mut next = self.finish(done, Outcome::Processed);
                if let Some(rest) = rest {
                    self.core().put_back(rest);
                }
                next.extend(self.step(None));
                // The failed record goes on alone, below; the jobs freed
                // meanwhile start in their own workers.
                for other in next {
                    self.spawn_worker(other);
                }
                failed
            }
            _ => job,
        };
        let retry = {
            let mut core = self.core();
            let now = std::time::Instant::now();
            core.handler_failed(now);
            match error.is_retriable() && !self.stopping() {
                true => core.retry_delay(&job, now, random_fraction()),
                false => None,
            }
        };
        let attempts = job.attempts();
        match retry {
            Some(delay) => {
                tracing::debug!(
                    topic = %job.first_partition().topic,
                    partition = job.first_partition().partition,
                    attempts,
                    error = %error,
                    "record failed; retrying in {} ms",
                    delay.as_millis()
                );
                self.core()
                    .retry_later(job, std::time::Instant::now() + delay);
                self.jobs_changed.notify_waiters();
                self.step(None)
            }
            None => {
                tracing::warn!(
                    topic = %job.first_partition().topic,
                    partition = job.first_partition().partition,
                    offset = job.first_offset(),
                    attempts,
                    error = %error,
                    "record failed for good; dead-lettering it"
                );
                let outcome = if self
                    .dead_letter(&job, &error, attempts, &mut cancelled)
                    .await
                {
                    Outcome::DeadLettered
                } else {
                    Outcome::Abandoned
                };
                self.finish(job, outcome)
            }
        }
    }

    /// Writes the job's records to the dead-letter topic, retrying until
    /// each is acknowledged; `false` if the partition was revoked or the
    /// processor stopped first (then the records are not done).
    async fn dead_letter(
        &self,
        job: &Job<K, V>,
        error: &ProcessError,
        attempts: u32,
        cancelled: &mut watch::Receiver<bool>,
    ) -> bool {
        let Some(dl) = &self.dead_letters else {
            // No dead-letter topic: logged above and skipped, as Spring
            // Kafka's default error handler does.
            return true;
        };
        let group = self.fixed().group.clone();
        for record in job.records() {
            let topic = (dl.topic)(&record.topic);
            let mut backoff = Duration::from_millis(100);
            loop {
                // Key, value (null stays null) and headers as read.
                let mut r = ProducerRecord {
                    topic: topic.as_str().into(),
                    partition: None,
                    key: record.key.clone(),
                    value: record.value.clone(),
                    headers: record
                        .headers
                        .iter()
                        .map(|h| {
                            (
                                String::from_utf8_lossy(&h.key).into_owned(),
                                h.value.clone(),
                            )
                        })
                        .collect(),
                    timestamp: None,
                };
                for (k, v) in dead_letter_headers(
                    &record.topic,
                    record.partition,
                    record.offset,
                    record.timestamp,
                    super::dead_letter::timestamp_type_name(record.timestamp_type),
                    &group,
                    error.message(),
                    attempts,
                ) {
                    r = r.header(k, bytes::Bytes::from(v));
                }
                match dl.producer.send(r).await {
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(
                            dead_letter_topic = %topic,
                            error = %e,
                            "dead-letter write failed; retrying (the record's offset is not committed meanwhile)"
                        );
                        tokio::select! {
                            () = tokio::time::sleep(backoff) => {}
                            _ = cancelled.changed() => {}
                        }
                        if *cancelled.borrow() || self.stopping() {
                            return false;
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(10));
                    }
                }
            }
        }
        true
    }

    /// Reports a finished job; returns the jobs that may start now.
    fn finish(self: &Arc<Self>, job: Job<K, V>, outcome: Outcome) -> Vec<Job<K, V>> {
        self.step(Some((&job, outcome)))
    }

    /// Commits each partition's safe offset (with the completed-beyond
    /// metadata) where it changed; `only` limits it to some partitions.
    pub(crate) async fn commit(
        self: &Arc<Self>,
        consumer: &Consumer<K, V>,
        only: Option<&[TopicPartition]>,
    ) {
        if let Some((txn, _)) = self.txn.get() {
            // A transaction covers every partition: end it whole.
            self.commit_transaction(consumer, txn.clone()).await;
            return;
        }
        let offsets: BTreeMap<TopicPartition, OffsetAndMetadata> = self.core().commit_offsets(only);
        if offsets.is_empty() {
            return;
        }
        match consumer.commit_offsets(offsets.clone()).await {
            Ok(()) => self.core().committed(&offsets),
            Err(e) => {
                tracing::warn!(error = %e, "processor commit failed; retried at the next commit")
            }
        }
    }

    /// Ends the transaction: no new work, running work finishes, the
    /// offsets join the transaction, it commits and the next one opens.
    /// A transaction that cannot commit is aborted and every partition
    /// rewound to its committed offset; a fenced producer stops the
    /// processor.
    async fn commit_transaction(
        self: &Arc<Self>,
        consumer: &Consumer<K, V>,
        txn: Arc<dyn Transactions>,
    ) {
        self.core().set_committing(true);
        let drained = self.drain(None).await;
        let offsets = self.core().commit_offsets(None);
        let result = if !drained {
            Err(crate::Error::IllegalState(
                "records still running at the end of the transaction".into(),
            ))
        } else if offsets.is_empty() {
            Ok(())
        } else {
            match consumer.group_metadata() {
                Ok(group) => txn.commit(offsets.clone(), &group).await,
                Err(e) => Err(e),
            }
        };
        match result {
            Ok(()) => self.core().committed(&offsets),
            Err(e) if e.is_fatal() => {
                tracing::error!(error = %e, "processor: the transactional producer cannot go on; stopping");
                *self.fatal.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                self.request_stop();
            }
            Err(e) => {
                tracing::warn!(error = %e, "processor: transaction aborted; its records are processed again");
                if let Err(e) = txn.abort().await {
                    tracing::error!(error = %e, "processor: abort failed; stopping");
                    *self.fatal.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    self.request_stop();
                }
                self.rewind(consumer).await;
            }
        }
        self.core().set_committing(false);
        self.dispatch();
    }

    /// Partitions were lost (the member was fenced): in exactly-once mode
    /// the open transaction holds their outputs, so it is aborted and the
    /// remaining partitions start again from their committed offsets.
    pub(crate) async fn partitions_lost(&self, consumer: &Consumer<K, V>, lost: &[TopicPartition]) {
        {
            let mut core = self.core();
            core.revoking(lost);
            core.release(lost);
        }
        if let Some((txn, _)) = self.txn.get() {
            let txn = txn.clone();
            self.core().set_committing(true);
            self.drain(None).await;
            if let Err(e) = txn.abort().await {
                tracing::error!(error = %e, "processor: abort failed; stopping");
                *self.fatal.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                self.request_stop();
            }
            self.rewind(consumer).await;
            self.core().set_committing(false);
        }
    }

    /// After an abort: every partition starts again from its committed
    /// offset (and the records done beyond it).
    async fn rewind(&self, consumer: &Consumer<K, V>) {
        let partitions = consumer.assignment();
        let committed = consumer.committed(&partitions).await.unwrap_or_default();
        let seeks = {
            let mut core = self.core();
            core.revoking(&partitions);
            core.release(&partitions);
            let mut seeks = Vec::new();
            for tp in &partitions {
                let restored = committed
                    .get(tp)
                    .and_then(|c| c.as_ref())
                    .map(|c| (c.offset, c.metadata.clone()));
                let start = core.first_offset(tp);
                core.assign(tp.clone(), restored.clone());
                if let Some(o) = restored.map(|(o, _)| o).or(start) {
                    seeks.push((tp.clone(), o));
                }
            }
            seeks
        };
        for (tp, offset) in seeks {
            if let Err(e) = consumer.seek(&tp, offset) {
                tracing::warn!(error = %e, "processor: rewind failed for a partition");
            }
        }
    }

    /// Waits until no job of `partitions` (all when `None`) runs, or the
    /// drain timeout passes.
    pub(crate) async fn drain(&self, partitions: Option<&[TopicPartition]>) -> bool {
        let deadline = Instant::now() + self.fixed().drain_timeout;
        loop {
            let changed = self.jobs_changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let running = self.core().running(partitions);
            if running == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                tracing::warn!(
                    running,
                    "processor: jobs still running after the drain timeout; their records are not committed"
                );
                return false;
            }
        }
    }

    pub(crate) fn health(&self) -> Health {
        let fixed_live = self.fixed().liveness_timeout;
        let last = self.last_poll_ms.load(AtomicOrdering::Relaxed);
        let since_last_poll = (last > 0).then(|| {
            self.started
                .elapsed()
                .saturating_sub(Duration::from_millis(last))
        });
        let core = self.core();
        Health {
            live: since_last_poll.is_some_and(|d| d <= fixed_live),
            ready: self.joined.load(AtomicOrdering::Relaxed) && !self.stopping(),
            since_last_poll,
            assigned_partitions: core.assigned(),
            in_flight: core.running(None),
            queued: core.queued(),
            breaker_open: core.breaker_open(),
            processed: core.processed,
            dead_lettered: core.dead_lettered,
        }
    }

    /// Exactly-once mode: commits go through `txn`, one transaction per
    /// `config`.
    pub(crate) fn set_transactions(&self, txn: Arc<dyn Transactions>, config: TransactionConfig) {
        let _ = self.txn.set((txn, config));
        self.fixed().commit_interval = config.max_time;
    }

    /// The poll loop: the `run` future.
    pub(crate) async fn run(
        self: Arc<Self>,
        consumer: Arc<Consumer<K, V>>,
        handler: Handler<K, V>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<()> {
        let _ = self.consumer.set(Arc::downgrade(&consumer));
        let _ = self.handler.set(handler);
        // Dropped with this future: stops dispatching and aborts the jobs.
        let _abort_on_drop = AbortJobs(self.clone());
        tokio::pin!(shutdown);
        let mut next_commit = Instant::now() + self.fixed().commit_interval;
        let mut stop = self.stop.subscribe();
        let result = loop {
            let poll_timeout = self.fixed().poll_timeout;
            // The poll is never dropped half way: a rebalance listener runs
            // inside it, and cutting one short could lose its commit. On
            // shutdown it is allowed to finish (bounded by its timeout).
            let poll = consumer.poll(poll_timeout);
            tokio::pin!(poll);
            let mut shutting_down = false;
            let polled = tokio::select! {
                r = &mut poll => r,
                () = &mut shutdown => { shutting_down = true; poll.await }
                _ = stop.changed() => { shutting_down = true; poll.await }
            };
            self.last_poll_ms.store(
                (self.started.elapsed().as_millis() as u64).max(1),
                AtomicOrdering::Relaxed,
            );
            match polled {
                Ok(records) => {
                    let records: Vec<ConsumerRecord<K, V>> = records.into_iter().collect();
                    if !records.is_empty() {
                        self.core().accept(records);
                    }
                }
                Err(e) if e.is_fatal() => break Err(e),
                Err(e) => tracing::warn!(error = %e, "processor poll failed; polling again"),
            }
            if shutting_down || self.stopping() {
                break Ok(());
            }
            self.dispatch();
            let due = match self.txn.get() {
                Some((_, config)) => self.core().finished_since_commit() >= config.max_records,
                None => false,
            };
            if due || Instant::now() >= next_commit {
                self.commit(&consumer, None).await;
                next_commit = Instant::now() + self.fixed().commit_interval;
            }
        };
        self.shut_down(&consumer).await;
        if let Some(e) = self.fatal.lock().unwrap_or_else(|p| p.into_inner()).take() {
            return Err(e);
        }
        result
    }

    /// Stops taking work, lets running jobs finish (bounded), commits and
    /// leaves the group.
    async fn shut_down(self: &Arc<Self>, consumer: &Consumer<K, V>) {
        self.stop.send_replace(true);
        self.core().stop();
        self.drain(None).await;
        self.commit(consumer, None).await;
        let timeout = self.fixed().drain_timeout;
        consumer.close(timeout).await;
    }

    /// Begins shutdown from a [`ProcessorHandle`].
    fn request_stop(&self) {
        self.stop.send_replace(true);
    }
}

/// Aborts the job tasks and stops dispatch when the `run` future ends or
/// is dropped half way.
struct AbortJobs<K, V>(Arc<Shared<K, V>>);

impl<K, V> Drop for AbortJobs<K, V> {
    fn drop(&mut self) {
        self.0.stop.send_replace(true);
        let jobs = std::mem::take(&mut *self.0.jobs.lock().unwrap_or_else(|p| p.into_inner()));
        for (_, job) in jobs {
            job.abort();
        }
    }
}

/// A uniform fraction in [0, 1) for retry jitter: not secret, so the
/// standard library's randomly keyed hasher is enough.
fn random_fraction() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, AtomicOrdering::Relaxed));
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// A handle on a running (or built) processor: its health, its settings,
/// and a way to stop it. Cheap to clone; works from any task.
pub struct ProcessorHandle<K, V> {
    pub(crate) shared: Arc<Shared<K, V>>,
}

impl<K, V> Clone for ProcessorHandle<K, V> {
    fn clone(&self) -> Self {
        ProcessorHandle {
            shared: self.shared.clone(),
        }
    }
}

impl<K, V> std::fmt::Debug for ProcessorHandle<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessorHandle").finish_non_exhaustive()
    }
}

impl<K, V> ProcessorHandle<K, V>
where
    K: Clone + std::hash::Hash + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Liveness and readiness, for the probes.
    pub fn health(&self) -> Health {
        self.shared.health()
    }

    /// The settings in force.
    pub fn settings(&self) -> ProcessorSettings {
        self.shared.core().settings().clone()
    }

    /// Changes settings at run time (concurrency, rate limits, retry
    /// policy, breaker, timeout) without leaving the group: a
    /// configuration reload needs no restart. Work already running keeps
    /// the settings it started with.
    pub fn update(&self, change: impl FnOnce(&mut ProcessorSettings)) {
        let mut settings = self.settings();
        change(&mut settings);
        self.shared
            .core()
            .set_settings(settings, std::time::Instant::now());
        self.shared.dispatch();
    }

    /// The partitions the processor has paused (back-pressure, rate
    /// limits, an open breaker).
    pub fn paused_partitions(&self) -> Vec<crate::TopicPartition> {
        self.shared
            .consumer
            .get()
            .and_then(std::sync::Weak::upgrade)
            .map(|c| c.paused())
            .unwrap_or_default()
    }

    /// Asks the processor to shut down, as its shutdown future would.
    pub fn shutdown(&self) {
        self.shared.request_stop();
    }
}
