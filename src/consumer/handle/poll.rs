//! The poll path: `poll` and `recv` wait for prefetched records (doing the
//! group's work and rebalance callbacks meanwhile), take them from the
//! partition table and deserialize them, rewinding what could not be
//! handed out. Apart because it is the consumer's one hot path and its
//! cancel-safety argument is easiest to check in one place.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;
use tracing::Instrument;

use super::Consumer;
use crate::TopicPartition;
use crate::consumer::fetch::completed::RawRecord;
use crate::consumer::offsets;
use crate::consumer::record::{ConsumerRecord, ConsumerRecords};
use crate::error::{Error, Result};

impl<K: Send + 'static, V: Send + 'static> Consumer<K, V> {
    /// Waits up to `timeout` for records and returns at most
    /// `max.poll.records` of them (an empty set when none came in time).
    ///
    /// Positions of partitions without one are looked up first
    /// (`auto.offset.reset`). Errors are returned in order: a partition's
    /// error (offset out of range with `auto.offset.reset=none`, corrupt
    /// data, an undeserializable record) comes after the records before it
    /// and repeats until the application seeks that partition.
    ///
    /// Cancel-safe: records are taken from the buffer only in the final,
    /// synchronous step, so dropping the future (e.g. in `select!`) loses
    /// nothing; an offset lookup abandoned half way is simply redone.
    pub async fn poll(&self, timeout: Duration) -> Result<ConsumerRecords<K, V>> {
        let span = crate::observe::spans::poll(timeout.as_millis() as u64);
        if !span.is_disabled()
            && let Some(group) = &self.ctx.config.group_id
        {
            span.record("messaging.consumer.group.name", group.as_str());
        }
        let deadline = Instant::now() + timeout;
        let max = self.ctx.config.max_poll_records;
        let records = self
            .collect_in_group(max, Some(deadline))
            .instrument(span.clone())
            .await?;
        span.record("messaging.batch.message_count", records.len());
        Ok(ConsumerRecords::new(records))
    }

