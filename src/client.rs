//! The client handle. (STUB)

/// The client handle.
#[derive(Clone, Debug)]
pub struct Client;
/// Builder for [`Client`].
#[derive(Debug)]
pub struct ClientBuilder;
