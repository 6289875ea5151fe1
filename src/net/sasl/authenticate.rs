//! The authentication of one new connection: SaslHandshake v1, then the
//! mechanism's messages in SaslAuthenticate requests (KIP-152), right after
//! ApiVersions and before any other request.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use kafka_protocol::messages::{SaslAuthenticateRequest, SaslHandshakeRequest};
use kafka_protocol::protocol::StrBytes;

use super::oauthbearer::OAuthBearer;
use super::plain::Plain;
use super::scram::{Scram, ScramHash};
use super::{Exchange, Mechanism, Sasl, Source, Step, auth_failed};
use crate::error::{Context, Error, ErrorCode, Result};
use crate::net::connection::Connection;

/// No mechanism here needs more round trips than this (SCRAM: two).
const MAX_STEPS: usize = 8;

/// What a successful authentication tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Authenticated {
    /// The session lifetime the broker gave (KIP-368), if any: the
    /// connection must re-authenticate (here: be replaced) before it ends.
    pub session_lifetime: Option<Duration>,
}

/// Authenticates `conn` (just past ApiVersions) as `sasl` says. The
/// credentials or token provider is asked now, bounded by `timeout`. Errors
/// carry the API; the pool adds the broker.
pub(crate) async fn authenticate(
    conn: &Connection,
    sasl: &Sasl,
    timeout: Duration,
) -> Result<Authenticated> {
    let mechanism = sasl.mechanism();
    let handshake = conn
        .send(
            SaslHandshakeRequest::default()
                .with_mechanism(StrBytes::from_static_str(mechanism.name())),
        )
        .await?;
    if handshake.error_code == ErrorCode::UNSUPPORTED_SASL_MECHANISM.0 {
        let offered: Vec<&str> = handshake.mechanisms.iter().map(|m| m.as_str()).collect();
        return Err(Error::Broker {
            code: ErrorCode::UNSUPPORTED_SASL_MECHANISM,
            message: Some(format!(
                "the broker does not enable {mechanism}; it offers [{}]",
                offered.join(", ")
            )),
            context: Context::api("SaslHandshake"),
        });
    }
    Error::check(handshake.error_code, None, || Context::api("SaslHandshake"))?;

    let mut exchange = start(sasl, timeout).await?;
    // PBKDF2 (SCRAM) is thousands of hashes: off the async threads.
    let blocking = matches!(mechanism, Mechanism::ScramSha256 | Mechanism::ScramSha512);
    let mut server: Option<Bytes> = None;
    let mut session_lifetime_ms = 0;
    for _ in 0..MAX_STEPS {
        let (returned, step) = run_step(exchange, server.take(), blocking).await?;
        exchange = returned;
        match step? {
            Step::Done => {
                tracing::debug!(
                    %mechanism,
                    session_lifetime_ms,
                    "SASL authentication succeeded"
                );
                return Ok(Authenticated {
                    session_lifetime: (session_lifetime_ms > 0)
                        .then(|| Duration::from_millis(session_lifetime_ms as u64)),
                });
            }
            Step::Send(bytes) => {
                let response = conn
                    .send(SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(bytes)))
                    .await?;
                Error::check(
                    response.error_code,
                    response.error_message.as_deref(),
                    || Context::api("SaslAuthenticate"),
                )?;
                session_lifetime_ms = response.session_lifetime_ms;
                server = Some(response.auth_bytes);
            }
        }
    }
    Err(auth_failed(format!(
        "{mechanism}: the exchange did not end after {MAX_STEPS} steps"
    )))
}

/// The mechanism's exchange, with credentials or a token fetched now.
async fn start(sasl: &Sasl, timeout: Duration) -> Result<Box<dyn Exchange>> {
    let provider_timeout = |what: &'static str| Error::Timeout {
        what,
        context: Context::api("SaslAuthenticate"),
    };
    match (&sasl.source, sasl.mechanism) {
        (Source::Password(provider), mechanism) => {
            let credentials = tokio::time::timeout(timeout, provider.credentials())
                .await
                .map_err(|_| provider_timeout("SASL credentials provider"))??;
            Ok(match mechanism {
                Mechanism::Plain => Box::new(Plain::new(&credentials)?),
                Mechanism::ScramSha256 => Box::new(Scram::new(ScramHash::Sha256, &credentials)?),
                Mechanism::ScramSha512 => Box::new(Scram::new(ScramHash::Sha512, &credentials)?),
                Mechanism::OAuthBearer => {
                    return Err(Error::Config(
                        "OAUTHBEARER needs a token provider, not credentials".into(),
                    ));
                }
            })
        }
        (Source::Token(provider), _) => {
            let token = tokio::time::timeout(timeout, provider.token())
                .await
                .map_err(|_| provider_timeout("OAUTHBEARER token provider"))??;
            if token.expires_at() <= SystemTime::now() {
                return Err(auth_failed(
                    "OAUTHBEARER: the token provider returned an expired token",
                ));
            }
            Ok(Box::new(OAuthBearer::new(&token)?))
        }
    }
}

/// One step of `exchange`, on the blocking pool when `blocking`; the
/// exchange is handed back with the step's outcome.
async fn run_step(
    mut exchange: Box<dyn Exchange>,
    server: Option<Bytes>,
    blocking: bool,
) -> Result<(Box<dyn Exchange>, Result<Step>)> {
    if !blocking {
        let step = exchange.step(server.as_deref());
        return Ok((exchange, step));
    }
    tokio::task::spawn_blocking(move || {
        let step = exchange.step(server.as_deref());
        (exchange, step)
    })
    .await
    .map_err(|e| auth_failed(format!("the SASL computation did not finish: {e}")))
}
