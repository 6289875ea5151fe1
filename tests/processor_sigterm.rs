//! SIGTERM to a running processor (in a test binary of its own: the
//! signal goes to this whole process): it stops within its drain
//! deadline, commits what it finished, and leaves its group, so a new
//! member gets the partitions at once (not after the 30 s session
//! timeout) and continues exactly where it stopped.

#![cfg(all(feature = "mock", unix))]

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafkit::consumer::{Consumer, OffsetReset};
use kafkit::mock::MockCluster;
use kafkit::processor::{ProcessError, Processor};
use kafkit::producer::{Producer, ProducerRecord};
use kafkit::{Admin, Client};

type Done = Arc<Mutex<HashMap<(i32, i64), u32>>>;

fn processor(client: &Client) -> Processor<String, String> {
    let consumer = Consumer::builder(client)
        .group_id("g-sigterm")
        .auto_offset_reset(OffsetReset::Earliest)
        // A member that did not leave would hold its partitions this long.
        .session_timeout(Duration::from_secs(30))
        .heartbeat_interval(Duration::from_secs(1));
    Processor::builder(consumer, ["terminated"])
        .max_concurrency(8)
        .drain_timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

type Record = Arc<kafkit::consumer::ConsumerRecord<String, String>>;
type Handled =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), ProcessError>> + Send>>;

fn handler(done: Done) -> impl Fn(Record) -> Handled + Send + Sync + 'static {
    move |r| {
        let done = done.clone();
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(2)).await;
            *done
                .lock()
                .unwrap()
                .entry((r.partition, r.offset))
                .or_default() += 1;
            Ok(())
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_drains_commits_and_leaves_the_group_for_the_next_member() {
    const N: usize = 3_000;
    let cluster = MockCluster::new(1).await.unwrap();
    cluster.create_topic("terminated", 3).unwrap();
    let client = Client::builder(cluster.bootstrap_servers())
        .build()
        .await
        .unwrap();
    let producer: Producer<String, String> = Producer::builder(&client).build().unwrap();
    for i in 0..N {
        producer
            .send(ProducerRecord::new("terminated", i.to_string()).partition(i as i32 % 3))
            .await
            .unwrap();
    }
    let done: Done = Arc::default();
    let first = processor(&client);
    let handle = first.handle();
    let run = tokio::spawn(first.run(handler(done.clone()), kafkit::processor::shutdown_signal()));
    // Ready means the run loop has polled its shutdown future, so the
    // signal handler is installed before the signal is sent.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !(handle.health().ready && done.lock().unwrap().len() >= N / 3) {
        assert!(Instant::now() < deadline, "never got going");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let sent = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    run.await.unwrap().unwrap();
    let stopped = sent.elapsed();
    assert!(
        stopped < Duration::from_secs(7),
        "stopped after {stopped:?}"
    );
    let first_done = done.lock().unwrap().len();
    assert!(first_done < N, "everything was done before the signal");

    // The next member is assigned at once: the first one left.
    let second = processor(&client);
    let handle = second.handle();
    let joined = Instant::now();
    let run = tokio::spawn(second.run(handler(done.clone()), std::future::pending()));
    while handle.health().assigned_partitions < 3 {
        assert!(
            joined.elapsed() < Duration::from_secs(10),
            "the first member did not leave"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while done.lock().unwrap().len() < N {
        assert!(Instant::now() < deadline, "the rest was not processed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    handle.shutdown();
    run.await.unwrap().unwrap();
    // The final commit held: nothing done twice, nothing lost.
    let done = done.lock().unwrap().clone();
    assert_eq!(done.len(), N);
    assert!(
        done.values().all(|&n| n == 1),
        "records redone after the shutdown"
    );
    let lag = Admin::new(&client)
        .consumer_group_lag(
            "g-sigterm",
            kafkit::consumer::IsolationLevel::ReadUncommitted,
        )
        .await
        .unwrap();
    assert!(lag.values().all(|l| l.lag == 0));
    eprintln!(
        "stopped {stopped:?} after SIGTERM with {first_done} of {N} done; next member assigned in {:?}",
        joined.elapsed()
    );
}
