//! SCRAM-SHA-256/512 server side (RFC 5802, RFC 7677), on the SCRAM
//! primitives the client uses (`net::sasl::scram::ScramHash`). The cluster
//! keeps only what a Kafka broker stores per user: salt, iteration count,
//! StoredKey and ServerKey; never the password.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use super::constant_time_eq;
use crate::net::sasl::Mechanism;
use crate::net::sasl::scram::ScramHash;

/// Kafka's default iteration count for new SCRAM credentials.
const ITERATIONS: u32 = 4096;

/// The SCRAM credentials of every user, per mechanism.
pub(crate) type ScramUsers = HashMap<(Mechanism, String), StoredCredentials>;

/// The cluster's SCRAM credential store: set by the builder, changed by
/// AlterUserScramCredentials while the cluster runs, read by every SCRAM
/// login. A short std mutex, never held across an `.await`.
#[derive(Debug, Default)]
pub(crate) struct ScramStore(Mutex<ScramUsers>);

impl Clone for ScramStore {
    /// A copy of the credentials, not a shared store: a cloned builder must
    /// not see users added to the other.
    fn clone(&self) -> Self {
        ScramStore(Mutex::new(self.lock().clone()))
    }
}

impl ScramStore {
    /// The credentials (a panic elsewhere cannot leave them half-written,
    /// so a poisoned lock is taken over).
    pub(crate) fn lock(&self) -> MutexGuard<'_, ScramUsers> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A user's SCRAM credentials as a broker stores them.
#[derive(Clone)]
pub(crate) struct StoredCredentials {
    salt: Vec<u8>,
    iterations: u32,
    stored_key: Vec<u8>,
    server_key: Vec<u8>,
}

impl std::fmt::Debug for StoredCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredCredentials")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl StoredCredentials {
    /// Derives the stored form of `password` with a random salt.
    pub(crate) fn new(hash: ScramHash, password: &str) -> StoredCredentials {
        let mut salt = vec![0u8; 16];
        // A fixed salt if the OS has no randomness: harmless in a test cluster.
        let _ = getrandom::fill(&mut salt);
        let salted = hash.salted_password(password.as_bytes(), &salt, ITERATIONS);
        StoredCredentials::from_salted(hash, &salt, ITERATIONS, &salted)
    }

    /// The stored form of a SaltedPassword a client computed
    /// (AlterUserScramCredentials sends salt, iterations and
    /// `Hi(password, salt, iterations)`, never the password).
    pub(crate) fn from_salted(
        hash: ScramHash,
        salt: &[u8],
        iterations: u32,
        salted_password: &[u8],
    ) -> StoredCredentials {
        // HMAC takes keys of any length, so these cannot fail.
        let client_key = hash
            .hmac(salted_password, b"Client Key")
            .unwrap_or_default();
        let server_key = hash
            .hmac(salted_password, b"Server Key")
            .unwrap_or_default();
        StoredCredentials {
            salt: salt.to_vec(),
            iterations,
            stored_key: hash.hash(&client_key),
            server_key,
        }
    }

    /// The iteration count (DescribeUserScramCredentials shows it).
    pub(crate) fn iterations(&self) -> u32 {
        self.iterations
    }
}

/// A SCRAM exchange after the server-first message.
#[derive(Debug)]
pub(crate) struct ServerExchange {
    hash: ScramHash,
    user: String,
    credentials: StoredCredentials,
    gs2_header: String,
    nonce: String,
    client_first_bare: String,
    server_first: String,
}

fn invalid() -> String {
    "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM"
        .to_owned()
}

/// `n=` values escape `,` as `=2C` and `=` as `=3D`.
fn unescape(name: &str) -> Result<String, String> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        match rest.get(i..i + 3) {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return Err("Invalid SCRAM username encoding".to_owned()),
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Ok(out)
}

impl ServerExchange {
    /// Reads client-first (`gs2-header client-first-bare`) and answers
    /// server-first (`r=nonce,s=salt,i=iterations`).
    pub(crate) fn first(
        users: &ScramUsers,
        mechanism: Mechanism,
        hash: ScramHash,
        message: &[u8],
    ) -> Result<(ServerExchange, Vec<u8>), String> {
        let text = std::str::from_utf8(message).map_err(|_| invalid())?;
        // gs2-header: "n,," or "y,," or "n,a=authzid,"; no channel binding.
        let (flag, rest) = text.split_once(',').ok_or_else(invalid)?;
        if flag != "n" && flag != "y" {
            return Err("SCRAM: channel binding is not supported".to_owned());
        }
        let (authzid, bare) = rest.split_once(',').ok_or_else(invalid)?;
        let gs2_header = format!("{flag},{authzid},");
        let mut fields = bare.split(',');
        let user = match fields.next() {
            Some(n) if n.starts_with("n=") => unescape(&n[2..])?,
            _ => return Err(invalid()),
        };
        let client_nonce = match fields.next() {
            Some(r) if r.starts_with("r=") && r.len() > 2 => &r[2..],
            _ => return Err(invalid()),
        };
        if !authzid.is_empty() && authzid.strip_prefix("a=").map(unescape) != Some(Ok(user.clone()))
        {
            return Err("SCRAM: an authorization id other than the user is not allowed".to_owned());
        }
        let credentials = users
            .get(&(mechanism, user.clone()))
            .cloned()
            .ok_or_else(invalid)?;
        let mut raw = [0u8; 18];
        let _ = getrandom::fill(&mut raw);
        let nonce = format!("{client_nonce}{}", B64.encode(raw));
        let server_first = format!(
            "r={nonce},s={},i={}",
            B64.encode(&credentials.salt),
            credentials.iterations
        );
        let reply = server_first.clone().into_bytes();
        Ok((
            ServerExchange {
                hash,
                user,
                credentials,
                gs2_header,
                nonce,
                client_first_bare: bare.to_owned(),
                server_first,
            },
            reply,
        ))
    }

