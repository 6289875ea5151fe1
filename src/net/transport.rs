//! How bytes reach a broker: plain TCP or TLS, and the seam where SASL
//! goes.
//!
//! A broker connection is built in three steps, each with its own place:
//!
//! 1. **Transport** ([`connect`]): open TCP (`TCP_NODELAY`, bounded by the
//!    connect timeout) and, per [`Security`], wrap the stream: with TLS
//!    (`SSL`, `SASL_SSL`, the `tls` feature) the handshake runs on the
//!    [`TcpStream`] inside the same timeout and the encrypted stream is
//!    returned as a [`BrokerStream`] (see `net::tls`).
//! 2. **Connection** ([`Connection::handshake`](super::connection::Connection::handshake)):
//!    starts the reader and writer tasks over whatever stream step 1 gave
//!    (it only needs `AsyncRead + AsyncWrite`) and negotiates API versions.
//! 3. **Authentication**: SASL is spoken *over* the Kafka protocol
//!    (SaslHandshake, then SaslAuthenticate frames, KIP-152), after
//!    ApiVersions and before any other request, so it belongs right after
//!    step 2, as requests on the new connection; only the mechanism's
//!    exchange (PLAIN, SCRAM, OAUTHBEARER) needs new code;
//!    [`SecurityProtocol::uses_sasl`] selects it.
//!
//! Keeping TLS below the connection and SASL above it means neither touches
//! framing, pipelining or poisoning.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::error::{Context, Error, Result};

/// `security.protocol`: how connections to brokers are protected and
/// authenticated, with Java's names.
///
/// `Ssl` and `SaslSsl` run TLS on every connection (bootstrap, brokers,
/// coordinators, reconnects); they need the `tls` cargo feature. The SASL
/// variants need SASL settings as well; a SASL protocol without them is a
/// config error naming what is missing.
///
/// Parses from and displays as Java's spelling (`"SASL_SSL"`, any case):
///
/// ```
/// use kafkit::SecurityProtocol;
/// assert_eq!("sasl_ssl".parse::<SecurityProtocol>().unwrap(), SecurityProtocol::SaslSsl);
/// assert_eq!(SecurityProtocol::Ssl.to_string(), "SSL");
/// assert!(SecurityProtocol::SaslSsl.uses_tls() && SecurityProtocol::SaslSsl.uses_sasl());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SecurityProtocol {
    /// Unencrypted, unauthenticated TCP (`PLAINTEXT`). The default.
    #[default]
    Plaintext,
    /// TLS, no SASL (`SSL`); the client may present a certificate (mTLS).
    Ssl,
    /// SASL authentication over unencrypted TCP (`SASL_PLAINTEXT`).
    SaslPlaintext,
    /// SASL authentication over TLS (`SASL_SSL`).
    SaslSsl,
}

impl SecurityProtocol {
    /// Java's name: `PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`.
    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    /// Whether connections run over TLS (`SSL`, `SASL_SSL`).
    pub fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    /// Whether connections authenticate with SASL (`SASL_PLAINTEXT`,
    /// `SASL_SSL`).
    pub fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

impl std::fmt::Display for SecurityProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for SecurityProtocol {
    type Err = Error;

    /// Java's names in any case, surrounding spaces ignored; anything else
    /// is a config error.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "PLAINTEXT" => Ok(SecurityProtocol::Plaintext),
            "SSL" => Ok(SecurityProtocol::Ssl),
            "SASL_PLAINTEXT" => Ok(SecurityProtocol::SaslPlaintext),
            "SASL_SSL" => Ok(SecurityProtocol::SaslSsl),
            _ => Err(Error::Config(format!(
                "unknown security protocol {s:?} (expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL)"
            ))),
        }
    }
}

/// How the transport protects a connection: the resolved form of
/// [`SecurityProtocol`] (SASL, spoken over the connection, is not a
/// transport matter).
#[derive(Debug, Clone, Default)]
pub(crate) enum Security {
    /// Plain TCP.
    #[default]
    Plaintext,
    /// TLS with this configuration (shared: rotation reaches every new
    /// connection).
    #[cfg(feature = "_tls")]
    Tls(super::tls::TlsConfig),
}

/// A connected byte stream to a broker: what [`connect`] returns and what a
/// connection runs over. Implemented for every suitable stream type.
pub trait BrokerStream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> BrokerStream for T {}

/// What one broker connection negotiated: the security protocol, the TLS
/// version and cipher suite, the SASL mechanism and session lifetime.
/// From [`Client::connection_security`](crate::Client::connection_security),
/// for start-up logs and for checking that a `client.properties` did what
/// was meant. Holds no credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionSecurity {
    /// `security.protocol` of the connection.
    pub protocol: SecurityProtocol,
    /// The TLS version, in Java's spelling (`TLSv1.3`, `TLSv1.2`); `None`
    /// without TLS.
    pub tls_version: Option<String>,
    /// The TLS cipher suite, IANA name (`TLS13_AES_256_GCM_SHA384`); `None`
    /// without TLS.
    pub tls_cipher_suite: Option<String>,
    /// The SASL mechanism the broker accepted; `None` without SASL.
    pub sasl_mechanism: Option<crate::sasl::Mechanism>,
    /// The session lifetime the broker gave (KIP-368): the connection is
    /// replaced, re-authenticating, before it ends. `None` when unlimited or
    /// without SASL.
    pub sasl_session_lifetime: Option<Duration>,
}

