//! kafkit consumers in a group, counted end to end: numbered records are
//! produced, members poll them, and a [`Tally`] says whether each record
//! was consumed exactly once across the members.
//!
//! Record `i` has the value `i` (decimal) and goes to partition
//! `i % partitions`. A member polls in [`consume_until_stopped`], which
//! counts every record the moment `poll` hands it out. Commits follow
//! Java's at-least-once contract: a record can come back only if the
//! commit covering it failed, so a member that commits after every poll
//! marks a failed commit's records *uncertain*, and [`Tally::assert_exactly_once`]
//! allows a second delivery of those, and of no other.
//!
//! Tansu completes the first JoinGroup only after about
//! `session.timeout.ms / 2` (see [`super::BrokerKind::Tansu`]), so members
//! here use `session.timeout.ms=6000`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafkit::consumer::assignor::Assignor;
use kafkit::consumer::{Consumer, OffsetAndMetadata, OffsetReset, RebalanceListener};
use kafkit::producer::{Producer, ProducerRecord};
use kafkit::{Client, TopicPartition};

/// A client for group tests (a generous request timeout: Tansu holds a
/// JoinGroup for half a session).
pub async fn group_client(bootstrap: &str) -> Client {
    Client::builder(bootstrap)
        .request_timeout(Duration::from_secs(15))
        .build()
        .await
        .unwrap()
}

/// Produces records `0..n` (value `i`) to `topic`, record `i` on partition
/// `i % partitions`, and waits until every one is acknowledged.
pub async fn produce_counted(client: &Client, topic: &str, n: usize, partitions: i32) {
    let producer: Producer<String, String> = Producer::builder(client).build().unwrap();
    let mut deliveries = Vec::with_capacity(n);
    for i in 0..n {
        let r = ProducerRecord::new(topic, i.to_string()).partition(i as i32 % partitions);
        deliveries.push(producer.enqueue(r).await.unwrap());
    }
    producer.flush().await;
    for (i, d) in deliveries.into_iter().enumerate() {
        d.await.unwrap_or_else(|e| panic!("record {i}: {e}"));
    }
    producer.close(Duration::from_secs(5)).await.unwrap();
}

/// How a test member is built.
#[derive(Clone, Default)]
pub struct MemberOptions {
    /// `enable.auto.commit` (kafkit then also commits on revoke itself).
    pub auto_commit: bool,
    /// `partition.assignment.strategy` (one assignor), or the default list.
    pub strategy: Option<Arc<dyn Assignor>>,
    /// `group.instance.id`.
    pub instance_id: Option<String>,
    /// `max.poll.interval.ms` (default 5 min).
    pub max_poll_interval: Option<Duration>,
    /// A listener that commits on revoke and logs every callback.
    pub listener: Option<CommitOnRevoke>,
}

/// A group member reading from the earliest offset with the settings
/// these tests share (session 6 s, heartbeat 500 ms, fetch wait 100 ms,
/// 20 records per poll, so consumption spans rebalances).
pub fn group_member(client: &Client, group: &str, o: &MemberOptions) -> Consumer<String, String> {
    let mut b = Consumer::builder(client);
    if let Some(a) = &o.strategy {
        b = b.partition_assignment_strategy(vec![a.clone()]);
    }
    if let Some(id) = &o.instance_id {
        b = b.group_instance_id(id.clone());
    }
    if let Some(d) = o.max_poll_interval {
        b = b.max_poll_interval(d);
    }
    if let Some(l) = &o.listener {
        b = b.rebalance_listener(l.clone());
    }
    b.group_id(group)
        .auto_offset_reset(OffsetReset::Earliest)
        .session_timeout(Duration::from_secs(6))
        .heartbeat_interval(Duration::from_millis(500))
        .enable_auto_commit(o.auto_commit)
        .fetch_max_wait(Duration::from_millis(100))
        .max_poll_records(20)
        .build()
        .unwrap()
}

/// Which listener callback ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callback {
    /// `on_partitions_revoked`.
    Revoked,
    /// `on_partitions_assigned`.
    Assigned,
    /// `on_partitions_lost`.
    Lost,
}

/// Listener callbacks in order, with their partitions.
pub type CallbackLog = Vec<(Callback, Vec<TopicPartition>)>;

/// A rebalance listener that commits the delivered positions in
/// `on_partitions_revoked` (Java's recommended pattern with manual
/// commits), never in `on_partitions_lost`, and logs every callback.
#[derive(Clone, Default)]
pub struct CommitOnRevoke {
    /// Every callback with its partitions, in order.
    pub log: Arc<Mutex<CallbackLog>>,
    /// Commits in `on_partitions_revoked` that succeeded.
    pub commits_ok: Arc<AtomicU64>,
    /// Commits in `on_partitions_revoked` that failed.
    pub commits_failed: Arc<AtomicU64>,
}

impl CommitOnRevoke {
    /// The callbacks logged so far.
    pub fn events(&self) -> CallbackLog {
        self.log.lock().unwrap().clone()
    }

