//! Observability end to end (features `prometheus` and `opentelemetry`):
//! Prometheus metrics against counted truth on Tansu and under injected
//! faults on librdkafka's mock cluster, consumer and group lag, the lag
//! exporter read over HTTP, span names and attributes with a capturing
//! subscriber, and W3C trace context carried producer → Tansu → consumer.

mod support;

#[path = "../examples/common/lag_server.rs"]
mod lag_server;

use std::collections::{BTreeMap, BTreeSet};

use std::time::Duration;

use kafkit::consumer::{Consumer, IsolationLevel, OffsetReset};
use kafkit::observe::prometheus::{ConsumerCollector, ProducerCollector};
use kafkit::producer::{Producer, ProducerRecord};
use kafkit::{Admin, Client};
use prometheus_client::registry::Registry;

const PARTITIONS: i32 = 3;

async fn client(bootstrap: &str, id: &str) -> Client {
    Client::builder(bootstrap)
        .client_id(id)
        .build()
        .await
        .unwrap()
}

async fn create_topic(client: &Client, topic: &str) {
    Admin::new(client)
        .create_topics([kafkit::admin::NewTopic::new(topic, PARTITIONS, 1)])
        .await
        .unwrap()
        .remove(0)
        .1
        .unwrap();
}

/// `n` records, numbered from `from`, spread over the partitions; returns
/// how many went to each.
async fn produce(
    producer: &Producer<String, String>,
    topic: &str,
    from: usize,
    n: usize,
) -> BTreeMap<i32, i64> {
    let mut per_partition = BTreeMap::new();
    for i in from..from + n {
        let p = (i % PARTITIONS as usize) as i32;
        producer
            .send(ProducerRecord::new(topic, format!("value-{i}")).partition(p))
            .await
            .unwrap();
        *per_partition.entry(p).or_default() += 1;
    }
    per_partition
}

fn group_consumer(client: &Client, group: &str) -> Consumer<String, String> {
    Consumer::builder(client)
        .group_id(group)
        .auto_offset_reset(OffsetReset::Earliest)
        .enable_auto_commit(false)
        // Tansu completes a first join after half the session timeout.
        .session_timeout(Duration::from_secs(6))
        .heartbeat_interval(Duration::from_millis(500))
        .fetch_max_wait(Duration::from_millis(100))
        .build()
        .unwrap()
}

/// Polls until `n` records came; returns them counted per partition.
async fn consume(consumer: &Consumer<String, String>, n: usize) -> BTreeMap<i32, i64> {
    let mut got = BTreeMap::new();
    let mut count = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while count < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {count} of {n} records"
        );
        for r in &consumer.poll(Duration::from_millis(500)).await.unwrap() {
            *got.entry(r.partition).or_default() += 1;
            count += 1;
        }
    }
    assert_eq!(count, n, "more records than produced");
    got
}

fn encode(registry: &Registry) -> String {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
    text
}

