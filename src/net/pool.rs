//! Connection pool: one connection per broker *and lane*.
//!
//! Lanes exist so that a long poll never delays a latency-sensitive request:
//! a Fetch that the broker holds for `fetch.max.wait.ms`, or a JoinGroup held
//! for the whole rebalance, must not sit in front of a heartbeat or a metadata
//! request on the same socket (Kafka answers requests of one connection in
//! order).
//!
//! Each slot owns its reconnect state. A slot's async mutex is held while
//! connecting, so concurrent callers wait for one connect attempt instead of
//! racing N sockets to the same broker. Failed attempts back off with jitter
//! from `reconnect.backoff.ms` (50 ms) doubling to `reconnect.backoff.max.ms`
//! (1 s). A poisoned connection is noticed (`is_closed`) and replaced on the
//! next `get`; the pool never evicts on a caller's say-so, so a stale failure
//! cannot throw away a fresh connection.
//!
//! Every connect outcome is reported to [`Health`], which logs a broker
//! becoming unreachable and reachable again (rate-limited). A failed
//! connect's error names the broker (node id and address) and the cause.
//! Closing the pool ends connects in progress at once, and
//! [`Pool::connects_done`] lets `Client::close` wait for them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::error::{Context, Error, Result};
use crate::net::connection::{Connection, ConnectionConfig};
use crate::net::health::Health;
use crate::net::sasl::{self, Sasl};
use crate::net::transport::{self, ConnectionSecurity, SecurityProtocol};
use crate::protocol::versions::{ThrottleTime, VersionedRequest};

/// What a connection is used for. Requests of different lanes never share a
/// socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(dead_code)] // Produce, Fetch and Group lanes are used by the producer and consumer
pub(crate) enum Lane {
    /// Metadata, admin, heartbeats, offset commits: short requests.
    Control,
    /// Produce requests.
    Produce,
    /// Fetch long polls.
    Fetch,
    /// JoinGroup/SyncGroup, held by the coordinator for a whole rebalance.
    Group,
}

/// Which broker: a node id from metadata, or the n-th bootstrap address
/// (before metadata is known, like the Java client's negative node ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum BrokerRef {
    Node(i32),
    Bootstrap(usize),
}

impl std::fmt::Display for BrokerRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BrokerRef::Node(id) => write!(f, "node {id}"),
            BrokerRef::Bootstrap(i) => write!(f, "bootstrap-{i}"),
        }
    }
}

/// Pool settings (from the client builder).
#[derive(Debug, Clone)]
pub(crate) struct PoolConfig {
    pub bootstrap: Vec<String>,
    pub connection: ConnectionConfig,
    pub connect_timeout: Duration,
    /// Plain TCP or TLS, for every connection the pool opens.
    pub security: transport::Security,
    pub reconnect_backoff: Duration,
    pub reconnect_backoff_max: Duration,
    pub connections_max_idle: Duration,
    /// SASL settings: when set, every new connection authenticates right
    /// after ApiVersions (`security.protocol=SASL_*`).
    pub sasl: Option<Sasl>,
}

#[derive(Default)]
struct SlotState {
    conn: Option<Connection>,
    reconnect: Reconnect,
    last_used: Option<Instant>,
}

/// The reconnect backoff of one connection: consecutive failed connects
/// and when the next attempt may start. Each pool slot has one; so does
/// each holder of an unpooled connection that reconnects
/// ([`Pool::connect_unpooled_backing_off`]), so that both back off alike.
#[derive(Debug, Default)]
pub(crate) struct Reconnect {
    failures: u32,
    not_before: Option<Instant>,
}

impl Reconnect {
    /// Whether the next attempt must still wait.
    pub(crate) fn is_backing_off(&self) -> bool {
        self.not_before.is_some_and(|t| t > Instant::now())
    }

    /// Waits until the next attempt may start.
    async fn wait(&self) {
        if let Some(not_before) = self.not_before {
            tokio::time::sleep_until(not_before).await;
        }
    }