    fn note(&self, kind: Callback, partitions: &[TopicPartition]) {
        self.log.lock().unwrap().push((kind, partitions.to_vec()));
    }
}

impl RebalanceListener<String, String> for CommitOnRevoke {
    async fn on_partitions_revoked(
        &self,
        consumer: &Consumer<String, String>,
        partitions: &[TopicPartition],
    ) {
        self.note(Callback::Revoked, partitions);
        match consumer.commit_sync().await {
            Ok(()) => self.commits_ok.fetch_add(1, Ordering::Relaxed),
            Err(e) => {
                eprintln!("commit on revoke of {partitions:?} failed: {e}");
                self.commits_failed.fetch_add(1, Ordering::Relaxed)
            }
        };
    }

    async fn on_partitions_assigned(
        &self,
        _consumer: &Consumer<String, String>,
        partitions: &[TopicPartition],
    ) {
        self.note(Callback::Assigned, partitions);
    }

    async fn on_partitions_lost(
        &self,
        _consumer: &Consumer<String, String>,
        partitions: &[TopicPartition],
    ) {
        self.note(Callback::Lost, partitions);
    }
}

/// Every record handed out, by whom, and which may come twice.
#[derive(Default)]
pub struct Tally {
    seen: Mutex<Vec<(usize, usize)>>,
    /// Per record, how many of its deliveries were followed by a failed
    /// commit: each allows one more delivery.
    uncertain: Mutex<BTreeMap<usize, usize>>,
    per_partition: Mutex<BTreeMap<i32, usize>>,
}

impl Tally {
    /// Counts record `i` as consumed by member `who` from `partition`.
    pub fn count(&self, i: usize, who: usize, partition: i32) {
        self.seen.lock().unwrap().push((i, who));
        *self
            .per_partition
            .lock()
            .unwrap()
            .entry(partition)
            .or_default() += 1;
    }

    /// Marks records whose commit failed: they may be delivered again.
    pub fn uncertain(&self, records: impl IntoIterator<Item = usize>) {
        let mut uncertain = self.uncertain.lock().unwrap();
        for i in records {
            *uncertain.entry(i).or_default() += 1;
        }
    }

    /// How many records are marked uncertain.
    pub fn uncertain_count(&self) -> usize {
        self.uncertain.lock().unwrap().len()
    }

    /// Distinct records consumed so far.
    pub fn unique(&self) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|(i, _)| *i)
            .collect::<BTreeSet<_>>()
            .len()
    }

    /// Deliveries (duplicates included) per partition.
    pub fn per_partition(&self) -> BTreeMap<i32, usize> {
        self.per_partition.lock().unwrap().clone()
    }

    /// Deliveries per member.
    pub fn per_member(&self) -> BTreeMap<usize, usize> {
        let mut out = BTreeMap::new();
        for (_, who) in self.seen.lock().unwrap().iter() {
            *out.entry(*who).or_default() += 1;
        }
        out
    }

    /// Panics unless every record `0..n` was consumed, none outside it,
    /// and none more than once, except that each delivery followed by a
    /// failed commit allows one more. Returns how many records came more
    /// than once.
    pub fn assert_exactly_once(&self, n: usize, what: &str) -> usize {
        let seen = self.seen.lock().unwrap();
        let uncertain = self.uncertain.lock().unwrap();
        let mut count = vec![0usize; n];
        for (i, who) in seen.iter() {
            assert!(*i < n, "{what}: member {who} consumed unknown record {i}");
            count[*i] += 1;
        }
        let missing: Vec<usize> = (0..n).filter(|&i| count[i] == 0).take(10).collect();
        assert!(
            missing.is_empty(),
            "{what}: {} of {n} records consumed; first missing: {missing:?}",
            count.iter().filter(|c| **c > 0).count()
        );
        let doubled: Vec<(usize, Vec<usize>)> = (0..n)
            .filter(|&i| count[i] > 1 + uncertain.get(&i).copied().unwrap_or(0))
            .take(10)
            .map(|i| {
                let by = seen.iter().filter(|(j, _)| *j == i).map(|(_, w)| *w);
                (i, by.collect())
            })
            .collect();
        assert!(
            doubled.is_empty(),
            "{what}: records consumed more than once (record, members): {doubled:?}"
        );
        (0..n).filter(|&i| count[i] > 1).count()
    }
}

/// Members that have owned partitions at some point.
pub type Owners = Arc<Mutex<BTreeSet<usize>>>;

/// How a member polls.
#[derive(Clone, Copy, Debug)]
pub struct Pace {
    /// Sleep after each non-empty poll, to spread consumption over the
    /// group changes a test makes.
    pub after_poll: Duration,
    /// `commit_sync` after every poll; a failed commit marks that poll's
    /// records uncertain in the [`Tally`].
    pub commit_each_poll: bool,
    /// Commit after every poll the positions without their leader epochs
    /// (`commit_offsets`), for brokers that refuse an epoch older than the
    /// partition's (librdkafka's mock checks OffsetCommit's
    /// `committed_leader_epoch` against the current leader epoch, where
    /// Apache Kafka only stores it, so after a leader move every commit of
    /// records written before it fails there with FENCED_LEADER_EPOCH).
    pub commit_without_leader_epoch: bool,
}

