use super::*;

fn binding(
    resource_type: ResourceType,
    name: &str,
    pattern: PatternType,
    principal: &str,
    operation: Operation,
    permission: Permission,
) -> AclBinding {
    AclBinding {
        resource_type,
        name: name.to_owned(),
        pattern,
        principal: principal.to_owned(),
        host: "*".to_owned(),
        operation,
        permission,
    }
}

fn allow_topic(name: &str, pattern: PatternType, principal: &str, op: Operation) -> AclBinding {
    binding(
        ResourceType::Topic,
        name,
        pattern,
        principal,
        op,
        Permission::Allow,
    )
}

fn filter(resource_type: ResourceType, name: Option<&str>, pattern: PatternType) -> AclFilter {
    AclFilter {
        resource_type,
        name: name.map(str::to_owned),
        pattern,
        principal: None,
        host: None,
        operation: Operation::Any,
        permission: Permission::Any,
    }
}

fn on(bindings: &[AclBinding]) -> Authorizer {
    let a = Authorizer::new(AclConfig {
        enabled: true,
        super_users: vec!["User:admin".into()],
    });
    for b in bindings {
        a.create(b.clone());
    }
    a
}

const ALICE: Requester<'static> = Requester {
    principal: "User:alice",
    host: "127.0.0.1",
};

use Operation::*;
use PatternType::{Literal, Prefixed};
use ResourceType::{Cluster, Group, Topic};

#[test]
fn off_allows_everything_and_on_denies_without_an_allow() {
    let off = Authorizer::new(AclConfig::default());
    assert!(off.allows(ALICE, Write, Topic, "t"));
    let on = on(&[]);
    assert!(!on.allows(ALICE, Write, Topic, "t"));
    assert!(!on.allows(ALICE, Describe, Cluster, CLUSTER_NAME));
    let admin = Requester {
        principal: "User:admin",
        host: "10.0.0.1",
    };
    assert!(on.allows(admin, Alter, Cluster, CLUSTER_NAME), "super user");
}

#[test]
fn literal_wildcard_and_prefixed_patterns_cover_their_names() {
    let a = on(&[
        allow_topic("orders", Literal, "User:alice", Read),
        allow_topic("logs-", Prefixed, "User:alice", Write),
        allow_topic("*", Literal, "User:alice", Describe),
    ]);
    assert!(a.allows(ALICE, Read, Topic, "orders"));
    assert!(!a.allows(ALICE, Read, Topic, "orders2"), "literal is exact");
    assert!(a.allows(ALICE, Write, Topic, "logs-app"));
    assert!(
        !a.allows(ALICE, Write, Topic, "log"),
        "prefix longer than name"
    );
    assert!(a.allows(ALICE, Describe, Topic, "anything"));
    assert!(
        !a.allows(ALICE, Read, Group, "orders"),
        "other resource type"
    );
}

#[test]
fn implied_operations_all_and_deny_precedence() {
    let a = on(&[
        allow_topic("r", Literal, "User:alice", Read),
        allow_topic("w", Literal, "User:alice", Write),
        allow_topic("d", Literal, "User:alice", Delete),
        allow_topic("al", Literal, "User:alice", Alter),
        allow_topic("ac", Literal, "User:alice", AlterConfigs),
        allow_topic("all", Literal, "User:alice", All),
    ]);
    for t in ["r", "w", "d", "al", "all"] {
        assert!(a.allows(ALICE, Describe, Topic, t), "{t} implies Describe");
    }
    assert!(!a.allows(ALICE, Describe, Topic, "ac"));
    assert!(a.allows(ALICE, DescribeConfigs, Topic, "ac"));
    assert!(
        !a.allows(ALICE, Read, Topic, "w"),
        "Write does not imply Read"
    );
    assert!(!a.allows(ALICE, DescribeConfigs, Topic, "r"));
    for op in [
        Read,
        Write,
        Create,
        Delete,
        Alter,
        AlterConfigs,
        IdempotentWrite,
    ] {
        assert!(a.allows(ALICE, op, Topic, "all"), "{op:?}");
    }

    // A DENY beats any ALLOW, for its operation (or ALL) only.
    let a = on(&[
        allow_topic("t", Literal, "User:alice", All),
        binding(Topic, "t", Prefixed, "User:*", Write, Permission::Deny),
        allow_topic("u", Literal, "User:alice", Read),
        binding(Topic, "u", Literal, "User:alice", Read, Permission::Deny),
        allow_topic("v", Literal, "User:alice", All),
        binding(Topic, "v", Prefixed, "User:alice", All, Permission::Deny),
    ]);
    assert!(!a.allows(ALICE, Write, Topic, "t"));
    assert!(a.allows(ALICE, Read, Topic, "t"));
    assert!(!a.allows(ALICE, Read, Topic, "u"));
    // The DENY for Read implies nothing: Read's ALLOW still gives Describe.
    assert!(a.allows(ALICE, Describe, Topic, "u"));
    assert!(!a.allows(ALICE, Read, Topic, "v"), "DENY ALL");
    assert!(!a.allows(ALICE, Describe, Topic, "v"), "DENY ALL");
    // The literal wildcard denies on every topic.
    a.create(binding(
        Topic,
        "*",
        Literal,
        "User:alice",
        Read,
        Permission::Deny,
    ));
    assert!(!a.allows(ALICE, Read, Topic, "t"));
}