    /// Records a connect attempt's outcome: a success resets the backoff,
    /// a failure grows it (see [`Pool::reconnect_backoff`]).
    fn record<T>(&mut self, pool: &Pool, outcome: &Result<T>) {
        match outcome {
            Ok(_) => *self = Reconnect::default(),
            Err(_) => {
                self.failures = self.failures.saturating_add(1);
                self.not_before = Some(Instant::now() + pool.reconnect_backoff(self.failures));
            }
        }
    }
}

type Slot = Arc<tokio::sync::Mutex<SlotState>>;

/// The pool. Cheap to clone; all clones share the connections.
#[derive(Clone)]
pub(crate) struct Pool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    config: PoolConfig,
    /// Broker addresses learnt from metadata (`host:port`).
    addresses: Mutex<HashMap<i32, String>>,
    /// Short-held lock: only to find or create a slot, never across I/O.
    slots: Mutex<HashMap<(BrokerRef, Lane), Slot>>,
    /// Set by [`Pool::close_all`] (the client closing): holders of
    /// unpooled connections, which `close_all` cannot reach, wait on it to
    /// drop theirs at once.
    closed: tokio::sync::watch::Sender<bool>,
    /// Connect attempts in progress (see [`Pool::connects_done`]).
    connecting: tokio::sync::watch::Sender<usize>,
    /// Which brokers are unreachable, for rate-limited outage logs.
    health: Health,
}

/// Counts one connect attempt in progress while alive.
struct Connecting<'a>(&'a tokio::sync::watch::Sender<usize>);

impl<'a> Connecting<'a> {
    fn start(count: &'a tokio::sync::watch::Sender<usize>) -> Self {
        count.send_modify(|n| *n += 1);
        Connecting(count)
    }
}

impl Drop for Connecting<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl Pool {
    pub(crate) fn new(config: PoolConfig) -> Pool {
        Pool {
            inner: Arc::new(PoolInner {
                config,
                addresses: Mutex::new(HashMap::new()),
                slots: Mutex::new(HashMap::new()),
                closed: tokio::sync::watch::Sender::new(false),
                connecting: tokio::sync::watch::Sender::new(0),
                health: Health::default(),
            }),
        }
    }

    pub(crate) fn bootstrap_len(&self) -> usize {
        self.inner.config.bootstrap.len()
    }

    /// Records the addresses of the brokers in the latest metadata. An
    /// address change closes the old connections to that id.
    pub(crate) fn set_brokers(&self, brokers: impl IntoIterator<Item = (i32, String)>) {
        let mut changed = Vec::new();
        {
            let mut addresses = lock(&self.inner.addresses);
            for (id, addr) in brokers {
                if addresses.get(&id).is_some_and(|old| *old != addr) {
                    changed.push(id);
                }
                addresses.insert(id, addr);
            }
        }
        for id in changed {
            self.close_broker(BrokerRef::Node(id));
        }
    }

    fn address_of(&self, broker: BrokerRef) -> Result<String> {
        match broker {
            BrokerRef::Node(id) => lock(&self.inner.addresses)
                .get(&id)
                .cloned()
                .ok_or_else(|| {
                    Error::NoBrokerAvailable(format!("broker {id} is not in the metadata"))
                }),
            BrokerRef::Bootstrap(i) => self
                .inner
                .config
                .bootstrap
                .get(i)
                .cloned()
                .ok_or_else(|| Error::NoBrokerAvailable(format!("no bootstrap server #{i}"))),
        }
    }

    fn slot(&self, broker: BrokerRef, lane: Lane) -> Slot {
        lock(&self.inner.slots)
            .entry((broker, lane))
            .or_default()
            .clone()
    }

    /// A live connection to `broker` on `lane`, connecting (after any
    /// backoff) if there is none.
    pub(crate) async fn get(&self, broker: BrokerRef, lane: Lane) -> Result<Connection> {
        let slot = self.slot(broker, lane);
        let mut state = slot.lock().await;
        if let Some(conn) = state.conn.clone() {
            if !conn.needs_replacement() {
                state.last_used = Some(Instant::now());
                return Ok(conn);
            }
            if let Some(error) = conn.broken_by() {
                let address = self.address_of(broker).unwrap_or_default();
                self.inner.health.lost(broker, &address, error);
            } else if !conn.is_closed() {
                // Its SASL session ends soon (KIP-368): requests in flight
                // finish on it; it closes when their handles are dropped.
                tracing::debug!(%broker, "renewing the SASL session on a new connection");
            }
            state.conn = None;
        }
        self.wait_backoff(&state.reconnect).await?;
        let outcome = self.connect(broker).await;
        state.reconnect.record(self, &outcome);
        let conn = outcome?;
        state.last_used = Some(Instant::now());
        state.conn = Some(conn.clone());
        Ok(conn)
    }