impl ConnectionSecurity {
    pub(crate) fn plaintext() -> ConnectionSecurity {
        ConnectionSecurity {
            protocol: SecurityProtocol::Plaintext,
            tls_version: None,
            tls_cipher_suite: None,
            sasl_mechanism: None,
            sasl_session_lifetime: None,
        }
    }
}

impl std::fmt::Display for ConnectionSecurity {
    /// `SASL_SSL (TLSv1.3 TLS13_AES_256_GCM_SHA384, SASL SCRAM-SHA-512)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.protocol)?;
        let mut parts = Vec::new();
        if let Some(v) = &self.tls_version {
            let suite = self.tls_cipher_suite.as_deref().unwrap_or("?");
            parts.push(format!("{v} {suite}"));
        }
        if let Some(m) = self.sasl_mechanism {
            match self.sasl_session_lifetime {
                Some(l) => parts.push(format!("SASL {m}, session {} s", l.as_secs())),
                None => parts.push(format!("SASL {m}")),
            }
        }
        if !parts.is_empty() {
            write!(f, " ({})", parts.join(", "))?;
        }
        Ok(())
    }
}

/// A stream from [`connect`] and, over TLS, the version and cipher suite
/// the handshake settled on.
pub(crate) struct Connected {
    pub stream: Box<dyn BrokerStream>,
    pub tls: Option<(String, String)>,
}

/// Opens a TCP connection to `addr` with `TCP_NODELAY`, bounded by
/// `timeout`.
///
/// `TCP_NODELAY` because Kafka requests are small, latency-bound frames that
/// the writer task already coalesces; Nagle's algorithm would only add delay.
pub async fn connect_tcp(addr: SocketAddr, timeout: Duration) -> Result<TcpStream> {
    let ctx = || Context::default().with_broker(addr);
    let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| Error::Timeout {
            what: "connect",
            context: ctx(),
        })?
        .map_err(|e| Error::io(e, ctx()))?;
    stream.set_nodelay(true).map_err(|e| Error::io(e, ctx()))?;
    Ok(stream)
}

/// Opens a connection to `addr` (the broker `address`, `host:port`, whose
/// host is the TLS server name) secured as `security` says, bounded by
/// `timeout` as a whole: TCP connect plus the TLS handshake
/// (`socket.connection.setup.timeout.ms`).
pub(crate) async fn connect(
    addr: SocketAddr,
    address: &str,
    security: &Security,
    timeout: Duration,
) -> Result<Connected> {
    #[cfg(not(feature = "_tls"))]
    let _ = address;
    match security {
        Security::Plaintext => Ok(Connected {
            stream: Box::new(connect_tcp(addr, timeout).await?),
            tls: None,
        }),
        #[cfg(feature = "_tls")]
        Security::Tls(tls) => {
            let start = tokio::time::Instant::now();
            let tcp = connect_tcp(addr, timeout).await?;
            let left = timeout.saturating_sub(start.elapsed());
            let stream = super::tls::connect(tls, tcp, address, left).await?;
            let negotiated = super::tls::negotiated(&stream);
            Ok(Connected {
                stream: Box::new(stream),
                tls: Some(negotiated),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    #[tokio::test]
    async fn connects_with_nodelay() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (client, accepted) =
            tokio::join!(connect_tcp(addr, Duration::from_secs(5)), listener.accept());
        assert!(client.unwrap().nodelay().unwrap());
        accepted.unwrap();
    }

    #[tokio::test]
    async fn plaintext_stream_carries_bytes_both_ways() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let security = Security::default();
        let (connected, accepted) = tokio::join!(
            connect(addr, "127.0.0.1", &security, Duration::from_secs(5)),
            listener.accept()
        );
        let connected = connected.unwrap();
        assert!(connected.tls.is_none());
        let mut stream = connected.stream;
        let (mut server, _) = accepted.unwrap();
        stream.write_all(b"ping").await.unwrap();
        let mut got = [0u8; 4];
        server.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"ping");
        server.write_all(b"pong").await.unwrap();
        stream.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"pong");
    }

    #[tokio::test]
    async fn refused_connection_is_an_io_error_naming_the_broker() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let err = connect_tcp(addr, Duration::from_secs(5)).await.unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err}");
        assert!(err.is_retriable());
        assert_eq!(
            err.context().and_then(|c| c.broker.clone()),
            Some(addr.to_string())
        );
    }
}
