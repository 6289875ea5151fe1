//! The coordinator requests at a negotiated version, and their responses
//! turned into the machine's events. No I/O here.
//!
//! kafka-protocol refuses to encode a field the chosen version lacks, so
//! every builder sets only what the version has. Which version is sent is
//! decided by `protocol::versions` (the group APIs are capped there, below
//! what these builders handle).

use bytes::Bytes;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    GroupId, HeartbeatRequest, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    LeaveGroupResponse, SyncGroupRequest, SyncGroupResponse,
};
use kafka_protocol::protocol::StrBytes;

use crate::consumer::assignor::wire::decode_assignment;
use crate::consumer::group::machine::{
    self as group, Heartbeat, JoinGroup, JoinedMember, LeaveGroup, SyncGroup,
};
use crate::{ErrorCode, Result};

/// The embedded protocol type every consumer uses in JoinGroup/SyncGroup.
pub(super) const PROTOCOL_TYPE: &str = "consumer";

fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

/// Settings a JoinGroup carries besides the machine's [`JoinGroup`].
pub(super) struct JoinSettings<'a> {
    pub group_id: &'a str,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    /// `(assignor name, subscription metadata)` in preference order.
    pub protocols: &'a [(String, Bytes)],
}

pub(super) fn join_group(version: i16, s: &JoinSettings<'_>, join: &JoinGroup) -> JoinGroupRequest {
    let mut request = JoinGroupRequest::default()
        .with_group_id(GroupId(str_bytes(s.group_id)))
        .with_session_timeout_ms(s.session_timeout_ms)
        .with_rebalance_timeout_ms(s.rebalance_timeout_ms)
        .with_member_id(str_bytes(&join.member_id))
        .with_protocol_type(str_bytes(PROTOCOL_TYPE))
        .with_protocols(
            s.protocols
                .iter()
                .map(|(name, metadata)| {
                    JoinGroupRequestProtocol::default()
                        .with_name(str_bytes(name))
                        .with_metadata(metadata.clone())
                })
                .collect(),
        );
    if version >= 5 {
        request.group_instance_id = join.group_instance_id.as_deref().map(str_bytes);
    }
    if version >= 8 {
        request.reason = Some(str_bytes(&join.reason));
    }
    request
}

pub(super) fn join_group_event(response: JoinGroupResponse) -> group::JoinGroupResponse {
    group::JoinGroupResponse {
        error: ErrorCode(response.error_code),
        generation_id: response.generation_id,
        protocol_name: response
            .protocol_name
            .map(|p| p.to_string())
            .unwrap_or_default(),
        leader: response.leader.to_string(),
        member_id: response.member_id.to_string(),
        members: response
            .members
            .into_iter()
            .map(|m| JoinedMember {
                member_id: m.member_id.to_string(),
                group_instance_id: m.group_instance_id.map(|i| i.to_string()),
                metadata: m.metadata,
            })
            .collect(),
    }
}

pub(super) fn sync_group(version: i16, group_id: &str, sync: &SyncGroup) -> SyncGroupRequest {
    let mut request = SyncGroupRequest::default()
        .with_group_id(GroupId(str_bytes(group_id)))
        .with_generation_id(sync.generation_id)
        .with_member_id(str_bytes(&sync.member_id))
        .with_assignments(
            sync.assignments
                .iter()
                .map(|a| {
                    SyncGroupRequestAssignment::default()
                        .with_member_id(str_bytes(&a.member_id))
                        .with_assignment(a.assignment.clone())
                })
                .collect(),
        );
    if version >= 3 {
        request.group_instance_id = sync.group_instance_id.as_deref().map(str_bytes);
    }
    if version >= 5 {
        request.protocol_type = Some(str_bytes(PROTOCOL_TYPE));
        request.protocol_name = Some(str_bytes(&sync.protocol_name));
    }
    request
}

/// The SyncGroup response as the machine wants it, the assignment decoded.
/// Undecodable assignment bytes are an error (the leader sent garbage).
pub(super) fn sync_group_event(response: SyncGroupResponse) -> Result<group::SyncGroupResponse> {
    let error = ErrorCode(response.error_code);
    if error != ErrorCode::NONE {
        return Ok(group::SyncGroupResponse::error(error));
    }
    let assignment = decode_assignment(response.assignment)?;
    Ok(group::SyncGroupResponse {
        error,
        assignment: assignment.partitions,
        protocol_name: response.protocol_name.map(|p| p.to_string()),
    })
}

