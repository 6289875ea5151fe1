//! The classic consumer group coordinator of the in-process cluster.
//!
//! [`state`] is the pure state machine.
pub mod state;
