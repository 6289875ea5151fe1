//! TLS endpoints for tests: certificates generated per test run with
//! `rcgen`, and `stunnel` (the Debian `stunnel4` package) terminating TLS in
//! front of a private Tansu that advertises the TLS port, so clients come
//! back through TLS after metadata.
//!
//! `tls_broker_or_skip` applies the skip policy: without stunnel or Tansu,
//! outside CI the test prints `SKIP` and passes; in CI it fails.

use std::fs;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use super::{TansuBroker, skip_or_fail, start_tansu_advertising, test_name};

/// A certificate and its key, as PEM files.
#[derive(Debug, Clone)]
pub struct PemPair {
    /// The certificate (chain) file.
    pub cert: PathBuf,
    /// The unencrypted private key file (PKCS#8).
    pub key: PathBuf,
}

/// A certificate authority that can sign more certificates.
pub struct TestCa {
    params: CertificateParams,
    key: KeyPair,
    /// The CA certificate, PEM.
    pub pem: String,
    /// The CA certificate as a file.
    pub file: PathBuf,
}

impl TestCa {
    /// A new self-signed CA named `name`, written to `dir/name.pem`.
    pub fn new(dir: &Path, name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        let file = dir.join(format!("{name}.pem"));
        fs::write(&file, &pem).unwrap();
        fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
        TestCa {
            params,
            key,
            pem,
            file,
        }
    }

    /// A server certificate for `names` (DNS names or IP addresses), valid
    /// from `not_before` to `not_after`, written to `dir/<file>.{pem,key}`.
    pub fn server_cert(
        &self,
        dir: &Path,
        file: &str,
        names: &[&str],
        validity: Validity,
    ) -> PemPair {
        self.sign(
            dir,
            file,
            names,
            ExtendedKeyUsagePurpose::ServerAuth,
            validity,
        )
    }

    /// A client certificate named `name`, written to `dir/<name>.{pem,key}`.
    pub fn client_cert(&self, dir: &Path, name: &str) -> PemPair {
        self.sign(
            dir,
            name,
            &[],
            ExtendedKeyUsagePurpose::ClientAuth,
            Validity::Now,
        )
    }

    fn sign(
        &self,
        dir: &Path,
        file: &str,
        names: &[&str],
        usage: ExtendedKeyUsagePurpose,
        validity: Validity,
    ) -> PemPair {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, file);
        params.extended_key_usages = vec![usage];
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        let (from, to) = match validity {
            Validity::Now => (2020, 2100),
            Validity::Expired => (2020, 2021),
        };
        params.not_before = rcgen::date_time_ymd(from, 1, 1);
        params.not_after = rcgen::date_time_ymd(to, 1, 1);
        let key = KeyPair::generate().unwrap();
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        let pair = PemPair {
            cert: dir.join(format!("{file}.pem")),
            key: dir.join(format!("{file}.key")),
        };
        fs::write(&pair.cert, cert.pem()).unwrap();
        fs::write(&pair.key, key.serialize_pem()).unwrap();
        pair
    }
}

/// Which key format [`openssl_client_cert`] makes.
#[derive(Debug, Clone, Copy)]
pub enum KeyFormat {
    /// RSA in PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`).
    RsaPkcs1,
    /// EC P-256 in SEC1 PEM (`BEGIN EC PRIVATE KEY`).
    EcSec1,
}

