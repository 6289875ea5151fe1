//! What every example shares, so that they all behave alike:
//!
//! - the command line: `--bootstrap-server HOST:PORT` (falling back to the
//!   `KAFKA_BOOTSTRAP` environment variable), `--topic T` where a topic
//!   applies, `-h`/`--help` (prints the usage and exits 0); a usage error
//!   prints one line and exits 2;
//! - logging: a `tracing` subscriber on stderr honouring `RUST_LOG`
//!   (default `warn`);
//! - errors: printed with `Display` (never `Debug`), exit status 1;
//! - stopping: [`Shutdown`] resolves on Ctrl-C (SIGINT) or SIGTERM, so an
//!   example can leave its group or flush its producer and exit 0.
//!
//! Each example includes this file with `#[path = "common/cli.rs"] mod cli;`
//! (a `main.rs` here would make Cargo take `common` for an example).
//! The parser's tests run with `cargo test --example producer`.

// Each example uses only part of this file.
#![allow(dead_code)]

use std::collections::HashMap;
use std::fmt::Display;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The environment variable read when `--bootstrap-server` is absent.
pub const BOOTSTRAP_ENV: &str = "KAFKA_BOOTSTRAP";

/// One command-line option of an example.
pub struct Opt {
    /// The flag, e.g. `"--topic"`.
    pub flag: &'static str,
    /// The value's placeholder in the usage (`"T"`), `None` for a switch.
    pub value: Option<&'static str>,
    /// Whether the example refuses to run without it.
    pub required: bool,
    /// One line of help; say the default here.
    pub help: &'static str,
}

impl Opt {
    /// An option the example cannot run without.
    pub const fn required(flag: &'static str, value: &'static str, help: &'static str) -> Opt {
        Opt {
            flag,
            value: Some(value),
            required: true,
            help,
        }
    }

    /// An option with a default.
    pub const fn optional(flag: &'static str, value: &'static str, help: &'static str) -> Opt {
        Opt {
            flag,
            value: Some(value),
            required: false,
            help,
        }
    }

    /// A flag without a value, off unless given.
    pub const fn switch(flag: &'static str, help: &'static str) -> Opt {
        Opt {
            flag,
            value: None,
            required: false,
            help,
        }
    }
}

/// An example's name, what it does, and its options besides
/// `--bootstrap-server` and `--help` (which every example takes).
pub struct Command {
    /// The example's name, as given to `cargo run --example`.
    pub name: &'static str,
    /// One or more lines on what it does, printed by `--help`.
    pub about: &'static str,
    /// Its own options.
    pub options: &'static [Opt],
}

const BOOTSTRAP: Opt = Opt::optional(
    "--bootstrap-server",
    "HOST:PORT",
    "broker(s) to start from, comma-separated (default: $KAFKA_BOOTSTRAP)",
);
const HELP: Opt = Opt::switch("-h, --help", "print this help and exit");

impl Command {
    /// The text `--help` prints.
    pub fn usage(&self) -> String {
        let mut synopsis = format!("{} --bootstrap-server HOST:PORT", self.name);
        for o in self.options.iter().filter(|o| o.required) {
            synopsis += &format!(" {} {}", o.flag, o.value.unwrap_or_default());
        }
        if self.options.iter().any(|o| !o.required) {
            synopsis += " [OPTIONS]";
        }
        let all: Vec<&Opt> = std::iter::once(&BOOTSTRAP)
            .chain(self.options)
            .chain(std::iter::once(&HELP))
            .collect();
        let left = |o: &Opt| match o.value {
            Some(v) => format!("{} {v}", o.flag),
            None => o.flag.to_string(),
        };
        let width = all.iter().map(|o| left(o).len()).max().unwrap_or(0);
        let mut text = format!("{}\n\nusage: {synopsis}\n\noptions:\n", self.about.trim());
        for o in all {
            text += &format!("  {:width$}  {}\n", left(o), o.help);
        }
        text += "\nenvironment:\n";
        text += "  KAFKA_BOOTSTRAP  brokers to use when --bootstrap-server is absent\n";
        text += "  RUST_LOG         log filter, default \"warn\" (e.g. RUST_LOG=kafkit=debug)\n";
        text
    }