/// The value of the series `name{labels}` (labels as written, in order),
/// or None.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn prometheus_metrics_count_what_was_sent_consumed_and_committed() {
    support::init_tracing();
    for broker in support::tansu_and_embedded().await {
        eprintln!("== against {broker}");
        let topic = support::unique_topic("obs-metrics");
        let group = support::unique_topic("obs-metrics-group");
        let client = client(&broker.bootstrap(), "obs-test").await;
        create_topic(&client, &topic).await;
        let producer: Producer<String, String> = Producer::builder(&client).build().unwrap();
        let consumer = group_consumer(&client, &group);

        // The three lines a user writes.
        let mut registry = Registry::default();
        registry.register_collector(Box::new(ProducerCollector::new(&producer)));
        registry.register_collector(Box::new(ConsumerCollector::new(&consumer)));

        const N: usize = 300;
        let sent = produce(&producer, &topic, 0, N).await;
        let m = producer.metrics();
        let text = encode(&registry);
        let c = r#"{client_id="obs-test"}"#;
        assert_eq!(
            sample(&text, &format!("kafka_producer_record_send_total{c}")),
            Some(N as f64),
            "{text}"
        );
        assert_eq!(
            sample(&text, &format!("kafka_producer_record_error_total{c}")),
            Some(0.0)
        );
        assert_eq!(
            sample(&text, &format!("kafka_producer_record_retry_total{c}")),
            Some(0.0)
        );
        // One send at a time: one Produce request per record.
        assert_eq!(
            sample(&text, &format!("kafka_producer_request_total{c}")),
            Some(N as f64)
        );
        assert_eq!(
            sample(&text, &format!("kafka_producer_byte_total{c}")),
            Some(m.bytes_sent as f64)
        );
        assert!(m.bytes_sent > (N * "value-0".len()) as u64);
        assert!(
            sample(
                &text,
                &format!("kafka_producer_request_latency_max_seconds{c}")
            )
            .unwrap()
                > 0.0
        );
        assert_eq!(
            sample(&text, &format!("kafka_producer_buffer_available_bytes{c}")),
            Some((32 * 1024 * 1024) as f64),
            "nothing buffered after every send was acknowledged"
        );

        consumer.subscribe([topic.clone()]).unwrap();
        let got = consume(&consumer, N).await;
        assert_eq!(got, sent);
        consumer.commit_sync().await.unwrap();
        let text = encode(&registry);
        let cg = format!(r#"{{client_id="obs-test",group="{group}"}}"#);
        assert_eq!(
            sample(&text, &format!("kafka_consumer_records_consumed_total{cg}")),
            Some(N as f64),
            "{text}"
        );
        assert_eq!(
            sample(&text, &format!("kafka_consumer_commit_total{cg}")),
            Some(1.0)
        );
        assert_eq!(
            sample(&text, &format!("kafka_consumer_rebalance_total{cg}")),
            Some(1.0)
        );
        assert_eq!(
            sample(&text, &format!("kafka_consumer_assigned_partitions{cg}")),
            Some(PARTITIONS as f64)
        );
        assert!(
            sample(
                &text,
                &format!("kafka_consumer_last_rebalance_seconds_ago{cg}")
            )
            .unwrap()
                >= 0.0
        );
        assert!(
            sample(
                &text,
                &format!("kafka_consumer_commit_latency_max_seconds{cg}")
            )
            .unwrap()
                > 0.0
        );
        assert!(sample(&text, &format!("kafka_consumer_bytes_consumed_total{cg}")).unwrap() > 0.0);
        for p in 0..PARTITIONS {
            let lag =
                format!(r#"kafka_consumer_lag{{group="{group}",topic="{topic}",partition="{p}"}}"#);
            assert_eq!(sample(&text, &lag), Some(0.0), "{lag} in\n{text}");
        }

        // The consumer's own lag follows what it fetched: records produced
        // now show up once a fetch has seen the new high watermark.
        const M: usize = 30;
        let more = produce(&producer, &topic, N, M).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            // Fetches go on in the background while the records wait unpolled.
            let total: i64 = consumer.metrics().lag.values().sum();
            if total == M as i64 {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "consumer lag {total}, want {M}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let text = encode(&registry);
        let sum = format!(r#"kafka_consumer_lag_sum{{group="{group}",topic="{topic}"}}"#);
        assert_eq!(sample(&text, &sum), Some(M as f64), "{text}");
        for (p, n) in &more {
            let lag = format!(
                r#"kafka_consumer_records_lag{{client_id="obs-test",group="{group}",topic="{topic}",partition="{p}"}}"#
            );
            assert_eq!(sample(&text, &lag), Some(*n as f64), "{lag}");
        }
        consumer.close(Duration::from_secs(5)).await;
        producer.close(Duration::from_secs(5)).await.unwrap();

        // A dropped client leaves the scrape.
        drop(producer);
        drop(consumer);
        let text = encode(&registry);
        assert!(
            !text.contains("kafka_producer_record_send_total{"),
            "{text}"
        );
        assert!(
            !text.contains("kafka_consumer_records_consumed_total{"),
            "{text}"
        );
    }
}

/// Reads `GET /metrics` from `addr` with a bare HTTP/1.1 request.
async fn http_get_metrics(addr: std::net::SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).await.unwrap();
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    body
}

#[tokio::test]
async fn lag_exporter_serves_the_records_produced_since_a_stopped_consumers_commit() {
    support::init_tracing();
    for broker in support::tansu_and_embedded().await {
        eprintln!("== against {broker}");
        let topic = support::unique_topic("obs-lag");
        let group = support::unique_topic("obs-lag-group");
        let idle_group = support::unique_topic("obs-lag-never-committed");
        let client = client(&broker.bootstrap(), "obs-lag").await;
        create_topic(&client, &topic).await;
        let producer: Producer<String, String> = Producer::builder(&client).build().unwrap();

        const N: usize = 120;
        produce(&producer, &topic, 0, N).await;
        let consumer = group_consumer(&client, &group);
        consumer.subscribe([topic.clone()]).unwrap();
        consume(&consumer, N).await;
        consumer.commit_sync().await.unwrap();
        // The consumer stops; records keep coming.
        consumer.close(Duration::from_secs(5)).await;
        drop(consumer);
        const M: usize = 47;
        let since = produce(&producer, &topic, N, M).await;

        // Admin's view, without joining.
        let admin = Admin::new(&client);
        let lag = admin
            .consumer_group_lag(&group, IsolationLevel::ReadUncommitted)
            .await
            .unwrap();
        assert_eq!(lag.len(), PARTITIONS as usize, "{lag:?}");
        for (tp, l) in &lag {
            assert_eq!(l.lag, since[&tp.partition], "{tp:?}: {l:?}");
            assert_eq!(l.end_offset - l.committed, l.lag);
        }
        let committed = admin.list_consumer_group_offsets(&group).await.unwrap();
        assert_eq!(
            committed.values().map(|o| o.offset).sum::<i64>(),
            N as i64,
            "{committed:?}"
        );

        // The exporter, served in-process, read over HTTP.
        let exporter = lag_server::Exporter::new(
            Admin::new(&client),
            vec![group.clone(), idle_group.clone()],
            IsolationLevel::ReadUncommitted,
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(lag_server::serve(exporter, listener, async move {
            let _ = stop_rx.await;
        }));
        let body = http_get_metrics(addr).await;
        let sum = format!(r#"kafka_consumer_lag_sum{{group="{group}",topic="{topic}"}}"#);
        assert_eq!(sample(&body, &sum), Some(M as f64), "{body}");
        for (p, n) in &since {
            let series =
                format!(r#"kafka_consumer_lag{{group="{group}",topic="{topic}",partition="{p}"}}"#);
            assert_eq!(sample(&body, &series), Some(*n as f64), "{series}");
        }
        assert!(
            !body.contains(&idle_group),
            "a group without commits has no lag series"
        );
        // A second scrape reads again: more records, more lag.
        produce(&producer, &topic, N + M, 3).await;
        let body = http_get_metrics(addr).await;
        assert_eq!(sample(&body, &sum), Some((M + 3) as f64), "{body}");
        let _ = stop_tx.send(());
        server.await.unwrap().unwrap();
        producer.close(Duration::from_secs(5)).await.unwrap();
    }
}

#[tokio::test]
async fn injected_errors_count_as_retries_and_errors() {
    use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr::*};
    support::init_tracing();
    let mock = support::mock_cluster(1);
    mock.create_topic("t", 1, 1).unwrap();
    let client = client(&mock.bootstrap_servers(), "obs-faults").await;
    let producer: Producer<String, String> = Producer::builder(&client)
        .linger(Duration::ZERO)
        .retry_backoff(Duration::from_millis(10))
        .build()
        .unwrap();
    let mut registry = Registry::default();
    registry.register_collector(Box::new(ProducerCollector::new(&producer)));
    // Two retriable refusals, then success: one record, retried twice.
    mock.request_errors(
        RDKafkaApiKey::Produce,
        &[
            RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
            RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        ],
    );
    producer
        .send(ProducerRecord::new("t", "retried".to_string()))
        .await
        .unwrap();
    // A refusal no retry can fix: the record fails.
    mock.request_errors(RDKafkaApiKey::Produce, &[RD_KAFKA_RESP_ERR_INVALID_RECORD]);
    producer
        .send(ProducerRecord::new("t", "refused".to_string()))
        .await
        .unwrap_err();
    let text = encode(&registry);
    let c = r#"{client_id="obs-faults"}"#;
    assert_eq!(
        sample(&text, &format!("kafka_producer_record_send_total{c}")),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, &format!("kafka_producer_record_retry_total{c}")),
        Some(2.0)
    );
    assert_eq!(
        sample(&text, &format!("kafka_producer_record_error_total{c}")),
        Some(1.0)
    );
    // Every answered Produce: two refused, one accepted, one refused.
    assert_eq!(
        sample(&text, &format!("kafka_producer_request_total{c}")),
        Some(4.0)
    );
    producer.close(Duration::from_secs(5)).await.unwrap();
}

/// A `tracing` layer that keeps every span's name and fields.
mod capture {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use tracing::Subscriber;
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing_subscriber::layer::{Context, Layer};
    use tracing_subscriber::registry::LookupSpan;

    #[derive(Debug, Clone)]
    pub struct Span {
        pub name: &'static str,
        pub fields: BTreeMap<String, String>,
        pub id: u64,
    }

    #[derive(Clone, Default)]
    pub struct Captured(pub Arc<Mutex<Vec<Span>>>);

    struct Fields<'a>(&'a mut BTreeMap<String, String>);

    impl Visit for Fields<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0.insert(field.name().to_owned(), format!("{value:?}"));
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.insert(field.name().to_owned(), value.to_owned());
        }
    }

    impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Captured {
        fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
            let mut fields = BTreeMap::new();
            attrs.record(&mut Fields(&mut fields));
            self.0.lock().unwrap().push(Span {
                name: attrs.metadata().name(),
                fields,
                id: id.into_u64(),
            });
        }

        fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
            let mut fields = BTreeMap::new();
            event.record(&mut Fields(&mut fields));
            fields.insert("level".into(), event.metadata().level().to_string());
            self.0.lock().unwrap().push(Span {
                name: "event",
                fields,
                id: 0,
            });
        }

        fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
            let mut spans = self.0.lock().unwrap();
            // Ids are reused after a span closes: the latest one is it.
            if let Some(s) = spans.iter_mut().rev().find(|s| s.id == id.into_u64()) {
                values.record(&mut Fields(&mut s.fields));
            }
        }
    }

    impl Captured {
        /// Log events, kept apart from spans: name `event`, fields with
        /// `message` and `level`.
        pub fn events(&self) -> Vec<Span> {
            self.named("event")
        }
        pub fn named(&self, name: &str) -> Vec<Span> {
            let spans = self.0.lock().unwrap();
            spans.iter().filter(|s| s.name == name).cloned().collect()
        }
        pub fn all(&self) -> Vec<Span> {
            self.0.lock().unwrap().clone()
        }
    }
}