/// A client certificate from `ca` whose key is in `format`, made with the
/// `openssl` command (rcgen writes PKCS#8 only), or why not.
pub fn openssl_client_cert(ca: &TestCa, dir: &Path, format: KeyFormat) -> Result<PemPair, String> {
    let name = match format {
        KeyFormat::RsaPkcs1 => "client-rsa",
        KeyFormat::EcSec1 => "client-ec",
    };
    let key = dir.join(format!("{name}.key"));
    let csr = dir.join(format!("{name}.csr"));
    let cert = dir.join(format!("{name}.pem"));
    let ca_key = ca.file.with_extension("key");
    let run = |args: &[&str]| -> Result<(), String> {
        let out = Command::new("openssl")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run openssl: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    };
    let key_s = key.display().to_string();
    match format {
        KeyFormat::RsaPkcs1 => run(&["genrsa", "-traditional", "-out", &key_s, "2048"])?,
        KeyFormat::EcSec1 => run(&[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            &key_s,
        ])?,
    }
    let csr_s = csr.display().to_string();
    run(&[
        "req",
        "-new",
        "-key",
        &key_s,
        "-subj",
        &format!("/CN={name}"),
        "-out",
        &csr_s,
    ])?;
    // Extensions make it an X.509 v3 certificate (OpenSSL 3.0 writes v1
    // without them, which webpki refuses).
    let ext = dir.join(format!("{name}.ext"));
    fs::write(
        &ext,
        "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
    )
    .map_err(|e| e.to_string())?;
    run(&[
        "x509",
        "-req",
        "-extfile",
        &ext.display().to_string(),
        "-in",
        &csr_s,
        "-CA",
        &ca.file.display().to_string(),
        "-CAkey",
        &ca_key.display().to_string(),
        "-set_serial",
        "7",
        "-days",
        "30",
        "-out",
        &cert.display().to_string(),
    ])?;
    let text = fs::read_to_string(&key).map_err(|e| e.to_string())?;
    let label = match format {
        KeyFormat::RsaPkcs1 => "BEGIN RSA PRIVATE KEY",
        KeyFormat::EcSec1 => "BEGIN EC PRIVATE KEY",
    };
    if !text.contains(label) {
        return Err(format!("openssl wrote no {label}"));
    }
    Ok(PemPair { cert, key })
}

/// When a certificate is valid.
#[derive(Debug, Clone, Copy)]
pub enum Validity {
    /// From 2020 to 2100.
    Now,
    /// In 2020 only: expired.
    Expired,
}

/// Every certificate a TLS test needs, generated in a fresh directory
/// (removed on drop unless the test panics).
pub struct TestPki {
    /// The directory holding the files.
    pub dir: PathBuf,
    /// The CA the brokers' and clients' certificates come from.
    pub ca: TestCa,
    /// A second, unrelated CA.
    pub other_ca: TestCa,
    /// Server certificate for `127.0.0.1` and `localhost`, from `ca`.
    pub server: PemPair,
    /// Server certificate for `kafka.invalid` only, from `ca`.
    pub wrong_host: PemPair,
    /// Expired server certificate for `127.0.0.1` and `localhost`, from `ca`.
    pub expired: PemPair,
    /// Server certificate for `127.0.0.1` and `localhost`, from `other_ca`.
    pub other_server: PemPair,
    /// Client certificate from `ca`.
    pub client: PemPair,
    /// Client certificate from `other_ca` (unknown to the brokers).
    pub unknown_client: PemPair,
}

