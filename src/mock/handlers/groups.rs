//! The group APIs, handed to the cluster's [`GroupCoordinator`] after the
//! check Kafka makes first: a group's requests must reach the broker that
//! coordinates it (NOT_COORDINATOR otherwise, so clients look it up again).
//!
//! [`GroupCoordinator`]: crate::mock::group::GroupCoordinator

use kafka_protocol::messages::*;

use super::code;
use crate::mock::acl::{self, CLUSTER_NAME, Operation, ResourceType};
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

/// Whether the caller may do `op` on the group.
fn may(conn: &Conn, op: Operation, group: &str) -> bool {
    acl::allowed(conn, op, ResourceType::Group, group)
}

/// Runs `$call` if the caller may `$op` the group (else
/// GROUP_AUTHORIZATION_FAILED) and this broker coordinates it (else
/// NOT_COORDINATOR), answering errors through the request's error response.
macro_rules! coordinated {
    ($conn:ident, $h:ident, $req:ident, $group:expr, $op:expr, $call:expr) => {{
        if !may($conn, $op, $group) {
            return $req.error_response(code::GROUP_AUTHORIZATION_FAILED, $h.version);
        }
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
        Operation::Read,
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
        Operation::Read,
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
        Operation::Read,
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
        Operation::Read,
        groups.leave_group(req, h.version).await
    )
}

pub(crate) async fn offset_commit(
    conn: &mut Conn,
    h: &Header,
    mut req: OffsetCommitRequest,
) -> OffsetCommitResponse {
    use offset_commit_response::*;
    let groups = conn.shared.groups.clone();
    if !may(conn, Operation::Read, &req.group_id) {
        return req.error_response(code::GROUP_AUTHORIZATION_FAILED, h.version);
    }
    // Read on each topic: the others go to the coordinator, these are
    // refused whatever it answers.
    let (allowed, denied): (Vec<_>, Vec<_>) = std::mem::take(&mut req.topics)
        .into_iter()
        .partition(|t| acl::allowed(conn, Operation::Read, ResourceType::Topic, &t.name));
    req.topics = allowed;
    let mut resp = if coordinates(conn, &req.group_id) {
        groups.offset_commit(req, h.version).await
    } else {
        req.error_response(code::NOT_COORDINATOR, h.version)
    };
    resp.topics.extend(denied.into_iter().map(|t| {
        OffsetCommitResponseTopic::default()
            .with_name(t.name)
            .with_partitions(
                t.partitions
                    .iter()
                    .map(|p| {
                        OffsetCommitResponsePartition::default()
                            .with_partition_index(p.partition_index)
                            .with_error_code(code::TOPIC_AUTHORIZATION_FAILED)
                    })
                    .collect(),
            )
    }));
    resp
}

pub(crate) async fn offset_fetch(
    conn: &mut Conn,
    h: &Header,
    mut req: OffsetFetchRequest,
) -> OffsetFetchResponse {
    use offset_fetch_response::OffsetFetchResponseGroup;
    let groups = conn.shared.groups.clone();
    // v8+ batches groups; a batch must reach one coordinator of them all
    // here (clients batch per coordinator). A group the caller may not
    // Describe is answered on its own.
    let mut hidden = Vec::new();
    if h.version >= 8 {
        let (visible, denied): (Vec<_>, Vec<_>) = std::mem::take(&mut req.groups)
            .into_iter()
            .partition(|g| may(conn, Operation::Describe, &g.group_id));
        req.groups = visible;
        hidden = denied;
    }
    let group = if h.version >= 8 {
        req.groups
            .first()
            .map(|g| g.group_id.to_string())
            .unwrap_or_default()
    } else {
        req.group_id.to_string()
    };
    // Which topics each group's request named (`None`: all of them).
    let named: Vec<Option<Vec<String>>> = if h.version >= 8 {
        req.groups
            .iter()
            .map(|g| {
                g.topics
                    .as_ref()
                    .map(|ts| ts.iter().map(|t| t.name.to_string()).collect())
            })
            .collect()
    } else {
        vec![
            req.topics
                .as_ref()
                .map(|ts| ts.iter().map(|t| t.name.to_string()).collect()),
        ]
    };
    let mut resp = if req.groups.is_empty() && h.version >= 8 {
        OffsetFetchResponse::default()
    } else if !may(conn, Operation::Describe, &group) {
        // Only before v8: v8+ groups were sorted out above.
        req.error_response(code::GROUP_AUTHORIZATION_FAILED, h.version)
    } else if !coordinates(conn, &group) {
        req.error_response(code::NOT_COORDINATOR, h.version)
    } else {
        groups.offset_fetch(req, h.version).await
    };
    hide_topics(conn, &mut resp, &named);
    resp.groups.extend(hidden.into_iter().map(|g| {
        OffsetFetchResponseGroup::default()
            .with_group_id(g.group_id)
            .with_error_code(code::GROUP_AUTHORIZATION_FAILED)
    }));
    resp
}

/// OffsetFetch answers only for topics the caller may Describe: one named
/// in the request gets TOPIC_AUTHORIZATION_FAILED per partition, and when
/// every topic was asked for the others are left out (as Kafka does).
fn hide_topics(conn: &Conn, resp: &mut OffsetFetchResponse, named: &[Option<Vec<String>>]) {
    let visible = |t: &str| acl::allowed(conn, Operation::Describe, ResourceType::Topic, t);
    let was_named = |i: usize| named.get(i).is_some_and(Option::is_some);
    if was_named(0) {
        for t in resp.topics.iter_mut().filter(|t| !visible(&t.name)) {
            for p in &mut t.partitions {
                p.committed_offset = -1;
                p.metadata = Some(Default::default());
                p.error_code = code::TOPIC_AUTHORIZATION_FAILED;
            }
        }
    } else {
        resp.topics.retain(|t| visible(&t.name));
    }
    for (i, g) in resp.groups.iter_mut().enumerate() {
        if was_named(i) {
            for t in g.topics.iter_mut().filter(|t| !visible(&t.name)) {
                for p in &mut t.partitions {
                    p.committed_offset = -1;
                    p.metadata = Some(Default::default());
                    p.error_code = code::TOPIC_AUTHORIZATION_FAILED;
                }
            }
        } else {
            g.topics.retain(|t| visible(&t.name));
        }
    }
}

pub(crate) async fn offset_delete(
    conn: &mut Conn,
    h: &Header,
    mut req: OffsetDeleteRequest,
) -> OffsetDeleteResponse {
    use offset_delete_response::*;
    let groups = conn.shared.groups.clone();
    if !may(conn, Operation::Delete, &req.group_id) {
        return req.error_response(code::GROUP_AUTHORIZATION_FAILED, h.version);
    }
    // Read on each topic, as for a commit.
    let (allowed, denied): (Vec<_>, Vec<_>) = std::mem::take(&mut req.topics)
        .into_iter()
        .partition(|t| acl::allowed(conn, Operation::Read, ResourceType::Topic, &t.name));
    req.topics = allowed;
    let mut resp = if coordinates(conn, &req.group_id) {
        groups.offset_delete(req, h.version).await
    } else {
        req.error_response(code::NOT_COORDINATOR, h.version)
    };
    resp.topics.extend(denied.into_iter().map(|t| {
        OffsetDeleteResponseTopic::default()
            .with_name(t.name)
            .with_partitions(
                t.partitions
                    .iter()
                    .map(|p| {
                        OffsetDeleteResponsePartition::default()
                            .with_partition_index(p.partition_index)
                            .with_error_code(code::TOPIC_AUTHORIZATION_FAILED)
                    })
                    .collect(),
            )
    }));
    resp
}

pub(crate) async fn describe_groups(
    conn: &mut Conn,
    h: &Header,
    mut req: DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    use describe_groups_response::DescribedGroup;
    let (visible, hidden): (Vec<_>, Vec<_>) = req
        .groups
        .drain(..)
        .partition(|g| may(conn, Operation::Describe, g));
    let (mine, others): (Vec<_>, Vec<_>) = visible.into_iter().partition(|g| coordinates(conn, g));
    req.groups = mine;
    let with_operations = h.version >= 3 && req.include_authorized_operations;
    let mut resp = conn.shared.groups.describe_groups(req, h.version).await;
    if with_operations {
        for g in resp.groups.iter_mut().filter(|g| g.error_code == 0) {
            g.authorized_operations =
                acl::authorized_operations(conn, ResourceType::Group, &g.group_id);
        }
    }
    resp.groups.extend(hidden.into_iter().map(|g| {
        DescribedGroup::default()
            .with_group_id(g)
            .with_error_code(code::GROUP_AUTHORIZATION_FAILED)
    }));
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
    let (deletable, denied): (Vec<_>, Vec<_>) = req
        .groups_names
        .drain(..)
        .partition(|g| may(conn, Operation::Delete, g));
    let (mine, others): (Vec<_>, Vec<_>) =
        deletable.into_iter().partition(|g| coordinates(conn, g));
    req.groups_names = mine;
    let mut resp = conn.shared.groups.delete_groups(req, h.version).await;
    resp.results.extend(denied.into_iter().map(|g| {
        DeletableGroupResult::default()
            .with_group_id(g)
            .with_error_code(code::GROUP_AUTHORIZATION_FAILED)
    }));
    resp.results.extend(others.into_iter().map(|g| {
        DeletableGroupResult::default()
            .with_group_id(g)
            .with_error_code(code::NOT_COORDINATOR)
    }));
    resp
}

/// ListGroups answers, like each Kafka broker, with the groups this broker
/// coordinates (admin clients ask every broker); with ACLs on, only those
/// the caller may Describe, unless it may Describe the cluster.
pub(crate) async fn list_groups(
    conn: &mut Conn,
    h: &Header,
    req: ListGroupsRequest,
) -> ListGroupsResponse {
    let mut resp = conn.shared.groups.list_groups(req, h.version).await;
    let all = acl::allowed(
        conn,
        Operation::Describe,
        ResourceType::Cluster,
        CLUSTER_NAME,
    );
    resp.groups.retain(|g| {
        coordinates(conn, &g.group_id) && (all || may(conn, Operation::Describe, &g.group_id))
    });
    resp
}
