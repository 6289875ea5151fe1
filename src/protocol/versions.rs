//! The one place that knows which API versions this client speaks, and how
//! a version is chosen for a broker.
//!
//! Each request type declares its range as associated constants. The range
//! is what our callers handle, which can be narrower than what
//! `kafka-protocol` can encode: e.g. Fetch stops at v12 because v13+ names
//! topics only by id, and FindCoordinator at v3 because v4 batches keys.
//!
//! A few APIs also have a *send cap* ([`VersionedRequest::SEND_CAP`]): a
//! version we stay at or below whenever the broker still accepts it, even
//! though we could speak higher ones (see the group APIs in the table for
//! why). Negotiation applies it, so every sender gets the same version.

use std::collections::HashMap;

use kafka_protocol::messages::*;
use kafka_protocol::protocol::Request;

use crate::error::{Context, Error, Result};

/// A request type this client knows how to send, with the version range it
/// implements.
pub trait VersionedRequest: Request + Send + 'static {
    /// The API key.
    const API_KEY: ApiKey;
    /// Lowest version we send.
    const MIN_VERSION: i16;
    /// Highest version we can send.
    const MAX_VERSION: i16;
    /// Highest version we *prefer* to send: negotiation stays at or below
    /// it unless the broker's minimum is higher (then it takes the
    /// broker's minimum, still within `MIN_VERSION..=MAX_VERSION`). Equal
    /// to `MAX_VERSION` for every API without a cap in the table.
    const SEND_CAP: i16 = Self::MAX_VERSION;
}

/// Responses that may carry `throttle_time_ms` (KIP-219).
pub trait ThrottleTime {
    /// The throttle time in ms, if the response has the field and it is non-zero.
    fn throttle_time_ms(&self) -> Option<i32>;
}

macro_rules! versions {
    // The send cap: the one given, else the maximum.
    (@cap $max:literal) => { $max };
    (@cap $max:literal $cap:literal) => { $cap };
    ($($req:ident / $resp:ident => $key:ident $min:literal ..= $max:literal $(, send at most $cap:literal)?;)*) => {
        $(
            impl VersionedRequest for $req {
                const API_KEY: ApiKey = ApiKey::$key;
                const MIN_VERSION: i16 = $min;
                const MAX_VERSION: i16 = $max;
                const SEND_CAP: i16 = versions!(@cap $max $($cap)?);
            }
            impl ThrottleTime for $resp {
                fn throttle_time_ms(&self) -> Option<i32> {
                    (self.throttle_time_ms > 0).then_some(self.throttle_time_ms)
                }
            }
        )*

        /// Every API this client speaks, with our (min, max) version.
        pub const SUPPORTED: &[(ApiKey, i16, i16)] = &[$((ApiKey::$key, $min, $max),)*];

        /// Every API with a send cap below its maximum, and the cap (see
        /// [`VersionedRequest::SEND_CAP`]).
        pub const SEND_CAPS: &[(ApiKey, i16)] = &[$($((ApiKey::$key, $cap),)?)*];

        #[cfg(test)]
        fn check_within_kafka_protocol() {
            use kafka_protocol::protocol::Message;
            $(
                assert!(
                    <$req as Message>::VERSIONS.min <= $min && $max <= <$req as Message>::VERSIONS.max,
                    "{} {}..={} outside kafka-protocol's {:?}",
                    stringify!($req), $min, $max, <$req as Message>::VERSIONS
                );
                assert!(
                    $min <= <$req as VersionedRequest>::SEND_CAP
                        && <$req as VersionedRequest>::SEND_CAP <= $max,
                    "{} send cap outside {}..={}", stringify!($req), $min, $max
                );
            )*
        }
    };
}

