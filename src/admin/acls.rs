//! ACLs as `kafka-acls --add / --list / --remove` manages them:
//! CreateAcls, DescribeAcls and DeleteAcls (any broker; KRaft brokers
//! forward to the controller). The types carry Kafka's names and wire
//! codes.

use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::{CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest};
use kafka_protocol::protocol::StrBytes;

use super::{Admin, answered_by};
use crate::error::{Context, Error, Result};

/// Defines a Kafka enum with its wire codes and names, and an
/// `Unknown(code)` for codes a newer broker may send.
macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $code:literal, $text:literal;)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $($(#[$vm])* $v,)*
            /// A code this client does not know.
            Unknown(i8),
        }

        impl $name {
            /// The wire code.
            pub fn code(self) -> i8 {
                match self {
                    $($name::$v => $code,)*
                    $name::Unknown(c) => c,
                }
            }

            /// The variant for a wire code.
            pub fn from_code(code: i8) -> Self {
                match code {
                    $($code => $name::$v,)*
                    c => $name::Unknown(c),
                }
            }

            /// Kafka's name, as `kafka-acls` prints it (`TOPIC`, `READ`, ...).
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$v => $text,)*
                    $name::Unknown(_) => "UNKNOWN",
                }
            }

            /// The variant for Kafka's name, case-insensitively.
            pub fn parse(s: &str) -> Option<Self> {
                $(if s.eq_ignore_ascii_case($text) { return Some($name::$v); })*
                None
            }
        }
    };
}

wire_enum! {
    /// What an ACL protects (Java's `ResourceType`).
    ResourceType {
        /// Any type (filters only).
        Any = 1, "ANY";
        /// A topic.
        Topic = 2, "TOPIC";
        /// A consumer group.
        Group = 3, "GROUP";
        /// The cluster.
        Cluster = 4, "CLUSTER";
        /// A transactional id.
        TransactionalId = 5, "TRANSACTIONAL_ID";
        /// A delegation token.
        DelegationToken = 6, "DELEGATION_TOKEN";
        /// A user (for delegation tokens).
        User = 7, "USER";
    }
}

wire_enum! {
    /// How an ACL's resource name matches (Java's `PatternType`).
    PatternType {
        /// Any pattern type (filters only).
        Any = 1, "ANY";
        /// Every binding that would apply to the named resource: literal,
        /// wildcard and prefixes (filters only).
        Match = 2, "MATCH";
        /// The exact name, or `*` for all.
        Literal = 3, "LITERAL";
        /// Every name starting with it.
        Prefixed = 4, "PREFIXED";
    }
}

wire_enum! {
    /// An operation an ACL allows or denies (Java's `AclOperation`).
    AclOperation {
        /// Any operation (filters only).
        Any = 1, "ANY";
        /// Every operation.
        All = 2, "ALL";
        /// Read.
        Read = 3, "READ";
        /// Write.
        Write = 4, "WRITE";
        /// Create.
        Create = 5, "CREATE";
        /// Delete.
        Delete = 6, "DELETE";
        /// Alter.
        Alter = 7, "ALTER";
        /// Describe.
        Describe = 8, "DESCRIBE";
        /// Cluster actions (brokers among themselves).
        ClusterAction = 9, "CLUSTER_ACTION";
        /// Describe configs.
        DescribeConfigs = 10, "DESCRIBE_CONFIGS";
        /// Alter configs.
        AlterConfigs = 11, "ALTER_CONFIGS";
        /// Idempotent produce.
        IdempotentWrite = 12, "IDEMPOTENT_WRITE";
        /// Create delegation tokens.
        CreateTokens = 13, "CREATE_TOKENS";
        /// Describe delegation tokens.
        DescribeTokens = 14, "DESCRIBE_TOKENS";
    }
}

wire_enum! {
    /// Whether an ACL allows or denies (Java's `AclPermissionType`).
    AclPermission {
        /// Either (filters only).
        Any = 1, "ANY";
        /// Deny; wins over any allow.
        Deny = 2, "DENY";
        /// Allow.
        Allow = 3, "ALLOW";
    }
}

/// A resource pattern: type, name and how the name matches.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourcePattern {
    /// What kind of resource.
    pub resource_type: ResourceType,
    /// Its name (`kafka-cluster` for the cluster; `*` for all).
    pub name: String,
    /// Literal or prefixed.
    pub pattern_type: PatternType,
}

/// Who may do what from where.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccessControlEntry {
    /// The principal, e.g. `User:alice` (`User:*` for everyone).
    pub principal: String,
    /// The host, `*` for any.
    pub host: String,
    /// The operation.
    pub operation: AclOperation,
    /// Allow or deny.
    pub permission: AclPermission,
}

