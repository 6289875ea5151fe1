//! Group membership against real brokers: kafkit members alone, with each
//! other, and in one group with librdkafka consumers; faults injected on
//! the mock cluster; static membership.
//!
//! Broker deviations relied upon (see tests/support): Tansu completes the
//! first JoinGroup after about `session.timeout.ms / 2`, so members here
//! use `session.timeout.ms=6000` and `heartbeat.interval.ms=500`.

#[path = "../../../../../tests/support/mod.rs"]
mod support;

mod member;

mod faults;
#[allow(unsafe_code)] // librdkafka member ids through its C API
mod mixed;
mod multi;
mod single;
mod static_members;
