//! The cluster's ACLs: the table of bindings, Kafka's filter matching
//! (DescribeAcls/DeleteAcls) and the authorizer's decision.
//!
//! A binding is a resource pattern (type, name, LITERAL or PREFIXED) and an
//! access control entry (principal, host, operation, ALLOW or DENY). The
//! decision follows Kafka's standard authorizer with
//! `allow.everyone.if.no.acl.found=false`: super users pass; otherwise a
//! request is allowed when an ALLOW binding matches and no DENY binding
//! does. A binding matches a resource when its pattern is the literal name,
//! the literal wildcard `*`, or a prefix of the name; its principal is the
//! caller's or `User:*`; its host is the caller's address or `*`. Operation
//! `ALL` matches every operation; an ALLOW for Read, Write, Delete or Alter
//! also allows Describe, and one for AlterConfigs allows DescribeConfigs
//! (DENY bindings imply nothing: a DENY for Read does not deny Describe).
//!
//! With the authorizer off (the default) everything is allowed and the ACL
//! APIs answer SECURITY_DISABLED, as a Kafka broker without an authorizer.
//!
//! The table has its own mutex, a leaf: nothing else is locked while it is
//! held, so handlers may ask from anywhere (inside the state lock too).

use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard};

use crate::mock::connection::Conn;

/// Kafka's `ResourceType` codes (the ones the cluster hosts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum ResourceType {
    /// Filters only: every type.
    Any = 1,
    Topic = 2,
    Group = 3,
    Cluster = 4,
    TransactionalId = 5,
    DelegationToken = 6,
    User = 7,
}

impl ResourceType {
    fn from_code(code: i8) -> Option<Self> {
        Some(match code {
            1 => Self::Any,
            2 => Self::Topic,
            3 => Self::Group,
            4 => Self::Cluster,
            5 => Self::TransactionalId,
            6 => Self::DelegationToken,
            7 => Self::User,
            _ => return None,
        })
    }
}

impl ResourceType {
    /// The operations Kafka defines on resources of this type: what an
    /// authorized-operations bit field covers.
    fn operations(self) -> &'static [Operation] {
        use Operation::*;
        match self {
            Self::Topic => &[
                Read,
                Write,
                Create,
                Delete,
                Alter,
                Describe,
                DescribeConfigs,
                AlterConfigs,
            ],
            Self::Group => &[Read, Describe, Delete],
            Self::Cluster => &[
                Create,
                ClusterAction,
                DescribeConfigs,
                AlterConfigs,
                IdempotentWrite,
                Alter,
                Describe,
            ],
            Self::TransactionalId => &[Describe, Write],
            Self::DelegationToken => &[Describe],
            Self::User => &[CreateTokens, DescribeTokens],
            Self::Any => &[],
        }
    }
}

/// Kafka's `PatternType` codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum PatternType {
    /// Filters only: any pattern type, the name compared as written.
    Any = 1,
    /// Filters only: every pattern that would apply to the named resource
    /// (its literal name, the literal `*`, prefixes of it).
    Match = 2,
    Literal = 3,
    Prefixed = 4,
}

impl PatternType {
    fn from_code(code: i8) -> Option<Self> {
        Some(match code {
            1 => Self::Any,
            2 => Self::Match,
            3 => Self::Literal,
            4 => Self::Prefixed,
            _ => return None,
        })
    }
}

/// Kafka's `AclOperation` codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Operation {
    /// Filters only: every operation.
    Any = 1,
    All = 2,
    Read = 3,
    Write = 4,
    Create = 5,
    Delete = 6,
    Alter = 7,
    Describe = 8,
    ClusterAction = 9,
    DescribeConfigs = 10,
    AlterConfigs = 11,
    IdempotentWrite = 12,
    CreateTokens = 13,
    DescribeTokens = 14,
}

impl Operation {
    fn from_code(code: i8) -> Option<Self> {
        use Operation::*;
        Some(match code {
            1 => Any,
            2 => All,
            3 => Read,
            4 => Write,
            5 => Create,
            6 => Delete,
            7 => Alter,
            8 => Describe,
            9 => ClusterAction,
            10 => DescribeConfigs,
            11 => AlterConfigs,
            12 => IdempotentWrite,
            13 => CreateTokens,
            14 => DescribeTokens,
            _ => return None,
        })
    }

