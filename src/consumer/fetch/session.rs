//! Incremental fetch sessions (KIP-227), one per broker.
//!
//! The first Fetch to a broker is *full*: it lists every partition and asks
//! for a session (`session_id = 0`, `epoch = 0`). If the broker answers
//! with a session id, later Fetches are *incremental*: they name only the
//! partitions whose fetch offset (or bound, or leader epoch) changed, plus
//! the partitions to drop (`forgotten_topics_data`), and the broker keeps
//! fetching the rest from its cached state. The epoch counts requests
//! (1, 2, ... wrapping back to 1) so the broker can tell a lost request.
//!
//! A broker that answers session id 0 keeps no session: every Fetch stays
//! full. Errors `FETCH_SESSION_ID_NOT_FOUND` and `INVALID_FETCH_SESSION_EPOCH`,
//! a failed request, or a protocol too old for sessions (< v7) reset to a
//! full fetch. This module is bookkeeping only; it sends nothing.

use std::collections::BTreeMap;

use crate::TopicPartition;

/// Session id meaning "no session".
const NO_SESSION: i32 = 0;
/// Epoch of a full request that asks for a new session.
const INITIAL_EPOCH: i32 = 0;
/// Epoch of a full request that wants no session (and closes one).
const FINAL_EPOCH: i32 = -1;

/// What the session remembers of one partition (what the broker caches).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SessionPartition {
    pub fetch_offset: i64,
    pub max_bytes: i32,
    pub leader_epoch: i32,
}

/// The request a [`FetchSession`] planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FetchPlan {
    pub session_id: i32,
    pub epoch: i32,
    /// Whether every wanted partition is listed (not incremental).
    pub full: bool,
    /// Partitions to list in the request.
    pub send: Vec<(TopicPartition, SessionPartition)>,
    /// Partitions to remove from the broker's session.
    pub forgotten: Vec<TopicPartition>,
}

/// One broker's fetch session state.
#[derive(Debug, Default)]
pub(crate) struct FetchSession {
    id: i32,
    epoch: i32,
    partitions: BTreeMap<TopicPartition, SessionPartition>,
}

impl FetchSession {
    /// No session yet: the next plan is a full fetch asking for one.
    pub(crate) fn new() -> Self {
        FetchSession::default()
    }

    /// The session id held (0 when none).
    #[cfg(test)]
    pub(crate) fn id(&self) -> i32 {
        self.id
    }

    /// Plans the next request for `wanted` (every partition this broker
    /// should fetch now). `supported` is false below Fetch v7.
    ///
    /// The session's view is updated at once: if the request then fails,
    /// [`FetchSession::reset`] starts over with a full fetch anyway.
    pub(crate) fn plan(
        &mut self,
        wanted: Vec<(TopicPartition, SessionPartition)>,
        supported: bool,
    ) -> FetchPlan {
        if !supported {
            self.reset();
            return FetchPlan {
                session_id: NO_SESSION,
                epoch: FINAL_EPOCH,
                full: true,
                send: wanted,
                forgotten: Vec::new(),
            };
        }
        if self.id == NO_SESSION {
            self.partitions = wanted.iter().cloned().collect();
            return FetchPlan {
                session_id: NO_SESSION,
                epoch: INITIAL_EPOCH,
                full: true,
                send: wanted,
                forgotten: Vec::new(),
            };
        }
        let wanted: BTreeMap<TopicPartition, SessionPartition> = wanted.into_iter().collect();
        let forgotten: Vec<TopicPartition> = self
            .partitions
            .keys()
            .filter(|tp| !wanted.contains_key(*tp))
            .cloned()
            .collect();
        let send: Vec<(TopicPartition, SessionPartition)> = wanted
            .iter()
            .filter(|(tp, p)| self.partitions.get(*tp) != Some(*p))
            .map(|(tp, p)| (tp.clone(), *p))
            .collect();
        self.partitions = wanted;
        FetchPlan {
            session_id: self.id,
            epoch: self.epoch,
            full: false,
            send,
            forgotten,
        }
    }