    /// The connection if one is open now; never connects.
    pub(crate) fn get_if_open(&self, broker: BrokerRef, lane: Lane) -> Option<Connection> {
        let slot = lock(&self.inner.slots).get(&(broker, lane))?.clone();
        let state = slot.try_lock().ok()?;
        state.conn.as_ref().filter(|c| !c.is_closed()).cloned()
    }

    /// Whether the broker is in backoff after failed connects on `lane`.
    pub(crate) fn is_backing_off(&self, broker: BrokerRef, lane: Lane) -> bool {
        let Some(slot) = lock(&self.inner.slots).get(&(broker, lane)).cloned() else {
            return false;
        };
        slot.try_lock()
            .map(|s| s.reconnect.is_backing_off())
            .unwrap_or(false)
    }

    /// A new connection to `broker` that the pool does not keep, for a
    /// caller that must not share its socket: a group member's JoinGroup is
    /// held by the coordinator until every member has joined, and the
    /// coordinator reads a connection's requests one at a time, so two
    /// members of one process on one socket would wait for each other.
    pub(crate) async fn connect_unpooled(&self, broker: BrokerRef) -> Result<Connection> {
        self.connect(broker).await
    }

    /// [`connect_unpooled`](Self::connect_unpooled) for a caller that
    /// keeps reconnecting the same unpooled connection (a fetch lane): it
    /// first waits out `reconnect`'s backoff, then records the outcome
    /// there, exactly as a pool slot does.
    pub(crate) async fn connect_unpooled_backing_off(
        &self,
        broker: BrokerRef,
        reconnect: &mut Reconnect,
    ) -> Result<Connection> {
        self.wait_backoff(reconnect).await?;
        let outcome = self.connect(broker).await;
        reconnect.record(self, &outcome);
        outcome
    }

    /// Waits out a reconnect backoff, unless the pool closes first.
    async fn wait_backoff(&self, reconnect: &Reconnect) -> Result<()> {
        tokio::select! {
            biased;
            () = self.closed() => Err(Error::Closed),
            () = reconnect.wait() => Ok(()),
        }
    }

    async fn connect(&self, broker: BrokerRef) -> Result<Connection> {
        // A closed pool (the client closed) opens nothing new: a task that
        // has not noticed yet (a metadata refresh asked for by a request
        // the close just failed) would otherwise leave a fresh socket.
        if self.is_closed() {
            return Err(Error::Closed);
        }
        let address = self.address_of(broker)?;
        let _connecting = Connecting::start(&self.inner.connecting);
        // Closing the pool ends a connect in progress (a slow handshake, a
        // connect timeout) at once instead of leaving it to its timeout.
        let outcome = tokio::select! {
            biased;
            () = self.closed() => Err(Error::Closed),
            outcome = self.connect_to(broker, &address) => outcome,
        };
        let outcome = match outcome {
            // Closed while the handshake finished: keep nothing open.
            Ok(conn) if self.is_closed() => {
                conn.close();
                Err(Error::Closed)
            }
            outcome => outcome,
        };
        self.inner
            .health
            .record(broker, &address, outcome.as_ref().map(|_| ()));
        outcome
    }

