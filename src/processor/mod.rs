//! A processing runtime on the [`Consumer`](crate::consumer::Consumer):
//! the loop every service writes around a consumer, written once and
//! correctly (what Java teams take from Confluent's Parallel Consumer and
//! Spring Kafka's error handlers).
//!
//! - **Ordering** ([`ProcessingOrder`]): one record at a time per
//!   partition, per key (different keys of one partition concurrently), or
//!   unordered; a global concurrency limit and a per-partition one.
//! - **Safe commits**: per partition, the offset below which every record
//!   is done; records done beyond it travel in the commit's metadata, so
//!   after a restart or rebalance they are skipped, not redone. Revoked
//!   partitions stop taking work, finish what runs (bounded), commit, and
//!   only then are released.
//! - **Retries** with exponential backoff and jitter ([`RetryPolicy`]); a
//!   retrying record holds back only its key (or partition), and the
//!   consumer keeps polling, so the member stays in its group.
//! - **Dead-letter topic**: after the last attempt a record goes to
//!   `<topic>.DLT` with Spring Kafka's `kafka_dlt-*` headers; its offset is
//!   committed only once the dead-letter write is acknowledged.
//! - **Back-pressure**: rate limits (records/s, bytes/s) and buffer limits
//!   pause partitions and resume them; the poll loop never sleeps.
//! - **Resilience**: a per-record timeout; a circuit breaker that pauses
//!   all partitions after consecutive failures and probes with one record.
//!   Settings change at run time through [`ProcessorHandle::update`].
//! - **Lifecycle**: [`Processor::run`] until a shutdown future resolves
//!   (see [`shutdown_signal`]); shutdown stops fetching, drains in-flight
//!   work within a deadline, commits and leaves the group.
//!   [`ProcessorHandle::health`] answers liveness and readiness probes.
//!
//! Use the cooperative-sticky assignor
//! (`partition_assignment_strategy(vec![Arc::new(CooperativeSticky)])` on
//! the consumer builder): partitions are then revoked after the new
//! generation forms, and the revoke commit is accepted by every broker.
//! With eager assignors (Java's default list starts with `range`) a broker
//! that refuses commits during a rebalance (librdkafka's mock cluster does;
//! Kafka accepts them while the group prepares to rebalance) makes the new
//! owner redo what was finished since the last commit.
//!
//! ```no_run
//! # async fn demo() -> kafkit::Result<()> {
//! use kafkit::consumer::Consumer;
//! use kafkit::processor::{ProcessError, ProcessingOrder, Processor};
//!
//! let client = kafkit::Client::builder("localhost:9092").build().await?;
//! let consumer = Consumer::<String, String>::builder(&client).group_id("billing");
//! let processor = Processor::builder(consumer, ["orders"])
//!     .order(ProcessingOrder::Key)
//!     .max_concurrency(32)
//!     .build()?;
//! processor
//!     .run(
//!         |record| async move {
//!             println!("{:?}", record.value);
//!             Ok::<(), ProcessError>(())
//!         },
//!         kafkit::processor::shutdown_signal(),
//!     )
//!     .await?;
//! # Ok(()) }
//! ```

mod breaker;
mod builder;
mod core;
mod dead_letter;
mod health;
mod keyed;
mod listener;
mod offsets;
mod rate;
mod retry;
mod runtime;
mod settings;
mod transaction;

pub use breaker::BreakerConfig;
pub use builder::{Processor, ProcessorBuilder};
pub use health::Health;
pub use keyed::ProcessingOrder;
pub use retry::RetryPolicy;
pub use runtime::ProcessorHandle;
pub use settings::{BatchConfig, ProcessorSettings};
pub use transaction::{Outputs, TransactionConfig};

use std::fmt;

/// Why a handler did not process a record: retry it (after the policy's
/// backoff), or give up at once (straight to the dead-letter topic).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessError {
    retriable: bool,
    message: String,
    /// In a batch, the record that failed (Spring's
    /// `BatchListenerFailedException`).
    failed_record: Option<usize>,
}

impl ProcessError {
    /// A failure worth retrying (a downstream service timed out, ...).
    pub fn retry(message: impl fmt::Display) -> ProcessError {
        ProcessError {
            retriable: true,
            message: message.to_string(),
            failed_record: None,
        }
    }

    /// A failure no retry can fix (a poison record): dead-letter it now.
    pub fn give_up(message: impl fmt::Display) -> ProcessError {
        ProcessError {
            retriable: false,
            message: message.to_string(),
            failed_record: None,
        }
    }

    /// In a batch handler: the failure is the record at `index` in the
    /// batch (Spring Kafka's `BatchListenerFailedException`). The records
    /// before it are done, only it is retried or dead-lettered, and the
    /// ones after it are processed again. Without it the whole batch is
    /// retried, and dead-lettered record by record.
    pub fn at_record(mut self, index: usize) -> ProcessError {
        self.failed_record = Some(index);
        self
    }

    /// The failed record's index in its batch, if the handler said.
    pub fn failed_record(&self) -> Option<usize> {
        self.failed_record
    }

    /// Whether the record is retried.
    pub fn is_retriable(&self) -> bool {
        self.retriable
    }

    /// The message, as it goes into the dead-letter headers.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ProcessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ProcessError {}

/// Resolves on SIGTERM or SIGINT (Ctrl-C): the shutdown future for
/// [`Processor::run`] in a service run by Kubernetes or systemd.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => {
                // No signal handling here (e.g. a restricted sandbox):
                // fall back to Ctrl-C.
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
