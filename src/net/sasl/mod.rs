//! SASL authentication (`security.protocol=SASL_PLAINTEXT` / `SASL_SSL`):
//! the mechanisms PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 and OAUTHBEARER, and
//! where their credentials come from.
//!
//! Every new connection (bootstrap, brokers, coordinators, reconnects,
//! extra fetch connections: all go through the pool's connect) runs
//! SaslHandshake v1 and then SaslAuthenticate (KIP-152) right after the
//! ApiVersions handshake, before any other request. Credentials are asked
//! of a [`CredentialsProvider`] (or a [`TokenProvider`] for OAUTHBEARER) at
//! **every** authentication, so passwords and tokens can rotate without
//! rebuilding the client:
//!
//! ```no_run
//! # async fn demo() -> kafkit::Result<()> {
//! use kafkit::sasl::{Credentials, Sasl};
//!
//! // Fixed credentials.
//! let client = kafkit::Client::builder("broker:9092")
//!     .sasl(Sasl::scram_sha512(Credentials::new("alice", "alice-secret")))
//!     .build()
//!     .await?;
//!
//! // Read at each authentication (e.g. from a secret store).
//! let sasl = Sasl::scram_sha256(|| async {
//!     let password = std::fs::read_to_string("/run/secrets/kafka")
//!         .map_err(|e| kafkit::Error::Config(format!("cannot read the password: {e}")))?;
//!     Ok(Credentials::new("alice", password.trim()))
//! });
//! # let _ = (client, sasl); Ok(()) }
//! ```
//!
//! **Re-authentication (KIP-368).** When the broker answers SaslAuthenticate
//! with a session lifetime, the connection is replaced before the session
//! ends, at a random point between 85% and 95% of the lifetime (as the Java
//! client re-authenticates): new requests go to a freshly authenticated
//! connection while the requests already in flight finish on the old one,
//! which closes when its last request is answered. Nothing in flight fails
//! and nothing is reordered on a connection.
//!
//! **Errors.** A refused login is [`Error::Broker`](crate::Error::Broker)
//! with [`ErrorCode::SASL_AUTHENTICATION_FAILED`](crate::ErrorCode) and the
//! broker's message (also when the client itself refuses the broker's
//! answers, e.g. a SCRAM server signature that does not match); a mechanism
//! the broker has not enabled is `UNSUPPORTED_SASL_MECHANISM` listing the
//! broker's mechanisms. Both name the broker, are not retriable, and are
//! returned to the caller; the pool's reconnect backoff spaces further
//! attempts. Passwords and tokens never appear in `Debug` output or logs.

mod authenticate;
pub(crate) mod jaas;
mod oauthbearer;
mod plain;
pub(crate) mod scram;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub(crate) use authenticate::authenticate;
pub(crate) use jaas::SaslSettings;
pub use oauthbearer::{OAuthBearerToken, TokenProvider, UnsecuredJwt};

use crate::error::{Context, Error, ErrorCode, Result};

/// A boxed future, as the provider traits return (they are used as trait
/// objects, which `async fn` in traits cannot be yet).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A SASL mechanism kafkit speaks (`sasl.mechanism`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mechanism {
    /// `PLAIN` (RFC 4616): username and password in the clear; use it
    /// only over TLS (`SASL_SSL`).
    Plain,
    /// `SCRAM-SHA-256` (RFC 5802, RFC 7677).
    ScramSha256,
    /// `SCRAM-SHA-512` (RFC 5802).
    ScramSha512,
    /// `OAUTHBEARER` (RFC 7628, KIP-255): a bearer token from a
    /// [`TokenProvider`].
    OAuthBearer,
}

impl Mechanism {
    /// The mechanism's name on the wire and in `sasl.mechanism`.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha512 => "SCRAM-SHA-512",
            Mechanism::OAuthBearer => "OAUTHBEARER",
        }
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Mechanism {
    type Err = Error;

    /// The names of `sasl.mechanism` (any case); `GSSAPI` and others are
    /// config errors.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "PLAIN" => Ok(Mechanism::Plain),
            "SCRAM-SHA-256" => Ok(Mechanism::ScramSha256),
            "SCRAM-SHA-512" => Ok(Mechanism::ScramSha512),
            "OAUTHBEARER" => Ok(Mechanism::OAuthBearer),
            _ => Err(Error::Config(format!(
                "unsupported SASL mechanism {s:?} (expected PLAIN, SCRAM-SHA-256, \
                 SCRAM-SHA-512 or OAUTHBEARER)"
            ))),
        }
    }
}

