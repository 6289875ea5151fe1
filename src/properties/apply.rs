//! Each layer's keys and how their values are read: the client's, the
//! producer's and the consumer's. A layer applies its own keys through the
//! builders' public setters, skips the keys another layer knows, and
//! refuses the rest by name.

use std::sync::Arc;
use std::time::Duration;

use super::Properties;
use crate::client::{ClientBuilder, parse_bootstrap};
use crate::consumer::assignor::{Assignor, CooperativeSticky, Range, RoundRobin, Sticky};
use crate::consumer::{ConsumerBuilder, IsolationLevel, OffsetReset};
use crate::error::{Error, Result};
use crate::net::sasl::SaslSettings;
use crate::net::transport::SecurityProtocol;
use crate::producer::partitioner::PartitionerKind;
use crate::producer::{Acks, ProducerBuilder};
use crate::protocol::records::Compression;

/// Keys `ClientBuilder::from_properties` applies.
pub(crate) const CLIENT_KEYS: &[&str] = &[
    "bootstrap.servers",
    "client.id",
    "request.timeout.ms",
    "socket.connection.setup.timeout.ms",
    "metadata.max.age.ms",
    "reconnect.backoff.ms",
    "reconnect.backoff.max.ms",
    "connections.max.idle.ms",
    "retry.backoff.ms",
    "allow.auto.create.topics",
    "security.protocol",
    // SASL (see `net::sasl::jaas`): Java's, then librdkafka's names.
    "sasl.mechanism",
    "sasl.jaas.config",
    "sasl.mechanisms",
    "sasl.username",
    "sasl.password",
    "sasl.oauthbearer.config",
    "enable.sasl.oauthbearer.unsecure.jwt",
    "ssl.ca.location",
    "ssl.truststore.location",
    "ssl.truststore.type",
    "ssl.truststore.certificates",
    "ssl.truststore.password",
    "ssl.certificate.location",
    "ssl.key.location",
    "ssl.keystore.location",
    "ssl.keystore.type",
    "ssl.keystore.certificate.chain",
    "ssl.keystore.key",
    "ssl.keystore.password",
    "ssl.key.password",
    "ssl.endpoint.identification.algorithm",
];

/// Keys `ProducerBuilder::properties` applies (or refuses with advice).
pub(crate) const PRODUCER_KEYS: &[&str] = &[
    "acks",
    "linger.ms",
    "batch.size",
    "max.request.size",
    "buffer.memory",
    "max.block.ms",
    "compression.type",
    "delivery.timeout.ms",
    "request.timeout.ms",
    "retry.backoff.ms",
    "retry.backoff.max.ms",
    "max.in.flight.requests.per.connection",
    "enable.idempotence",
    "partitioner.class",
    "partitioner.ignore.keys",
    "retries",
    "transactional.id",
    "transaction.timeout.ms",
];

/// Keys `ConsumerBuilder::properties` applies.
pub(crate) const CONSUMER_KEYS: &[&str] = &[
    "group.id",
    "group.instance.id",
    "group.protocol",
    "auto.offset.reset",
    "enable.auto.commit",
    "auto.commit.interval.ms",
    "isolation.level",
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "max.poll.interval.ms",
    "max.poll.records",
    "fetch.min.bytes",
    "fetch.max.bytes",
    "fetch.max.wait.ms",
    "max.partition.fetch.bytes",
    "check.crcs",
    "client.rack",
    "partition.assignment.strategy",
];

/// Java-only keys that change nothing here: ignored with a `debug!`.
/// (Serializers are Rust types given to the builders; metrics and socket
/// buffer sizes are the JVM's or the OS's.)
pub(crate) const HARMLESS_KEYS: &[&str] = &[
    "key.serializer",
    "value.serializer",
    "key.deserializer",
    "value.deserializer",
    "metric.reporters",
    "metrics.num.samples",
    "metrics.sample.window.ms",
    "metrics.recording.level",
    "auto.include.jmx.reporter",
    "enable.metrics.push",
    "send.buffer.bytes",
    "receive.buffer.bytes",
    "client.dns.lookup",
    "socket.connection.setup.timeout.max.ms",
];

