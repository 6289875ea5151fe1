//! The `admin` example's `acls` command, shaped like `kafka-acls`:
//! `--add`, `--list` and `--remove`, a principal allowed or denied
//! operations on a topic, group, transactional id or the cluster.

use kafkit::Admin;
use kafkit::admin::{
    AccessControlEntry, AclBinding, AclBindingFilter, AclOperation, AclPermission, PatternType,
    ResourcePattern, ResourceType,
};

use super::admin_tool::{BoxError, Parsed};

pub async fn acls(admin: &Admin, p: &Parsed) -> Result<Vec<String>, BoxError> {
    let action = p.action(&["--add", "--remove", "--list"])?;
    let resource = resource(p)?;
    let pattern_type = match p.value("--resource-pattern-type") {
        None if action == "--add" => PatternType::Literal,
        None => PatternType::Any,
        Some(t) => PatternType::parse(t).ok_or(format!(
            "--resource-pattern-type {t}: literal, prefixed, match or any"
        ))?,
    };
    let operations: Vec<AclOperation> = p
        .values("--operation")
        .iter()
        .map(|o| {
            AclOperation::parse(o).ok_or(format!("--operation {o}: not a Kafka ACL operation"))
        })
        .collect::<Result<_, _>>()?;
    let (principal, permission) = match (p.value("--allow-principal"), p.value("--deny-principal"))
    {
        (Some(a), None) => (Some(a), AclPermission::Allow),
        (None, Some(d)) => (Some(d), AclPermission::Deny),
        (None, None) => (None, AclPermission::Any),
        _ => return Err("give --allow-principal or --deny-principal, not both".into()),
    };
    let host = p.value("--host").unwrap_or("*");
    let mut out = Vec::new();
    match action {
        "--add" => {
            let (resource_type, name) =
                resource.ok_or("--add needs --topic, --group, --transactional-id or --cluster")?;
            let principal = principal.ok_or("--add needs --allow-principal or --deny-principal")?;
            if operations.is_empty() {
                return Err("--add needs --operation".into());
            }
            let bindings: Vec<AclBinding> = operations
                .iter()
                .map(|op| AclBinding {
                    pattern: ResourcePattern {
                        resource_type,
                        name: name.clone(),
                        pattern_type,
                    },
                    entry: AccessControlEntry {
                        principal: principal.to_owned(),
                        host: host.to_owned(),
                        operation: *op,
                        permission,
                    },
                })
                .collect();
            let created = admin.create_acls(&bindings).await?;
            for (b, r) in created {
                r.map_err(|e| format!("{}: {e}", describe(&b)))?;
                out.push(format!("Added ACL {}", describe(&b)));
            }
        }
        _ => {
            let mut filter = AclBindingFilter::any()
                .pattern_type(pattern_type)
                .permission(permission);
            if let Some((t, n)) = resource {
                filter = filter.resource(t, n);
            }
            if let Some(pr) = principal {
                filter = filter.principal(pr);
            }
            let filters: Vec<AclBindingFilter> = if operations.is_empty() {
                vec![filter]
            } else {
                operations
                    .iter()
                    .map(|op| filter.clone().operation(*op))
                    .collect()
            };
            if action == "--list" {
                for f in &filters {
                    for b in admin.describe_acls(f).await? {
                        out.push(describe(&b));
                    }
                }
            } else {
                for deleted in admin.delete_acls(&filters).await? {
                    for b in deleted? {
                        out.push(format!("Removed ACL {}", describe(&b)));
                    }
                }
            }
        }
    }
    Ok(out)
}

fn resource(p: &Parsed) -> Result<Option<(ResourceType, String)>, BoxError> {
    let mut found = Vec::new();
    if let Some(t) = p.value("--topic") {
        found.push((ResourceType::Topic, t.to_owned()));
    }
    if let Some(g) = p.value("--group") {
        found.push((ResourceType::Group, g.to_owned()));
    }
    if let Some(id) = p.value("--transactional-id") {
        found.push((ResourceType::TransactionalId, id.to_owned()));
    }
    if p.has("--cluster") {
        found.push((ResourceType::Cluster, "kafka-cluster".to_owned()));
    }
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        _ => Err("name one resource: --topic, --group, --transactional-id or --cluster".into()),
    }
}

/// One binding as `kafka-acls --list` prints its entries.
fn describe(b: &AclBinding) -> String {
    format!(
        "ResourcePattern(resourceType={}, name={}, patternType={}): (principal={}, host={}, operation={}, permissionType={})",
        b.pattern.resource_type.name(),
        b.pattern.name,
        b.pattern.pattern_type.name(),
        b.entry.principal,
        b.entry.host,
        b.entry.operation.name(),
        b.entry.permission.name()
    )
}
