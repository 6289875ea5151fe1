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

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest};
use kafka_protocol::protocol::StrBytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::Instrument;

use crate::error::{Context, Error, ErrorCode, Result};
use crate::protocol::frame::{decode_response, encode_request, peek_correlation_id, split_frame};
use crate::protocol::versions::{BrokerApiVersions, ThrottleTime, VersionedRequest, api_name};

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

/// A request whose frame is queued, waiting for its response.
struct Queued {
    response: oneshot::Receiver<Result<Bytes>>,
    deadline: Instant,
    api: &'static str,
    /// The request's tracing span, entered again while waiting.
    span: tracing::Span,
}

/// The response to come for a request queued by [`Connection::start_send`].
/// Dropping it discards the response; the connection stays usable.
pub struct PendingResponse<R> {
    conn: Connection,
    queued: Queued,
    version: i16,
    _request: std::marker::PhantomData<fn() -> R>,
}

impl<R> std::fmt::Debug for PendingResponse<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingResponse")
            .field("api", &self.queued.api)
            .finish()
    }
}

impl<R> PendingResponse<R>
where
    R: VersionedRequest,
    R::Response: ThrottleTime,
{
    /// Waits for and decodes the response (bounded by the request timeout
    /// counted from when the request was queued).
    pub async fn response(self) -> Result<R::Response> {
        let frame = self.conn.await_frame(self.queued).await?;
        self.conn.decode::<R>(frame, self.version)
    }
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
    versions: OnceLock<BrokerApiVersions>,
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
            versions: OnceLock::new(),
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
                decode_response::<ApiVersionsRequest>(frame, fallback)?
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

    /// Sends `req` at the highest version both sides support and waits for
    /// the response.
    pub async fn send<R>(&self, req: R) -> Result<R::Response>
    where
        R: VersionedRequest,
        R::Response: ThrottleTime,
    {
        let version = self.negotiate::<R>()?;
        self.send_version(req, version).await
    }

    /// Sends `req` at an explicit version and waits for the response.
    pub async fn send_version<R>(&self, req: R, version: i16) -> Result<R::Response>
    where
        R: VersionedRequest,
        R::Response: ThrottleTime,
    {
        let frame = self.round_trip(&req, version).await?;
        self.decode::<R>(frame, version)
    }

    /// [`Connection::send_version`] with its own timeout instead of the
    /// connection's `request.timeout.ms`: the coordinator holds a JoinGroup
    /// for up to the rebalance timeout, which may be longer.
    pub async fn send_version_timeout<R>(
        &self,
        req: R,
        version: i16,
        timeout: Duration,
    ) -> Result<R::Response>
    where
        R: VersionedRequest,
        R::Response: ThrottleTime,
    {
        let queued = self.queue_request(&req, version, timeout).await?;
        let frame = self.await_frame(queued).await?;
        self.decode::<R>(frame, version)
    }

    /// Sends a request that gets no response (Produce with `acks=0`);
    /// completes once the frame is written.
    pub async fn send_no_response<R>(&self, req: R, version: i16) -> Result<()>
    where
        R: VersionedRequest,
    {
        let api = api_name(R::API_KEY);
        self.shared.check_open(api)?;
        self.wait_throttle().await;
        let (_, frame) = self.encode(&req, version, api)?;
        tracing::debug!(
            api,
            version,
            broker = %self.shared.config.broker_label,
            "request without response queued"
        );
        let (written, done) = oneshot::channel();
        let deadline = Instant::now() + self.shared.config.request_timeout;
        let queued = tokio::time::timeout_at(
            deadline,
            self.writer.send(Outgoing {
                frame,
                written: Some(written),
            }),
        );
        match queued.await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(self.closed_error(api)),
            Err(_) => return Err(self.timeout(api)),
        }
        match tokio::time::timeout_at(deadline, done).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(self.closed_error(api)),
            Err(_) => Err(self.timeout(api)),
        }
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

    /// Closes the connection: in-flight requests fail with
    /// [`Error::Disconnected`]. Returns at once; no I/O.
    pub fn close(&self) {
        self.shared.poison(Error::Disconnected {
            reason: "closed by client".into(),
            context: Context::default().with_broker(&self.shared.config.broker_label),
        });
    }

    /// Encodes `req` as one frame under a fresh correlation id.
    fn encode<R: VersionedRequest>(
        &self,
        req: &R,
        version: i16,
        api: &'static str,
    ) -> Result<(i32, Bytes)> {
        let correlation_id = self.shared.next_correlation.fetch_add(1, Ordering::Relaxed);
        let mut buf = BytesMut::new();
        encode_request(
            &mut buf,
            version,
            correlation_id,
            self.shared.config.client_id.as_deref(),
            req,
        )
        .map_err(|e| e.map_context(|_| self.shared.context(api)))?;
        Ok((correlation_id, buf.freeze()))
    }

    async fn wait_throttle(&self) {
        let until = *lock(&self.shared.throttled_until);
        if let Some(until) = until
            && until > Instant::now()
        {
            tokio::time::sleep_until(until).await;
        }
    }

    /// Registers and queues one request frame; the first half of a round trip.
    async fn queue_request<R: VersionedRequest>(
        &self,
        req: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<Queued> {
        let api = api_name(R::API_KEY);
        self.shared.check_open(api)?;
        self.wait_throttle().await;
        let deadline = Instant::now() + timeout;

        let permit =
            match tokio::time::timeout_at(deadline, self.shared.permits.clone().acquire_owned())
                .await
            {
                Ok(Ok(p)) => p,
                Ok(Err(_)) => return Err(self.closed_error(api)),
                Err(_) => return Err(self.timeout(api)),
            };
        let (correlation_id, frame) = self.encode(req, version, api)?;

        let (reply, response) = oneshot::channel();
        lock(&self.shared.in_flight).insert(
            correlation_id,
            Pending {
                reply,
                _permit: permit,
            },
        );
        // If this future is dropped before the frame is queued, the entry
        // must go, or it would wait forever; once queued, it stays: the
        // reader completes it into a dropped receiver, which is harmless.
        let mut unqueued = Unqueued {
            shared: &self.shared,
            correlation_id,
            armed: true,
        };
        // Poisoning may have happened between check_open and insert.
        if let Err(e) = self.shared.check_open(api) {
            lock(&self.shared.in_flight).remove(&correlation_id);
            unqueued.armed = false;
            return Err(e);
        }
        // One span per request, with what identifies it on the wire; never
        // payloads. It covers queueing here and the wait in `await_frame`.
        let span = tracing::debug_span!(
            "request",
            api,
            version,
            correlation_id,
            broker = %self.shared.config.broker_label
        );
        let queued = tokio::time::timeout_at(
            deadline,
            self.writer.send(Outgoing {
                frame,
                written: None,
            }),
        )
        .instrument(span.clone())
        .await;
        unqueued.armed = false;
        match queued {
            Ok(Ok(())) => {}
            Ok(Err(_)) => {
                lock(&self.shared.in_flight).remove(&correlation_id);
                return Err(self.closed_error(api));
            }
            Err(_) => {
                lock(&self.shared.in_flight).remove(&correlation_id);
                return Err(self.timeout(api));
            }
        }
        span.in_scope(|| tracing::debug!("request queued"));
        Ok(Queued {
            response,
            deadline,
            api,
            span,
        })
    }

    /// Waits for the response frame of a queued request.
    async fn await_frame(&self, queued: Queued) -> Result<Bytes> {
        let Queued {
            response,
            deadline,
            api,
            span,
        } = queued;
        async {
            let result = match tokio::time::timeout_at(deadline, response).await {
                Ok(Ok(result)) => result.map_err(|e| with_api(e, api)),
                Ok(Err(_)) => Err(self.closed_error(api)),
                Err(_) => Err(self.timeout(api)),
            };
            match &result {
                Ok(frame) => tracing::debug!(bytes = frame.len(), "response received"),
                Err(error) => tracing::debug!(%error, "request failed"),
            }
            result
        }
        .instrument(span)
        .await
    }

    /// Writes one request frame and returns the raw response frame.
    async fn round_trip<R: VersionedRequest>(&self, req: &R, version: i16) -> Result<Bytes> {
        let queued = self
            .queue_request(req, version, self.shared.config.request_timeout)
            .await?;
        self.await_frame(queued).await
    }

    /// Queues `req` at the negotiated version and returns once its frame is
    /// in the writer's queue, with a handle to wait for the response.
    ///
    /// Frames are written in the order `start_send` calls complete, so a
    /// caller that awaits them one after another (the producer's sender)
    /// keeps its requests in order on the wire while many are in flight.
    pub async fn start_send<R>(&self, req: R) -> Result<PendingResponse<R>>
    where
        R: VersionedRequest,
        R::Response: ThrottleTime,
    {
        self.start_send_timeout(req, self.shared.config.request_timeout)
            .await
    }

    /// [`Connection::start_send`] with its own request timeout instead of
    /// the connection's (the producer's `request.timeout.ms` governs its
    /// Produce requests, as in Java).
    pub async fn start_send_timeout<R>(
        &self,
        req: R,
        timeout: Duration,
    ) -> Result<PendingResponse<R>>
    where
        R: VersionedRequest,
        R::Response: ThrottleTime,
    {
        let version = self.negotiate::<R>()?;
        let queued = self.queue_request(&req, version, timeout).await?;
        Ok(PendingResponse {
            conn: self.clone(),
            queued,
            version,
            _request: std::marker::PhantomData,
        })
    }

    fn decode<R>(&self, frame: Bytes, version: i16) -> Result<R::Response>
    where
        R: VersionedRequest,
        R::Response: ThrottleTime,
    {
        let api = api_name(R::API_KEY);
        let resp = decode_response::<R>(frame, version)
            .map_err(|e| e.map_context(|_| self.shared.context(api)))?;
        if let Some(ms) = resp.throttle_time_ms() {
            // KIP-219: the broker answered at once but asks us to hold off.
            let until = Instant::now() + Duration::from_millis(ms as u64);
            let mut t = lock(&self.shared.throttled_until);
            if t.is_none_or(|old| old < until) {
                *t = Some(until);
            }
            tracing::debug!(api, throttle_ms = ms, "broker throttled us");
        }
        Ok(resp)
    }

    fn closed_error(&self, api: &'static str) -> Error {
        match self.shared.poisoned.get() {
            Some(e) => with_api(e.clone(), api),
            None => Error::Disconnected {
                reason: "connection tasks ended".into(),
                context: self.shared.context(api),
            },
        }
    }

    /// A request timed out: as the Java client does, stop trusting the
    /// connection (the broker may be stuck, and a late response would
    /// otherwise arrive for a request nobody waits for).
    fn timeout(&self, api: &'static str) -> Error {
        let error = Error::Timeout {
            what: "request",
            context: self.shared.context(api),
        };
        self.shared.poison(error.clone());
        error
    }
}