    /// Reads client-final (`c=..,r=..,p=proof`), checks the proof against
    /// StoredKey, and answers server-final (`v=signature`) with the
    /// principal.
    pub(crate) fn last(self, message: &[u8]) -> Result<(String, Vec<u8>), String> {
        let text = std::str::from_utf8(message).map_err(|_| invalid())?;
        let (without_proof, proof) = text.rsplit_once(",p=").ok_or_else(invalid)?;
        let mut fields = without_proof.split(',');
        let binding = fields
            .next()
            .and_then(|c| c.strip_prefix("c="))
            .ok_or_else(invalid)?;
        let nonce = fields
            .next()
            .and_then(|r| r.strip_prefix("r="))
            .ok_or_else(invalid)?;
        if B64.decode(binding).ok().as_deref() != Some(self.gs2_header.as_bytes()) {
            return Err("SCRAM: invalid channel binding".to_owned());
        }
        if nonce != self.nonce {
            return Err("SCRAM: invalid nonce".to_owned());
        }
        let proof = B64.decode(proof).map_err(|_| invalid())?;
        let auth_message = format!(
            "{},{},{without_proof}",
            self.client_first_bare, self.server_first
        );
        let c = &self.credentials;
        let client_signature = self
            .hash
            .hmac(&c.stored_key, auth_message.as_bytes())
            .map_err(|_| invalid())?;
        if proof.len() != client_signature.len() {
            return Err(invalid());
        }
        let client_key: Vec<u8> = proof
            .iter()
            .zip(&client_signature)
            .map(|(p, s)| p ^ s)
            .collect();
        if !constant_time_eq(&self.hash.hash(&client_key), &c.stored_key) {
            return Err(invalid());
        }
        let server_signature = self
            .hash
            .hmac(&c.server_key, auth_message.as_bytes())
            .map_err(|_| invalid())?;
        let reply = format!("v={}", B64.encode(server_signature)).into_bytes();
        Ok((format!("User:{}", self.user), reply))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::sasl::scram::Scram;
    use crate::net::sasl::{Credentials, Exchange, Step};

    fn users(password: &str) -> HashMap<(Mechanism, String), StoredCredentials> {
        let mut m = HashMap::new();
        for (mech, hash) in [
            (Mechanism::ScramSha256, ScramHash::Sha256),
            (Mechanism::ScramSha512, ScramHash::Sha512),
        ] {
            m.insert(
                (mech, "us,er".to_owned()),
                StoredCredentials::new(hash, password),
            );
        }
        m
    }

    /// kafkit's own SCRAM client against this server.
    fn exchange(hash: ScramHash, mech: Mechanism, password: &str) -> Result<String, String> {
        let users = users("pencil");
        let mut client = Scram::new(hash, &Credentials::new("us,er", password)).unwrap();
        let Ok(Step::Send(first)) = client.step(None) else {
            panic!("client-first")
        };
        let (server, server_first) = ServerExchange::first(&users, mech, hash, &first)?;
        let Ok(Step::Send(last)) = client.step(Some(&server_first)) else {
            panic!("client-final")
        };
        let (principal, server_final) = server.last(&last)?;
        assert!(matches!(client.step(Some(&server_final)), Ok(Step::Done)));
        Ok(principal)
    }

    #[test]
    fn kafkits_client_authenticates_and_verifies_the_server() {
        for (hash, mech) in [
            (ScramHash::Sha256, Mechanism::ScramSha256),
            (ScramHash::Sha512, Mechanism::ScramSha512),
        ] {
            assert_eq!(exchange(hash, mech, "pencil").unwrap(), "User:us,er");
            assert!(exchange(hash, mech, "wrong").is_err());
        }
    }

    #[test]
    fn malformed_messages_are_refused() {
        let users = users("pencil");
        for bad in [
            &b""[..],
            b"p=tls-unique,,n=us=2Cer,r=abc",
            b"n,,n=nobody,r=abc",
            b"n,,n=us=2Cer",
            b"n,,n=us=ZZer,r=abc",
            b"n,a=someone,n=us=2Cer,r=abc",
            b"\xff\xfe",
        ] {
            assert!(
                ServerExchange::first(&users, Mechanism::ScramSha256, ScramHash::Sha256, bad)
                    .is_err(),
                "{bad:?}"
            );
        }
        let (s, _) = ServerExchange::first(
            &users,
            Mechanism::ScramSha256,
            ScramHash::Sha256,
            b"n,,n=us=2Cer,r=abc",
        )
        .unwrap();
        assert!(s.last(b"c=biws,r=abc,p=AAAA").is_err(), "wrong nonce");
    }
}