    /// Resolves, connects and handshakes; every error names the broker
    /// (node id and address) and carries the cause.
    async fn connect_to(&self, broker: BrokerRef, address: &str) -> Result<Connection> {
        let label = format!("{broker} ({address})");
        let name = |e: Error| e.map_context(|c| c.with_broker(&label));
        let addrs = resolve(address).await.map_err(name)?;
        let mut last_err = None;
        // Java's client.dns.lookup=use_all_dns_ips: try every address the name resolves to.
        for addr in addrs {
            let security = &self.inner.config.security;
            match transport::connect(addr, address, security, self.inner.config.connect_timeout)
                .await
            {
                Ok(connected) => {
                    let mut config = self.inner.config.connection.clone();
                    config.broker_label = label.as_str().into();
                    let conn = Connection::handshake(connected.stream, config)
                        .await
                        .map_err(|e| name(explain_handshake_failure(security, e)))?;
                    let mut negotiated = ConnectionSecurity::plaintext();
                    if let Some((version, suite)) = connected.tls {
                        negotiated.protocol = SecurityProtocol::Ssl;
                        negotiated.tls_version = Some(version);
                        negotiated.tls_cipher_suite = Some(suite);
                    }
                    if let Some(sasl) = &self.inner.config.sasl {
                        let lifetime = self.authenticate(&conn, sasl).await.map_err(name)?;
                        negotiated.protocol = match negotiated.protocol {
                            SecurityProtocol::Ssl => SecurityProtocol::SaslSsl,
                            _ => SecurityProtocol::SaslPlaintext,
                        };
                        negotiated.sasl_mechanism = Some(sasl.mechanism());
                        negotiated.sasl_session_lifetime = lifetime;
                    }
                    tracing::debug!(broker = %label, security = %negotiated, "connected");
                    conn.set_security(negotiated);
                    return Ok(conn);
                }
                Err(e) => last_err = Some(name(e)),
            }
        }
        Err(last_err.unwrap_or_else(|| {
            Error::NoBrokerAvailable(format!("{label}: {address} resolved to no address"))
        }))
    }

    /// Authenticates a new connection (SaslHandshake + SaslAuthenticate,
    /// before any other request) and, when the broker gave the session a
    /// lifetime, marks the connection to be replaced at a random point
    /// between 85% and 95% of it (Java's re-authentication window, KIP-368).
    /// A failure closes the connection. Returns the session lifetime.
    async fn authenticate(&self, conn: &Connection, sasl: &Sasl) -> Result<Option<Duration>> {
        let timeout = self.inner.config.connection.request_timeout;
        match sasl::authenticate(conn, sasl, timeout).await {
            Ok(done) => {
                if let Some(lifetime) = done.session_lifetime {
                    conn.replace_from(Instant::now() + renew_after(lifetime, jitter_unit()));
                }
                Ok(done.session_lifetime)
            }
            Err(e) => {
                conn.close();
                Err(e)
            }
        }
    }

    /// Completes once no connect attempt is in progress. After
    /// [`close_all`](Self::close_all) that is at once, or nearly: every
    /// attempt selects on [`closed`](Self::closed).
    pub(crate) fn connects_done(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut count = self.inner.connecting.subscribe();
        async move {
            let _ = count.wait_for(|n| *n == 0).await;
        }
    }

    /// The wait after `failures` consecutive failed connects: jittered
    /// exponential backoff from `reconnect.backoff.ms`, base *
    /// 2^(failures-1), capped at `reconnect.backoff.max.ms`, +-20%.
    fn reconnect_backoff(&self, failures: u32) -> Duration {
        let base = self.inner.config.reconnect_backoff;
        let max = self.inner.config.reconnect_backoff_max;
        let exp = base.saturating_mul(1u32 << failures.saturating_sub(1).min(16));
        let capped = exp.min(max);
        let jitter = 0.8 + 0.4 * jitter_unit();
        capped.mul_f64(jitter)
    }

