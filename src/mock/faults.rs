//! Faults injected by tests: an error, a delay or a dropped connection for
//! the next N requests of an API key, optionally on one broker only.
//!
//! Faults for one API key are consumed in the order they were injected; a
//! request takes the first fault that applies to its broker.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

/// What an injected fault does to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Answer with this error code without handling the request.
    Error(i16),
    /// Handle the request after this delay.
    Delay(Duration),
    /// Handle the request, then close the connection instead of answering
    /// (the client cannot know whether it took effect).
    DropConnection,
}

#[derive(Debug)]
struct Injected {
    fault: Fault,
    broker: Option<i32>,
    remaining: u32,
}

/// The injected faults, per API key.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    by_key: HashMap<i16, VecDeque<Injected>>,
}

impl Faults {
    /// Adds `count` occurrences of `fault` for `api_key` (on `broker` only,
    /// if given).
    pub fn push(&mut self, api_key: i16, fault: Fault, count: u32, broker: Option<i32>) {
        if count == 0 {
            return;
        }
        self.by_key.entry(api_key).or_default().push_back(Injected {
            fault,
            broker,
            remaining: count,
        });
    }

    /// Takes the fault for a request of `api_key` arriving at `broker`.
    pub fn take(&mut self, api_key: i16, broker: i32) -> Option<Fault> {
        let queue = self.by_key.get_mut(&api_key)?;
        let i = queue
            .iter()
            .position(|f| f.broker.is_none_or(|b| b == broker))?;
        let entry = &mut queue[i];
        let fault = entry.fault;
        entry.remaining -= 1;
        if entry.remaining == 0 {
            queue.remove(i);
        }
        Some(fault)
    }

    /// Removes every injected fault.
    pub fn clear(&mut self) {
        self.by_key.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_consumed_in_order_and_per_broker() {
        let mut f = Faults::default();
        f.push(0, Fault::Error(6), 2, None);
        f.push(0, Fault::DropConnection, 1, Some(2));
        f.push(1, Fault::Delay(Duration::from_millis(5)), 1, Some(3));
        assert_eq!(f.take(0, 1), Some(Fault::Error(6)));
        assert_eq!(f.take(0, 2), Some(Fault::Error(6)));
        assert_eq!(f.take(0, 1), None);
        assert_eq!(f.take(0, 2), Some(Fault::DropConnection));
        assert_eq!(f.take(0, 2), None);
        assert_eq!(f.take(1, 1), None);
        assert_eq!(f.take(1, 3), Some(Fault::Delay(Duration::from_millis(5))));
    }
}