    fn option(&self, flag: &str) -> Option<&'static Opt> {
        if flag == BOOTSTRAP.flag {
            return Some(&BOOTSTRAP);
        }
        self.options.iter().find(|o| o.flag == flag)
    }
}

/// `--command-config FILE`: Java client properties, as Kafka's tools take
/// them (`security.protocol`, `ssl.*`, `sasl.*`, `client.id`, and the
/// producer's or consumer's own keys). Add it to an example's options and
/// build its client with [`client_builder`].
pub const COMMAND_CONFIG: Opt = Opt::optional(
    "--command-config",
    "FILE",
    "Java client properties: security.protocol, ssl.*, sasl.*, producer/consumer keys",
);

/// `--producer.config FILE`: [`COMMAND_CONFIG`] as kafka-producer-perf-test spells it.
pub const PRODUCER_CONFIG: Opt = Opt::optional(
    "--producer.config",
    "FILE",
    "same as --command-config (kafka-producer-perf-test's name)",
);

/// `--consumer.config FILE`: [`COMMAND_CONFIG`] as kafka-consumer-perf-test spells it.
pub const CONSUMER_CONFIG: Opt = Opt::optional(
    "--consumer.config",
    "FILE",
    "same as --command-config (kafka-consumer-perf-test's name)",
);

/// The properties file named by `--command-config` (or its perf-tool
/// spellings), if any, with `bootstrap.servers` set from the command line.
pub fn command_config(args: &Args) -> Result<Option<kafkit::Properties>, BoxError> {
    let path = [COMMAND_CONFIG, PRODUCER_CONFIG, CONSUMER_CONFIG]
        .iter()
        .find_map(|o| args.value::<String>(o.flag));
    match path {
        None => Ok(None),
        Some(path) => {
            let mut props = kafkit::Properties::from_file(&path)?;
            props.set("bootstrap.servers", args.bootstrap());
            Ok(Some(props))
        }
    }
}

/// A client builder for `--bootstrap-server`, configured from
/// `--command-config` when given (the command line's brokers win over the
/// file's `bootstrap.servers`), and the properties for the producer or
/// consumer builder (empty without a file).
pub fn client_builder(
    args: &Args,
) -> Result<(kafkit::ClientBuilder, kafkit::Properties), BoxError> {
    match command_config(args)? {
        None => Ok((
            kafkit::Client::builder(args.bootstrap()),
            kafkit::Properties::new(),
        )),
        Some(props) => Ok((kafkit::ClientBuilder::from_properties(&props)?, props)),
    }
}

/// What went wrong on the command line.
#[derive(Debug, PartialEq)]
pub enum Usage {
    /// `-h` or `--help` was given.
    Help,
    /// A mistake, explained.
    Error(String),
}

/// A parsed command line.
pub struct Args {
    name: &'static str,
    /// Empty only for [`Args::parse_bootstrap_optional`] without a broker.
    bootstrap: String,
    values: HashMap<&'static str, String>,
    /// Every value given, in order (for options that may repeat).
    all_values: Vec<(&'static str, String)>,
    switches: Vec<&'static str>,
}

impl Args {
    /// Parses the process's arguments. Prints the usage and exits 0 on
    /// `--help`; prints the mistake and exits 2 on a usage error.
    pub fn parse(command: &'static Command) -> Args {
        Args::parse_process(command, true)
    }

    /// [`Args::parse`] for examples that can do without a broker (they
    /// start the embedded cluster): see [`Args::bootstrap_given`].
    pub fn parse_bootstrap_optional(command: &'static Command) -> Args {
        Args::parse_process(command, false)
    }