/// Java keys (or key prefixes, ending in `.`) kafkit does not implement:
/// refused as "not supported" rather than silently ignored.
const UNSUPPORTED: &[&str] = &[
    "ssl.",
    "sasl.kerberos.",
    "sasl.login.",
    "sasl.client.",
    "sasl.oauthbearer.token.",
    "sasl.oauthbearer.jwks.",
    "sasl.oauthbearer.scope.",
    "sasl.oauthbearer.sub.",
    "sasl.oauthbearer.expected.",
    "sasl.oauthbearer.clock.",
    "sasl.oauthbearer.client.",
    "sasl.oauthbearer.method",
    "sasl.oauthbearer.assertion.",
    "sasl.oauthbearer.header.",
    "sasl.oauthbearer.jwt.",
    "sasl.oauthbearer.grant.",
    "sasl.oauthbearer.cert.",
    "sasl.oauthbearer.extensions",
    "security.providers",
    "interceptor.classes",
    "default.api.timeout.ms",
    "exclude.internal.topics",
    "partitioner.adaptive.partitioning.enable",
    "partitioner.availability.timeout.ms",
    "compression.gzip.level",
    "compression.lz4.level",
    "compression.zstd.level",
    "internal.leave.group.on.close",
    "group.remote.assignor",
];

impl ClientBuilder {
    /// A builder configured from Java-style properties (see
    /// [`Properties`]): `bootstrap.servers` (required), `client.id`,
    /// `request.timeout.ms`, `socket.connection.setup.timeout.ms`,
    /// `metadata.max.age.ms`, `reconnect.backoff.ms`,
    /// `reconnect.backoff.max.ms`, `connections.max.idle.ms`,
    /// `retry.backoff.ms`, `allow.auto.create.topics` and
    /// `security.protocol` (`PLAINTEXT`, `SSL`, `SASL_PLAINTEXT`,
    /// `SASL_SSL`; the TLS ones need the `tls` cargo feature).
    ///
    /// With `security.protocol=SASL_PLAINTEXT` or `SASL_SSL` the SASL keys
    /// apply (else they are ignored, as in Java): `sasl.mechanism` (`PLAIN`,
    /// `SCRAM-SHA-256`, `SCRAM-SHA-512`, `OAUTHBEARER`; librdkafka's
    /// `sasl.mechanisms` too), `sasl.jaas.config` in Java's
    /// `PlainLoginModule` / `ScramLoginModule required username=".."
    /// password="..";` forms (or `OAuthBearerLoginModule` with
    /// `unsecuredLoginStringClaim_sub`, for unsigned test tokens),
    /// librdkafka's `sasl.username` / `sasl.password` and
    /// `sasl.oauthbearer.config` (`principal=.. lifeSeconds=..
    /// scope=.. extension_NAME=..`). Real OAUTHBEARER tokens and rotating
    /// passwords are given in code with [`ClientBuilder::sasl`].
    ///
    /// Producer and consumer keys are left for their builders'
    /// `properties`; Java keys kafkit does not implement (`ssl.*`,
    /// `sasl.*`, `interceptor.classes`, ...) and unknown keys are config
    /// errors naming the key, as are bad values.
    pub fn from_properties(props: &Properties) -> Result<ClientBuilder> {
        let servers = props
            .get("bootstrap.servers")
            .ok_or_else(|| Error::Config("bootstrap.servers is required".into()))?;
        // Checked here so that a bad entry is reported with the file.
        parse_bootstrap(servers)?;
        let mut b = ClientBuilder::new(servers);
        let mut sasl = SaslSettings::default();
        for (key, value) in props.iter() {
            let v = Value { key, value };
            b = match key {
                _ if sasl.set(key, value) => b,
                "bootstrap.servers" => b,
                "client.id" => b.client_id(value),
                "request.timeout.ms" => b.request_timeout(v.positive_ms()?),
                "socket.connection.setup.timeout.ms" => b.connect_timeout(v.positive_ms()?),
                "metadata.max.age.ms" => b.metadata_max_age(v.ms()?),
                "reconnect.backoff.ms" => b.reconnect_backoff(v.ms()?),
                "reconnect.backoff.max.ms" => b.reconnect_backoff_max(v.ms()?),
                "connections.max.idle.ms" => b.connections_max_idle(v.ms()?),
                "retry.backoff.ms" => b.retry_backoff(v.ms()?),
                "allow.auto.create.topics" => b.allow_auto_create_topics(v.bool()?),
                "security.protocol" => b.security_protocol(v.security_protocol()?),
                key if key.starts_with("ssl.") => {
                    apply_ssl(b.tls_settings_mut(), &v)?;
                    b
                }
                _ => {
                    not_mine(key, "client")?;
                    b
                }
            };
        }
        let uses_sasl = props.get("security.protocol").is_some_and(|p| {
            p.trim().eq_ignore_ascii_case("SASL_PLAINTEXT")
                || p.trim().eq_ignore_ascii_case("SASL_SSL")
        });
        if uses_sasl {
            if sasl.is_empty() {
                return Err(Error::Config(
                    "security.protocol=SASL_PLAINTEXT needs sasl.mechanism and its credentials \
                     (sasl.jaas.config, or sasl.username and sasl.password)"
                        .into(),
                ));
            }
            b = b.sasl(sasl.build()?);
        } else if !sasl.is_empty() {
            tracing::warn!(
                "sasl.* settings ignored: security.protocol is not SASL_PLAINTEXT or SASL_SSL"
            );
        }
        Ok(b)
    }
}

