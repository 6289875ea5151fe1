//! FindCoordinator (groups and transactional ids; v4 batches keys) and
//! InitProducerId for idempotent producers. With ACLs on, FindCoordinator
//! needs Describe on the group or transactional id.

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::*;

use super::{code, str_bytes};
use crate::mock::acl::{self, CLUSTER_NAME, Operation, ResourceType};
use crate::mock::connection::Conn;
use crate::mock::dispatch::Header;
use crate::mock::state::CoordinatorKind;

pub(crate) async fn find_coordinator(
    conn: &mut Conn,
    h: &Header,
    req: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let kind = match req.key_type {
        0 => Some(CoordinatorKind::Group),
        1 => Some(CoordinatorKind::Transaction),
        _ => None,
    };
    let st = conn.shared.lock();
    let host = &conn.shared.settings.host;
    let locate = |key: &str| -> Result<(i32, i32), i16> {
        let kind = kind.ok_or(code::INVALID_REQUEST)?;
        // Describe on the group or transactional id, before anything else.
        let (resource, refused) = match kind {
            CoordinatorKind::Group => (ResourceType::Group, code::GROUP_AUTHORIZATION_FAILED),
            CoordinatorKind::Transaction => (
                ResourceType::TransactionalId,
                code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
            ),
        };
        if !acl::allowed(conn, Operation::Describe, resource, key) {
            return Err(refused);
        }
        let id = st
            .coordinator_for(kind, key)
            .ok_or(code::COORDINATOR_NOT_AVAILABLE)?;
        let port = st.brokers.get(&id).map_or(-1, |b| i32::from(b.port));
        Ok((id, port))
    };
    if h.version >= 4 {
        let coordinators = req
            .coordinator_keys
            .iter()
            .map(|key| {
                let c = Coordinator::default().with_key(key.clone());
                match locate(key) {
                    Ok((id, port)) => c
                        .with_node_id(BrokerId(id))
                        .with_host(str_bytes(host))
                        .with_port(port),
                    Err(e) => c
                        .with_node_id(BrokerId(-1))
                        .with_port(-1)
                        .with_error_code(e),
                }
            })
            .collect();
        return FindCoordinatorResponse::default().with_coordinators(coordinators);
    }
    match locate(&req.key) {
        Ok((id, port)) => FindCoordinatorResponse::default()
            .with_node_id(BrokerId(id))
            .with_host(str_bytes(host))
            .with_port(port),
        Err(e) => FindCoordinatorResponse::default()
            .with_error_code(e)
            .with_node_id(BrokerId(-1))
            .with_port(-1),
    }
}

/// InitProducerId. Without a transactional id Kafka hands out a new
/// producer id every time (epoch 0), whatever id and epoch the request
/// names (KIP-360's bump applies to transactional producers); with one, the
/// transaction coordinator answers (`handlers::txn`).
pub(crate) async fn init_producer_id(
    conn: &mut Conn,
    _h: &Header,
    req: InitProducerIdRequest,
) -> InitProducerIdResponse {
    if req.transactional_id.is_some() {
        return super::txn::init_producer_id(conn, &req);
    }
    // An idempotent producer needs IdempotentWrite on the cluster or Write
    // on some topic (KIP-679).
    let may = acl::allowed(
        conn,
        Operation::IdempotentWrite,
        ResourceType::Cluster,
        CLUSTER_NAME,
    ) || acl::allowed_some(conn, Operation::Write, ResourceType::Topic);
    if !may {
        return InitProducerIdResponse::default()
            .with_error_code(code::CLUSTER_AUTHORIZATION_FAILED)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1);
    }
    let id = conn.shared.lock().allocate_producer_id();
    InitProducerIdResponse::default()
        .with_producer_id(ProducerId(id))
        .with_producer_epoch(0)
}
