//! The rustls side: loading [`TlsSettings`] into a `rustls::ClientConfig`,
//! the shared handle that rotation swaps, the handshake, and typed errors.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::TlsSettings;
use crate::error::{Context, Error, Result};

/// The crypto provider chosen by cargo features: `aws-lc-rs` with
/// `tls-aws-lc`, otherwise `ring` (`tls`).
pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    #[cfg(feature = "tls-aws-lc")]
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    #[cfg(not(feature = "tls-aws-lc"))]
    let provider = rustls::crypto::ring::default_provider();
    Arc::new(provider)
}

/// A loaded TLS configuration: a cheap, cloneable handle shared by the
/// client and every connection it opens.
///
/// Rotation: [`reload`](Self::reload) reads the same files again (after a
/// certificate, key or CA file was replaced), [`update`](Self::update)
/// loads new settings, [`set_rustls_config`](Self::set_rustls_config)
/// installs a ready configuration. New connections (reconnects, new
/// brokers, coordinators) use the new material; open connections keep
/// theirs. A load that fails leaves the current material in place.
///
/// ```no_run
/// # async fn demo() -> kafkit::Result<()> {
/// use kafkit::tls::{TlsConfig, TlsSettings};
/// let tls = TlsConfig::load(TlsSettings::new().ca_file("ca.pem")).await?;
/// let client = kafkit::Client::builder("broker:9093")
///     .security_protocol(kafkit::SecurityProtocol::Ssl)
///     .tls_config(tls.clone())
///     .build()
///     .await?;
/// // ... later, after ca.pem was replaced on disk:
/// tls.reload().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TlsConfig {
    inner: Arc<Shared>,
}

struct Shared {
    /// What `reload` reads again; `None` for a configuration handed in
    /// ready-made.
    settings: RwLock<Option<TlsSettings>>,
    current: RwLock<Arc<ClientConfig>>,
    /// Whether the loaded settings turned hostname verification off.
    unverified: AtomicBool,
    warned_no_hostname: AtomicBool,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The settings' Debug hides keys; the rustls config is not shown.
        let settings = self.inner.settings.read().map(|s| format!("{:?}", *s));
        f.debug_struct("TlsConfig")
            .field("settings", &settings.unwrap_or_default())
            .finish_non_exhaustive()
    }
}

impl TlsConfig {
    /// Loads `settings` (reads the PEM files, or the system's CA store when
    /// no CA is given) on a blocking thread. Errors are config errors
    /// naming the setting and file.
    pub async fn load(settings: TlsSettings) -> Result<TlsConfig> {
        let (config, settings) = load_blocking(settings).await?;
        Ok(TlsConfig {
            inner: Arc::new(Shared {
                unverified: AtomicBool::new(!settings.verify_hostname),
                settings: RwLock::new(Some(settings)),
                current: RwLock::new(config),
                warned_no_hostname: AtomicBool::new(false),
            }),
        })
    }

    /// A ready rustls configuration, used as given (its verifier, client
    /// certificate and ALPN; kafkit sets none of them).
    /// [`reload`](Self::reload) then has nothing to read; replace it with
    /// [`set_rustls_config`](Self::set_rustls_config).
    pub fn from_rustls(config: Arc<ClientConfig>) -> TlsConfig {
        TlsConfig {
            inner: Arc::new(Shared {
                settings: RwLock::new(None),
                current: RwLock::new(config),
                unverified: AtomicBool::new(false),
                warned_no_hostname: AtomicBool::new(false),
            }),
        }
    }

    /// Reads the files of the current settings again (rotation after a
    /// certificate, key or CA file was replaced on disk). On error the
    /// current material stays.
    pub async fn reload(&self) -> Result<()> {
        let settings = self.settings().ok_or_else(|| {
            Error::Config(
                "this TLS configuration was handed in ready-made: nothing to reload".into(),
            )
        })?;
        self.update(settings).await
    }

    /// Loads `settings` and uses them for new connections from now on. On
    /// error the current material stays.
    pub async fn update(&self, settings: TlsSettings) -> Result<()> {
        let (config, settings) = load_blocking(settings).await?;
        self.inner
            .unverified
            .store(!settings.verify_hostname, Ordering::Relaxed);
        if let Ok(mut s) = self.inner.settings.write() {
            *s = Some(settings);
        }
        self.set_rustls_config(config);
        Ok(())
    }

