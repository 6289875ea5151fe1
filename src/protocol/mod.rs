//! Sans-IO wire layer: framing, headers, version negotiation and the record
//! batch codec. Encodes into `BytesMut`, decodes from `Bytes`; no tokio here.
//!
//! Internal and unstable (hidden from the docs): public only so that the
//! fuzz targets, benches and codec tests can reach the codec. Request and
//! response bodies are the `kafka-protocol` crate's types, re-exported as
//! `messages` for those tests.

pub(crate) mod coordinator;
pub mod frame;
pub mod primitives;
pub mod records;
pub mod versions;

pub use kafka_protocol::messages;
pub use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};