/// An ACL: a resource pattern and an entry (Java's `AclBinding`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AclBinding {
    /// The resources it applies to.
    pub pattern: ResourcePattern,
    /// Who, what, from where, allow or deny.
    pub entry: AccessControlEntry,
}

impl AclBinding {
    /// An ALLOW binding for `principal` from any host on a literal
    /// resource name.
    pub fn allow(
        resource_type: ResourceType,
        name: impl Into<String>,
        principal: impl Into<String>,
        operation: AclOperation,
    ) -> AclBinding {
        AclBinding {
            pattern: ResourcePattern {
                resource_type,
                name: name.into(),
                pattern_type: PatternType::Literal,
            },
            entry: AccessControlEntry {
                principal: principal.into(),
                host: "*".into(),
                operation,
                permission: AclPermission::Allow,
            },
        }
    }

    /// A filter matching exactly this binding.
    pub fn to_filter(&self) -> AclBindingFilter {
        AclBindingFilter {
            resource_type: self.pattern.resource_type,
            name: Some(self.pattern.name.clone()),
            pattern_type: self.pattern.pattern_type,
            principal: Some(self.entry.principal.clone()),
            host: Some(self.entry.host.clone()),
            operation: self.entry.operation,
            permission: self.entry.permission,
        }
    }
}

/// Which ACLs to describe or delete (Java's `AclBindingFilter`): `None`
/// and the `Any` variants match everything.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AclBindingFilter {
    /// Resource type, or `Any`.
    pub resource_type: ResourceType,
    /// Resource name, or any.
    pub name: Option<String>,
    /// `Literal`, `Prefixed`, `Match` (everything that applies to `name`) or `Any`.
    pub pattern_type: PatternType,
    /// Principal, or any.
    pub principal: Option<String>,
    /// Host, or any.
    pub host: Option<String>,
    /// Operation, or `Any`.
    pub operation: AclOperation,
    /// Permission, or `Any`.
    pub permission: AclPermission,
}

impl AclBindingFilter {
    /// The filter that matches every ACL.
    pub fn any() -> AclBindingFilter {
        AclBindingFilter {
            resource_type: ResourceType::Any,
            name: None,
            pattern_type: PatternType::Any,
            principal: None,
            host: None,
            operation: AclOperation::Any,
            permission: AclPermission::Any,
        }
    }

    /// This filter restricted to a resource type and name.
    pub fn resource(mut self, resource_type: ResourceType, name: impl Into<String>) -> Self {
        self.resource_type = resource_type;
        self.name = Some(name.into());
        self
    }

    /// This filter restricted to a pattern type.
    pub fn pattern_type(mut self, pattern_type: PatternType) -> Self {
        self.pattern_type = pattern_type;
        self
    }

    /// This filter restricted to a principal.
    pub fn principal(mut self, principal: impl Into<String>) -> Self {
        self.principal = Some(principal.into());
        self
    }

    /// This filter restricted to an operation.
    pub fn operation(mut self, operation: AclOperation) -> Self {
        self.operation = operation;
        self
    }

    /// This filter restricted to a permission.
    pub fn permission(mut self, permission: AclPermission) -> Self {
        self.permission = permission;
        self
    }
}

/// The operations a Kafka authorized-operations bit field allows (bit
/// `n` is the operation with code `n`); `None` for `i32::MIN`, Kafka's
/// "not asked for" (or a broker that does not say).
pub(crate) fn authorized_operations(bits: i32) -> Option<Vec<AclOperation>> {
    if bits == i32::MIN {
        return None;
    }
    Some(
        (0..31)
            .filter(|b| bits & (1 << b) != 0)
            .map(|b| AclOperation::from_code(b as i8))
            .filter(|op| !matches!(op, AclOperation::Unknown(_)))
            .collect(),
    )
}

fn opt(s: &Option<String>) -> Option<StrBytes> {
    s.as_ref().map(|s| StrBytes::from_string(s.clone()))
}

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

