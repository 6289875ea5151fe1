//! Shared test infrastructure for kafkit's integration tests.
//!
//! Every integration test file includes it with `mod support;`. It gives:
//!
//! - real brokers: [`tansu_or_skip`] / [`tansu`] start a private Tansu process
//!   per test (it is ready in milliseconds, so tests never share state);
//!   [`mock_cluster`] builds librdkafka's in-process mock cluster;
//!   [`external`] reads `KAFKA_BOOTSTRAP` for a broker run by the user;
//! - one body against every broker: [`brokers`] and [`for_each_broker`] yield a
//!   [`TestBroker`] per available [`BrokerKind`] (whose docs list each broker's
//!   known deviations from Apache Kafka);
//! - the skip policy ([`skip_or_fail`]): outside CI a test whose broker cannot
//!   be had prints `SKIP <test>: <reason>` and passes; in CI (`CI=true`) it
//!   fails, so a CI run can never go green by skipping everything;
//! - TLS endpoints ([`tls_broker_or_skip`]): stunnel in front of Tansu, with
//!   certificates generated per run ([`TestPki`]);
//! - kafkit consumers in a group, counted end to end ([`Tally`],
//!   [`consume_until_stopped`], [`CommitOnRevoke`]);
//! - librdkafka as an independent peer client: [`produce_with_rdkafka`],
//!   [`consume_with_rdkafka`], [`create_topic_with_rdkafka`].
//!
//! The peer helpers are `async` and keep the caller's runtime free (blocking
//! librdkafka calls run on tokio's blocking pool), so a test can drive kafkit
//! and librdkafka side by side on a current-thread runtime. Setup failures
//! (a topic that cannot be created, a record librdkafka cannot deliver) panic
//! with a message: in a test they are failures, not values to inspect.
#![allow(dead_code)]

mod brokers;
mod counted;
mod group;
mod logs;
mod outage;
mod peer;
mod processing;
mod sockets;
mod tansu;
mod tls;

// Not every test file uses every part; the re-exports are the module's API.
#[allow(unused_imports)]
pub use brokers::*;
#[allow(unused_imports)]
pub use counted::*;
#[allow(unused_imports)]
pub use group::*;
#[allow(unused_imports)]
pub use logs::*;
#[allow(unused_imports)]
pub use outage::Outage;
#[allow(unused_imports)]
pub use peer::*;
#[allow(unused_imports)]
pub use processing::*;
#[allow(unused_imports)]
pub use sockets::*;
#[allow(unused_imports)]
pub use tansu::*;
#[allow(unused_imports)]
pub use tls::*;

/// Whether we run under CI (`CI=true`, as CI systems set it). In CI a missing
/// broker is a failure, never a skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// The running test's name, taken from the thread libtest runs it on (tokio's
/// `#[tokio::test]` runs the body on that same thread).
pub fn test_name() -> String {
    match std::thread::current().name() {
        Some(name) if name != "main" => name.to_string(),
        _ => "<this test>".to_string(),
    }
}

/// Apply the skip policy for a test that cannot get what it needs.
///
/// Outside CI: prints `SKIP <test>: <reason>` to stderr and returns, and the
/// caller must then `return` (prefer the `*_or_skip` functions, which make
/// that impossible to forget). In CI: panics with the reason.
pub fn skip_or_fail(reason: &str) {
    let test = test_name();
    if in_ci() {
        panic!("{test}: required broker unavailable in CI: {reason}");
    }
    eprintln!("SKIP {test}: {reason}");
}

/// [`skip_or_fail`] followed by `return` from the calling test.
#[macro_export]
macro_rules! skip_or_fail {
    ($($reason:tt)+) => {{
        $crate::support::skip_or_fail(&format!($($reason)+));
        return;
    }};
}

/// Sends kafkit's `tracing` output to the test's stderr when `RUST_LOG` is
/// set (e.g. `RUST_LOG=kafkit=debug cargo test --test producer_faults`).
pub fn init_tracing() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}
