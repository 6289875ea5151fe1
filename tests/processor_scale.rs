//! The processing runtime at the scale and under the faults issue 15
//! names, counted truth on Tansu, librdkafka's mock cluster and the
//! embedded cluster: 100,000 records in key order with commits never past
//! an unfinished record (checked while running), a killed member's
//! successor redoing only what the kill caught, a rebalance keeping key
//! order, exact retry and dead-letter counts, rate limits within 5 %
//! changed at run time without a rebalance, and a breaker that attempts
//! nothing while open.

#![cfg(feature = "mock")]

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafkit::consumer::IsolationLevel;
use kafkit::processor::{BreakerConfig, ProcessError, ProcessingOrder, Processor, RetryPolicy};
use kafkit::producer::Producer;
use kafkit::{Admin, Client};

use support::{processing_client as client, until};

/// `n` records `k{i % keys}` / `{i}`, partitioned by key.
async fn produce(client: &Client, topic: &str, n: u64, keys: u64) {
    support::produce_keyed(client, topic, n, keys, "k").await;
}

fn consumer(client: &Client, group: &str) -> kafkit::consumer::ConsumerBuilder<String, String> {
    support::processing_consumer(client, group).max_poll_records(1_000)
}

/// A cheap deterministic 0..5 ms delay per value.
fn delay_for(value: u64) -> Duration {
    Duration::from_micros((value.wrapping_mul(2_654_435_761) >> 7) % 5_000)
}

/// Everything handlers did, shared across processors.
#[derive(Default)]
struct Ledger {
    /// (partition, offset) done -> times.
    done: Mutex<HashMap<(i32, i64), u32>>,
    /// When each (partition, offset) was done.
    done_at: Mutex<HashMap<(i32, i64), Instant>>,
    /// Per key, offsets in start order (first attempts).
    starts: Mutex<HashMap<String, Vec<(i32, i64)>>>,
    /// (partition, offset)s being handled now.
    busy: Mutex<BTreeSet<(i32, i64)>>,
    busy_keys: Mutex<BTreeSet<String>>,
    overlap: AtomicBool,
    max_running: AtomicUsize,
    running: AtomicUsize,
}

impl Ledger {
    fn begin(&self, key: &str, at: (i32, i64)) {
        if !self.busy_keys.lock().unwrap().insert(key.to_owned()) {
            self.overlap.store(true, Ordering::SeqCst);
        }
        self.busy.lock().unwrap().insert(at);
        self.starts
            .lock()
            .unwrap()
            .entry(key.to_owned())
            .or_default()
            .push(at);
        let n = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_running.fetch_max(n, Ordering::SeqCst);
    }

    fn end(&self, key: &str, at: (i32, i64), ok: bool) {
        if ok {
            *self.done.lock().unwrap().entry(at).or_default() += 1;
            self.done_at.lock().unwrap().insert(at, Instant::now());
        }
        self.busy.lock().unwrap().remove(&at);
        self.busy_keys.lock().unwrap().remove(key);
        self.running.fetch_sub(1, Ordering::SeqCst);
    }

    fn done_count(&self) -> usize {
        self.done.lock().unwrap().len()
    }

    /// Per key, first attempts in offset order (a key lives in one partition).
    fn assert_key_order(&self) {
        assert!(
            !self.overlap.load(Ordering::SeqCst),
            "two records of one key at once"
        );
        for (key, starts) in self.starts.lock().unwrap().iter() {
            let mut s = starts.clone();
            s.dedup();
            assert!(
                s.windows(2).all(|w| w[0].1 < w[1].1),
                "{key} out of order: {s:?}"
            );
        }
    }
}

type Record = Arc<kafkit::consumer::ConsumerRecord<String, String>>;
type Handled =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), ProcessError>> + Send>>;
/// value -> (attempts, partition, offset).
type Attempts = Arc<Mutex<HashMap<u64, (u32, i32, i64)>>>;

