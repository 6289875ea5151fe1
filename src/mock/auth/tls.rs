//! The TLS listener option (features `mock` and `tls`/`tls-aws-lc`): the
//! brokers accept TLS with the given certificate and key, optionally
//! requiring client certificates from a CA (mutual TLS), on rustls with the
//! same crypto provider and PEM loading as kafkit's client.

use std::sync::Arc;

use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;

use crate::error::{Error, Result};
use crate::net::tls::config::{certs_from_pem, key_from_pem, provider};

/// The listener's certificate material, PEM text.
#[derive(Clone)]
pub(crate) struct TlsListener {
    pub cert_chain_pem: String,
    pub key_pem: String,
    pub client_ca_pem: Option<String>,
}

impl std::fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsListener")
            .field("mutual", &self.client_ca_pem.is_some())
            .finish_non_exhaustive()
    }
}

impl TlsListener {
    /// The acceptor every broker of the cluster uses.
    pub(crate) fn acceptor(&self) -> Result<Acceptor> {
        let certs = certs_from_pem("mock TLS certificate", self.cert_chain_pem.as_bytes())?;
        let key = key_from_pem("mock TLS key", self.key_pem.as_bytes())?;
        let builder = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(config_error)?;
        let builder = match &self.client_ca_pem {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in certs_from_pem("mock TLS client CA", ca.as_bytes())? {
                    roots.add(cert).map_err(config_error)?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                        .build()
                        .map_err(config_error)?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let config = builder.with_single_cert(certs, key).map_err(config_error)?;
        Ok(Acceptor(tokio_rustls::TlsAcceptor::from(Arc::new(config))))
    }
}

/// The brokers' TLS acceptor.
#[derive(Clone)]
pub(crate) struct Acceptor(pub tokio_rustls::TlsAcceptor);

impl std::fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Acceptor")
    }
}

fn config_error(e: impl std::fmt::Display) -> Error {
    Error::Config(format!("mock TLS listener: {e}"))
}
