//! TLS settings (Java's `ssl.*`) and, with the `tls` or `tls-aws-lc`
//! feature, the rustls configuration built from them.
//!
//! [`TlsSettings`] is plain data and exists in every build, so that
//! properties and builders can name TLS settings; a client that uses them
//! without a TLS feature is refused with a config error saying so.
//! `TlsConfig` (TLS features only) is the loaded configuration: a cheap,
//! shared handle whose material can be replaced at run time (rotation): new
//! connections use the new material, open ones keep theirs.

use std::path::PathBuf;

#[cfg(feature = "_tls")]
pub(crate) mod config;
#[cfg(feature = "_tls")]
pub use config::TlsConfig;
#[cfg(feature = "_tls")]
pub(crate) use config::{classify, connect, negotiated};
#[cfg(feature = "_tls")]
pub use rustls;

/// Where the TLS material comes from, with the Java/librdkafka setting
/// each field mirrors. Build one with the methods below, or from
/// properties through [`ClientBuilder::from_properties`](crate::ClientBuilder::from_properties).
///
/// Trusted CAs: a PEM file ([`ca_file`](Self::ca_file)), PEM text
/// ([`ca_pem`](Self::ca_pem)), or, when neither is given, the system's
/// store. Client certificate (mutual TLS): a certificate chain and a
/// private key in PEM (PKCS#8, PKCS#1 RSA or SEC1 EC; encrypted keys are
/// refused). Hostname verification is on unless turned off.
///
/// `Debug` never shows a private key.
///
/// ```
/// use kafkit::tls::TlsSettings;
/// let settings = TlsSettings::new()
///     .ca_file("/etc/kafka/ca.pem")
///     .client_cert_files("/etc/kafka/client.pem", "/etc/kafka/client.key");
/// assert!(!format!("{settings:?}").contains("BEGIN PRIVATE KEY"));
/// ```
#[derive(Clone)]
pub struct TlsSettings {
    pub(crate) ca_file: Option<PathBuf>,
    pub(crate) ca_pem: Option<String>,
    pub(crate) truststore_type: Option<String>,
    pub(crate) cert_file: Option<PathBuf>,
    pub(crate) key_file: Option<PathBuf>,
    pub(crate) cert_pem: Option<String>,
    pub(crate) key_pem: Option<String>,
    pub(crate) keystore_type: Option<String>,
    pub(crate) key_password_given: bool,
    pub(crate) verify_hostname: bool,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            ca_file: None,
            ca_pem: None,
            truststore_type: None,
            cert_file: None,
            key_file: None,
            cert_pem: None,
            key_pem: None,
            keystore_type: None,
            key_password_given: false,
            verify_hostname: true,
        }
    }
}

impl std::fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSettings")
            .field("ca_file", &self.ca_file)
            .field("ca_pem", &self.ca_pem.as_ref().map(|_| "<PEM>"))
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .field("cert_pem", &self.cert_pem.as_ref().map(|_| "<PEM>"))
            .field("key_pem", &self.key_pem.as_ref().map(|_| "***"))
            .field("verify_hostname", &self.verify_hostname)
            .finish()
    }
}

impl TlsSettings {
    /// Settings that trust the system's CA store, present no client
    /// certificate and verify hostnames.
    pub fn new() -> TlsSettings {
        TlsSettings::default()
    }

    /// `ssl.ca.location` (librdkafka), or `ssl.truststore.location` with
    /// `ssl.truststore.type=PEM` (Java): a PEM file of trusted CA
    /// certificates, used instead of the system store.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// `ssl.truststore.certificates` (Java, with `ssl.truststore.type=PEM`):
    /// trusted CA certificates as PEM text, used instead of the system store
    /// (together with [`ca_file`](Self::ca_file) if both are given).
    pub fn ca_pem(mut self, pem: impl Into<String>) -> Self {
        self.ca_pem = Some(pem.into());
        self
    }

    /// `ssl.certificate.location` + `ssl.key.location` (librdkafka): the
    /// client certificate chain and its private key as PEM files, for mutual
    /// TLS. The same file may hold both (Java's `ssl.keystore.location`
    /// with `ssl.keystore.type=PEM`).
    pub fn client_cert_files(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.cert_file = Some(cert.into());
        self.key_file = Some(key.into());
        self
    }

    /// `ssl.keystore.certificate.chain` + `ssl.keystore.key` (Java, with
    /// `ssl.keystore.type=PEM`): the client certificate chain and its
    /// private key as PEM text, for mutual TLS.
    pub fn client_cert_pem(mut self, cert: impl Into<String>, key: impl Into<String>) -> Self {
        self.cert_pem = Some(cert.into());
        self.key_pem = Some(key.into());
        self
    }

    /// `ssl.endpoint.identification.algorithm`: `https` (the default, true)
    /// checks that the broker's certificate names the host connected to;
    /// empty (false) accepts any name a trusted CA signed, and the client
    /// logs a warning once.
    pub fn verify_hostname(mut self, verify: bool) -> Self {
        self.verify_hostname = verify;
        self
    }
}
