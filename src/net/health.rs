//! Which brokers cannot be reached, so that an outage is visible in the
//! logs without flooding them.
//!
//! The pool reports every connect attempt here. The first failure to reach
//! a broker logs a `warn!` with its node id, address and the cause; while
//! it stays unreachable another `warn!` follows at most every
//! [`WARN_EVERY`] (with how long and how many attempts); the first success
//! afterwards logs an `info!`. A connection that broke by itself (reset,
//! closed by the broker, timed out) is logged at `info!` with its cause
//! when the pool replaces it, at most every [`WARN_EVERY`] per broker.
//! Brokers are keyed by [`BrokerRef`], so one broker is reported once
//! whatever lane (produce, fetch, group...) failed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::pool::{BrokerRef, lock};
use crate::error::Error;

/// At most one "still unreachable" warning per broker this often.
pub(crate) const WARN_EVERY: Duration = Duration::from_secs(30);

/// One unreachable broker.
#[derive(Debug, Clone)]
struct Down {
    since: Instant,
    last_warned: Instant,
    failures: u64,
}

/// What to log for a connect outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Report {
    /// Nothing (the broker was fine, or was warned about recently).
    Quiet,
    /// It just became unreachable.
    Unreachable,
    /// Still unreachable, for this long, after this many failed attempts.
    StillUnreachable { down_for: Duration, failures: u64 },
    /// Reachable again after this long.
    Reachable { down_for: Duration },
}

/// The unreachable brokers (a short std mutex; never held across I/O).
#[derive(Debug, Default)]
pub(crate) struct Health {
    down: Mutex<HashMap<BrokerRef, Down>>,
    /// When a broken connection to each broker was last reported.
    lost: Mutex<HashMap<BrokerRef, Instant>>,
}

impl Health {
    /// Records a failed connect at `now`; says what to log.
    pub(crate) fn failure(&self, broker: BrokerRef, now: Instant) -> Report {
        let mut down = lock(&self.down);
        match down.get_mut(&broker) {
            None => {
                down.insert(
                    broker,
                    Down {
                        since: now,
                        last_warned: now,
                        failures: 1,
                    },
                );
                Report::Unreachable
            }
            Some(d) => {
                d.failures += 1;
                if now.saturating_duration_since(d.last_warned) >= WARN_EVERY {
                    d.last_warned = now;
                    Report::StillUnreachable {
                        down_for: now.saturating_duration_since(d.since),
                        failures: d.failures,
                    }
                } else {
                    Report::Quiet
                }
            }
        }
    }

    /// Records a successful connect at `now`; says what to log.
    pub(crate) fn success(&self, broker: BrokerRef, now: Instant) -> Report {
        match lock(&self.down).remove(&broker) {
            Some(d) => Report::Reachable {
                down_for: now.saturating_duration_since(d.since),
            },
            None => Report::Quiet,
        }
    }

    /// Records that a connection to `broker` broke at `now` (any lane);
    /// whether to report it: at most once per [`WARN_EVERY`] per broker.
    pub(crate) fn connection_lost(&self, broker: BrokerRef, now: Instant) -> bool {
        let mut lost = lock(&self.lost);
        match lost.get(&broker) {
            Some(at) if now.saturating_duration_since(*at) < WARN_EVERY => false,
            _ => {
                lost.insert(broker, now);
                true
            }
        }
    }

    /// A connection to `broker` broke (found when it is about to be
    /// replaced): logged at `info!` with the cause, rate-limited per broker.
    /// If reconnecting fails, [`Health::record`] warns about the outage.
    pub(crate) fn lost(&self, broker: BrokerRef, address: &str, error: &Error) {
        if self.connection_lost(broker, Instant::now()) {
            let node_id = match broker {
                BrokerRef::Node(id) => Some(id),
                BrokerRef::Bootstrap(_) => None,
            };
            tracing::info!(
                broker = %broker,
                node_id,
                address,
                %error,
                "connection to broker {broker} ({address}) lost, reconnecting: {error}"
            );
        }
    }

    /// Records a connect outcome and logs it (rate-limited, see the module
    /// docs). Never logs payloads or credentials: only ids, addresses and
    /// the error.
    pub(crate) fn record(&self, broker: BrokerRef, address: &str, outcome: Result<(), &Error>) {
        let now = Instant::now();
        let node_id = match broker {
            BrokerRef::Node(id) => Some(id),
            BrokerRef::Bootstrap(_) => None,
        };
        match outcome {
            Ok(()) => {
                if let Report::Reachable { down_for } = self.success(broker, now) {
                    tracing::info!(
                        broker = %broker,
                        node_id,
                        address,
                        down_for_ms = down_for.as_millis() as u64,
                        "broker {broker} ({address}) is reachable again"
                    );
                }
            }
            // A closed client is no outage.
            Err(Error::Closed) => {}
            Err(error) => match self.failure(broker, now) {
                Report::Unreachable => tracing::warn!(
                    broker = %broker,
                    node_id,
                    address,
                    %error,
                    "broker {broker} ({address}) is unreachable: {error}"
                ),
                Report::StillUnreachable { down_for, failures } => tracing::warn!(
                    broker = %broker,
                    node_id,
                    address,
                    %error,
                    failures,
                    down_for_ms = down_for.as_millis() as u64,
                    "broker {broker} ({address}) still unreachable after {}s and {failures} attempts: {error}",
                    down_for.as_secs()
                ),
                Report::Quiet | Report::Reachable { .. } => {}
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_connection_is_reported_at_most_every_thirty_seconds_per_broker() {
        let h = Health::default();
        let t0 = Instant::now();
        assert!(h.connection_lost(BrokerRef::Node(1), t0));
        assert!(!h.connection_lost(BrokerRef::Node(1), t0 + Duration::from_secs(29)));
        assert!(h.connection_lost(BrokerRef::Node(2), t0 + Duration::from_secs(29)));
        assert!(h.connection_lost(BrokerRef::Node(1), t0 + Duration::from_secs(30)));
    }

    #[test]
    fn warns_once_then_at_most_every_thirty_seconds_then_recovers() {
        let h = Health::default();
        let b = BrokerRef::Node(3);
        let t0 = Instant::now();
        assert_eq!(h.success(b, t0), Report::Quiet, "a healthy broker is quiet");
        assert_eq!(h.failure(b, t0), Report::Unreachable);
        for s in [1, 10, 29] {
            assert_eq!(h.failure(b, t0 + Duration::from_secs(s)), Report::Quiet);
        }
        assert_eq!(
            h.failure(b, t0 + Duration::from_secs(30)),
            Report::StillUnreachable {
                down_for: Duration::from_secs(30),
                failures: 5
            }
        );
        assert_eq!(h.failure(b, t0 + Duration::from_secs(59)), Report::Quiet);
        // Another broker has its own state.
        assert_eq!(
            h.failure(BrokerRef::Node(4), t0 + Duration::from_secs(59)),
            Report::Unreachable
        );
        assert_eq!(
            h.success(b, t0 + Duration::from_secs(61)),
            Report::Reachable {
                down_for: Duration::from_secs(61)
            }
        );
        assert_eq!(h.success(b, t0 + Duration::from_secs(62)), Report::Quiet);
        assert_eq!(
            h.failure(b, t0 + Duration::from_secs(63)),
            Report::Unreachable,
            "a new outage warns at once"
        );
    }
}
