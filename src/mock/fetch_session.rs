//! Incremental fetch sessions (KIP-227), per broker. Pure: no I/O, no clock.
//!
//! A Fetch names a session id and an epoch:
//!
//! | session id | epoch | meaning |
//! |---|---|---|
//! | 0 | -1 | full fetch, no session |
//! | 0 | 0 | full fetch, create a session (its id in the response) |
//! | s | -1 | close session `s`; full fetch without a session |
//! | s | 0 | close `s`, create a new session (full fetch) |
//! | s | n > 0 | incremental fetch in session `s`, which must expect epoch `n` |
//!
//! An incremental request lists only partitions whose fetch position changed
//! (added or updated) and the partitions to forget; the session remembers
//! the rest. An incremental response carries only partitions with something
//! new: records, an error, or a high watermark / last stable offset / log
//! start offset different from what this session was last told.
//! Errors: FETCH_SESSION_ID_NOT_FOUND for an unknown session,
//! INVALID_FETCH_SESSION_EPOCH for an unexpected epoch.

use std::collections::{HashMap, VecDeque};

/// Sessions kept per broker (Kafka's `max.incremental.fetch.session.cache.slots`).
const MAX_SESSIONS: usize = 1000;

/// Kafka error codes for sessions.
pub(crate) mod code {
    pub const FETCH_SESSION_ID_NOT_FOUND: i16 = 70;
    pub const INVALID_FETCH_SESSION_EPOCH: i16 = 71;
}

/// A topic-partition in a session.
pub(crate) type Tp = (String, i32);

/// What a session remembers about one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionPartition {
    pub fetch_offset: i64,
    pub max_bytes: i32,
    /// (high watermark, last stable offset, log start) last sent, if any.
    pub last_sent: Option<(i64, i64, i64)>,
}

#[derive(Debug)]
struct Session {
    /// The epoch the next request must carry.
    next_epoch: i32,
    /// Partitions in the order they were added (responses keep it).
    partitions: Vec<Tp>,
    state: HashMap<Tp, SessionPartition>,
}

/// A partition to fetch: where, and how much.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlannedPartition {
    pub tp: Tp,
    pub fetch_offset: i64,
    pub max_bytes: i32,
    /// What this session was last told (`None` outside a session or when
    /// new): an incremental response omits the partition if nothing changed.
    pub last_sent: Option<(i64, i64, i64)>,
}

/// How to answer one Fetch request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FetchPlan {
    /// The session id for the response (0 = none).
    pub session_id: i32,
    /// Whether partitions without news are left out of the response.
    pub incremental: bool,
    pub partitions: Vec<PlannedPartition>,
}

/// The fetch sessions of one broker.
#[derive(Debug, Default)]
pub(crate) struct FetchSessions {
    sessions: HashMap<i32, Session>,
    /// Creation order, for eviction when full.
    order: VecDeque<i32>,
}

impl FetchSessions {
    /// Resolves a request into a plan, creating, updating or closing
    /// sessions. `requested` are the request's partitions (tp, fetch
    /// offset, partition max bytes); `forgotten` its forgotten topics.
    /// `new_id` supplies an id for a new session (random in the server).
    pub fn plan(
        &mut self,
        session_id: i32,
        epoch: i32,
        requested: Vec<(Tp, i64, i32)>,
        forgotten: Vec<Tp>,
        new_id: impl FnOnce() -> i32,
    ) -> Result<FetchPlan, i16> {
        let full = |requested: Vec<(Tp, i64, i32)>, session_id| FetchPlan {
            session_id,
            incremental: false,
            partitions: requested
                .into_iter()
                .map(|(tp, fetch_offset, max_bytes)| PlannedPartition {
                    tp,
                    fetch_offset,
                    max_bytes,
                    last_sent: None,
                })
                .collect(),
        };
        if epoch == -1 {
            self.remove(session_id);
            return Ok(full(requested, 0));
        }
        if epoch == 0 {
            self.remove(session_id);
            let mut id = new_id();
            while id == 0 || self.sessions.contains_key(&id) {
                id = id.wrapping_add(1).max(1);
            }
            if self.sessions.len() >= MAX_SESSIONS {
                if let Some(old) = self.order.pop_front() {
                    self.sessions.remove(&old);
                }
            }
            let mut session = Session {
                next_epoch: 1,
                partitions: Vec::new(),
                state: HashMap::new(),
            };
            for (tp, fetch_offset, max_bytes) in &requested {
                session.upsert(tp.clone(), *fetch_offset, *max_bytes);
            }
            self.sessions.insert(id, session);
            self.order.push_back(id);
            return Ok(full(requested, id));
        }
        let Some(session) = self.sessions.get_mut(&session_id) else {
            return Err(code::FETCH_SESSION_ID_NOT_FOUND);
        };
        if session.next_epoch != epoch {
            return Err(code::INVALID_FETCH_SESSION_EPOCH);
        }
        session.next_epoch = if epoch == i32::MAX { 1 } else { epoch + 1 };
        for tp in forgotten {
            session.state.remove(&tp);
            session.partitions.retain(|p| *p != tp);
        }
        for (tp, fetch_offset, max_bytes) in requested {
            session.upsert(tp, fetch_offset, max_bytes);
        }
        let partitions = session
            .partitions
            .iter()
            .filter_map(|tp| {
                let s = session.state.get(tp)?;
                Some(PlannedPartition {
                    tp: tp.clone(),
                    fetch_offset: s.fetch_offset,
                    max_bytes: s.max_bytes,
                    last_sent: s.last_sent,
                })
            })
            .collect();
        Ok(FetchPlan {
            session_id,
            incremental: true,
            partitions,
        })
    }