pub(super) fn heartbeat(version: i16, group_id: &str, hb: &Heartbeat) -> HeartbeatRequest {
    let mut request = HeartbeatRequest::default()
        .with_group_id(GroupId(str_bytes(group_id)))
        .with_generation_id(hb.generation_id)
        .with_member_id(str_bytes(&hb.member_id));
    if version >= 3 {
        request.group_instance_id = hb.group_instance_id.as_deref().map(str_bytes);
    }
    request
}

/// LeaveGroup: v0-2 name one member; v3+ (KIP-345) list members.
pub(super) fn leave_group(version: i16, group_id: &str, leave: &LeaveGroup) -> LeaveGroupRequest {
    let request = LeaveGroupRequest::default().with_group_id(GroupId(str_bytes(group_id)));
    if version >= 3 {
        let mut member = MemberIdentity::default().with_member_id(str_bytes(&leave.member_id));
        if version >= 5 {
            member.reason = Some(str_bytes(&leave.reason));
        }
        request.with_members(vec![member])
    } else {
        request.with_member_id(str_bytes(&leave.member_id))
    }
}

/// The LeaveGroup outcome: the top-level error, else the member's own.
pub(super) fn leave_group_error(response: &LeaveGroupResponse) -> ErrorCode {
    if response.error_code != 0 {
        return ErrorCode(response.error_code);
    }
    response
        .members
        .iter()
        .map(|m| ErrorCode(m.error_code))
        .find(|c| *c != ErrorCode::NONE)
        .unwrap_or(ErrorCode::NONE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consumer::group::machine::MemberAssignment;
    use crate::protocol::versions::VersionedRequest;
    use bytes::BytesMut;
    use kafka_protocol::messages::LeaveGroupResponse;
    use kafka_protocol::protocol::Encodable;

    fn encodes<R: Encodable + VersionedRequest>(build: impl Fn(i16) -> R) {
        for v in R::MIN_VERSION..=R::MAX_VERSION {
            let mut buf = BytesMut::new();
            build(v)
                .encode(&mut buf, v)
                .unwrap_or_else(|e| panic!("{} v{v}: {e:#}", std::any::type_name::<R>()));
        }
    }

    #[test]
    fn every_request_encodes_at_every_version_we_speak() {
        let join = JoinGroup {
            member_id: "m".into(),
            group_instance_id: Some("i".into()),
            topics: vec!["t".into()],
            owned_partitions: vec![],
            generation_id: -1,
            reason: "joining".into(),
        };
        let protocols = vec![("range".to_string(), Bytes::from_static(b"\0\0"))];
        let settings = JoinSettings {
            group_id: "g",
            session_timeout_ms: 6000,
            rebalance_timeout_ms: 30000,
            protocols: &protocols,
        };
        encodes(|v| join_group(v, &settings, &join));
        let sync = SyncGroup {
            generation_id: 3,
            member_id: "m".into(),
            group_instance_id: Some("i".into()),
            protocol_name: "range".into(),
            assignments: vec![MemberAssignment {
                member_id: "m".into(),
                assignment: Bytes::new(),
            }],
        };
        encodes(|v| sync_group(v, "g", &sync));
        let hb = Heartbeat {
            generation_id: 3,
            member_id: "m".into(),
            group_instance_id: Some("i".into()),
        };
        encodes(|v| heartbeat(v, "g", &hb));
        let leave = LeaveGroup {
            member_id: "m".into(),
            reason: "closing".into(),
        };
        encodes(|v| leave_group(v, "g", &leave));
    }

    #[test]
    fn leave_error_prefers_top_level_then_member() {
        use kafka_protocol::messages::leave_group_response::MemberResponse;
        let r = LeaveGroupResponse::default().with_members(vec![
            MemberResponse::default().with_error_code(ErrorCode::UNKNOWN_MEMBER_ID.0),
        ]);
        assert_eq!(leave_group_error(&r), ErrorCode::UNKNOWN_MEMBER_ID);
        let r = r.with_error_code(ErrorCode::NOT_COORDINATOR.0);
        assert_eq!(leave_group_error(&r), ErrorCode::NOT_COORDINATOR);
    }

    #[test]
    fn garbage_assignment_is_an_error_not_a_panic() {
        let r = SyncGroupResponse::default()
            .with_assignment(Bytes::from_static(b"\0\0\x7f\xff\xff\xff"));
        assert!(sync_group_event(r).is_err());
        let r = SyncGroupResponse::default().with_error_code(ErrorCode::REBALANCE_IN_PROGRESS.0);
        assert_eq!(
            sync_group_event(r).unwrap().error,
            ErrorCode::REBALANCE_IN_PROGRESS
        );
    }
}