struct Unqueued<'a> {
    shared: &'a Shared,
    correlation_id: i32,
    armed: bool,
}

impl Drop for Unqueued<'_> {
    fn drop(&mut self) {
        if self.armed {
            lock(&self.shared.in_flight).remove(&self.correlation_id);
        }
    }
}

async fn write_loop<W>(shared: Arc<Shared>, write: W, mut frames: mpsc::Receiver<Outgoing>)
where
    W: AsyncWrite + Unpin + Send + 'static,
{
    let mut shutdown = shared.shutdown.subscribe();
    let mut out = BufWriter::with_capacity(64 * 1024, write);
    loop {
        let next = tokio::select! {
            biased;
            _ = shutdown.wait_for(|s| *s) => break,
            f = frames.recv() => f,
        };
        let Some(first) = next else {
            // Every handle is gone: nobody can send or wait any more.
            shared.poison(Error::Disconnected {
                reason: "all handles dropped".into(),
                context: Context::default(),
            });
            break;
        };
        let mut batch = vec![first];
        // Coalesce what is already queued into one flush.
        while batch.len() < 64 {
            match frames.try_recv() {
                Ok(f) => batch.push(f),
                Err(_) => break,
            }
        }
        let mut result = Ok(());
        for f in &batch {
            result = out.write_all(&f.frame).await;
            if result.is_err() {
                break;
            }
        }
        if result.is_ok() {
            result = out.flush().await;
        }
        if let Err(e) = result {
            shared.poison(Error::io(
                e,
                Context::default().with_broker(&shared.config.broker_label),
            ));
            break;
        }
        for f in batch {
            if let Some(w) = f.written {
                let _ = w.send(());
            }
        }
    }
    let _ = out.shutdown().await;
}

