//! kafkit: a pure-Rust Apache Kafka client.
//!
//! The crate is layered so that each layer can be read and tested on its own:
//!
//! - `protocol` (internal, unstable): sans-IO wire code. Framing,
//!   request/response headers, API version negotiation and our own
//!   RecordBatch v2 codec with every Kafka compression. Nothing in it touches
//!   a socket. What users need from it is re-exported at the crate root
//!   ([`Compression`], [`TimestampType`], [`Header`]).
//! - `net` (internal): one pipelined connection per broker and purpose, a pool
//!   of them, and their transport: plain TCP or TLS ([`tls`], with the `tls`
//!   or `tls-aws-lc` cargo feature; [`SecurityProtocol`]).
//! - [`metadata`]: the cluster view (brokers, topics, partitions, leaders)
//!   owned by one refresher task.
//! - [`Client`]: the cheap, cloneable handle that owns the pool and the
//!   metadata cache, from which every client is built the same way:
//!   [`Admin::new(&client)`](Admin::new), `Producer::builder(&client)`,
//!   `Consumer::builder(&client)`, `TransactionalProducer::builder(&client)`.
//!   [`ClientBuilder::from_properties`] and the builders' `properties`
//!   read Java-style [`Properties`] (a `.properties` file or a map).
//!
//! Errors from every layer are one type, [`Error`], which says whether a
//! caller should retry, rebuild the client, or abort a transaction.
#![warn(missing_docs)]
// Unsafe is forbidden in the library; the in-crate broker tests read one
// librdkafka value through its C API (deny, with one allowed module).
#![cfg_attr(not(test), forbid(unsafe_code))]
#![cfg_attr(test, deny(unsafe_code))]

/// A builder setter for one field of the builder's `config`: the doc
/// comment names the Java setting and its default.
macro_rules! setter {
    ($(#[$doc:meta])* $name:ident: $ty:ty => $field:ident) => {
        $(#[$doc])*
        pub fn $name(mut self, value: $ty) -> Self {
            self.config.$field = value;
            self
        }
    };
}

// Broker-tier tests inside the crate (the membership driver's, which is
// not public) include tests/support, which names the crate `kafkit`.
#[cfg(test)]
extern crate self as kafkit;

pub mod admin;
mod client;
pub mod consumer;
pub mod error;
pub mod metadata;
#[cfg(feature = "mock")]
pub mod mock;
pub(crate) mod net;
pub mod observe;
// The processing runtime's parts; crate-private until the runtime is wired in.
#[allow(dead_code)]
pub mod processor;
pub mod producer;
mod properties;
pub use net::sasl;
/// Internal and unstable: the sans-IO wire layer (framing, version
/// negotiation, the record batch codec). Public only for the fuzz targets,
/// benches and codec tests; it may change in any release. Users need only
/// what the crate root re-exports ([`Compression`], [`TimestampType`],
/// [`Header`]).
#[doc(hidden)]
pub mod protocol;
pub mod serialization;
mod topic_partition;

pub use admin::Admin;
pub use client::{Client, ClientBuilder};
pub use error::{Error, ErrorCode, Result};
pub use net::tls;
pub use net::transport::{ConnectionSecurity, SecurityProtocol};
pub use properties::Properties;
pub use protocol::records::{Compression, Header, TimestampType};
pub use topic_partition::TopicPartition;

/// The README's examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
