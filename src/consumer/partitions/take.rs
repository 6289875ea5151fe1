//! Handing buffered records out for `poll`, partitions in turns, with
//! each partition's error in its place; and undoing a delivery that
//! deserialization stopped. Apart because this is the consumer's hot path.

use super::PartitionTable;
use crate::TopicPartition;
use crate::consumer::fetch::completed::{Drained, RawRecord};
use crate::error::Result;

impl PartitionTable {
    /// Bytes fetched but not yet handed out.
    pub(crate) fn buffered_bytes(&self) -> usize {
        self.lock().buffered_bytes
    }

    /// Takes up to `max` records, partitions in turns. A partition's error
    /// is returned once the records before it are out: at once when no
    /// record was taken yet, else on the next call.
    pub(crate) fn take(&self, max: usize) -> Result<Vec<RawRecord>> {
        let mut t = self.lock();
        let mut out = Vec::new();
        let keys: Vec<TopicPartition> = t.partitions.keys().cloned().collect();
        if keys.is_empty() {
            return Ok(out);
        }
        let start = t.round_robin % keys.len();
        t.round_robin = t.round_robin.wrapping_add(1);
        let mut freed = 0usize;
        let mut result = Ok(());
        for tp in keys[start..].iter().chain(&keys[..start]) {
            if out.len() >= max {
                break;
            }
            let Some(s) = t.partitions.get_mut(tp) else {
                continue;
            };
            if s.paused {
                continue;
            }
            while out.len() < max {
                let Some(fetch) = s.buffered.front_mut() else {
                    break;
                };
                let Some(position) = s.position.as_mut() else {
                    break;
                };
                if fetch.generation != s.generation {
                    let bytes = fetch.bytes;
                    s.buffered.pop_front();
                    s.buffered_bytes -= bytes;
                    freed += bytes;
                    continue;
                }
                match fetch.drain(
                    &tp.topic,
                    tp.partition,
                    position,
                    &mut s.position_epoch,
                    max,
                    &mut out,
                ) {
                    Drained::Full => {}
                    Drained::Exhausted => {
                        let bytes = fetch.bytes;
                        s.buffered.pop_front();
                        s.buffered_bytes -= bytes;
                        freed += bytes;
                    }
                    Drained::Failed(e) => {
                        let bytes = fetch.bytes;
                        s.buffered.pop_front();
                        s.buffered_bytes -= bytes;
                        freed += bytes;
                        s.error = Some(e);
                        break;
                    }
                }
            }
            if s.buffered.is_empty()
                && let Some(e) = s.pending_error.take()
            {
                s.error = Some(e);
            }
            if s.buffered.is_empty()
                && let Some(e) = &s.error
                && out.is_empty()
            {
                // Partitions take turns at being first, so a partition's
                // error is not starved by the others' records.
                result = Err(e.clone());
                break;
            }
        }
        t.buffered_bytes -= freed;
        drop(t);
        if freed > 0 {
            self.wake_fetchers();
        }
        result.map(|()| out)
    }

    /// Undoes the delivery of records a failed deserialization kept from
    /// the application: each partition goes back to `offset`.
    pub(crate) fn rewind(&self, tp: &TopicPartition, generation: u64, offset: i64) {
        let mut t = self.lock();
        if t.partitions
            .get(tp)
            .is_none_or(|s| s.generation != generation)
        {
            return;
        }
        t.invalidate(tp);
        if let Some(s) = t.partitions.get_mut(tp) {
            s.position = Some(offset);
            s.fetch_offset = offset;
        }
        drop(t);
        self.wake_fetchers();
    }
}