    /// Sends `req` on the control lane to some reachable broker, in Java's
    /// "least loaded node" spirit: brokers with an open connection first,
    /// then other known brokers not in backoff, then the bootstrap list
    /// (so a cluster whose every known broker moved can still be found).
    pub(crate) async fn send_any<R>(
        &self,
        known: &[i32],
        req: R,
    ) -> Result<(BrokerRef, R::Response)>
    where
        R: VersionedRequest + Clone,
        R::Response: ThrottleTime,
    {
        let mut candidates: Vec<BrokerRef> = Vec::new();
        let (open, closed): (Vec<i32>, Vec<i32>) = known.iter().partition(|id| {
            self.get_if_open(BrokerRef::Node(**id), Lane::Control)
                .is_some()
        });
        candidates.extend(open.into_iter().map(BrokerRef::Node));
        let (ready, backing_off): (Vec<i32>, Vec<i32>) = closed
            .into_iter()
            .partition(|id| !self.is_backing_off(BrokerRef::Node(*id), Lane::Control));
        candidates.extend(ready.into_iter().map(BrokerRef::Node));
        candidates.extend((0..self.bootstrap_len()).map(BrokerRef::Bootstrap));
        candidates.extend(backing_off.into_iter().map(BrokerRef::Node));

        let mut last_err = None;
        for broker in candidates {
            let attempt = async {
                let conn = self.get(broker, Lane::Control).await?;
                conn.send(req.clone()).await
            };
            match attempt.await {
                Ok(resp) => return Ok((broker, resp)),
                Err(e) if e.is_retriable() => {
                    tracing::debug!(%broker, error = %e, "broker unusable, trying the next one");
                    last_err = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(match last_err {
            Some(e) => Error::NoBrokerAvailable(format!("every broker failed; last error: {e}")),
            None => Error::NoBrokerAvailable("no bootstrap server configured".into()),
        })
    }

    /// Closes every connection to `broker` (all lanes). No waiting.
    pub(crate) fn close_broker(&self, broker: BrokerRef) {
        let slots: Vec<Slot> = lock(&self.inner.slots)
            .iter()
            .filter(|((b, _), _)| *b == broker)
            .map(|(_, s)| s.clone())
            .collect();
        for slot in slots {
            if let Ok(mut state) = slot.try_lock()
                && let Some(conn) = state.conn.take()
            {
                conn.close();
            }
        }
    }

    /// Closes connections unused for longer than `connections.max.idle.ms`.
    pub(crate) fn evict_idle(&self) {
        let idle = self.inner.config.connections_max_idle;
        let now = Instant::now();
        let slots: Vec<Slot> = lock(&self.inner.slots).values().cloned().collect();
        for slot in slots {
            // A slot that is busy connecting is in use: skip it.
            if let Ok(mut state) = slot.try_lock()
                && state
                    .last_used
                    .is_some_and(|t| now.duration_since(t) > idle)
                && let Some(conn) = state.conn.take()
            {
                tracing::debug!("closing idle connection");
                conn.close();
            }
        }
    }

    /// Whether [`close_all`](Self::close_all) was called.
    pub(crate) fn is_closed(&self) -> bool {
        *self.inner.closed.borrow()
    }

    /// Completes once [`close_all`](Self::close_all) is called (at once if
    /// it was). A task holding an unpooled connection selects on it, so
    /// that closing the client ends a request held on that connection (a
    /// long poll, a JoinGroup) without waiting for its response.
    pub(crate) fn closed(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut closed = self.inner.closed.subscribe();
        async move {
            // An error means the pool is gone, which is closed too.
            let _ = closed.wait_for(|c| *c).await;
        }
    }

    /// Closes every connection. No waiting, no I/O. Holders of unpooled
    /// connections learn of it through [`closed`](Self::closed).
    pub(crate) fn close_all(&self) {
        self.inner.closed.send_replace(true);
        let slots: Vec<Slot> = lock(&self.inner.slots).drain().map(|(_, s)| s).collect();
        for slot in slots {
            if let Ok(mut state) = slot.try_lock()
                && let Some(conn) = state.conn.take()
            {
                conn.close();
            }
        }
    }
}

/// Resolves `host:port` to every address it names.
async fn resolve(address: &str) -> Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(address)
        .await
        .map_err(|e| Error::io(e, Context::default()))?
        .collect();
    if addrs.is_empty() {
        return Err(Error::NoBrokerAvailable(format!(
            "{address} resolved to no address"
        )));
    }
    Ok(addrs)
}

/// When to renew a SASL session of `lifetime`: at 85% + 10% * `unit` of
/// it (`unit` in [0, 1)), as the Java client picks its re-authentication
/// time.
pub(crate) fn renew_after(lifetime: Duration, unit: f64) -> Duration {
    lifetime.mul_f64(0.85 + 0.10 * unit.clamp(0.0, 1.0))
}

/// A number in [0, 1) that differs between calls and processes; enough for
/// backoff jitter without a RNG dependency.
fn jitter_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Locks a std mutex, recovering from poisoning: the maps it guards stay
/// consistent because no code panics while holding them.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A pool whose one bootstrap address refuses every connect (port 1 on
/// loopback), with the default 50 ms → 1 s reconnect backoff: for tests of
/// reconnect behaviour.
/// Makes a failed ApiVersions handshake say what most likely went wrong.
///
/// On TLS, a failure that is really a TLS failure (TLS 1.3 servers refuse
/// a client certificate with an alert that arrives on the first read, after
/// the client's side of the handshake completed) becomes the typed
/// [`Error::Tls`]. On plain TCP, a broker that hangs up on the very first
/// request is most often a TLS or SASL listener (a TLS endpoint that does
/// not answer plaintext with an alert just resets): the error stays a
/// retriable [`Error::Disconnected`], with that hint. Anything else is
/// returned as it is.
fn explain_handshake_failure(security: &transport::Security, e: Error) -> Error {
    match (security, &e) {
        #[cfg(feature = "_tls")]
        (transport::Security::Tls(_), Error::Io { source, context }) => {
            match crate::net::tls::classify(source, "after the TLS handshake") {
                Some(tls) => tls.map_context(|_| context.clone()),
                None => e,
            }
        }
        (transport::Security::Plaintext, Error::Io { source, context })
            if matches!(
                source.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::UnexpectedEof
                    | std::io::ErrorKind::BrokenPipe
            ) =>
        {
            Error::Disconnected {
                reason: format!("{source}, {PLAINTEXT_HANGUP_HINT}").into(),
                context: context.clone(),
            }
        }
        (transport::Security::Plaintext, Error::Disconnected { reason, context }) => {
            Error::Disconnected {
                reason: format!("{reason}, {PLAINTEXT_HANGUP_HINT}").into(),
                context: context.clone(),
            }
        }
        _ => e,
    }
}

/// See [`explain_handshake_failure`].
const PLAINTEXT_HANGUP_HINT: &str = "on the first request of a plaintext connection: \
     is this a TLS or SASL listener? (check security.protocol)";

#[cfg(test)]
pub(crate) fn unreachable_pool() -> Pool {
    Pool::new(PoolConfig {
        bootstrap: vec!["127.0.0.1:1".into()],
        connection: ConnectionConfig {
            client_id: None,
            request_timeout: Duration::from_secs(1),
            max_in_flight: 5,
            max_response_size: 1 << 20,
            broker_label: "test".into(),
        },
        connect_timeout: Duration::from_millis(200),
        security: Default::default(),
        reconnect_backoff: Duration::from_millis(50),
        reconnect_backoff_max: Duration::from_secs(1),
        connections_max_idle: Duration::from_secs(540),
        sasl: None,
    })
}

/// Log capture shared with the integration tests. The group driver's
/// broker tests include all of `tests/support` (this file with it); this
/// module needs only the log capture, not the brokers.
#[cfg(test)]
#[allow(clippy::duplicate_mod)]
#[path = "../../tests/support/logs.rs"]
mod test_logs;

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> Pool {
        unreachable_pool()
    }

    #[test]
    fn backoff_grows_with_jitter_and_caps() {
        let p = pool();
        for _ in 0..20 {
            let first = p.reconnect_backoff(1);
            assert!(
                first >= Duration::from_millis(40) && first <= Duration::from_millis(60),
                "{first:?}"
            );
            let third = p.reconnect_backoff(3);
            assert!(
                third >= Duration::from_millis(160) && third <= Duration::from_millis(240),
                "{third:?}"
            );
            let late = p.reconnect_backoff(30);
            assert!(
                late >= Duration::from_millis(800) && late <= Duration::from_millis(1200),
                "{late:?}"
            );
        }
    }

    #[tokio::test]
    async fn refused_connect_backs_off() {
        // Port 1 on loopback: nothing listens, connect is refused at once.
        let p = pool();
        let err = p
            .get(BrokerRef::Bootstrap(0), Lane::Control)
            .await
            .unwrap_err();
        assert!(err.is_retriable(), "{err}");
        assert!(p.is_backing_off(BrokerRef::Bootstrap(0), Lane::Control));
        assert!(!p.is_backing_off(BrokerRef::Bootstrap(0), Lane::Fetch));
    }

    #[tokio::test]
    async fn unpooled_reconnects_wait_a_growing_backoff_and_reset_on_success() {
        let p = pool();
        let mut reconnect = Reconnect::default();
        let broker = BrokerRef::Bootstrap(0);
        assert!(!reconnect.is_backing_off());
        let started = Instant::now();
        p.connect_unpooled_backing_off(broker, &mut reconnect)
            .await
            .unwrap_err();
        assert!(reconnect.is_backing_off(), "a failed connect backs off");
        // Each later attempt waits at least the previous backoff: 50 ms,
        // then 100 ms (each -20% at worst).
        p.connect_unpooled_backing_off(broker, &mut reconnect)
            .await
            .unwrap_err();
        let after_two = started.elapsed();
        assert!(after_two >= Duration::from_millis(40), "{after_two:?}");
        p.connect_unpooled_backing_off(broker, &mut reconnect)
            .await
            .unwrap_err();
        let after_three = started.elapsed();
        assert!(
            after_three >= Duration::from_millis(40 + 80),
            "the backoff grows: {after_three:?}"
        );
        assert_eq!(reconnect.failures, 3);
        reconnect.record(&p, &Ok(()));
        assert!(!reconnect.is_backing_off(), "a success resets it");
        assert_eq!(reconnect.failures, 0);
    }

    #[tokio::test]
    async fn closing_the_pool_wakes_whoever_waits_for_it() {
        let p = pool();
        let waiter = tokio::spawn(p.closed());
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished() && !p.is_closed());
        p.close_all();
        assert!(p.is_closed());
        waiter.await.unwrap();
        // Asked after the fact: completes at once.
        p.clone().closed().await;
        let err = p.get(BrokerRef::Bootstrap(0), Lane::Control).await;
        assert!(
            matches!(err, Err(Error::Closed)),
            "a closed pool connects no more"
        );
    }

