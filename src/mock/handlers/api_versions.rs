//! ApiVersions, and the table of API versions the cluster speaks.
//!
//! The ranges cover what kafkit sends (`protocol::versions`) and what
//! librdkafka 2.12 asks for, within what `kafka-protocol` 0.18 can decode.
//! Produce stops at v11 and Fetch at v12: later versions name topics by id
//! only. The ACL APIs start at v1 (v0 has no pattern type).

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse};

use crate::mock::connection::Conn;
use crate::mock::dispatch::{Header, Outcome, encode_response};

/// Every API the cluster answers, with its (min, max) version.
pub(crate) const SUPPORTED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 11),
    (ApiKey::Fetch, 4, 12),
    (ApiKey::ListOffsets, 1, 8),
    (ApiKey::Metadata, 0, 12),
    (ApiKey::OffsetCommit, 2, 9),
    (ApiKey::OffsetFetch, 1, 9),
    (ApiKey::FindCoordinator, 0, 4),
    (ApiKey::JoinGroup, 0, 9),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 5),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::DescribeGroups, 0, 5),
    (ApiKey::ListGroups, 0, 5),
    // v0 (raw SASL tokens outside Kafka framing) is not spoken.
    (ApiKey::SaslHandshake, 1, 1),
    (ApiKey::ApiVersions, 0, 3),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 1, 6),
    (ApiKey::DeleteRecords, 0, 2),
    (ApiKey::InitProducerId, 0, 4),
    (ApiKey::OffsetForLeaderEpoch, 2, 4),
    (ApiKey::SaslAuthenticate, 0, 2),
    (ApiKey::CreatePartitions, 0, 3),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::OffsetDelete, 0, 0),
    (ApiKey::DescribeCluster, 0, 1),
    (ApiKey::AddPartitionsToTxn, 0, 3),
    (ApiKey::AddOffsetsToTxn, 0, 3),
    (ApiKey::EndTxn, 0, 3),
    (ApiKey::TxnOffsetCommit, 0, 3),
    (ApiKey::DescribeConfigs, 1, 4),
    (ApiKey::AlterConfigs, 0, 2),
    (ApiKey::IncrementalAlterConfigs, 0, 1),
    (ApiKey::DescribeUserScramCredentials, 0, 0),
    (ApiKey::AlterUserScramCredentials, 0, 0),
    // v2 (KIP-1152's transactional id pattern) is not hosted.
    (ApiKey::ListTransactions, 0, 1),
    (ApiKey::DescribeTransactions, 0, 0),
    (ApiKey::DescribeProducers, 0, 0),
    // v0 is gone from kafka-protocol (and from Kafka 4).
    (ApiKey::DescribeLogDirs, 1, 4),
    (ApiKey::ElectLeaders, 0, 2),
    // What Admin.abortTransaction sends (KIP-664); brokers send it too.
    (ApiKey::WriteTxnMarkers, 1, 1),
    (ApiKey::DescribeAcls, 1, 3),
    (ApiKey::CreateAcls, 1, 3),
    (ApiKey::DeleteAcls, 1, 3),
];

/// APIs kafkit speaks that the cluster does not host yet: a client sees
/// them as unsupported by the broker.
#[cfg(test)]
const NOT_YET_HOSTED: &[ApiKey] = &[];

/// The (min, max) version the cluster speaks for `key`.
pub(crate) fn supported(key: ApiKey) -> Option<(i16, i16)> {
    SUPPORTED
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|&(_, min, max)| (min, max))
}

fn api_keys() -> Vec<ApiVersion> {
    SUPPORTED
        .iter()
        .map(|&(k, min, max)| {
            ApiVersion::default()
                .with_api_key(k as i16)
                .with_min_version(min)
                .with_max_version(max)
        })
        .collect()
}

/// ApiVersions at a version we speak.
pub(crate) async fn handle(
    _conn: &mut Conn,
    _h: &Header,
    _req: ApiVersionsRequest,
) -> ApiVersionsResponse {
    ApiVersionsResponse::default().with_api_keys(api_keys())
}

/// KIP-511: ApiVersions at a version we do not speak gets
/// UNSUPPORTED_VERSION with our ApiVersions range, in a v0 body.
pub(crate) fn unsupported_version(correlation_id: i32) -> Outcome {
    let resp = ApiVersionsResponse::default()
        .with_error_code(crate::ErrorCode::UNSUPPORTED_VERSION.0)
        .with_api_keys(
            api_keys()
                .into_iter()
                .filter(|k| k.api_key == ApiKey::ApiVersions as i16)
                .collect(),
        );
    let h = Header {
        api_key: ApiKey::ApiVersions,
        version: 0,
        correlation_id,
        client_id: None,
    };
    encode_response(&h, &resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::protocol::Message;

    #[test]
    fn every_advertised_range_is_within_kafka_protocol_and_kafkit() {
        for &(key, min, max) in SUPPORTED {
            let kp = key.valid_versions();
            assert!(
                kp.min <= min && max <= kp.max,
                "{key:?} {min}..={max} vs {kp:?}"
            );
        }
        // Every API and version kafkit itself sends is answered.
        for &(key, min, max) in crate::protocol::versions::SUPPORTED {
            if NOT_YET_HOSTED.contains(&key) {
                assert!(supported(key).is_none(), "{key:?} is hosted now");
                continue;
            }
            let (lo, hi) = supported(key).unwrap_or_else(|| panic!("{key:?} not hosted"));
            assert!(
                lo <= min && max <= hi,
                "{key:?}: kafkit {min}..={max}, mock {lo}..={hi}"
            );
        }
        let _ = <ApiVersionsRequest as Message>::VERSIONS;
    }
}
