//! Tansu: a real broker in its own process, one per test.

use std::collections::HashSet;
use std::fmt;
use std::fs::{self, File};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::{skip_or_fail, test_name};

/// How long a Tansu process may take to accept connections. It is normally
/// ready in a few milliseconds; the margin covers a loaded CI machine.
const TANSU_READY_TIMEOUT: Duration = Duration::from_secs(10);

/// A private Tansu broker process, killed (and reaped) on drop.
///
/// One node (id 111), in-memory storage, listening on a free loopback port.
/// Its output goes to a log file under `target/brokers/logs/`; the file is
/// removed when the broker is dropped, unless the test is panicking, in which
/// case its tail is printed so the failure report shows the broker's side.
pub struct TansuBroker {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl TansuBroker {
    /// `127.0.0.1:PORT`, for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The broker's TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The OS process id (to kill it in a failure test, say).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Where the broker's stdout/stderr go.
    pub fn log_path(&self) -> &Path {
        &self.log
    }
}

impl fmt::Debug for TansuBroker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Tansu(pid {}, {}, log {})",
            self.child.id(),
            self.bootstrap(),
            self.log.display()
        )
    }
}

impl Drop for TansuBroker {
    fn drop(&mut self) {
        // SIGKILL: tests never need a graceful broker shutdown, and wait()
        // reaps the process so no zombie outlives the test.
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let text = fs::read_to_string(&self.log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(40)..];
            eprintln!(
                "--- tansu log {} (last {} lines) ---\n{}\n--- end tansu log ---",
                self.log.display(),
                tail.len(),
                tail.join("\n")
            );
        } else {
            let _ = fs::remove_file(&self.log);
        }
    }
}

/// Start a private Tansu broker, or `None` (with the reason on stderr).
///
/// Prefer [`tansu_or_skip`], which also applies the CI policy.
pub fn tansu() -> Option<TansuBroker> {
    match start_tansu() {
        Ok(broker) => Some(broker),
        Err(reason) => {
            eprintln!("{}: no Tansu broker: {reason}", test_name());
            None
        }
    }
}

/// Start a private Tansu broker; if none can be had, skip (outside CI) or
/// panic (in CI).
///
/// ```ignore
/// let Some(broker) = support::tansu_or_skip() else { return };
/// ```
pub fn tansu_or_skip() -> Option<TansuBroker> {
    match start_tansu() {
        Ok(broker) => Some(broker),
        Err(reason) => {
            skip_or_fail(&format!("no Tansu broker: {reason}"));
            None
        }
    }
}

/// Start a private Tansu broker, saying why not on failure.
pub fn start_tansu() -> Result<TansuBroker, String> {
    let (bin, logs) = prepare()?;
    // A port picked by bind(0) can be taken again before Tansu binds it
    // (tansu then exits): try a few ports before giving up.
    let mut last_error = String::new();
    for _ in 0..3 {
        let port = free_port()?;
        match spawn_tansu(&bin, port, &logs) {
            Ok(broker) => return Ok(broker),
            Err(e) => last_error = e,
        }
    }
    Err(last_error)
}

/// Start a fresh Tansu broker on a given loopback `port`: e.g. the port of
/// one the test dropped, to play a broker restart (memory storage: the new
/// broker starts empty). Fails if the port is taken.
pub fn start_tansu_on(port: u16) -> Result<TansuBroker, String> {
    let (bin, logs) = prepare()?;
    spawn_tansu(&bin, port, &logs)
}

/// Start a private Tansu broker that advertises `127.0.0.1:advertised`
/// instead of its own port (a TLS terminator in front of it listens
/// there), saying why not on failure.
pub fn start_tansu_advertising(advertised: u16) -> Result<TansuBroker, String> {
    let (bin, logs) = prepare()?;
    let mut last_error = String::new();
    for _ in 0..3 {
        let port = free_port()?;
        match spawn_tansu_advertising(&bin, port, Some(advertised), &logs) {
            Ok(broker) => return Ok(broker),
            Err(e) => last_error = e,
        }
    }
    Err(last_error)
}

/// The binary and the log directory.
fn prepare() -> Result<(PathBuf, PathBuf), String> {
    let bin = tansu_binary()?;
    let logs = cache_dir().join("logs");
    fs::create_dir_all(&logs).map_err(|e| format!("cannot create {}: {e}", logs.display()))?;
    Ok((bin, logs))
}

