//! `RetryPolicy`: how long to wait before retrying a failed record, and when
//! to give up (then the record is dead-lettered or the failure reported).
//!
//! Exponential backoff as Spring's `ExponentialBackOff`: the `n`th retry waits
//! `initial_backoff * multiplier^(n-1)`, capped at `max_backoff`, shortened by
//! a random part (jitter) so records that failed together do not all retry in
//! the same instant against a recovering service. The caller passes the
//! random number and the elapsed time, so the policy is a pure function.

use std::time::Duration;

/// Backoff and give-up limits for one record's retries.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Wait before the first retry. Default 100 ms.
    pub initial_backoff: Duration,
    /// Growth per retry. Default 2. Below 1 (or not a number) counts as 1: a
    /// constant backoff, never a shrinking one.
    pub multiplier: f64,
    /// Longest wait between attempts, before jitter. Default 30 s.
    pub max_backoff: Duration,
    /// Attempts in all, the first included; 0 = unlimited. Default 10.
    pub max_attempts: u32,
    /// Give up once this much time has passed since the first attempt
    /// started. Default none.
    pub max_elapsed: Option<Duration>,
    /// The fraction of each wait that is random, 0 to 1: the wait is drawn
    /// from `[backoff * (1 - jitter), backoff]`; 1 is AWS's "full jitter".
    /// Values outside 0..=1 are clamped (NaN counts as 0). Default 0.2.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial_backoff: Duration::from_millis(100),
            multiplier: 2.0,
            max_backoff: Duration::from_secs(30),
            max_attempts: 10,
            max_elapsed: None,
            jitter: 0.2,
        }
    }
}

impl RetryPolicy {
    /// How long to wait before the next attempt, or `None` to give up.
    ///
    /// - `attempt`: attempts made so far, at least 1 (0 is read as 1).
    /// - `elapsed`: time since the first attempt started.
    /// - `random`: a uniform number in `[0, 1)` from the caller (clamped; NaN
    ///   counts as 0).
    ///
    /// Gives up when `max_attempts` attempts were made, or `elapsed` has
    /// reached `max_elapsed`. Otherwise the wait is cut so the next attempt
    /// still starts within `max_elapsed`: the last chance is taken, not lost.
    pub fn next_delay(&self, attempt: u32, elapsed: Duration, random: f64) -> Option<Duration> {
        let attempt = attempt.max(1);
        if self.max_attempts != 0 && attempt >= self.max_attempts {
            return None;
        }
        let left = match self.max_elapsed {
            Some(max) if elapsed >= max => return None,
            Some(max) => Some(max - elapsed),
            None => None,
        };
        let delay = jittered(self.backoff(attempt), self.jitter, random);
        Some(match left {
            Some(left) => delay.min(left),
            None => delay,
        })
    }

    /// The wait after `attempt` attempts before jitter:
    /// `initial * multiplier^(attempt - 1)`, at most `max_backoff`.
    fn backoff(&self, attempt: u32) -> Duration {
        let multiplier = if self.multiplier >= 1.0 {
            self.multiplier
        } else {
            1.0
        };
        let exponent = i32::try_from(attempt - 1).unwrap_or(i32::MAX);
        let secs = self.initial_backoff.as_secs_f64() * multiplier.powi(exponent);
        // Overflow (infinity) and anything past the cap land on the cap;
        // NaN comes only from a zero initial backoff times infinity.
        match Duration::try_from_secs_f64(secs) {
            Ok(d) => d.min(self.max_backoff),
            Err(_) if secs.is_nan() => Duration::ZERO,
            Err(_) => self.max_backoff,
        }
    }
}

