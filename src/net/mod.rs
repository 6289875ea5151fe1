//! Network layer: pipelined connections, the per-broker pool, transports.

pub mod connection;
pub(crate) mod health;
pub(crate) mod pool;
pub mod sasl;
pub mod transport;

pub use connection::{Connection, PendingResponse};
