//! The client under real conditions: outages named and logged (on
//! librdkafka's mock cluster), `Client::close` bounded by its timeout,
//! bootstrap strings in Java's forms against Tansu (including IPv6), and a
//! client, producer and consumer configured from a `.properties` file.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafkit::Client;

/// Log lines captured by a `tracing` subscriber set for this thread
/// (`#[tokio::test]` runs a current-thread runtime, so every kafkit task of
/// the test logs here).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn lines(&self, level: &str, containing: &str) -> Vec<String> {
        let text = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        String::from_utf8_lossy(&text)
            .lines()
            .filter(|l| l.contains(level) && l.contains(containing))
            .map(str::to_owned)
            .collect()
    }
}

#[tokio::test]
async fn a_down_broker_is_named_in_errors_and_warned_about_once() {
    let logs = Captured::default();
    let _guard = logs.install();
    let mock = support::mock_cluster(3);
    let client = Client::builder(mock.bootstrap_servers())
        .request_timeout(Duration::from_secs(2))
        .connect_timeout(Duration::from_secs(1))
        .build()
        .await
        .unwrap();
    let broker = 2;
    let address = client.metadata().brokers[&broker].address();
    client.api_versions(broker).await.unwrap();

    mock.broker_down(broker).unwrap();
    // The pool notices the dropped connection, then every reconnect fails.
    let mut errors = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while errors.len() < 3 {
        assert!(Instant::now() < deadline, "the down broker kept answering");
        if let Err(e) = client.api_versions(broker).await {
            errors.push(e);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for e in &errors {
        let text = e.to_string();
        assert!(e.is_retriable(), "{text}");
        assert!(
            text.contains(&format!("node {broker} ({address})")),
            "the error names the broker: {text}"
        );
    }
    let name = format!("node {broker} ({address})");
    let warns = logs.lines("WARN", &name);
    assert_eq!(warns.len(), 1, "one warning per outage: {warns:#?}");
    assert!(warns[0].contains("unreachable"), "{}", warns[0]);

    mock.broker_up(broker).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while client.api_versions(broker).await.is_err() {
        assert!(Instant::now() < deadline, "no reconnect after broker_up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let infos = logs.lines("INFO", &name);
    assert_eq!(infos.len(), 1, "{infos:#?}");
    assert!(infos[0].contains("reachable again"), "{}", infos[0]);
}

#[tokio::test]
async fn close_honours_its_timeout_and_fails_a_connect_in_progress() {
    let mock = support::mock_cluster(2);
    let client = Client::builder(mock.bootstrap_servers())
        .request_timeout(Duration::from_secs(30))
        .build()
        .await
        .unwrap();
    // Broker 2 answers after 10 s: a first connection to it (its
    // ApiVersions handshake) is in progress for that long.
    mock.broker_round_trip_time(2, Duration::from_secs(10))
        .unwrap();
    let pending = tokio::spawn({
        let client = client.clone();
        async move { client.api_versions(2).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!pending.is_finished(), "the handshake should still be waiting");

    let timeout = Duration::from_secs(1);
    let started = Instant::now();
    client.close(timeout).await;
    // Liveness bounds: the timeout plus generous slack for a busy machine.
    let slack = Duration::from_secs(2);
    assert!(started.elapsed() < timeout + slack, "{:?}", started.elapsed());
    let outcome = tokio::time::timeout(timeout + slack, pending)
        .await
        .expect("a request waiting for a connection ends with the close")
        .unwrap();
    let err = outcome.unwrap_err();
    assert!(err.is_fatal(), "closed: {err}");
}
