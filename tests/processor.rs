//! The processing runtime (`kafkit::processor`) end to end on real
//! brokers (the embedded cluster, and Tansu for the core flow), every
//! record counted: key order under concurrency, retries, dead letters
//! read back by librdkafka with their headers, commits that skip records
//! done beyond the committed offset after a restart, partitions handed
//! over in a rebalance without loss or duplicates, rate limits, the
//! circuit breaker, batches, run-time settings and shutdown.

#![cfg(feature = "mock")]

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafkit::consumer::IsolationLevel;
use kafkit::mock::MockCluster;
use kafkit::processor::{
    BatchConfig, BreakerConfig, ProcessError, ProcessingOrder, Processor, ProcessorHandle,
    RetryPolicy,
};
use kafkit::producer::{Producer, ProducerRecord};
use kafkit::{Admin, Client};

use support::{processing_client as client, until};

/// `n` records `key-{i % keys}` / `{i}`, partitioned by key.
async fn produce(client: &Client, topic: &str, n: usize, keys: usize) {
    support::produce_keyed(client, topic, n as u64, keys as u64, "key-").await;
}

fn consumer(client: &Client, group: &str) -> kafkit::consumer::ConsumerBuilder<String, String> {
    support::processing_consumer(client, group)
}

fn fast_retries() -> RetryPolicy {
    let mut p = RetryPolicy::default();
    p.initial_backoff = Duration::from_millis(5);
    p.max_backoff = Duration::from_millis(50);
    p.max_attempts = 4;
    p
}

/// What a handler saw, shared with the test.
#[derive(Default)]
struct Seen {
    /// Successful records: value -> times processed.
    done: Mutex<HashMap<u64, usize>>,
    /// Per key: the values started, in start order.
    starts: Mutex<HashMap<String, Vec<u64>>>,
    /// Keys being processed now (to catch overlap).
    busy: Mutex<BTreeSet<String>>,
    overlap: AtomicBool,
    running: AtomicUsize,
    max_running: AtomicUsize,
    attempts: Mutex<HashMap<u64, u32>>,
}

impl Seen {
    fn begin(&self, key: &str, value: u64) {
        if !self.busy.lock().unwrap().insert(key.to_owned()) {
            self.overlap.store(true, Ordering::SeqCst);
        }
        self.starts
            .lock()
            .unwrap()
            .entry(key.to_owned())
            .or_default()
            .push(value);
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_running.fetch_max(now, Ordering::SeqCst);
    }

    fn end(&self, key: &str) {
        self.busy.lock().unwrap().remove(key);
        self.running.fetch_sub(1, Ordering::SeqCst);
    }