#[tokio::test]
async fn spans_follow_the_messaging_conventions_and_carry_no_payload() {
    use tracing::Instrument;
    use tracing_subscriber::layer::SubscriberExt;
    for broker in support::tansu_and_embedded().await {
        eprintln!("== against {broker}");
        let captured = capture::Captured::default();
        let _guard =
            support::set_default_subscriber(tracing_subscriber::registry().with(captured.clone()));
        let topic = support::unique_topic("obs-spans");
        let group = support::unique_topic("obs-spans-group");
        let client = client(&broker.bootstrap(), "obs-spans").await;
        create_topic(&client, &topic).await;
        let producer: Producer<String, String> = Producer::builder(&client).build().unwrap();
        let keyed: Producer<String, String> = Producer::builder(&client)
            .trace_record_keys(true)
            .build()
            .unwrap();
        const PAYLOAD: &str = "secret-payload-7f3a";
        let meta = producer
            .send(
                ProducerRecord::new(topic.as_str(), PAYLOAD.to_string())
                    .key("k-hidden".into())
                    .partition(1),
            )
            .await
            .unwrap();
        keyed
            .send(
                ProducerRecord::new(topic.as_str(), PAYLOAD.to_string())
                    .key("k-shown".into())
                    .partition(2),
            )
            .await
            .unwrap();
        let consumer = group_consumer(&client, &group);
        consumer.subscribe([topic.clone()]).unwrap();
        let mut records = Vec::new();
        while records.len() < 2 {
            records.extend(consumer.poll(Duration::from_millis(500)).await.unwrap());
        }
        for r in &records {
            async {}.instrument(consumer.process_span(r)).await;
        }
        consumer.commit_sync().await.unwrap();

        let sends = captured.named("send");
        assert_eq!(sends.len(), 2, "{sends:?}");
        let s = &sends[0].fields;
        assert_eq!(s["otel.name"], format!("send {topic}"));
        assert_eq!(s["otel.kind"], "producer");
        assert_eq!(s["messaging.system"], "kafka");
        assert_eq!(s["messaging.operation.name"], "send");
        assert_eq!(s["messaging.destination.name"], topic);
        assert_eq!(s["messaging.destination.partition.id"], "1");
        assert_eq!(
            s["messaging.kafka.offset"],
            meta.offset.unwrap().to_string()
        );
        assert!(
            !s.contains_key("messaging.kafka.message.key"),
            "keys only when allowed: {s:?}"
        );
        assert_eq!(sends[1].fields["messaging.kafka.message.key"], "k-shown");

        let polls = captured.named("poll");
        assert!(
            polls.iter().any(|p| p
                .fields
                .get("messaging.batch.message_count")
                .is_some_and(|n| n != "0")),
            "{polls:?}"
        );
        assert!(
            polls
                .iter()
                .all(|p| p.fields["messaging.consumer.group.name"] == group)
        );

        let processes = captured.named("process");
        assert_eq!(processes.len(), 2);
        let mut offsets: Vec<(String, String)> = processes
            .iter()
            .map(|p| {
                assert_eq!(p.fields["otel.name"], format!("process {topic}"));
                assert_eq!(p.fields["otel.kind"], "consumer");
                assert_eq!(p.fields["messaging.consumer.group.name"], group);
                (
                    p.fields["messaging.destination.partition.id"].clone(),
                    p.fields["messaging.kafka.offset"].clone(),
                )
            })
            .collect();
        offsets.sort();
        assert_eq!(
            offsets,
            vec![
                ("1".into(), meta.offset.unwrap().to_string()),
                ("2".into(), "0".into())
            ]
        );

        let commits = captured.named("commit");
        assert_eq!(commits.len(), 1, "{commits:?}");
        assert_eq!(commits[0].fields["otel.name"], format!("commit {group}"));
        assert_eq!(commits[0].fields["messaging.consumer.group.name"], group);
        assert_eq!(
            commits[0].fields["messaging.batch.message_count"],
            PARTITIONS.to_string()
        );

        let rebalances = captured.named("rebalance");
        assert!(
            rebalances
                .iter()
                .any(|r| r.fields.get("outcome").is_some_and(|o| o == "ok")),
            "{rebalances:?}"
        );

        // The operator's log: the assignment, with every partition by name.
        let assigned: Vec<_> = captured
            .events()
            .into_iter()
            .filter(|e| {
                e.fields
                    .get("message")
                    .is_some_and(|m| m == "rebalance: partitions assigned")
            })
            .collect();
        assert_eq!(assigned.len(), 1, "{assigned:?}");
        assert_eq!(assigned[0].fields["level"], "INFO");
        assert_eq!(assigned[0].fields["group"], group);
        let listed: BTreeSet<String> = assigned[0].fields["partitions"]
            .split(',')
            .map(str::to_owned)
            .collect();
        let expected: BTreeSet<String> = (0..PARTITIONS).map(|p| format!("{topic}-{p}")).collect();
        assert_eq!(listed, expected);

        for span in captured.all() {
            for (k, v) in &span.fields {
                assert!(
                    !v.contains(PAYLOAD) && !v.contains("k-hidden"),
                    "{} {k}={v}",
                    span.name
                );
            }
        }
        consumer.close(Duration::from_secs(5)).await;
        producer.close(Duration::from_secs(5)).await.unwrap();
        keyed.close(Duration::from_secs(5)).await.unwrap();
    }
}

