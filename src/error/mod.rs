//! The one public error type.
//!
//! Every layer reports failures as [`Error`]. Callers should not need to
//! match on variants to decide what to do; the three questions a Kafka client
//! user asks are answered by methods:
//!
//! - [`Error::is_retriable`]: the same operation may succeed if tried again
//!   (after a metadata refresh, reconnect or back-off, which the client does
//!   itself where it retries).
//! - [`Error::is_fatal`]: this client instance can make no further progress;
//!   drop it and build a new one (fenced producer, bad configuration,
//!   closed client, broker that speaks no common API version).
//! - [`Error::requires_abort`]: inside a transaction, the transaction can no
//!   longer commit and must be aborted, after which the producer is usable.

mod codes;

use std::fmt;
use std::sync::Arc;

pub use codes::ErrorCode;

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where an error happened: which API, broker, topic and partition, as far as
/// known. Shown in the error's `Display`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Context {
    /// The Kafka API being called, e.g. `"Metadata"`.
    pub api: Option<&'static str>,
    /// The version of that API the request was sent at, when known (set
    /// for errors decoding a response, which depend on it).
    pub api_version: Option<i16>,
    /// The broker id (or bootstrap address) the request went to.
    pub broker: Option<String>,
    /// The topic concerned.
    pub topic: Option<Arc<str>>,
    /// The partition concerned.
    pub partition: Option<i32>,
    /// Another resource concerned, named by kind: `group=orders`,
    /// `transactional.id=etl-1`, `user=alice`, `broker-config=1`.
    pub resource: Option<Arc<str>>,
}

impl Context {
    /// A context naming only the API.
    pub fn api(api: &'static str) -> Self {
        Context {
            api: Some(api),
            ..Context::default()
        }
    }

    /// This context with the API version set.
    pub fn with_api_version(mut self, version: i16) -> Self {
        self.api_version = Some(version);
        self
    }

    /// This context with the broker set.
    pub fn with_broker(mut self, broker: impl fmt::Display) -> Self {
        self.broker = Some(broker.to_string());
        self
    }

    /// This context with the topic set.
    pub fn with_topic(mut self, topic: impl Into<Arc<str>>) -> Self {
        self.topic = Some(topic.into());
        self
    }

    /// This context with the partition set.
    pub fn with_partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// This context naming another resource: `kind=name` (e.g.
    /// `with_resource("group", "orders")`).
    pub fn with_resource(mut self, kind: &str, name: impl fmt::Display) -> Self {
        self.resource = Some(format!("{kind}={name}").into());
        self
    }

    fn is_empty(&self) -> bool {
        self.api.is_none()
            && self.broker.is_none()
            && self.topic.is_none()
            && self.resource.is_none()
    }
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return Ok(());
        }
        f.write_str(" [")?;
        let mut sep = "";
        if let Some(api) = self.api {
            write!(f, "api={api}")?;
            if let Some(v) = self.api_version {
                write!(f, " v{v}")?;
            }
            sep = " ";
        }
        if let Some(broker) = &self.broker {
            write!(f, "{sep}broker={broker}")?;
            sep = " ";
        }
        if let Some(topic) = &self.topic {
            write!(f, "{sep}topic={topic}")?;
            if let Some(p) = self.partition {
                write!(f, "-{p}")?;
            }
            sep = " ";
        }
        if let Some(resource) = &self.resource {
            write!(f, "{sep}{resource}")?;
        }
        f.write_str("]")
    }
}

