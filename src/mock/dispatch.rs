//! From a request frame to a response frame: header, version check, auth
//! gate, injected faults, body decode through the allocation guard, the
//! handler for the API key, and the response header of the right version.
//!
//! Kafka's rules for bad requests: an unknown API key or an unsupported
//! version closes the connection, except ApiVersions, which answers an
//! unsupported version with UNSUPPORTED_VERSION and its own version range in
//! a v0 body (KIP-511) so that the client can retry with a version we speak.

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Encodable, Request};

use crate::mock::connection::Conn;
use crate::mock::faults::Fault;
use crate::mock::handlers::{self, api_versions};
use crate::mock::injected::ErrorResponse;
use crate::protocol::frame::decode_request_body;

/// What the connection does after a request.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Write this frame (size prefix included).
    Respond(Bytes),
    /// Nothing to write (Produce with acks=0).
    NoResponse,
    /// Close the connection, for this reason (logged at debug level).
    Close(String),
}

/// A decoded request header's parts that handlers use.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    pub api_key: ApiKey,
    pub version: i16,
    pub correlation_id: i32,
    pub client_id: Option<String>,
}

fn i16_at(frame: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([frame[at], frame[at + 1]])
}

/// Splits a request frame into its header and body, checking the API key and
/// version against what the cluster speaks. `Err` closes the connection,
/// except `Ok(Err(correlation id))` for an ApiVersions at a version we do not
/// speak, which is answered (KIP-511).
pub(crate) fn parse_header(frame: &Bytes) -> Result<Result<(Header, Bytes), i32>, String> {
    if frame.len() < 8 {
        return Err(format!("request frame of {} bytes", frame.len()));
    }
    let key = i16_at(frame, 0);
    let version = i16_at(frame, 2);
    let api_key = ApiKey::try_from(key).map_err(|_| format!("unknown API key {key}"))?;
    let Some((min, max)) = api_versions::supported(api_key) else {
        return Err(format!("unsupported API {api_key:?}"));
    };
    if version < min || version > max {
        if api_key == ApiKey::ApiVersions {
            let cid = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
            return Ok(Err(cid));
        }
        return Err(format!("unsupported version {version} of {api_key:?}"));
    }
    let mut body = frame.clone();
    let header = <RequestHeader as kafka_protocol::protocol::Decodable>::decode(
        &mut body,
        api_key.request_header_version(version),
    )
    .map_err(|e| format!("request header: {e:#}"))?;
    Ok(Ok((
        Header {
            api_key,
            version,
            correlation_id: header.correlation_id,
            client_id: header.client_id.map(|c| c.to_string()),
        },
        body,
    )))
}

/// Encodes a response frame; an encoding failure (a handler set a field the
/// version lacks: a mock bug) closes the connection.
pub(crate) fn encode_response<R: Encodable>(h: &Header, resp: &R) -> Outcome {
    let mut out = BytesMut::with_capacity(64);
    out.extend_from_slice(&[0; 4]);
    let header = ResponseHeader::default().with_correlation_id(h.correlation_id);
    if let Err(e) = header.encode(&mut out, h.api_key.response_header_version(h.version)) {
        return Outcome::Close(format!("encoding response header: {e:#}"));
    }
    if let Err(e) = resp.encode(&mut out, h.version) {
        tracing::warn!(api = ?h.api_key, version = h.version, "mock: cannot encode response: {e:#}");
        return Outcome::Close(format!(
            "encoding {:?} v{} response: {e:#}",
            h.api_key, h.version
        ));
    }
    let size = (out.len() - 4) as i32;
    out[..4].copy_from_slice(&size.to_be_bytes());
    Outcome::Respond(out.freeze())
}

fn decode<T: Request>(h: &Header, body: &Bytes) -> Result<T, Outcome> {
    decode_request_body::<T>(body, h.api_key as i16, h.version)
        .map_err(|reason| Outcome::Close(format!("{:?} v{} body: {reason}", h.api_key, h.version)))
}

