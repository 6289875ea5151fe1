//! DescribeUserScramCredentials and AlterUserScramCredentials (KIP-554) on
//! the cluster's SCRAM store, with Kafka's validation and error codes.
//!
//! An alteration carries what the client derived from the password (salt,
//! iterations and the SaltedPassword `Hi(password, salt, i)`); the store
//! keeps StoredKey and ServerKey derived from it, so a SCRAM login with
//! the password works on the next connection. A user's alterations in one
//! request apply together or not at all, as in Kafka.

use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse,
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
};

use super::scram::{ScramUsers, StoredCredentials};
use super::{SecurityConfig, str_bytes};
use crate::ErrorCode;
use crate::net::sasl::Mechanism;
use crate::net::sasl::scram::ScramHash;

/// Kafka's bounds on an alteration's iteration count (the mechanisms'
/// minimum, and the broker's maximum for credentials set through the API).
const MIN_ITERATIONS: i32 = 4096;
const MAX_ITERATIONS: i32 = 16384;

/// The wire's mechanism number (`ScramMechanism` in Kafka: 0 is UNKNOWN).
fn mechanism_of(wire: i8) -> Option<(Mechanism, ScramHash)> {
    match wire {
        1 => Some((Mechanism::ScramSha256, ScramHash::Sha256)),
        2 => Some((Mechanism::ScramSha512, ScramHash::Sha512)),
        _ => None,
    }
}

fn wire_of(m: Mechanism) -> i8 {
    match m {
        Mechanism::ScramSha256 => 1,
        Mechanism::ScramSha512 => 2,
        _ => 0,
    }
}

/// A user's credentials, mechanisms in wire order.
fn infos(users: &ScramUsers, user: &str) -> Vec<CredentialInfo> {
    let mut infos: Vec<CredentialInfo> = users
        .iter()
        .filter(|((_, u), _)| u == user)
        .map(|((m, _), c)| {
            CredentialInfo::default()
                .with_mechanism(wire_of(*m))
                .with_iterations(i32::try_from(c.iterations()).unwrap_or(i32::MAX))
        })
        .collect();
    infos.sort_by_key(|i| i.mechanism);
    infos
}

/// DescribeUserScramCredentials v0: every user (null or empty list) or
/// the ones named; an unknown user is RESOURCE_NOT_FOUND, a user named
/// twice DUPLICATE_RESOURCE (reported once).
pub(crate) fn describe(
    config: &SecurityConfig,
    req: &DescribeUserScramCredentialsRequest,
) -> DescribeUserScramCredentialsResponse {
    let users = config.scram.lock();
    let named: Vec<String> = req
        .users
        .iter()
        .flatten()
        .map(|u| u.name.to_string())
        .collect();
    let mut results = Vec::new();
    if named.is_empty() {
        let mut all: Vec<&String> = users.keys().map(|(_, u)| u).collect();
        all.sort();
        all.dedup();
        for user in all {
            results.push(
                DescribeUserScramCredentialsResult::default()
                    .with_user(str_bytes(user))
                    .with_credential_infos(infos(&users, user)),
            );
        }
    }
    for (i, user) in named.iter().enumerate() {
        if named[..i].contains(user) {
            continue;
        }
        let r = DescribeUserScramCredentialsResult::default().with_user(str_bytes(user));
        let twice = named[i + 1..].contains(user);
        let found = infos(&users, user);
        results.push(if twice {
            r.with_error_code(ErrorCode::DUPLICATE_RESOURCE.0)
                .with_error_message(Some(str_bytes(&format!(
                    "Cannot describe SCRAM credentials for the same user twice in a single request: {user}"
                ))))
        } else if found.is_empty() {
            r.with_error_code(ErrorCode::RESOURCE_NOT_FOUND.0)
                .with_error_message(Some(str_bytes(&format!(
                    "Attempt to describe a user credential that does not exist: {user}"
                ))))
        } else {
            r.with_credential_infos(found)
        });
    }
    DescribeUserScramCredentialsResponse::default().with_results(results)
}

/// One change a request asks for.
enum Change<'a> {
    Delete,
    Upsert {
        iterations: i32,
        salt: &'a [u8],
        salted_password: &'a [u8],
    },
}