#[tokio::test]
async fn trace_context_links_the_process_span_to_its_send_span_through_the_broker() {
    use opentelemetry::trace::{SpanKind, TracerProvider as _};
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
    use tracing::Instrument;
    use tracing_subscriber::layer::SubscriberExt;
    for broker in support::tansu_and_embedded().await {
        eprintln!("== against {broker}");
        // The application's usual setup: a propagator, a tracer provider, the
        // tracing-opentelemetry layer. kafkit is told nothing.
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let _guard = support::set_default_subscriber(
            tracing_subscriber::registry()
                .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test"))),
        );

        let topic = support::unique_topic("obs-trace");
        let client = client(&broker.bootstrap(), "obs-trace").await;
        create_topic(&client, &topic).await;
        let producer: Producer<String, String> = Producer::builder(&client).build().unwrap();
        let outer = tracing::info_span!("place order");
        producer
            .send(ProducerRecord::new(topic.as_str(), "order-1".to_string()).partition(0))
            .instrument(outer.clone())
            .await
            .unwrap();
        drop(outer);

        // A consumer without a group, assigned the partition.
        let consumer: Consumer<String, String> = Consumer::builder(&client)
            .auto_offset_reset(OffsetReset::Earliest)
            .build()
            .unwrap();
        consumer
            .assign([kafkit::TopicPartition::new(topic.as_str(), 0)])
            .unwrap();
        let mut records = Vec::new();
        while records.is_empty() {
            records.extend(consumer.poll(Duration::from_millis(500)).await.unwrap());
        }
        let record = &records[0];
        let traceparent = record
            .last_header("traceparent")
            .expect("traceparent header");
        async {}.instrument(consumer.process_span(record)).await;
        provider.force_flush().unwrap();

        let spans = exporter.get_finished_spans().unwrap();
        let find = |name: String| {
            spans.iter().find(|s| s.name == name).unwrap_or_else(|| {
                panic!(
                    "no span {name} in {:?}",
                    spans.iter().map(|s| &s.name).collect::<Vec<_>>()
                )
            })
        };
        let send = find(format!("send {topic}"));
        let process = find(format!("process {topic}"));
        assert_eq!(send.span_kind, SpanKind::Producer);
        assert_eq!(process.span_kind, SpanKind::Consumer);
        assert_eq!(
            process.span_context.trace_id(),
            send.span_context.trace_id()
        );
        assert_eq!(
            process.parent_span_id,
            send.span_context.span_id(),
            "process is the send span's child"
        );
        let header = std::str::from_utf8(traceparent.value.as_deref().unwrap()).unwrap();
        assert!(
            header.contains(&send.span_context.span_id().to_string()),
            "{header}"
        );
        consumer.close(Duration::from_secs(5)).await;
        producer.close(Duration::from_secs(5)).await.unwrap();
    }
}