async fn read_loop<R>(shared: Arc<Shared>, mut read: R)
where
    R: AsyncRead + Send + Unpin + 'static,
{
    let mut shutdown = shared.shutdown.subscribe();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let broker = || Context::default().with_broker(&shared.config.broker_label);
    loop {
        loop {
            match split_frame(&mut buf, shared.config.max_response_size) {
                Ok(Some(frame)) => {
                    let Some(correlation_id) = peek_correlation_id(&frame) else {
                        return shared.poison(Error::protocol("response without header", broker()));
                    };
                    let pending = lock(&shared.in_flight).remove(&correlation_id);
                    match pending {
                        Some(p) => {
                            let _ = p.reply.send(Ok(frame));
                        }
                        None => {
                            return shared.poison(Error::protocol(
                                format!("response for unknown correlation id {correlation_id}"),
                                broker(),
                            ));
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => return shared.poison(e.map_context(|_| broker())),
            }
        }
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(64 * 1024);
        }
        let read = tokio::select! {
            biased;
            _ = shutdown.wait_for(|s| *s) => return,
            r = read.read_buf(&mut buf) => r,
        };
        match read {
            Ok(0) => {
                return shared.poison(Error::Disconnected {
                    reason: "broker closed the connection".into(),
                    context: broker(),
                });
            }
            Ok(_) => {}
            Err(e) => return shared.poison(Error::io(e, broker())),
        }
    }
}

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