    /// Remembers what a session's response told the client about `tp`.
    pub fn record_sent(&mut self, session_id: i32, tp: &Tp, sent: (i64, i64, i64)) {
        if let Some(s) = self
            .sessions
            .get_mut(&session_id)
            .and_then(|s| s.state.get_mut(tp))
        {
            s.last_sent = Some(sent);
        }
    }

    /// Number of open sessions.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    fn remove(&mut self, session_id: i32) {
        if session_id != 0 && self.sessions.remove(&session_id).is_some() {
            self.order.retain(|&id| id != session_id);
        }
    }
}

impl Session {
    fn upsert(&mut self, tp: Tp, fetch_offset: i64, max_bytes: i32) {
        match self.state.get_mut(&tp) {
            Some(s) => {
                s.fetch_offset = fetch_offset;
                s.max_bytes = max_bytes;
            }
            None => {
                self.partitions.push(tp.clone());
                self.state.insert(
                    tp,
                    SessionPartition {
                        fetch_offset,
                        max_bytes,
                        last_sent: None,
                    },
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(t: &str, p: i32) -> Tp {
        (t.to_owned(), p)
    }

    #[test]
    fn sessionless_full_fetch_keeps_nothing() {
        let mut s = FetchSessions::default();
        let plan = s
            .plan(0, -1, vec![(tp("a", 0), 5, 100)], vec![], || 9)
            .unwrap();
        assert_eq!(plan.session_id, 0);
        assert!(!plan.incremental);
        assert_eq!(plan.partitions[0].fetch_offset, 5);
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn incremental_session_remembers_updates_and_forgets() {
        let mut s = FetchSessions::default();
        let full = s
            .plan(
                0,
                0,
                vec![(tp("a", 0), 0, 100), (tp("a", 1), 0, 100)],
                vec![],
                || 42,
            )
            .unwrap();
        assert_eq!(full.session_id, 42);
        s.record_sent(42, &tp("a", 0), (3, 3, 0));
        // Epoch 1: nothing named, both partitions still fetched.
        let inc = s.plan(42, 1, vec![], vec![], || 0).unwrap();
        assert!(inc.incremental);
        assert_eq!(inc.partitions.len(), 2);
        assert_eq!(inc.partitions[0].last_sent, Some((3, 3, 0)));
        // Epoch 2: move a-0, forget a-1, add b-0.
        let inc = s
            .plan(
                42,
                2,
                vec![(tp("a", 0), 3, 50), (tp("b", 0), 7, 10)],
                vec![tp("a", 1)],
                || 0,
            )
            .unwrap();
        let got: Vec<_> = inc
            .partitions
            .iter()
            .map(|p| (p.tp.clone(), p.fetch_offset, p.max_bytes))
            .collect();
        assert_eq!(got, vec![(tp("a", 0), 3, 50), (tp("b", 0), 7, 10)]);
    }

    #[test]
    fn wrong_epoch_and_unknown_session_are_errors() {
        let mut s = FetchSessions::default();
        s.plan(0, 0, vec![(tp("a", 0), 0, 1)], vec![], || 5)
            .unwrap();
        assert_eq!(
            s.plan(5, 2, vec![], vec![], || 0).unwrap_err(),
            code::INVALID_FETCH_SESSION_EPOCH
        );
        // A refused request does not consume the epoch.
        assert!(s.plan(5, 1, vec![], vec![], || 0).is_ok());
        assert_eq!(
            s.plan(6, 1, vec![], vec![], || 0).unwrap_err(),
            code::FETCH_SESSION_ID_NOT_FOUND
        );
        // Closing (epoch -1) removes the session.
        s.plan(5, -1, vec![], vec![], || 0).unwrap();
        assert_eq!(
            s.plan(5, 2, vec![], vec![], || 0).unwrap_err(),
            code::FETCH_SESSION_ID_NOT_FOUND
        );
    }

    #[test]
    fn new_session_with_old_id_replaces_it_and_cache_is_bounded() {
        let mut s = FetchSessions::default();
        s.plan(0, 0, vec![], vec![], || 5).unwrap();
        let p = s.plan(5, 0, vec![], vec![], || 5).unwrap();
        assert_eq!(p.session_id, 5);
        assert_eq!(s.len(), 1);
        for next in 101..101 + MAX_SESSIONS as i32 + 10 {
            s.plan(0, 0, vec![], vec![], || next).unwrap();
        }
        assert_eq!(s.len(), MAX_SESSIONS);
    }
}