impl<K: Send + Sync + 'static, V: Send + Sync + 'static> ProducerBuilder<K, V> {
    /// Applies the producer settings of Java-style properties (see
    /// [`Properties`]): `acks` (`0`, `1`, `all`/`-1`), `linger.ms`,
    /// `batch.size`, `max.request.size`, `buffer.memory`, `max.block.ms`,
    /// `compression.type`, `delivery.timeout.ms`, `request.timeout.ms`,
    /// `retry.backoff.ms`, `retry.backoff.max.ms`,
    /// `max.in.flight.requests.per.connection`, `enable.idempotence`,
    /// `partitioner.class` (Java's `RoundRobinPartitioner`, or the default),
    /// `partitioner.ignore.keys`, `retries` (only Java's default: kafkit
    /// retries until `delivery.timeout.ms`).
    ///
    /// `transactional.id` is refused: build a `TransactionalProducer`
    /// ([`ProducerBuilder::transactional_id`]). Client and consumer keys are
    /// skipped (one file may hold them all); Java keys kafkit does not
    /// implement and unknown keys are config errors naming the key, as are
    /// bad values.
    pub fn properties(mut self, props: &Properties) -> Result<Self> {
        for (key, value) in props.iter() {
            let v = Value { key, value };
            self = match key {
                "acks" => self.acks(match value.trim() {
                    "0" => Acks::None,
                    "1" => Acks::Leader,
                    "all" | "-1" => Acks::All,
                    _ => return Err(v.bad("expected 0, 1, all or -1")),
                }),
                "linger.ms" => self.linger(v.ms()?),
                "batch.size" => self.batch_size(v.number()?),
                "max.request.size" => self.max_request_size(v.number()?),
                "buffer.memory" => self.buffer_memory(v.number()?),
                "max.block.ms" => self.max_block(v.ms()?),
                "compression.type" => self.compression(
                    value
                        .trim()
                        .parse::<Compression>()
                        .map_err(|_| v.bad("expected none, gzip, snappy, lz4 or zstd"))?,
                ),
                "delivery.timeout.ms" => self.delivery_timeout(v.positive_ms()?),
                "request.timeout.ms" => self.request_timeout(v.positive_ms()?),
                "retry.backoff.ms" => self.retry_backoff(v.ms()?),
                "retry.backoff.max.ms" => self.retry_backoff_max(v.ms()?),
                "max.in.flight.requests.per.connection" => self.max_in_flight(v.number()?),
                "enable.idempotence" => self.enable_idempotence(v.bool()?),
                "partitioner.class" => self.partitioner(match value.trim() {
                    "" | "org.apache.kafka.clients.producer.internals.DefaultPartitioner" => {
                        PartitionerKind::Default
                    }
                    "org.apache.kafka.clients.producer.RoundRobinPartitioner" => {
                        PartitionerKind::RoundRobin
                    }
                    _ => {
                        return Err(v.bad(
                            "not supported: only RoundRobinPartitioner or the default; \
                             give your own with ProducerBuilder::partitioner",
                        ));
                    }
                }),
                "partitioner.ignore.keys" => self.partitioner_ignore_keys(v.bool()?),
                "retries" => {
                    if v.number::<u64>()? != i32::MAX as u64 {
                        return Err(v.bad(
                            "not supported: kafkit retries until delivery.timeout.ms \
                             (Java's default, retries=2147483647)",
                        ));
                    }
                    self
                }
                "transactional.id" | "transaction.timeout.ms" => {
                    return Err(Error::Config(format!(
                        "{key}: not supported by Producer; build a TransactionalProducer \
                         with ProducerBuilder::transactional_id"
                    )));
                }
                _ => {
                    not_mine(key, "producer")?;
                    self
                }
            };
        }
        Ok(self)
    }
}