    /// A `process {topic}` span for handling `record` (OpenTelemetry
    /// messaging conventions; see [`crate::observe`]): enter it, or
    /// `.instrument` the handling with it. With the `opentelemetry` feature
    /// its parent is the producer's `send` span when the record carries a
    /// trace context in its headers.
    ///
    /// ```no_run
    /// # async fn demo(consumer: kafkit::consumer::Consumer<String, String>) -> kafkit::Result<()> {
    /// use tracing::Instrument;
    /// for record in &consumer.poll(std::time::Duration::from_secs(1)).await? {
    ///     async { /* handle the record */ }.instrument(consumer.process_span(record)).await;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn process_span(&self, record: &ConsumerRecord<K, V>) -> tracing::Span {
        let span = crate::observe::spans::process(
            &record.topic,
            record.partition,
            record.offset,
            self.ctx.config.group_id.as_deref(),
        );
        #[cfg(feature = "opentelemetry")]
        crate::observe::propagation::set_parent_from_headers(&span, &record.headers);
        span
    }

    /// Waits for the next record. Cancel-safe, like [`Consumer::poll`].
    pub async fn recv(&self) -> Result<ConsumerRecord<K, V>> {
        loop {
            if let Some(record) = self.collect_in_group(1, None).await?.pop() {
                return Ok(record);
            }
        }
    }

    /// `collect`, with the group's work done first and rebalance events
    /// that arrive meanwhile carried out at once (they interrupt the wait
    /// for records, which loses nothing).
    async fn collect_in_group(
        &self,
        max: usize,
        deadline: Option<Instant>,
    ) -> Result<Vec<ConsumerRecord<K, V>>> {
        let Some(member) = &self.group else {
            return self.collect(max, deadline).await;
        };
        // Waiting inside poll is polling: tell the membership now and then,
        // so that a poll (or recv) longer than max.poll.interval.ms does
        // not make the member leave the group (Java's poll refreshes its
        // poll timer the same way while it waits).
        let period = (self.ctx.config.max_poll_interval / 2)
            .clamp(Duration::from_millis(10), Duration::from_secs(1));
        let keepalive = async {
            loop {
                tokio::time::sleep(period).await;
                member.handle.polled();
            }
        };
        tokio::pin!(keepalive);
        loop {
            self.group_work().await?;
            tokio::select! {
                records = self.collect(max, deadline) => return records,
                event = self.next_group_event() => self.run_event(event).await?,
                () = &mut keepalive => {}
            }
        }
    }

    /// Takes up to `max` records, waiting until `deadline` (forever with
    /// `None`) for the first.
    async fn collect(
        &self,
        max: usize,
        deadline: Option<Instant>,
    ) -> Result<Vec<ConsumerRecord<K, V>>> {
        let subs = &self.ctx.subs;
        let backoff = self.ctx.client.retry_backoff();
        loop {
            self.check_open()?;
            if subs.has_pending_resets() {
                let reset = offsets::reset_positions(
                    &self.ctx.client,
                    subs,
                    self.ctx.config.isolation_level,
                );
                match deadline {
                    Some(d) => {
                        if tokio::time::timeout_at(d, reset).await.is_err() {
                            return Ok(Vec::new());
                        }
                    }
                    None => reset.await,
                }
            }
            let ready = subs.data_ready.notified();
            tokio::pin!(ready);
            ready.as_mut().enable();
            let raw = subs.take(max)?;
            if !raw.is_empty() {
                return self.deserialize(raw);
            }
            // Come back now and then: for a pending reset to retry, and to
            // notice a close.
            let mut wake = Instant::now()
                + if subs.has_pending_resets() {
                    backoff
                } else {
                    Duration::from_secs(1)
                };
            if let Some(d) = deadline {
                if Instant::now() >= d {
                    return Ok(Vec::new());
                }
                wake = wake.min(d);
            }
            tokio::select! {
                _ = ready => {}
                _ = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    /// Deserializes in order. On the first failure the records not handed
    /// out go back (their partitions are rewound); the error comes now if
    /// nothing precedes it, else with the next poll.
    fn deserialize(&self, raw: Vec<RawRecord>) -> Result<Vec<ConsumerRecord<K, V>>> {
        let mut out = Vec::with_capacity(raw.len());
        let mut rest = raw.into_iter();
        while let Some(r) = rest.next() {
            match self.convert(r) {
                Ok(record) => out.push(record),
                Err((e, r)) => {
                    let mut rewind: HashMap<(Arc<str>, i32), (u64, i64)> = HashMap::new();
                    for r in std::iter::once(r).chain(rest) {
                        rewind
                            .entry((r.topic.clone(), r.partition))
                            .or_insert((r.generation, r.record.offset));
                    }
                    for ((topic, partition), (generation, offset)) in rewind {
                        self.ctx.subs.rewind(
                            &TopicPartition { topic, partition },
                            generation,
                            offset,
                        );
                    }
                    self.count_consumed(out.len());
                    return if out.is_empty() { Err(e) } else { Ok(out) };
                }
            }
        }
        self.count_consumed(out.len());
        Ok(out)
    }

    fn count_consumed(&self, n: usize) {
        self.ctx
            .counters
            .records_consumed
            .fetch_add(n as u64, Ordering::Release);
    }

    /// The record for the application. It takes the raw record by value:
    /// topic and headers move over, and with
    /// [`DefaultSerde`](crate::serialization::DefaultSerde) for `Bytes` the
    /// key and value slices move over too (what `DefaultSerde` would
    /// return, without a reference-count round trip per record). On a
    /// deserialization error the raw record comes back for the rewind.
    #[allow(clippy::result_large_err)] // the error path is rare; the record is needed there
    fn convert(
        &self,
        mut r: RawRecord,
    ) -> std::result::Result<ConsumerRecord<K, V>, (Error, RawRecord)> {
        let fail = |e: Error, r: &RawRecord| {
            let e = match e {
                Error::InvalidArgument { reason, context } => Error::InvalidArgument {
                    reason: format!(
                        "cannot deserialize the record at offset {}: {reason}; seek past it to continue",
                        r.record.offset
                    ),
                    context,
                },
                other => other,
            };
            e.map_context(|c| c.with_topic(r.topic.clone()).with_partition(r.partition))
        };
        // Java's serializedKeySize/serializedValueSize: -1 for null.
        let serialized_key_size = r.record.key.as_ref().map_or(-1, |k| k.len() as i32);
        let serialized_value_size = r.record.value.as_ref().map_or(-1, |v| v.len() as i32);
        let key = match take_bytes_as::<K>(self.default_serde.0, &mut r.record.key) {
            Some(k) => Some(k),
            None => match &r.record.key {
                Some(k) => match self.key_deserializer.deserialize(&r.topic, Some(k)) {
                    Ok(k) => Some(k),
                    Err(e) => return Err((fail(e, &r), r)),
                },
                None => None,
            },
        };
        let value = match take_bytes_as::<V>(self.default_serde.1, &mut r.record.value) {
            Some(v) => Some(v),
            None => match &r.record.value {
                Some(v) => match self.value_deserializer.deserialize(&r.topic, Some(v)) {
                    Ok(v) => Some(v),
                    Err(e) => return Err((fail(e, &r), r)),
                },
                None => None,
            },
        };
        Ok(ConsumerRecord {
            topic: r.topic,
            partition: r.partition,
            offset: r.record.offset,
            timestamp: r.record.timestamp,
            timestamp_type: r.timestamp_type,
            key,
            value,
            headers: r.record.headers,
            leader_epoch: r.leader_epoch,
            serialized_key_size,
            serialized_value_size,
        })
    }
}

/// `slot`'s bytes as a `T`, when `T` is `Bytes` and `default_serde` says the
/// deserializer is [`DefaultSerde`](crate::serialization::DefaultSerde)
/// (whose `Bytes` result is exactly these bytes); `None` otherwise, leaving
/// `slot` as it was.
fn take_bytes_as<T: 'static>(default_serde: bool, slot: &mut Option<bytes::Bytes>) -> Option<T> {
    if !default_serde {
        return None;
    }
    (slot as &mut dyn std::any::Any)
        .downcast_mut::<Option<T>>()
        .and_then(Option::take)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::take_bytes_as;

    #[test]
    fn default_bytes_move_over_and_anything_else_is_left_for_the_deserializer() {
        let data = Bytes::from_static(b"value");
        let mut slot = Some(data.clone());
        assert_eq!(take_bytes_as::<Bytes>(true, &mut slot), Some(data.clone()));
        assert_eq!(slot, None, "moved, not cloned");

        let mut slot = Some(data.clone());
        assert_eq!(take_bytes_as::<String>(true, &mut slot), None);
        assert_eq!(
            slot.as_ref(),
            Some(&data),
            "a String goes through the deserializer"
        );

        let mut slot = Some(data.clone());
        assert_eq!(take_bytes_as::<Bytes>(false, &mut slot), None);
        assert_eq!(
            slot,
            Some(data),
            "a custom Bytes deserializer is still called"
        );
    }
}