/// The kafkit error.
///
/// Cheap to clone (shared state is behind `Arc`), so one failure can be
/// handed to every request that was waiting on a broken connection.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The broker answered with a Kafka error code.
    #[error("broker error {code}{}{context}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Broker {
        /// The code from the response.
        code: ErrorCode,
        /// The broker's error message, if the response carries one.
        message: Option<String>,
        /// Where it happened.
        context: Context,
    },

    /// Bytes from the network did not form a valid frame or message.
    /// The connection they came from is not trusted any more.
    #[error("protocol error: {reason}{context}")]
    Protocol {
        /// What was wrong.
        reason: String,
        /// Where it happened.
        context: Context,
    },

    /// A record batch could not be encoded or decoded (bad CRC, corrupt
    /// compression, malformed record).
    #[error("record batch error: {reason}{context}")]
    Records {
        /// What was wrong.
        reason: String,
        /// Where it happened; for fetched data, the topic and partition.
        context: Context,
    },

    /// TLS failed on a connection (Java's `SslAuthenticationException`):
    /// the broker's certificate is not from a trusted CA, has expired or
    /// does not name the host, the broker refused the client certificate,
    /// or one side does not speak TLS (a TLS client on a plaintext
    /// listener). Not retriable: the same settings fail the same way; fix
    /// them, or rotate the material (`TlsConfig::reload`).
    #[error("TLS error: {reason}{context}")]
    Tls {
        /// What failed, and the likely cause.
        reason: String,
        /// Where it happened (the broker).
        context: Context,
    },

    /// An I/O error on a connection (connect refused, reset, ...).
    #[error("I/O error: {source}{context}")]
    Io {
        /// The underlying error.
        source: Arc<std::io::Error>,
        /// Where it happened.
        context: Context,
    },

    /// The connection closed or was poisoned while the request was in flight
    /// or before it could be sent.
    #[error("connection closed: {reason}{context}")]
    Disconnected {
        /// Why the connection is gone.
        reason: Arc<str>,
        /// Where it happened.
        context: Context,
    },

    /// An operation did not complete within its timeout.
    #[error("timed out: {what}{context}")]
    Timeout {
        /// What timed out, e.g. `"request"`, `"connect"`.
        what: &'static str,
        /// Where it happened.
        context: Context,
    },

    /// A produced record was not acknowledged within `delivery.timeout.ms`
    /// (retries included). `maybe_written` says whether it may be in the log
    /// anyway: true once a request carrying it went unanswered (timeout,
    /// lost connection); false when it never left the client or every
    /// attempt was definitely refused. Resending a record that may have been
    /// written can duplicate it.
    #[error(
        "delivery timed out (delivery.timeout.ms); {}{}{context}",
        if *maybe_written { "the record may have been written" } else { "the record was not written" },
        last_error.as_deref().map(|e| format!("; last error: {e}")).unwrap_or_default()
    )]
    DeliveryTimeout {
        /// Whether the record may be in the log despite the timeout.
        maybe_written: bool,
        /// The error of the last attempt, if it was sent at all.
        last_error: Option<Box<Error>>,
        /// Topic and partition.
        context: Context,
    },

    /// The broker supports no version of an API that this client speaks.
    #[error(
        "no common version for API {api} (broker supports {broker_min}..={broker_max}){context}"
    )]
    UnsupportedVersion {
        /// The API's name.
        api: &'static str,
        /// Lowest version the broker accepts (-1 when the broker lacks the API).
        broker_min: i16,
        /// Highest version the broker accepts (-1 when the broker lacks the API).
        broker_max: i16,
        /// Where it happened.
        context: Context,
    },

    /// A caller-supplied value was rejected before anything was sent: a
    /// record that cannot be serialized, a partition out of range, a
    /// negative timestamp. Like Java's argument and serialization
    /// exceptions, it leaves the client (and any transaction) usable.
    #[error("invalid argument: {reason}{context}")]
    InvalidArgument {
        /// What was wrong.
        reason: String,
        /// Where it happened (topic, partition).
        context: Context,
    },

    /// Invalid configuration given to a builder.
    #[error("invalid configuration: {0}")]
    Config(String),

    /// A transactional producer's transaction can no longer commit: a
    /// record failed, or the transaction was aborted before the record was
    /// sent. [`Error::requires_abort`] is true: call `abort_transaction`,
    /// after which the producer can begin a new transaction. `cause` is the
    /// error that made the transaction abortable, when there was one (it
    /// may itself be retriable, e.g. a delivery timeout, which is why this
    /// wrapper exists: the transaction as a whole is not).
    #[error("the transaction must be aborted: {reason}{}", cause.as_deref().map(|c| format!("; cause: {c}")).unwrap_or_default())]
    TransactionAbortable {
        /// Why.
        reason: String,
        /// The error that made the transaction abortable.
        cause: Option<Box<Error>>,
    },

    /// A transactional call was made in a state that does not allow it
    /// (Java's `IllegalStateException`): e.g. `send` outside a transaction,
    /// `begin_transaction` twice. Nothing changed; the producer stays usable.
    #[error("illegal transaction state: {0}")]
    IllegalState(String),

    /// The client (or the producer/consumer built from it) was closed.
    #[error("client is closed")]
    Closed,

    /// No broker of the bootstrap list or the cluster could be reached.
    #[error("no broker reachable: {0}")]
    NoBrokerAvailable(String),
}