impl<K: Send + 'static, V: Send + 'static> ConsumerBuilder<K, V> {
    /// Applies the consumer settings of Java-style properties (see
    /// [`Properties`]): `group.id`, `group.instance.id`, `group.protocol`
    /// (only `classic`), `auto.offset.reset`, `enable.auto.commit`,
    /// `auto.commit.interval.ms`, `isolation.level`, `session.timeout.ms`,
    /// `heartbeat.interval.ms`, `max.poll.interval.ms`, `max.poll.records`,
    /// `fetch.min.bytes`, `fetch.max.bytes`, `fetch.max.wait.ms`,
    /// `max.partition.fetch.bytes`, `check.crcs`, `client.rack` and
    /// `partition.assignment.strategy` (a comma list of Java class names or
    /// `range`, `roundrobin`, `sticky`, `cooperative-sticky`).
    ///
    /// Client and producer keys are skipped (one file may hold them all);
    /// Java keys kafkit does not implement and unknown keys are config
    /// errors naming the key, as are bad values.
    pub fn properties(mut self, props: &Properties) -> Result<Self> {
        for (key, value) in props.iter() {
            let v = Value { key, value };
            self = match key {
                "group.id" => self.group_id(value),
                "group.instance.id" => self.group_instance_id(value),
                "group.protocol" => {
                    if !value.trim().eq_ignore_ascii_case("classic") {
                        return Err(v.bad("not supported yet: only the classic protocol"));
                    }
                    self
                }
                "auto.offset.reset" => self.auto_offset_reset(match value.trim() {
                    "earliest" => OffsetReset::Earliest,
                    "latest" => OffsetReset::Latest,
                    "none" => OffsetReset::None,
                    _ => return Err(v.bad("expected earliest, latest or none")),
                }),
                "enable.auto.commit" => self.enable_auto_commit(v.bool()?),
                "auto.commit.interval.ms" => self.auto_commit_interval(v.ms()?),
                "isolation.level" => self.isolation_level(match value.trim() {
                    "read_uncommitted" => IsolationLevel::ReadUncommitted,
                    "read_committed" => IsolationLevel::ReadCommitted,
                    _ => return Err(v.bad("expected read_uncommitted or read_committed")),
                }),
                "session.timeout.ms" => self.session_timeout(v.positive_ms()?),
                "heartbeat.interval.ms" => self.heartbeat_interval(v.positive_ms()?),
                "max.poll.interval.ms" => self.max_poll_interval(v.positive_ms()?),
                "max.poll.records" => self.max_poll_records(v.number()?),
                "fetch.min.bytes" => self.fetch_min_bytes(v.number()?),
                "fetch.max.bytes" => self.fetch_max_bytes(v.number()?),
                "fetch.max.wait.ms" => self.fetch_max_wait(v.ms()?),
                "max.partition.fetch.bytes" => self.max_partition_fetch_bytes(v.number()?),
                "check.crcs" => self.check_crcs(v.bool()?),
                "client.rack" => self.client_rack(value.trim().to_owned()),
                "partition.assignment.strategy" => {
                    self.partition_assignment_strategy(assignors(&v)?)
                }
                _ => {
                    not_mine(key, "consumer")?;
                    self
                }
            };
        }
        Ok(self)
    }
}