/// Handles one request frame.
pub(crate) async fn handle(conn: &mut Conn, frame: Bytes) -> Outcome {
    let (h, body) = match parse_header(&frame) {
        Ok(Ok(parsed)) => parsed,
        Ok(Err(correlation_id)) => return api_versions::unsupported_version(correlation_id),
        Err(reason) => return Outcome::Close(reason),
    };
    let pre_auth = matches!(
        h.api_key,
        ApiKey::ApiVersions | ApiKey::SaslHandshake | ApiKey::SaslAuthenticate
    );
    if !pre_auth && !conn.security.is_authenticated() {
        if conn.security.expired() {
            conn.shared
                .expired_sessions
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Outcome::Close(format!("{:?} after the session expired", h.api_key));
        }
        return Outcome::Close(format!("{:?} before authentication", h.api_key));
    }
    let fault = conn.shared.faults().take(h.api_key as i16, conn.broker_id);
    if let Some(Fault::Delay(d)) = fault {
        tokio::time::sleep(d).await;
    }
    let injected = match fault {
        Some(Fault::Error(code)) => Some(code),
        _ => None,
    };
    let outcome = route(conn, &h, &body, injected).await;
    match (fault, outcome) {
        (Some(Fault::DropConnection), _) => {
            Outcome::Close(format!("injected: drop connection on {:?}", h.api_key))
        }
        (_, outcome) => outcome,
    }
}

/// Runs the handler of one API: `$handler(conn, request, version)` returns
/// the response (awaited when the handler is async).
macro_rules! routes {
    ($conn:ident, $h:ident, $body:ident, $injected:ident; $($key:ident: $req:ty => $handler:expr;)*) => {
        match $h.api_key {
            $(ApiKey::$key => {
                let req: $req = match decode::<$req>($h, $body) {
                    Ok(r) => r,
                    Err(close) => return close,
                };
                let resp = match $injected {
                    Some(code) => req.error_response(code, $h.version),
                    None => $handler($conn, $h, req).await,
                };
                encode_response($h, &resp)
            })*
            ApiKey::Produce => {
                let req: ProduceRequest = match decode::<ProduceRequest>($h, $body) {
                    Ok(r) => r,
                    Err(close) => return close,
                };
                handlers::produce::handle($conn, $h, req, $injected).await
            }
            other => Outcome::Close(format!("no handler for {other:?}")),
        }
    };
}

async fn route(conn: &mut Conn, h: &Header, body: &Bytes, injected: Option<i16>) -> Outcome {
    use handlers::*;
    routes! { conn, h, body, injected;
        ApiVersions: ApiVersionsRequest => api_versions::handle;
        Metadata: MetadataRequest => metadata::handle;
        DescribeCluster: DescribeClusterRequest => metadata::describe_cluster;
        Fetch: FetchRequest => fetch::handle;
        ListOffsets: ListOffsetsRequest => list_offsets::handle;
        OffsetForLeaderEpoch: OffsetForLeaderEpochRequest => list_offsets::offset_for_leader_epoch;
        CreateTopics: CreateTopicsRequest => topics::create_topics;
        DeleteTopics: DeleteTopicsRequest => topics::delete_topics;
        CreatePartitions: CreatePartitionsRequest => topics::create_partitions;
        DeleteRecords: DeleteRecordsRequest => topics::delete_records;
        DescribeConfigs: DescribeConfigsRequest => configs::describe_configs;
        AlterConfigs: AlterConfigsRequest => configs::alter_configs;
        IncrementalAlterConfigs: IncrementalAlterConfigsRequest => configs::incremental_alter_configs;
        FindCoordinator: FindCoordinatorRequest => coordinator::find_coordinator;
        InitProducerId: InitProducerIdRequest => coordinator::init_producer_id;
        SaslHandshake: SaslHandshakeRequest => sasl::handshake;
        SaslAuthenticate: SaslAuthenticateRequest => sasl::authenticate;
        JoinGroup: JoinGroupRequest => groups::join_group;
        SyncGroup: SyncGroupRequest => groups::sync_group;
        Heartbeat: HeartbeatRequest => groups::heartbeat;
        LeaveGroup: LeaveGroupRequest => groups::leave_group;
        OffsetCommit: OffsetCommitRequest => groups::offset_commit;
        OffsetFetch: OffsetFetchRequest => groups::offset_fetch;
        OffsetDelete: OffsetDeleteRequest => groups::offset_delete;
        ListGroups: ListGroupsRequest => groups::list_groups;
        DescribeGroups: DescribeGroupsRequest => groups::describe_groups;
        DeleteGroups: DeleteGroupsRequest => groups::delete_groups;
        AddPartitionsToTxn: AddPartitionsToTxnRequest => txn::add_partitions_to_txn;
        AddOffsetsToTxn: AddOffsetsToTxnRequest => txn::add_offsets_to_txn;
        EndTxn: EndTxnRequest => txn::end_txn;
        TxnOffsetCommit: TxnOffsetCommitRequest => txn::txn_offset_commit;
        DescribeUserScramCredentials: DescribeUserScramCredentialsRequest => sasl::describe_user_scram_credentials;
        AlterUserScramCredentials: AlterUserScramCredentialsRequest => sasl::alter_user_scram_credentials;
        ListTransactions: ListTransactionsRequest => txn_admin::list_transactions;
        DescribeTransactions: DescribeTransactionsRequest => txn_admin::describe_transactions;
        DescribeProducers: DescribeProducersRequest => txn_admin::describe_producers;
        DescribeLogDirs: DescribeLogDirsRequest => replicas::describe_log_dirs;
        ElectLeaders: ElectLeadersRequest => replicas::elect_leaders;
        WriteTxnMarkers: WriteTxnMarkersRequest => txn_markers::write_txn_markers;
        DescribeAcls: DescribeAclsRequest => acls::describe_acls;
        CreateAcls: CreateAclsRequest => acls::create_acls;
        DeleteAcls: DeleteAclsRequest => acls::delete_acls;
    }
}

