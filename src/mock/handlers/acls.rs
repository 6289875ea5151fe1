//! DescribeAcls, CreateAcls and DeleteAcls on the cluster's ACL table
//! ([`crate::mock::acl`]). Describing needs Describe on the cluster,
//! creating and deleting Alter (CLUSTER_AUTHORIZATION_FAILED otherwise);
//! with the authorizer off every answer is SECURITY_DISABLED, as from a
//! Kafka broker with no authorizer configured.

use kafka_protocol::messages::*;

use super::{code, str_bytes};
use crate::mock::acl::{
    self, AclBinding, AclFilter, CLUSTER_NAME, Operation, RawBinding, ResourceType,
};
use crate::mock::connection::Conn;
use crate::mock::dispatch::Header;

/// Why a request is not handled: (error code, message).
fn refused(conn: &Conn, op: Operation) -> Option<(i16, &'static str)> {
    if !conn.shared.acls.enabled() {
        return Some((code::SECURITY_DISABLED, "No Authorizer is configured."));
    }
    (!acl::allowed(conn, op, ResourceType::Cluster, CLUSTER_NAME)).then_some((
        code::CLUSTER_AUTHORIZATION_FAILED,
        "Cluster authorization failed.",
    ))
}

pub(crate) async fn describe_acls(
    conn: &mut Conn,
    _h: &Header,
    req: DescribeAclsRequest,
) -> DescribeAclsResponse {
    use describe_acls_response::*;
    let resp = DescribeAclsResponse::default();
    if let Some((error, message)) = refused(conn, Operation::Describe) {
        return resp
            .with_error_code(error)
            .with_error_message(Some(str_bytes(message)));
    }
    let Some(filter) = AclFilter::from_raw(
        req.resource_type_filter,
        req.resource_name_filter.as_deref(),
        req.pattern_type_filter,
        req.principal_filter.as_deref(),
        req.host_filter.as_deref(),
        req.operation,
        req.permission_type,
    ) else {
        return resp
            .with_error_code(code::INVALID_REQUEST)
            .with_error_message(Some(str_bytes("The filter has unknown values")));
    };
    // Grouped by resource pattern; the table is ordered by it.
    let mut resources: Vec<DescribeAclsResource> = Vec::new();
    for b in conn.shared.acls.describe(&filter) {
        let entry = AclDescription::default()
            .with_principal(str_bytes(&b.principal))
            .with_host(str_bytes(&b.host))
            .with_operation(b.operation as i8)
            .with_permission_type(b.permission as i8);
        match resources.last_mut() {
            Some(r)
                if r.resource_type == b.resource_type as i8
                    && r.resource_name.as_str() == b.name
                    && r.pattern_type == b.pattern as i8 =>
            {
                r.acls.push(entry)
            }
            _ => resources.push(
                DescribeAclsResource::default()
                    .with_resource_type(b.resource_type as i8)
                    .with_resource_name(str_bytes(&b.name))
                    .with_pattern_type(b.pattern as i8)
                    .with_acls(vec![entry]),
            ),
        }
    }
    resp.with_error_message(None).with_resources(resources)
}

pub(crate) async fn create_acls(
    conn: &mut Conn,
    _h: &Header,
    req: CreateAclsRequest,
) -> CreateAclsResponse {
    use create_acls_response::AclCreationResult;
    let refusal = refused(conn, Operation::Alter);
    let results = req
        .creations
        .iter()
        .map(|c| {
            let outcome = match refusal {
                Some((error, message)) => Err((error, message.to_owned())),
                None => AclBinding::from_raw(&RawBinding {
                    resource_type: c.resource_type,
                    name: &c.resource_name,
                    pattern: c.resource_pattern_type,
                    principal: &c.principal,
                    host: &c.host,
                    operation: c.operation,
                    permission: c.permission_type,
                })
                .map_err(|m| (code::INVALID_REQUEST, m)),
            };
            match outcome {
                Ok(binding) => {
                    conn.shared.acls.create(binding);
                    AclCreationResult::default().with_error_message(None)
                }
                Err((error, message)) => AclCreationResult::default()
                    .with_error_code(error)
                    .with_error_message(Some(str_bytes(&message))),
            }
        })
        .collect();
    CreateAclsResponse::default().with_results(results)
}

pub(crate) async fn delete_acls(
    conn: &mut Conn,
    _h: &Header,
    req: DeleteAclsRequest,
) -> DeleteAclsResponse {
    use delete_acls_response::*;
    let failed = |error: i16, message: &str| {
        DeleteAclsFilterResult::default()
            .with_error_code(error)
            .with_error_message(Some(str_bytes(message)))
    };
    if let Some((error, message)) = refused(conn, Operation::Alter) {
        let results = req.filters.iter().map(|_| failed(error, message)).collect();
        return DeleteAclsResponse::default().with_filter_results(results);
    }
    let filters: Vec<Option<AclFilter>> = req
        .filters
        .iter()
        .map(|f| {
            AclFilter::from_raw(
                f.resource_type_filter,
                f.resource_name_filter.as_deref(),
                f.pattern_type_filter,
                f.principal_filter.as_deref(),
                f.host_filter.as_deref(),
                f.operation,
                f.permission_type,
            )
        })
        .collect();
    // Only the valid filters delete; an invalid one answers on its own.
    let valid: Vec<AclFilter> = filters.iter().flatten().cloned().collect();
    let mut deleted = conn.shared.acls.delete(&valid).into_iter();
    let results = filters
        .iter()
        .map(|f| match f {
            None => failed(code::INVALID_REQUEST, "The filter has unknown values"),
            Some(_) => DeleteAclsFilterResult::default()
                .with_error_message(None)
                .with_matching_acls(
                    deleted
                        .next()
                        .unwrap_or_default()
                        .into_iter()
                        .map(|b| {
                            DeleteAclsMatchingAcl::default()
                                .with_error_message(None)
                                .with_resource_type(b.resource_type as i8)
                                .with_resource_name(str_bytes(&b.name))
                                .with_pattern_type(b.pattern as i8)
                                .with_principal(str_bytes(&b.principal))
                                .with_host(str_bytes(&b.host))
                                .with_operation(b.operation as i8)
                                .with_permission_type(b.permission as i8)
                        })
                        .collect(),
                ),
        })
        .collect();
    DeleteAclsResponse::default().with_filter_results(results)
}
