//! Rate limits for operator logs: a broker that throttles every response
//! or a group that rebalances in a loop must not flood the log with the
//! same warning. One `LogLimiter` per condition and owner (a connection, a
//! group member); the first occurrence is always logged.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::net::pool::lock;

/// Lets one log line through per `every`, counting what it held back.
#[derive(Debug)]
pub(crate) struct LogLimiter {
    every: Duration,
    state: Mutex<Option<(Instant, u64)>>,
}

impl LogLimiter {
    pub(crate) const fn new(every: Duration) -> Self {
        Self {
            every,
            state: Mutex::new(None),
        }
    }

    /// `Some(suppressed)` when a line may be logged now, with how many were
    /// held back since the last one; `None` to stay quiet.
    pub(crate) fn allow(&self) -> Option<u64> {
        self.allow_at(Instant::now())
    }

    fn allow_at(&self, now: Instant) -> Option<u64> {
        let mut state = lock(&self.state);
        match &mut *state {
            Some((last, held)) if now.saturating_duration_since(*last) < self.every => {
                *held += 1;
                None
            }
            _ => {
                let held = state.map_or(0, |(_, h)| h);
                *state = Some((now, 0));
                Some(held)
            }
        }
    }
}

/// Counts events inside a sliding window: a rebalance storm is many
/// rebalances in little time, which one rebalance alone cannot show.
#[derive(Debug)]
pub(crate) struct Burst {
    window: Duration,
    times: std::collections::VecDeque<Instant>,
}

impl Burst {
    pub(crate) fn new(window: Duration) -> Self {
        Self {
            window,
            times: std::collections::VecDeque::new(),
        }
    }

    /// Records one event at `now`; returns how many fell in the window.
    pub(crate) fn record(&mut self, now: Instant) -> usize {
        while let Some(&first) = self.times.front() {
            if now.saturating_duration_since(first) > self.window {
                self.times.pop_front();
            } else {
                break;
            }
        }
        self.times.push_back(now);
        self.times.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_line_passes_then_one_per_period_with_the_count_held_back() {
        let l = LogLimiter::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(l.allow_at(t0), Some(0));
        assert_eq!(l.allow_at(t0 + Duration::from_secs(1)), None);
        assert_eq!(l.allow_at(t0 + Duration::from_secs(2)), None);
        assert_eq!(l.allow_at(t0 + Duration::from_secs(11)), Some(2));
        assert_eq!(l.allow_at(t0 + Duration::from_secs(12)), None);
    }

    #[test]
    fn burst_forgets_events_older_than_the_window() {
        let mut b = Burst::new(Duration::from_secs(60));
        let t0 = Instant::now();
        assert_eq!(b.record(t0), 1);
        assert_eq!(b.record(t0 + Duration::from_secs(30)), 2);
        assert_eq!(b.record(t0 + Duration::from_secs(61)), 2);
        assert_eq!(b.record(t0 + Duration::from_secs(200)), 1);
    }
}