    /// Whether an ALLOW binding for `self` allows `wanted`.
    fn allows(self, wanted: Operation) -> bool {
        use Operation::*;
        self == All
            || self == wanted
            || (wanted == Describe && matches!(self, Read | Write | Delete | Alter))
            || (wanted == DescribeConfigs && self == AlterConfigs)
    }
}

/// Kafka's `AclPermissionType` codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Permission {
    /// Filters only: either.
    Any = 1,
    Deny = 2,
    Allow = 3,
}

impl Permission {
    fn from_code(code: i8) -> Option<Self> {
        Some(match code {
            1 => Self::Any,
            2 => Self::Deny,
            3 => Self::Allow,
            _ => return None,
        })
    }
}

/// The name of the one CLUSTER resource.
pub(crate) const CLUSTER_NAME: &str = "kafka-cluster";
/// The literal resource name, principal and host that match all.
const WILDCARD: &str = "*";
const WILDCARD_PRINCIPAL: &str = "User:*";

/// One ACL: a resource pattern and an access control entry. Ordered by
/// resource first, so DescribeAcls groups come out sorted.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct AclBinding {
    pub resource_type: ResourceType,
    pub name: String,
    pub pattern: PatternType,
    pub principal: String,
    pub host: String,
    pub operation: Operation,
    pub permission: Permission,
}

/// The codes of a binding as the wire carries them.
pub(crate) struct RawBinding<'a> {
    pub resource_type: i8,
    pub name: &'a str,
    pub pattern: i8,
    pub principal: &'a str,
    pub host: &'a str,
    pub operation: i8,
    pub permission: i8,
}

impl AclBinding {
    /// A binding from CreateAcls, or the INVALID_REQUEST message for one
    /// Kafka refuses: unknown codes, a filter-only value (ANY, MATCH), an
    /// empty name, a CLUSTER named otherwise than `kafka-cluster`, a
    /// principal without its `Type:` part.
    pub(crate) fn from_raw(raw: &RawBinding<'_>) -> Result<Self, String> {
        let invalid = |what: &str| Err(format!("Invalid ACL creation: {what}"));
        let resource_type = match ResourceType::from_code(raw.resource_type) {
            Some(ResourceType::Any) | None => return invalid("resource type"),
            Some(t) => t,
        };
        let pattern = match PatternType::from_code(raw.pattern) {
            Some(p @ (PatternType::Literal | PatternType::Prefixed)) => p,
            _ => return invalid("pattern type must be LITERAL or PREFIXED"),
        };
        let operation = match Operation::from_code(raw.operation) {
            Some(Operation::Any) | None => return invalid("operation"),
            Some(o) => o,
        };
        let permission = match Permission::from_code(raw.permission) {
            Some(Permission::Any) | None => return invalid("permission type"),
            Some(p) => p,
        };
        if raw.name.is_empty() {
            return invalid("empty resource name");
        }
        if resource_type == ResourceType::Cluster && raw.name != CLUSTER_NAME {
            return invalid("the only valid name for the CLUSTER resource is kafka-cluster");
        }
        if !raw
            .principal
            .split_once(':')
            .is_some_and(|(kind, name)| !kind.is_empty() && !name.is_empty())
        {
            return invalid("principal must be Type:name");
        }
        if raw.host.is_empty() {
            return invalid("empty host");
        }
        Ok(AclBinding {
            resource_type,
            name: raw.name.to_owned(),
            pattern,
            principal: raw.principal.to_owned(),
            host: raw.host.to_owned(),
            operation,
            permission,
        })
    }

    /// Whether this binding's pattern covers the resource `name`.
    fn covers(&self, name: &str) -> bool {
        match self.pattern {
            PatternType::Literal => self.name == name || self.name == WILDCARD,
            PatternType::Prefixed => name.starts_with(&self.name),
            PatternType::Any | PatternType::Match => false,
        }
    }
}