    /// Takes in a successful response (top-level error NONE) to `plan`.
    pub(crate) fn on_response(&mut self, plan: &FetchPlan, response_session_id: i32) {
        if plan.epoch == FINAL_EPOCH {
            return;
        }
        if plan.full {
            if response_session_id == NO_SESSION {
                // The broker keeps no session (none free, or not supported):
                // stay on full fetches, asking again each time.
                self.reset();
            } else {
                self.id = response_session_id;
                self.epoch = 1;
            }
            return;
        }
        if response_session_id != self.id {
            tracing::debug!(
                held = self.id,
                answered = response_session_id,
                "fetch session id changed; starting over"
            );
            self.reset();
            return;
        }
        self.epoch = if self.epoch == i32::MAX {
            1
        } else {
            self.epoch + 1
        };
    }

    /// Forgets the session: the next request is full and asks for a new one.
    pub(crate) fn reset(&mut self) {
        self.id = NO_SESSION;
        self.epoch = INITIAL_EPOCH;
        self.partitions.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(p: i32) -> TopicPartition {
        TopicPartition::new("t", p)
    }

    fn at(offset: i64) -> SessionPartition {
        SessionPartition {
            fetch_offset: offset,
            max_bytes: 100,
            leader_epoch: 0,
        }
    }

    #[test]
    fn full_then_incremental_sends_only_changes_and_forgets_the_dropped() {
        let mut s = FetchSession::new();
        let plan = s.plan(vec![(tp(0), at(0)), (tp(1), at(0)), (tp(2), at(0))], true);
        assert!(plan.full);
        assert_eq!((plan.session_id, plan.epoch), (0, 0));
        assert_eq!(plan.send.len(), 3);
        s.on_response(&plan, 77);
        assert_eq!(s.id(), 77);

        // Partition 0 advanced, 1 unchanged, 2 dropped, 3 added.
        let plan = s.plan(vec![(tp(0), at(10)), (tp(1), at(0)), (tp(3), at(5))], true);
        assert!(!plan.full);
        assert_eq!((plan.session_id, plan.epoch), (77, 1));
        assert_eq!(plan.send, vec![(tp(0), at(10)), (tp(3), at(5))]);
        assert_eq!(plan.forgotten, vec![tp(2)]);
        s.on_response(&plan, 77);

        // Nothing changed: an empty incremental request, next epoch.
        let plan = s.plan(vec![(tp(0), at(10)), (tp(1), at(0)), (tp(3), at(5))], true);
        assert_eq!(
            (plan.epoch, plan.send.len(), plan.forgotten.len()),
            (2, 0, 0)
        );
    }

    #[test]
    fn broker_without_sessions_keeps_full_fetches() {
        let mut s = FetchSession::new();
        for _ in 0..3 {
            let plan = s.plan(vec![(tp(0), at(0))], true);
            assert!(plan.full);
            assert_eq!((plan.session_id, plan.epoch), (0, 0));
            s.on_response(&plan, 0);
        }
    }

    #[test]
    fn reset_and_old_protocol_go_back_to_full_fetches() {
        let mut s = FetchSession::new();
        let plan = s.plan(vec![(tp(0), at(0))], true);
        s.on_response(&plan, 5);
        s.reset();
        let plan = s.plan(vec![(tp(0), at(3))], true);
        assert!(plan.full && plan.session_id == 0 && plan.epoch == 0);

        let plan = s.plan(vec![(tp(0), at(3))], false);
        assert!(plan.full);
        assert_eq!(plan.epoch, FINAL_EPOCH);
        s.on_response(&plan, 9);
        assert_eq!(s.id(), 0, "v4-v6 fetches never hold a session");
    }

    #[test]
    fn epoch_wraps_to_one_and_a_changed_id_resets() {
        let mut s = FetchSession::new();
        let plan = s.plan(vec![(tp(0), at(0))], true);
        s.on_response(&plan, 5);
        s.epoch = i32::MAX;
        let plan = s.plan(vec![(tp(0), at(0))], true);
        s.on_response(&plan, 5);
        assert_eq!(s.epoch, 1);
        let plan = s.plan(vec![(tp(0), at(0))], true);
        s.on_response(&plan, 6);
        assert_eq!(s.id(), 0);
    }
}
