//! Taking a broker of librdkafka's mock cluster down and bringing it back,
//! without another test of this process taking its port meanwhile.
//!
//! Why: `broker_down` closes the broker's listener and `broker_up` binds the
//! same port again, and librdkafka aborts the whole process when it cannot
//! (`rd_kafka_mock_broker_cmd` asserts). A listener created by a parallel
//! test in between (an embedded cluster, another librdkafka mock cluster,
//! each binding port 0) may be given that very port: two CI runs died so.
//! So while a broker is down for good reason, the harness's listener
//! creation ([`super::mock_cluster`], [`super::TestBroker::embedded`],
//! [`super::free_port`]) waits for it to come back and holds a guard while
//! it binds, which taking a broker down waits for: an outage never starts
//! while a listener is being bound, and no listener is bound during one.
//! The wait is bounded, so that a test that fails half way through an
//! outage holds up the others for a minute at most.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::error::KafkaResult;
use rdkafka::mocking::MockCluster;

/// Mock brokers of this process that are down and will be brought up.
static DOWN: Mutex<usize> = Mutex::new(0);
static BACK_UP: Condvar = Condvar::new();

/// The longest a new listener waits for downed brokers to return.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// Waits (bounded) until no mock broker of this process is down and due to
/// come back, then keeps outages from starting until the guard is dropped:
/// hold it while binding a new listener on port 0.
pub(super) fn listener_guard() -> MutexGuard<'static, usize> {
    let down = DOWN.lock().unwrap_or_else(|p| p.into_inner());
    match BACK_UP.wait_timeout_while(down, MAX_WAIT, |n| *n > 0) {
        Ok((guard, _)) => guard,
        Err(poisoned) => poisoned.into_inner().0,
    }
}

/// `broker_down` / `broker_up` for an outage the test ends by bringing the
/// broker back (use plain `broker_down` for one that lasts until the
/// cluster is dropped: its port is never bound again).
pub trait Outage {
    /// Takes broker `id` down; until [`bring_up`](Self::bring_up), new
    /// listeners of the test harness wait.
    fn take_down(&self, id: i32) -> KafkaResult<()>;
    /// Brings broker `id` back on its port.
    fn bring_up(&self, id: i32) -> KafkaResult<()>;
}

impl<C: ClientContext> Outage for MockCluster<'_, C> {
    fn take_down(&self, id: i32) -> KafkaResult<()> {
        let mut down = DOWN.lock().unwrap_or_else(|p| p.into_inner());
        self.broker_down(id)?;
        *down += 1;
        Ok(())
    }

    fn bring_up(&self, id: i32) -> KafkaResult<()> {
        let result = self.broker_up(id);
        let mut down = DOWN.lock().unwrap_or_else(|p| p.into_inner());
        *down = down.saturating_sub(1);
        BACK_UP.notify_all();
        result
    }
}
