//! The response a request gets when a test injects an error for it
//! ([`MockCluster::inject_error`](crate::mock::MockCluster::inject_error)):
//! the error code wherever that API reports errors (per partition for
//! Produce, Fetch and ListOffsets; per topic, group or coordinator key
//! elsewhere), nothing handled.

use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

/// A request's error response carrying `code`.
pub(crate) trait ErrorResponse {
    type Response;
    fn error_response(&self, code: i16, version: i16) -> Self::Response;
}

/// Requests whose response has one top-level `error_code`.
macro_rules! top_level {
    ($($req:ty => $resp:ty,)*) => {$(
        impl ErrorResponse for $req {
            type Response = $resp;
            fn error_response(&self, code: i16, _version: i16) -> $resp {
                <$resp>::default().with_error_code(code)
            }
        }
    )*};
}

top_level! {
    ApiVersionsRequest => ApiVersionsResponse,
    DescribeClusterRequest => DescribeClusterResponse,
    InitProducerIdRequest => InitProducerIdResponse,
    SaslHandshakeRequest => SaslHandshakeResponse,
    SaslAuthenticateRequest => SaslAuthenticateResponse,
    JoinGroupRequest => JoinGroupResponse,
    SyncGroupRequest => SyncGroupResponse,
    HeartbeatRequest => HeartbeatResponse,
    LeaveGroupRequest => LeaveGroupResponse,
    ListGroupsRequest => ListGroupsResponse,
    OffsetDeleteRequest => OffsetDeleteResponse,
    AddOffsetsToTxnRequest => AddOffsetsToTxnResponse,
    EndTxnRequest => EndTxnResponse,
    DescribeAclsRequest => DescribeAclsResponse,
}

impl ErrorResponse for CreateAclsRequest {
    type Response = CreateAclsResponse;
    fn error_response(&self, code: i16, _: i16) -> CreateAclsResponse {
        use create_acls_response::AclCreationResult;
        CreateAclsResponse::default().with_results(
            self.creations
                .iter()
                .map(|_| AclCreationResult::default().with_error_code(code))
                .collect(),
        )
    }
}

impl ErrorResponse for DeleteAclsRequest {
    type Response = DeleteAclsResponse;
    fn error_response(&self, code: i16, _: i16) -> DeleteAclsResponse {
        use delete_acls_response::DeleteAclsFilterResult;
        DeleteAclsResponse::default().with_filter_results(
            self.filters
                .iter()
                .map(|_| DeleteAclsFilterResult::default().with_error_code(code))
                .collect(),
        )
    }
}

impl ErrorResponse for ProduceRequest {
    type Response = ProduceResponse;
    fn error_response(&self, code: i16, _: i16) -> ProduceResponse {
        use produce_response::*;
        ProduceResponse::default().with_responses(
            self.topic_data
                .iter()
                .map(|t| {
                    TopicProduceResponse::default()
                        .with_name(t.name.clone())
                        .with_partition_responses(
                            t.partition_data
                                .iter()
                                .map(|p| {
                                    PartitionProduceResponse::default()
                                        .with_index(p.index)
                                        .with_error_code(code)
                                        .with_base_offset(-1)
                                })
                                .collect(),
                        )
                })
                .collect(),
        )
    }
}