#[tokio::test]
async fn transactions_are_spans_with_their_outcome() {
    use kafkit::producer::TransactionalProducer;
    use tracing_subscriber::layer::SubscriberExt;
    for broker in support::tansu_and_embedded().await {
        eprintln!("== against {broker}");
        let captured = capture::Captured::default();
        let _guard =
            support::set_default_subscriber(tracing_subscriber::registry().with(captured.clone()));
        let topic = support::unique_topic("obs-txn");
        let client = client(&broker.bootstrap(), "obs-txn").await;
        create_topic(&client, &topic).await;
        let txn_id = format!("{topic}-id");
        let producer: TransactionalProducer<String, String> =
            TransactionalProducer::builder(&client, txn_id.clone())
                .build()
                .unwrap();
        producer.init_transactions().await.unwrap();
        for commit in [true, false] {
            producer.begin_transaction().unwrap();
            producer
                .send(ProducerRecord::new(topic.as_str(), "v".to_string()).partition(0))
                .await
                .unwrap();
            if commit {
                producer.commit_transaction().await.unwrap();
            } else {
                producer.abort_transaction().await.unwrap();
            }
        }
        // Committing with no transaction open is refused, and the span says so.
        assert!(producer.commit_transaction().await.is_err());
        let spans = captured.named("transaction");
        let seen: Vec<(String, String, String)> = spans
            .iter()
            .map(|s| {
                assert_eq!(s.fields["transactional_id"], txn_id);
                assert_eq!(s.fields["messaging.system"], "kafka");
                (
                    s.fields["otel.name"].clone(),
                    s.fields["operation"].clone(),
                    s.fields["outcome"].clone(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            vec![
                (
                    format!("commit transaction {txn_id}"),
                    "commit".into(),
                    "ok".into()
                ),
                (
                    format!("abort transaction {txn_id}"),
                    "abort".into(),
                    "ok".into()
                ),
                (
                    format!("commit transaction {txn_id}"),
                    "commit".into(),
                    "error".into()
                ),
            ]
        );
        producer.close(Duration::from_secs(5)).await.unwrap();
    }
}