impl Error {
    /// A broker error for `code`, or `None` when the code is `NONE`.
    pub fn from_code(code: i16, message: Option<String>, context: Context) -> Option<Error> {
        if code == 0 {
            None
        } else {
            Some(Error::Broker {
                code: ErrorCode(code),
                message,
                context,
            })
        }
    }

    /// Like [`Error::from_code`], as a `Result` for `?` use.
    pub fn check(
        code: i16,
        message: Option<&str>,
        context: impl FnOnce() -> Context,
    ) -> Result<()> {
        match code {
            0 => Ok(()),
            c => Err(Error::Broker {
                code: ErrorCode(c),
                message: message.map(str::to_owned),
                context: context(),
            }),
        }
    }

    /// A protocol error with the given reason.
    pub fn protocol(reason: impl fmt::Display, context: Context) -> Error {
        Error::Protocol {
            reason: reason.to_string(),
            context,
        }
    }

    /// The Kafka error code, if this is a broker error.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Broker { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The context (API, broker, topic, partition) the error carries.
    pub fn context(&self) -> Option<&Context> {
        match self {
            Error::Broker { context, .. }
            | Error::Protocol { context, .. }
            | Error::Tls { context, .. }
            | Error::Records { context, .. }
            | Error::Io { context, .. }
            | Error::Disconnected { context, .. }
            | Error::Timeout { context, .. }
            | Error::DeliveryTimeout { context, .. }
            | Error::UnsupportedVersion { context, .. }
            | Error::InvalidArgument { context, .. } => Some(context),
            Error::Config(_)
            | Error::Closed
            | Error::NoBrokerAvailable(_)
            | Error::TransactionAbortable { .. }
            | Error::IllegalState(_) => None,
        }
    }

    /// This error with its context replaced by `f(context)`. Lets an upper
    /// layer add the topic/partition a lower layer did not know.
    pub fn map_context(mut self, f: impl FnOnce(Context) -> Context) -> Error {
        match &mut self {
            Error::Broker { context, .. }
            | Error::Protocol { context, .. }
            | Error::Tls { context, .. }
            | Error::Records { context, .. }
            | Error::Io { context, .. }
            | Error::Disconnected { context, .. }
            | Error::Timeout { context, .. }
            | Error::DeliveryTimeout { context, .. }
            | Error::UnsupportedVersion { context, .. }
            | Error::InvalidArgument { context, .. } => {
                *context = f(std::mem::take(context));
            }
            Error::Config(_)
            | Error::Closed
            | Error::NoBrokerAvailable(_)
            | Error::TransactionAbortable { .. }
            | Error::IllegalState(_) => {}
        }
        self
    }

    /// The operation may succeed if tried again: transient broker errors
    /// (documented retriable by Kafka), lost connections, timeouts and
    /// unreachable brokers.
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Broker { code, .. } => code.is_retriable(),
            Error::Io { .. }
            | Error::Disconnected { .. }
            | Error::Timeout { .. }
            | Error::DeliveryTimeout { .. }
            | Error::NoBrokerAvailable(_) => true,
            Error::Protocol { .. }
            | Error::Tls { .. }
            | Error::Records { .. }
            | Error::InvalidArgument { .. }
            | Error::UnsupportedVersion { .. }
            | Error::Config(_)
            | Error::TransactionAbortable { .. }
            | Error::IllegalState(_)
            | Error::Closed => false,
        }
    }

    /// This client instance can make no further progress: build a new one.
    ///
    /// True for invalid configuration, a closed client, a broker with no
    /// common API version, and broker codes that mean this instance has been
    /// replaced or is not allowed to act (fenced producer or static member,
    /// authorization of the cluster or transactional id, unsupported
    /// features).
    pub fn is_fatal(&self) -> bool {
        match self {
            Error::Broker { code, .. } => FATAL_CODES.contains(code),
            Error::Config(_) | Error::Closed | Error::UnsupportedVersion { .. } => true,
            _ => false,
        }
    }

    /// Inside a transaction: the transaction cannot commit and must be
    /// aborted (after which the producer can begin a new one).
    ///
    /// True for every error that is neither fatal nor retriable, for the
    /// broker's explicit `TRANSACTION_ABORTABLE` and for
    /// [`Error::TransactionAbortable`]; false for [`Error::InvalidArgument`],
    /// which is raised before anything reaches the transaction, and for
    /// [`Error::IllegalState`], a call the producer refused without acting.
    pub fn requires_abort(&self) -> bool {
        if self.code() == Some(ErrorCode::TRANSACTION_ABORTABLE)
            || matches!(self, Error::TransactionAbortable { .. })
        {
            return true;
        }
        !self.is_fatal()
            && !self.is_retriable()
            && !matches!(self, Error::InvalidArgument { .. } | Error::IllegalState(_))
    }

    pub(crate) fn io(source: std::io::Error, context: Context) -> Error {
        Error::Io {
            source: Arc::new(source),
            context,
        }
    }
}

