//! The request path of a [`Connection`]: a request is encoded, registered
//! under its correlation id and queued for the writer (bounded by the
//! in-flight permits and the request timeout), then its response frame is
//! awaited and decoded, honouring the broker's throttle. Apart from the
//! connection's state because this is where cancel-safety and timeouts
//! are decided, and that reasoning needs to be read as one piece.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::Instrument;

use super::{Connection, Outgoing, Pending, Shared, lock, with_api};
use crate::error::{Context, Error, Result};
use crate::protocol::frame::{decode_response, encode_request};
use crate::protocol::versions::{ThrottleTime, VersionedRequest, api_name};

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

impl Connection {
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
    pub(super) async fn round_trip<R: VersionedRequest>(
        &self,
        req: &R,
        version: i16,
    ) -> Result<Bytes> {
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
    #[allow(dead_code)] // the producer uses start_send_timeout
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
        let resp = decode_response::<R>(frame, version).map_err(|e| self.decode_error(e, api))?;
        if let Some(ms) = resp.throttle_time_ms() {
            // KIP-219: the broker answered at once but asks us to hold off.
            let until = Instant::now() + Duration::from_millis(ms as u64);
            let mut t = lock(&self.shared.throttled_until);
            if t.is_none_or(|old| old < until) {
                *t = Some(until);
            }
            match self.shared.throttle_log.allow() {
                Some(held_back) => tracing::warn!(
                    broker = %self.shared.config.broker_label,
                    api,
                    throttle_ms = ms,
                    throttled_since_last_warning = held_back,
                    "broker throttled us (quota); holding requests to it back"
                ),
                None => tracing::debug!(api, throttle_ms = ms, "broker throttled us"),
            }
        }
        Ok(resp)
    }

    /// A decoding error with this broker and `api` named, keeping the API
    /// version the decoder put there.
    pub(super) fn decode_error(&self, error: Error, api: &'static str) -> Error {
        error.map_context(|c| Context {
            api: Some(api),
            broker: Some(self.shared.config.broker_label.to_string()),
            ..c
        })
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
