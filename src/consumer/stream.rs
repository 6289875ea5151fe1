//! The consumer as a [`futures_core::Stream`] of records.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use super::{Consumer, ConsumerRecord};
use crate::error::{Error, Result};

type Next<'a, K, V> = Pin<Box<dyn Future<Output = Result<ConsumerRecord<K, V>>> + Send + 'a>>;

/// The records of a [`Consumer`] one at a time, as a `Stream`; made by
/// [`Consumer::stream`].
///
/// Each item is what [`Consumer::recv`] returns: a record, or an error
/// (which does not end the stream, as the next `poll` of a consumer may
/// succeed). The stream ends once the consumer is closed.
///
/// Dropping the stream loses nothing: a record leaves the consumer's buffer
/// only when it is yielded.
pub struct RecordStream<'a, K, V> {
    consumer: &'a Consumer<K, V>,
    next: Option<Next<'a, K, V>>,
    done: bool,
}

impl<K, V> std::fmt::Debug for RecordStream<'_, K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordStream")
            .field("done", &self.done)
            .finish()
    }
}

impl<K: Send + 'static, V: Send + 'static> Consumer<K, V> {
    /// The records as a [`futures_core::Stream`] (use it with
    /// `futures::StreamExt` or `tokio_stream::StreamExt`). It runs the
    /// group's work and rebalance listener like [`Consumer::poll`];
    /// [`Consumer::poll`] remains the faster way to take many records.
    ///
    /// ```no_run
    /// # async fn demo(consumer: kafkit::consumer::Consumer<String, String>) {
    /// use std::future::poll_fn;
    /// use std::pin::pin;
    /// use futures_core::Stream;
    /// let mut records = pin!(consumer.stream());
    /// while let Some(record) = poll_fn(|cx| records.as_mut().poll_next(cx)).await {
    ///     match record {
    ///         Ok(r) => println!("{}-{}@{}", r.topic, r.partition, r.offset),
    ///         Err(e) => eprintln!("{e}"),
    ///     }
    /// }
    /// # }
    /// ```
    pub fn stream(&self) -> RecordStream<'_, K, V> {
        RecordStream {
            consumer: self,
            next: None,
            done: false,
        }
    }
}

impl<'a, K: Send + 'static, V: Send + 'static> Stream for RecordStream<'a, K, V> {
    type Item = Result<ConsumerRecord<K, V>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // No field is structurally pinned (the future is boxed).
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        let consumer = this.consumer;
        let next = this.next.get_or_insert_with(|| Box::pin(consumer.recv()));
        let out = match next.as_mut().poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(out) => out,
        };
        this.next = None;
        match out {
            Err(Error::Closed) => {
                this.done = true;
                Poll::Ready(None)
            }
            other => Poll::Ready(Some(other)),
        }
    }
}
