//! SCRAM credentials as `kafka-configs --entity-type users --alter
//! --add-config 'SCRAM-SHA-512=[password=...]'` manages them
//! (KIP-554): DescribeUserScramCredentials and
//! AlterUserScramCredentials. The password never leaves this process:
//! the client salts and hashes it (PBKDF2, RFC 5802) and sends only the
//! salted password, as the Java client does.

use bytes::Bytes;
use kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, DescribeUserScramCredentialsRequest,
};
use kafka_protocol::protocol::StrBytes;

use super::{Admin, answered_by};
use crate::error::{Context, Error, Result};
use crate::net::sasl::scram::ScramHash;

/// A SCRAM mechanism (Java's `ScramMechanism`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ScramMechanism {
    /// SCRAM-SHA-256.
    Sha256,
    /// SCRAM-SHA-512.
    Sha512,
    /// A mechanism code this client does not know.
    Unknown(i8),
}

impl ScramMechanism {
    fn code(self) -> i8 {
        match self {
            ScramMechanism::Sha256 => 1,
            ScramMechanism::Sha512 => 2,
            ScramMechanism::Unknown(c) => c,
        }
    }

    fn from_code(c: i8) -> ScramMechanism {
        match c {
            1 => ScramMechanism::Sha256,
            2 => ScramMechanism::Sha512,
            c => ScramMechanism::Unknown(c),
        }
    }

    /// `SCRAM-SHA-256` or `SCRAM-SHA-512`.
    pub fn name(self) -> &'static str {
        match self {
            ScramMechanism::Sha256 => "SCRAM-SHA-256",
            ScramMechanism::Sha512 => "SCRAM-SHA-512",
            ScramMechanism::Unknown(_) => "UNKNOWN",
        }
    }
}

/// One credential of a user: mechanism and iterations (never the secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScramCredentialInfo {
    /// The mechanism.
    pub mechanism: ScramMechanism,
    /// PBKDF2 iterations.
    pub iterations: i32,
}

/// A change of [`Admin::alter_user_scram_credentials`].
#[derive(Clone, PartialEq, Eq)]
pub enum UserScramCredentialAlteration {
    /// Create or replace the user's credential for a mechanism.
    Upsert {
        /// The user name.
        user: String,
        /// The mechanism.
        mechanism: ScramMechanism,
        /// PBKDF2 iterations (Kafka accepts 4096 to 16384).
        iterations: i32,
        /// The password; hashed here, never sent.
        password: String,
    },
    /// Delete the user's credential for a mechanism.
    Delete {
        /// The user name.
        user: String,
        /// The mechanism.
        mechanism: ScramMechanism,
    },
}

impl UserScramCredentialAlteration {
    fn user(&self) -> &str {
        match self {
            UserScramCredentialAlteration::Upsert { user, .. }
            | UserScramCredentialAlteration::Delete { user, .. } => user,
        }
    }
}

// The password must not reach logs through `{:?}`.
impl std::fmt::Debug for UserScramCredentialAlteration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UserScramCredentialAlteration::Upsert {
                user,
                mechanism,
                iterations,
                ..
            } => f
                .debug_struct("Upsert")
                .field("user", user)
                .field("mechanism", mechanism)
                .field("iterations", iterations)
                .field("password", &"<redacted>")
                .finish(),
            UserScramCredentialAlteration::Delete { user, mechanism } => f
                .debug_struct("Delete")
                .field("user", user)
                .field("mechanism", mechanism)
                .finish(),
        }
    }
}

fn user_context(api: &'static str, broker: Option<i32>, user: &str) -> Context {
    answered_by(Context::api(api), broker).with_resource("user", user)
}

