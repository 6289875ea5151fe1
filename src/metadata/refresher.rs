//! The metadata refresher: the one owner of the cluster view.
//!
//! A single task holds the current [`ClusterMetadata`], the set of topics the
//! clients care about, and the callers waiting for a refresh. Handles talk to
//! it over a channel and read snapshots from a `watch`. Many callers asking
//! for a refresh at once cost one Metadata request.
//!
//! A refresh happens when asked (a caller saw a stale-leader error, or needs
//! a topic it does not know) and every `metadata.max.age.ms` (5 min).
//! Requests name the generation they saw: a request for "newer than g" when
//! g is already superseded is answered at once with the current snapshot.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use kafka_protocol::messages::MetadataRequest;
use kafka_protocol::messages::TopicName;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::protocol::StrBytes;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::cluster::ClusterMetadata;
use crate::error::{Error, ErrorCode, Result};
use crate::net::pool::Pool;

/// Refresher settings.
#[derive(Debug, Clone)]
pub(crate) struct MetadataConfig {
    /// `metadata.max.age.ms` (5 min): refresh at least this often.
    pub max_age: Duration,
    /// `retry.backoff.ms` (100 ms): pause after a failed refresh before the
    /// periodic refresh tries again.
    pub retry_backoff: Duration,
    /// `allow.auto.create.topics` (true, as the Java producer and consumer).
    pub allow_auto_topic_creation: bool,
}

enum Command {
    Refresh {
        newer_than: u64,
        topics: Vec<Arc<str>>,
        reply: Option<oneshot::Sender<Result<Arc<ClusterMetadata>>>>,
    },
}

/// A handle to the refresher. Cheap to clone; the task ends when the last
/// handle is dropped.
#[derive(Clone)]
pub(crate) struct MetadataHandle {
    tx: mpsc::UnboundedSender<Command>,
    rx: watch::Receiver<Arc<ClusterMetadata>>,
    /// The published snapshot's generation, readable without touching the
    /// watch channel's lock (the producer checks it for every record).
    generation: Arc<AtomicU64>,
}

impl MetadataHandle {
    /// Starts the refresher task on the current tokio runtime.
    pub(crate) fn spawn(pool: Pool, config: MetadataConfig) -> MetadataHandle {
        let (tx, cmd_rx) = mpsc::unbounded_channel();
        let (watch_tx, rx) = watch::channel(Arc::new(ClusterMetadata::default()));
        let generation = Arc::new(AtomicU64::new(0));
        let task = Refresher {
            pool,
            config,
            commands: cmd_rx,
            published: watch_tx,
            generation: generation.clone(),
            interest: BTreeSet::new(),
            waiters: Vec::new(),
        };
        tokio::spawn(task.run());
        MetadataHandle { tx, rx, generation }
    }

    /// The generation of the latest snapshot: one atomic load.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The latest snapshot.
    pub(crate) fn snapshot(&self) -> Arc<ClusterMetadata> {
        self.rx.borrow().clone()
    }

    /// A receiver that sees every new snapshot.
    #[allow(dead_code)] // used by the consumer's pattern subscription
    pub(crate) fn subscribe(&self) -> watch::Receiver<Arc<ClusterMetadata>> {
        self.rx.clone()
    }

    /// Waits for a snapshot with generation greater than `newer_than`.
    pub(crate) async fn refresh(&self, newer_than: u64) -> Result<Arc<ClusterMetadata>> {
        self.request(newer_than, Vec::new()).await
    }

    /// Adds `topics` to the refresher's interest and returns a snapshot that
    /// has been refreshed with them, unless the current one already knows
    /// them all.
    pub(crate) async fn topics(&self, topics: &[&str]) -> Result<Arc<ClusterMetadata>> {
        let current = self.snapshot();
        let known = |t: &&str| current.topics.contains_key(*t);
        let names: Vec<Arc<str>> = topics.iter().map(|t| Arc::from(*t)).collect();
        if current.generation > 0 && topics.iter().all(known) {
            // Still register interest so periodic refreshes track them.
            let _ = self.tx.send(Command::Refresh {
                newer_than: u64::MAX,
                topics: names,
                reply: None,
            });
            return Ok(current);
        }
        self.request(current.generation, names).await
    }

    /// Asks for a refresh if `error` says the metadata behind a request was
    /// stale, without waiting for it. `seen` is the generation the failed
    /// request was routed with.
    #[allow(dead_code)] // called by the producer and consumer on failed partitions
    pub(crate) fn on_error(&self, error: &Error, seen: u64) -> bool {
        if !is_stale_metadata(error) {
            return false;
        }
        let _ = self.tx.send(Command::Refresh {
            newer_than: seen,
            topics: Vec::new(),
            reply: None,
        });
        true
    }

