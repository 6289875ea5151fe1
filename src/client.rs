//! The client handle: connection settings, the connection pool and the
//! metadata cache, shared by every producer, consumer and admin built from it.

mod bootstrap;

pub(crate) use bootstrap::host_port;

/// Checks a `bootstrap.servers` string; returns the addresses to connect to.
pub(crate) fn parse_bootstrap(servers: &str) -> Result<Vec<String>> {
    bootstrap::parse_list(&[servers.to_owned()])
}

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::metadata::ClusterMetadata;
use crate::metadata::refresher::{MetadataConfig, MetadataHandle};
use crate::net::connection::{Connection, ConnectionConfig};
use crate::net::pool::{BrokerRef, Lane, Pool, PoolConfig};
use crate::net::sasl::Sasl;
use crate::net::tls::TlsSettings;
use crate::net::transport::{ConnectionSecurity, Security, SecurityProtocol};
use crate::protocol::coordinator::{self, CoordinatorKey};
use crate::protocol::messages::FindCoordinatorRequest;
use crate::protocol::versions::{BrokerApiVersions, ThrottleTime, VersionedRequest};

/// Builds a [`Client`]. Every setter names the Java client setting it
/// mirrors and its default.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    bootstrap: Vec<String>,
    client_id: String,
    request_timeout: Duration,
    connect_timeout: Duration,
    metadata_max_age: Duration,
    max_in_flight: usize,
    max_response_size: usize,
    reconnect_backoff: Duration,
    reconnect_backoff_max: Duration,
    connections_max_idle: Duration,
    retry_backoff: Duration,
    allow_auto_create_topics: bool,
    sasl: Option<Sasl>,
    security_protocol: SecurityProtocol,
    tls_settings: TlsSettings,
    #[cfg(feature = "_tls")]
    tls_config: Option<crate::tls::TlsConfig>,
}

impl ClientBuilder {
    /// A builder for a cluster reached through `bootstrap_servers`
    /// (`bootstrap.servers`): a comma list (spaces allowed) of `host:port`,
    /// `[ipv6]:port`, each optionally prefixed with a listener scheme as in
    /// Java's syntax (`PLAINTEXT://`, `SSL://`, `SASL_PLAINTEXT://`,
    /// `SASL_SSL://`; a scheme must agree with
    /// [`security_protocol`](Self::security_protocol)). The list is checked
    /// by [`build`](Self::build), whose config error names a bad entry.
    pub fn new(bootstrap_servers: impl AsRef<str>) -> ClientBuilder {
        ClientBuilder {
            bootstrap: vec![bootstrap_servers.as_ref().to_owned()],
            client_id: "kafkit".into(),
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            metadata_max_age: Duration::from_secs(300),
            max_in_flight: 5,
            max_response_size: 100 * 1024 * 1024,
            reconnect_backoff: Duration::from_millis(50),
            reconnect_backoff_max: Duration::from_secs(1),
            connections_max_idle: Duration::from_secs(540),
            retry_backoff: Duration::from_millis(100),
            allow_auto_create_topics: true,
            sasl: None,
            security_protocol: SecurityProtocol::Plaintext,
            tls_settings: TlsSettings::default(),
            #[cfg(feature = "_tls")]
            tls_config: None,
        }
    }