/// `partition.assignment.strategy`: Java class names or short names.
fn assignors(v: &Value<'_>) -> Result<Vec<Arc<dyn Assignor>>> {
    let mut out: Vec<Arc<dyn Assignor>> = Vec::new();
    for name in v.value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let short = name
            .strip_prefix("org.apache.kafka.clients.consumer.")
            .unwrap_or(name);
        out.push(match short {
            "range" | "RangeAssignor" => Arc::new(Range),
            "roundrobin" | "RoundRobinAssignor" => Arc::new(RoundRobin),
            "sticky" | "StickyAssignor" => Arc::new(Sticky),
            "cooperative-sticky" | "CooperativeStickyAssignor" => Arc::new(CooperativeSticky),
            _ => {
                return Err(v.bad(&format!(
                    "unknown assignor {name:?} (range, roundrobin, sticky, cooperative-sticky \
                     or their Java class names; give your own with \
                     ConsumerBuilder::partition_assignment_strategy)"
                )));
            }
        });
    }
    if out.is_empty() {
        return Err(v.bad("no assignor named"));
    }
    Ok(out)
}

/// One `ssl.*` key of [`CLIENT_KEYS`] into the TLS settings (PEM only:
/// Java's JKS/PKCS12 stores are refused when the settings are loaded).
fn apply_ssl(tls: &mut crate::tls::TlsSettings, v: &Value<'_>) -> Result<()> {
    let path = || std::path::PathBuf::from(v.value.trim());
    let value = v.value.trim();
    match v.key {
        "ssl.ca.location" | "ssl.truststore.location" => tls.ca_file = Some(path()),
        "ssl.truststore.type" => tls.truststore_type = Some(value.to_owned()),
        "ssl.truststore.certificates" => tls.ca_pem = Some(v.value.to_owned()),
        // A PEM truststore has no password; Java refuses one, we ignore it.
        "ssl.truststore.password" => {}
        "ssl.certificate.location" => tls.cert_file = Some(path()),
        "ssl.key.location" => tls.key_file = Some(path()),
        // A PEM keystore holds the certificate chain and the key.
        "ssl.keystore.location" => {
            tls.cert_file.get_or_insert_with(path);
            tls.key_file.get_or_insert_with(path);
        }
        "ssl.keystore.type" => tls.keystore_type = Some(value.to_owned()),
        "ssl.keystore.certificate.chain" => tls.cert_pem = Some(v.value.to_owned()),
        "ssl.keystore.key" => tls.key_pem = Some(v.value.to_owned()),
        "ssl.keystore.password" | "ssl.key.password" => {
            tls.key_password_given |= !v.value.is_empty();
        }
        "ssl.endpoint.identification.algorithm" => {
            tls.verify_hostname = match value.to_ascii_lowercase().as_str() {
                "https" => true,
                "" | "none" => false,
                _ => return Err(v.bad("expected https, or empty to disable")),
            }
        }
        _ => not_mine(v.key, "client")?,
    }
    Ok(())
}

/// What a layer does with a key that is not its own: skip another layer's,
/// skip a harmless Java-only one (with a `debug!`), refuse the rest.
fn not_mine(key: &str, layer: &str) -> Result<()> {
    if CLIENT_KEYS.contains(&key) || PRODUCER_KEYS.contains(&key) || CONSUMER_KEYS.contains(&key) {
        return Ok(());
    }
    if HARMLESS_KEYS.contains(&key) {
        tracing::debug!(key, layer, "Java-only configuration key ignored");
        return Ok(());
    }
    let unsupported = UNSUPPORTED.iter().any(|u| match u.strip_suffix('.') {
        Some(prefix) => key.starts_with(prefix) && key.len() > prefix.len(),
        None => key == *u,
    });
    // The value is never shown: an unknown key may hold a secret.
    Err(Error::Config(if unsupported {
        format!("configuration key {key:?} is not supported by kafkit (yet)")
    } else {
        format!("unknown configuration key {key:?}")
    }))
}

