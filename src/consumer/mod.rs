//! The consumer: fetching, consumer groups and partition assignment.
//!
//! Submodules are added as they land: `assignor` (pluggable partition
//! assignment strategies), `group` (the group membership state machine) and
//! the fetch pipeline behind the typed consumer.

pub mod assignor;
pub mod group;
pub mod membership;