    /// Uses `config` for new connections from now on.
    pub fn set_rustls_config(&self, config: Arc<ClientConfig>) {
        match self.inner.current.write() {
            Ok(mut current) => *current = config,
            Err(poisoned) => *poisoned.into_inner() = config,
        }
    }

    /// The rustls configuration new connections use now.
    pub fn rustls_config(&self) -> Arc<ClientConfig> {
        match self.inner.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn settings(&self) -> Option<TlsSettings> {
        self.inner.settings.read().ok().and_then(|s| s.clone())
    }

    /// Warns (once per handle, i.e. per client unless clients share a
    /// handle) that hostnames are not verified. Called at every connect;
    /// costs one atomic load.
    pub(crate) fn warn_if_unverified(&self) {
        let unverified = self.inner.unverified.load(Ordering::Relaxed);
        if unverified && !self.inner.warned_no_hostname.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "ssl.endpoint.identification.algorithm is empty: broker hostnames are not verified \
                 (any certificate from a trusted CA is accepted)"
            );
        }
    }
}

async fn load_blocking(settings: TlsSettings) -> Result<(Arc<ClientConfig>, TlsSettings)> {
    tokio::task::spawn_blocking(move || build_config(&settings).map(|c| (Arc::new(c), settings)))
        .await
        .map_err(|e| Error::Config(format!("loading the TLS settings failed: {e}")))?
}

fn config_err(what: &str, why: impl std::fmt::Display) -> Error {
    Error::Config(format!("{what}: {why}"))
}

fn read_file(what: &str, path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| config_err(&format!("{what} {}", path.display()), e))
}

/// Certificates from PEM text; `what` names the setting in errors.
pub(crate) fn certs_from_pem(what: &str, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| config_err(what, format!("not valid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(config_err(what, "no CERTIFICATE found in the PEM"));
    }
    Ok(certs)
}

/// A private key from PEM text. The key itself never appears in errors.
pub(crate) fn key_from_pem(what: &str, pem: &[u8]) -> Result<PrivateKeyDer<'static>> {
    if pem.windows(9).any(|w| w == b"ENCRYPTED") {
        return Err(config_err(
            what,
            "the private key is encrypted; only unencrypted PEM keys (PKCS#8, RSA, EC) are supported",
        ));
    }
    PrivateKeyDer::from_pem_slice(pem).map_err(|_| {
        config_err(
            what,
            "no private key found (expected a PEM PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)",
        )
    })
}

