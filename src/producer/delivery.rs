//! Delivery reports: one shared outcome per batch, one cheap future per record.
//!
//! A hot loop keeps millions of records in flight, so a record's delivery
//! handle must not cost an allocation of its own. Every record of a batch
//! shares the batch's [`BatchOutcome`] (one allocation per batch); a
//! [`DeliveryFuture`] is that `Arc`, the record's index in the batch and its
//! create timestamp, from which it builds its [`RecordMetadata`] once the
//! batch is settled.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll, Waker};

use super::record::RecordMetadata;
use crate::error::Result;

/// Where a settled batch landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchAck {
    /// The offset of the batch's first record; negative when unknown
    /// (acks=0, or a duplicate whose original offsets the broker did not
    /// repeat).
    pub base_offset: i64,
    /// The broker's `log_append_time_ms`; -1 for CreateTime topics.
    pub log_append_time: i64,
}

enum State {
    Pending(Vec<Waker>),
    Done(Result<BatchAck>),
}

/// The outcome every record of one batch waits for. Settled exactly once.
pub(crate) struct BatchOutcome {
    topic: Arc<str>,
    partition: i32,
    state: Mutex<State>,
}

impl BatchOutcome {
    pub fn new(topic: Arc<str>, partition: i32) -> Arc<Self> {
        Arc::new(BatchOutcome {
            topic,
            partition,
            state: Mutex::new(State::Pending(Vec::new())),
        })
    }

    /// Settles the batch and wakes every waiting record. A second call is
    /// ignored: the first outcome is the one the broker gave.
    pub fn settle(&self, outcome: Result<BatchAck>) {
        let wakers = {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            match &mut *state {
                State::Done(_) => return,
                State::Pending(w) => {
                    let wakers = std::mem::take(w);
                    *state = State::Done(outcome);
                    wakers
                }
            }
        };
        // Woken outside the lock, so a woken task never waits on it.
        for w in wakers {
            w.wake();
        }
    }

    fn poll_record(
        &self,
        index: u32,
        create_time: i64,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Result<RecordMetadata>> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match &mut *state {
            State::Done(Ok(ack)) => Poll::Ready(Ok(RecordMetadata::from_produce_response(
                self.topic.clone(),
                self.partition,
                ack.base_offset,
                index,
                create_time,
                ack.log_append_time,
            ))),
            State::Done(Err(e)) => Poll::Ready(Err(e.clone())),
            State::Pending(wakers) => {
                if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    wakers.push(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }
}

/// Resolves to a record's [`RecordMetadata`] once the broker acknowledged
/// its batch, or to the error that failed it for good. Returned by
/// [`Producer::enqueue`](super::Producer::enqueue).
///
/// Dropping it does not cancel the record: it is still delivered, only the
/// report is ignored. Cancel-safe.
#[must_use = "a record's delivery report is only known by awaiting its DeliveryFuture"]
pub struct DeliveryFuture {
    outcome: Arc<BatchOutcome>,
    index: u32,
    create_time: i64,
}

impl DeliveryFuture {
    pub(crate) fn new(outcome: Arc<BatchOutcome>, index: u32, create_time: i64) -> Self {
        DeliveryFuture {
            outcome,
            index,
            create_time,
        }
    }
}

impl std::fmt::Debug for DeliveryFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryFuture")
            .field("topic", &self.outcome.topic)
            .field("partition", &self.outcome.partition)
            .field("index_in_batch", &self.index)
            .finish()
    }
}

impl Future for DeliveryFuture {
    type Output = Result<RecordMetadata>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        self.outcome.poll_record(self.index, self.create_time, cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[tokio::test]
    async fn every_record_of_a_batch_gets_its_own_offset() {
        let outcome = BatchOutcome::new("t".into(), 2);
        let futures: Vec<_> = (0..3)
            .map(|i| DeliveryFuture::new(outcome.clone(), i, 100 + i64::from(i)))
            .collect();
        let waiter = tokio::spawn(async move {
            let mut out = Vec::new();
            for f in futures {
                out.push(f.await.unwrap());
            }
            out
        });
        tokio::task::yield_now().await;
        outcome.settle(Ok(BatchAck {
            base_offset: 40,
            log_append_time: -1,
        }));
        let metas = waiter.await.unwrap();
        let got: Vec<_> = metas
            .iter()
            .map(|m| (m.partition, m.offset, m.timestamp))
            .collect();
        assert_eq!(
            got,
            [(2, Some(40), 100), (2, Some(41), 101), (2, Some(42), 102)]
        );
    }

    #[tokio::test]
    async fn the_first_outcome_wins_and_errors_reach_every_record() {
        let outcome = BatchOutcome::new("t".into(), 0);
        let a = DeliveryFuture::new(outcome.clone(), 0, 1);
        let b = DeliveryFuture::new(outcome.clone(), 1, 1);
        outcome.settle(Err(Error::Closed));
        outcome.settle(Ok(BatchAck {
            base_offset: 0,
            log_append_time: -1,
        }));
        assert!(matches!(a.await, Err(Error::Closed)));
        assert!(matches!(b.await, Err(Error::Closed)));
    }
}