/// A record handler that logs to the ledger and takes 0-5 ms.
fn ledger_handler(ledger: Arc<Ledger>) -> impl Fn(Record) -> Handled + Send + Sync + 'static {
    move |record| {
        let ledger = ledger.clone();
        Box::pin(async move {
            let key = record.key.clone().unwrap_or_default();
            let at = (record.partition, record.offset);
            let value: u64 = record.value.as_deref().unwrap_or("0").parse().unwrap_or(0);
            ledger.begin(&key, at);
            tokio::time::sleep(delay_for(value)).await;
            ledger.end(&key, at, true);
            Ok(())
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_thousand_records_in_key_order_never_committed_past_unfinished_work() {
    const N: u64 = 100_000;
    for broker in support::brokers().await {
        eprintln!("== against {broker}");
        let bootstrap = broker.bootstrap();
        let topic = support::unique_topic("scale");
        broker.create_topic(&topic, 6).await;
        let client = client(&bootstrap).await;
        produce(&client, &topic, N, 1_000).await;
        let ledger = Arc::new(Ledger::default());
        let group = support::unique_topic("scale-group");
        let processor = Processor::builder(consumer(&client, &group), [topic.as_str()])
            .order(ProcessingOrder::Key)
            .max_concurrency(64)
            .max_in_flight_per_partition(64)
            .commit_interval(Duration::from_millis(250))
            .build()
            .unwrap();
        let handle = processor.handle();
        let run =
            tokio::spawn(processor.run(ledger_handler(ledger.clone()), std::future::pending()));
        // While it runs: every committed offset has everything below it done.
        let admin = Admin::new(&client);
        let mut checks = 0;
        let started = Instant::now();
        while ledger.done_count() < N as usize {
            assert!(
                started.elapsed() < Duration::from_secs(180),
                "stuck at {}",
                ledger.done_count()
            );
            let committed = admin.list_consumer_group_offsets(&group).await.unwrap();
            let done = ledger.done.lock().unwrap().clone();
            let per_partition: BTreeMap<i32, usize> =
                done.keys().fold(BTreeMap::new(), |mut m, (p, _)| {
                    *m.entry(*p).or_default() += 1;
                    m
                });
            for (tp, c) in &committed {
                for o in 0..c.offset {
                    assert!(
                        done.contains_key(&(tp.partition, o)),
                        "{tp} committed at {} but offset {o} is not done ({} done there)",
                        c.offset,
                        per_partition.get(&tp.partition).copied().unwrap_or(0)
                    );
                }
            }
            checks += 1;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        until("idle", Duration::from_secs(20), || {
            handle.health().in_flight == 0
        })
        .await;
        handle.shutdown();
        run.await.unwrap().unwrap();
        let done = ledger.done.lock().unwrap().clone();
        assert_eq!(done.len(), N as usize);
        assert!(done.values().all(|&n| n == 1), "a record processed twice");
        ledger.assert_key_order();
        let lag = admin
            .consumer_group_lag(&group, IsolationLevel::ReadUncommitted)
            .await
            .unwrap();
        assert!(lag.values().all(|l| l.lag == 0), "{lag:?}");
        eprintln!(
            "   {N} records in {:.1} s, {checks} commit checks, up to {} at once",
            started.elapsed().as_secs_f64(),
            ledger.max_running.load(Ordering::SeqCst)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_member_is_replaced_and_only_what_the_kill_caught_is_redone() {
    const N: u64 = 20_000;
    const COMMIT: Duration = Duration::from_millis(100);
    for broker in support::brokers().await {
        eprintln!("== against {broker}");
        let bootstrap = broker.bootstrap();
        let topic = support::unique_topic("kill");
        broker.create_topic(&topic, 6).await;
        let client = client(&bootstrap).await;
        produce(&client, &topic, N, 1_000).await;
        let group = support::unique_topic("kill-group");
        let first = Arc::new(Ledger::default());
        let start = |ledger: Arc<Ledger>| {
            let processor = Processor::builder(consumer(&client, &group), [topic.as_str()])
                .max_concurrency(64)
                .commit_interval(COMMIT)
                .build()
                .unwrap();
            let handle = processor.handle();
            (
                handle,
                tokio::spawn(processor.run(ledger_handler(ledger), std::future::pending())),
            )
        };
        let (_a, run_a) = start(first.clone());
        until("half", Duration::from_secs(120), || {
            first.done_count() >= N as usize / 2
        })
        .await;
        // Kill: the task dies with records in flight, no drain, no commit.
        run_a.abort();
        let killed_at = Instant::now();
        let _ = run_a.await;
        let in_flight: BTreeSet<(i32, i64)> = first.busy.lock().unwrap().clone();
        let second = Arc::new(Ledger::default());
        let (b, run_b) = start(second.clone());
        until("the rest", Duration::from_secs(120), || {
            let done_a = first.done.lock().unwrap();
            let done_b = second.done.lock().unwrap();
            done_a.len() + done_b.keys().filter(|k| !done_a.contains_key(k)).count() >= N as usize
        })
        .await;
        until("idle", Duration::from_secs(20), || {
            b.health().in_flight == 0
        })
        .await;
        b.shutdown();
        run_b.await.unwrap().unwrap();
        let done_a = first.done.lock().unwrap().clone();
        let done_b = second.done.lock().unwrap().clone();
        let done_at = first.done_at.lock().unwrap().clone();
        // Nothing lost.
        let all: BTreeSet<_> = done_a.keys().chain(done_b.keys()).collect();
        assert_eq!(all.len(), N as usize, "records lost");
        // Redone: only records in flight at the kill, or finished within
        // the last commit interval before it (not committed yet).
        let redone: Vec<_> = done_b.keys().filter(|k| done_a.contains_key(*k)).collect();
        for r in &redone {
            let recent = done_at.get(*r).is_some_and(|t| {
                killed_at.duration_since(*t) <= COMMIT * 3 + Duration::from_millis(200)
            });
            assert!(
                in_flight.contains(*r) || recent,
                "{r:?} redone though done long before the kill"
            );
        }
        eprintln!(
            "   killed with {} in flight; {} records redone by the successor (of {N})",
            in_flight.len(),
            redone.len()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rebalance_with_records_in_flight_keeps_key_order_and_duplicates_nothing() {
    // Cooperative rebalancing: partitions are revoked after the new
    // generation forms, so the revoke commit is accepted by every broker.
    rebalance_with_records_in_flight(
        Arc::new(kafkit::consumer::assignor::CooperativeSticky),
        true,
    )
    .await;
}

/// The same with an eager assignor, where the revoke commit is sent while
/// the group is preparing a rebalance: Kafka (and Tansu, and the embedded
/// cluster) accept it; librdkafka's mock cluster refuses it, so it is left
/// out here.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_eager_rebalance_with_records_in_flight_duplicates_nothing_either() {
    rebalance_with_records_in_flight(Arc::new(kafkit::consumer::assignor::Range), false).await;
}

async fn rebalance_with_records_in_flight(
    assignor: Arc<dyn kafkit::consumer::assignor::Assignor>,
    on_librdkafka_mock: bool,
) {
    const N: u64 = 20_000;
    support::init_tracing();
    for broker in support::brokers().await {
        if !on_librdkafka_mock && broker.kind() == support::BrokerKind::Mock {
            continue;
        }
        eprintln!("== against {broker}");
        let bootstrap = broker.bootstrap();
        let topic = support::unique_topic("moved");
        broker.create_topic(&topic, 6).await;
        let client = client(&bootstrap).await;
        produce(&client, &topic, N, 500).await;
        let group = support::unique_topic("moved-group");
        let ledger = Arc::new(Ledger::default());
        let start = || {
            let consumer =
                consumer(&client, &group).partition_assignment_strategy(vec![assignor.clone()]);
            let processor = Processor::builder(consumer, [topic.as_str()])
                .max_concurrency(32)
                .build()
                .unwrap();
            let handle = processor.handle();
            (
                handle,
                tokio::spawn(processor.run(ledger_handler(ledger.clone()), std::future::pending())),
            )
        };
        let (a, run_a) = start();
        until("a quarter", Duration::from_secs(120), || {
            ledger.done_count() >= N as usize / 4
        })
        .await;
        let (b, run_b) = start();
        until("b gets partitions", Duration::from_secs(60), || {
            b.health().assigned_partitions > 0
        })
        .await;
        until("every record", Duration::from_secs(120), || {
            ledger.done_count() >= N as usize
        })
        .await;
        a.shutdown();
        b.shutdown();
        run_a.await.unwrap().unwrap();
        run_b.await.unwrap().unwrap();
        let done = ledger.done.lock().unwrap().clone();
        assert_eq!(done.len(), N as usize);
        let twice: Vec<_> = done
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(k, _)| *k)
            .collect();
        assert!(
            twice.is_empty(),
            "{} records processed by both members, e.g. {:?}",
            twice.len(),
            &twice[..twice.len().min(10)]
        );
        ledger.assert_key_order();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_hundredth_record_fails_three_times_and_is_dead_lettered_with_its_origin() {
    const N: u64 = 5_000;
    for broker in support::brokers().await {
        eprintln!("== against {broker}");
        let bootstrap = broker.bootstrap();
        let topic = support::unique_topic("dlt");
        broker.create_topic(&topic, 3).await;
        broker.create_topic(&format!("{topic}.DLT"), 1).await;
        let client = client(&bootstrap).await;
        produce(&client, &topic, N, 100).await;
        let group = support::unique_topic("dlt-group");
        let attempts: Attempts = Arc::default();
        let mut retry = RetryPolicy::default();
        retry.initial_backoff = Duration::from_millis(5);
        retry.max_attempts = 3;
        let processor = Processor::builder(consumer(&client, &group), [topic.as_str()])
            .retry(retry)
            .dead_letter_producer(Producer::builder(&client).build().unwrap())
            .commit_interval(Duration::from_millis(200))
            .build()
            .unwrap();
        let handle = processor.handle();
        let a = attempts.clone();
        let run = tokio::spawn(processor.run(
            move |record| {
                let a = a.clone();
                async move {
                    let value: u64 = record.value.as_deref().unwrap().parse().unwrap();
                    a.lock()
                        .unwrap()
                        .entry(value)
                        .or_insert((0, record.partition, record.offset))
                        .0 += 1;
                    if value % 100 == 0 {
                        return Err(ProcessError::retry(format!("value {value} refused")));
                    }
                    Ok(())
                }
            },
            std::future::pending(),
        ));
        until("all records", Duration::from_secs(60), || {
            let h = handle.health();
            h.processed + h.dead_lettered >= N
        })
        .await;
        until("idle", Duration::from_secs(20), || {
            handle.health().in_flight == 0
        })
        .await;
        handle.shutdown();
        run.await.unwrap().unwrap();
        let attempts = attempts.lock().unwrap().clone();
        assert_eq!(attempts.len(), N as usize);
        for (value, (n, _, _)) in &attempts {
            let want = if value % 100 == 0 { 3 } else { 1 };
            assert_eq!(*n, want, "value {value}: {n} attempts");
        }
        let letters = support::consume_with_rdkafka(
            &bootstrap,
            &format!("{topic}.DLT"),
            (N / 100) as usize,
            Duration::from_secs(20),
        )
        .await;
        assert_eq!(letters.len(), (N / 100) as usize);
        for l in &letters {
            let value: u64 = String::from_utf8(l.value.clone().unwrap())
                .unwrap()
                .parse()
                .unwrap();
            let header = |name: &str| -> Vec<u8> {
                l.headers
                    .iter()
                    .find(|(k, _)| k == name)
                    .and_then(|(_, v)| v.clone())
                    .unwrap()
            };
            let (_, partition, offset) = attempts[&value];
            let p = i32::from_be_bytes(header("kafka_dlt-original-partition").try_into().unwrap());
            let o = i64::from_be_bytes(header("kafka_dlt-original-offset").try_into().unwrap());
            assert_eq!((p, o), (partition, offset), "value {value}");
            assert_eq!(header("kafka_dlt-original-topic"), topic.as_bytes());
            assert_eq!(
                header("kafka_dlt-exception-message"),
                format!("value {value} refused").as_bytes()
            );
            assert_eq!(
                i32::from_be_bytes(header("kafkit_dlt-attempts").try_into().unwrap()),
                3
            );
        }
        let admin = Admin::new(&client);
        let lag = admin
            .consumer_group_lag(&group, IsolationLevel::ReadUncommitted)
            .await
            .unwrap();
        assert_eq!(lag.len(), 3);
        assert!(lag.values().all(|l| l.lag == 0), "{lag:?}");
    }
}

/// Records done in `[from, to)`.
fn done_between(times: &[Instant], from: Instant, to: Instant) -> usize {
    times.iter().filter(|t| **t >= from && **t < to).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rate_limits_hold_within_five_percent_and_change_at_run_time_without_a_rebalance() {
    let broker = support::TestBroker::embedded().await;
    let topic = support::unique_topic("paced");
    broker.create_topic(&topic, 4).await;
    let client = client(&broker.bootstrap()).await;
    produce(&client, &topic, 75_000, 1_000).await;
    let times: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let processor = Processor::builder(consumer(&client, "g-paced"), [topic.as_str()])
        .records_per_second(1_000.0)
        .max_concurrency(32)
        .build()
        .unwrap();
    let handle = processor.handle();
    let t = times.clone();
    let run = tokio::spawn(processor.run(
        move |_r| {
            let t = t.clone();
            async move {
                t.lock().unwrap().push(Instant::now());
                Ok(())
            }
        },
        std::future::pending(),
    ));
    until("started", Duration::from_secs(20), || {
        !times.lock().unwrap().is_empty()
    })
    .await;
    let t0 = Instant::now();
    // Past the first second's burst, 20 s at 1,000/s.
    tokio::time::sleep(Duration::from_secs(22)).await;
    let generation = handle.health();
    let before = done_between(
        &times.lock().unwrap(),
        t0 + Duration::from_secs(2),
        t0 + Duration::from_secs(22),
    );
    handle.update(|s| s.records_per_second = Some(2_000.0));
    let t1 = Instant::now();
    tokio::time::sleep(Duration::from_secs(22)).await;
    let after = done_between(
        &times.lock().unwrap(),
        t1 + Duration::from_secs(2),
        t1 + Duration::from_secs(22),
    );
    eprintln!("1,000/s for 20 s: {before} records; 2,000/s for 20 s: {after}");
    assert!(
        (19_000..=21_000).contains(&before),
        "{before} records in 20 s at 1,000/s"
    );
    assert!(
        (38_000..=42_000).contains(&after),
        "{after} records in 20 s at 2,000/s"
    );
    // Still in the group, never rebalanced.
    let h = handle.health();
    assert!(h.ready && generation.ready);
    handle.shutdown();
    run.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_open_breaker_attempts_nothing_but_probes_and_loses_no_record() {
    let broker = support::TestBroker::embedded().await;
    let topic = support::unique_topic("broken");
    broker.create_topic(&topic, 2).await;
    let client = client(&broker.bootstrap()).await;
    produce(&client, &topic, 500, 50).await;
    let failing = Arc::new(AtomicBool::new(true));
    let attempts_while_failing = Arc::new(AtomicU64::new(0));
    let done: Arc<Mutex<HashMap<u64, u32>>> = Arc::default();
    let mut retry = RetryPolicy::default();
    retry.initial_backoff = Duration::from_millis(10);
    retry.max_backoff = Duration::from_millis(100);
    retry.max_attempts = 0; // unlimited: nothing may be given up
    let processor = Processor::builder(consumer(&client, "g-broken"), [topic.as_str()])
        .max_concurrency(4)
        .retry(retry)
        .circuit_breaker(BreakerConfig::new(5, Duration::from_secs(1)))
        .build()
        .unwrap();
    let handle = processor.handle();
    let (f, a, d) = (
        failing.clone(),
        attempts_while_failing.clone(),
        done.clone(),
    );
    let run = tokio::spawn(processor.run(
        move |r| {
            let (f, a, d) = (f.clone(), a.clone(), d.clone());
            async move {
                if f.load(Ordering::SeqCst) {
                    a.fetch_add(1, Ordering::SeqCst);
                    return Err(ProcessError::retry("downstream down"));
                }
                let value: u64 = r.value.as_deref().unwrap().parse().unwrap();
                *d.lock().unwrap().entry(value).or_default() += 1;
                Ok(())
            }
        },
        std::future::pending(),
    ));
    until("the breaker opens", Duration::from_secs(20), || {
        handle.health().breaker_open
    })
    .await;
    let opened = Instant::now();
    until("partitions paused", Duration::from_secs(5), || {
        !handle.paused_partitions().is_empty()
    })
    .await;
    let at_open = attempts_while_failing.load(Ordering::SeqCst);
    // Fails for 10 s: only one probe per second's cool-down gets through.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let during = attempts_while_failing.load(Ordering::SeqCst) - at_open;
    eprintln!("attempts while open for {:?}: {during}", opened.elapsed());
    assert!(during <= 12, "{during} attempts while the breaker was open");
    failing.store(false, Ordering::SeqCst);
    until("every record", Duration::from_secs(30), || {
        done.lock().unwrap().len() >= 500
    })
    .await;
    assert!(!handle.health().breaker_open);
    assert!(handle.paused_partitions().is_empty());
    assert!(done.lock().unwrap().values().all(|&n| n == 1));
    assert_eq!(handle.health().dead_lettered, 0);
    handle.shutdown();
    run.await.unwrap().unwrap();
}