/// Builds the rustls configuration `settings` describe. Blocking (file
/// reads, the system store).
pub(crate) fn build_config(settings: &TlsSettings) -> Result<ClientConfig> {
    if let Some(t) = &settings.truststore_type {
        if !t.eq_ignore_ascii_case("PEM") {
            return Err(config_err(
                &format!("ssl.truststore.type={t:?}"),
                "only PEM truststores are supported (convert JKS/PKCS12 to PEM)",
            ));
        }
    }
    if let Some(t) = &settings.keystore_type {
        if !t.eq_ignore_ascii_case("PEM") {
            return Err(config_err(
                &format!("ssl.keystore.type={t:?}"),
                "only PEM keystores are supported (convert JKS/PKCS12 to PEM)",
            ));
        }
    }
    if settings.key_password_given {
        return Err(Error::Config(
            "ssl.key.password: encrypted private keys are not supported; give an unencrypted PEM key"
                .into(),
        ));
    }

    let mut roots = RootCertStore::empty();
    let mut custom_ca = false;
    if let Some(path) = &settings.ca_file {
        let what = format!("ssl.ca.location {}", path.display());
        for cert in certs_from_pem(&what, &read_file("ssl.ca.location", path)?)? {
            roots
                .add(cert)
                .map_err(|e| config_err(&what, format!("not a usable CA certificate: {e}")))?;
        }
        custom_ca = true;
    }
    if let Some(pem) = &settings.ca_pem {
        let what = "ssl.truststore.certificates";
        for cert in certs_from_pem(what, pem.as_bytes())? {
            roots
                .add(cert)
                .map_err(|e| config_err(what, format!("not a usable CA certificate: {e}")))?;
        }
        custom_ca = true;
    }
    if !custom_ca {
        let native = rustls_native_certs::load_native_certs();
        for e in &native.errors {
            tracing::debug!(error = %e, "system CA store: a certificate could not be loaded");
        }
        let (added, _ignored) = roots.add_parsable_certificates(native.certs);
        if added == 0 {
            return Err(Error::Config(
                "no CA certificates found in the system store; set ssl.ca.location".into(),
            ));
        }
    }

    let provider = provider();
    let roots = Arc::new(roots);
    let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .map_err(|e| config_err("TLS trust anchors", e))?;
    let verifier: Arc<dyn ServerCertVerifier> = if settings.verify_hostname {
        webpki
    } else {
        Arc::new(NoHostnameVerifier(webpki))
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| config_err("TLS provider", e))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);

    let client_cert = match (
        &settings.cert_file,
        &settings.key_file,
        &settings.cert_pem,
        &settings.key_pem,
    ) {
        (Some(cert), Some(key), _, _) => {
            let what = format!("ssl.certificate.location {}", cert.display());
            let certs = certs_from_pem(&what, &read_file("ssl.certificate.location", cert)?)?;
            let what = format!("ssl.key.location {}", key.display());
            let key = key_from_pem(&what, &read_file("ssl.key.location", key)?)?;
            Some((certs, key))
        }
        (None, None, Some(cert), Some(key)) => Some((
            certs_from_pem("ssl.keystore.certificate.chain", cert.as_bytes())?,
            key_from_pem("ssl.keystore.key", key.as_bytes())?,
        )),
        (None, None, None, None) => None,
        _ => {
            return Err(Error::Config(
                "a client certificate needs both the certificate chain and the private key \
                 (ssl.certificate.location + ssl.key.location, or ssl.keystore.certificate.chain + ssl.keystore.key)"
                    .into(),
            ));
        }
    };
    match client_cert {
        Some((certs, key)) => builder
            .with_client_auth_cert(certs, key)
            .map_err(|e| config_err("client certificate and key", e)),
        None => Ok(builder.with_no_client_auth()),
    }
}

/// Verifies the chain (CA, validity, usage) but accepts any name:
/// `ssl.endpoint.identification.algorithm=` (empty).
#[derive(Debug)]
struct NoHostnameVerifier(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for NoHostnameVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        // webpki checks the name last, after the chain, validity and usage:
        // a name error means everything else was fine.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The host part of `host:port` / `[v6]:port`, as a TLS server name: a
/// DNS name (sent as SNI, verified against DNS SANs) or an IP address (no
/// SNI, verified against IP SANs).
fn server_name(address: &str) -> Result<ServerName<'static>> {
    let host = address.rsplit_once(':').map_or(address, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_owned())
        .map_err(|_| Error::Config(format!("{host:?} is not a valid TLS server name")))
}

/// Runs the TLS handshake on `tcp` for the broker at `address`
/// (`host:port`), bounded by `timeout`.
pub(crate) async fn connect(
    tls: &TlsConfig,
    tcp: TcpStream,
    address: &str,
    timeout: Duration,
) -> Result<TlsStream<TcpStream>> {
    tls.warn_if_unverified();
    let name = server_name(address)?;
    let connector = TlsConnector::from(tls.rustls_config());
    let ctx = || Context::default().with_broker(address);
    match tokio::time::timeout(timeout, connector.connect(name, tcp)).await {
        Err(_) => Err(Error::Timeout {
            what: "TLS handshake (is this a TLS listener?)",
            context: ctx(),
        }),
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(match classify(&e, "TLS handshake") {
            Some(tls) => tls.map_context(|_| ctx()),
            None if e.kind() == std::io::ErrorKind::UnexpectedEof => Error::Tls {
                reason: "TLS handshake: the broker closed the connection \
                         (not a TLS listener, or it refused the handshake)"
                    .into(),
                context: ctx(),
            },
            None => Error::io(e, ctx()),
        }),
    }
}

/// The TLS version (Java's spelling, `TLSv1.3`) and cipher suite (IANA
/// name) `stream`'s handshake settled on.
pub(crate) fn negotiated(stream: &TlsStream<TcpStream>) -> (String, String) {
    let session = stream.get_ref().1;
    let version = match session.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_owned(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_owned(),
        Some(other) => format!("{other:?}"),
        None => "?".to_owned(),
    };
    let suite = match session.negotiated_cipher_suite() {
        Some(s) => s
            .suite()
            .as_str()
            .map_or_else(|| format!("{:?}", s.suite()), str::to_owned),
        None => "?".to_owned(),
    };
    (version, suite)
}

