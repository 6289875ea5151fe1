//! The cluster's features and each broker's API versions (ApiVersions),
//! as `kafka-features describe` and `kafka-broker-api-versions` show them.

use std::collections::BTreeMap;

use kafka_protocol::messages::ApiVersionsRequest;
use kafka_protocol::protocol::StrBytes;

use super::Admin;
use crate::error::{Context, Error, Result};
use crate::protocol::versions::api_name_of;

/// One broker's API versions (Java's `NodeApiVersions`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NodeApiVersions {
    /// The broker.
    pub broker: i32,
    /// Per API key: (name, min version, max version), sorted by key. The
    /// name is `Other` for APIs this client does not use.
    pub apis: BTreeMap<i16, (&'static str, i16, i16)>,
}

/// The cluster's feature flags (Java's `FeatureMetadata`), e.g.
/// `metadata.version`, `transaction.version`, `group.version`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct FeatureDescription {
    /// Finalized features: name to (min, max) version level in force.
    pub finalized: BTreeMap<String, (i16, i16)>,
    /// The epoch of the finalized features, if the broker reports one.
    pub finalized_epoch: Option<i64>,
    /// What the answering broker supports: name to (min, max) version.
    pub supported: BTreeMap<String, (i16, i16)>,
}

fn request() -> ApiVersionsRequest {
    ApiVersionsRequest::default()
        .with_client_software_name(StrBytes::from_static_str("kafkit"))
        .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")))
}

impl Admin {
    /// The cluster's finalized and supported features (ApiVersions v3 at
    /// any broker).
    pub async fn describe_features(&self) -> Result<FeatureDescription> {
        let (broker, r) = self.send_to_or_any(None, request(), "ApiVersions").await?;
        Error::check(r.error_code, None, || {
            super::answered_by(Context::api("ApiVersions"), broker)
        })?;
        Ok(FeatureDescription {
            finalized: r
                .finalized_features
                .iter()
                .map(|f| {
                    (
                        f.name.to_string(),
                        (f.min_version_level, f.max_version_level),
                    )
                })
                .collect(),
            finalized_epoch: (r.finalized_features_epoch >= 0)
                .then_some(r.finalized_features_epoch),
            supported: r
                .supported_features
                .iter()
                .map(|f| (f.name.to_string(), (f.min_version, f.max_version)))
                .collect(),
        })
    }

    /// Each broker's API versions. One result per broker, in order.
    pub async fn broker_api_versions(
        &self,
        brokers: &[i32],
    ) -> Result<Vec<(i32, Result<NodeApiVersions>)>> {
        let mut out = Vec::with_capacity(brokers.len());
        for &broker in brokers {
            let result = self
                .send_to_or_any(Some(broker), request(), "ApiVersions")
                .await
                .and_then(|(_, r)| {
                    Error::check(r.error_code, None, || {
                        Context::api("ApiVersions").with_broker(format!("node {broker}"))
                    })?;
                    Ok(NodeApiVersions {
                        broker,
                        apis: r
                            .api_keys
                            .iter()
                            .map(|a| {
                                (
                                    a.api_key,
                                    (api_name_of(a.api_key), a.min_version, a.max_version),
                                )
                            })
                            .collect(),
                    })
                });
            out.push((broker, result));
        }
        Ok(out)
    }
}