    use super::test_logs::CapturedLogs as Captured;

    /// Answers ApiVersions (v3) on every connection it accepts: enough of a
    /// broker for the pool to connect. With `hang_up`, closes each
    /// connection right after its answer.
    async fn answer_api_versions(listener: tokio::net::TcpListener, hang_up: bool) {
        use bytes::{Buf, BytesMut};
        use kafka_protocol::messages::{ApiVersionsResponse, ResponseHeader};
        use kafka_protocol::protocol::Encodable;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = BytesMut::new();
                loop {
                    if let Ok(Some(mut frame)) =
                        crate::protocol::frame::split_frame(&mut buf, 1 << 20)
                    {
                        // api key, version, then the correlation id.
                        frame.advance(4);
                        let correlation_id = frame.get_i32();
                        let mut body = BytesMut::new();
                        ResponseHeader::default()
                            .with_correlation_id(correlation_id)
                            .encode(&mut body, 0)
                            .unwrap();
                        ApiVersionsResponse::default().encode(&mut body, 3).unwrap();
                        let mut out = (body.len() as i32).to_be_bytes().to_vec();
                        out.extend_from_slice(&body);
                        if stream.write_all(&out).await.is_err() || hang_up {
                            return;
                        }
                        continue;
                    }
                    if stream.read_buf(&mut buf).await.unwrap_or(0) == 0 {
                        return;
                    }
                }
            });
        }
    }

    #[tokio::test]
    async fn an_outage_is_warned_once_and_the_recovery_told() {
        let logs = Captured::default();
        let _guard = logs.install();
        // A port nobody listens on (yet).
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let address = format!("127.0.0.1:{port}");
        let p = pool();
        p.set_brokers([(5, address.clone())]);
        let broker = BrokerRef::Node(5);
        for _ in 0..3 {
            let err = p.get(broker, Lane::Control).await.unwrap_err();
            // The error names the broker (id and address) and the cause.
            let text = err.to_string();
            assert!(text.contains(&format!("node 5 ({address})")), "{text}");
            assert!(text.contains("refused"), "{text}");
        }
        // Another lane to the same broker is the same outage.
        p.get(broker, Lane::Fetch).await.unwrap_err();
        let warns = logs.lines("WARN", "");
        assert_eq!(warns.len(), 1, "one warning per outage: {warns:#?}");
        assert!(
            warns[0].contains("node 5") && warns[0].contains(&address),
            "{}",
            warns[0]
        );
        assert!(warns[0].contains("unreachable"), "{}", warns[0]);
        assert!(logs.lines("INFO", "").is_empty());

        let listener = tokio::net::TcpListener::bind(&address).await.unwrap();
        tokio::spawn(answer_api_versions(listener, false));
        p.get(broker, Lane::Control).await.unwrap();
        let infos = logs.lines("INFO", "");
        assert_eq!(infos.len(), 1, "{infos:#?}");
        assert!(
            infos[0].contains("node 5") && infos[0].contains("reachable again"),
            "{}",
            infos[0]
        );
        // A healthy broker's connects are not logged.
        p.get(broker, Lane::Fetch).await.unwrap();
        assert_eq!(logs.lines("INFO", "").len(), 1);
        assert_eq!(logs.lines("WARN", "").len(), 1);
    }

    #[tokio::test]
    async fn a_broken_connection_is_told_once_with_its_cause() {
        let logs = Captured::default();
        let _guard = logs.install();
        // A broker that hangs up after the handshake, every time.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(answer_api_versions(listener, true));
        let p = pool();
        p.set_brokers([(9, address.clone())]);
        let broker = BrokerRef::Node(9);
        for _ in 0..3 {
            let conn = p.get(broker, Lane::Control).await.unwrap();
            // The hang-up poisons it (the reader sees the stream end).
            tokio::time::timeout(Duration::from_secs(5), async {
                while !conn.is_closed() {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
            .await
            .unwrap();
        }
        // Replaced twice; told once (rate-limited per broker), with the cause.
        let infos = logs.lines("INFO", "");
        assert_eq!(infos.len(), 1, "{infos:#?}");
        assert!(
            infos[0].contains(&format!("node 9 ({address}) lost")),
            "{}",
            infos[0]
        );
        assert!(
            logs.lines("WARN", "").is_empty(),
            "reconnects succeeded: no outage"
        );
        // A connection the client closes itself is not a loss.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        p.set_brokers([(10, listener.local_addr().unwrap().to_string())]);
        tokio::spawn(answer_api_versions(listener, false));
        let conn = p.get(BrokerRef::Node(10), Lane::Control).await.unwrap();
        assert!(conn.broken_by().is_none());
        conn.close();
        assert!(conn.is_closed() && conn.broken_by().is_none());
        p.get(BrokerRef::Node(10), Lane::Control).await.unwrap();
        assert_eq!(logs.lines("INFO", "").len(), 1);
    }

    #[tokio::test]
    async fn closing_ends_a_connect_in_progress_at_once() {
        // A broker that accepts and never answers: the handshake would wait
        // for the request timeout.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let held = tokio::spawn(async move {
            let mut streams = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                streams.push(s);
            }
        });
        let mut config = pool().inner.config.clone();
        config.bootstrap = vec![address];
        config.connection.request_timeout = Duration::from_secs(30);
        let p = Pool::new(config);
        let waiting = tokio::spawn({
            let p = p.clone();
            async move { p.get(BrokerRef::Bootstrap(0), Lane::Control).await }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!waiting.is_finished());
        let started = Instant::now();
        p.close_all();
        tokio::time::timeout(Duration::from_secs(2), p.connects_done())
            .await
            .expect("connects end once the pool closes");
        let err = tokio::time::timeout(Duration::from_secs(2), waiting)
            .await
            .expect("the waiting caller is answered")
            .unwrap()
            .unwrap_err();
        assert!(matches!(err, Error::Closed), "{err}");
        assert!(started.elapsed() < Duration::from_secs(2));
        held.abort();
    }

    #[tokio::test]
    async fn unknown_node_is_an_error_not_a_panic() {
        let p = pool();
        let err = p.get(BrokerRef::Node(7), Lane::Control).await.unwrap_err();
        assert!(matches!(err, Error::NoBrokerAvailable(_)), "{err}");
    }
}