impl ErrorResponse for FetchRequest {
    type Response = FetchResponse;
    fn error_response(&self, code: i16, _: i16) -> FetchResponse {
        use fetch_response::*;
        FetchResponse::default()
            .with_session_id(self.session_id)
            .with_responses(
                self.topics
                    .iter()
                    .map(|t| {
                        FetchableTopicResponse::default()
                            .with_topic(t.topic.clone())
                            .with_partitions(
                                t.partitions
                                    .iter()
                                    .map(|p| {
                                        PartitionData::default()
                                            .with_partition_index(p.partition)
                                            .with_error_code(code)
                                            .with_high_watermark(-1)
                                            .with_last_stable_offset(-1)
                                            .with_log_start_offset(-1)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            )
    }
}

impl ErrorResponse for ListOffsetsRequest {
    type Response = ListOffsetsResponse;
    fn error_response(&self, code: i16, _: i16) -> ListOffsetsResponse {
        use list_offsets_response::*;
        ListOffsetsResponse::default().with_topics(
            self.topics
                .iter()
                .map(|t| {
                    ListOffsetsTopicResponse::default()
                        .with_name(t.name.clone())
                        .with_partitions(
                            t.partitions
                                .iter()
                                .map(|p| {
                                    ListOffsetsPartitionResponse::default()
                                        .with_partition_index(p.partition_index)
                                        .with_error_code(code)
                                        .with_offset(-1)
                                        .with_timestamp(-1)
                                })
                                .collect(),
                        )
                })
                .collect(),
        )
    }
}

impl ErrorResponse for OffsetForLeaderEpochRequest {
    type Response = OffsetForLeaderEpochResponse;
    fn error_response(&self, code: i16, _: i16) -> OffsetForLeaderEpochResponse {
        use offset_for_leader_epoch_response::*;
        OffsetForLeaderEpochResponse::default().with_topics(
            self.topics
                .iter()
                .map(|t| {
                    OffsetForLeaderTopicResult::default()
                        .with_topic(t.topic.clone())
                        .with_partitions(
                            t.partitions
                                .iter()
                                .map(|p| {
                                    EpochEndOffset::default()
                                        .with_partition(p.partition)
                                        .with_error_code(code)
                                        .with_leader_epoch(-1)
                                        .with_end_offset(-1)
                                })
                                .collect(),
                        )
                })
                .collect(),
        )
    }
}

impl ErrorResponse for MetadataRequest {
    type Response = MetadataResponse;
    fn error_response(&self, code: i16, _: i16) -> MetadataResponse {
        use metadata_response::*;
        MetadataResponse::default().with_topics(
            self.topics
                .iter()
                .flatten()
                .map(|t| {
                    MetadataResponseTopic::default()
                        .with_name(t.name.clone())
                        .with_error_code(code)
                })
                .collect(),
        )
    }
}

impl ErrorResponse for CreateTopicsRequest {
    type Response = CreateTopicsResponse;
    fn error_response(&self, code: i16, _: i16) -> CreateTopicsResponse {
        use create_topics_response::*;
        CreateTopicsResponse::default().with_topics(
            self.topics
                .iter()
                .map(|t| {
                    CreatableTopicResult::default()
                        .with_name(t.name.clone())
                        .with_error_code(code)
                        .with_num_partitions(-1)
                        .with_replication_factor(-1)
                })
                .collect(),
        )
    }
}

impl ErrorResponse for DeleteTopicsRequest {
    type Response = DeleteTopicsResponse;
    fn error_response(&self, code: i16, _: i16) -> DeleteTopicsResponse {
        use delete_topics_response::*;
        let names = self
            .topic_names
            .iter()
            .cloned()
            .chain(self.topics.iter().filter_map(|t| t.name.clone()));
        DeleteTopicsResponse::default().with_responses(
            names
                .map(|n| {
                    DeletableTopicResult::default()
                        .with_name(Some(n))
                        .with_error_code(code)
                })
                .collect(),
        )
    }
}

impl ErrorResponse for CreatePartitionsRequest {
    type Response = CreatePartitionsResponse;
    fn error_response(&self, code: i16, _: i16) -> CreatePartitionsResponse {
        use create_partitions_response::*;
        CreatePartitionsResponse::default().with_results(
            self.topics
                .iter()
                .map(|t| {
                    CreatePartitionsTopicResult::default()
                        .with_name(t.name.clone())
                        .with_error_code(code)
                })
                .collect(),
        )
    }
}

impl ErrorResponse for DeleteRecordsRequest {
    type Response = DeleteRecordsResponse;
    fn error_response(&self, code: i16, _: i16) -> DeleteRecordsResponse {
        use delete_records_response::*;
        DeleteRecordsResponse::default().with_topics(
            self.topics
                .iter()
                .map(|t| {
                    DeleteRecordsTopicResult::default()
                        .with_name(t.name.clone())
                        .with_partitions(
                            t.partitions
                                .iter()
                                .map(|p| {
                                    DeleteRecordsPartitionResult::default()
                                        .with_partition_index(p.partition_index)
                                        .with_error_code(code)
                                        .with_low_watermark(-1)
                                })
                                .collect(),
                        )
                })
                .collect(),
        )
    }
}

impl ErrorResponse for FindCoordinatorRequest {
    type Response = FindCoordinatorResponse;
    fn error_response(&self, code: i16, version: i16) -> FindCoordinatorResponse {
        use find_coordinator_response::*;
        if version >= 4 {
            FindCoordinatorResponse::default().with_coordinators(
                self.coordinator_keys
                    .iter()
                    .map(|k| {
                        Coordinator::default()
                            .with_key(k.clone())
                            .with_node_id(BrokerId(-1))
                            .with_port(-1)
                            .with_error_code(code)
                    })
                    .collect(),
            )
        } else {
            FindCoordinatorResponse::default()
                .with_error_code(code)
                .with_node_id(BrokerId(-1))
                .with_host(StrBytes::from_static_str(""))
                .with_port(-1)
        }
    }
}

impl ErrorResponse for OffsetCommitRequest {
    type Response = OffsetCommitResponse;
    fn error_response(&self, code: i16, _: i16) -> OffsetCommitResponse {
        use offset_commit_response::*;
        OffsetCommitResponse::default().with_topics(
            self.topics
                .iter()
                .map(|t| {
                    OffsetCommitResponseTopic::default()
                        .with_name(t.name.clone())
                        .with_partitions(
                            t.partitions
                                .iter()
                                .map(|p| {
                                    OffsetCommitResponsePartition::default()
                                        .with_partition_index(p.partition_index)
                                        .with_error_code(code)
                                })
                                .collect(),
                        )
                })
                .collect(),
        )
    }
}

impl ErrorResponse for OffsetFetchRequest {
    type Response = OffsetFetchResponse;
    fn error_response(&self, code: i16, version: i16) -> OffsetFetchResponse {
        use offset_fetch_response::*;
        if version >= 8 {
            OffsetFetchResponse::default().with_groups(
                self.groups
                    .iter()
                    .map(|g| {
                        OffsetFetchResponseGroup::default()
                            .with_group_id(g.group_id.clone())
                            .with_error_code(code)
                    })
                    .collect(),
            )
        } else {
            OffsetFetchResponse::default().with_error_code(code)
        }
    }
}

impl ErrorResponse for DescribeGroupsRequest {
    type Response = DescribeGroupsResponse;
    fn error_response(&self, code: i16, _: i16) -> DescribeGroupsResponse {
        use describe_groups_response::*;
        DescribeGroupsResponse::default().with_groups(
            self.groups
                .iter()
                .map(|g| {
                    DescribedGroup::default()
                        .with_group_id(g.clone())
                        .with_error_code(code)
                })
                .collect(),
        )
    }
}

impl ErrorResponse for DeleteGroupsRequest {
    type Response = DeleteGroupsResponse;
    fn error_response(&self, code: i16, _: i16) -> DeleteGroupsResponse {
        use delete_groups_response::*;
        DeleteGroupsResponse::default().with_results(
            self.groups_names
                .iter()
                .map(|g| {
                    DeletableGroupResult::default()
                        .with_group_id(g.clone())
                        .with_error_code(code)
                })
                .collect(),
        )
    }
}

impl ErrorResponse for DescribeConfigsRequest {
    type Response = DescribeConfigsResponse;
    fn error_response(&self, code: i16, _: i16) -> DescribeConfigsResponse {
        use describe_configs_response::DescribeConfigsResult;
        DescribeConfigsResponse::default().with_results(
            self.resources
                .iter()
                .map(|r| {
                    DescribeConfigsResult::default()
                        .with_resource_type(r.resource_type)
                        .with_resource_name(r.resource_name.clone())
                        .with_error_code(code)
                })
                .collect(),
        )
    }
}

impl ErrorResponse for AlterConfigsRequest {
    type Response = AlterConfigsResponse;
    fn error_response(&self, code: i16, _: i16) -> AlterConfigsResponse {
        use alter_configs_response::AlterConfigsResourceResponse;
        AlterConfigsResponse::default().with_responses(
            self.resources
                .iter()
                .map(|r| {
                    AlterConfigsResourceResponse::default()
                        .with_resource_type(r.resource_type)
                        .with_resource_name(r.resource_name.clone())
                        .with_error_code(code)
                })
                .collect(),
        )
    }
}

impl ErrorResponse for IncrementalAlterConfigsRequest {
    type Response = IncrementalAlterConfigsResponse;
    fn error_response(&self, code: i16, _: i16) -> IncrementalAlterConfigsResponse {
        use incremental_alter_configs_response::AlterConfigsResourceResponse;
        IncrementalAlterConfigsResponse::default().with_responses(
            self.resources
                .iter()
                .map(|r| {
                    AlterConfigsResourceResponse::default()
                        .with_resource_type(r.resource_type)
                        .with_resource_name(r.resource_name.clone())
                        .with_error_code(code)
                })
                .collect(),
        )
    }
}

impl ErrorResponse for AddPartitionsToTxnRequest {
    type Response = AddPartitionsToTxnResponse;
    fn error_response(&self, code: i16, _: i16) -> AddPartitionsToTxnResponse {
        use add_partitions_to_txn_response::*;
        AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(
            self.v3_and_below_topics
                .iter()
                .map(|t| {
                    AddPartitionsToTxnTopicResult::default()
                        .with_name(t.name.clone())
                        .with_results_by_partition(
                            t.partitions
                                .iter()
                                .map(|&p| {
                                    AddPartitionsToTxnPartitionResult::default()
                                        .with_partition_index(p)
                                        .with_partition_error_code(code)
                                })
                                .collect(),
                        )
                })
                .collect(),
        )
    }
}

impl ErrorResponse for TxnOffsetCommitRequest {
    type Response = TxnOffsetCommitResponse;
    fn error_response(&self, code: i16, _: i16) -> TxnOffsetCommitResponse {
        use txn_offset_commit_response::*;
        TxnOffsetCommitResponse::default().with_topics(
            self.topics
                .iter()
                .map(|t| {
                    TxnOffsetCommitResponseTopic::default()
                        .with_name(t.name.clone())
                        .with_partitions(
                            t.partitions
                                .iter()
                                .map(|p| {
                                    TxnOffsetCommitResponsePartition::default()
                                        .with_partition_index(p.partition_index)
                                        .with_error_code(code)
                                })
                                .collect(),
                        )
                })
                .collect(),
        )
    }
}