/// One key's value, read with errors that name the key.
struct Value<'a> {
    key: &'a str,
    value: &'a str,
}

impl Value<'_> {
    fn bad(&self, why: &str) -> Error {
        Error::Config(format!("{}={:?}: {why}", self.key, self.value))
    }

    fn number<T: std::str::FromStr>(&self) -> Result<T> {
        self.value
            .trim()
            .parse()
            .map_err(|_| self.bad("not a number in range"))
    }

    fn ms(&self) -> Result<Duration> {
        Ok(Duration::from_millis(self.number::<u64>().map_err(
            |_| self.bad("expected milliseconds (a whole number, 0 or more)"),
        )?))
    }

    fn positive_ms(&self) -> Result<Duration> {
        let d = self.ms()?;
        if d.is_zero() {
            return Err(self.bad("must be more than 0"));
        }
        Ok(d)
    }

    fn bool(&self) -> Result<bool> {
        match self.value.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(self.bad("expected true or false")),
        }
    }

    fn security_protocol(&self) -> Result<SecurityProtocol> {
        self.value
            .parse()
            .map_err(|_| self.bad("expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Properties {
        pairs.iter().copied().collect()
    }

    /// A value each known key accepts.
    fn sample(key: &str) -> &'static str {
        match key {
            "bootstrap.servers" => "PLAINTEXT://localhost:9092, [::1]:9093",
            "security.protocol" => "PLAINTEXT",
            "sasl.mechanism" | "sasl.mechanisms" => "PLAIN",
            "sasl.jaas.config" => {
                "org.apache.kafka.common.security.plain.PlainLoginModule required \
                 username=\"u\" password=\"p\";"
            }
            "sasl.oauthbearer.config" => "principal=u",
            "ssl.endpoint.identification.algorithm" => "https",
            "acks" => "all",
            "compression.type" => "zstd",
            "partitioner.class" => "org.apache.kafka.clients.producer.RoundRobinPartitioner",
            "retries" => "2147483647",
            "group.protocol" => "classic",
            "auto.offset.reset" => "earliest",
            "isolation.level" => "read_committed",
            "partition.assignment.strategy" => {
                "org.apache.kafka.clients.consumer.RangeAssignor, cooperative-sticky"
            }
            k if k.ends_with(".ms") => "1000",
            k if k.starts_with("enable.")
                || k.starts_with("allow.")
                || k.ends_with(".keys")
                || k == "check.crcs" =>
            {
                "true"
            }
            "client.id" | "group.id" | "group.instance.id" | "client.rack" => "name",
            _ => "100",
        }
    }

    #[tokio::test]
    async fn every_layer_takes_its_keys_and_skips_the_others() {
        let mut all = Properties::new();
        for key in CLIENT_KEYS.iter().chain(PRODUCER_KEYS).chain(CONSUMER_KEYS) {
            if !key.starts_with("transaction") {
                all.set(*key, sample(key));
            }
        }
        all.set(
            "key.serializer",
            "org.apache.kafka.common.serialization.StringSerializer",
        );
        ClientBuilder::from_properties(&all).unwrap();
        // Producer and consumer builders need a client; one that was never
        // connected is enough for applying settings.
        let c = unconnected_client();
        crate::producer::Producer::<String, String>::builder(&c)
            .properties(&all)
            .unwrap();
        crate::consumer::Consumer::<String, String>::builder(&c)
            .properties(&all)
            .unwrap();
    }

    fn unconnected_client() -> crate::Client {
        crate::client::unconnected_for_tests()
    }

    #[tokio::test]
    async fn unknown_unsupported_and_bad_values_are_refused_by_name() {
        let c = unconnected_client();
        let base = [("bootstrap.servers", "h:1")];
        let cases: &[(&str, &str, &str)] = &[
            (
                "boostrap.servers",
                "h:1",
                "unknown configuration key \"boostrap.servers\"",
            ),
            (
                "ssl.enabled.protocols",
                "TLSv1.2",
                "\"ssl.enabled.protocols\" is not supported",
            ),
            (
                "ssl.endpoint.identification.algorithm",
                "http",
                "ssl.endpoint.identification.algorithm=\"http\": expected https",
            ),
            (
                "sasl.kerberos.service.name",
                "secret",
                "\"sasl.kerberos.service.name\" is not supported",
            ),
            (
                "interceptor.classes",
                "x",
                "\"interceptor.classes\" is not supported",
            ),
            (
                "security.protocol",
                "SASL-SSL",
                "security.protocol=\"SASL-SSL\": expected PLAINTEXT, SSL",
            ),
            ("request.timeout.ms", "-5", "request.timeout.ms=\"-5\""),
            (
                "allow.auto.create.topics",
                "yes",
                "allow.auto.create.topics=\"yes\"",
            ),
        ];
        for (key, value, expected) in cases {
            let mut p = props(&base);
            p.set(*key, *value);
            let err = ClientBuilder::from_properties(&p).unwrap_err().to_string();
            assert!(err.contains(expected), "{key}: {err}");
            assert!(
                !err.contains("secret"),
                "values of unknown keys are not shown: {err}"
            );
        }
        let err = ClientBuilder::from_properties(&props(&[("client.id", "x")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("bootstrap.servers is required"), "{err}");
        let err = ClientBuilder::from_properties(&props(&[("bootstrap.servers", "h:1,bad")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"bad\""), "{err}");

        let producer_cases: &[(&str, &str, &str)] = &[
            ("acks", "2", "acks=\"2\""),
            ("linger.ms", "soon", "linger.ms=\"soon\""),
            ("compression.type", "brotli", "compression.type=\"brotli\""),
            ("transactional.id", "t", "TransactionalProducer"),
            ("retries", "3", "retries=\"3\": not supported"),
            ("group.idd", "g", "unknown configuration key \"group.idd\""),
        ];
        for (key, value, expected) in producer_cases {
            let err = crate::producer::Producer::<String, String>::builder(&c)
                .properties(&props(&[(key, value)]))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(expected), "{key}: {err}");
        }
        let consumer_cases: &[(&str, &str, &str)] = &[
            (
                "auto.offset.reset",
                "smallest",
                "auto.offset.reset=\"smallest\"",
            ),
            ("isolation.level", "serializable", "isolation.level"),
            (
                "partition.assignment.strategy",
                "range,balanced",
                "unknown assignor \"balanced\"",
            ),
            ("group.protocol", "consumer", "only the classic protocol"),
            ("max.poll.records", "many", "max.poll.records"),
            ("lingerms", "1", "unknown configuration key \"lingerms\""),
        ];
        for (key, value, expected) in consumer_cases {
            let err = crate::consumer::Consumer::<String, String>::builder(&c)
                .properties(&props(&[(key, value)]))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(expected), "{key}: {err}");
        }
    }

    #[test]
    fn sasl_keys_are_client_keys() {
        for key in crate::net::sasl::jaas::SASL_KEYS {
            assert!(CLIENT_KEYS.contains(key), "{key}");
        }
    }

    #[test]
    fn sasl_plaintext_properties_configure_sasl_without_showing_the_password() {
        let scram = props(&[
            ("bootstrap.servers", "h:1"),
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            (
                "sasl.jaas.config",
                "org.apache.kafka.common.security.scram.ScramLoginModule required \
                 username=\"alice\" password=\"alice-topsecret\";",
            ),
        ]);
        let b = ClientBuilder::from_properties(&scram).unwrap();
        let text = format!("{b:?}");
        assert!(text.contains("ScramSha512"), "{text}");
        assert!(!text.contains("topsecret"), "{text}");

        // SASL keys without a SASL protocol are ignored, as in Java.
        let mut plaintext = scram.clone();
        plaintext.set("security.protocol", "PLAINTEXT");
        let text = format!("{:?}", ClientBuilder::from_properties(&plaintext).unwrap());
        assert!(text.contains("sasl: None"), "{text}");

        // A SASL protocol without SASL keys, or with bad ones, is refused.
        let bare = props(&[
            ("bootstrap.servers", "h:1"),
            ("security.protocol", "SASL_PLAINTEXT"),
        ]);
        let err = ClientBuilder::from_properties(&bare)
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs sasl.mechanism"), "{err}");
        let mut gssapi = bare.clone();
        gssapi.set("sasl.mechanism", "GSSAPI");
        let err = ClientBuilder::from_properties(&gssapi)
            .unwrap_err()
            .to_string();
        assert!(err.contains("GSSAPI is not supported"), "{err}");
    }

    #[test]
    fn ssl_keys_fill_the_tls_settings() {
        let java = props(&[
            ("bootstrap.servers", "SSL://h:9093"),
            ("security.protocol", "ssl"),
            ("ssl.truststore.type", "PEM"),
            ("ssl.truststore.location", "/etc/ca.pem"),
            ("ssl.truststore.password", "ignored"),
            ("ssl.keystore.type", "PEM"),
            ("ssl.keystore.location", "/etc/client.pem"),
            ("ssl.endpoint.identification.algorithm", ""),
        ]);
        let b = ClientBuilder::from_properties(&java).unwrap();
        let mut b2 = b.clone();
        let tls = b2.tls_settings_mut();
        assert_eq!(
            tls.ca_file.as_deref(),
            Some(std::path::Path::new("/etc/ca.pem"))
        );
        assert_eq!(tls.cert_file, tls.key_file);
        assert_eq!(
            tls.cert_file.as_deref(),
            Some(std::path::Path::new("/etc/client.pem"))
        );
        assert_eq!(tls.truststore_type.as_deref(), Some("PEM"));
        assert!(!tls.verify_hostname && !tls.key_password_given);

        let librdkafka = props(&[
            ("bootstrap.servers", "h:9093"),
            ("security.protocol", "SSL"),
            ("ssl.ca.location", "ca.pem"),
            ("ssl.certificate.location", "c.pem"),
            ("ssl.key.location", "c.key"),
            ("ssl.key.password", "pw"),
            ("ssl.truststore.certificates", "-----BEGIN CERTIFICATE-----"),
            ("ssl.keystore.certificate.chain", "chain"),
            ("ssl.keystore.key", "secret-key"),
        ]);
        let mut b = ClientBuilder::from_properties(&librdkafka).unwrap();
        assert!(!format!("{b:?}").contains("secret-key"));
        let tls = b.tls_settings_mut();
        assert_eq!(
            tls.cert_file.as_deref(),
            Some(std::path::Path::new("c.pem"))
        );
        assert_eq!(tls.key_file.as_deref(), Some(std::path::Path::new("c.key")));
        assert!(tls.key_password_given && tls.verify_hostname);
        assert!(tls.ca_pem.is_some() && tls.cert_pem.is_some() && tls.key_pem.is_some());

        // A scheme that contradicts security.protocol is refused by name.
        let err = ClientBuilder::from_properties(&props(&[("bootstrap.servers", "SSL://h:1")]))
            .unwrap()
            .security_protocol(SecurityProtocol::Plaintext)
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"SSL://h:1\" says SSL"), "{err}");
    }

    #[test]
    fn key_lists_do_not_overlap_the_ignored_and_unsupported_ones() {
        // Prefixes (`ssl.`) refuse the rest of a family whose known keys
        // are listed: only exact entries must not overlap.
        for key in CLIENT_KEYS.iter().chain(PRODUCER_KEYS).chain(CONSUMER_KEYS) {
            assert!(!HARMLESS_KEYS.contains(key), "{key}");
            assert!(
                !UNSUPPORTED.contains(key),
                "{key} is both known and unsupported"
            );
        }
    }
}
