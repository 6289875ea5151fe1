//! [`ProducerBatch`]: the records bound for one partition, open (still
//! taking records) or closed (encoded, with its sequence numbers), and the
//! state of its delivery attempts. Apart because the sender and the
//! transaction manager handle batches without the queues around them.

use std::sync::Arc;

use bytes::Bytes;
use tokio::time::Instant;

use super::Tp;
use crate::error::Error;
use crate::error::Result;
use crate::producer::delivery::BatchOutcome;
use crate::protocol::records::BatchWriter;

/// A batch on its way to one partition.
pub(crate) struct ProducerBatch {
    pub tp: Tp,
    /// Open batches keep their writer; closed ones their encoded bytes,
    /// resent unchanged on retry (same sequence numbers).
    pub(super) writer: Option<BatchWriter>,
    pub encoded: Option<Bytes>,
    /// Shared by every record's `DeliveryFuture`; settled once.
    pub outcome: Arc<BatchOutcome>,
    pub(super) records: u32,
    pub created: Instant,
    /// Buffer memory held, returned when the batch completes.
    pub memory: usize,
    pub attempts: u32,
    pub retry_at: Option<Instant>,
    pub base_sequence: Option<i32>,
    /// Some earlier attempt ended without a definite answer (timeout,
    /// disconnect), so the broker may hold this batch already. Such a batch
    /// may only be retried under the producer id and epoch it was written
    /// with, where the broker recognises it as a duplicate.
    pub maybe_written: bool,
    /// Why the last attempt failed (a retriable error: the batch was
    /// requeued), reported if the batch then expires in the queue.
    pub last_error: Option<Error>,
    /// When the batch was first drained (closed); a partition's batches must
    /// reach the broker in this order.
    pub(super) closed_order: u64,
}

impl ProducerBatch {
    /// Bytes as encoded (estimated while the batch is open).
    pub fn size(&self) -> usize {
        match (&self.writer, &self.encoded) {
            (Some(w), _) => w.estimated_size(),
            (None, Some(b)) => b.len(),
            (None, None) => 0,
        }
    }

    /// Encodes a drained batch (compression and CRC). Runs outside the
    /// accumulator lock, on the sink that sends the batch; `drain` already
    /// stamped the producer id and sequence. A no-op for a batch encoded
    /// before (a retry).
    pub fn seal(&mut self) -> Result<()> {
        if let Some(writer) = self.writer.take() {
            self.encoded = Some(writer.finish()?);
        }
        Ok(())
    }

    /// Still taking records: not drained yet, so without sequence numbers.
    /// A drained batch is closed for good, encoded (`seal`) or not.
    pub(super) fn is_open(&self) -> bool {
        self.closed_order == 0
    }

    pub fn record_count(&self) -> usize {
        self.records as usize
    }
}