/// Decodes a request frame's header and body without handling it: the
/// request-decoding path alone, for the fuzz target. `Err` is the reason
/// the connection would be closed.
pub fn decode_only(frame: Bytes) -> Result<(), String> {
    let (h, body) = match parse_header(&frame)? {
        Ok(parsed) => parsed,
        Err(_) => return Ok(()),
    };
    macro_rules! each {
        ($($key:ident: $req:ty,)*) => {
            match h.api_key {
                $(ApiKey::$key => decode::<$req>(&h, &body).map(drop),)*
                _ => Ok(()),
            }
        };
    }
    let r = each! {
        ApiVersions: ApiVersionsRequest, Metadata: MetadataRequest,
        DescribeCluster: DescribeClusterRequest, Fetch: FetchRequest, Produce: ProduceRequest,
        ListOffsets: ListOffsetsRequest, OffsetForLeaderEpoch: OffsetForLeaderEpochRequest,
        CreateTopics: CreateTopicsRequest, DeleteTopics: DeleteTopicsRequest,
        CreatePartitions: CreatePartitionsRequest, DeleteRecords: DeleteRecordsRequest,
        DescribeConfigs: DescribeConfigsRequest, AlterConfigs: AlterConfigsRequest,
        IncrementalAlterConfigs: IncrementalAlterConfigsRequest,
        FindCoordinator: FindCoordinatorRequest, InitProducerId: InitProducerIdRequest,
        SaslHandshake: SaslHandshakeRequest, SaslAuthenticate: SaslAuthenticateRequest,
        JoinGroup: JoinGroupRequest,
        SyncGroup: SyncGroupRequest, Heartbeat: HeartbeatRequest, LeaveGroup: LeaveGroupRequest,
        OffsetCommit: OffsetCommitRequest, OffsetFetch: OffsetFetchRequest,
        OffsetDelete: OffsetDeleteRequest, ListGroups: ListGroupsRequest,
        DescribeGroups: DescribeGroupsRequest, DeleteGroups: DeleteGroupsRequest,
        AddPartitionsToTxn: AddPartitionsToTxnRequest, AddOffsetsToTxn: AddOffsetsToTxnRequest,
        EndTxn: EndTxnRequest, TxnOffsetCommit: TxnOffsetCommitRequest,
        DescribeUserScramCredentials: DescribeUserScramCredentialsRequest,
        AlterUserScramCredentials: AlterUserScramCredentialsRequest,
        ListTransactions: ListTransactionsRequest,
        DescribeTransactions: DescribeTransactionsRequest,
        DescribeProducers: DescribeProducersRequest,
        DescribeLogDirs: DescribeLogDirsRequest, ElectLeaders: ElectLeadersRequest,
        WriteTxnMarkers: WriteTxnMarkersRequest,
        DescribeAcls: DescribeAclsRequest, CreateAcls: CreateAclsRequest,
        DeleteAcls: DeleteAclsRequest,
    };
    r.map_err(|o| match o {
        Outcome::Close(reason) => reason,
        _ => String::new(),
    })
}
