//! One pipelined connection to one broker.
//!
//! Two tasks own the socket: a **writer** that owns the write half and
//! writes whole frames it receives on a channel, and a **reader** that owns
//! the read half, splits frames, and routes each to the caller waiting on
//! its correlation id. Callers encode their request and decode the response
//! in their own task, so the socket tasks stay small and never parse bodies.
//!
//! Why a writer task rather than callers writing under a lock: a caller's
//! future may be dropped at any await point. If it were mid-write, half a
//! frame would be left on the wire and every later request on the connection
//! would be garbage to the broker. The writer task always finishes a frame
//! it started, so `send` is cancel-safe.
//!
//! Any failure of the stream (I/O error, EOF, oversized frame, a
//! correlation id nobody waits for, a request timeout) **poisons** the
//! connection: one shared error is stored, every in-flight request fails
//! with it, later sends fail with it at once, and both tasks end. The pool
//! notices (`is_closed`) and connects anew.
//!
//! This file holds the connection's state, its start and ApiVersions
//! handshake, and what it tells about itself. The request path (queueing,
//! waiting, decoding, throttling, timeouts) is in `connection/request.rs`;
//! the two socket tasks are in `connection/tasks.rs`.

mod request;
mod tasks;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest};
use kafka_protocol::protocol::StrBytes;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::Instrument;

pub use request::PendingResponse;
use tasks::{read_loop, write_loop};

use crate::error::{Context, Error, ErrorCode, Result};
use crate::protocol::frame::decode_response;
use crate::protocol::versions::{BrokerApiVersions, VersionedRequest};

/// Settings of one connection.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// Client id sent in every request header (`client.id`).
    pub client_id: Option<Arc<str>>,
    /// Bound on one request, including its queueing and write
    /// (`request.timeout.ms`, 30 s).
    pub request_timeout: Duration,
    /// Requests in flight at once before `send` waits (default 5).
    pub max_in_flight: usize,
    /// Largest response frame accepted (default 100 MiB).
    pub max_response_size: usize,
    /// How errors name this broker (id or address).
    pub broker_label: Arc<str>,
}

/// A request waiting for its response. The permit is held until the
/// response arrives (not until the caller stops waiting), so `max_in_flight`
/// bounds what is really outstanding at the broker.
struct Pending {
    reply: oneshot::Sender<Result<Bytes>>,
    _permit: OwnedSemaphorePermit,
}

/// A frame for the writer, with an optional "written" notification (used
/// for requests that get no response, like Produce with acks=0).
struct Outgoing {
    frame: Bytes,
    written: Option<oneshot::Sender<()>>,
}

struct Shared {
    /// Unique per connection for the life of the process.
    id: u64,
    config: ConnectionConfig,
    next_correlation: AtomicI32,
    in_flight: Mutex<HashMap<i32, Pending>>,
    poisoned: OnceLock<Error>,
    shutdown: watch::Sender<bool>,
    permits: Arc<Semaphore>,
    throttled_until: Mutex<Option<Instant>>,
    /// One throttling warning per minute per connection: a quota holds
    /// every response, and the operator needs to know, not a line each.
    throttle_log: crate::observe::log_limit::LogLimiter,
    versions: OnceLock<BrokerApiVersions>,
    /// When a SASL session with a lifetime (KIP-368) is to be renewed: from
    /// then on the connection takes no new requests and is replaced (see
    /// [`Connection::needs_replacement`]).
    replace_at: OnceLock<Instant>,
    /// What the pool negotiated for this connection (TLS, SASL), set once
    /// it is ready for use.
    security: OnceLock<crate::net::transport::ConnectionSecurity>,
}

impl Shared {
    fn context(&self, api: &'static str) -> Context {
        Context::api(api).with_broker(&self.config.broker_label)
    }

    /// Stores the first error, fails every waiter with it, stops the tasks.
    fn poison(&self, error: Error) {
        if self.poisoned.set(error.clone()).is_ok() {
            tracing::debug!(broker = %self.config.broker_label, error = %error, "connection poisoned");
        }
        let error = self.poisoned.get().cloned().unwrap_or(error);
        let drained: Vec<Pending> = lock(&self.in_flight).drain().map(|(_, p)| p).collect();
        for p in drained {
            let _ = p.reply.send(Err(error.clone()));
        }
        self.permits.close();
        let _ = self.shutdown.send(true);
    }

