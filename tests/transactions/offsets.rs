//! send_offsets_to_transaction on Tansu: the group's offsets are stored
//! when the transaction commits and not when it aborts (Tansu stores
//! TxnOffsetCommit offsets; librdkafka's mock does not, so not there).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kafkit::TopicPartition;
use kafkit::consumer::{Consumer, ConsumerConfig, OffsetAndMetadata};

use crate::common::{client, producer, read_log, record, values};
use crate::support;

#[tokio::test]
async fn offsets_are_stored_on_commit_and_not_on_abort() {
    support::init_tracing();
    for broker in support::tansu_and_embedded().await {
        eprintln!("== against {broker}");
        let input = support::unique_topic("txn-in");
        let output = support::unique_topic("txn-out");
        broker.create_topic(&input, 1).await;
        broker.create_topic(&output, 1).await;
        let group = support::unique_topic("txn-group");

        // A real group member, so the offsets go with its generation and
        // member id (KIP-447).
        let consumer_client = client(&broker.bootstrap()).await;
        let mut config = ConsumerConfig::default();
        config.group_id = Some(group.clone());
        config.enable_auto_commit = false;
        config.session_timeout = Duration::from_millis(6000);
        config.heartbeat_interval = Duration::from_millis(500);
        let consumer: Consumer<String, String> = Consumer::builder(&consumer_client)
            .config(config)
            .build()
            .unwrap();
        consumer.subscribe([input.as_str()]).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while consumer.assignment().is_empty() {
            assert!(Instant::now() < deadline, "no assignment within 30 s");
            consumer.poll(Duration::from_millis(200)).await.unwrap();
        }
        let metadata = consumer.group_metadata().unwrap();
        assert_eq!(metadata.group_id, group);
        // Tansu numbers generations from 0.
        assert!(
            metadata.generation_id >= 0 && !metadata.member_id.is_empty(),
            "{metadata:?}"
        );

        let client = client(&broker.bootstrap()).await;
        let p = producer(&client, "offsets-1").await;
        let tp = TopicPartition::new(input.as_str(), 0);
        let offsets = |o: i64| BTreeMap::from([(tp.clone(), OffsetAndMetadata::new(o))]);

        p.begin_transaction().unwrap();
        p.send(record(&output, 0, "aborted".into())).await.unwrap();
        p.send_offsets_to_transaction(offsets(7), &metadata)
            .await
            .unwrap();
        p.abort_transaction().await.unwrap();
        let committed = consumer.committed(std::slice::from_ref(&tp)).await.unwrap();
        assert_eq!(
            committed.get(&tp).cloned().flatten(),
            None,
            "offsets of an aborted transaction"
        );

        p.begin_transaction().unwrap();
        p.send(record(&output, 0, "committed".into()))
            .await
            .unwrap();
        p.send_offsets_to_transaction(offsets(5), &metadata)
            .await
            .unwrap();
        p.commit_transaction().await.unwrap();
        let committed = consumer.committed(std::slice::from_ref(&tp)).await.unwrap();
        assert_eq!(
            committed.get(&tp).cloned().flatten().map(|o| o.offset),
            Some(5),
            "offsets of a committed transaction"
        );

        // Offsets alone (no records) make a transaction too: the client sends
        // AddOffsetsToTxn, TxnOffsetCommit and EndTxn and they succeed. Tansu
        // 0.6.0 does not store the offsets of such a transaction (librdkafka's
        // producer sees the same), so what is committed is not checked here.
        p.begin_transaction().unwrap();
        p.send_offsets_to_transaction(offsets(9), &metadata)
            .await
            .unwrap();
        p.commit_transaction().await.unwrap();

        let (log, _) = read_log(&client, &output, 0).await;
        assert_eq!(values(&log), ["aborted", "committed"]);
        consumer.close(Duration::from_secs(5)).await;
        p.close(Duration::from_secs(5)).await.unwrap();
    }
}