/// The Tansu binary, fetched once per test process by `scripts/tansu.sh`
/// (which honours `TANSU_BIN` and caches under `target/brokers`).
fn tansu_binary() -> Result<PathBuf, String> {
    static BINARY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/tansu.sh");
            let out = Command::new("bash")
                .arg(&script)
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
            if !out.status.success() {
                return Err(format!(
                    "{} failed ({}): {}",
                    script.display(),
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if path.is_empty() {
                return Err(format!("{} printed no path", script.display()));
            }
            Ok(PathBuf::from(path))
        })
        .clone()
}

/// Where brokers and their logs are cached: `KAFKIT_CACHE`, as in
/// `scripts/tansu.sh`, else `<repo>/target/brokers`.
fn cache_dir() -> PathBuf {
    match std::env::var_os("KAFKIT_CACHE") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("target/brokers"),
    }
}

/// Ports this process has handed out or that are taken by a mock cluster
/// of this process (see [`reserve_ports`]).
static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// Marks `ports` as taken for the rest of the process, so [`free_port`]
/// never hands them to a Tansu: librdkafka's mock cluster closes a broker's
/// listener on `broker_down` and binds the same port again on `broker_up`
/// (and aborts the process if it cannot), so a Tansu started by a parallel
/// test in between must not take it.
pub fn reserve_ports(ports: impl IntoIterator<Item = u16>) {
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    handed_out.get_or_insert_with(HashSet::new).extend(ports);
}

/// A loopback port nobody listens on now, and that this process has not
/// handed out before (tests run in parallel threads, and the kernel may give
/// a just-released port to the next bind(0)).
pub fn free_port() -> Result<u16, String> {
    // No librdkafka outage may start while we bind port 0 (see outage.rs).
    let _bind_guard = super::outage::listener_guard();
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    let handed_out = handed_out.get_or_insert_with(HashSet::new);
    for _ in 0..50 {
        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| format!("cannot bind a loopback port: {e}"))?;
        let port = listener
            .local_addr()
            .map_err(|e| format!("cannot read the bound port: {e}"))?
            .port();
        if handed_out.insert(port) {
            return Ok(port);
        }
    }
    Err("no fresh loopback port after 50 tries".to_string())
}

fn spawn_tansu(bin: &Path, port: u16, logs: &Path) -> Result<TansuBroker, String> {
    spawn_tansu_advertising(bin, port, None, logs)
}

fn spawn_tansu_advertising(
    bin: &Path,
    port: u16,
    advertised: Option<u16>,
    logs: &Path,
) -> Result<TansuBroker, String> {
    let log = logs.join(format!("tansu-{port}-{}.log", std::process::id()));
    let out = File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("cannot clone log handle: {e}"))?;
    let url = format!("tcp://127.0.0.1:{port}");
    let advertised_url = format!("tcp://127.0.0.1:{}", advertised.unwrap_or(port));
    let mut command = Command::new(bin);
    command
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &advertised_url,
        ])
        // Explicit, so a STORAGE_ENGINE variable in the environment cannot
        // point the broker at a database.
        .args(["--storage-engine", "memory://tansu/"])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        // RUST_LOG is meant for kafkit's own tracing; a debug-level Tansu
        // would write megabytes. TANSU_RUST_LOG turns the broker's on.
        .env_remove("RUST_LOG");
    if let Ok(filter) = std::env::var("TANSU_RUST_LOG") {
        command.env("RUST_LOG", filter);
    }
    let child = command
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    // From here on the guard owns the process: any early return kills it.
    let mut broker = TansuBroker { child, port, log };

    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + TANSU_READY_TIMEOUT;
    loop {
        if let Ok(Some(status)) = broker.child.try_wait() {
            let text = fs::read_to_string(&broker.log).unwrap_or_default();
            return Err(format!(
                "tansu on port {port} exited early ({status}): {}",
                text.trim()
            ));
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
            // Something accepts on the port; make sure it is our process and
            // not a stranger that took the port first.
            match listens_on(broker.child.id(), port) {
                Some(true) | None => return Ok(broker),
                Some(false) => {}
            }
        }
        if Instant::now() > deadline {
            return Err(format!(
                "tansu on port {port} not accepting after {TANSU_READY_TIMEOUT:?} (log {})",
                broker.log.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Whether process `pid` holds a socket listening on loopback `port`
/// (Linux `/proc`); `None` where that cannot be told.
fn listens_on(pid: u32, port: u16) -> Option<bool> {
    let table = fs::read_to_string("/proc/net/tcp").ok()?;
    let suffix = format!(":{port:04X}");
    // Columns: sl local_address rem_address st ... uid timeout inode; st 0A = LISTEN.
    let inodes: Vec<String> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let listening = cols.len() > 9 && cols[1].ends_with(&suffix) && cols[3] == "0A";
            listening.then(|| format!("socket:[{}]", cols[9]))
        })
        .collect();
    if inodes.is_empty() {
        return Some(false);
    }
    let fds = fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    Some(fds.flatten().any(|fd| {
        fs::read_link(fd.path())
            .is_ok_and(|target| inodes.iter().any(|i| target.as_os_str() == i.as_str()))
    }))
}