versions! {
    ApiVersionsRequest / ApiVersionsResponse => ApiVersions 0..=3;
    MetadataRequest / MetadataResponse => Metadata 1..=12;
    ProduceRequest / ProduceResponse => Produce 3..=11;
    FetchRequest / FetchResponse => Fetch 4..=12;
    ListOffsetsRequest / ListOffsetsResponse => ListOffsets 1..=8;
    FindCoordinatorRequest / FindCoordinatorResponse => FindCoordinator 1..=3;
    // The group APIs are capped at the last version before each became
    // flexible, which is also what librdkafka 2.x sends. librdkafka's mock
    // cluster advertises JoinGroup v6, SyncGroup v4 and LeaveGroup v4 but
    // parses their arrays as in the older versions (and LeaveGroup v3+ not
    // at all), and closes the connection. Apache Kafka 4.x still accepts
    // the capped versions (a broker that no longer does gets its minimum).
    // What the newer versions add is diagnostics (KIP-800 reasons,
    // JoinGroup v7 / SyncGroup v5 protocol name echo) and KIP-814's
    // `skip_assignment`, which our member does not need: a static leader
    // that rejoins without a rebalance computes an assignment the
    // coordinator ignores. The request builders still handle every version
    // up to the maximum.
    JoinGroupRequest / JoinGroupResponse => JoinGroup 0..=9, send at most 5;
    SyncGroupRequest / SyncGroupResponse => SyncGroup 0..=5, send at most 3;
    HeartbeatRequest / HeartbeatResponse => Heartbeat 0..=4, send at most 3;
    LeaveGroupRequest / LeaveGroupResponse => LeaveGroup 0..=5, send at most 2;
    OffsetCommitRequest / OffsetCommitResponse => OffsetCommit 2..=8;
    OffsetFetchRequest / OffsetFetchResponse => OffsetFetch 1..=7;
    CreateTopicsRequest / CreateTopicsResponse => CreateTopics 2..=7;
    DeleteTopicsRequest / DeleteTopicsResponse => DeleteTopics 1..=6;
    DescribeConfigsRequest / DescribeConfigsResponse => DescribeConfigs 1..=4;
    InitProducerIdRequest / InitProducerIdResponse => InitProducerId 0..=4;
    AddPartitionsToTxnRequest / AddPartitionsToTxnResponse => AddPartitionsToTxn 0..=3;
    AddOffsetsToTxnRequest / AddOffsetsToTxnResponse => AddOffsetsToTxn 0..=3;
    EndTxnRequest / EndTxnResponse => EndTxn 0..=3;
    TxnOffsetCommitRequest / TxnOffsetCommitResponse => TxnOffsetCommit 0..=3;
    DescribeGroupsRequest / DescribeGroupsResponse => DescribeGroups 0..=5;
    ListGroupsRequest / ListGroupsResponse => ListGroups 0..=5;
    DescribeClusterRequest / DescribeClusterResponse => DescribeCluster 0..=1;
    CreatePartitionsRequest / CreatePartitionsResponse => CreatePartitions 0..=3;
    DeleteRecordsRequest / DeleteRecordsResponse => DeleteRecords 0..=2;
    OffsetForLeaderEpochRequest / OffsetForLeaderEpochResponse => OffsetForLeaderEpoch 2..=4;
    // The admin client's APIs (KIP-554 SCRAM credentials, KIP-664
    // transactions, KIP-113 log dirs, KIP-460 elections). ListTransactions v2
    // (KIP-1152's transactional id pattern) is left out until a caller needs it.
    IncrementalAlterConfigsRequest / IncrementalAlterConfigsResponse => IncrementalAlterConfigs 0..=1;
    DeleteGroupsRequest / DeleteGroupsResponse => DeleteGroups 0..=2;
    OffsetDeleteRequest / OffsetDeleteResponse => OffsetDelete 0..=0;
    DescribeAclsRequest / DescribeAclsResponse => DescribeAcls 1..=3;
    CreateAclsRequest / CreateAclsResponse => CreateAcls 1..=3;
    DeleteAclsRequest / DeleteAclsResponse => DeleteAcls 1..=3;
    DescribeUserScramCredentialsRequest / DescribeUserScramCredentialsResponse => DescribeUserScramCredentials 0..=0;
    AlterUserScramCredentialsRequest / AlterUserScramCredentialsResponse => AlterUserScramCredentials 0..=0;
    ListTransactionsRequest / ListTransactionsResponse => ListTransactions 0..=1;
    DescribeTransactionsRequest / DescribeTransactionsResponse => DescribeTransactions 0..=0;
    DescribeProducersRequest / DescribeProducersResponse => DescribeProducers 0..=0;
    DescribeLogDirsRequest / DescribeLogDirsResponse => DescribeLogDirs 1..=4;
    ElectLeadersRequest / ElectLeadersResponse => ElectLeaders 0..=2;
}

