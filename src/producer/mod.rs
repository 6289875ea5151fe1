//! The producer (issue in progress): partitioners, records and, as they land,
//! the accumulator and the per-broker senders.

pub mod partitioner;
pub mod record;
