//! Injected-error responses ([`crate::mock::injected`]) of the admin APIs
//! hosted later: SCRAM credentials, transactions, producers, log dirs and
//! elections. The error goes where each API reports errors.

use kafka_protocol::messages::*;

use crate::mock::injected::ErrorResponse;

impl ErrorResponse for DescribeUserScramCredentialsRequest {
    type Response = DescribeUserScramCredentialsResponse;
    fn error_response(&self, code: i16, _: i16) -> Self::Response {
        DescribeUserScramCredentialsResponse::default().with_error_code(code)
    }
}

impl ErrorResponse for AlterUserScramCredentialsRequest {
    type Response = AlterUserScramCredentialsResponse;
    fn error_response(&self, code: i16, _: i16) -> Self::Response {
        use alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
        let mut users: Vec<&str> = Vec::new();
        let named = self.deletions.iter().map(|d| d.name.as_str());
        for user in named.chain(self.upsertions.iter().map(|u| u.name.as_str())) {
            if !users.contains(&user) {
                users.push(user);
            }
        }
        AlterUserScramCredentialsResponse::default().with_results(
            users
                .into_iter()
                .map(|u| {
                    AlterUserScramCredentialsResult::default()
                        .with_user(crate::mock::handlers::str_bytes(u))
                        .with_error_code(code)
                })
                .collect(),
        )
    }
}

impl ErrorResponse for ListTransactionsRequest {
    type Response = ListTransactionsResponse;
    fn error_response(&self, code: i16, _: i16) -> Self::Response {
        ListTransactionsResponse::default().with_error_code(code)
    }
}

impl ErrorResponse for DescribeTransactionsRequest {
    type Response = DescribeTransactionsResponse;
    fn error_response(&self, code: i16, _: i16) -> Self::Response {
        use describe_transactions_response::TransactionState;
        DescribeTransactionsResponse::default().with_transaction_states(
            self.transactional_ids
                .iter()
                .map(|id| {
                    TransactionState::default()
                        .with_transactional_id(id.clone())
                        .with_error_code(code)
                })
                .collect(),
        )
    }
}

impl ErrorResponse for DescribeProducersRequest {
    type Response = DescribeProducersResponse;
    fn error_response(&self, code: i16, _: i16) -> Self::Response {
        use describe_producers_response::{PartitionResponse, TopicResponse};
        DescribeProducersResponse::default().with_topics(
            self.topics
                .iter()
                .map(|t| {
                    TopicResponse::default()
                        .with_name(t.name.clone())
                        .with_partitions(
                            t.partition_indexes
                                .iter()
                                .map(|&p| {
                                    PartitionResponse::default()
                                        .with_partition_index(p)
                                        .with_error_code(code)
                                })
                                .collect(),
                        )
                })
                .collect(),
        )
    }
}

impl ErrorResponse for DescribeLogDirsRequest {
    type Response = DescribeLogDirsResponse;
    fn error_response(&self, code: i16, version: i16) -> Self::Response {
        // The top-level error code exists from v3; before, as Kafka does,
        // the error is the log directory's.
        if version >= 3 {
            return DescribeLogDirsResponse::default().with_error_code(code);
        }
        DescribeLogDirsResponse::default().with_results(vec![
            describe_log_dirs_response::DescribeLogDirsResult::default().with_error_code(code),
        ])
    }
}

impl ErrorResponse for ElectLeadersRequest {
    type Response = ElectLeadersResponse;
    fn error_response(&self, code: i16, version: i16) -> Self::Response {
        use elect_leaders_response::{PartitionResult, ReplicaElectionResult};
        // Kafka: the top-level code from v1, and the code per partition.
        let resp = if version >= 1 {
            ElectLeadersResponse::default().with_error_code(code)
        } else {
            ElectLeadersResponse::default()
        };
        resp.with_replica_election_results(
            self.topic_partitions
                .iter()
                .flatten()
                .map(|t| {
                    ReplicaElectionResult::default()
                        .with_topic(t.topic.clone())
                        .with_partition_result(
                            t.partitions
                                .iter()
                                .map(|&p| {
                                    PartitionResult::default()
                                        .with_partition_id(p)
                                        .with_error_code(code)
                                })
                                .collect(),
                        )
                })
                .collect(),
        )
    }
}

impl ErrorResponse for WriteTxnMarkersRequest {
    type Response = WriteTxnMarkersResponse;
    fn error_response(&self, code: i16, _: i16) -> Self::Response {
        use write_txn_markers_response::{
            WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
        };
        WriteTxnMarkersResponse::default().with_markers(
            self.markers
                .iter()
                .map(|m| {
                    WritableTxnMarkerResult::default()
                        .with_producer_id(m.producer_id)
                        .with_topics(
                            m.topics
                                .iter()
                                .map(|t| {
                                    WritableTxnMarkerTopicResult::default()
                                        .with_name(t.name.clone())
                                        .with_partitions(
                                            t.partition_indexes
                                                .iter()
                                                .map(|&p| {
                                                    WritableTxnMarkerPartitionResult::default()
                                                        .with_partition_index(p)
                                                        .with_error_code(code)
                                                })
                                                .collect(),
                                        )
                                })
                                .collect(),
                        )
                })
                .collect(),
        )
    }
}
