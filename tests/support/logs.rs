//! Log lines and spans captured per test: a `tracing` subscriber set for
//! the test's thread that no parallel test can starve. Also included by the
//! pool's unit tests (`#[path]`), so it depends on nothing else of
//! `support`.

use std::sync::{Arc, Mutex};

/// `tracing::subscriber::set_default` that every span and event of this
/// thread reaches, whatever other tests do at the same time.
///
/// Why not plain `set_default`: `tracing` caches, per callsite, whether any
/// subscriber wants it. While only one subscriber is registered, that answer is
/// computed from the subscriber of whichever thread reaches the callsite
/// first; a parallel test with no subscriber can then mark kafkit's `send`
/// span as unwanted, and this test loses it (a CI run did). A global default
/// registered once keeps two subscribers registered, so every cached answer
/// asks all of them.
pub fn set_default_subscriber(
    subscriber: impl tracing::Subscriber + Send + Sync + 'static,
) -> tracing::subscriber::DefaultGuard {
    static GLOBAL: std::sync::Once = std::sync::Once::new();
    GLOBAL.call_once(|| {
        // A no-op global default; `init_tracing` (RUST_LOG) may have set one
        // already, which serves the same purpose.
        let _ =
            tracing::subscriber::set_global_default(tracing::subscriber::NoSubscriber::default());
    });
    tracing::subscriber::set_default(subscriber)
}

/// Log lines (INFO and above, formatted, no colours) of the test's thread,
/// once [`install`](Self::install)ed (`#[tokio::test]` runs a
/// current-thread runtime, so every kafkit task of the test logs here).
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLogs {
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

impl CapturedLogs {
    /// Captures this thread's logs until the guard is dropped.
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        set_default_subscriber(subscriber)
    }

    /// The captured lines at `level` (e.g. `"WARN"`) that contain
    /// `containing` (`""` for all).
    pub fn lines(&self, level: &str, containing: &str) -> Vec<String> {
        let text = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        String::from_utf8_lossy(&text)
            .lines()
            .filter(|l| l.contains(level) && l.contains(containing))
            .map(str::to_owned)
            .collect()
    }
}
