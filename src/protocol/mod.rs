//! Sans-IO wire layer: framing, headers, version negotiation and the record
//! batch codec. Encodes into `BytesMut`, decodes from `Bytes`; no tokio here.
//!
//! Request and response bodies are the `kafka-protocol` crate's types,
//! re-exported as [`messages`] so that users of the low-level connection API
//! need no direct dependency on it.

pub(crate) mod coordinator;
pub mod frame;
pub mod primitives;
pub mod records;
pub mod versions;

pub use kafka_protocol::messages;
pub use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};
