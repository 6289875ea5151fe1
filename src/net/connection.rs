//! One pipelined connection to one broker. (STUB: signatures only; the
//! connection helper replaces the bodies.)

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::ApiKey;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::error::Result;
use crate::protocol::versions::{BrokerApiVersions, ThrottleTime, VersionedRequest};

/// Settings of one connection.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// Client id sent in every request header (`client.id`).
    pub client_id: Option<Arc<str>>,
    /// Bound on one request, including its write (`request.timeout.ms`, 30 s).
    pub request_timeout: Duration,
    /// Requests in flight at once before `send` waits (default 5).
    pub max_in_flight: usize,
    /// Largest response frame accepted (default 100 MiB).
    pub max_response_size: usize,
    /// How errors name this broker (id or address).
    pub broker_label: Arc<str>,
}

/// A cheap, cloneable handle to one broker connection.
#[derive(Clone, Debug)]
pub struct Connection {
    _p: (),
}

impl Connection {
    /// Starts the connection's tasks over `stream` and negotiates API versions.
    pub async fn handshake<S>(_stream: S, _config: ConnectionConfig) -> Result<Connection>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        todo!()
    }

    /// Sends `req` at the highest version both sides support; waits for the response.
    pub async fn send<R>(&self, _req: R) -> Result<R::Response>
    where
        R: VersionedRequest,
        R::Response: ThrottleTime,
    {
        todo!()
    }

    /// Sends `req` at an explicit version.
    pub async fn send_version<R>(&self, _req: R, _version: i16) -> Result<R::Response>
    where
        R: VersionedRequest,
        R::Response: ThrottleTime,
    {
        todo!()
    }

    /// The version `send` would use for `key`, if any.
    pub fn version_for(&self, _key: ApiKey) -> Option<i16> {
        todo!()
    }

    /// What the broker said in ApiVersions.
    pub fn api_versions(&self) -> &BrokerApiVersions {
        todo!()
    }

    /// True once the connection is poisoned or closed: every later send fails.
    pub fn is_closed(&self) -> bool {
        todo!()
    }

    /// Closes the connection: in-flight requests fail with `Disconnected`. No waiting.
    pub fn close(&self) {
        todo!()
    }
}