/// A secret string: compared and used like a `String`, but shown as `***`
/// by `Debug` and `Display`, so it cannot reach a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A username and password for PLAIN or SCRAM. `Debug` shows the username
/// and `***` for the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    username: String,
    password: Secret,
}

impl Credentials {
    /// Credentials for `username` with `password`.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials {
            username: username.into(),
            password: Secret(password.into()),
        }
    }

    /// The username.
    pub fn username(&self) -> &str {
        &self.username
    }

    pub(crate) fn password(&self) -> &str {
        self.password.expose()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &self.password)
            .finish()
    }
}

/// Where PLAIN and SCRAM credentials come from: asked at every
/// authentication (each new connection and each re-authentication), so a
/// rotated password is used from the next connection on, without
/// rebuilding the client.
///
/// Implemented by [`Credentials`] (fixed credentials) and by every
/// `Fn() -> impl Future<Output = Result<Credentials>>` closure. An error
/// returned here fails that connection attempt (and is returned to the
/// caller that needed the connection); the pool's reconnect backoff spaces
/// the next attempts.
pub trait CredentialsProvider: Send + Sync + 'static {
    /// The credentials to authenticate with now.
    fn credentials(&self) -> BoxFuture<'_, Result<Credentials>>;
}

impl CredentialsProvider for Credentials {
    fn credentials(&self) -> BoxFuture<'_, Result<Credentials>> {
        let credentials = self.clone();
        Box::pin(async move { Ok(credentials) })
    }
}

impl<F, Fut> CredentialsProvider for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Credentials>> + Send + 'static,
{
    fn credentials(&self) -> BoxFuture<'_, Result<Credentials>> {
        Box::pin(self())
    }
}

/// Where a mechanism's credentials come from.
#[derive(Clone)]
enum Source {
    Password(Arc<dyn CredentialsProvider>),
    Token(Arc<dyn TokenProvider>),
}

/// SASL settings: a mechanism and the provider of its credentials. Give
/// them to [`ClientBuilder::sasl`](crate::ClientBuilder::sasl); Java-style
/// properties (`sasl.mechanism`, `sasl.jaas.config`, `sasl.username`,
/// `sasl.password`, `sasl.oauthbearer.config`) build one too.
///
/// `Debug` names the mechanism and never shows a secret.
#[derive(Clone)]
pub struct Sasl {
    mechanism: Mechanism,
    source: Source,
}

impl Sasl {
    /// `PLAIN` with credentials from `provider` (a [`Credentials`] or a
    /// closure; see [`CredentialsProvider`]). PLAIN sends the password as
    /// is: use it over TLS only.
    pub fn plain(provider: impl CredentialsProvider) -> Sasl {
        Sasl::password(Mechanism::Plain, provider)
    }

    /// `SCRAM-SHA-256` with credentials from `provider`.
    pub fn scram_sha256(provider: impl CredentialsProvider) -> Sasl {
        Sasl::password(Mechanism::ScramSha256, provider)
    }

    /// `SCRAM-SHA-512` with credentials from `provider`.
    pub fn scram_sha512(provider: impl CredentialsProvider) -> Sasl {
        Sasl::password(Mechanism::ScramSha512, provider)
    }

    /// `OAUTHBEARER` with tokens from `provider`, asked at every
    /// authentication (see [`TokenProvider`]; [`UnsecuredJwt`] makes
    /// unsigned test tokens).
    pub fn oauthbearer(provider: impl TokenProvider) -> Sasl {
        Sasl {
            mechanism: Mechanism::OAuthBearer,
            source: Source::Token(Arc::new(provider)),
        }
    }

    /// A password mechanism (PLAIN or SCRAM) named at run time, e.g. from
    /// configuration; `OAUTHBEARER` is a config error (it takes a
    /// [`TokenProvider`]: use [`Sasl::oauthbearer`]).
    pub fn with_credentials(
        mechanism: Mechanism,
        provider: impl CredentialsProvider,
    ) -> Result<Sasl> {
        if mechanism == Mechanism::OAuthBearer {
            return Err(Error::Config(
                "OAUTHBEARER takes a token provider, not a username and password \
                 (use Sasl::oauthbearer)"
                    .into(),
            ));
        }
        Ok(Sasl::password(mechanism, provider))
    }

    fn password(mechanism: Mechanism, provider: impl CredentialsProvider) -> Sasl {
        Sasl {
            mechanism,
            source: Source::Password(Arc::new(provider)),
        }
    }

    /// The mechanism.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }
}