    fn parse_process(command: &'static Command, bootstrap_required: bool) -> Args {
        let bootstrap_env = std::env::var(BOOTSTRAP_ENV).ok();
        let args = std::env::args().skip(1);
        match Args::parse_inner(command, args, bootstrap_env, bootstrap_required) {
            Ok(args) => args,
            Err(Usage::Help) => {
                print!("{}", command.usage());
                std::process::exit(0);
            }
            Err(Usage::Error(e)) => usage_error(command.name, e),
        }
    }

    /// Parses `args` (without the program name); `bootstrap_env` is the
    /// value of `KAFKA_BOOTSTRAP`, if set.
    pub fn parse_from(
        command: &'static Command,
        args: impl IntoIterator<Item = String>,
        bootstrap_env: Option<String>,
    ) -> Result<Args, Usage> {
        Args::parse_inner(command, args, bootstrap_env, true)
    }

    fn parse_inner(
        command: &'static Command,
        args: impl IntoIterator<Item = String>,
        bootstrap_env: Option<String>,
        bootstrap_required: bool,
    ) -> Result<Args, Usage> {
        let mut values = HashMap::new();
        let mut all_values = Vec::new();
        let mut switches = Vec::new();
        let mut it = args.into_iter();
        while let Some(arg) = it.next() {
            if arg == "-h" || arg == "--help" {
                return Err(Usage::Help);
            }
            // Both `--flag value` and `--flag=value`.
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
                _ => (arg, None),
            };
            let Some(opt) = command.option(&flag) else {
                return Err(Usage::Error(format!("unknown argument {flag}")));
            };
            match (opt.value, inline) {
                (None, None) => switches.push(opt.flag),
                (None, Some(_)) => {
                    return Err(Usage::Error(format!("{flag} takes no value")));
                }
                (Some(_), Some(v)) => {
                    all_values.push((opt.flag, v.clone()));
                    values.insert(opt.flag, v);
                }
                (Some(placeholder), None) => match it.next() {
                    // A flag where the value should be: the value is missing.
                    Some(v) if !v.starts_with("--") => {
                        all_values.push((opt.flag, v.clone()));
                        values.insert(opt.flag, v);
                    }
                    _ => {
                        return Err(Usage::Error(format!(
                            "{flag} needs a value ({placeholder})"
                        )));
                    }
                },
            }
        }
        for o in command.options.iter().filter(|o| o.required) {
            if !values.contains_key(o.flag) {
                return Err(Usage::Error(format!("{} is required", o.flag)));
            }
        }
        let bootstrap = match values
            .remove(BOOTSTRAP.flag)
            .or(bootstrap_env)
            .filter(|b| !b.trim().is_empty())
        {
            Some(b) => b,
            // `parse_bootstrap_optional`: the example starts the embedded cluster.
            None if !bootstrap_required => String::new(),
            None => {
                return Err(Usage::Error(format!(
                    "no broker given: pass --bootstrap-server HOST:PORT or set {BOOTSTRAP_ENV}"
                )));
            }
        };
        Ok(Args {
            name: command.name,
            bootstrap,
            values,
            all_values,
            switches,
        })
    }

    /// The brokers to start from: `--bootstrap-server` or `KAFKA_BOOTSTRAP`.
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// The brokers named, if any (after [`Args::parse_bootstrap_optional`]).
    pub fn bootstrap_given(&self) -> Option<&str> {
        Some(self.bootstrap.as_str()).filter(|b| !b.is_empty())
    }