/// Why a change is refused, as Kafka words it; `Ok` with the mechanism and
/// hash otherwise.
fn check(
    users: &ScramUsers,
    user: &str,
    wire: i8,
    change: &Change<'_>,
) -> Result<(Mechanism, ScramHash), (ErrorCode, String)> {
    if user.is_empty() {
        return Err((
            ErrorCode::UNACCEPTABLE_CREDENTIAL,
            "Username must not be empty".into(),
        ));
    }
    let (mechanism, hash) = mechanism_of(wire).ok_or_else(|| {
        (
            ErrorCode::UNSUPPORTED_SASL_MECHANISM,
            "Unknown SCRAM mechanism".to_owned(),
        )
    })?;
    match *change {
        Change::Delete if !users.contains_key(&(mechanism, user.to_owned())) => Err((
            ErrorCode::RESOURCE_NOT_FOUND,
            "Attempt to delete a user credential that does not exist".into(),
        )),
        Change::Upsert { iterations, .. } if iterations < MIN_ITERATIONS => Err((
            ErrorCode::UNACCEPTABLE_CREDENTIAL,
            format!(
                "Iterations {iterations} is less than the minimum {MIN_ITERATIONS} required for {}",
                mechanism.name()
            ),
        )),
        Change::Upsert { iterations, .. } if iterations > MAX_ITERATIONS => Err((
            ErrorCode::UNACCEPTABLE_CREDENTIAL,
            format!("Iterations {iterations} is more than the maximum {MAX_ITERATIONS} allowed"),
        )),
        Change::Upsert {
            salt,
            salted_password,
            ..
        } if salt.is_empty() || salted_password.is_empty() => Err((
            ErrorCode::UNACCEPTABLE_CREDENTIAL,
            "Salt and salted password must not be empty".into(),
        )),
        _ => Ok((mechanism, hash)),
    }
}