/// `backoff` shortened by its random part: `backoff * (1 - jitter * (1 - random))`,
/// so `random = 1` (excluded) would give the whole backoff and `random = 0`
/// the shortest wait allowed.
fn jittered(backoff: Duration, jitter: f64, random: f64) -> Duration {
    let jitter = if jitter.is_nan() {
        0.0
    } else {
        jitter.clamp(0.0, 1.0)
    };
    let random = if random.is_nan() {
        0.0
    } else {
        random.clamp(0.0, 1.0)
    };
    let factor = 1.0 - jitter * (1.0 - random);
    backoff.mul_f64(factor.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default policy without jitter.
    fn plain() -> RetryPolicy {
        RetryPolicy {
            jitter: 0.0,
            ..RetryPolicy::default()
        }
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let p = RetryPolicy::default();
        assert_eq!(p.initial_backoff, Duration::from_millis(100));
        assert_eq!(p.multiplier, 2.0);
        assert_eq!(p.max_backoff, Duration::from_secs(30));
        assert_eq!(p.max_attempts, 10);
        assert_eq!(p.max_elapsed, None);
        assert_eq!(p.jitter, 0.2);
    }

    #[test]
    fn backoff_grows_by_the_multiplier_then_stops_at_the_cap() {
        let p = RetryPolicy {
            max_attempts: 0,
            ..plain()
        };
        let delays: Vec<u128> = (1..=11)
            .map(|a| {
                p.next_delay(a, Duration::ZERO, 0.5)
                    .expect("unlimited")
                    .as_millis()
            })
            .collect();
        assert_eq!(
            delays,
            [
                100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30_000, 30_000
            ]
        );
        // Far past any float range: still the cap, no panic.
        assert_eq!(
            p.next_delay(u32::MAX, Duration::ZERO, 0.5),
            Some(Duration::from_secs(30))
        );
    }

    #[test]
    fn a_multiplier_below_one_is_a_constant_backoff() {
        for m in [0.5, 0.0, -3.0, f64::NAN] {
            let p = RetryPolicy {
                multiplier: m,
                ..plain()
            };
            assert_eq!(
                p.next_delay(5, Duration::ZERO, 0.0),
                Some(Duration::from_millis(100)),
                "{m}"
            );
        }
    }

    #[test]
    fn jitter_stays_within_its_fraction() {
        let p = RetryPolicy::default(); // jitter 0.2
        for i in 0..100 {
            let r = f64::from(i) / 100.0;
            let d = p.next_delay(3, Duration::ZERO, r).expect("attempt 3 of 10");
            assert!(
                d >= Duration::from_millis(320) && d <= Duration::from_millis(400),
                "{d:?} at {r}"
            );
        }
        assert_eq!(
            p.next_delay(3, Duration::ZERO, 0.0),
            Some(Duration::from_millis(320))
        );
        // Full jitter reaches down to zero; out-of-range inputs are clamped.
        let full = RetryPolicy {
            jitter: 1.0,
            ..plain()
        };
        assert_eq!(
            full.next_delay(1, Duration::ZERO, 0.0),
            Some(Duration::ZERO)
        );
        let wild = RetryPolicy {
            jitter: 7.0,
            ..plain()
        };
        assert_eq!(
            wild.next_delay(1, Duration::ZERO, -1.0),
            Some(Duration::ZERO)
        );
        assert_eq!(
            wild.next_delay(1, Duration::ZERO, 9.0),
            Some(Duration::from_millis(100))
        );
        let nan = RetryPolicy {
            jitter: f64::NAN,
            ..plain()
        };
        assert_eq!(
            nan.next_delay(1, Duration::ZERO, f64::NAN),
            Some(Duration::from_millis(100))
        );
    }

    #[test]
    fn max_attempts_counts_the_first_attempt() {
        let p = RetryPolicy {
            max_attempts: 3,
            ..plain()
        };
        assert!(p.next_delay(1, Duration::ZERO, 0.0).is_some());
        assert!(p.next_delay(2, Duration::ZERO, 0.0).is_some());
        assert_eq!(p.next_delay(3, Duration::ZERO, 0.0), None);
        assert_eq!(p.next_delay(4, Duration::ZERO, 0.0), None);
        // 0 reads as 1; a single attempt means no retry at all.
        let once = RetryPolicy {
            max_attempts: 1,
            ..plain()
        };
        assert_eq!(once.next_delay(0, Duration::ZERO, 0.0), None);
        let unlimited = RetryPolicy {
            max_attempts: 0,
            ..plain()
        };
        assert!(
            unlimited
                .next_delay(1_000_000, Duration::ZERO, 0.0)
                .is_some()
        );
    }

    #[test]
    fn max_elapsed_gives_up_and_cuts_the_last_wait() {
        let p = RetryPolicy {
            max_attempts: 0,
            max_elapsed: Some(Duration::from_secs(1)),
            ..plain()
        };
        assert_eq!(
            p.next_delay(1, Duration::from_millis(100), 0.0),
            Some(Duration::from_millis(100))
        );
        // 800 ms backoff, but only 300 ms left: retry at the deadline.
        assert_eq!(
            p.next_delay(4, Duration::from_millis(700), 0.0),
            Some(Duration::from_millis(300))
        );
        assert_eq!(p.next_delay(5, Duration::from_secs(1), 0.0), None);
        assert_eq!(p.next_delay(5, Duration::from_secs(5), 0.0), None);
    }
}
