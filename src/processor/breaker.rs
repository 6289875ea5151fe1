//! `CircuitBreaker`: stop calling a failing dependency for a while, then try
//! one call before letting everything through again (Resilience4j's
//! semantics, with a count of consecutive failures instead of a window).
//!
//! ```text
//!              failure_threshold consecutive failures
//!   Closed ─────────────────────────────────────────────▶ Open{until}
//!     ▲                                                    │  now >= until:
//!     │ probe succeeds                                     │  allow() admits one
//!     │                 probe fails (Open again)           ▼  probe
//!     └──────────────── HalfOpen{probe_in_flight} ◀────────┘
//! ```
//!
//! While open, calls are rejected with the time to try again. After the
//! cool-down the first `allow` becomes the probe; others are rejected until
//! the probe reports (or is cancelled, which frees the slot:
//! `HalfOpen{probe_in_flight: false}`). The caller passes the time, so every transition is
//! tested without a clock.

use std::time::{Duration, Instant};

/// When to open and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker; 0 = never open (the
    /// breaker is off).
    pub failure_threshold: u32,
    /// How long the breaker stays open before a probe is let through.
    pub cool_down: Duration,
}

impl BreakerConfig {
    /// Open after `failure_threshold` consecutive failures, for `cool_down`.
    pub fn new(failure_threshold: u32, cool_down: Duration) -> BreakerConfig {
        BreakerConfig {
            failure_threshold,
            cool_down,
        }
    }
}

/// The breaker's state (the diagram in the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BreakerState {
    /// Calls pass; failures in a row so far (a success resets it).
    Closed {
        /// Failures since the last success.
        consecutive_failures: u32,
    },
    /// Calls are rejected until `until`.
    Open {
        /// End of the cool-down: the next `allow` from then on is a probe.
        until: Instant,
    },
    /// The cool-down is over: one probe call decides.
    HalfOpen {
        /// Whether the probe was admitted and has not reported yet.
        probe_in_flight: bool,
    },
}

/// The answer of [`CircuitBreaker::allow`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Closed: go ahead.
    Allowed,
    /// The one trial call after a cool-down: go ahead, and report its
    /// outcome, which closes or reopens the breaker.
    Probe,
    /// Do not call now.
    Rejected {
        /// When to ask again: the end of the cool-down, or (while a probe is
        /// out) one cool-down from now at the latest; asking earlier when the
        /// probe reports is fine.
        retry_at: Instant,
    },
}

/// A circuit breaker (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct CircuitBreaker {
    /// Threshold and cool-down; changeable at run time.
    config: BreakerConfig,
    /// Where the breaker is.
    state: BreakerState,
    /// When the breaker last opened, so a new cool-down applies to an open
    /// breaker from its opening, not from the change.
    opened_at: Option<Instant>,
}

impl CircuitBreaker {
    /// A closed breaker.
    pub(crate) fn new(config: BreakerConfig) -> Self {
        CircuitBreaker {
            config,
            state: BreakerState::Closed {
                consecutive_failures: 0,
            },
            opened_at: None,
        }
    }

    /// Where the breaker is now (as of the last call; time alone does not
    /// move an open breaker to half-open until `allow` is asked).
    pub(crate) fn state(&self) -> BreakerState {
        self.state
    }

    /// The configuration in force.
    pub(crate) fn config(&self) -> BreakerConfig {
        self.config
    }

    /// Whether a call may start at `now`.
    pub(crate) fn allow(&mut self, now: Instant) -> Admission {
        match self.state {
            BreakerState::Closed { .. } => Admission::Allowed,
            BreakerState::Open { until } if now >= until => {
                self.state = BreakerState::HalfOpen {
                    probe_in_flight: true,
                };
                Admission::Probe
            }
            BreakerState::Open { until } => Admission::Rejected { retry_at: until },
            BreakerState::HalfOpen {
                probe_in_flight: false,
            } => {
                self.state = BreakerState::HalfOpen {
                    probe_in_flight: true,
                };
                Admission::Probe
            }
            BreakerState::HalfOpen {
                probe_in_flight: true,
            } => Admission::Rejected {
                retry_at: after(now, self.config.cool_down),
            },
        }
    }

    /// A call succeeded. Closed: the failure count restarts. Half-open: the
    /// probe succeeded, the breaker closes. Open: the success is from a call
    /// admitted before the breaker opened and changes nothing (the cool-down
    /// runs its course). Returns whether the state changed.
    pub(crate) fn on_success(&mut self, _now: Instant) -> bool {
        match self.state {
            BreakerState::Closed { .. } => {
                self.state = BreakerState::Closed {
                    consecutive_failures: 0,
                };
                false
            }
            BreakerState::HalfOpen { .. } => {
                self.state = BreakerState::Closed {
                    consecutive_failures: 0,
                };
                self.opened_at = None;
                true
            }
            BreakerState::Open { .. } => false,
        }
    }