/// Broker codes after which the client instance cannot continue. Mirrors the
/// Java client's fatal exceptions for producers, transactions and groups.
const FATAL_CODES: &[ErrorCode] = &[
    ErrorCode::UNSUPPORTED_VERSION,
    ErrorCode::CLUSTER_AUTHORIZATION_FAILED,
    ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
    ErrorCode::INVALID_PRODUCER_EPOCH,
    ErrorCode::PRODUCER_FENCED,
    ErrorCode::FENCED_INSTANCE_ID,
    ErrorCode::UNSUPPORTED_FOR_MESSAGE_FORMAT,
    ErrorCode::INVALID_TXN_STATE,
    ErrorCode::UNSUPPORTED_COMPRESSION_TYPE,
    ErrorCode::SASL_AUTHENTICATION_FAILED,
    ErrorCode::ILLEGAL_SASL_STATE,
    ErrorCode::UNSUPPORTED_SASL_MECHANISM,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_know_their_names_and_retriability() {
        assert_eq!(ErrorCode(6).name(), "NOT_LEADER_OR_FOLLOWER");
        assert!(ErrorCode::NOT_LEADER_OR_FOLLOWER.is_retriable());
        assert!(!ErrorCode::OFFSET_OUT_OF_RANGE.is_retriable());
        assert_eq!(ErrorCode(i16::MAX).name(), "UNKNOWN_CODE");
        assert!(!ErrorCode(i16::MAX).is_retriable());
    }

    #[test]
    fn code_table_is_sorted_and_unique() {
        for pair in ErrorCode::ALL.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{:?} then {:?}", pair[0], pair[1]);
        }
    }

    #[test]
    fn classification() {
        let fenced =
            Error::from_code(ErrorCode::PRODUCER_FENCED.0, None, Context::default()).unwrap();
        assert!(fenced.is_fatal() && !fenced.is_retriable() && !fenced.requires_abort());

        let leader = Error::from_code(6, None, Context::default()).unwrap();
        assert!(leader.is_retriable() && !leader.is_fatal() && !leader.requires_abort());

        let too_large = Error::from_code(10, None, Context::default()).unwrap();
        assert!(too_large.requires_abort() && !too_large.is_fatal());

        let arg = Error::InvalidArgument {
            reason: "x".into(),
            context: Context::default(),
        };
        assert!(!arg.is_fatal() && !arg.is_retriable() && !arg.requires_abort());
        assert!(Error::Closed.is_fatal());
        let abortable = Error::TransactionAbortable {
            reason: "a record failed".into(),
            cause: Some(Box::new(Error::Timeout {
                what: "request",
                context: Context::default(),
            })),
        };
        assert!(abortable.requires_abort() && !abortable.is_fatal() && !abortable.is_retriable());
        let illegal = Error::IllegalState("send outside a transaction".into());
        assert!(!illegal.requires_abort() && !illegal.is_fatal() && !illegal.is_retriable());
        assert!(Error::Config("x".into()).is_fatal());
        assert!(
            Error::Timeout {
                what: "request",
                context: Context::default()
            }
            .is_retriable()
        );
    }

    #[test]
    fn display_carries_context() {
        let e = Error::from_code(
            3,
            Some("no such topic".into()),
            Context::api("Metadata")
                .with_broker(1)
                .with_topic("t")
                .with_partition(2),
        )
        .unwrap();
        assert_eq!(
            e.to_string(),
            "broker error UNKNOWN_TOPIC_OR_PARTITION (3): no such topic [api=Metadata broker=1 topic=t-2]"
        );
    }
}