/// A DescribeAcls/DeleteAcls filter (Kafka's `AclBindingFilter`): `None`
/// strings and the ANY codes match everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AclFilter {
    pub resource_type: ResourceType,
    pub name: Option<String>,
    pub pattern: PatternType,
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: Operation,
    pub permission: Permission,
}

impl AclFilter {
    /// A filter from the wire, `None` when a code is unknown (Kafka answers
    /// INVALID_REQUEST).
    pub(crate) fn from_raw(
        resource_type: i8,
        name: Option<&str>,
        pattern: i8,
        principal: Option<&str>,
        host: Option<&str>,
        operation: i8,
        permission: i8,
    ) -> Option<Self> {
        Some(AclFilter {
            resource_type: ResourceType::from_code(resource_type)?,
            name: name.map(str::to_owned),
            pattern: PatternType::from_code(pattern)?,
            principal: principal.map(str::to_owned),
            host: host.map(str::to_owned),
            operation: Operation::from_code(operation)?,
            permission: Permission::from_code(permission)?,
        })
    }

    /// Whether `b` passes the filter.
    pub(crate) fn matches(&self, b: &AclBinding) -> bool {
        self.matches_pattern(b) && self.matches_entry(b)
    }

    fn matches_pattern(&self, b: &AclBinding) -> bool {
        if self.resource_type != ResourceType::Any && self.resource_type != b.resource_type {
            return false;
        }
        let Some(name) = &self.name else {
            // No name: the pattern type alone decides (MATCH and ANY take
            // every pattern type).
            return matches!(self.pattern, PatternType::Any | PatternType::Match)
                || self.pattern == b.pattern;
        };
        match self.pattern {
            // MATCH: the bindings that would apply to a resource so named.
            PatternType::Match => b.covers(name),
            // ANY, LITERAL, PREFIXED: the name exactly as stored.
            PatternType::Any => &b.name == name,
            exact => exact == b.pattern && &b.name == name,
        }
    }

    fn matches_entry(&self, b: &AclBinding) -> bool {
        self.principal.as_ref().is_none_or(|p| *p == b.principal)
            && self.host.as_ref().is_none_or(|h| *h == b.host)
            && (self.operation == Operation::Any || self.operation == b.operation)
            && (self.permission == Permission::Any || self.permission == b.permission)
    }
}

/// Who is asking: the principal (`User:name`, `User:ANONYMOUS` without
/// SASL) and the client's address.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Requester<'a> {
    pub principal: &'a str,
    pub host: &'a str,
}

/// The authorizer of one cluster: on or off, its super users, its table.
#[derive(Debug, Default)]
pub(crate) struct Authorizer {
    enabled: bool,
    super_users: Vec<String>,
    table: Mutex<BTreeSet<AclBinding>>,
}

/// The builder's ACL settings.
#[derive(Debug, Clone, Default)]
pub(crate) struct AclConfig {
    pub enabled: bool,
    pub super_users: Vec<String>,
}

impl Authorizer {
    /// An empty table with the builder's settings.
    pub(crate) fn new(config: AclConfig) -> Self {
        Authorizer {
            enabled: config.enabled,
            super_users: config.super_users,
            table: Mutex::default(),
        }
    }

    /// Whether ACLs are enforced (`MockClusterBuilder::acls`).
    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    fn table(&self) -> MutexGuard<'_, BTreeSet<AclBinding>> {
        // A panic elsewhere cannot leave a set half-changed.
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `who` may do `op` on the resource. Everything is allowed
    /// while the authorizer is off.
    pub(crate) fn allows(
        &self,
        who: Requester<'_>,
        op: Operation,
        resource_type: ResourceType,
        name: &str,
    ) -> bool {
        self.decide(who, op, resource_type, |b| b.covers(name), |_| true)
    }

    /// Whether `who` may do `op` on some resource of `resource_type`
    /// (Kafka's `authorizeByResourceType`, which InitProducerId without a
    /// transactional id asks for Write on any topic). Simplified: some ALLOW
    /// binding of that type applies to `who` and no DENY on the literal `*`
    /// takes every resource away.
    pub(crate) fn allows_some(
        &self,
        who: Requester<'_>,
        op: Operation,
        resource_type: ResourceType,
    ) -> bool {
        let everything = |b: &AclBinding| b.pattern == PatternType::Literal && b.name == WILDCARD;
        self.decide(who, op, resource_type, |_| true, everything)
    }

