//! Fetch lanes: several Fetch requests in flight to one broker at once.
//!
//! Java keeps one Fetch in flight per broker. A broker serves one
//! connection's requests one at a time (Kafka mutes a connection until its
//! response is sent; Tansu reads, answers, then reads the next), so a
//! single fetch stream is bounded by how fast the broker assembles one
//! response after another on one thread, while a consumer that reads
//! faster than that leaves the rest of the broker idle. With
//! `fetch_connections_per_broker = n`, a broker's partitions are split
//! into `n` fixed, disjoint lanes; each lane is its own fetch loop with its
//! own connection and its own fetch session (KIP-227), so the broker works
//! on up to `n` fetches in parallel.
//!
//! Lanes are separate connections, never pipelined requests on one: a
//! lane whose partitions are all at the log end sends a long poll that
//! the broker holds for `fetch.max.wait.ms`, and on a shared socket every
//! request behind it would wait as long.
//!
//! A partition's lane never changes (a hash of topic and partition), so
//! sessions do not churn and a partition is never in two fetches at once.

use std::collections::HashMap;

use crate::TopicPartition;
use crate::consumer::partitions::FetchTarget;
use crate::error::Result;
use crate::net::connection::Connection;
use crate::net::pool::{BrokerRef, Pool, Reconnect};

/// One lane of a broker's fetching: lane `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FetchLane {
    pub index: usize,
    pub count: usize,
}

impl FetchLane {
    /// Whether this lane fetches `tp`.
    pub(crate) fn owns(&self, tp: &TopicPartition) -> bool {
        self.count <= 1 || lane_of(tp, self.count) == self.index
    }
}

