//! Consumer groups, one folder: everything a member of a Kafka consumer
//! group does.
//!
//! - [`machine`]: the membership state machine (pure: events in, actions
//!   out; Java's `AbstractCoordinator`/`ConsumerCoordinator` decisions).
//! - [`driver`]: the membership task that runs the machine against the
//!   coordinator (requests, the leader's assignment, commits and offset
//!   fetches in call order), and the handle the consumer holds.
//! - [`assignor`]: partition assignors and the consumer protocol's wire
//!   format (public: custom assignors implement its trait).
//! - `member`: the consumer's side (subscribe, commits, rebalance events
//!   run inside `poll`); `listener`: [`RebalanceListener`](listener::RebalanceListener);
//!   `pattern`: pattern subscription.

pub mod assignor;
pub(crate) mod driver;
pub(crate) mod listener;
pub(crate) mod machine;
pub(crate) mod member;
mod pattern;