impl Admin {
    /// Creates ACLs (CreateAcls). One result per binding, in order.
    pub async fn create_acls(&self, acls: &[AclBinding]) -> Result<Vec<(AclBinding, Result<()>)>> {
        let request = CreateAclsRequest::default().with_creations(
            acls.iter()
                .map(|a| {
                    AclCreation::default()
                        .with_resource_type(a.pattern.resource_type.code())
                        .with_resource_name(text(&a.pattern.name))
                        .with_resource_pattern_type(a.pattern.pattern_type.code())
                        .with_principal(text(&a.entry.principal))
                        .with_host(text(&a.entry.host))
                        .with_operation(a.entry.operation.code())
                        .with_permission_type(a.entry.permission.code())
                })
                .collect(),
        );
        let (broker, response) = self.send_to_or_any(None, request, "CreateAcls").await?;
        // Results come back in the order of the creations.
        Ok(acls
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let context = || acl_context("CreateAcls", broker, &a.pattern);
                let result = match response.results.get(i) {
                    Some(r) => Error::check(r.error_code, r.error_message.as_deref(), context),
                    None => Err(Error::protocol("result missing from response", context())),
                };
                (a.clone(), result)
            })
            .collect())
    }

    /// The ACLs matching `filter` (DescribeAcls), sorted.
    pub async fn describe_acls(&self, filter: &AclBindingFilter) -> Result<Vec<AclBinding>> {
        let request = DescribeAclsRequest::default()
            .with_resource_type_filter(filter.resource_type.code())
            .with_resource_name_filter(opt(&filter.name))
            .with_pattern_type_filter(filter.pattern_type.code())
            .with_principal_filter(opt(&filter.principal))
            .with_host_filter(opt(&filter.host))
            .with_operation(filter.operation.code())
            .with_permission_type(filter.permission.code());
        let (broker, response) = self.send_to_or_any(None, request, "DescribeAcls").await?;
        Error::check(
            response.error_code,
            response.error_message.as_deref(),
            || answered_by(Context::api("DescribeAcls"), broker),
        )?;
        let mut out: Vec<AclBinding> = response
            .resources
            .iter()
            .flat_map(|r| {
                let pattern = ResourcePattern {
                    resource_type: ResourceType::from_code(r.resource_type),
                    name: r.resource_name.to_string(),
                    pattern_type: PatternType::from_code(r.pattern_type),
                };
                r.acls.iter().map(move |a| AclBinding {
                    pattern: pattern.clone(),
                    entry: AccessControlEntry {
                        principal: a.principal.to_string(),
                        host: a.host.to_string(),
                        operation: AclOperation::from_code(a.operation),
                        permission: AclPermission::from_code(a.permission_type),
                    },
                })
            })
            .collect();
        out.sort();
        Ok(out)
    }

    /// Deletes the ACLs matching each filter (DeleteAcls); returns, per
    /// filter in order, the bindings it deleted.
    pub async fn delete_acls(
        &self,
        filters: &[AclBindingFilter],
    ) -> Result<Vec<Result<Vec<AclBinding>>>> {
        let request = DeleteAclsRequest::default().with_filters(
            filters
                .iter()
                .map(|f| {
                    DeleteAclsFilter::default()
                        .with_resource_type_filter(f.resource_type.code())
                        .with_resource_name_filter(opt(&f.name))
                        .with_pattern_type_filter(f.pattern_type.code())
                        .with_principal_filter(opt(&f.principal))
                        .with_host_filter(opt(&f.host))
                        .with_operation(f.operation.code())
                        .with_permission_type(f.permission.code())
                })
                .collect(),
        );
        let (broker, response) = self.send_to_or_any(None, request, "DeleteAcls").await?;
        Ok((0..filters.len())
            .map(|i| {
                let context = || answered_by(Context::api("DeleteAcls"), broker);
                let Some(r) = response.filter_results.get(i) else {
                    return Err(Error::protocol(
                        "filter result missing from response",
                        context(),
                    ));
                };
                Error::check(r.error_code, r.error_message.as_deref(), context)?;
                r.matching_acls
                    .iter()
                    .map(|m| {
                        let pattern = ResourcePattern {
                            resource_type: ResourceType::from_code(m.resource_type),
                            name: m.resource_name.to_string(),
                            pattern_type: PatternType::from_code(m.pattern_type),
                        };
                        Error::check(m.error_code, m.error_message.as_deref(), || {
                            acl_context("DeleteAcls", broker, &pattern)
                        })?;
                        Ok(AclBinding {
                            pattern,
                            entry: AccessControlEntry {
                                principal: m.principal.to_string(),
                                host: m.host.to_string(),
                                operation: AclOperation::from_code(m.operation),
                                permission: AclPermission::from_code(m.permission_type),
                            },
                        })
                    })
                    .collect()
            })
            .collect())
    }
}

fn acl_context(api: &'static str, broker: Option<i32>, p: &ResourcePattern) -> Context {
    answered_by(Context::api(api), broker).with_resource(
        "acl",
        format!(
            "{}:{}:{}",
            p.resource_type.name(),
            p.pattern_type.name(),
            p.name
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_round_trip() {
        for code in 0..16 {
            let op = AclOperation::from_code(code);
            assert_eq!(op.code(), code);
            if let AclOperation::Unknown(_) = op {
                continue;
            }
            assert_eq!(AclOperation::parse(op.name()), Some(op));
        }
        assert_eq!(
            ResourceType::parse("transactional_id"),
            Some(ResourceType::TransactionalId)
        );
        assert_eq!(PatternType::from_code(4), PatternType::Prefixed);
        assert_eq!(AclPermission::parse("deny"), Some(AclPermission::Deny));
        assert_eq!(ResourceType::parse("nope"), None);
    }
}