    /// `client.id`: sent with every request, shown in broker logs and quotas.
    /// Default `"kafkit"`.
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = id.into();
        self
    }

    /// `request.timeout.ms`: how long to wait for a response, counting the
    /// time to write the request. Default 30 s. A timeout closes the
    /// connection, as in the Java client.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// `socket.connection.setup.timeout.ms`: bound on TCP connect plus,
    /// with TLS, the TLS handshake (the ApiVersions exchange that follows
    /// is a request, bounded by `request.timeout.ms`). Default 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// `metadata.max.age.ms`: refresh metadata at least this often.
    /// Default 5 min.
    pub fn metadata_max_age(mut self, age: Duration) -> Self {
        self.metadata_max_age = age;
        self
    }

    /// `max.in.flight.requests.per.connection`: requests pipelined on one
    /// connection before the next waits. Default 5.
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n;
        self
    }

    /// Largest response frame accepted from a broker (Java's
    /// `socket.receive.buffer` is unrelated; this is a safety cap on untrusted
    /// input). Default 100 MiB.
    pub fn max_response_size(mut self, bytes: usize) -> Self {
        self.max_response_size = bytes;
        self
    }

    /// `reconnect.backoff.ms`: first wait after a failed connect, doubled per
    /// further failure (with ±20% jitter). Default 50 ms.
    pub fn reconnect_backoff(mut self, backoff: Duration) -> Self {
        self.reconnect_backoff = backoff;
        self
    }

    /// `reconnect.backoff.max.ms`: cap of the reconnect backoff. Default 1 s.
    pub fn reconnect_backoff_max(mut self, backoff: Duration) -> Self {
        self.reconnect_backoff_max = backoff;
        self
    }

    /// `connections.max.idle.ms`: close connections unused this long.
    /// Default 9 min.
    pub fn connections_max_idle(mut self, idle: Duration) -> Self {
        self.connections_max_idle = idle;
        self
    }

    /// `retry.backoff.ms`: pause before retrying a failed request or metadata
    /// refresh. Default 100 ms.
    pub fn retry_backoff(mut self, backoff: Duration) -> Self {
        self.retry_backoff = backoff;
        self
    }

    /// `allow.auto.create.topics`: let metadata requests for unknown topics
    /// create them where the broker allows it. Default true (Java producer
    /// and consumer). The admin client never auto-creates.
    pub fn allow_auto_create_topics(mut self, allow: bool) -> Self {
        self.allow_auto_create_topics = allow;
        self
    }

    /// SASL authentication (`sasl.mechanism`, `sasl.jaas.config`): every
    /// connection (bootstrap, brokers, coordinators, reconnects) runs
    /// SaslHandshake and SaslAuthenticate with these settings right after
    /// ApiVersions, and renews its session before the lifetime the broker
    /// gives ends (KIP-368). Default: none. See [`crate::sasl`]. Setting it
    /// makes `security.protocol` `PLAINTEXT` into `SASL_PLAINTEXT` and `SSL`
    /// into `SASL_SSL`.
    ///
    /// ```no_run
    /// # async fn demo() -> kafkit::Result<()> {
    /// use kafkit::sasl::{Credentials, Sasl};
    /// let client = kafkit::Client::builder("broker:9092")
    ///     .sasl(Sasl::scram_sha512(Credentials::new("alice", "alice-secret")))
    ///     .build()
    ///     .await?;
    /// # let _ = client; Ok(()) }
    /// ```
    pub fn sasl(mut self, sasl: Sasl) -> Self {
        self.sasl = Some(sasl);
        self
    }

    /// `security.protocol`: `PLAINTEXT` (the default), `SSL`,
    /// `SASL_PLAINTEXT` or `SASL_SSL`. The TLS protocols need the `tls`
    /// cargo feature and use the TLS settings (CA, client certificate,
    /// hostname verification); the SASL ones need SASL settings.
    /// [`build`](Self::build) reports what is missing as a config error.
    pub fn security_protocol(mut self, protocol: SecurityProtocol) -> Self {
        self.security_protocol = protocol;
        self
    }

    /// The TLS settings (`ssl.*`): trusted CAs, client certificate,
    /// hostname verification. Used when `security.protocol` is `SSL` or
    /// `SASL_SSL` (loaded by [`build`](Self::build); file errors are config
    /// errors there). Default: the system's CA store, no client
    /// certificate, hostnames verified.
    pub fn tls_settings(mut self, settings: TlsSettings) -> Self {
        self.tls_settings = settings;
        self
    }

    /// The TLS settings set so far (for properties, which set them one
    /// key at a time).
    pub(crate) fn tls_settings_mut(&mut self) -> &mut TlsSettings {
        &mut self.tls_settings
    }

    /// A loaded TLS configuration to use instead of
    /// [`tls_settings`](Self::tls_settings): share one handle between
    /// clients, or keep it to rotate certificates
    /// ([`TlsConfig::reload`](crate::tls::TlsConfig::reload)). Needs the
    /// `tls` or `tls-aws-lc` feature.
    #[cfg(feature = "_tls")]
    pub fn tls_config(mut self, config: crate::tls::TlsConfig) -> Self {
        self.tls_config = Some(config);
        self
    }

    /// A ready `rustls::ClientConfig`, used as given (its roots, verifier
    /// and client certificate). Same as
    /// `tls_config(TlsConfig::from_rustls(config))`.
    #[cfg(feature = "_tls")]
    pub fn rustls_config(self, config: std::sync::Arc<crate::tls::rustls::ClientConfig>) -> Self {
        self.tls_config(crate::tls::TlsConfig::from_rustls(config))
    }

    /// `security.protocol` as the connections use it: SASL settings given
    /// through [`sasl`](Self::sasl) turn `PLAINTEXT` into `SASL_PLAINTEXT`
    /// and `SSL` into `SASL_SSL`, so a builder needs not say it twice.
    fn effective_protocol(&self) -> SecurityProtocol {
        match (self.security_protocol, self.sasl.is_some()) {
            (SecurityProtocol::Plaintext, true) => SecurityProtocol::SaslPlaintext,
            (SecurityProtocol::Ssl, true) => SecurityProtocol::SaslSsl,
            (protocol, _) => protocol,
        }
    }

    /// Checks that the settings `security.protocol` needs are there.
    fn validate_security(&self) -> Result<()> {
        let protocol = self.effective_protocol();
        bootstrap::check_schemes(&self.bootstrap, protocol)?;
        if protocol.uses_sasl() && self.sasl.is_none() {
            return Err(Error::Config(format!(
                "security.protocol={protocol} needs SASL settings (sasl.mechanism and its credentials), and none are set"
            )));
        }
        if protocol.uses_tls() && !cfg!(feature = "_tls") {
            return Err(Error::Config(format!(
                "security.protocol={protocol} needs TLS: build kafkit with the `tls` (or `tls-aws-lc`) cargo feature"
            )));
        }
        Ok(())
    }

    /// The transport security for the pool: loads the TLS settings (on a
    /// blocking thread) when the protocol uses TLS.
    async fn security(&self) -> Result<Security> {
        if !self.security_protocol.uses_tls() {
            return Ok(Security::Plaintext);
        }
        #[cfg(feature = "_tls")]
        {
            let tls = match &self.tls_config {
                Some(tls) => tls.clone(),
                None => crate::tls::TlsConfig::load(self.tls_settings.clone()).await?,
            };
            Ok(Security::Tls(tls))
        }
        #[cfg(not(feature = "_tls"))]
        Err(Error::Config(format!(
            "security.protocol={} needs the `tls` cargo feature",
            self.security_protocol
        )))
    }

    /// Checks the settings; returns the bootstrap addresses to connect to.
    pub(crate) fn validate(&self) -> Result<Vec<String>> {
        let bootstrap = bootstrap::parse_list(&self.bootstrap)?;
        if self.max_in_flight == 0 {
            return Err(Error::Config(
                "max.in.flight.requests.per.connection must be at least 1".into(),
            ));
        }
        if self.request_timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(Error::Config("timeouts must be positive".into()));
        }
        if self.max_response_size < 1024 {
            return Err(Error::Config(
                "max response size must be at least 1 KiB".into(),
            ));
        }
        if self.reconnect_backoff > self.reconnect_backoff_max {
            return Err(Error::Config(
                "reconnect.backoff.ms exceeds reconnect.backoff.max.ms".into(),
            ));
        }
        self.validate_security()?;
        Ok(bootstrap)
    }

    /// Builds the client and fetches the cluster's metadata once, so that an
    /// unreachable cluster is reported here rather than at first use.
    ///
    /// Must be called inside a tokio runtime: the client spawns its
    /// metadata refresher and housekeeping tasks on it.
    pub async fn build(self) -> Result<Client> {
        self.validate()?;
        let security = self.security().await?;
        let client = self.start(security)?;
        client.inner.metadata.refresh(0).await?;
        Ok(client)
    }

    /// The client with its tasks started, before any I/O.
    fn start(self, security: Security) -> Result<Client> {
        let bootstrap = self.validate()?;
        let pool = Pool::new(PoolConfig {
            bootstrap,
            connection: ConnectionConfig {
                client_id: Some(self.client_id.as_str().into()),
                request_timeout: self.request_timeout,
                max_in_flight: self.max_in_flight,
                max_response_size: self.max_response_size,
                broker_label: "".into(),
            },
            connect_timeout: self.connect_timeout,
            security: security.clone(),
            reconnect_backoff: self.reconnect_backoff,
            reconnect_backoff_max: self.reconnect_backoff_max,
            connections_max_idle: self.connections_max_idle,
            sasl: self.sasl.clone(),
        });
        let metadata = MetadataHandle::spawn(
            pool.clone(),
            MetadataConfig {
                max_age: self.metadata_max_age,
                retry_backoff: self.retry_backoff,
                allow_auto_topic_creation: self.allow_auto_create_topics,
            },
        );
        let housekeeping = tokio::spawn(housekeeping(pool.clone(), self.connections_max_idle));
        let client = Client {
            inner: Arc::new(Inner {
                config: self,
                pool,
                metadata,
                closed: AtomicBool::new(false),
                housekeeping,
                security,
            }),
        };
        Ok(client)
    }
}

