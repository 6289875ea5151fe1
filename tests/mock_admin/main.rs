//! The admin APIs of kafkit's embedded cluster, driven through
//! `Client::send_to` with kafka-protocol requests (kafkit's `Admin` is
//! written against them): SCRAM credentials (KIP-554), transactions and
//! producers (KIP-664, the `--find-hanging` flow), log dirs and leader
//! elections. Every field of each answer and each error path is checked;
//! librdkafka, as an independent client, logs in with credentials set
//! through the API.

#[path = "../support/mod.rs"]
mod support;

mod rdkafka_scram;
mod replicas;
mod scram;
mod transactions;

use kafkit::Client;
use kafkit::mock::MockCluster;
use kafkit::protocol::messages::{ApiKey, ApiVersionsRequest};

/// A plaintext client of `cluster`.
pub async fn client(cluster: &MockCluster) -> Client {
    Client::builder(cluster.bootstrap_servers())
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn api_versions_advertises_the_admin_apis() {
    let cluster = MockCluster::new(1).await.unwrap();
    let client = client(&cluster).await;
    let resp = client
        .send_to(1, ApiVersionsRequest::default())
        .await
        .unwrap();
    for (key, min, max) in [
        (ApiKey::DescribeUserScramCredentials, 0, 0),
        (ApiKey::AlterUserScramCredentials, 0, 0),
        (ApiKey::ListTransactions, 0, 1),
        (ApiKey::DescribeTransactions, 0, 0),
        (ApiKey::DescribeProducers, 0, 0),
        (ApiKey::DescribeLogDirs, 1, 4),
        (ApiKey::ElectLeaders, 0, 2),
    ] {
        let got = resp
            .api_keys
            .iter()
            .find(|k| k.api_key == key as i16)
            .map(|k| (k.min_version, k.max_version));
        assert_eq!(got, Some((min, max)), "{key:?}");
    }
}