impl Pace {
    /// As fast as possible, committing only as configured (auto-commit or
    /// a listener).
    pub const FULL_SPEED: Pace = Pace {
        after_poll: Duration::ZERO,
        commit_each_poll: false,
        commit_without_leader_epoch: false,
    };

    /// Sleep `after_poll` after each poll, no commits of its own.
    pub fn paced(after_poll: Duration) -> Pace {
        Pace {
            after_poll,
            ..Pace::FULL_SPEED
        }
    }

    /// Sleep `after_poll` after each poll and `commit_sync` after it.
    pub fn committing(after_poll: Duration) -> Pace {
        Pace {
            after_poll,
            commit_each_poll: true,
            ..Pace::FULL_SPEED
        }
    }
}

/// Commits the delivered position of every assigned partition, with no
/// leader epoch (see [`Pace::commit_without_leader_epoch`]).
async fn commit_positions_without_epochs(
    consumer: &Consumer<String, String>,
) -> kafkit::Result<()> {
    let mut offsets = BTreeMap::new();
    for tp in consumer.assignment() {
        let position = consumer.position(&tp).await?;
        offsets.insert(tp, OffsetAndMetadata::new(position));
    }
    consumer.commit_offsets(offsets).await
}

/// A member shared between its polling task and the test, which watches
/// its assignment and counters.
pub type Shared = Arc<Consumer<String, String>>;

/// Polls `consumer` (member `id`) until `stop` turns true, counting every
/// record into `tally`. The consumer stays open.
pub async fn consume_until_stopped(
    id: usize,
    consumer: Shared,
    tally: Arc<Tally>,
    owners: Owners,
    mut stop: tokio::sync::watch::Receiver<bool>,
    pace: Pace,
) {
    // A watch, not a Notify: a stop sent while the member is busy between
    // polls must not be missed.
    while !*stop.borrow() {
        if !consumer.assignment().is_empty() {
            owners.lock().unwrap().insert(id);
        }
        tokio::select! {
            _ = stop.changed() => {}
            polled = consumer.poll(Duration::from_millis(200)) => {
                let records = match polled {
                    Ok(r) => r,
                    // As with Java's poll, a group error that is not fatal
                    // is reported and the member carries on (it rejoins).
                    Err(e) if !e.is_fatal() => {
                        eprintln!("member {id}: poll: {e}");
                        continue;
                    }
                    Err(e) => panic!("member {id}: {e}"),
                };
                let numbers: Vec<usize> = records
                    .iter()
                    .map(|r| {
                        let i = r.value.as_deref().unwrap().parse().unwrap();
                        tally.count(i, id, r.partition);
                        i
                    })
                    .collect();
                let committed = if numbers.is_empty() {
                    Ok(())
                } else if pace.commit_without_leader_epoch {
                    commit_positions_without_epochs(&consumer).await
                } else if pace.commit_each_poll {
                    consumer.commit_sync().await
                } else {
                    Ok(())
                };
                if let Err(e) = committed {
                    eprintln!("member {id}: commit of {} records failed: {e}", numbers.len());
                    tally.uncertain(numbers.iter().copied());
                }
                if !numbers.is_empty() && !pace.after_poll.is_zero() {
                    tokio::time::sleep(pace.after_poll).await;
                }
            }
        }
    }
}

/// Waits until `cond` holds (checked every 50 ms), or panics naming `what`.
pub async fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `cond` has held for `steady` without a break (checked
/// every 50 ms), or panics naming `what`. A group whose assignments split
/// the partitions may still be between the two rebalances of a
/// cooperative move (the revoke runs at the member's next poll, then the
/// group rebalances again), so a settled group is one that stays split.
pub async fn wait_steady(
    what: &str,
    timeout: Duration,
    steady: Duration,
    mut cond: impl FnMut() -> bool,
) {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut since: Option<tokio::time::Instant> = None;
    loop {
        let now = tokio::time::Instant::now();
        if cond() {
            let start = *since.get_or_insert(now);
            if now - start >= steady {
                return;
            }
        } else {
            since = None;
        }
        assert!(now < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every partition of `topic`.
pub fn all_partitions(topic: &str, partitions: i32) -> BTreeSet<TopicPartition> {
    (0..partitions)
        .map(|p| TopicPartition::new(topic, p))
        .collect()
}

/// The assignments are disjoint, cover `everything`, and none is empty.
pub fn split_among(
    assignments: &[Vec<TopicPartition>],
    everything: &BTreeSet<TopicPartition>,
) -> bool {
    let total: usize = assignments.iter().map(Vec::len).sum();
    let union: BTreeSet<&TopicPartition> = assignments.iter().flatten().collect();
    total == everything.len()
        && union.len() == everything.len()
        && union.into_iter().all(|tp| everything.contains(tp))
        && assignments.iter().all(|a| !a.is_empty())
}