    fn done_count(&self) -> usize {
        self.done.lock().unwrap().len()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn key_order_retries_and_dead_letters_account_for_every_record() {
    const N: usize = 2_000;
    const KEYS: usize = 40;
    for broker in support::brokers().await {
        if broker.kind() == support::BrokerKind::Mock {
            continue; // librdkafka's mock cluster: no CreateTopics for the DLT.
        }
        eprintln!("== against {broker}");
        let bootstrap = broker.bootstrap();
        let topic = support::unique_topic("orders");
        let dlt = format!("{topic}.DLT");
        broker.create_topic(&topic, 4).await;
        broker.create_topic(&dlt, 1).await;
        let client = client(&bootstrap).await;
        produce(&client, &topic, N, KEYS).await;

        let seen = Arc::new(Seen::default());
        let group = support::unique_topic("processors");
        let processor = Processor::builder(consumer(&client, &group), [topic.as_str()])
            .order(ProcessingOrder::Key)
            .max_concurrency(16)
            .retry(fast_retries())
            .dead_letter_producer(Producer::builder(&client).build().unwrap())
            .commit_interval(Duration::from_millis(200))
            .build()
            .unwrap();
        let handle = processor.handle();
        let s = seen.clone();
        let run = tokio::spawn(processor.run(
            move |record| {
                let s = s.clone();
                async move {
                    let key = record.key.clone().unwrap_or_default();
                    let value: u64 = record.value.as_deref().unwrap_or("0").parse().unwrap();
                    s.begin(&key, value);
                    // Work of varying length, so keys overtake each other.
                    tokio::time::sleep(Duration::from_micros(200 * (value % 7))).await;
                    let attempt = {
                        let mut a = s.attempts.lock().unwrap();
                        let n = a.entry(value).or_default();
                        *n += 1;
                        *n
                    };
                    s.end(&key);
                    if value % 97 == 0 {
                        return Err(ProcessError::give_up(format!("poison {value}")));
                    }
                    if value % 13 == 0 && attempt < 3 {
                        return Err(ProcessError::retry("downstream busy"));
                    }
                    *s.done.lock().unwrap().entry(value).or_default() += 1;
                    Ok(())
                }
            },
            std::future::pending(),
        ));
        let poison = (0..N as u64).filter(|v| v % 97 == 0).count();
        until("every record processed", Duration::from_secs(60), || {
            seen.done_count() + handle.health().dead_lettered as usize >= N
        })
        .await;
        // Everything committed: the group has no lag.
        let admin = Admin::new(&client);
        until(
            "the commit of every partition",
            Duration::from_secs(20),
            || {
                let health = handle.health();
                health.in_flight == 0 && health.queued == 0
            },
        )
        .await;
        handle.shutdown();
        run.await.unwrap().unwrap();
        let lag = admin
            .consumer_group_lag(&group, IsolationLevel::ReadUncommitted)
            .await
            .unwrap();
        assert_eq!(lag.len(), 4, "{lag:?}");
        assert!(lag.values().all(|l| l.lag == 0), "{lag:?}");

        let done = seen.done.lock().unwrap().clone();
        assert_eq!(done.len(), N - poison);
        assert!(done.values().all(|&n| n == 1), "a record processed twice");
        assert!(
            !seen.overlap.load(Ordering::SeqCst),
            "two records of one key at once"
        );
        assert!(
            seen.max_running.load(Ordering::SeqCst) >= 2,
            "no concurrency"
        );
        for (key, starts) in seen.starts.lock().unwrap().iter() {
            // Per key, first attempts in offset (= value) order; retries
            // repeat the same value right after.
            let mut firsts = starts.clone();
            firsts.dedup();
            assert!(
                firsts.windows(2).all(|w| w[0] < w[1]),
                "{key} out of order: {firsts:?}"
            );
        }
        let retried = seen
            .attempts
            .lock()
            .unwrap()
            .iter()
            .filter(|(v, n)| *v % 13 == 0 && *v % 97 != 0 && **n == 3)
            .count();
        assert_eq!(
            retried,
            (0..N as u64).filter(|v| v % 13 == 0 && v % 97 != 0).count()
        );

        // The dead letters, read by librdkafka: key, value and Spring's headers.
        let letters =
            support::consume_with_rdkafka(&bootstrap, &dlt, poison, Duration::from_secs(20)).await;
        assert_eq!(letters.len(), poison);
        for l in &letters {
            let value: u64 = String::from_utf8(l.value.clone().unwrap())
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(value % 97, 0);
            assert_eq!(
                l.key.as_deref(),
                Some(format!("key-{}", value as usize % KEYS).as_bytes())
            );
            let header = |name: &str| {
                l.headers
                    .iter()
                    .find(|(k, _)| k == name)
                    .and_then(|(_, v)| v.clone())
                    .unwrap_or_else(|| panic!("{name} missing"))
            };
            assert_eq!(header("kafka_dlt-original-topic"), topic.as_bytes());
            assert_eq!(header("kafka_dlt-original-partition").len(), 4);
            assert_eq!(header("kafka_dlt-original-offset").len(), 8);
            assert_eq!(
                header("kafka_dlt-exception-message"),
                format!("poison {value}").as_bytes()
            );
            assert_eq!(
                header("kafka_dlt-original-consumer-group"),
                group.as_bytes()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn records_done_beyond_a_stuck_one_are_skipped_after_a_restart() {
    let cluster = MockCluster::new(1).await.unwrap();
    cluster.create_topic("stuck", 1).unwrap();
    let client = client(&cluster.bootstrap_servers()).await;
    produce(&client, "stuck", 100, 100).await;
    let seen = Arc::new(Seen::default());
    let processor = Processor::builder(consumer(&client, "g-stuck"), ["stuck"])
        .order(ProcessingOrder::Unordered)
        .max_concurrency(8)
        .drain_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let handle = processor.handle();
    let s = seen.clone();
    let run = tokio::spawn(processor.run(
        move |record| {
            let s = s.clone();
            async move {
                let value: u64 = record.value.as_deref().unwrap().parse().unwrap();
                if value == 5 {
                    // Stuck past the drain timeout.
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
                *s.done.lock().unwrap().entry(value).or_default() += 1;
                Ok(())
            }
        },
        std::future::pending(),
    ));
    until("99 records", Duration::from_secs(30), || {
        seen.done_count() >= 99
    })
    .await;
    handle.shutdown();
    run.await.unwrap().unwrap();
    let admin = Admin::new(&client);
    let committed = admin.list_consumer_group_offsets("g-stuck").await.unwrap();
    let c = committed.values().next().unwrap();
    assert_eq!(c.offset, 5, "the stuck record holds the commit");
    assert!(
        c.metadata.as_deref().unwrap_or("").starts_with("kp1:"),
        "{c:?}"
    );

    // A new run processes the stuck record and nothing else.
    let again = Arc::new(Seen::default());
    let processor = Processor::builder(consumer(&client, "g-stuck"), ["stuck"])
        .commit_interval(Duration::from_millis(100))
        .build()
        .unwrap();
    let handle = processor.handle();
    let a = again.clone();
    let run = tokio::spawn(processor.run(
        move |record| {
            let a = a.clone();
            async move {
                let value: u64 = record.value.as_deref().unwrap().parse().unwrap();
                *a.done.lock().unwrap().entry(value).or_default() += 1;
                Ok(())
            }
        },
        std::future::pending(),
    ));
    until("the stuck record", Duration::from_secs(30), || {
        again.done_count() >= 1
    })
    .await;
    // Give it the chance to (wrongly) redo more; then stop.
    tokio::time::sleep(Duration::from_millis(500)).await;
    handle.shutdown();
    run.await.unwrap().unwrap();
    assert_eq!(
        again
            .done
            .lock()
            .unwrap()
            .keys()
            .copied()
            .collect::<Vec<_>>(),
        vec![5]
    );
    let lag = admin
        .consumer_group_lag("g-stuck", IsolationLevel::ReadUncommitted)
        .await
        .unwrap();
    assert_eq!(
        lag.values().map(|l| l.committed).collect::<Vec<_>>(),
        vec![100]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn partitions_move_to_a_second_member_without_loss_or_duplicates() {
    const N: usize = 3_000;
    let cluster = MockCluster::new(3).await.unwrap();
    cluster.create_topic("shared", 6).unwrap();
    let client = client(&cluster.bootstrap_servers()).await;
    let seen = Arc::new(Seen::default());
    let start = |name: &'static str| {
        let processor = Processor::builder(consumer(&client, "g-shared"), ["shared"])
            .max_concurrency(8)
            .build()
            .unwrap();
        let handle = processor.handle();
        let s = seen.clone();
        let run = tokio::spawn(processor.run(
            move |record| {
                let s = s.clone();
                async move {
                    let value: u64 = record.value.as_deref().unwrap().parse().unwrap();
                    tokio::time::sleep(Duration::from_micros(300)).await;
                    *s.done.lock().unwrap().entry(value).or_default() += 1;
                    let _ = name;
                    Ok(())
                }
            },
            std::future::pending(),
        ));
        (handle, run)
    };
    let (a, run_a) = start("a");
    let producing = {
        let client = client.clone();
        tokio::spawn(async move {
            for chunk in 0..10 {
                let producer: Producer<String, String> =
                    Producer::builder(&client).build().unwrap();
                for i in chunk * (N / 10)..(chunk + 1) * (N / 10) {
                    producer
                        .send(
                            ProducerRecord::new("shared", i.to_string())
                                .key(format!("k{}", i % 50)),
                        )
                        .await
                        .unwrap();
                }
                producer.close(Duration::from_secs(5)).await.unwrap();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    until("a first share", Duration::from_secs(30), || {
        seen.done_count() >= N / 5
    })
    .await;
    let (b, run_b) = start("b");
    until("b joins", Duration::from_secs(30), || {
        b.health().assigned_partitions > 0
    })
    .await;
    producing.await.unwrap();
    until("every record", Duration::from_secs(60), || {
        seen.done_count() >= N
    })
    .await;
    a.shutdown();
    b.shutdown();
    run_a.await.unwrap().unwrap();
    run_b.await.unwrap().unwrap();
    let done = seen.done.lock().unwrap();
    assert_eq!(done.len(), N);
    let twice: Vec<_> = done.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "processed twice: {twice:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rate_limits_hold_the_pace_and_the_breaker_pauses_and_probes() {
    let cluster = MockCluster::new(1).await.unwrap();
    cluster.create_topic("paced", 2).unwrap();
    let client = client(&cluster.bootstrap_servers()).await;
    produce(&client, "paced", 300, 30).await;
    let times = Arc::new(Mutex::new(Vec::new()));
    let failing = Arc::new(AtomicBool::new(true));
    let processor = Processor::builder(consumer(&client, "g-paced"), ["paced"])
        .records_per_second(100.0)
        .retry(fast_retries())
        .circuit_breaker(BreakerConfig::new(3, Duration::from_millis(300)))
        .build()
        .unwrap();
    let handle: ProcessorHandle<String, String> = processor.handle();
    let (t, f) = (times.clone(), failing.clone());
    let began = Instant::now();
    let run = tokio::spawn(processor.run(
        move |_record| {
            let (t, f) = (t.clone(), f.clone());
            async move {
                if f.load(Ordering::SeqCst) {
                    return Err(ProcessError::retry("downstream down"));
                }
                t.lock().unwrap().push(Instant::now());
                Ok(())
            }
        },
        std::future::pending(),
    ));
    // Failures open the breaker; it pauses the partitions.
    until("the breaker opens", Duration::from_secs(20), || {
        handle.health().breaker_open
    })
    .await;
    until("the partitions pause", Duration::from_secs(5), || {
        !handle.paused_partitions().is_empty()
    })
    .await;
    failing.store(false, Ordering::SeqCst);
    until("every record", Duration::from_secs(30), || {
        times.lock().unwrap().len() >= 300
    })
    .await;
    assert!(!handle.health().breaker_open);
    let times = times.lock().unwrap().clone();
    // No more than a second's burst plus the rate in any half second.
    for (i, t) in times.iter().enumerate() {
        let in_window = times[i..]
            .iter()
            .take_while(|u| u.duration_since(*t) < Duration::from_millis(500))
            .count();
        assert!(in_window <= 160, "{in_window} records within 500 ms");
    }
    // 300 records at 100/s with a burst of 100 take at least two seconds.
    assert!(began.elapsed() >= Duration::from_secs(2));
    handle.shutdown();
    run.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batches_settings_at_run_time_and_shutdown_leave_the_group() {
    let cluster = MockCluster::new(1).await.unwrap();
    cluster.create_topic("batched", 3).unwrap();
    let client = client(&cluster.bootstrap_servers()).await;
    produce(&client, "batched", 600, 60).await;
    let sizes = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::new(Seen::default());
    let processor = Processor::builder(consumer(&client, "g-batched"), ["batched"])
        .batch(BatchConfig::new(10, Duration::from_millis(50)))
        .max_concurrency(4)
        .build()
        .unwrap();
    let handle = processor.handle();
    assert!(!handle.health().ready);
    let (z, s) = (sizes.clone(), seen.clone());
    let run = tokio::spawn(processor.run_batches(
        move |records| {
            let (z, s) = (z.clone(), s.clone());
            async move {
                z.lock().unwrap().push(records.len());
                let keys: BTreeSet<_> = records.iter().map(|r| r.key.clone()).collect();
                assert_eq!(
                    keys.len(),
                    records.len(),
                    "two records of one key in a batch"
                );
                s.begin("batch", 0);
                tokio::time::sleep(Duration::from_millis(2)).await;
                s.end("batch");
                for r in &records {
                    let value: u64 = r.value.as_deref().unwrap().parse().unwrap();
                    *s.done.lock().unwrap().entry(value).or_default() += 1;
                }
                Ok(())
            }
        },
        std::future::pending(),
    ));
    until("ready", Duration::from_secs(20), || handle.health().ready).await;
    assert!(handle.health().live);
    until("every record", Duration::from_secs(30), || {
        seen.done_count() >= 600
    })
    .await;
    let sizes = sizes.lock().unwrap().clone();
    assert!(sizes.iter().all(|&n| (1..=10).contains(&n)), "{sizes:?}");
    assert!(sizes.iter().any(|&n| n > 1), "{sizes:?}");
    // Settings change while running.
    handle.update(|s| s.max_concurrency = 1);
    assert_eq!(handle.settings().max_concurrency, 1);
    handle.shutdown();
    run.await.unwrap().unwrap();
    assert!(!handle.health().ready);
    // The member left: the group is empty and everything is committed.
    let admin = Admin::new(&client);
    let d = admin
        .describe_consumer_groups(&["g-batched"])
        .await
        .unwrap();
    assert_eq!(d[0].1.as_ref().unwrap().state, "Empty");
    let lag = admin
        .consumer_group_lag("g-batched", IsolationLevel::ReadUncommitted)
        .await
        .unwrap();
    let lags: BTreeMap<_, _> = lag.iter().map(|(tp, l)| (tp.partition, l.lag)).collect();
    assert_eq!(lags, BTreeMap::from([(0, 0), (1, 0), (2, 0)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_once_outputs_survive_a_crashed_member_without_loss_or_duplicates() {
    use kafkit::processor::TransactionConfig;
    use kafkit::producer::TransactionalProducer;
    const N: usize = 600;
    support::init_tracing();
    let cluster = MockCluster::new(3).await.unwrap();
    cluster.create_topic("eos-in", 3).unwrap();
    cluster.create_topic("eos-out", 3).unwrap();
    let bootstrap = cluster.bootstrap_servers();
    let client = client(&bootstrap).await;
    produce(&client, "eos-in", N, 30).await;
    let processed = Arc::new(AtomicUsize::new(0));
    let start = |slow: bool| {
        let processor = Processor::builder(consumer(&client, "g-eos"), ["eos-in"])
            .max_concurrency(8)
            .build()
            .unwrap();
        let handle = processor.handle();
        let producer: TransactionalProducer<String, String> =
            TransactionalProducer::builder(&client, "eos-member-0")
                .build()
                .unwrap();
        let p = processed.clone();
        let run = tokio::spawn(processor.run_exactly_once(
            producer,
            TransactionConfig {
                max_records: 50,
                max_time: Duration::from_millis(100),
            },
            move |record, outputs| {
                let p = p.clone();
                async move {
                    let value = record.value.clone().unwrap_or_default();
                    let mut out = ProducerRecord::new("eos-out", format!("out-{value}"));
                    if let Some(k) = &record.key {
                        out = out.key(k.clone());
                    }
                    outputs.send(out).await.map_err(ProcessError::retry)?;
                    if slow {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                    p.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                }
            },
            std::future::pending(),
        ));
        (handle, run)
    };
    // The first member crashes half way (its task is killed: no drain, no
    // commit, a transaction left open).
    let (_a, run_a) = start(true);
    until("half the records", Duration::from_secs(30), || {
        processed.load(Ordering::SeqCst) >= N / 2
    })
    .await;
    run_a.abort();
    let _ = run_a.await;
    // Its successor with the same transactional.id fences it; the open
    // transaction is aborted, and processing resumes at the committed offsets.
    let (b, run_b) = start(false);
    let admin = Admin::new(&client);
    let mut done = false;
    for _ in 0..300 {
        let lag = admin
            .consumer_group_lag("g-eos", IsolationLevel::ReadCommitted)
            .await
            .unwrap();
        if lag.len() == 3 && lag.values().all(|l| l.lag == 0) {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        done,
        "the successor committed every input offset: {:?} {:?}",
        admin
            .consumer_group_lag("g-eos", IsolationLevel::ReadCommitted)
            .await,
        b.health()
    );
    b.shutdown();
    run_b.await.unwrap().unwrap();
    // read_committed (enforced by the embedded cluster): each input's
    // output exactly once, read by librdkafka.
    let read = support::consume_with_rdkafka_config(
        &bootstrap,
        "eos-out",
        N,
        Duration::from_secs(30),
        &[("isolation.level", "read_committed")],
    )
    .await;
    let mut values: Vec<String> = read
        .iter()
        .map(|r| String::from_utf8(r.value.clone().unwrap()).unwrap())
        .collect();
    values.sort();
    let before = values.len();
    values.dedup();
    assert_eq!(before, values.len(), "duplicated outputs");
    assert_eq!(values.len(), N, "missing outputs");
    // Aborted outputs exist in the log (the crash left them), unseen.
    let raw =
        support::consume_with_rdkafka(&bootstrap, "eos-out", N, Duration::from_secs(10)).await;
    assert!(raw.len() >= N);
}