    /// A call failed. Closed: one more failure in a row, opening the breaker
    /// at the threshold. Half-open: the probe failed, the breaker opens for
    /// another cool-down. Open: a late failure of a call admitted before the
    /// opening; the cool-down is not extended. Returns whether the state
    /// changed.
    ///
    /// While half-open, the first report is taken as the probe's: nothing
    /// else is admitted then, though a call admitted before the breaker
    /// opened could still report late (as in Resilience4j).
    pub(crate) fn on_failure(&mut self, now: Instant) -> bool {
        match self.state {
            BreakerState::Closed {
                consecutive_failures,
            } => {
                let failures = consecutive_failures.saturating_add(1);
                if self.config.failure_threshold != 0 && failures >= self.config.failure_threshold {
                    self.open(now);
                    true
                } else {
                    self.state = BreakerState::Closed {
                        consecutive_failures: failures,
                    };
                    false
                }
            }
            BreakerState::HalfOpen { .. } => {
                self.open(now);
                true
            }
            BreakerState::Open { .. } => false,
        }
    }

    /// An admitted call ended without an outcome (cancelled, or its partition
    /// revoked before it ran). Half-open with the probe out: the probe slot
    /// is freed and the next `allow` sends a new probe, so a lost probe cannot
    /// leave the breaker half-open forever. Otherwise nothing changes.
    pub(crate) fn on_cancelled(&mut self) {
        if let BreakerState::HalfOpen {
            probe_in_flight: true,
        } = self.state
        {
            self.state = BreakerState::HalfOpen {
                probe_in_flight: false,
            };
        }
    }

    /// Changes the configuration at run time. A closed breaker keeps its
    /// failure count and opens at once if the count already reaches a lower
    /// threshold (0 turns the breaker off and closes it); an open breaker's
    /// cool-down is recounted from its opening with the new length.
    pub(crate) fn set_config(&mut self, config: BreakerConfig, now: Instant) {
        self.config = config;
        match self.state {
            _ if config.failure_threshold == 0 => {
                self.state = BreakerState::Closed {
                    consecutive_failures: 0,
                };
                self.opened_at = None;
            }
            BreakerState::Closed {
                consecutive_failures,
            } if consecutive_failures >= config.failure_threshold => self.open(now),
            BreakerState::Open { .. } => {
                let opened = self.opened_at.unwrap_or(now);
                self.state = BreakerState::Open {
                    until: after(opened, config.cool_down),
                };
            }
            BreakerState::Closed { .. } | BreakerState::HalfOpen { .. } => {}
        }
    }

    /// Opens the breaker for one cool-down from `now`.
    fn open(&mut self, now: Instant) {
        self.opened_at = Some(now);
        self.state = BreakerState::Open {
            until: after(now, self.config.cool_down),
        };
    }
}

