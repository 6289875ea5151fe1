//! The cluster's authentication: SASL PLAIN, SCRAM-SHA-256/512 and
//! OAUTHBEARER (unsecured JWTs) with users set on the builder, KIP-368
//! session lifetimes, and the gate that keeps unauthenticated connections
//! to ApiVersions/SaslHandshake/SaslAuthenticate.
//!
//! Per connection, authentication is a state machine ([`AuthState`]):
//! `Open` (no SASL required) or `Start` → `Handshaked(mechanism)` →
//! (`Scram(..)` between SCRAM's two messages) → `Authenticated`. A failed
//! authentication answers SASL_AUTHENTICATION_FAILED and then closes the
//! connection, as Kafka does. Passwords are kept as SCRAM keys or behind
//! [`Secret`], never logged or shown by `Debug`.

mod builder;
mod oauthbearer;
mod scram;
pub(crate) mod scram_admin;
#[cfg(feature = "_tls")]
pub(crate) mod tls;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::{
    SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

use crate::ErrorCode;
use crate::net::sasl::Mechanism;
use crate::net::sasl::scram::ScramHash;

/// A password that `Debug` never shows.
#[derive(Clone)]
pub(crate) struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// What the cluster's listeners require of clients.
#[derive(Debug, Clone, Default)]
pub(crate) struct SecurityConfig {
    /// PLAIN users and their passwords.
    plain: BTreeMap<String, Secret>,
    /// The SCRAM mechanisms the listeners enable (from the builder's users;
    /// fixed once the cluster runs, as `sasl.enabled.mechanisms` is).
    scram_enabled: Vec<Mechanism>,
    /// SCRAM credentials per mechanism and user, changed at run time by
    /// AlterUserScramCredentials (every connection shares this store).
    pub(crate) scram: scram::ScramStore,
    /// OAUTHBEARER with unsecured JWTs.
    oauthbearer: bool,
    /// KIP-368: how long an authentication lasts.
    session_lifetime: Option<Duration>,
    /// TLS on every listener (`SSL` / `SASL_SSL`).
    #[cfg(feature = "_tls")]
    pub(crate) tls: Option<tls::TlsListener>,
}

impl SecurityConfig {
    /// Whether clients must authenticate (some mechanism is enabled).
    pub(crate) fn sasl_required(&self) -> bool {
        !self.plain.is_empty() || !self.scram_enabled.is_empty() || self.oauthbearer
    }

    /// The mechanisms enabled, as SaslHandshake lists them.
    fn mechanisms(&self) -> Vec<Mechanism> {
        let mut m = Vec::new();
        if !self.plain.is_empty() {
            m.push(Mechanism::Plain);
        }
        for mech in [Mechanism::ScramSha256, Mechanism::ScramSha512] {
            if self.scram_enabled.contains(&mech) {
                m.push(mech);
            }
        }
        if self.oauthbearer {
            m.push(Mechanism::OAuthBearer);
        }
        m
    }
}

/// Where one connection is in authenticating.
#[derive(Debug)]
enum AuthState {
    /// No SASL on this listener.
    Open,
    /// Nothing exchanged yet.
    Start,
    /// SaslHandshake chose this mechanism.
    Handshaked(Mechanism),
    /// SCRAM's server-first was sent.
    Scram(scram::ServerExchange),
    /// Authenticated as this principal, until `expires` (KIP-368).
    Authenticated {
        principal: String,
        expires: Option<Instant>,
    },
    /// Failed: the connection closes after the error response.
    Failed,
}

/// The authentication state of one connection.
#[derive(Debug)]
pub(crate) struct ConnectionSecurity {
    config: Arc<SecurityConfig>,
    state: AuthState,
}

impl ConnectionSecurity {
    /// The state of a new connection to a listener configured by `config`.
    pub(crate) fn new(config: &Arc<SecurityConfig>) -> Self {
        let state = if config.sasl_required() {
            AuthState::Start
        } else {
            AuthState::Open
        };
        ConnectionSecurity {
            config: config.clone(),
            state,
        }
    }

    /// Whether requests other than ApiVersions/SaslHandshake/SaslAuthenticate
    /// may pass the gate: authenticated and, with a session lifetime, not
    /// expired (KIP-368: an expired connection is closed at its next
    /// request, unless that request re-authenticates).
    pub(crate) fn is_authenticated(&self) -> bool {
        match &self.state {
            AuthState::Open => true,
            AuthState::Authenticated { expires, .. } => {
                expires.is_none_or(|at| Instant::now() < at)
            }
            _ => false,
        }
    }

    /// Whether the connection authenticated but its session lifetime has
    /// passed without a re-authentication (KIP-368).
    pub(crate) fn expired(&self) -> bool {
        matches!(&self.state, AuthState::Authenticated { expires: Some(at), .. } if Instant::now() >= *at)
    }

    /// Whether the connection must close once the response is written.
    pub(crate) fn failed(&self) -> bool {
        matches!(self.state, AuthState::Failed)
    }