// WriteTxnMarkers (the admin's abort of a hanging transaction) has no
// throttle time in its response.
impl VersionedRequest for WriteTxnMarkersRequest {
    const API_KEY: ApiKey = ApiKey::WriteTxnMarkers;
    const MIN_VERSION: i16 = 1;
    const MAX_VERSION: i16 = 1;
}

impl ThrottleTime for WriteTxnMarkersResponse {
    fn throttle_time_ms(&self) -> Option<i32> {
        None
    }
}

// SASL (KIP-152): a SaslHandshake v1 names the mechanism, then its
// messages travel in SaslAuthenticate requests. v0 of SaslHandshake (raw
// SASL tokens after it, outside Kafka framing) is not spoken. Neither
// response carries a throttle time. Not in `SUPPORTED`: they are sent only
// while a connection authenticates, never through `version_for`.
impl VersionedRequest for SaslHandshakeRequest {
    const API_KEY: ApiKey = ApiKey::SaslHandshake;
    const MIN_VERSION: i16 = 1;
    const MAX_VERSION: i16 = 1;
}

impl ThrottleTime for SaslHandshakeResponse {
    fn throttle_time_ms(&self) -> Option<i32> {
        None
    }
}

impl VersionedRequest for SaslAuthenticateRequest {
    const API_KEY: ApiKey = ApiKey::SaslAuthenticate;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 2;
}

impl ThrottleTime for SaslAuthenticateResponse {
    fn throttle_time_ms(&self) -> Option<i32> {
        None
    }
}

/// The version ranges a broker advertised in ApiVersions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrokerApiVersions {
    ranges: HashMap<i16, (i16, i16)>,
}

impl BrokerApiVersions {
    /// Builds the table from an ApiVersions response.
    pub fn from_response(resp: &ApiVersionsResponse) -> BrokerApiVersions {
        BrokerApiVersions {
            ranges: resp
                .api_keys
                .iter()
                .map(|k| (k.api_key, (k.min_version, k.max_version)))
                .collect(),
        }
    }

    /// The broker's (min, max) for `key`, if it supports the API at all.
    pub fn range(&self, key: ApiKey) -> Option<(i16, i16)> {
        self.ranges.get(&(key as i16)).copied()
    }

    /// Number of APIs the broker advertised.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Whether the broker advertised no API at all.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The version of `R` to send: the highest both sides speak, lowered
    /// to `R::SEND_CAP` unless the broker no longer accepts versions that
    /// low.
    pub fn negotiate<R: VersionedRequest>(&self) -> Result<i16> {
        let api = api_name(R::API_KEY);
        let Some((bmin, bmax)) = self.range(R::API_KEY) else {
            return Err(Error::UnsupportedVersion {
                api,
                broker_min: -1,
                broker_max: -1,
                context: Context::api(api),
            });
        };
        let version = R::MAX_VERSION.min(bmax);
        if version < R::MIN_VERSION.max(bmin) {
            return Err(Error::UnsupportedVersion {
                api,
                broker_min: bmin,
                broker_max: bmax,
                context: Context::api(api),
            });
        }
        Ok(version.min(R::SEND_CAP.max(bmin)))
    }
}