    /// The decision over the bindings of `resource_type` that apply to
    /// `who` and pass `resource`: false if a DENY for `op` (or ALL) that
    /// also passes `deny_counts` is among them, else whether an ALLOW
    /// grants `op`.
    fn decide(
        &self,
        who: Requester<'_>,
        op: Operation,
        resource_type: ResourceType,
        resource: impl Fn(&AclBinding) -> bool,
        deny_counts: impl Fn(&AclBinding) -> bool,
    ) -> bool {
        if !self.enabled || self.super_users.iter().any(|s| s == who.principal) {
            return true;
        }
        let table = self.table();
        let applying = table.iter().filter(|b| {
            b.resource_type == resource_type
                && (b.principal == who.principal || b.principal == WILDCARD_PRINCIPAL)
                && (b.host == who.host || b.host == WILDCARD)
                && resource(b)
        });
        let mut allowed = false;
        for b in applying {
            match b.permission {
                Permission::Deny
                    if (b.operation == op || b.operation == Operation::All) && deny_counts(b) =>
                {
                    return false;
                }
                Permission::Allow if b.operation.allows(op) => allowed = true,
                _ => {}
            }
        }
        allowed
    }

    /// Adds a binding (adding one that exists changes nothing, as in Kafka).
    pub(crate) fn create(&self, binding: AclBinding) {
        self.table().insert(binding);
    }

    /// The bindings passing `filter`, in order.
    pub(crate) fn describe(&self, filter: &AclFilter) -> Vec<AclBinding> {
        self.table()
            .iter()
            .filter(|b| filter.matches(b))
            .cloned()
            .collect()
    }

    /// Deletes what the filters match; per filter, the bindings it matched
    /// in the table as it was before the request (a binding two filters
    /// match is reported under both, as Kafka's ZooKeeper-era authorizer
    /// did).
    pub(crate) fn delete(&self, filters: &[AclFilter]) -> Vec<Vec<AclBinding>> {
        let mut table = self.table();
        let matched: Vec<Vec<AclBinding>> = filters
            .iter()
            .map(|f| table.iter().filter(|b| f.matches(b)).cloned().collect())
            .collect();
        for b in matched.iter().flatten() {
            table.remove(b);
        }
        matched
    }
}

/// The principal of a connection without SASL, as Kafka names it.
const ANONYMOUS: &str = "User:ANONYMOUS";

/// Runs `ask` with the connection's requester (its SASL principal, else
/// `User:ANONYMOUS`, and its client address), or allows at once while the
/// authorizer is off.
fn ask(conn: &Conn, ask: impl FnOnce(&Authorizer, Requester<'_>) -> bool) -> bool {
    let acls = &conn.shared.acls;
    if !acls.enabled() {
        return true;
    }
    let host = conn.peer.ip().to_string();
    let who = Requester {
        principal: conn.security.principal().unwrap_or(ANONYMOUS),
        host: &host,
    };
    ask(acls, who)
}

/// Whether the connection's principal may do `op` on the resource.
pub(crate) fn allowed(conn: &Conn, op: Operation, resource_type: ResourceType, name: &str) -> bool {
    ask(conn, |a, who| a.allows(who, op, resource_type, name))
}

/// Whether the connection's principal may do `op` on some resource of the
/// type ([`Authorizer::allows_some`]).
pub(crate) fn allowed_some(conn: &Conn, op: Operation, resource_type: ResourceType) -> bool {
    ask(conn, |a, who| a.allows_some(who, op, resource_type))
}

/// The operations the connection's principal may do on the resource as
/// Kafka's `*_authorized_operations` fields carry them: bit `1 << code` per
/// operation (every operation of the type while the authorizer is off).
pub(crate) fn authorized_operations(conn: &Conn, resource_type: ResourceType, name: &str) -> i32 {
    resource_type
        .operations()
        .iter()
        .filter(|&&op| allowed(conn, op, resource_type, name))
        .fold(0, |bits, &op| bits | 1 << (op as i32))
}

#[cfg(test)]
#[path = "acl_tests.rs"]
mod tests;
