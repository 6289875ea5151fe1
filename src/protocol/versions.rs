//! The API versions this client speaks, and negotiation with a broker.
//! (STUB: signatures only; the connection helper fills it in.)

use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::Request;

/// A request type this client knows how to send, with the version range it
/// implements (a sub-range of what `kafka-protocol` can encode).
pub trait VersionedRequest: Request + Send + 'static {
    /// The API key.
    const API_KEY: ApiKey;
    /// Lowest version we send.
    const MIN_VERSION: i16;
    /// Highest version we send.
    const MAX_VERSION: i16;
}

/// Responses that may carry `throttle_time_ms` (KIP-219).
pub trait ThrottleTime {
    /// The throttle time in ms, if the response has the field and it is non-zero.
    fn throttle_time_ms(&self) -> Option<i32>;
}

/// The version ranges a broker advertised in ApiVersions.
#[derive(Debug, Clone, Default)]
pub struct BrokerApiVersions {
    _p: (),
}

impl BrokerApiVersions {
    /// The broker's (min, max) for `key`, if it supports the API at all.
    pub fn range(&self, _key: ApiKey) -> Option<(i16, i16)> {
        todo!()
    }
}

// STUB impls so the lead's code type-checks until the conn branch lands.
macro_rules! stub {
    ($($t:ident, $r:ident, $k:ident);*) => {$(
        impl VersionedRequest for kafka_protocol::messages::$t {
            const API_KEY: ApiKey = ApiKey::$k;
            const MIN_VERSION: i16 = 1;
            const MAX_VERSION: i16 = 1;
        }
        impl ThrottleTime for kafka_protocol::messages::$r {
            fn throttle_time_ms(&self) -> Option<i32> { None }
        }
    )*};
}
stub!(MetadataRequest, MetadataResponse, Metadata; CreateTopicsRequest, CreateTopicsResponse, CreateTopics;
      DeleteTopicsRequest, DeleteTopicsResponse, DeleteTopics; ListOffsetsRequest, ListOffsetsResponse, ListOffsets);
