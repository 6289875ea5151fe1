//! Every error code of the Kafka protocol, with the broker's own retriable
//! flag (from Kafka's generated protocol error table).

use std::fmt;

/// A Kafka protocol error code, as carried in every response.
///
/// A newtype rather than an enum so that codes added by brokers newer than
/// this crate still round-trip (see [`ErrorCode::name`], which answers
/// `"UNKNOWN_CODE"` for those).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ErrorCode(pub i16);

macro_rules! error_codes {
    ($( $(#[$doc:meta])* ($code:literal, $name:ident, $retriable:literal) ),* $(,)?) => {
        impl ErrorCode {
            $( $(#[$doc])* pub const $name: ErrorCode = ErrorCode($code); )*

            /// The protocol name of the code, e.g. `"NOT_LEADER_OR_FOLLOWER"`.
            pub fn name(self) -> &'static str {
                match self.0 {
                    $( $code => stringify!($name), )*
                    _ => "UNKNOWN_CODE",
                }
            }

            /// Whether Kafka documents the error as retriable: the same
            /// request may succeed if sent again (possibly after a metadata
            /// refresh or coordinator lookup).
            pub fn is_retriable(self) -> bool {
                match self.0 {
                    $( $code => $retriable, )*
                    _ => false,
                }
            }

            /// Whether the code is one this crate knows by name.
            #[allow(clippy::manual_range_patterns)] // generated: one arm per code
            pub fn is_known(self) -> bool {
                matches!(self.0, $( $code )|*)
            }

            /// All codes known to this crate, in numeric order.
            pub const ALL: &'static [ErrorCode] = &[ $( ErrorCode($code), )* ];
        }
    };
}

error_codes! {
    /// The server experienced an unexpected error when processing the request.
    (-1, UNKNOWN_SERVER_ERROR, false),
    /// No error.
    (0, NONE, false),
    /// The requested offset is not within the range of offsets maintained by the server.
    (1, OFFSET_OUT_OF_RANGE, false),
    /// The message failed its CRC check, exceeds the valid size, or is otherwise corrupt.
    (2, CORRUPT_MESSAGE, true),
    /// This server does not host this topic-partition.
    (3, UNKNOWN_TOPIC_OR_PARTITION, true),
    /// The requested fetch size is invalid.
    (4, INVALID_FETCH_SIZE, false),
    /// There is no leader for this topic-partition (leader election in progress).
    (5, LEADER_NOT_AVAILABLE, true),
    /// The broker is not the leader (or a replica) of the partition.
    (6, NOT_LEADER_OR_FOLLOWER, true),
    /// The request timed out.
    (7, REQUEST_TIMED_OUT, true),
    /// The broker is not available.
    (8, BROKER_NOT_AVAILABLE, false),
    /// The replica is not available for the requested topic-partition.
    (9, REPLICA_NOT_AVAILABLE, true),
    /// The request included a message larger than the max message size the server will accept.
    (10, MESSAGE_TOO_LARGE, false),
    /// The controller moved to another broker.
    (11, STALE_CONTROLLER_EPOCH, false),
    /// The metadata field of the offset request was too large.
    (12, OFFSET_METADATA_TOO_LARGE, false),
    /// The server disconnected before a response was received.
    (13, NETWORK_EXCEPTION, true),
    /// The coordinator is loading and hence can't process requests.
    (14, COORDINATOR_LOAD_IN_PROGRESS, true),
    /// The coordinator is not available.
    (15, COORDINATOR_NOT_AVAILABLE, true),
    /// This is not the correct coordinator.
    (16, NOT_COORDINATOR, true),
    /// The request attempted to perform an operation on an invalid topic.
    (17, INVALID_TOPIC_EXCEPTION, false),
    /// The request included message batch larger than the configured segment size on the server.
    (18, RECORD_LIST_TOO_LARGE, false),
    /// Messages are rejected since there are fewer in-sync replicas than required.
    (19, NOT_ENOUGH_REPLICAS, true),
    /// Messages are written to the log, but to fewer in-sync replicas than required.
    (20, NOT_ENOUGH_REPLICAS_AFTER_APPEND, true),
    /// Produce request specified an invalid value for required acks.
    (21, INVALID_REQUIRED_ACKS, false),
    /// Specified group generation id is not valid.
    (22, ILLEGAL_GENERATION, false),
    /// The group member's supported protocols are incompatible with those of existing members.
    (23, INCONSISTENT_GROUP_PROTOCOL, false),
    /// The group id is invalid.
    (24, INVALID_GROUP_ID, false),
    /// The coordinator is not aware of this member.
    (25, UNKNOWN_MEMBER_ID, false),
    /// The session timeout is not within the range allowed by the broker.
    (26, INVALID_SESSION_TIMEOUT, false),
    /// The group is rebalancing, so a rejoin is needed.
    (27, REBALANCE_IN_PROGRESS, false),
    /// The committing offset data size is not valid.
    (28, INVALID_COMMIT_OFFSET_SIZE, false),
    /// Topic authorization failed.
    (29, TOPIC_AUTHORIZATION_FAILED, false),
    /// Group authorization failed.
    (30, GROUP_AUTHORIZATION_FAILED, false),
    /// Cluster authorization failed.
    (31, CLUSTER_AUTHORIZATION_FAILED, false),
    /// The timestamp of the message is out of acceptable range.
    (32, INVALID_TIMESTAMP, false),
    /// The broker does not support the requested SASL mechanism.
    (33, UNSUPPORTED_SASL_MECHANISM, false),
    /// Request is not valid given the current SASL state.
    (34, ILLEGAL_SASL_STATE, false),
    /// The version of API is not supported.
    (35, UNSUPPORTED_VERSION, false),
    /// Topic with this name already exists.
    (36, TOPIC_ALREADY_EXISTS, false),
    /// Number of partitions is below 1.
    (37, INVALID_PARTITIONS, false),
    /// Replication factor is below 1 or larger than the number of available brokers.
    (38, INVALID_REPLICATION_FACTOR, false),
    /// Replica assignment is invalid.
    (39, INVALID_REPLICA_ASSIGNMENT, false),
    /// Configuration is invalid.
    (40, INVALID_CONFIG, false),
    /// This is not the correct controller for this cluster.
    (41, NOT_CONTROLLER, true),
    /// The request was malformed or the server does not support it.
    (42, INVALID_REQUEST, false),
    /// The message format version on the broker does not support the request.
    (43, UNSUPPORTED_FOR_MESSAGE_FORMAT, false),
    /// Request parameters do not satisfy the configured policy.
    (44, POLICY_VIOLATION, false),
    /// The broker received an out of order sequence number.
    (45, OUT_OF_ORDER_SEQUENCE_NUMBER, false),
    /// The broker received a duplicate sequence number.
    (46, DUPLICATE_SEQUENCE_NUMBER, false),
    /// Producer attempted to produce with an old epoch.
    (47, INVALID_PRODUCER_EPOCH, false),
    /// The producer attempted a transactional operation in an invalid state.
    (48, INVALID_TXN_STATE, false),
    /// The producer attempted to use a producer id which is not currently assigned to its transactional id.
    (49, INVALID_PRODUCER_ID_MAPPING, false),
    /// The transaction timeout is larger than the maximum value allowed by the broker.
    (50, INVALID_TRANSACTION_TIMEOUT, false),
    /// The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing.
    (51, CONCURRENT_TRANSACTIONS, true),
    /// The transaction coordinator sending a WriteTxnMarker is no longer the current coordinator.
    (52, TRANSACTION_COORDINATOR_FENCED, false),
    /// Transactional Id authorization failed.
    (53, TRANSACTIONAL_ID_AUTHORIZATION_FAILED, false),
    /// Security features are disabled.
    (54, SECURITY_DISABLED, false),
    /// The broker did not attempt to execute this operation.
    (55, OPERATION_NOT_ATTEMPTED, false),
    /// Disk error when trying to access log file on the disk.
    (56, KAFKA_STORAGE_ERROR, true),
    /// The user-specified log directory is not found in the broker config.
    (57, LOG_DIR_NOT_FOUND, false),
    /// SASL Authentication failed.
    (58, SASL_AUTHENTICATION_FAILED, false),
    /// The broker could not locate the producer metadata associated with the producer id.
    (59, UNKNOWN_PRODUCER_ID, false),
    /// A partition reassignment is in progress.
    (60, REASSIGNMENT_IN_PROGRESS, false),
    /// Delegation Token feature is not enabled.
    (61, DELEGATION_TOKEN_AUTH_DISABLED, false),
    /// Delegation Token is not found on server.
    (62, DELEGATION_TOKEN_NOT_FOUND, false),
    /// Specified Principal is not valid Owner/Renewer.
    (63, DELEGATION_TOKEN_OWNER_MISMATCH, false),
    /// Delegation Token requests are not allowed on this connection.
    (64, DELEGATION_TOKEN_REQUEST_NOT_ALLOWED, false),
    /// Delegation Token authorization failed.
    (65, DELEGATION_TOKEN_AUTHORIZATION_FAILED, false),
    /// Delegation Token is expired.
    (66, DELEGATION_TOKEN_EXPIRED, false),
    /// Supplied principalType is not supported.
    (67, INVALID_PRINCIPAL_TYPE, false),
    /// The group is not empty.
    (68, NON_EMPTY_GROUP, false),
    /// The group id does not exist.
    (69, GROUP_ID_NOT_FOUND, false),
    /// The fetch session ID was not found.
    (70, FETCH_SESSION_ID_NOT_FOUND, true),
    /// The fetch session epoch is invalid.
    (71, INVALID_FETCH_SESSION_EPOCH, true),
    /// There is no listener on the leader broker that matches the listener on which metadata request was processed.
    (72, LISTENER_NOT_FOUND, true),
    /// Topic deletion is disabled.
    (73, TOPIC_DELETION_DISABLED, false),
    /// The leader epoch in the request is older than the epoch on the broker.
    (74, FENCED_LEADER_EPOCH, true),
    /// The leader epoch in the request is newer than the epoch on the broker.
    (75, UNKNOWN_LEADER_EPOCH, true),
    /// The requesting client does not support the compression type of given partition.
    (76, UNSUPPORTED_COMPRESSION_TYPE, false),
    /// Broker epoch has changed.
    (77, STALE_BROKER_EPOCH, false),
    /// The leader high watermark has not caught up from a recent leader election.
    (78, OFFSET_NOT_AVAILABLE, true),
    /// The group member needs to have a valid member id before actually entering a consumer group.
    (79, MEMBER_ID_REQUIRED, false),
    /// The preferred leader was not available.
    (80, PREFERRED_LEADER_NOT_AVAILABLE, true),
    /// The group has reached its maximum size.
    (81, GROUP_MAX_SIZE_REACHED, false),
    /// The broker rejected this static consumer since another consumer with the same group.instance.id has registered with a different member.id.
    (82, FENCED_INSTANCE_ID, false),
    /// Eligible topic partition leaders are not available.
    (83, ELIGIBLE_LEADERS_NOT_AVAILABLE, true),
    /// Leader election not needed for topic partition.
    (84, ELECTION_NOT_NEEDED, true),
    /// No partition reassignment is in progress.
    (85, NO_REASSIGNMENT_IN_PROGRESS, false),
    /// Deleting offsets of a topic is forbidden while the consumer group is actively subscribed to it.
    (86, GROUP_SUBSCRIBED_TO_TOPIC, false),
    /// This record has failed the validation on broker and hence will be rejected.
    (87, INVALID_RECORD, false),
    /// There are unstable offsets that need to be cleared.
    (88, UNSTABLE_OFFSET_COMMIT, true),
    /// The throttling quota has been exceeded.
    (89, THROTTLING_QUOTA_EXCEEDED, true),
    /// There is a newer producer with the same transactionalId which fences the current one.
    (90, PRODUCER_FENCED, false),
    /// A request illegally referred to a resource that does not exist.
    (91, RESOURCE_NOT_FOUND, false),
    /// A request illegally referred to the same resource twice.
    (92, DUPLICATE_RESOURCE, false),
    /// Requested credential would not meet criteria for acceptability.
    (93, UNACCEPTABLE_CREDENTIAL, false),
    /// Indicates that either the sender or recipient of a voter-only request is not one of the expected voters.
    (94, INCONSISTENT_VOTER_SET, false),
    /// The given update version was invalid.
    (95, INVALID_UPDATE_VERSION, false),
    /// Unable to update finalized features due to an unexpected server error.
    (96, FEATURE_UPDATE_FAILED, false),
    /// Request principal deserialization failed during forwarding.
    (97, PRINCIPAL_DESERIALIZATION_FAILURE, false),
    /// Requested snapshot was not found.
    (98, SNAPSHOT_NOT_FOUND, false),
    /// Requested position is not greater than or equal to zero, and less than the size of the snapshot.
    (99, POSITION_OUT_OF_RANGE, false),
    /// This server does not host this topic ID.
    (100, UNKNOWN_TOPIC_ID, true),
    /// This broker ID is already in use.
    (101, DUPLICATE_BROKER_REGISTRATION, false),
    /// The given broker ID was not registered.
    (102, BROKER_ID_NOT_REGISTERED, false),
    /// The log's topic ID did not match the topic ID in the request.
    (103, INCONSISTENT_TOPIC_ID, true),
    /// The clusterId in the request does not match that found on the server.
    (104, INCONSISTENT_CLUSTER_ID, false),
    /// The transactionalId could not be found.
    (105, TRANSACTIONAL_ID_NOT_FOUND, false),
    /// The fetch session encountered inconsistent topic ID usage.
    (106, FETCH_SESSION_TOPIC_ID_ERROR, true),
    /// The new ISR contains at least one ineligible replica.
    (107, INELIGIBLE_REPLICA, false),
    /// The AlterPartition request successfully updated the partition state but the leader has changed.
    (108, NEW_LEADER_ELECTED, false),
    /// The requested offset is moved to tiered storage.
    (109, OFFSET_MOVED_TO_TIERED_STORAGE, false),
    /// The member epoch is fenced by the group coordinator.
    (110, FENCED_MEMBER_EPOCH, false),
    /// The instance ID is still used by another member in the consumer group.
    (111, UNRELEASED_INSTANCE_ID, false),
    /// The assignor or its version range is not supported by the consumer group.
    (112, UNSUPPORTED_ASSIGNOR, false),
    /// The member epoch is stale.
    (113, STALE_MEMBER_EPOCH, false),
    /// The request was sent to an endpoint of the wrong type.
    (114, MISMATCHED_ENDPOINT_TYPE, false),
    /// This endpoint type is not supported yet.
    (115, UNSUPPORTED_ENDPOINT_TYPE, false),
    /// This controller ID is not known.
    (116, UNKNOWN_CONTROLLER_ID, false),
    /// Client sent a push telemetry request with an invalid or outdated subscription ID.
    (117, UNKNOWN_SUBSCRIPTION_ID, false),
    /// Client sent a push telemetry request larger than the maximum size the broker will accept.
    (118, TELEMETRY_TOO_LARGE, false),
    /// The controller has considered the broker registration to be invalid.
    (119, INVALID_REGISTRATION, false),
    /// The server encountered an error with the transaction; the client can abort it to continue.
    (120, TRANSACTION_ABORTABLE, false),
    /// The record state is invalid.
    (121, INVALID_RECORD_STATE, false),
    /// The share session was not found.
    (122, SHARE_SESSION_NOT_FOUND, true),
    /// The share session epoch is invalid.
    (123, INVALID_SHARE_SESSION_EPOCH, true),
    /// The share coordinator rejected the request because the share-group state epoch did not match.
    (124, FENCED_STATE_EPOCH, false),
    /// The voter key doesn't match the receiving replica's key.
    (125, INVALID_VOTER_KEY, false),
    /// The voter is already part of the set of voters.
    (126, DUPLICATE_VOTER, false),
    /// The voter is not part of the set of voters.
    (127, VOTER_NOT_FOUND, false),
    /// The regular expression is not valid.
    (128, INVALID_REGULAR_EXPRESSION, false),
    /// Client metadata is stale; the client should rebootstrap to obtain new metadata.
    (129, REBOOTSTRAP_REQUIRED, false),
    /// The supplied topology is invalid.
    (130, STREAMS_INVALID_TOPOLOGY, false),
    /// The supplied topology epoch is invalid.
    (131, STREAMS_INVALID_TOPOLOGY_EPOCH, false),
    /// The supplied topology epoch is outdated.
    (132, STREAMS_TOPOLOGY_FENCED, false),
    /// The limit of share sessions has been reached.
    (133, SHARE_SESSION_LIMIT_REACHED, true),
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.0)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

impl From<i16> for ErrorCode {
    fn from(code: i16) -> Self {
        ErrorCode(code)
    }
}