/// The lane of `tp` among `count`: stable for the consumer's lifetime.
/// FNV-1a of the topic plus the partition number, so that consecutive
/// partitions of one topic go to different lanes (an even split for the
/// common case of one topic).
pub(crate) fn lane_of(tp: &TopicPartition, count: usize) -> usize {
    if count <= 1 {
        return 0;
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in tp.topic.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let lane = h.wrapping_add(u64::from(tp.partition.unsigned_abs())) % count as u64;
    // `lane < count`, which is a usize.
    lane as usize
}

/// The log end (high watermark, or last stable offset under
/// `read_committed`) each partition had in this lane's last Fetch response.
pub(crate) type LogEnds = HashMap<TopicPartition, i64>;

/// Whether a lane should send nothing for now: some of its partitions are
/// held back (their prefetched data is not consumed yet) and every
/// partition it could fetch is known to be at the log end. The broker would
/// hold such a request for `fetch.max.wait.ms`, and the held-back
/// partitions, which do have data, would wait behind that long poll; poll
/// draining them wakes the lane again.
///
/// (With one lane the partition table applies this rule itself, over the
/// whole broker.)
pub(crate) fn wait_for_held_back(targets: &[FetchTarget], held_back: bool, ends: &LogEnds) -> bool {
    held_back
        && targets
            .iter()
            .all(|t| ends.get(&t.tp).is_some_and(|end| t.fetch_offset >= *end))
}

/// The connection of a lane other than the first (which uses the pool's
/// `Fetch` connection): the pool keeps one connection per broker and lane
/// kind, so extra lanes hold their own, made outside the pool. Reconnects
/// back off as the pool's do (`reconnect.backoff.ms` growing to
/// `reconnect.backoff.max.ms`, reset by a successful connect), so a lane
/// to a broker that is down does not try again every `retry.backoff.ms`.
#[derive(Debug, Default)]
pub(crate) struct OwnConnection {
    conn: Option<(Connection, String)>,
    reconnect: Reconnect,
}

impl OwnConnection {
    /// The open connection to `broker`, connecting (after any backoff)
    /// when there is none or it no longer goes to `address` (a broker id
    /// whose address changed is a different socket).
    pub(crate) async fn get(
        &mut self,
        pool: &Pool,
        broker: BrokerRef,
        address: &str,
    ) -> Result<Connection> {
        if let Some(conn) = self.usable(address) {
            return Ok(conn);
        }
        let conn = pool
            .connect_unpooled_backing_off(broker, &mut self.reconnect)
            .await?;
        self.conn = Some((conn.clone(), address.to_owned()));
        Ok(conn)
    }

    /// The open connection, if it still goes to `address` and needs no
    /// replacement.
    fn usable(&mut self, address: &str) -> Option<Connection> {
        match &self.conn {
            Some((c, a)) if !c.needs_replacement() && a == address => Some(c.clone()),
            // Its SASL session ends soon (KIP-368): let go of it without
            // closing it, so that nothing in flight on it fails.
            Some((c, a)) if !c.is_closed() && a == address => {
                self.conn = None;
                None
            }
            _ => {
                self.drop_connection();
                None
            }
        }
    }

    /// Closes the held connection (after a failed request, so the next one
    /// starts on a fresh socket).
    pub(crate) fn drop_connection(&mut self) {
        if let Some((c, _)) = self.conn.take() {
            c.close();
        }
    }
}

impl Drop for OwnConnection {
    fn drop(&mut self) {
        self.drop_connection();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(p: i32, offset: i64) -> FetchTarget {
        FetchTarget {
            tp: TopicPartition::new("t", p),
            generation: 1,
            fetch_offset: offset,
            leader_epoch: 0,
        }
    }

    #[tokio::test]
    async fn an_extra_lane_reconnects_with_the_pools_growing_backoff() {
        use std::time::Duration;
        // Port 1 on loopback: nothing listens, every connect is refused.
        let pool = crate::net::pool::unreachable_pool();
        let broker = BrokerRef::Bootstrap(0);
        let mut own = OwnConnection::default();
        let started = tokio::time::Instant::now();
        for _ in 0..3 {
            own.get(&pool, broker, "127.0.0.1:1").await.unwrap_err();
            own.drop_connection();
        }
        // Without backoff the three refused connects take no time; with
        // it the 2nd waits >= 40 ms and the 3rd >= 80 ms (50 and 100 ms,
        // -20% jitter at worst).
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(120), "{waited:?}");
        assert!(own.reconnect.is_backing_off());
    }

    #[test]
    fn partitions_split_evenly_and_stably_over_lanes() {
        for count in 1..=4 {
            let mut per_lane = vec![0; count];
            for p in 0..(count as i32 * 5) {
                let tp = TopicPartition::new("events", p);
                let lane = lane_of(&tp, count);
                assert_eq!(
                    lane,
                    lane_of(&tp, count),
                    "the lane of a partition never changes"
                );
                per_lane[lane] += 1;
                let owners = (0..count)
                    .filter(|&index| FetchLane { index, count }.owns(&tp))
                    .count();
                assert_eq!(owners, 1, "exactly one lane fetches {tp}");
            }
            assert!(
                per_lane.iter().all(|&n| n == 5),
                "{count} lanes: {per_lane:?}"
            );
        }
    }

    #[test]
    fn a_lane_waits_only_when_held_back_and_everything_else_is_at_the_end() {
        let mut ends = LogEnds::new();
        ends.insert(TopicPartition::new("t", 0), 100);
        ends.insert(TopicPartition::new("t", 1), 50);
        let caught_up = [target(0, 100)];
        let behind = [target(0, 100), target(1, 40)];
        let unknown = [target(2, 0)];
        assert!(wait_for_held_back(&caught_up, true, &ends));
        assert!(wait_for_held_back(&[], true, &ends));
        assert!(
            !wait_for_held_back(&caught_up, false, &ends),
            "nothing held back: long poll"
        );
        assert!(
            !wait_for_held_back(&behind, true, &ends),
            "partition 1 has data"
        );
        assert!(
            !wait_for_held_back(&unknown, true, &ends),
            "end not known yet"
        );
    }
}
