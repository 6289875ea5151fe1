//! librdkafka as an independent client: refused alike, served once granted.

use std::time::Duration;

use crate::support;

use crate::common::*;

/// librdkafka's settings for a PLAIN user.
fn rdkafka_user(user: &'static str, password: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "PLAIN"),
        ("sasl.username", user),
        ("sasl.password", password),
    ]
}

/// One record produced by librdkafka as bob (not idempotent): the
/// delivery error, if any.
async fn rdkafka_produce_error(bootstrap: &str, topic: &str) -> Option<rdkafka::error::KafkaError> {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let mut cc = rdkafka::ClientConfig::new();
    for (k, v) in rdkafka_user("bob", "bob-secret") {
        cc.set(k, v);
    }
    let p: FutureProducer = cc
        .set("bootstrap.servers", bootstrap)
        .set("message.timeout.ms", "10000")
        .create()
        .unwrap();
    p.send(
        FutureRecord::<(), str>::to(topic).payload("x"),
        Duration::from_secs(15),
    )
    .await
    .err()
    .map(|(e, _)| e)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn librdkafka_is_refused_alike_and_succeeds_once_granted() {
    use rdkafka::consumer::{BaseConsumer, Consumer as _};
    use rdkafka::error::{KafkaError, RDKafkaErrorCode};

    let cluster = acl_cluster().await;
    cluster.create_topic("rd-orders", 3).unwrap();
    let admin = client(&cluster, "admin").await;
    let bootstrap = cluster.bootstrap_servers();

    // Producing without Write: the topic is refused.
    let err = rdkafka_produce_error(&bootstrap, "rd-orders").await;
    assert!(
        matches!(
            err,
            Some(KafkaError::MessageProduction(
                RDKafkaErrorCode::TopicAuthorizationFailed
            ))
        ),
        "{err:?}"
    );
    assert_eq!(
        cluster
            .partition_log("rd-orders", 0)
            .unwrap()
            .high_watermark,
        0
    );

    // A group member without Read on the group, then without Read on the
    // topic: librdkafka reports each as a consumer error.
    let consumer_error = |group: &'static str| {
        let bootstrap = bootstrap.clone();
        tokio::task::spawn_blocking(move || {
            let mut cc = rdkafka::ClientConfig::new();
            for (k, v) in rdkafka_user("bob", "bob-secret") {
                cc.set(k, v);
            }
            let c: BaseConsumer = cc
                .set("bootstrap.servers", &bootstrap)
                .set("group.id", group)
                .set("auto.offset.reset", "earliest")
                .create()
                .unwrap();
            c.subscribe(&["rd-orders"]).unwrap();
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while std::time::Instant::now() < deadline {
                match c.poll(Duration::from_millis(200)) {
                    Some(Err(e)) => return Some(e),
                    Some(Ok(_)) => panic!("read a record without the ACLs"),
                    None => {}
                }
            }
            None
        })
    };
    let e = consumer_error("rd-group").await.unwrap().expect("an error");
    assert!(
        matches!(
            &e,
            KafkaError::MessageConsumption(RDKafkaErrorCode::GroupAuthorizationFailed)
                | KafkaError::Global(RDKafkaErrorCode::GroupAuthorizationFailed)
        ),
        "{e:?}"
    );
    grant(
        &cluster,
        &admin,
        &[acl(GROUP, "rd-group", LITERAL, "User:bob", READ, ALLOW)],
    )
    .await;
    let e = consumer_error("rd-group").await.unwrap().expect("an error");
    assert!(
        matches!(
            &e,
            KafkaError::MessageConsumption(RDKafkaErrorCode::TopicAuthorizationFailed)
                | KafkaError::Global(RDKafkaErrorCode::TopicAuthorizationFailed)
        ),
        "{e:?}"
    );

    // Granted Write and Read on the topic (and Read on the group the peer
    // helper names): what one writes the other reads.
    grant(
        &cluster,
        &admin,
        &[
            acl(TOPIC, "rd-", PREFIXED, "User:bob", WRITE, ALLOW),
            acl(TOPIC, "rd-orders", LITERAL, "User:bob", READ, ALLOW),
            acl(GROUP, "kafkit-test-peer", LITERAL, "User:bob", READ, ALLOW),
        ],
    )
    .await;
    let records: Vec<support::PeerInput> = (0..100)
        .map(|i| support::PeerInput {
            value: Some(format!("rd-{i}").into_bytes()),
            ..Default::default()
        })
        .collect();
    let bob = rdkafka_user("bob", "bob-secret");
    support::produce_records_with_rdkafka_config(&bootstrap, "rd-orders", &records, "lz4", &bob)
        .await;
    let read = support::consume_with_rdkafka_config(
        &bootstrap,
        "rd-orders",
        records.len(),
        Duration::from_secs(30),
        &bob,
    )
    .await;
    assert_eq!(read.len(), records.len());
    admin.close(Duration::from_secs(5)).await;
}
