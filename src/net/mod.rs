//! Network layer: pipelined connections, the per-broker pool, transports
//! (plain TCP, TLS).

pub mod connection;
pub(crate) mod health;
pub(crate) mod pool;
pub mod sasl;
pub mod tls;
pub mod transport;

pub use connection::{Connection, PendingResponse};