/// `at + d`, or a century after `at` when that overflows `Instant` (a
/// cool-down of `Duration::MAX` means "until reconfigured"), never a panic.
fn after(at: Instant, d: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    at.checked_add(d)
        .or_else(|| at.checked_add(CENTURY))
        .unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOL: Duration = Duration::from_secs(10);

    /// A breaker opening after 3 failures for 10 s.
    fn breaker() -> CircuitBreaker {
        CircuitBreaker::new(BreakerConfig {
            failure_threshold: 3,
            cool_down: COOL,
        })
    }

    /// `t0 + s` seconds.
    fn at(t0: Instant, s: u64) -> Instant {
        t0 + Duration::from_secs(s)
    }

    #[test]
    fn closed_counts_consecutive_failures_and_a_success_resets_them() {
        let t0 = Instant::now();
        let mut b = breaker();
        assert_eq!(b.allow(t0), Admission::Allowed);
        assert!(!b.on_failure(t0));
        assert!(!b.on_failure(t0));
        assert_eq!(
            b.state(),
            BreakerState::Closed {
                consecutive_failures: 2
            }
        );
        assert!(!b.on_success(t0));
        assert_eq!(
            b.state(),
            BreakerState::Closed {
                consecutive_failures: 0
            }
        );
        b.on_failure(t0);
        b.on_failure(t0);
        assert_eq!(b.allow(t0), Admission::Allowed);
    }

    #[test]
    fn the_threshold_opens_it_and_open_rejects_until_the_cool_down_ends() {
        let t0 = Instant::now();
        let mut b = breaker();
        b.on_failure(t0);
        b.on_failure(t0);
        assert!(b.on_failure(at(t0, 1)));
        assert_eq!(b.state(), BreakerState::Open { until: at(t0, 11) });
        assert_eq!(
            b.allow(at(t0, 5)),
            Admission::Rejected {
                retry_at: at(t0, 11)
            }
        );
        // Late reports of calls admitted before the opening change nothing.
        assert!(!b.on_failure(at(t0, 6)));
        assert!(!b.on_success(at(t0, 6)));
        assert_eq!(b.state(), BreakerState::Open { until: at(t0, 11) });
    }

    #[test]
    fn after_the_cool_down_one_probe_passes_and_the_rest_wait_for_it() {
        let t0 = Instant::now();
        let mut b = breaker();
        for _ in 0..3 {
            b.on_failure(t0);
        }
        assert_eq!(b.allow(at(t0, 10)), Admission::Probe);
        assert_eq!(
            b.state(),
            BreakerState::HalfOpen {
                probe_in_flight: true
            }
        );
        assert_eq!(
            b.allow(at(t0, 10)),
            Admission::Rejected {
                retry_at: at(t0, 20)
            }
        );
        assert_eq!(
            b.allow(at(t0, 12)),
            Admission::Rejected {
                retry_at: at(t0, 22)
            }
        );
    }

    #[test]
    fn a_successful_probe_closes_it() {
        let t0 = Instant::now();
        let mut b = breaker();
        for _ in 0..3 {
            b.on_failure(t0);
        }
        assert_eq!(b.allow(at(t0, 11)), Admission::Probe);
        assert!(b.on_success(at(t0, 12)));
        assert_eq!(
            b.state(),
            BreakerState::Closed {
                consecutive_failures: 0
            }
        );
        assert_eq!(b.allow(at(t0, 12)), Admission::Allowed);
        // The count starts over: two failures do not reopen it.
        b.on_failure(at(t0, 13));
        b.on_failure(at(t0, 13));
        assert_eq!(b.allow(at(t0, 13)), Admission::Allowed);
    }

    #[test]
    fn a_failed_probe_reopens_it_for_another_cool_down() {
        let t0 = Instant::now();
        let mut b = breaker();
        for _ in 0..3 {
            b.on_failure(t0);
        }
        assert_eq!(b.allow(at(t0, 10)), Admission::Probe);
        assert!(b.on_failure(at(t0, 15)));
        assert_eq!(b.state(), BreakerState::Open { until: at(t0, 25) });
        assert_eq!(
            b.allow(at(t0, 24)),
            Admission::Rejected {
                retry_at: at(t0, 25)
            }
        );
        assert_eq!(b.allow(at(t0, 25)), Admission::Probe);
    }

    #[test]
    fn a_cancelled_probe_frees_the_slot_for_the_next_one() {
        let t0 = Instant::now();
        let mut b = breaker();
        for _ in 0..3 {
            b.on_failure(t0);
        }
        assert_eq!(b.allow(at(t0, 10)), Admission::Probe);
        b.on_cancelled();
        assert_eq!(
            b.state(),
            BreakerState::HalfOpen {
                probe_in_flight: false
            }
        );
        assert_eq!(b.allow(at(t0, 11)), Admission::Probe);
        assert!(matches!(b.allow(at(t0, 11)), Admission::Rejected { .. }));
        // Cancelling outside half-open changes nothing.
        let mut c = breaker();
        c.on_failure(t0);
        c.on_cancelled();
        assert_eq!(
            c.state(),
            BreakerState::Closed {
                consecutive_failures: 1
            }
        );
    }

    #[test]
    fn an_endless_cool_down_does_not_overflow() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::new(BreakerConfig {
            failure_threshold: 1,
            cool_down: Duration::MAX,
        });
        assert!(b.on_failure(t0));
        let BreakerState::Open { until } = b.state() else {
            panic!("open: {:?}", b.state());
        };
        assert!(until > t0 + Duration::from_secs(365 * 24 * 3600));
        assert!(matches!(b.allow(t0), Admission::Rejected { .. }));
    }

    #[test]
    fn threshold_zero_never_opens() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::new(BreakerConfig {
            failure_threshold: 0,
            cool_down: COOL,
        });
        for _ in 0..1000 {
            b.on_failure(t0);
        }
        assert_eq!(b.allow(t0), Admission::Allowed);
    }

    #[test]
    fn changing_the_config_at_run_time() {
        let t0 = Instant::now();
        let mut b = breaker();
        b.on_failure(t0);
        b.on_failure(t0);
        // A lower threshold already reached opens at once.
        b.set_config(
            BreakerConfig {
                failure_threshold: 2,
                cool_down: COOL,
            },
            at(t0, 1),
        );
        assert_eq!(b.state(), BreakerState::Open { until: at(t0, 11) });
        // A shorter cool-down counts from the opening.
        b.set_config(
            BreakerConfig {
                failure_threshold: 2,
                cool_down: Duration::from_secs(3),
            },
            at(t0, 2),
        );
        assert_eq!(b.state(), BreakerState::Open { until: at(t0, 4) });
        assert_eq!(b.allow(at(t0, 4)), Admission::Probe);
        // Turning it off closes it.
        b.set_config(
            BreakerConfig {
                failure_threshold: 0,
                cool_down: COOL,
            },
            at(t0, 5),
        );
        assert_eq!(
            b.state(),
            BreakerState::Closed {
                consecutive_failures: 0
            }
        );
        assert_eq!(b.config().failure_threshold, 0);
        // A higher threshold keeps the count.
        let mut c = breaker();
        c.on_failure(t0);
        c.on_failure(t0);
        c.set_config(
            BreakerConfig {
                failure_threshold: 5,
                cool_down: COOL,
            },
            t0,
        );
        assert_eq!(
            c.state(),
            BreakerState::Closed {
                consecutive_failures: 2
            }
        );
    }
}
