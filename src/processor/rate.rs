//! `TokenBucket`: limits records (or bytes) handed to user code per second.
//!
//! Tokens refill continuously at `rate_per_sec` up to `burst`; taking waits
//! until enough are there. The caller passes the time, so the bucket is pure
//! and its tests need no clock.
//!
//! Two choices worth knowing:
//! - **Off is a rate that is not a positive finite number**: `0`, negative,
//!   NaN or infinity all mean "no limit" (the usual "0 disables" of Kafka
//!   configs). [`TokenBucket::unlimited`] builds one.
//! - **A request larger than `burst` is not refused forever**: it is admitted
//!   when the bucket is full and leaves it negative, so the requests after it
//!   wait for the debt to be repaid. The long-run rate still holds.

use std::time::{Duration, Instant};

/// Slack when comparing tokens, so float rounding after waiting exactly the
/// returned duration does not ask for another nanosecond's wait.
const EPSILON: f64 = 1e-9;

/// A token bucket (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TokenBucket {
    /// Tokens added per second; not positive-finite = unlimited.
    rate_per_sec: f64,
    /// Most tokens held; 0 or more.
    burst: f64,
    /// Tokens now (as of `last`); negative after an oversized take.
    tokens: f64,
    /// When `tokens` was last brought up to date.
    last: Instant,
}

impl TokenBucket {
    /// A bucket adding `rate_per_sec` tokens per second, holding at most
    /// `burst`, full at `now`. A rate that is not a positive finite number
    /// means unlimited. A negative or NaN burst counts as 0 (no burst: every
    /// take waits for its own tokens, going negative).
    pub(crate) fn new(rate_per_sec: f64, burst: f64, now: Instant) -> Self {
        let burst = sanitize_burst(burst);
        TokenBucket {
            rate_per_sec,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// A bucket that never makes anyone wait.
    pub(crate) fn unlimited(now: Instant) -> Self {
        TokenBucket::new(f64::INFINITY, 0.0, now)
    }

    /// Whether this bucket limits nothing.
    pub(crate) fn is_unlimited(&self) -> bool {
        !(self.rate_per_sec.is_finite() && self.rate_per_sec > 0.0)
    }

    /// Takes `amount` tokens at `now`, or says how long to wait until it
    /// could. Amounts of 0, negative or NaN take nothing and succeed. A wait
    /// at a vanishing rate can be centuries long (up to `u64::MAX` ns): add
    /// it to an `Instant` with `checked_add`.
    ///
    /// An amount above `burst` is taken once the bucket is full, leaving it
    /// negative (see the module docs), so every request is admitted in time.
    pub(crate) fn try_take(&mut self, amount: f64, now: Instant) -> Result<(), Duration> {
        if self.is_unlimited() || amount.is_nan() || amount <= 0.0 {
            return Ok(());
        }
        self.refill(now);
        let needed = amount.min(self.burst);
        if self.tokens + EPSILON >= needed {
            self.tokens -= amount;
            return Ok(());
        }
        Err(wait_for(needed - self.tokens, self.rate_per_sec))
    }

    /// Changes the rate and burst at run time. Tokens earned so far at the
    /// old rate are kept, clamped to the new burst (a debt is kept too); a
    /// bucket that was unlimited starts full.
    pub(crate) fn set_rate(&mut self, rate_per_sec: f64, burst: f64, now: Instant) {
        let was_unlimited = self.is_unlimited();
        self.refill(now);
        self.rate_per_sec = rate_per_sec;
        self.burst = sanitize_burst(burst);
        self.tokens = if was_unlimited {
            self.burst
        } else {
            self.tokens.min(self.burst)
        };
    }

    /// Tokens available at `now` (negative while repaying an oversized take;
    /// infinite when unlimited).
    /// The configured rate (tokens per second).
    pub(crate) fn rate_per_sec(&self) -> f64 {
        self.rate_per_sec
    }

    /// Takes `amount` whatever the balance, which may go below zero: the
    /// caller admitted the work already (it waited for a positive
    /// balance), and what it overdraws, later work waits for.
    pub(crate) fn take_owed(&mut self, amount: f64, now: Instant) {
        if self.is_unlimited() || amount.is_nan() || amount <= 0.0 {
            return;
        }
        self.refill(now);
        self.tokens -= amount;
    }

    pub(crate) fn available(&self, now: Instant) -> f64 {
        if self.is_unlimited() {
            return f64::INFINITY;
        }
        let earned = now.saturating_duration_since(self.last).as_secs_f64() * self.rate_per_sec;
        (self.tokens + earned).min(self.burst)
    }

    /// Brings `tokens` up to `now`. A `now` before `last` (callers' clocks
    /// read on different threads) adds nothing and keeps `last`, so time
    /// never runs backwards here.
    fn refill(&mut self, now: Instant) {
        if self.is_unlimited() {
            self.last = self.last.max(now);
            return;
        }
        self.tokens = self.available(now);
        self.last = self.last.max(now);
    }
}

/// `burst` made usable: NaN and negatives become 0.
fn sanitize_burst(burst: f64) -> f64 {
    if burst.is_nan() { 0.0 } else { burst.max(0.0) }
}

/// How long `missing` tokens take at `rate` per second, rounded up to whole
/// nanoseconds and at least one, so waiting it always suffices.
fn wait_for(missing: f64, rate: f64) -> Duration {
    let nanos = (missing / rate * 1e9).ceil();
    if nanos >= u64::MAX as f64 {
        return Duration::from_nanos(u64::MAX);
    }
    Duration::from_nanos((nanos as u64).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `t0 + ms` milliseconds.
    fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    /// Asserts `result` is a wait of `ms` milliseconds, give or take the
    /// nanosecond of rounding up.
    #[track_caller]
    fn assert_wait(result: Result<(), Duration>, ms: u64) {
        let wait = result.expect_err("should wait");
        let want = Duration::from_millis(ms);
        assert!(
            wait >= want.saturating_sub(Duration::from_nanos(2))
                && wait <= want + Duration::from_nanos(2),
            "{wait:?} vs {want:?}"
        );
    }

    #[test]
    fn starts_full_then_refills_at_the_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10.0, 5.0, t0);
        for _ in 0..5 {
            assert_eq!(b.try_take(1.0, t0), Ok(()));
        }
        assert_wait(b.try_take(1.0, t0), 100);
        assert_wait(b.try_take(1.0, at(t0, 50)), 50);
        assert_eq!(b.try_take(1.0, at(t0, 100)), Ok(()));
        // Idle time never stores more than the burst.
        assert!((b.available(at(t0, 60_000)) - 5.0).abs() < 1e-9);
    }

    #[test]
    fn waiting_the_returned_time_is_always_enough() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(3.0, 1.0, t0);
        let mut now = t0;
        for _ in 0..1000 {
            match b.try_take(1.0, now) {
                Ok(()) => {}
                Err(wait) => {
                    now += wait;
                    assert_eq!(b.try_take(1.0, now), Ok(()), "after waiting {wait:?}");
                }
            }
        }
        // 1000 tokens at 3/s with one in hand: about 333 s.
        let secs = (now - t0).as_secs_f64();
        assert!((332.9..333.4).contains(&secs), "{secs}");
    }

