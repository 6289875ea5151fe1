//! FindCoordinator, for every kind of coordinator: the request for a group
//! or a transactional id at a negotiated version, and the answer read into
//! `(node id, host, port)`. Shared by group membership and the
//! transactional producer. No I/O here.

use kafka_protocol::messages::{FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_protocol::protocol::StrBytes;

use crate::error::{Context, Error, ErrorCode, Result};
use crate::protocol::versions::VersionedRequest;

// `Client::find_coordinator` builds at our highest version and lets the
// broker's connection send whatever version it negotiated, so one request
// must be valid at every version we speak: true while the table stops
// below v4, where the key moves.
const _: () = assert!(FindCoordinatorRequest::MAX_VERSION < 4);

/// FindCoordinator key types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CoordinatorKey {
    /// A consumer group (key type 0).
    Group,
    /// A transactional id (key type 1).
    Transaction,
}

fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

/// FindCoordinator for `key` at `version`. Our version table stops at v3,
/// where the key is a single field; v4 (KIP-699) would put it in
/// `coordinator_keys`, so the builder does that too should the table grow.
pub(crate) fn find_coordinator(
    version: i16,
    kind: CoordinatorKey,
    key: &str,
) -> FindCoordinatorRequest {
    let request = FindCoordinatorRequest::default().with_key_type(match kind {
        CoordinatorKey::Group => 0,
        CoordinatorKey::Transaction => 1,
    });
    if version >= 4 {
        request.with_coordinator_keys(vec![str_bytes(key)])
    } else {
        request.with_key(str_bytes(key))
    }
}

/// Where the coordinator of `key` is, as `(node id, host, port)`, or the
/// broker's error. v4+ answers in `coordinators` (one entry per key asked).
pub(crate) fn coordinator_from(
    response: &FindCoordinatorResponse,
    key: &str,
) -> Result<(i32, String, i32)> {
    let context = || Context::api("FindCoordinator");
    if let Some(c) = response
        .coordinators
        .iter()
        .find(|c| c.key.as_str() == key)
        .or_else(|| response.coordinators.first())
    {
        Error::check(c.error_code, c.error_message.as_deref(), context)?;
        return Ok((c.node_id.0, c.host.to_string(), c.port));
    }
    Error::check(
        response.error_code,
        response.error_message.as_deref(),
        context,
    )?;
    if response.node_id.0 < 0 {
        // No error and no node: treat as "not available yet", as Java does
        // for a coordinator it cannot use.
        return Err(Error::Broker {
            code: ErrorCode::COORDINATOR_NOT_AVAILABLE,
            message: Some("FindCoordinator named no node".into()),
            context: context(),
        });
    }
    Ok((response.node_id.0, response.host.to_string(), response.port))
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::BrokerId;
    use kafka_protocol::messages::find_coordinator_response::Coordinator;

    use super::*;

    #[test]
    fn the_request_names_the_key_type_and_the_key_where_the_version_wants_it() {
        let r = find_coordinator(3, CoordinatorKey::Transaction, "tx-1");
        assert_eq!((r.key_type, r.key.as_str()), (1, "tx-1"));
        let r = find_coordinator(3, CoordinatorKey::Group, "g");
        assert_eq!((r.key_type, r.key.as_str()), (0, "g"));
        let r = find_coordinator(4, CoordinatorKey::Group, "g");
        assert_eq!(r.coordinator_keys.len(), 1);
        assert_eq!(r.coordinator_keys[0].as_str(), "g");
    }

    #[test]
    fn coordinator_is_read_from_either_layout() {
        let old = FindCoordinatorResponse::default()
            .with_node_id(BrokerId(2))
            .with_host(str_bytes("h"))
            .with_port(9092);
        assert_eq!(coordinator_from(&old, "g").unwrap(), (2, "h".into(), 9092));
        let failed = FindCoordinatorResponse::default()
            .with_error_code(ErrorCode::COORDINATOR_NOT_AVAILABLE.0)
            .with_node_id(BrokerId(-1));
        let err = coordinator_from(&failed, "g").unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::COORDINATOR_NOT_AVAILABLE));
        let v4 = FindCoordinatorResponse::default().with_coordinators(vec![
            Coordinator::default()
                .with_key(str_bytes("g"))
                .with_node_id(BrokerId(5))
                .with_host(str_bytes("x"))
                .with_port(1),
        ]);
        assert_eq!(coordinator_from(&v4, "g").unwrap().0, 5);
        let nobody = FindCoordinatorResponse::default().with_node_id(BrokerId(-1));
        assert!(coordinator_from(&nobody, "g").unwrap_err().is_retriable());
    }
}