/// [`api_name`] for a raw API key from the wire or a request type's
/// `KEY`; `"Other"` for keys we do not know.
pub fn api_name_of(key: i16) -> &'static str {
    ApiKey::try_from(key).map_or("Other", api_name)
}

/// A readable API name for errors and traces.
pub fn api_name(key: ApiKey) -> &'static str {
    match key {
        ApiKey::Produce => "Produce",
        ApiKey::Fetch => "Fetch",
        ApiKey::ListOffsets => "ListOffsets",
        ApiKey::Metadata => "Metadata",
        ApiKey::OffsetCommit => "OffsetCommit",
        ApiKey::OffsetFetch => "OffsetFetch",
        ApiKey::FindCoordinator => "FindCoordinator",
        ApiKey::JoinGroup => "JoinGroup",
        ApiKey::Heartbeat => "Heartbeat",
        ApiKey::LeaveGroup => "LeaveGroup",
        ApiKey::SyncGroup => "SyncGroup",
        ApiKey::DescribeGroups => "DescribeGroups",
        ApiKey::ListGroups => "ListGroups",
        ApiKey::ApiVersions => "ApiVersions",
        ApiKey::CreateTopics => "CreateTopics",
        ApiKey::DeleteTopics => "DeleteTopics",
        ApiKey::DeleteRecords => "DeleteRecords",
        ApiKey::InitProducerId => "InitProducerId",
        ApiKey::OffsetForLeaderEpoch => "OffsetForLeaderEpoch",
        ApiKey::AddPartitionsToTxn => "AddPartitionsToTxn",
        ApiKey::AddOffsetsToTxn => "AddOffsetsToTxn",
        ApiKey::EndTxn => "EndTxn",
        ApiKey::TxnOffsetCommit => "TxnOffsetCommit",
        ApiKey::DescribeConfigs => "DescribeConfigs",
        ApiKey::CreatePartitions => "CreatePartitions",
        ApiKey::DescribeCluster => "DescribeCluster",
        ApiKey::SaslHandshake => "SaslHandshake",
        ApiKey::SaslAuthenticate => "SaslAuthenticate",
        ApiKey::IncrementalAlterConfigs => "IncrementalAlterConfigs",
        ApiKey::AlterConfigs => "AlterConfigs",
        ApiKey::DeleteGroups => "DeleteGroups",
        ApiKey::OffsetDelete => "OffsetDelete",
        ApiKey::DescribeAcls => "DescribeAcls",
        ApiKey::CreateAcls => "CreateAcls",
        ApiKey::DeleteAcls => "DeleteAcls",
        ApiKey::DescribeUserScramCredentials => "DescribeUserScramCredentials",
        ApiKey::AlterUserScramCredentials => "AlterUserScramCredentials",
        ApiKey::ListTransactions => "ListTransactions",
        ApiKey::DescribeTransactions => "DescribeTransactions",
        ApiKey::DescribeProducers => "DescribeProducers",
        ApiKey::DescribeLogDirs => "DescribeLogDirs",
        ApiKey::ElectLeaders => "ElectLeaders",
        ApiKey::WriteTxnMarkers => "WriteTxnMarkers",
        _ => "Other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::api_versions_response::ApiVersion;

    #[test]
    fn throttle_time_is_reported_only_when_positive() {
        let r = MetadataResponse::default();
        assert_eq!(r.throttle_time_ms(), None);
        assert_eq!(r.with_throttle_time_ms(250).throttle_time_ms(), Some(250));
        let f = FetchResponse::default().with_throttle_time_ms(-5);
        assert_eq!(
            f.throttle_time_ms(),
            None,
            "a negative value is no throttle"
        );
    }

    #[test]
    fn every_api_the_client_needs_is_in_the_table_once() {
        use ApiKey::*;
        let needed = [
            ApiVersions,
            Metadata,
            Produce,
            Fetch,
            ListOffsets,
            FindCoordinator,
            JoinGroup,
            SyncGroup,
            Heartbeat,
            LeaveGroup,
            OffsetCommit,
            OffsetFetch,
            CreateTopics,
            DeleteTopics,
            DescribeConfigs,
            InitProducerId,
            AddPartitionsToTxn,
            AddOffsetsToTxn,
            EndTxn,
            TxnOffsetCommit,
            DescribeGroups,
            ListGroups,
            DescribeCluster,
            CreatePartitions,
            DeleteRecords,
            OffsetForLeaderEpoch,
            DescribeAcls,
            CreateAcls,
            DeleteAcls,
        ];
        for key in needed {
            let n = SUPPORTED.iter().filter(|(k, _, _)| *k == key).count();
            assert_eq!(n, 1, "{key:?}");
            assert_ne!(api_name(key), "Other", "{key:?}");
        }
        for (key, min, max) in SUPPORTED {
            assert!(min <= max, "{key:?}");
        }
    }

    #[test]
    fn our_ranges_are_within_what_kafka_protocol_encodes() {
        check_within_kafka_protocol();
    }

    fn broker(key: ApiKey, min: i16, max: i16) -> BrokerApiVersions {
        BrokerApiVersions::from_response(&ApiVersionsResponse::default().with_api_keys(vec![
            ApiVersion::default()
                .with_api_key(key as i16)
                .with_min_version(min)
                .with_max_version(max),
        ]))
    }

    #[test]
    fn negotiation_picks_highest_common_version() {
        assert_eq!(
            broker(ApiKey::Metadata, 0, 13)
                .negotiate::<MetadataRequest>()
                .unwrap(),
            12
        );
        assert_eq!(
            broker(ApiKey::Metadata, 0, 5)
                .negotiate::<MetadataRequest>()
                .unwrap(),
            5
        );
        let err = broker(ApiKey::Fetch, 0, 3)
            .negotiate::<FetchRequest>()
            .unwrap_err();
        assert!(err.is_fatal(), "{err}");
        let err = broker(ApiKey::Metadata, 0, 13)
            .negotiate::<FetchRequest>()
            .unwrap_err();
        assert!(matches!(
            err,
            Error::UnsupportedVersion { broker_min: -1, .. }
        ));
    }

    #[test]
    fn group_apis_stay_at_their_caps_unless_the_broker_dropped_them() {
        let join = |min, max| broker(ApiKey::JoinGroup, min, max).negotiate::<JoinGroupRequest>();
        assert_eq!(join(0, 9).unwrap(), 5, "capped");
        assert_eq!(join(0, 4).unwrap(), 4, "below the cap: the broker's max");
        assert_eq!(join(6, 9).unwrap(), 6, "cap dropped by the broker: its min");
        assert_eq!(join(7, 12).unwrap(), 7);
        let caps = |key, min, max| match key {
            ApiKey::SyncGroup => broker(key, min, max).negotiate::<SyncGroupRequest>(),
            ApiKey::Heartbeat => broker(key, min, max).negotiate::<HeartbeatRequest>(),
            ApiKey::LeaveGroup => broker(key, min, max).negotiate::<LeaveGroupRequest>(),
            _ => unreachable!(),
        };
        assert_eq!(caps(ApiKey::SyncGroup, 0, 5).unwrap(), 3);
        assert_eq!(caps(ApiKey::Heartbeat, 0, 4).unwrap(), 3);
        assert_eq!(caps(ApiKey::LeaveGroup, 0, 5).unwrap(), 2);
        assert_eq!(
            SEND_CAPS,
            &[
                (ApiKey::JoinGroup, 5),
                (ApiKey::SyncGroup, 3),
                (ApiKey::Heartbeat, 3),
                (ApiKey::LeaveGroup, 2)
            ],
            "only the group APIs are capped"
        );
        // Uncapped APIs: the cap is the maximum, negotiation unchanged.
        assert_eq!(FetchRequest::SEND_CAP, FetchRequest::MAX_VERSION);
    }
}