    #[test]
    fn an_oversized_request_is_admitted_when_full_and_leaves_a_debt() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10.0, 5.0, t0);
        b.try_take(1.0, t0).expect("full");
        // 20 > burst 5: needs a full bucket, not 20 tokens.
        assert_wait(b.try_take(20.0, t0), 100);
        assert_eq!(b.try_take(20.0, at(t0, 100)), Ok(()));
        assert!((b.available(at(t0, 100)) + 15.0).abs() < 1e-9);
        // The next small request waits for the debt: 16 tokens at 10/s.
        assert_wait(b.try_take(1.0, at(t0, 100)), 1600);
        assert_eq!(b.try_take(1.0, at(t0, 1700)), Ok(()));
    }

    #[test]
    fn zero_burst_still_admits_everything_in_time() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(2.0, 0.0, t0);
        assert_eq!(b.try_take(1.0, t0), Ok(()));
        assert_wait(b.try_take(1.0, t0), 500);
        assert_eq!(b.try_take(1.0, at(t0, 500)), Ok(()));
        let nan = TokenBucket::new(2.0, f64::NAN, t0);
        assert_eq!(nan.available(t0), 0.0);
    }

    #[test]
    fn rates_that_are_not_positive_and_finite_are_unlimited() {
        let t0 = Instant::now();
        for rate in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let mut b = TokenBucket::new(rate, 1.0, t0);
            assert!(b.is_unlimited(), "{rate}");
            for _ in 0..1000 {
                assert_eq!(b.try_take(1e9, t0), Ok(()));
            }
            assert_eq!(b.available(t0), f64::INFINITY);
        }
        let mut u = TokenBucket::unlimited(t0);
        assert_eq!(u.try_take(f64::MAX, t0), Ok(()));
    }

    #[test]
    fn empty_or_nonsense_amounts_take_nothing() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(1.0, 1.0, t0);
        for amount in [0.0, -5.0, f64::NAN] {
            assert_eq!(b.try_take(amount, t0), Ok(()));
        }
        assert!((b.available(t0) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn changing_the_rate_keeps_tokens_clamped_to_the_new_burst() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10.0, 10.0, t0);
        b.set_rate(100.0, 3.0, t0);
        assert!((b.available(t0) - 3.0).abs() < 1e-9);
        for _ in 0..3 {
            b.try_take(1.0, t0).expect("3 tokens");
        }
        assert_wait(b.try_take(1.0, t0), 10);
        // Tokens earned at the old rate count; raising the burst does not
        // hand out free tokens.
        b.set_rate(1.0, 100.0, at(t0, 20));
        assert!((b.available(at(t0, 20)) - 2.0).abs() < 1e-9);
        // Off and on again: starts full.
        b.set_rate(0.0, 100.0, at(t0, 20));
        assert_eq!(b.try_take(1e6, at(t0, 20)), Ok(()));
        b.set_rate(1.0, 4.0, at(t0, 30));
        assert!((b.available(at(t0, 30)) - 4.0).abs() < 1e-9);
    }

    #[test]
    fn a_clock_read_earlier_does_not_refill_or_rewind() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(1.0, 1.0, at(t0, 1000));
        b.try_take(1.0, at(t0, 1000)).expect("full");
        assert!(b.try_take(1.0, t0).is_err());
        assert_eq!(b.try_take(1.0, at(t0, 2000)), Ok(()));
    }

    #[test]
    fn a_tiny_rate_gives_a_long_finite_wait() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(1e-300, 1.0, t0);
        b.try_take(1.0, t0).expect("full");
        let wait = b.try_take(1.0, t0).expect_err("empty");
        assert_eq!(wait, Duration::from_nanos(u64::MAX));
    }
}