/// A client that has not connected to anything (its bootstrap address
/// refuses connections): for unit tests of builders. Needs a runtime.
#[cfg(test)]
pub(crate) fn unconnected_for_tests() -> Client {
    match ClientBuilder::new("127.0.0.1:1").start(Security::Plaintext) {
        Ok(client) => client,
        Err(e) => panic!("{e}"),
    }
}

/// Closes idle connections now and then. Holds only the pool, so it does
/// not keep the client alive; it is aborted when the client goes away.
async fn housekeeping(pool: Pool, idle: Duration) {
    let period = (idle / 4).max(Duration::from_secs(1));
    loop {
        tokio::time::sleep(period).await;
        pool.evict_idle();
    }
}

/// A handle to a Kafka cluster: settings, connection pool and metadata cache.
///
/// Cheap to clone; clones share everything. Producers, consumers and the
/// [`Admin`](crate::Admin) client are built from it. Dropping the last clone stops its
/// background tasks without I/O; [`Client::close`] does the same eagerly.
///
/// ```no_run
/// # async fn demo() -> kafkit::Result<()> {
/// let client = kafkit::Client::builder("localhost:9092").client_id("demo").build().await?;
/// let cluster = client.metadata();
/// println!("{} brokers", cluster.brokers.len());
/// client.close(std::time::Duration::from_secs(5)).await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    config: ClientBuilder,
    pool: Pool,
    metadata: MetadataHandle,
    closed: AtomicBool,
    housekeeping: tokio::task::JoinHandle<()>,
    #[cfg_attr(not(feature = "_tls"), allow(dead_code))]
    security: Security,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // No I/O here: aborting a task and closing connections only flips
        // flags and drops channels.
        self.housekeeping.abort();
        self.pool.close_all();
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("bootstrap", &self.inner.config.bootstrap)
            .field("client_id", &self.inner.config.client_id)
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl Client {
    /// A [`ClientBuilder`] for `bootstrap_servers` (`host:port[,host:port...]`).
    pub fn builder(bootstrap_servers: impl AsRef<str>) -> ClientBuilder {
        ClientBuilder::new(bootstrap_servers)
    }

    /// The `client.id` this client sends (default "kafkit").
    pub fn client_id(&self) -> &str {
        &self.inner.config.client_id
    }

    /// The latest metadata snapshot (no I/O).
    pub fn metadata(&self) -> Arc<ClusterMetadata> {
        self.inner.metadata.snapshot()
    }

    /// Fetches fresh metadata and returns it.
    pub async fn refresh_metadata(&self) -> Result<Arc<ClusterMetadata>> {
        self.ensure_open()?;
        let seen = self.inner.metadata.snapshot().generation;
        self.inner.metadata.refresh(seen).await
    }

    /// Metadata that includes `topics` (refreshing if any is unknown).
    /// Topics the broker does not know are listed in
    /// [`ClusterMetadata::topic_errors`].
    pub async fn metadata_for(&self, topics: &[&str]) -> Result<Arc<ClusterMetadata>> {
        self.ensure_open()?;
        self.inner.metadata.topics(topics).await
    }

    /// The API versions broker `broker_id` advertised. Low-level and
    /// unstable (its type lives in the internal protocol module).
    #[doc(hidden)]
    pub async fn api_versions(&self, broker_id: i32) -> Result<BrokerApiVersions> {
        Ok(self.connection(broker_id).await?.api_versions().clone())
    }

    /// What the connection to broker `broker_id` negotiated: security
    /// protocol, TLS version and cipher suite, SASL mechanism and session
    /// lifetime. Connects first if needed, so a wrong password or an untrusted
    /// certificate is the error here. Every connection of a client is set up
    /// the same way; this asks the one for control requests.
    ///
    /// ```no_run
    /// # async fn demo(client: kafkit::Client) -> kafkit::Result<()> {
    /// for &broker in client.metadata().brokers.keys() {
    ///     println!("broker {broker}: {}", client.connection_security(broker).await?);
    /// }
    /// // SASL_SSL (TLSv1.3 TLS13_AES_256_GCM_SHA384, SASL SCRAM-SHA-512)
    /// # Ok(()) }
    /// ```
    pub async fn connection_security(&self, broker_id: i32) -> Result<ConnectionSecurity> {
        Ok(self.connection(broker_id).await?.security())
    }

    /// A connection to broker `broker_id` for short control requests.
    pub(crate) async fn connection(&self, broker_id: i32) -> Result<Connection> {
        self.ensure_open()?;
        self.inner
            .pool
            .get(BrokerRef::Node(broker_id), Lane::Control)
            .await
    }

    /// Sends a request to broker `broker_id` and waits for its response.
    /// Low-level and unstable: for codec tests that speak the protocol
    /// directly (request types from the internal protocol module).
    #[doc(hidden)]
    pub async fn send_to<R>(&self, broker_id: i32, req: R) -> Result<R::Response>
    where
        R: VersionedRequest,
        R::Response: ThrottleTime,
    {
        self.connection(broker_id).await?.send(req).await
    }

    /// Sends a request to any reachable broker; returns the broker's id (or
    /// `None` when it was a bootstrap address) and the response.
    pub(crate) async fn send_any<R>(&self, req: R) -> Result<(Option<i32>, R::Response)>
    where
        R: VersionedRequest + Clone,
        R::Response: ThrottleTime,
    {
        self.ensure_open()?;
        let known: Vec<i32> = self.metadata().brokers.keys().copied().collect();
        let (broker, resp) = self.inner.pool.send_any(&known, req).await?;
        Ok((
            match broker {
                BrokerRef::Node(id) => Some(id),
                BrokerRef::Bootstrap(_) => None,
            },
            resp,
        ))
    }

    /// FindCoordinator for `key` to any broker: the coordinator's node id,
    /// or why not. A coordinator metadata does not list yet is made
    /// reachable at the address FindCoordinator gave (the pool reaches
    /// brokers by the addresses metadata lists).
    pub(crate) async fn find_coordinator(&self, kind: CoordinatorKey, key: &str) -> Result<i32> {
        // `send_any` picks the version per broker: the request must be valid
        // at every version we speak (see `protocol::coordinator`).
        let request = coordinator::find_coordinator(FindCoordinatorRequest::MAX_VERSION, kind, key);
        let (answered_by, response) = self.send_any(request).await?;
        let (node_id, host, port) =
            coordinator::coordinator_from(&response, key).map_err(|e| match answered_by {
                Some(id) => e.map_context(|c| c.with_broker(format!("node {id}"))),
                None => e,
            })?;
        if !self.metadata().brokers.contains_key(&node_id) {
            self.inner
                .pool
                .set_brokers([(node_id, bootstrap::host_port(&host, port))]);
        }
        Ok(node_id)
    }

    /// The TLS configuration this client's connections use (`None` when
    /// `security.protocol` does not use TLS). Rotate certificates through
    /// it: [`TlsConfig::reload`](crate::tls::TlsConfig::reload) after the
    /// files were replaced, or [`TlsConfig::update`](crate::tls::TlsConfig::update)
    /// with new settings; new connections use the new material, open ones
    /// keep theirs.
    #[cfg(feature = "_tls")]
    pub fn tls(&self) -> Option<crate::tls::TlsConfig> {
        match &self.inner.security {
            Security::Tls(tls) => Some(tls.clone()),
            Security::Plaintext => None,
        }
    }

    /// Whether [`Client::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// Closes the client: background tasks stop, connections close,
    /// in-flight requests fail with [`Error::Disconnected`] and requests
    /// waiting for a connection (a connect or handshake in progress, a
    /// reconnect backoff) fail with [`Error::Closed`]. Every clone sees the
    /// client closed.
    ///
    /// Waits until no connect attempt is left in progress, but never longer
    /// than `timeout`. Nothing needs flushing at this level (producers built
    /// on the client flush within their own `close`).
    pub async fn close(&self, timeout: Duration) {
        if !self.inner.closed.swap(true, Ordering::AcqRel) {
            self.inner.housekeeping.abort();
            self.inner.pool.close_all();
        }
        if tokio::time::timeout(timeout, self.inner.pool.connects_done())
            .await
            .is_err()
        {
            tracing::debug!(
                ?timeout,
                "close: connect attempts still ending after the timeout"
            );
        }
    }

    pub(crate) fn ensure_open(&self) -> Result<()> {
        if self.is_closed() {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    pub(crate) fn metadata_handle(&self) -> &MetadataHandle {
        &self.inner.metadata
    }

    #[allow(dead_code)] // used by producer/consumer lanes
    pub(crate) fn pool(&self) -> &Pool {
        &self.inner.pool
    }

    pub(crate) fn retry_backoff(&self) -> Duration {
        self.inner.config.retry_backoff
    }

    pub(crate) fn request_timeout(&self) -> Duration {
        self.inner.config.request_timeout
    }

    /// `metadata.max.age.ms`: also how often a pattern subscription looks
    /// for new matching topics.
    pub(crate) fn metadata_max_age(&self) -> Duration {
        self.inner.config.metadata_max_age
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_list_parses_and_validates() {
        let b = ClientBuilder::new(" a:1, b:2 ,,");
        assert_eq!(b.validate().unwrap(), ["a:1", "b:2"]);
        for bad in ["", "nohost", "h:notaport", ":9092", "h:70000"] {
            let err = ClientBuilder::new(bad).validate().unwrap_err();
            assert!(err.is_fatal(), "{bad}: {err}");
        }
        assert!(
            ClientBuilder::new("a:1")
                .max_in_flight(0)
                .validate()
                .is_err()
        );
        assert!(
            ClientBuilder::new("a:1")
                .reconnect_backoff(Duration::from_secs(5))
                .validate()
                .is_err()
        );
    }

    #[test]
    fn sasl_protocols_without_sasl_settings_are_config_errors() {
        for protocol in [SecurityProtocol::SaslPlaintext, SecurityProtocol::SaslSsl] {
            let err = ClientBuilder::new("a:1")
                .security_protocol(protocol)
                .validate()
                .unwrap_err();
            assert!(matches!(err, Error::Config(_)), "{err}");
            let text = err.to_string();
            assert!(text.contains(protocol.name()), "{text}");
            assert!(text.contains("sasl.mechanism"), "{text}");
        }
        assert!(
            ClientBuilder::new("a:1")
                .security_protocol(SecurityProtocol::Plaintext)
                .validate()
                .is_ok()
        );
    }

    #[tokio::test]
    async fn unreachable_bootstrap_fails_build_with_retriable_error() {
        let err = Client::builder("127.0.0.1:1")
            .request_timeout(Duration::from_millis(500))
            .build()
            .await
            .unwrap_err();
        assert!(matches!(err, Error::NoBrokerAvailable(_)), "{err}");
        assert!(err.is_retriable());
    }
}