    /// Every value of an option that may repeat (`--group a --group b`), in
    /// order; a single-valued option's getters see the last.
    pub fn values_of(&self, flag: &str) -> Vec<String> {
        self.all_values
            .iter()
            .filter(|(f, _)| *f == flag)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Whether the switch `flag` was given.
    pub fn switch(&self, flag: &str) -> bool {
        self.switches.contains(&flag)
    }

    /// The value of `flag` if given, converted; exits 2 if it does not
    /// convert.
    pub fn value<T: FromStr>(&self, flag: &str) -> Option<T>
    where
        T::Err: Display,
    {
        self.try_value(flag)
            .unwrap_or_else(|e| usage_error(self.name, e))
    }

    /// The value of `flag`, or `default` if it was not given.
    pub fn value_or<T: FromStr>(&self, flag: &str, default: T) -> T
    where
        T::Err: Display,
    {
        self.value(flag).unwrap_or(default)
    }

    /// The value of a required option (checked by `parse`).
    pub fn required<T: FromStr>(&self, flag: &str) -> T
    where
        T::Err: Display,
    {
        self.value(flag)
            .unwrap_or_else(|| usage_error(self.name, format!("{flag} is required")))
    }

    /// The value of `flag` if given, converted, or why it does not convert.
    pub fn try_value<T: FromStr>(&self, flag: &str) -> Result<Option<T>, String>
    where
        T::Err: Display,
    {
        self.values
            .get(flag)
            .map(|v| v.parse().map_err(|e| format!("{flag} {v}: {e}")))
            .transpose()
    }
}

fn usage_error(name: &str, problem: impl Display) -> ! {
    eprintln!("{name}: {problem} (try --help)");
    std::process::exit(2);
}

/// Installs the `tracing` subscriber: stderr, filtered by `RUST_LOG`
/// (default `warn`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// Prints one line on stdout; `false` once stdout is closed (e.g. piped
/// into `head`), so the example can stop cleanly instead of panicking as
/// `println!` does.
pub fn print_line(line: std::fmt::Arguments<'_>) -> bool {
    writeln!(std::io::stdout(), "{line}").is_ok()
}

/// Any error an example can end with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The exit status for an example's result, after printing an error with
/// `Display` (and its causes, where the message does not show them yet).
pub fn exit_code(name: &str, result: Result<(), BoxError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut message = e.to_string();
            let mut source = e.source();
            while let Some(cause) = source {
                let text = cause.to_string();
                if !message.contains(&text) {
                    message += &format!(": {text}");
                }
                source = cause.source();
            }
            eprintln!("{name}: error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves when the process is asked to stop: Ctrl-C (SIGINT) or SIGTERM.
///
/// The handlers are installed by [`Shutdown::install`], so a signal that
/// comes before the first [`Shutdown::recv`] is not lost (nor does it kill
/// the process).
pub struct Shutdown {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Shutdown {
    /// Installs the signal handlers; call it inside the tokio runtime.
    pub fn install() -> std::io::Result<Shutdown> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Shutdown {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Shutdown {})
        }
    }

    /// Waits for the next stop signal and names it. Cancel-safe (fine in
    /// `tokio::select!`).
    pub async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                Some(()) = self.interrupt.recv() => "SIGINT",
                Some(()) = self.terminate.recv() => "SIGTERM",
                else => std::future::pending().await,
            }
        }
        #[cfg(not(unix))]
        {
            match tokio::signal::ctrl_c().await {
                Ok(()) => "Ctrl-C",
                Err(_) => std::future::pending().await,
            }
        }
    }
}

