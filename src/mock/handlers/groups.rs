//! The group APIs, handed to the cluster's [`GroupCoordinator`] after the
//! check Kafka makes first: a group's requests must reach the broker that
//! coordinates it (NOT_COORDINATOR otherwise, so clients look it up again).
//!
//! [`GroupCoordinator`]: crate::mock::group::GroupCoordinator

use kafka_protocol::messages::*;

use super::code;
use crate::mock::connection::Conn;
use crate::mock::dispatch::Header;
use crate::mock::group::Caller;
use crate::mock::injected::ErrorResponse;
use crate::mock::state::CoordinatorKind;

fn coordinates(conn: &Conn, group: &str) -> bool {
    conn.shared
        .lock()
        .coordinator_for(CoordinatorKind::Group, group)
        == Some(conn.broker_id)
}

/// Runs `$call` if this broker coordinates `$group`, else answers
/// NOT_COORDINATOR through the request's error response.
macro_rules! coordinated {
    ($conn:ident, $h:ident, $req:ident, $group:expr, $call:expr) => {{
        if !coordinates($conn, $group) {
            return $req.error_response(code::NOT_COORDINATOR, $h.version);
        }
        $call
    }};
}

pub(crate) async fn join_group(
    conn: &mut Conn,
    h: &Header,
    req: JoinGroupRequest,
) -> JoinGroupResponse {
    let caller = Caller {
        client_id: h.client_id.clone().unwrap_or_default(),
        client_host: format!("/{}", conn.peer.ip()),
    };
    let groups = conn.shared.groups.clone();
    coordinated!(
        conn,
        h,
        req,
        &req.group_id,
        groups.join_group(req, h.version, caller).await
    )
}

pub(crate) async fn sync_group(
    conn: &mut Conn,
    h: &Header,
    req: SyncGroupRequest,
) -> SyncGroupResponse {
    let groups = conn.shared.groups.clone();
    coordinated!(
        conn,
        h,
        req,
        &req.group_id,
        groups.sync_group(req, h.version).await
    )
}

pub(crate) async fn heartbeat(
    conn: &mut Conn,
    h: &Header,
    req: HeartbeatRequest,
) -> HeartbeatResponse {
    let groups = conn.shared.groups.clone();
    coordinated!(
        conn,
        h,
        req,
        &req.group_id,
        groups.heartbeat(req, h.version).await
    )
}

pub(crate) async fn leave_group(
    conn: &mut Conn,
    h: &Header,
    req: LeaveGroupRequest,
) -> LeaveGroupResponse {
    let groups = conn.shared.groups.clone();
    coordinated!(
        conn,
        h,
        req,
        &req.group_id,
        groups.leave_group(req, h.version).await
    )
}

pub(crate) async fn offset_commit(
    conn: &mut Conn,
    h: &Header,
    req: OffsetCommitRequest,
) -> OffsetCommitResponse {
    let groups = conn.shared.groups.clone();
    coordinated!(
        conn,
        h,
        req,
        &req.group_id,
        groups.offset_commit(req, h.version).await
    )
}

pub(crate) async fn offset_fetch(
    conn: &mut Conn,
    h: &Header,
    req: OffsetFetchRequest,
) -> OffsetFetchResponse {
    let groups = conn.shared.groups.clone();
    // v8+ batches groups; a batch must reach one coordinator of them all
    // here (clients batch per coordinator).
    let group = if h.version >= 8 {
        req.groups
            .first()
            .map(|g| g.group_id.to_string())
            .unwrap_or_default()
    } else {
        req.group_id.to_string()
    };
    coordinated!(
        conn,
        h,
        req,
        &group,
        groups.offset_fetch(req, h.version).await
    )
}

pub(crate) async fn offset_delete(
    conn: &mut Conn,
    h: &Header,
    req: OffsetDeleteRequest,
) -> OffsetDeleteResponse {
    let groups = conn.shared.groups.clone();
    coordinated!(
        conn,
        h,
        req,
        &req.group_id,
        groups.offset_delete(req, h.version).await
    )
}

pub(crate) async fn describe_groups(
    conn: &mut Conn,
    h: &Header,
    mut req: DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    use describe_groups_response::DescribedGroup;
    let (mine, others): (Vec<_>, Vec<_>) = req.groups.drain(..).partition(|g| coordinates(conn, g));
    req.groups = mine;
    let mut resp = conn.shared.groups.describe_groups(req, h.version).await;
    resp.groups.extend(others.into_iter().map(|g| {
        DescribedGroup::default()
            .with_group_id(g)
            .with_error_code(code::NOT_COORDINATOR)
    }));
    resp
}

pub(crate) async fn delete_groups(
    conn: &mut Conn,
    h: &Header,
    mut req: DeleteGroupsRequest,
) -> DeleteGroupsResponse {
    use delete_groups_response::DeletableGroupResult;
    let (mine, others): (Vec<_>, Vec<_>) = req
        .groups_names
        .drain(..)
        .partition(|g| coordinates(conn, g));
    req.groups_names = mine;
    let mut resp = conn.shared.groups.delete_groups(req, h.version).await;
    resp.results.extend(others.into_iter().map(|g| {
        DeletableGroupResult::default()
            .with_group_id(g)
            .with_error_code(code::NOT_COORDINATOR)
    }));
    resp
}

/// ListGroups answers, like each Kafka broker, with the groups this broker
/// coordinates (admin clients ask every broker).
pub(crate) async fn list_groups(
    conn: &mut Conn,
    h: &Header,
    req: ListGroupsRequest,
) -> ListGroupsResponse {
    let mut resp = conn.shared.groups.list_groups(req, h.version).await;
    resp.groups.retain(|g| coordinates(conn, &g.group_id));
    resp
}