    async fn request(
        &self,
        newer_than: u64,
        topics: Vec<Arc<str>>,
    ) -> Result<Arc<ClusterMetadata>> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Refresh {
                newer_than,
                topics,
                reply: Some(reply),
            })
            .map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)?
    }
}

/// Errors that mean our picture of leadership or topics is out of date.
pub(crate) fn is_stale_metadata(error: &Error) -> bool {
    matches!(
        error.code(),
        Some(
            ErrorCode::NOT_LEADER_OR_FOLLOWER
                | ErrorCode::LEADER_NOT_AVAILABLE
                | ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                | ErrorCode::FENCED_LEADER_EPOCH
                | ErrorCode::UNKNOWN_LEADER_EPOCH
                | ErrorCode::UNKNOWN_TOPIC_ID
                | ErrorCode::KAFKA_STORAGE_ERROR
                | ErrorCode::NOT_CONTROLLER
        )
    ) || matches!(error, Error::Disconnected { .. } | Error::Io { .. })
}

type Waiter = (u64, oneshot::Sender<Result<Arc<ClusterMetadata>>>);

struct Refresher {
    pool: Pool,
    config: MetadataConfig,
    commands: mpsc::UnboundedReceiver<Command>,
    published: watch::Sender<Arc<ClusterMetadata>>,
    generation: Arc<AtomicU64>,
    interest: BTreeSet<Arc<str>>,
    waiters: Vec<Waiter>,
}

impl Refresher {
    async fn run(mut self) {
        let mut due = Instant::now() + self.config.max_age;
        // A refresh is also due when someone asked for one without waiting.
        let mut asked = false;
        loop {
            if self.waiters.is_empty() && !asked {
                tokio::select! {
                    cmd = self.commands.recv() => match cmd {
                        Some(cmd) => { asked |= self.accept(cmd); continue; }
                        None => return,
                    },
                    _ = tokio::time::sleep_until(due) => {}
                }
            }
            // Take whatever else queued up meanwhile so one request serves all.
            while let Ok(cmd) = self.commands.try_recv() {
                self.accept(cmd);
            }
            asked = false;
            match self.fetch().await {
                Ok(snapshot) => {
                    due = Instant::now() + self.config.max_age;
                    for (_, reply) in self.waiters.drain(..) {
                        let _ = reply.send(Ok(snapshot.clone()));
                    }
                }
                Err(e) => {
                    // A closed client closed the pool for good: answer the
                    // waiters and end, with nothing to warn an operator about.
                    let closed = matches!(e, Error::Closed);
                    if !closed {
                        tracing::warn!(error = %e, "metadata refresh failed");
                    }
                    due = Instant::now() + self.config.retry_backoff;
                    for (_, reply) in self.waiters.drain(..) {
                        let _ = reply.send(Err(e.clone()));
                    }
                    if closed {
                        return;
                    }
                }
            }
            if self.published.is_closed() && self.commands.is_closed() {
                return;
            }
        }
    }

    /// Records a command; true when it asks for a refresh nobody waits for.
    fn accept(&mut self, cmd: Command) -> bool {
        let Command::Refresh {
            newer_than,
            topics,
            reply,
        } = cmd;
        let mut new_interest = false;
        for t in topics {
            new_interest |= self.interest.insert(t);
        }
        let current = self.published.borrow().clone();
        let satisfied = current.generation > newer_than && !new_interest;
        match reply {
            Some(reply) if satisfied => {
                let _ = reply.send(Ok(current));
                false
            }
            Some(reply) => {
                self.waiters.push((newer_than, reply));
                false
            }
            None => !satisfied,
        }
    }

    async fn fetch(&mut self) -> Result<Arc<ClusterMetadata>> {
        let current = self.published.borrow().clone();
        let topics = self
            .interest
            .iter()
            .map(|t| {
                MetadataRequestTopic::default()
                    .with_name(Some(TopicName(StrBytes::from_string(t.to_string()))))
            })
            .collect();
        let req = MetadataRequest::default()
            .with_topics(Some(topics))
            .with_allow_auto_topic_creation(self.config.allow_auto_topic_creation);
        let known: Vec<i32> = current.brokers.keys().copied().collect();
        let (_, response) = self.pool.send_any(&known, req).await?;
        let next = Arc::new(current.apply(response, false));
        self.pool
            .set_brokers(next.brokers.values().map(|b| (b.id, b.address())));
        self.published.send_replace(next.clone());
        self.generation.store(next.generation, Ordering::Release);
        tracing::debug!(
            generation = next.generation,
            brokers = next.brokers.len(),
            "metadata refreshed"
        );
        Ok(next)
    }
}
