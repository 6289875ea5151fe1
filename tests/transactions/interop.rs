//! What kafkit's TransactionalProducer commits, librdkafka reads with
//! isolation.level=read_committed (Tansu). Only committed data is written
//! here: the brokers do not hide aborted records, so no claim is made
//! about them.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::common::{client, producer};
use crate::support;

#[tokio::test]
async fn committed_records_are_read_by_librdkafka_read_committed() {
    support::init_tracing();
    for broker in support::tansu_and_embedded().await {
        eprintln!("== against {broker}");
        let topic = support::unique_topic("txn-interop");
        broker.create_topic(&topic, 3).await;
        let client = client(&broker.bootstrap()).await;
        let p = producer(&client, "interop-1").await;
        const TRANSACTIONS: usize = 5;
        const PER_TRANSACTION: usize = 400;
        for t in 0..TRANSACTIONS {
            p.begin_transaction().unwrap();
            let mut deliveries = Vec::with_capacity(PER_TRANSACTION);
            for i in 0..PER_TRANSACTION {
                let value = format!("t{t}-r{i}");
                let r = kafkit::producer::ProducerRecord::new(topic.as_str(), value)
                    .key(format!("k{i}"));
                deliveries.push(p.enqueue(r).await.unwrap());
            }
            p.commit_transaction().await.unwrap();
            for d in deliveries {
                d.await.unwrap();
            }
        }
        let total = TRANSACTIONS * PER_TRANSACTION;
        // consume_with_rdkafka uses librdkafka's default, read_committed.
        let read = support::consume_with_rdkafka(
            &broker.bootstrap(),
            &topic,
            total,
            Duration::from_secs(30),
        )
        .await;
        let values: Vec<String> = read
            .iter()
            .map(|r| String::from_utf8(r.value.clone().unwrap_or_default()).unwrap())
            .collect();
        let distinct: BTreeSet<&String> = values.iter().collect();
        assert_eq!(values.len(), total, "every committed record, once");
        assert_eq!(distinct.len(), total);
        for t in 0..TRANSACTIONS {
            for i in [0, PER_TRANSACTION - 1] {
                assert!(distinct.contains(&format!("t{t}-r{i}")));
            }
        }
        // Offsets skip the markers: per partition, no two records are adjacent
        // across a transaction boundary (each commit took one offset).
        let mut by_partition: std::collections::BTreeMap<i32, Vec<i64>> = Default::default();
        for r in &read {
            by_partition.entry(r.partition).or_default().push(r.offset);
        }
        for (partition, offsets) in by_partition {
            let gaps = offsets.windows(2).filter(|w| w[1] != w[0] + 1).count();
            assert_eq!(
                gaps,
                TRANSACTIONS - 1,
                "partition {partition}: one marker between consecutive transactions"
            );
        }
        p.close(Duration::from_secs(5)).await.unwrap();
    }
}