    /// Fails with the shared poison error, naming `api` in its context so
    /// that a later send reads like an in-flight one did.
    fn check_open(&self, api: &'static str) -> Result<()> {
        match self.poisoned.get() {
            Some(e) => Err(with_api(e.clone(), api)),
            None => Ok(()),
        }
    }
}

/// A cheap, cloneable handle to one broker connection.
///
/// `send` futures are cancel-safe: dropping one never corrupts the stream
/// (the response, if any, is discarded).
#[derive(Clone)]
pub struct Connection {
    shared: Arc<Shared>,
    writer: mpsc::Sender<Outgoing>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("broker", &self.shared.config.broker_label)
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl Connection {
    /// Starts the connection's tasks over `stream` (plain TCP today; a TLS
    /// or SASL-wrapped stream later) and negotiates API versions.
    pub async fn handshake<S>(stream: S, config: ConnectionConfig) -> Result<Connection>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let conn = Connection::start(stream, config);
        let versions = conn.negotiate_api_versions().await;
        match versions {
            Ok(v) => {
                let _ = conn.shared.versions.set(v);
                Ok(conn)
            }
            Err(e) => {
                conn.close();
                Err(e)
            }
        }
    }

    /// Starts the tasks without negotiating (tests, and `handshake`).
    fn start<S>(stream: S, config: ConnectionConfig) -> Connection
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (read, write) = tokio::io::split(stream);
        let (writer_tx, writer_rx) = mpsc::channel(config.max_in_flight.max(1) * 2);
        let (shutdown, _) = watch::channel(false);
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let shared = Arc::new(Shared {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            permits: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
            config,
            next_correlation: AtomicI32::new(0),
            in_flight: Mutex::new(HashMap::new()),
            poisoned: OnceLock::new(),
            shutdown,
            throttled_until: Mutex::new(None),
            throttle_log: crate::observe::log_limit::LogLimiter::new(Duration::from_secs(60)),
            versions: OnceLock::new(),
            replace_at: OnceLock::new(),
            security: OnceLock::new(),
        });
        let span = tracing::debug_span!("connection", broker = %shared.config.broker_label);
        tokio::spawn(write_loop(shared.clone(), write, writer_rx).instrument(span.clone()));
        tokio::spawn(read_loop(shared.clone(), read).instrument(span));
        Connection {
            shared,
            writer: writer_tx,
        }
    }

    async fn negotiate_api_versions(&self) -> Result<BrokerApiVersions> {
        let req = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("kafkit"))
            .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")));
        let frame = self.round_trip(&req, 3).await?;
        // A broker that does not know v3 answers UNSUPPORTED_VERSION in the
        // v0 format (KIP-511), listing the ApiVersions range it does speak.
        // Not every broker gets that body right (librdkafka's mock cluster
        // writes one that parses as neither v0 nor v3), so when the range
        // cannot be read we fall back to v0, which every broker speaks.
        let resp = match decode_response::<ApiVersionsRequest>(frame.clone(), 3) {
            Ok(r) if r.error_code != ErrorCode::UNSUPPORTED_VERSION.0 => r,
            _ => {
                let fallback = decode_response::<ApiVersionsRequest>(frame, 0)
                    .ok()
                    .and_then(|v0| {
                        v0.api_keys
                            .iter()
                            .find(|k| k.api_key == ApiKey::ApiVersions as i16)
                            .map(|k| k.max_version.clamp(0, 2))
                    })
                    .unwrap_or(0);
                tracing::debug!(fallback, "broker rejected ApiVersions v3");
                let frame = self.round_trip(&req, fallback).await?;
                decode_response::<ApiVersionsRequest>(frame, fallback)
                    .map_err(|e| self.decode_error(e, "ApiVersions"))?
            }
        };
        Error::check(resp.error_code, None, || self.shared.context("ApiVersions"))?;
        Ok(BrokerApiVersions::from_response(&resp))
    }

    /// The highest version of `R` both sides speak, with this broker named
    /// in the error when there is none.
    fn negotiate<R: VersionedRequest>(&self) -> Result<i16> {
        self.api_versions()
            .negotiate::<R>()
            .map_err(|e| e.map_context(|c| c.with_broker(&self.shared.config.broker_label)))
    }

    /// The version `send` would use for `key`, if the broker speaks any we
    /// support.
    pub fn version_for(&self, key: ApiKey) -> Option<i16> {
        let (_, ours_min, ours_max) = crate::protocol::versions::SUPPORTED
            .iter()
            .find(|(k, _, _)| *k == key)?;
        let (bmin, bmax) = self.api_versions().range(key)?;
        let v = (*ours_max).min(bmax);
        // The same send cap `BrokerApiVersions::negotiate` applies.
        let cap = crate::protocol::versions::SEND_CAPS
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(v, |(_, cap)| (*cap).max(bmin));
        (v >= (*ours_min).max(bmin)).then_some(v.min(cap))
    }

    /// What the broker said in ApiVersions (empty before the handshake).
    pub fn api_versions(&self) -> &BrokerApiVersions {
        static EMPTY: OnceLock<BrokerApiVersions> = OnceLock::new();
        self.shared
            .versions
            .get()
            .unwrap_or_else(|| EMPTY.get_or_init(BrokerApiVersions::default))
    }

    /// This connection's identity, unique in the process. Two requests with
    /// the same id travel in order over one socket; the producer uses it to
    /// keep a partition's batches on one connection at a time.
    pub fn id(&self) -> u64 {
        self.shared.id
    }

    /// True once the connection is poisoned or closed: every later send fails.
    pub fn is_closed(&self) -> bool {
        self.shared.poisoned.get().is_some()
    }

    /// Marks the connection to be replaced from `at` on: its SASL session
    /// ends soon after (KIP-368). Set once, right after authentication.
    pub(crate) fn replace_from(&self, at: Instant) {
        let _ = self.shared.replace_at.set(at);
    }

    /// True when no new request should be sent here: the connection is
    /// closed, or its SASL session is about to end (KIP-368). Holders then
    /// take a fresh, newly authenticated connection; requests already in
    /// flight here finish normally, and the connection closes once its
    /// last handle is dropped. Renewing by replacement keeps the request
    /// path free of any re-authentication state: nothing in flight fails,
    /// and nothing is reordered on either connection.
    /// Records what this connection negotiated (the pool, once TLS and
    /// SASL are done); later calls change nothing.
    pub(crate) fn set_security(&self, security: crate::net::transport::ConnectionSecurity) {
        let _ = self.shared.security.set(security);
    }

    /// What this connection negotiated; plaintext when nothing was recorded
    /// (connections made outside the pool).
    pub(crate) fn security(&self) -> crate::net::transport::ConnectionSecurity {
        self.shared
            .security
            .get()
            .cloned()
            .unwrap_or_else(crate::net::transport::ConnectionSecurity::plaintext)
    }

    pub(crate) fn needs_replacement(&self) -> bool {
        self.is_closed()
            || self
                .shared
                .replace_at
                .get()
                .is_some_and(|at| Instant::now() >= *at)
    }

    /// Why the connection broke, unless it is open or this client closed
    /// it ([`Connection::close`]): an I/O error, the broker closing the
    /// stream, a request timeout, a protocol violation.
    pub(crate) fn broken_by(&self) -> Option<&Error> {
        self.shared.poisoned.get().filter(
            |e| !matches!(e, Error::Disconnected { reason, .. } if &**reason == CLOSED_BY_CLIENT),
        )
    }

    /// Closes the connection: in-flight requests fail with
    /// [`Error::Disconnected`]. Returns at once; no I/O.
    pub fn close(&self) {
        self.shared.poison(Error::Disconnected {
            reason: CLOSED_BY_CLIENT.into(),
            context: Context::default().with_broker(&self.shared.config.broker_label),
        });
    }
}

/// The reason of a connection closed by [`Connection::close`].
const CLOSED_BY_CLIENT: &str = "closed by client";

/// `error` with its context naming `api` (the shared poison error is stored
/// without one: it belongs to no single request).
fn with_api(error: Error, api: &'static str) -> Error {
    error.map_context(|c| Context {
        api: Some(api),
        ..c
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests;