#[test]
fn principal_and_host_wildcards() {
    let mut by_host = allow_topic("h", Literal, "User:alice", Read);
    by_host.host = "10.1.1.1".into();
    let a = on(&[allow_topic("any", Literal, "User:*", Read), by_host]);
    assert!(a.allows(ALICE, Read, Topic, "any"));
    let bob = Requester {
        principal: "User:bob",
        host: "127.0.0.1",
    };
    assert!(a.allows(bob, Read, Topic, "any"), "User:* is everyone");
    assert!(!a.allows(ALICE, Read, Topic, "h"), "other host");
    let from_there = Requester {
        principal: "User:alice",
        host: "10.1.1.1",
    };
    assert!(a.allows(from_there, Read, Topic, "h"));
    assert!(!a.allows(bob, Read, Topic, "h"), "other principal");
}

#[test]
fn some_resource_of_a_type_for_idempotent_producers() {
    let a = on(&[allow_topic("p-", Prefixed, "User:alice", Write)]);
    assert!(a.allows_some(ALICE, Write, Topic));
    assert!(!a.allows_some(ALICE, Read, Topic));
    let bob = Requester {
        principal: "User:bob",
        host: "127.0.0.1",
    };
    assert!(!a.allows_some(bob, Write, Topic));
    a.create(binding(
        Topic,
        "*",
        Literal,
        "User:alice",
        Write,
        Permission::Deny,
    ));
    assert!(!a.allows_some(ALICE, Write, Topic), "denied everywhere");
}

/// The table the filter tests run on.
fn sample() -> Vec<AclBinding> {
    vec![
        allow_topic("orders", Literal, "User:alice", Read),
        allow_topic("orders", Prefixed, "User:alice", Write),
        allow_topic("ord", Prefixed, "User:bob", Read),
        allow_topic("*", Literal, "User:carol", Describe),
        allow_topic("payments", Literal, "User:alice", Read),
        binding(
            Group,
            "orders",
            Literal,
            "User:alice",
            Read,
            Permission::Allow,
        ),
        binding(
            Cluster,
            CLUSTER_NAME,
            Literal,
            "User:alice",
            Describe,
            Permission::Deny,
        ),
    ]
}

fn names(found: &[AclBinding]) -> Vec<(ResourceType, &str, PatternType, &str)> {
    found
        .iter()
        .map(|b| {
            (
                b.resource_type,
                b.name.as_str(),
                b.pattern,
                b.principal.as_str(),
            )
        })
        .collect()
}