impl fmt::Debug for Sasl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match self.source {
            Source::Password(_) => "credentials provider",
            Source::Token(_) => "token provider",
        };
        f.debug_struct("Sasl")
            .field("mechanism", &self.mechanism)
            .field("source", &source)
            .finish()
    }
}

/// An authentication failure: `SASL_AUTHENTICATION_FAILED` with `message`,
/// for failures the client detects itself (a SCRAM server signature that
/// does not match, a malformed challenge) as for those the broker reports.
pub(crate) fn auth_failed(message: impl Into<String>) -> Error {
    Error::Broker {
        code: ErrorCode::SASL_AUTHENTICATION_FAILED,
        message: Some(message.into()),
        context: Context::api("SaslAuthenticate"),
    }
}

/// One step of a mechanism's exchange, as the sans-IO mechanisms see it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Send these bytes in a SaslAuthenticate request.
    Send(Vec<u8>),
    /// The exchange is complete and the client is satisfied.
    Done,
}

/// A mechanism's client side: given the server's last message (none
/// before the first step), what to send next. Pure: no I/O, no clock.
pub(crate) trait Exchange: Send + 'static {
    fn step(&mut self, server: Option<&[u8]>) -> Result<Step>;
}

/// Runs one client exchange of the mechanism `selector` picks (PLAIN,
/// SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER) against the given server
/// messages, for the fuzz target over what brokers send during
/// authentication: any bytes must end the exchange with an error, never a
/// panic. Not part of the API.
#[doc(hidden)]
pub fn fuzz_server_messages(selector: u8, server: &[&[u8]]) {
    let credentials = Credentials::new("user", "pencil");
    let exchange: Result<Box<dyn Exchange>> = match selector % 4 {
        0 => plain::Plain::new(&credentials).map(|e| Box::new(e) as Box<dyn Exchange>),
        1 => scram::Scram::with_nonce(
            scram::ScramHash::Sha256,
            &credentials,
            "rOprNGfwEbeRWgbNEkqO",
        )
        .map(|e| Box::new(e) as Box<dyn Exchange>),
        2 => scram::Scram::with_nonce(
            scram::ScramHash::Sha512,
            &credentials,
            "rOprNGfwEbeRWgbNEkqO",
        )
        .map(|e| Box::new(e) as Box<dyn Exchange>),
        _ => oauthbearer::OAuthBearer::new(&OAuthBearerToken::new(
            "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1c2VyIn0.",
            std::time::SystemTime::UNIX_EPOCH,
        ))
        .map(|e| Box::new(e) as Box<dyn Exchange>),
    };
    let Ok(mut exchange) = exchange else {
        return;
    };
    if exchange.step(None).is_err() {
        return;
    }
    for message in server {
        match exchange.step(Some(message)) {
            Ok(Step::Send(_)) => {}
            Ok(Step::Done) | Err(_) => return,
        }
    }
}

#[cfg(test)]
mod peer_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_secrets() {
        let c = Credentials::new("alice", "alice-secret");
        let text = format!("{c:?}");
        assert!(text.contains("alice") && text.contains("***"), "{text}");
        assert!(!text.contains("alice-secret"), "{text}");
        let sasl = Sasl::scram_sha512(c);
        let text = format!("{sasl:?}");
        assert!(!text.contains("secret"), "{text}");
        assert!(text.contains("ScramSha512"), "{text}");
        let token = OAuthBearerToken::new("tok-value", std::time::SystemTime::now());
        let text = format!("{token:?}");
        assert!(!text.contains("tok-value"), "{text}");
    }

    #[test]
    fn mechanism_names_parse_and_print() {
        for m in [
            Mechanism::Plain,
            Mechanism::ScramSha256,
            Mechanism::ScramSha512,
            Mechanism::OAuthBearer,
        ] {
            assert_eq!(m.name().to_lowercase().parse::<Mechanism>().unwrap(), m);
        }
        let err = "GSSAPI".parse::<Mechanism>().unwrap_err();
        assert!(err.to_string().contains("GSSAPI"), "{err}");
        assert!(
            Sasl::with_credentials(Mechanism::OAuthBearer, Credentials::new("a", "b")).is_err()
        );
    }

    #[tokio::test]
    async fn closures_provide_fresh_credentials_each_time() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let provider = move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move { Ok(Credentials::new("u", format!("p{n}"))) }
        };
        assert_eq!(provider.credentials().await.unwrap().password(), "p0");
        assert_eq!(provider.credentials().await.unwrap().password(), "p1");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