/// An [`Error::Tls`] for an I/O error that carries a rustls error (a
/// handshake failure, or an alert the broker sent after it, as TLS 1.3
/// servers do when they refuse a client certificate); `None` for other
/// I/O errors. The context is left for the caller to fill.
pub(crate) fn classify(e: &std::io::Error, during: &str) -> Option<Error> {
    let tls = e.get_ref()?.downcast_ref::<rustls::Error>()?;
    use rustls::AlertDescription as A;
    let reason = match tls {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => {
                "the broker's certificate is not signed by a trusted CA (unknown issuer; check ssl.ca.location)".to_owned()
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!(
                    "hostname mismatch: the broker's certificate does not name the host connected to ({c})"
                )
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                format!("the broker's certificate has expired ({c})")
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                format!("the broker's certificate is not valid yet ({c})")
            }
            other => format!("the broker's certificate was rejected: {other}"),
        },
        rustls::Error::AlertReceived(
            alert @ (A::CertificateRequired
            | A::BadCertificate
            | A::UnknownCA
            | A::CertificateUnknown
            | A::CertificateExpired
            | A::CertificateRevoked
            | A::UnsupportedCertificate
            | A::AccessDenied),
        ) => format!(
            "the broker refused the client certificate (alert {alert:?}; check ssl.certificate.location and ssl.key.location)"
        ),
        rustls::Error::AlertReceived(alert) => {
            format!("the broker ended the TLS handshake (alert {alert:?})")
        }
        rustls::Error::InvalidMessage(m) => format!(
            "the broker did not answer in TLS ({m:?}): is this a plaintext listener? (security.protocol)"
        ),
        other => format!("{other}"),
    };
    Some(Error::Tls {
        reason: format!("{during}: {reason}"),
        context: Context::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CA and a certificate + PKCS#8 key it signed, as PEM.
    fn pem_set() -> (String, String, String) {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
        let cert = rcgen::CertificateParams::new(vec!["client".to_string()])
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        (ca.pem(), cert.pem(), key.serialize_pem())
    }

    fn config_error(settings: &TlsSettings) -> String {
        match build_config(settings) {
            Err(Error::Config(text)) => text,
            Err(e) => panic!("not a config error: {e}"),
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn pem_strings_build_a_config_with_a_client_certificate() {
        let (ca, cert, key) = pem_set();
        let config =
            build_config(&TlsSettings::new().ca_pem(&ca).client_cert_pem(&cert, &key)).unwrap();
        assert!(config.client_auth_cert_resolver.has_certs());
        let config = build_config(&TlsSettings::new().ca_pem(&ca)).unwrap();
        assert!(!config.client_auth_cert_resolver.has_certs());
    }

    #[test]
    fn files_build_a_config_and_errors_name_the_setting_and_file() {
        let dir = std::env::temp_dir().join(format!("kafkit-tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (ca, cert, key) = pem_set();
        let (ca_file, cert_file, key_file) =
            (dir.join("ca.pem"), dir.join("c.pem"), dir.join("c.key"));
        std::fs::write(&ca_file, &ca).unwrap();
        std::fs::write(&cert_file, &cert).unwrap();
        std::fs::write(&key_file, &key).unwrap();
        build_config(
            &TlsSettings::new()
                .ca_file(&ca_file)
                .client_cert_files(&cert_file, &key_file),
        )
        .unwrap();
        // One file holding chain and key (a PEM keystore).
        let both = dir.join("both.pem");
        std::fs::write(&both, format!("{cert}{key}")).unwrap();
        build_config(
            &TlsSettings::new()
                .ca_file(&ca_file)
                .client_cert_files(&both, &both),
        )
        .unwrap();

        let missing = dir.join("missing.pem");
        let text = config_error(&TlsSettings::new().ca_file(&missing));
        assert!(
            text.contains("ssl.ca.location") && text.contains("missing.pem"),
            "{text}"
        );
        let text = config_error(&TlsSettings::new().ca_file(&key_file));
        assert!(text.contains("no CERTIFICATE"), "{text}");
        let text = config_error(
            &TlsSettings::new()
                .ca_file(&ca_file)
                .client_cert_files(&cert_file, &ca_file),
        );
        assert!(
            text.contains("ssl.key.location") && text.contains("no private key"),
            "{text}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn encrypted_keys_passwords_and_non_pem_stores_are_refused_clearly() {
        let (ca, cert, key) = pem_set();
        let encrypted =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let text = config_error(
            &TlsSettings::new()
                .ca_pem(&ca)
                .client_cert_pem(&cert, encrypted),
        );
        assert!(text.contains("encrypted"), "{text}");

        let mut s = TlsSettings::new().ca_pem(&ca).client_cert_pem(&cert, &key);
        s.key_password_given = true;
        assert!(config_error(&s).contains("ssl.key.password"));

        let mut s = TlsSettings::new().ca_pem(&ca);
        s.truststore_type = Some("JKS".into());
        assert!(config_error(&s).contains("only PEM truststores"));
        let mut s = TlsSettings::new().ca_pem(&ca);
        s.keystore_type = Some("PKCS12".into());
        assert!(config_error(&s).contains("only PEM keystores"));

        // A certificate without its key (or the reverse).
        let mut s = TlsSettings::new().ca_pem(&ca);
        s.cert_pem = Some(cert);
        assert!(config_error(&s).contains("needs both"));
    }

    #[test]
    fn keys_never_show_in_debug_or_errors() {
        let (ca, cert, key) = pem_set();
        let settings = TlsSettings::new().ca_pem(&ca).client_cert_pem(&cert, &key);
        let body: String = key.lines().nth(1).unwrap().to_owned();
        let debug = format!("{settings:?}");
        assert!(!debug.contains(&body) && debug.contains("***"), "{debug}");
        let config = TlsConfig::from_rustls(Arc::new(build_config(&settings).unwrap()));
        assert!(!format!("{config:?}").contains(&body));
        // A key that does not match the certificate: the error names the
        // setting, not the key.
        let (_, _, other_key) = pem_set();
        let text = config_error(
            &TlsSettings::new()
                .ca_pem(&ca)
                .client_cert_pem(&cert, &other_key),
        );
        assert!(!text.contains(other_key.lines().nth(1).unwrap()), "{text}");
    }

    #[test]
    fn server_names_are_dns_names_or_ip_addresses() {
        assert!(matches!(
            server_name("localhost:9093").unwrap(),
            ServerName::DnsName(_)
        ));
        assert!(matches!(
            server_name("10.0.0.1:9093").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("[::1]:9093").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(server_name("bad_name!:1").is_err());
    }

    #[tokio::test]
    async fn unverified_hostnames_warn_once_and_only_when_off() {
        let (ca, _, _) = pem_set();
        let verified = TlsConfig::load(TlsSettings::new().ca_pem(&ca))
            .await
            .unwrap();
        verified.warn_if_unverified();
        assert!(!verified.inner.warned_no_hostname.load(Ordering::Relaxed));
        let off = TlsSettings::new().ca_pem(&ca).verify_hostname(false);
        verified.update(off).await.unwrap();
        verified.warn_if_unverified();
        assert!(verified.inner.warned_no_hostname.load(Ordering::Relaxed));
        // The second call finds the flag set: no second warning.
        assert!(
            verified
                .inner
                .warned_no_hostname
                .swap(true, Ordering::Relaxed)
        );
    }

    #[tokio::test]
    async fn reload_keeps_the_current_material_when_loading_fails() {
        let (ca, _, _) = pem_set();
        let tls = TlsConfig::load(TlsSettings::new().ca_pem(&ca))
            .await
            .unwrap();
        let before = tls.rustls_config();
        tls.reload().await.unwrap();
        assert!(
            !Arc::ptr_eq(&before, &tls.rustls_config()),
            "reload installs a new config"
        );
        let current = tls.rustls_config();
        assert!(tls.update(TlsSettings::new().ca_pem("junk")).await.is_err());
        assert!(Arc::ptr_eq(&current, &tls.rustls_config()));
        let ready = TlsConfig::from_rustls(current);
        assert!(matches!(ready.reload().await, Err(Error::Config(_))));
    }
}