    /// The authenticated principal (`User:name`), if any.
    pub(crate) fn principal(&self) -> Option<&str> {
        match &self.state {
            AuthState::Authenticated { principal, .. } => Some(principal),
            _ => None,
        }
    }
}

fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

/// SaslHandshake v1: the mechanism the client wants, or
/// UNSUPPORTED_SASL_MECHANISM with the enabled ones. A connection that
/// authenticated may handshake again to re-authenticate (KIP-368).
pub(crate) fn sasl_handshake(
    security: &mut ConnectionSecurity,
    req: SaslHandshakeRequest,
    _version: i16,
) -> SaslHandshakeResponse {
    let enabled = security.config.mechanisms();
    let names: Vec<StrBytes> = enabled.iter().map(|m| str_bytes(m.name())).collect();
    let resp = SaslHandshakeResponse::default().with_mechanisms(names);
    let ready = matches!(
        security.state,
        AuthState::Start | AuthState::Authenticated { .. }
    );
    if !ready {
        security.state = AuthState::Failed;
        return resp.with_error_code(ErrorCode::ILLEGAL_SASL_STATE.0);
    }
    match req.mechanism.parse::<Mechanism>() {
        Ok(m) if enabled.contains(&m) => {
            security.state = AuthState::Handshaked(m);
            resp
        }
        _ => resp.with_error_code(ErrorCode::UNSUPPORTED_SASL_MECHANISM.0),
    }
}

/// SaslAuthenticate (v0-v2): one step of the mechanism chosen.
pub(crate) fn sasl_authenticate(
    security: &mut ConnectionSecurity,
    req: SaslAuthenticateRequest,
    version: i16,
) -> SaslAuthenticateResponse {
    let config = security.config.clone();
    let state = std::mem::replace(&mut security.state, AuthState::Failed);
    let step = match state {
        AuthState::Handshaked(Mechanism::Plain) => plain(&config, &req.auth_bytes).map(Step::Done),
        AuthState::Handshaked(m @ (Mechanism::ScramSha256 | Mechanism::ScramSha512)) => {
            let hash = if m == Mechanism::ScramSha256 {
                ScramHash::Sha256
            } else {
                ScramHash::Sha512
            };
            scram::ServerExchange::first(&config.scram.lock(), m, hash, &req.auth_bytes)
                .map(|(exchange, reply)| Step::Continue(AuthState::Scram(exchange), reply))
        }
        AuthState::Scram(exchange) => exchange
            .last(&req.auth_bytes)
            .map(|(principal, reply)| Step::DoneWith(principal, reply)),
        AuthState::Handshaked(Mechanism::OAuthBearer) => {
            oauthbearer::verify(&req.auth_bytes).map(Step::Done)
        }
        _ => Err("SaslAuthenticate without a SaslHandshake".to_owned()),
    };
    let resp = SaslAuthenticateResponse::default();
    let (principal, reply) = match step {
        Err(message) => {
            // Kafka's answer, without saying which part was wrong.
            tracing::debug!("mock: SASL authentication failed: {message}");
            return resp
                .with_error_code(ErrorCode::SASL_AUTHENTICATION_FAILED.0)
                .with_error_message(Some(str_bytes(&message)));
        }
        Ok(Step::Continue(next, reply)) => {
            security.state = next;
            return resp.with_auth_bytes(reply.into());
        }
        Ok(Step::Done(principal)) => (principal, Vec::new()),
        Ok(Step::DoneWith(principal, reply)) => (principal, reply),
    };
    let lifetime = config.session_lifetime.filter(|_| version >= 1);
    security.state = AuthState::Authenticated {
        principal,
        expires: lifetime.map(|l| Instant::now() + l),
    };
    resp.with_auth_bytes(reply.into())
        .with_session_lifetime_ms(lifetime.map_or(0, |l| l.as_millis() as i64))
}

enum Step {
    /// Send this and wait for the client's next message.
    Continue(AuthState, Vec<u8>),
    /// Authenticated as this principal.
    Done(String),
    /// Authenticated; send this last message.
    DoneWith(String, Vec<u8>),
}

/// PLAIN (RFC 4616): `authzid NUL authcid NUL password`.
fn plain(config: &SecurityConfig, message: &[u8]) -> Result<String, String> {
    let fail = || "Authentication failed: Invalid username or password".to_owned();
    let text = std::str::from_utf8(message).map_err(|_| fail())?;
    let mut parts = text.split('\0');
    let (Some(authzid), Some(user), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("Invalid SASL/PLAIN response: expected 3 tokens".to_owned());
    };
    if !authzid.is_empty() && authzid != user {
        return Err("Authentication failed: Client requested an authorization id that is different from username".to_owned());
    }
    match config.plain.get(user) {
        Some(Secret(expected)) if constant_time_eq(expected.as_bytes(), password.as_bytes()) => {
            Ok(format!("User:{user}"))
        }
        _ => Err(fail()),
    }
}

/// Compares secrets without an early exit on the first difference.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