#[test]
fn filters_literal_prefixed_match_and_any() {
    let a = on(&sample());
    // LITERAL: that pattern type and name only.
    let literal = a.describe(&filter(Topic, Some("orders"), Literal));
    assert_eq!(names(&literal), [(Topic, "orders", Literal, "User:alice")]);
    // PREFIXED: the prefixed binding named exactly so.
    let prefixed = a.describe(&filter(Topic, Some("orders"), Prefixed));
    assert_eq!(
        names(&prefixed),
        [(Topic, "orders", Prefixed, "User:alice")]
    );
    // ANY: every pattern type, the name as written ("ord" only prefixed).
    let any = a.describe(&filter(Topic, Some("orders"), PatternType::Any));
    assert_eq!(
        names(&any),
        [
            (Topic, "orders", Literal, "User:alice"),
            (Topic, "orders", Prefixed, "User:alice"),
        ]
    );
    // MATCH: everything that applies to a topic named "orders".
    let matched = a.describe(&filter(Topic, Some("orders"), PatternType::Match));
    assert_eq!(
        names(&matched),
        [
            (Topic, "*", Literal, "User:carol"),
            (Topic, "ord", Prefixed, "User:bob"),
            (Topic, "orders", Literal, "User:alice"),
            (Topic, "orders", Prefixed, "User:alice"),
        ]
    );
    // No name: LITERAL/PREFIXED by type only, MATCH/ANY everything.
    assert_eq!(a.describe(&filter(Topic, None, Prefixed)).len(), 2);
    assert_eq!(a.describe(&filter(Topic, None, Literal)).len(), 3);
    assert_eq!(
        a.describe(&filter(Topic, None, PatternType::Match)).len(),
        5
    );
    let all = filter(ResourceType::Any, None, PatternType::Any);
    assert_eq!(a.describe(&all).len(), sample().len());
    // The entry half: principal, operation, permission.
    let mut alice_reads = all.clone();
    alice_reads.principal = Some("User:alice".into());
    alice_reads.operation = Read;
    assert_eq!(
        names(&a.describe(&alice_reads)),
        [
            (Topic, "orders", Literal, "User:alice"),
            (Topic, "payments", Literal, "User:alice"),
            (Group, "orders", Literal, "User:alice"),
        ]
    );
    let mut denies = all.clone();
    denies.permission = Permission::Deny;
    assert_eq!(
        names(&a.describe(&denies)),
        [(Cluster, CLUSTER_NAME, Literal, "User:alice")]
    );
    let mut by_host = all;
    by_host.host = Some("127.0.0.1".into());
    assert!(a.describe(&by_host).is_empty(), "host compared as written");
}

#[test]
fn delete_reports_per_filter_what_it_removed() {
    let a = on(&sample());
    let gone = a.delete(&[
        filter(Topic, Some("orders"), PatternType::Match),
        filter(Topic, Some("orders"), Literal),
        filter(Group, Some("nothing"), Literal),
    ]);
    assert_eq!(gone[0].len(), 4);
    assert_eq!(
        names(&gone[1]),
        [(Topic, "orders", Literal, "User:alice")],
        "matched by two filters: under both"
    );
    assert!(gone[2].is_empty());
    let left = a.describe(&filter(ResourceType::Any, None, PatternType::Any));
    assert_eq!(
        names(&left),
        [
            (Topic, "payments", Literal, "User:alice"),
            (Group, "orders", Literal, "User:alice"),
            (Cluster, CLUSTER_NAME, Literal, "User:alice"),
        ]
    );
}

#[test]
fn creation_validation_and_duplicates() {
    let raw = |resource_type, name, pattern, principal, operation, permission| RawBinding {
        resource_type,
        name,
        pattern,
        principal,
        host: "*",
        operation,
        permission,
    };
    assert!(AclBinding::from_raw(&raw(2, "t", 3, "User:a", 3, 3)).is_ok());
    for (what, bad) in [
        ("ANY resource", raw(1, "t", 3, "User:a", 3, 3)),
        ("unknown resource", raw(0, "t", 3, "User:a", 3, 3)),
        ("MATCH pattern", raw(2, "t", 2, "User:a", 3, 3)),
        ("ANY pattern", raw(2, "t", 1, "User:a", 3, 3)),
        ("ANY operation", raw(2, "t", 3, "User:a", 1, 3)),
        ("ANY permission", raw(2, "t", 3, "User:a", 3, 1)),
        ("empty name", raw(2, "", 3, "User:a", 3, 3)),
        ("cluster name", raw(4, "other", 3, "User:a", 8, 3)),
        ("principal", raw(2, "t", 3, "alice", 3, 3)),
    ] {
        assert!(AclBinding::from_raw(&bad).is_err(), "{what}");
    }
    let a = on(&[]);
    let b = allow_topic("t", Literal, "User:alice", Read);
    a.create(b.clone());
    a.create(b);
    assert_eq!(
        a.describe(&filter(ResourceType::Any, None, PatternType::Any))
            .len(),
        1
    );
    assert!(AclFilter::from_raw(2, None, 5, None, None, 1, 1).is_none());
    assert!(AclFilter::from_raw(2, None, 2, None, None, 1, 1).is_some());
}