impl Admin {
    /// Describes the SCRAM credentials of `users`, or of every user when
    /// `None`. One result per user (per named user, in order); an unknown
    /// named user is `RESOURCE_NOT_FOUND`.
    pub async fn describe_user_scram_credentials(
        &self,
        users: Option<&[&str]>,
    ) -> Result<Vec<(String, Result<Vec<ScramCredentialInfo>>)>> {
        let request = DescribeUserScramCredentialsRequest::default().with_users(users.map(|us| {
            us.iter()
                .map(|u| UserName::default().with_name(StrBytes::from_string(u.to_string())))
                .collect()
        }));
        let (broker, response) = self
            .send_to_or_any(None, request, "DescribeUserScramCredentials")
            .await?;
        Error::check(
            response.error_code,
            response.error_message.as_deref(),
            || answered_by(Context::api("DescribeUserScramCredentials"), broker),
        )?;
        let answered = response.results.iter().map(|r| {
            let result = Error::check(r.error_code, r.error_message.as_deref(), || {
                user_context("DescribeUserScramCredentials", broker, &r.user)
            })
            .map(|()| {
                r.credential_infos
                    .iter()
                    .map(|c| ScramCredentialInfo {
                        mechanism: ScramMechanism::from_code(c.mechanism),
                        iterations: c.iterations,
                    })
                    .collect()
            });
            (r.user.to_string(), result)
        });
        let mut answered: Vec<(String, Result<Vec<ScramCredentialInfo>>)> = answered.collect();
        Ok(match users {
            None => {
                answered.sort_by(|a, b| a.0.cmp(&b.0));
                answered
            }
            Some(us) => us
                .iter()
                .map(|u| match answered.iter().position(|(n, _)| n == u) {
                    Some(i) => answered.swap_remove(i),
                    None => (
                        u.to_string(),
                        Err(Error::protocol(
                            "user missing from response",
                            user_context("DescribeUserScramCredentials", broker, u),
                        )),
                    ),
                })
                .collect(),
        })
    }

    /// Creates, replaces or deletes SCRAM credentials. Passwords are
    /// salted (random 32-byte salt) and hashed with PBKDF2 here; only the
    /// result is sent. One result per alteration, in order.
    pub async fn alter_user_scram_credentials(
        &self,
        alterations: &[UserScramCredentialAlteration],
    ) -> Result<Vec<(String, Result<()>)>> {
        let mut upsertions = Vec::new();
        let mut deletions = Vec::new();
        for a in alterations {
            match a {
                UserScramCredentialAlteration::Upsert {
                    user,
                    mechanism,
                    iterations,
                    password,
                } => {
                    let hash = match mechanism {
                        ScramMechanism::Sha256 => ScramHash::Sha256,
                        ScramMechanism::Sha512 => ScramHash::Sha512,
                        ScramMechanism::Unknown(_) => {
                            return Err(Error::InvalidArgument {
                                reason: "unknown SCRAM mechanism".into(),
                                context: user_context("AlterUserScramCredentials", None, user),
                            });
                        }
                    };
                    let mut salt = [0u8; 32];
                    getrandom::fill(&mut salt).map_err(|e| {
                        Error::io(
                            std::io::Error::other(format!("no random bytes for a SCRAM salt: {e}")),
                            Context::api("AlterUserScramCredentials"),
                        )
                    })?;
                    // Iterations out of range are the broker's to refuse
                    // (UNACCEPTABLE_CREDENTIAL); hash with a sane count.
                    let rounds = (*iterations).clamp(1, 1 << 20) as u32;
                    let salted = hash.salted_password(password.as_bytes(), &salt, rounds);
                    upsertions.push(
                        ScramCredentialUpsertion::default()
                            .with_name(StrBytes::from_string(user.clone()))
                            .with_mechanism(mechanism.code())
                            .with_iterations(*iterations)
                            .with_salt(Bytes::copy_from_slice(&salt))
                            .with_salted_password(Bytes::from(salted)),
                    );
                }
                UserScramCredentialAlteration::Delete { user, mechanism } => deletions.push(
                    ScramCredentialDeletion::default()
                        .with_name(StrBytes::from_string(user.clone()))
                        .with_mechanism(mechanism.code()),
                ),
            }
        }
        let request = AlterUserScramCredentialsRequest::default()
            .with_upsertions(upsertions)
            .with_deletions(deletions);
        let (broker, response) = self
            .send_to_or_any(None, request, "AlterUserScramCredentials")
            .await?;
        // One result per user (Kafka reports a user once even when it has
        // several alterations).
        Ok(alterations
            .iter()
            .map(|a| {
                let user = a.user();
                let context = || user_context("AlterUserScramCredentials", broker, user);
                let result = match response.results.iter().find(|r| r.user.as_str() == user) {
                    Some(r) => Error::check(r.error_code, r.error_message.as_deref(), context),
                    None => Err(Error::protocol("user missing from response", context())),
                };
                (user.to_owned(), result)
            })
            .collect())
    }
}
