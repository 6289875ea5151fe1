//! A kafkit group member driven the way a consumer's poll loop drives it:
//! it polls every 100 ms and finishes every rebalance event at once,
//! keeping a log of them.
#![allow(dead_code)] // each test file uses a different part

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafkit::consumer::group::driver::{
    Membership, MembershipConfig, MembershipHandle, MembershipMetrics, RebalanceKind,
};
use kafkit::{Client, TopicPartition};
use tokio::task::JoinHandle;

/// Settings every member in these tests uses (Tansu's first JoinGroup
/// takes `session.timeout.ms / 2`).
pub fn config(group: &str) -> MembershipConfig {
    let mut c = MembershipConfig::new(group);
    c.group.session_timeout = Duration::from_millis(6000);
    c.group.heartbeat_interval = Duration::from_millis(500);
    c.group.rebalance_timeout = Duration::from_secs(20);
    c.default_api_timeout = Duration::from_secs(20);
    c
}

/// What a member saw.
#[derive(Debug, Default, Clone)]
pub struct View {
    /// Partitions owned now (assigned and not revoked or lost).
    pub owned: BTreeSet<TopicPartition>,
    /// Every event, in order.
    pub log: Vec<(RebalanceKind, Vec<TopicPartition>)>,
}

pub struct Member {
    pub name: String,
    pub client: Client,
    pub handle: MembershipHandle,
    view: Arc<Mutex<View>>,
    pump: JoinHandle<()>,
}

impl Member {
    pub async fn start(
        bootstrap: &str,
        config: MembershipConfig,
        topics: &[&str],
        name: &str,
    ) -> Member {
        let client = Client::builder(bootstrap)
            .client_id(name)
            .build()
            .await
            .unwrap_or_else(|e| panic!("{name}: client: {e}"));
        let handle = Membership::spawn(client.clone(), config)
            .unwrap_or_else(|e| panic!("{name}: spawn: {e}"));
        handle
            .subscribe(topics.iter().map(|t| t.to_string()).collect())
            .unwrap();
        let view = Arc::new(Mutex::new(View::default()));
        let pump = tokio::spawn(pump(handle.clone(), view.clone()));
        Member {
            name: name.to_string(),
            client,
            handle,
            view,
            pump,
        }
    }

    pub fn view(&self) -> View {
        self.view.lock().unwrap().clone()
    }

    pub fn owned(&self) -> BTreeSet<TopicPartition> {
        self.view.lock().unwrap().owned.clone()
    }

    pub fn metrics(&self) -> MembershipMetrics {
        self.handle.metrics()
    }

    /// Closes properly (revoke, LeaveGroup for a dynamic member) and
    /// returns what the member saw and its final counters.
    pub async fn close(self) -> (View, MembershipMetrics) {
        self.handle
            .close(Duration::from_secs(20))
            .await
            .unwrap_or_else(|e| panic!("{}: close: {e}", self.name));
        tokio::time::timeout(Duration::from_secs(5), self.pump)
            .await
            .expect("event pump ends after close")
            .unwrap();
        let view = self.view.lock().unwrap().clone();
        self.client.close(Duration::from_secs(1)).await;
        (view, self.handle.metrics())
    }

    /// Vanishes without a word: no revoke, no LeaveGroup (a crashed
    /// process). The coordinator notices at the session timeout.
    pub fn kill(self) {
        self.pump.abort();
        drop(self.handle);
        // Closing the client drops its connections, heartbeats included.
        let client = self.client;
        tokio::spawn(async move { client.close(Duration::ZERO).await });
    }
}

async fn pump(handle: MembershipHandle, view: Arc<Mutex<View>>) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            event = handle.next_event() => {
                let Some(event) = event else { return };
                let mut v = view.lock().unwrap();
                let partitions = event.partitions().to_vec();
                match event.kind() {
                    RebalanceKind::Assigned => v.owned.extend(partitions.iter().cloned()),
                    RebalanceKind::Revoked | RebalanceKind::Lost => {
                        for tp in &partitions {
                            v.owned.remove(tp);
                        }
                    }
                }
                v.log.push((event.kind(), partitions));
                drop(v);
                event.done();
            }
            _ = tick.tick() => handle.polled(),
        }
    }
}

/// Every partition of `topic`.
pub fn all(topic: &str, partitions: i32) -> BTreeSet<TopicPartition> {
    (0..partitions)
        .map(|p| TopicPartition::new(topic, p))
        .collect()
}

/// Waits until `cond` holds, checking every 100 ms; panics with `what`
/// and the last state after `timeout`.
pub async fn eventually<T: std::fmt::Debug>(
    what: &str,
    timeout: Duration,
    mut cond: impl FnMut() -> (bool, T),
) -> Duration {
    let start = Instant::now();
    loop {
        let (ok, state) = cond();
        if ok {
            return start.elapsed();
        }
        if start.elapsed() > timeout {
            panic!("{what}: not within {timeout:?}; last state: {state:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A group id no other test uses.
pub fn group(prefix: &str) -> String {
    super::support::unique_topic(prefix)
}

/// The members' owned partitions are disjoint and cover exactly `expected`.
pub fn split_exactly(
    owned: &[BTreeSet<TopicPartition>],
    expected: &BTreeSet<TopicPartition>,
) -> bool {
    let total: usize = owned.iter().map(BTreeSet::len).sum();
    let union: BTreeSet<TopicPartition> = owned.iter().flatten().cloned().collect();
    total == expected.len() && union == *expected
}