/// AlterUserScramCredentials v0: deletions and upsertions, one result per
/// user (in the order users first appear). A (user, mechanism) pair named
/// twice is DUPLICATE_RESOURCE; any refused change leaves all of that
/// user's credentials as they were.
pub(crate) fn alter(
    config: &SecurityConfig,
    req: &AlterUserScramCredentialsRequest,
) -> AlterUserScramCredentialsResponse {
    let changes: Vec<(&str, i8, Change<'_>)> = req
        .deletions
        .iter()
        .map(|d| (d.name.as_str(), d.mechanism, Change::Delete))
        .chain(req.upsertions.iter().map(|u| {
            (
                u.name.as_str(),
                u.mechanism,
                Change::Upsert {
                    iterations: u.iterations,
                    salt: &u.salt,
                    salted_password: &u.salted_password,
                },
            )
        }))
        .collect();
    let mut order: Vec<&str> = Vec::new();
    for (user, _, _) in &changes {
        if !order.contains(user) {
            order.push(user);
        }
    }
    let mut users = config.scram.lock();
    let mut results = Vec::new();
    for user in order {
        let mine: Vec<&(&str, i8, Change<'_>)> =
            changes.iter().filter(|(u, _, _)| *u == user).collect();
        let duplicated = mine
            .iter()
            .enumerate()
            .any(|(i, (_, m, _))| mine[..i].iter().any(|(_, other, _)| other == m));
        let outcome = if duplicated {
            Err((
                ErrorCode::DUPLICATE_RESOURCE,
                "A user credential cannot be altered twice in the same request".to_owned(),
            ))
        } else {
            mine.iter()
                .map(|(_, wire, change)| {
                    check(&users, user, *wire, change).map(|(m, hash)| (m, hash, change))
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let r = AlterUserScramCredentialsResult::default().with_user(str_bytes(user));
        match outcome {
            Err((code, message)) => results.push(
                r.with_error_code(code.0)
                    .with_error_message(Some(str_bytes(&message))),
            ),
            Ok(valid) => {
                for (mechanism, hash, change) in valid {
                    let key = (mechanism, user.to_owned());
                    match change {
                        Change::Delete => {
                            users.remove(&key);
                        }
                        Change::Upsert {
                            iterations,
                            salt,
                            salted_password,
                        } => {
                            // `check` bounded the count to 4096..=16384.
                            let iterations = u32::try_from(*iterations).unwrap_or(4096);
                            users.insert(
                                key,
                                StoredCredentials::from_salted(
                                    hash,
                                    salt,
                                    iterations,
                                    salted_password,
                                ),
                            );
                        }
                    }
                }
                results.push(r);
            }
        }
    }
    AlterUserScramCredentialsResponse::default().with_results(results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::alter_user_scram_credentials_request::{
        ScramCredentialDeletion, ScramCredentialUpsertion,
    };
    use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;

    fn upsert(user: &str, mechanism: i8, iterations: i32) -> ScramCredentialUpsertion {
        ScramCredentialUpsertion::default()
            .with_name(str_bytes(user))
            .with_mechanism(mechanism)
            .with_iterations(iterations)
            .with_salt(bytes::Bytes::from_static(b"salt"))
            .with_salted_password(bytes::Bytes::from_static(b"salted"))
    }

    fn delete(user: &str, mechanism: i8) -> ScramCredentialDeletion {
        ScramCredentialDeletion::default()
            .with_name(str_bytes(user))
            .with_mechanism(mechanism)
    }

    fn codes(r: &AlterUserScramCredentialsResponse) -> Vec<(String, i16)> {
        r.results
            .iter()
            .map(|r| (r.user.to_string(), r.error_code))
            .collect()
    }

    #[test]
    fn a_refused_change_leaves_the_whole_user_untouched() {
        let config = SecurityConfig::default();
        let req = AlterUserScramCredentialsRequest::default().with_upsertions(vec![
            upsert("bob", 1, 8192),
            upsert("bob", 2, 1000),
            upsert("carol", 2, 4096),
        ]);
        let resp = alter(&config, &req);
        assert_eq!(
            codes(&resp),
            [
                ("bob".into(), ErrorCode::UNACCEPTABLE_CREDENTIAL.0),
                ("carol".into(), 0)
            ]
        );
        let users = config.scram.lock();
        assert!(!users.contains_key(&(Mechanism::ScramSha256, "bob".into())));
        assert_eq!(
            users[&(Mechanism::ScramSha512, "carol".into())].iterations(),
            4096
        );
    }

    #[test]
    fn kafkas_errors() {
        let config = SecurityConfig::default();
        let req = AlterUserScramCredentialsRequest::default()
            .with_deletions(vec![delete("dup", 1), delete("gone", 2), delete("x", 0)])
            .with_upsertions(vec![
                upsert("dup", 1, 4096),
                upsert("big", 1, 16385),
                upsert("", 1, 4096),
            ]);
        assert_eq!(
            codes(&alter(&config, &req)),
            [
                ("dup".into(), ErrorCode::DUPLICATE_RESOURCE.0),
                ("gone".into(), ErrorCode::RESOURCE_NOT_FOUND.0),
                ("x".into(), ErrorCode::UNSUPPORTED_SASL_MECHANISM.0),
                ("big".into(), ErrorCode::UNACCEPTABLE_CREDENTIAL.0),
                ("".into(), ErrorCode::UNACCEPTABLE_CREDENTIAL.0),
            ]
        );
        assert!(config.scram.lock().is_empty());
    }

    #[test]
    fn describe_lists_all_or_the_named_users() {
        let config = SecurityConfig::default();
        let req = AlterUserScramCredentialsRequest::default().with_upsertions(vec![
            upsert("b", 2, 8192),
            upsert("b", 1, 4096),
            upsert("a", 1, 5000),
        ]);
        alter(&config, &req);
        let all = describe(&config, &DescribeUserScramCredentialsRequest::default());
        let seen: Vec<(String, Vec<(i8, i32)>)> = all
            .results
            .iter()
            .map(|r| {
                (
                    r.user.to_string(),
                    r.credential_infos
                        .iter()
                        .map(|c| (c.mechanism, c.iterations))
                        .collect(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("a".into(), vec![(1, 5000)]),
                ("b".into(), vec![(1, 4096), (2, 8192)])
            ]
        );
        let name = |n: &str| UserName::default().with_name(str_bytes(n));
        let some = describe(
            &config,
            &DescribeUserScramCredentialsRequest::default().with_users(Some(vec![
                name("b"),
                name("zed"),
                name("a"),
                name("a"),
            ])),
        );
        let got: Vec<(String, i16)> = some
            .results
            .iter()
            .map(|r| (r.user.to_string(), r.error_code))
            .collect();
        assert_eq!(
            got,
            [
                ("b".into(), 0),
                ("zed".into(), ErrorCode::RESOURCE_NOT_FOUND.0),
                ("a".into(), ErrorCode::DUPLICATE_RESOURCE.0)
            ]
        );
    }
}