/// For the examples without a tokio runtime of their own (the librdkafka
/// peers): a flag set when Ctrl-C or SIGTERM arrives, after which
/// `on_stop` runs (to wake a thread waiting for something else). A thread
/// watches for the signals; its handlers are installed when this returns.
pub fn stop_flag(
    name: &'static str,
    on_stop: impl FnOnce() + Send + 'static,
) -> std::io::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let (installed_tx, installed_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    let _ = installed_tx.send(Err(e));
                    return;
                }
            };
            runtime.block_on(async move {
                let mut shutdown = match Shutdown::install() {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = installed_tx.send(Err(e));
                        return;
                    }
                };
                let _ = installed_tx.send(Ok(()));
                let signal = shutdown.recv().await;
                eprintln!("{name}: {signal}: stopping");
                flag.store(true, Ordering::Release);
                on_stop();
            });
        })?;
    installed_rx
        .recv()
        .map_err(|_| std::io::Error::other("the signal thread ended"))??;
    Ok(stop)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CMD: Command = Command {
        name: "t",
        about: "a test",
        options: &[
            Opt::required("--topic", "T", "the topic"),
            Opt::optional("--num-records", "N", "how many (default 10)"),
            Opt::switch("--sequential", "one at a time"),
        ],
    };

    fn parse(args: &[&str], env: Option<&str>) -> Result<Args, Usage> {
        Args::parse_from(
            &CMD,
            args.iter().map(|s| s.to_string()),
            env.map(String::from),
        )
    }

    fn error(args: &[&str], env: Option<&str>) -> String {
        match parse(args, env) {
            Err(Usage::Error(e)) => e,
            Err(Usage::Help) => "help".into(),
            Ok(_) => "parsed".into(),
        }
    }

    #[test]
    fn flags_values_and_switches() {
        let a = parse(
            &[
                "--sequential",
                "--topic",
                "t1",
                "--num-records=5",
                "--bootstrap-server",
                "h:1",
            ],
            Some("env:2"),
        )
        .map_err(|_| "usage")
        .unwrap();
        assert_eq!(a.bootstrap(), "h:1");
        assert_eq!(a.required::<String>("--topic"), "t1");
        assert_eq!(a.value::<usize>("--num-records"), Some(5));
        assert!(a.switch("--sequential"));
        assert_eq!(a.try_value::<usize>("--topic").map_err(|_| ()), Err(()));
    }

    #[test]
    fn bootstrap_falls_back_to_the_environment() {
        let a = parse(&["--topic", "t"], Some("env:2"))
            .map_err(|_| "usage")
            .unwrap();
        assert_eq!(a.bootstrap(), "env:2");
        assert!(error(&["--topic", "t"], None).contains("KAFKA_BOOTSTRAP"));
        assert!(error(&["--topic", "t"], Some(" ")).contains("KAFKA_BOOTSTRAP"));
    }

    #[test]
    fn an_optional_bootstrap_may_be_missing() {
        let args = |a: &[&str], env: Option<&str>| {
            Args::parse_inner(
                &CMD,
                a.iter().map(|s| s.to_string()),
                env.map(str::to_owned),
                false,
            )
            .map_err(|_| "usage")
            .unwrap()
        };
        assert_eq!(args(&["--topic", "t"], None).bootstrap_given(), None);
        assert_eq!(args(&["--topic", "t"], Some(" ")).bootstrap_given(), None);
        assert_eq!(
            args(&["--topic", "t"], Some("e:1")).bootstrap_given(),
            Some("e:1")
        );
        let given = args(&["--bootstrap-server", "h:1", "--topic", "t"], None);
        assert_eq!(given.bootstrap_given(), Some("h:1"));
    }

    #[test]
    fn mistakes_are_named() {
        assert_eq!(error(&["--help", "--nope"], None), "help");
        assert_eq!(error(&["--topic", "t", "-h"], None), "help");
        assert_eq!(error(&["--nope"], Some("b:1")), "unknown argument --nope");
        assert_eq!(error(&[], Some("b:1")), "--topic is required");
        assert_eq!(
            error(&["--topic", "--sequential"], Some("b:1")),
            "--topic needs a value (T)"
        );
        assert_eq!(
            error(&["--topic", "t", "--sequential=1"], Some("b:1")),
            "--sequential takes no value"
        );
        let usage = CMD.usage();
        assert!(usage.contains("usage: t --bootstrap-server HOST:PORT --topic T [OPTIONS]"));
        assert!(usage.contains("--num-records N"));
    }
}
