//! The client under real conditions: outages named and logged (on
//! librdkafka's mock cluster), `Client::close` bounded by its timeout,
//! bootstrap strings in Java's forms against Tansu (including IPv6), and a
//! client, producer and consumer configured from a `.properties` file.

mod support;

use support::Outage as _;

use std::time::{Duration, Instant};

use kafkit::Client;

#[tokio::test]
async fn a_down_broker_is_named_in_errors_and_warned_about_once() {
    let logs = support::CapturedLogs::default();
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

    mock.take_down(broker).unwrap();
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

    mock.bring_up(broker).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while client.api_versions(broker).await.is_err() {
        assert!(Instant::now() < deadline, "no reconnect after broker_up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The dropped connection is told (with its cause), then the recovery.
    let infos = logs.lines("INFO", &name);
    let lost: Vec<_> = infos.iter().filter(|l| l.contains("lost")).collect();
    let back: Vec<_> = infos
        .iter()
        .filter(|l| l.contains("reachable again"))
        .collect();
    assert_eq!(
        (lost.len(), back.len(), infos.len()),
        (1, 1, 2),
        "{infos:#?}"
    );
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
    assert!(
        !pending.is_finished(),
        "the handshake should still be waiting"
    );

    let timeout = Duration::from_secs(1);
    let started = Instant::now();
    client.close(timeout).await;
    // Liveness bounds: the timeout plus generous slack for a busy machine.
    let slack = Duration::from_secs(2);
    assert!(
        started.elapsed() < timeout + slack,
        "{:?}",
        started.elapsed()
    );
    let outcome = tokio::time::timeout(timeout + slack, pending)
        .await
        .expect("a request waiting for a connection ends with the close")
        .unwrap();
    let err = outcome.unwrap_err();
    assert!(err.is_fatal(), "closed: {err}");
}

/// A client, a producer and a consumer configured from one `.properties`
/// file (client, producer and consumer keys side by side, a harmless Java
/// key, comments), then 100 records produced and read back in a group, on
/// Tansu and on the embedded cluster. The bootstrap entry uses Java's
/// `PLAINTEXT://` form.
#[tokio::test]
async fn client_producer_and_consumer_from_one_properties_file() {
    support::init_tracing();
    for broker in support::tansu_and_embedded().await {
        eprintln!("== against {broker}");
        properties_file_round_trip(&broker.bootstrap()).await;
    }
}

async fn properties_file_round_trip(bootstrap: &str) {
    use std::collections::BTreeSet;

    use kafkit::consumer::Consumer;
    use kafkit::producer::{Producer, ProducerRecord};
    use kafkit::{ClientBuilder, Properties};

    let topic = support::unique_topic("props");
    let group = support::unique_topic("props-group");
    let file = std::env::temp_dir().join(format!("{topic}.properties"));
    std::fs::write(
        &file,
        format!(
            "# client\n\
             bootstrap.servers = PLAINTEXT://{bootstrap}\n\
             client.id: kafkit-properties-test\n\
             request.timeout.ms=15000\n\
             security.protocol=PLAINTEXT\n\
             ! producer\n\
             acks=all\n\
             linger.ms=1\n\
             compression.type=lz4\n\
             enable.idempotence=true\n\
             key.serializer=org.apache.kafka.common.serialization.StringSerializer\n\
             # consumer (Tansu's first join takes session.timeout.ms / 2)\n\
             group.id={group}\n\
             auto.offset.reset=earliest\n\
             enable.auto.commit=false\n\
             session.timeout.ms=6000\n\
             heartbeat.interval.ms=500\n\
             fetch.max.wait.ms=100\n\
             partition.assignment.strategy=org.apache.kafka.clients.consumer.RangeAssignor\n",
            bootstrap = bootstrap
        ),
    )
    .unwrap();
    let props = Properties::from_file(&file).unwrap();
    let _ = std::fs::remove_file(&file);

    let client = ClientBuilder::from_properties(&props)
        .unwrap()
        .build()
        .await
        .unwrap();
    kafkit::Admin::new(&client)
        .create_topics([kafkit::admin::NewTopic::new(&topic, 2, 1)])
        .await
        .unwrap()
        .remove(0)
        .1
        .unwrap();

    let producer: Producer<String, String> = Producer::builder(&client)
        .properties(&props)
        .unwrap()
        .build()
        .unwrap();
    for i in 0..100 {
        producer
            .send(ProducerRecord::new(topic.as_str(), i.to_string()).partition(i % 2))
            .await
            .unwrap_or_else(|e| panic!("record {i}: {e}"));
    }
    producer.close(Duration::from_secs(5)).await.unwrap();

    let consumer: Consumer<String, String> = Consumer::builder(&client)
        .properties(&props)
        .unwrap()
        .build()
        .unwrap();
    consumer.subscribe([topic.clone()]).unwrap();
    let mut seen = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < 100 {
        assert!(Instant::now() < deadline, "read {} of 100", seen.len());
        for r in consumer
            .poll(Duration::from_millis(200))
            .await
            .unwrap()
            .iter()
        {
            let value = r.value.clone().unwrap_or_default();
            assert!(seen.insert(value.clone()), "record {value} read twice");
        }
    }
    assert_eq!(seen, (0..100).map(|i| i.to_string()).collect());
    consumer.commit_sync().await.unwrap();
    consumer.close(Duration::from_secs(10)).await;
    client.close(Duration::from_secs(5)).await;
}

/// A Tansu broker listening (and advertising itself) on `[::1]`; killed on
/// drop. The shared harness starts brokers on 127.0.0.1 only.
struct Ipv6Tansu {
    child: std::process::Child,
    port: u16,
}

impl Drop for Ipv6Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_tansu_on_ipv6() -> Result<Ipv6Tansu, String> {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/tansu.sh");
    let out = std::process::Command::new("bash")
        .arg(&script)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let bin = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let listener = std::net::TcpListener::bind("[::1]:0")
        .map_err(|e| format!("no IPv6 loopback here: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    drop(listener);
    let url = format!("tcp://[::1]:{port}");
    let child = std::process::Command::new(&bin)
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
        ])
        .args(["--storage-engine", "memory://tansu/"])
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {bin}: {e}"))?;
    let broker = Ipv6Tansu { child, port };
    let deadline = Instant::now() + Duration::from_secs(10);
    let addr = std::net::SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port));
    while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_err() {
        if Instant::now() > deadline {
            return Err(format!("tansu on [::1]:{port} not accepting"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(broker)
}

/// `[::1]:PORT` (and `PLAINTEXT://[::1]:PORT`) reach a broker on the IPv6
/// loopback, and the broker's IPv6 advertised host (`::1`, no brackets in
/// metadata) is reachable too: a produce goes to the leader by node id.
#[tokio::test]
async fn ipv6_bootstrap_reaches_tansu_on_the_ipv6_loopback() {
    use kafkit::producer::{Producer, ProducerRecord};

    let tansu = match start_tansu_on_ipv6() {
        Ok(t) => t,
        Err(reason) => {
            support::skip_or_fail(&format!("no Tansu on [::1]: {reason}"));
            return;
        }
    };
    for bootstrap in [
        format!("[::1]:{}", tansu.port),
        format!(" PLAINTEXT://[::1]:{} ", tansu.port),
    ] {
        let client = Client::builder(&bootstrap)
            .request_timeout(Duration::from_secs(10))
            .build()
            .await
            .unwrap_or_else(|e| panic!("{bootstrap}: {e}"));
        let brokers = client.metadata().brokers.clone();
        assert!(
            brokers.values().all(|b| b.address().starts_with("[::1]:")),
            "{brokers:?}"
        );
        let topic = support::unique_topic("ipv6");
        kafkit::Admin::new(&client)
            .create_topics([kafkit::admin::NewTopic::new(&topic, 1, 1)])
            .await
            .unwrap()
            .remove(0)
            .1
            .unwrap();
        let producer: Producer<String, String> = Producer::builder(&client).build().unwrap();
        let meta = producer
            .send(ProducerRecord::new(topic.as_str(), "v6".to_string()))
            .await
            .unwrap();
        assert_eq!(meta.offset, Some(0));
        producer.close(Duration::from_secs(5)).await.unwrap();
        client.close(Duration::from_secs(5)).await;
    }
}

/// A refresh in flight when the client closes ends the refresher quietly:
/// before, the refresher warned "metadata refresh failed: client is closed"
/// and tried again every `retry.backoff.ms` for as long as a handle lived.
#[tokio::test]
async fn closing_the_client_ends_metadata_refreshes_without_warnings() {
    let logs = support::CapturedLogs::default();
    let _guard = logs.install();
    let mock = support::mock_cluster(1);
    let client = Client::builder(mock.bootstrap_servers())
        .connect_timeout(Duration::from_secs(5))
        .build()
        .await
        .unwrap();
    // Every answer takes 2 s, so the refresh below is still on the wire
    // (or connecting) when the client closes.
    mock.broker_round_trip_time(1, Duration::from_secs(2))
        .unwrap();
    let refresh = tokio::spawn({
        let client = client.clone();
        async move { client.metadata_for(&["not-yet-known"]).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    client.close(Duration::from_secs(1)).await;
    let outcome = tokio::time::timeout(Duration::from_secs(10), refresh)
        .await
        .expect("the refresh ends with the close")
        .unwrap();
    assert!(outcome.is_err(), "a closed client refreshes nothing");
    // Several retry.backoff.ms (100 ms) periods, with the handle alive.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let warns = logs.lines("WARN", "metadata refresh failed");
    assert!(warns.is_empty(), "{warns:#?}");
    drop(client);
}
