//! The builder's security settings.

use std::time::Duration;

use super::scram::StoredCredentials;
use super::{Secret, SecurityConfig};
use crate::mock::MockClusterBuilder;
use crate::net::sasl::Mechanism;
use crate::net::sasl::scram::ScramHash;

impl SecurityConfig {
    pub(crate) fn add_user(&mut self, mechanism: Mechanism, user: &str, password: &str) {
        match mechanism {
            Mechanism::Plain => {
                self.plain
                    .insert(user.to_owned(), Secret(password.to_owned()));
            }
            Mechanism::ScramSha256 | Mechanism::ScramSha512 => {
                let hash = if mechanism == Mechanism::ScramSha256 {
                    ScramHash::Sha256
                } else {
                    ScramHash::Sha512
                };
                self.scram.lock().insert(
                    (mechanism, user.to_owned()),
                    StoredCredentials::new(hash, password),
                );
                if !self.scram_enabled.contains(&mechanism) {
                    self.scram_enabled.push(mechanism);
                }
            }
            Mechanism::OAuthBearer => self.oauthbearer = true,
        }
    }
}

impl MockClusterBuilder {
    /// Requires SASL (`SASL_PLAINTEXT` listeners) and adds a user for
    /// `mechanism` (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; SCRAM users are
    /// stored as Kafka stores them: salt, 4096 iterations, StoredKey,
    /// ServerKey). Several users and mechanisms may be enabled at once.
    pub fn sasl_user(
        mut self,
        mechanism: Mechanism,
        user: impl AsRef<str>,
        password: impl AsRef<str>,
    ) -> Self {
        self.security
            .add_user(mechanism, user.as_ref(), password.as_ref());
        self
    }

    /// Requires SASL and enables OAUTHBEARER with unsecured JWTs (`alg`
    /// `none`; the `sub` claim is the principal; an expired `exp` is
    /// refused), as Kafka's unsecured validator does.
    pub fn sasl_oauthbearer(mut self) -> Self {
        self.security.oauthbearer = true;
        self
    }

    /// KIP-368: authentications last this long (SaslAuthenticate v1+
    /// returns it as `session_lifetime_ms`); a connection that has not
    /// re-authenticated by then is closed at its next request.
    pub fn sasl_session_lifetime(mut self, lifetime: Duration) -> Self {
        self.security.session_lifetime = Some(lifetime);
        self
    }
}

#[cfg(feature = "_tls")]
impl MockClusterBuilder {
    /// TLS on every listener (features `mock` and `tls`): clients connect
    /// with `SSL`, or `SASL_SSL` when SASL users are set. The certificate
    /// chain and the unencrypted private key are PEM text; the certificate
    /// must name `127.0.0.1`, the address brokers advertise.
    pub fn tls(mut self, cert_chain_pem: impl Into<String>, key_pem: impl Into<String>) -> Self {
        let client_ca_pem = self.security.tls.take().and_then(|t| t.client_ca_pem);
        self.security.tls = Some(super::tls::TlsListener {
            cert_chain_pem: cert_chain_pem.into(),
            key_pem: key_pem.into(),
            client_ca_pem,
        });
        self
    }

    /// Mutual TLS (after [`tls`](Self::tls)): clients must present a
    /// certificate issued by this CA (PEM).
    pub fn tls_client_auth(mut self, client_ca_pem: impl Into<String>) -> Self {
        if let Some(t) = &mut self.security.tls {
            t.client_ca_pem = Some(client_ca_pem.into());
        }
        self
    }
}
