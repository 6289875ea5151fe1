//! PLACEHOLDER owned by branch `mock-auth`, which replaces this file with the
//! real SASL/TLS/ACL server side. mock-core only needs these names:
//!
//! - [`SecurityConfig`]: what the listeners require (held by the builder's
//!   `security` field);
//! - [`ConnectionSecurity`]: per-connection authentication state, asked by
//!   the connection's auth gate ([`ConnectionSecurity::is_authenticated`])
//!   and driven by the SaslHandshake/SaslAuthenticate handlers
//!   ([`sasl_handshake`], [`sasl_authenticate`]).
//!
//! Until mock-auth merges, every connection counts as authenticated and SASL
//! requests are refused.

use kafka_protocol::messages::{
    SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};

/// What the cluster's listeners require of clients (placeholder: nothing).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SecurityConfig {}

/// The authentication state of one connection.
#[derive(Debug)]
pub(crate) struct ConnectionSecurity {}

impl ConnectionSecurity {
    /// The state of a new connection to a listener configured by `config`.
    pub(crate) fn new(_config: &SecurityConfig) -> Self {
        ConnectionSecurity {}
    }

    /// Whether requests other than ApiVersions/SaslHandshake/SaslAuthenticate
    /// may pass the gate.
    pub(crate) fn is_authenticated(&self) -> bool {
        true
    }
}

/// SaslHandshake (placeholder: no mechanism is enabled).
pub(crate) fn sasl_handshake(
    _security: &mut ConnectionSecurity,
    _req: SaslHandshakeRequest,
    _version: i16,
) -> SaslHandshakeResponse {
    SaslHandshakeResponse::default().with_error_code(crate::ErrorCode::UNSUPPORTED_SASL_MECHANISM.0)
}

/// SaslAuthenticate (placeholder: refused, no handshake can have succeeded).
pub(crate) fn sasl_authenticate(
    _security: &mut ConnectionSecurity,
    _req: SaslAuthenticateRequest,
    _version: i16,
) -> SaslAuthenticateResponse {
    SaslAuthenticateResponse::default().with_error_code(crate::ErrorCode::ILLEGAL_SASL_STATE.0)
}
