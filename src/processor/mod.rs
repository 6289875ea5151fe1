//! Building blocks of the processing runtime (a Parallel-Consumer-like layer
//! above the consumer): pure, synchronous state with no I/O and no clock
//! reads, so every decision is tested deterministically. The runtime that
//! owns these and drives them from tasks lives beside them.
//!
//! - [`offsets`]: which offsets of a partition are done, the offset to
//!   commit, and the completed offsets beyond it carried in commit metadata.
//! - [`retry`]: exponential backoff with jitter and give-up limits.
//! - [`rate`]: a token bucket for records or bytes per second.
//! - [`breaker`]: a circuit breaker (closed, open, half-open).
//! - [`dead_letter`]: Spring Kafka's dead-letter headers and topic name.
//! - [`keyed`]: the ordering scheduler (by partition, by key, or none).

pub(crate) mod breaker;
pub(crate) mod dead_letter;
pub(crate) mod keyed;
pub(crate) mod offsets;
pub(crate) mod rate;
pub(crate) mod retry;