impl TestPki {
    /// Generates the set.
    pub fn new() -> TestPki {
        let dir = std::env::temp_dir().join(format!(
            "kafkit-tls-{}-{}",
            std::process::id(),
            test_name().replace("::", "-")
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let ca = TestCa::new(&dir, "ca");
        let other_ca = TestCa::new(&dir, "other-ca");
        let here = ["127.0.0.1", "localhost"];
        TestPki {
            server: ca.server_cert(&dir, "server", &here, Validity::Now),
            wrong_host: ca.server_cert(&dir, "wrong-host", &["kafka.invalid"], Validity::Now),
            expired: ca.server_cert(&dir, "expired", &here, Validity::Expired),
            other_server: other_ca.server_cert(&dir, "other-server", &here, Validity::Now),
            client: ca.client_cert(&dir, "client"),
            unknown_client: other_ca.client_cert(&dir, "unknown-client"),
            dir,
            ca,
            other_ca,
        }
    }
}

impl Default for TestPki {
    fn default() -> Self {
        TestPki::new()
    }
}

impl Drop for TestPki {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// How stunnel terminates TLS.
#[derive(Debug, Clone)]
pub struct StunnelService {
    /// The server certificate and key stunnel presents.
    pub server: PemPair,
    /// Require a client certificate from this CA (mTLS; `verify = 2`).
    pub client_ca: Option<PathBuf>,
}

/// A stunnel process, killed (and reaped) on drop.
pub struct Stunnel {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Stunnel {
    /// The TLS port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// How many connections stunnel accepted so far (from its log; the
    /// readiness probe counts as one).
    pub fn accepted(&self) -> usize {
        fs::read_to_string(&self.log)
            .unwrap_or_default()
            .matches("accepted connection from")
            .count()
    }
}

impl Drop for Stunnel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let text = fs::read_to_string(&self.log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(30)..];
            eprintln!("--- stunnel log (last lines) ---\n{}\n---", tail.join("\n"));
        }
    }
}

/// The stunnel binary, or why there is none.
pub fn stunnel_binary() -> Result<PathBuf, String> {
    for name in ["stunnel4", "stunnel"] {
        if let Ok(out) = Command::new("which").arg(name).output() {
            let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if out.status.success() && !path.is_empty() {
                return Ok(PathBuf::from(path));
            }
        }
    }
    Err("stunnel is not installed (apt-get install -y stunnel4)".into())
}

/// Starts stunnel on `tls_port`, forwarding to `target_port` on loopback.
pub fn start_stunnel(
    dir: &Path,
    tls_port: u16,
    target_port: u16,
    service: &StunnelService,
) -> Result<Stunnel, String> {
    let bin = stunnel_binary()?;
    static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let conf = dir.join(format!("stunnel-{tls_port}-{n}.conf"));
    let log = dir.join(format!("stunnel-{tls_port}-{n}.log"));
    let mut text = format!(
        "foreground = yes\npid =\noutput = {}\ndebug = 5\n\
         socket = l:TCP_NODELAY=1\nsocket = r:TCP_NODELAY=1\n\n[kafka]\naccept = 127.0.0.1:{tls_port}\n\
         connect = 127.0.0.1:{target_port}\ncert = {}\nkey = {}\n",
        log.display(),
        service.server.cert.display(),
        service.server.key.display()
    );
    if let Some(ca) = &service.client_ca {
        text.push_str(&format!(
            "CAfile = {}\nverifyChain = yes\nrequireCert = yes\n",
            ca.display()
        ));
    }
    fs::write(&conf, text).map_err(|e| format!("cannot write {}: {e}", conf.display()))?;
    let child = Command::new(&bin)
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let mut stunnel = Stunnel {
        child,
        port: tls_port,
        log,
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], tls_port));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(Some(status)) = stunnel.child.try_wait() {
            let text = fs::read_to_string(&stunnel.log).unwrap_or_default();
            return Err(format!("stunnel exited early ({status}): {}", text.trim()));
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
            return Ok(stunnel);
        }
        if Instant::now() > deadline {
            return Err(format!("stunnel not accepting on {tls_port} after 10 s"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Tansu behind stunnel: Tansu advertises the TLS port, so every
/// connection after bootstrap goes through TLS as well.
pub struct TlsBroker {
    /// The stunnel in front (dropped first).
    pub stunnel: Stunnel,
    /// The broker behind it.
    pub tansu: TansuBroker,
}

impl TlsBroker {
    /// `127.0.0.1:TLSPORT`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.stunnel.port())
    }

    /// `localhost:TLSPORT` (a DNS name, for SNI and DNS SAN checks).
    pub fn bootstrap_localhost(&self) -> String {
        format!("localhost:{}", self.stunnel.port())
    }

    /// Tansu's own plaintext address.
    pub fn plaintext_bootstrap(&self) -> String {
        self.tansu.bootstrap()
    }
}

/// Starts Tansu behind stunnel with `service`, or says why not.
pub fn start_tls_broker(dir: &Path, service: &StunnelService) -> Result<TlsBroker, String> {
    stunnel_binary()?;
    let mut last = String::new();
    for _ in 0..3 {
        let tls_port = super::free_port()?;
        let tansu = start_tansu_advertising(tls_port)?;
        match start_stunnel(dir, tls_port, tansu.port(), service) {
            Ok(stunnel) => return Ok(TlsBroker { stunnel, tansu }),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// [`start_tls_broker`] with the skip policy (`SKIP` outside CI, a failure
/// in CI).
pub fn tls_broker_or_skip(dir: &Path, service: &StunnelService) -> Option<TlsBroker> {
    match start_tls_broker(dir, service) {
        Ok(broker) => Some(broker),
        Err(reason) => {
            skip_or_fail(&format!("no TLS broker (stunnel + Tansu): {reason}"));
            None
        }
    }
}
