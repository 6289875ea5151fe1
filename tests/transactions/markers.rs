//! Commit and abort on Tansu: the control markers in the log, the offsets
//! they take, the transactional attribute of the data batches, and the
//! calls refused in the wrong state.

use std::time::Duration;

use kafkit::Error;
use kafkit::producer::{TransactionState, TransactionalProducer};

use crate::common::{Entry, client, producer, read_log, record, values};
use crate::support;

fn data(offset: i64, value: &str, producer_id: i64) -> Entry {
    Entry::Data {
        offset,
        value: value.to_string(),
        transactional: true,
        producer_id,
    }
}

#[tokio::test]
async fn commit_and_abort_write_their_markers() {
    support::init_tracing();
    for broker in support::tansu_and_embedded().await {
        eprintln!("== against {broker}");
        let topic = support::unique_topic("txn-markers");
        broker.create_topic(&topic, 1).await;
        let client = client(&broker.bootstrap()).await;
        let p = producer(&client, "markers-1").await;

        // Committed: ten records, then the COMMIT marker at offset 10.
        p.begin_transaction().unwrap();
        let mut deliveries = Vec::new();
        for i in 0..10 {
            deliveries.push(p.enqueue(record(&topic, 0, format!("c{i}"))).await.unwrap());
        }
        p.commit_transaction().await.unwrap();
        for (i, d) in deliveries.into_iter().enumerate() {
            assert_eq!(d.await.unwrap().offset, Some(i as i64));
        }
        assert!(matches!(p.transaction_state(), TransactionState::Ready));

        // Aborted after the records were written: they stay in the log (the
        // broker writes them before it knows the outcome), followed by ABORT.
        p.begin_transaction().unwrap();
        for i in 0..5 {
            let _unsettled = p.enqueue(record(&topic, 0, format!("a{i}"))).await.unwrap();
        }
        p.flush().await;
        p.abort_transaction().await.unwrap();

        // Committed again.
        p.begin_transaction().unwrap();
        for i in 0..3 {
            p.send(record(&topic, 0, format!("d{i}"))).await.unwrap();
        }
        p.commit_transaction().await.unwrap();

        let (log, high_watermark) = read_log(&client, &topic, 0).await;
        let pid = match &log[0] {
            Entry::Data { producer_id, .. } => *producer_id,
            other => panic!("first entry {other:?}"),
        };
        let mut expected: Vec<Entry> = (0..10).map(|i| data(i, &format!("c{i}"), pid)).collect();
        expected.push(Entry::Marker {
            offset: 10,
            commit: true,
        });
        expected.extend((0..5).map(|i| data(11 + i, &format!("a{i}"), pid)));
        expected.push(Entry::Marker {
            offset: 16,
            commit: false,
        });
        expected.extend((0..3).map(|i| data(17 + i, &format!("d{i}"), pid)));
        expected.push(Entry::Marker {
            offset: 20,
            commit: true,
        });
        assert_eq!(log, expected);
        assert_eq!(
            high_watermark, 21,
            "ten + five + three records and three markers"
        );
        p.close(Duration::from_secs(5)).await.unwrap();
    }
}

#[tokio::test]
async fn abort_drops_records_not_yet_sent() {
    support::init_tracing();
    for broker in support::tansu_and_embedded().await {
        eprintln!("== against {broker}");
        let topic = support::unique_topic("txn-drop");
        broker.create_topic(&topic, 1).await;
        let client = client(&broker.bootstrap()).await;
        // A linger far longer than the test: records stay in their open batch
        // until the abort takes them.
        let p: TransactionalProducer<String, String> = kafkit::producer::Producer::builder(&client)
            .linger(Duration::from_secs(60))
            .transactional_id("drop-1")
            .build()
            .unwrap();
        p.init_transactions().await.unwrap();
        p.begin_transaction().unwrap();
        let delivery = p.enqueue(record(&topic, 0, "never".into())).await.unwrap();
        p.abort_transaction().await.unwrap();
        let e = delivery.await.unwrap_err();
        assert!(e.requires_abort() && !e.is_fatal(), "{e}");

        let (log, _) = read_log(&client, &topic, 0).await;
        assert!(
            values(&log).is_empty(),
            "an unsent record reached the log: {log:?}"
        );
        // The partition was added to the transaction before the abort (the
        // sender adds partitions at once, whatever the linger), so the
        // coordinator ended it with an ABORT marker, or nothing was added and
        // the abort ended locally: either way no data.
        assert!(
            log.iter()
                .all(|e| matches!(e, Entry::Marker { commit: false, .. })),
            "{log:?}"
        );

        // The producer is usable afterwards.
        p.begin_transaction().unwrap();
        let after = p.enqueue(record(&topic, 0, "after".into())).await.unwrap();
        p.commit_transaction().await.unwrap();
        after.await.unwrap();
        let (log, _) = read_log(&client, &topic, 0).await;
        assert_eq!(values(&log), ["after"]);
        assert!(matches!(
            log.last(),
            Some(Entry::Marker { commit: true, .. })
        ));
    }
}

#[tokio::test]
async fn calls_in_the_wrong_state_are_refused_without_harm() {
    support::init_tracing();
    for broker in support::tansu_and_embedded().await {
        eprintln!("== against {broker}");
        let topic = support::unique_topic("txn-state");
        broker.create_topic(&topic, 1).await;
        let client = client(&broker.bootstrap()).await;
        let p: TransactionalProducer<String, String> =
            TransactionalProducer::builder(&client, "state-1")
                .build()
                .unwrap();

        let illegal = |r: Result<(), Error>| {
            let e = r.unwrap_err();
            assert!(
                matches!(e, Error::IllegalState(_)) && !e.is_fatal() && !e.requires_abort(),
                "{e}"
            );
        };
        illegal(p.begin_transaction());
        illegal(p.send(record(&topic, 0, "x".into())).await.map(|_| ()));
        p.init_transactions().await.unwrap();
        illegal(p.init_transactions().await);
        illegal(p.commit_transaction().await);
        illegal(p.abort_transaction().await);
        illegal(
            p.send(record(&topic, 0, "outside".into()))
                .await
                .map(|_| ()),
        );
        p.begin_transaction().unwrap();
        illegal(p.begin_transaction());
        p.send(record(&topic, 0, "inside".into())).await.unwrap();
        p.commit_transaction().await.unwrap();
        let (log, _) = read_log(&client, &topic, 0).await;
        assert_eq!(values(&log), ["inside"]);
    }
}

#[tokio::test]
async fn configuration_contradicting_transactions_is_refused() {
    for broker in support::tansu_and_embedded().await {
        eprintln!("== against {broker}");
        let client = client(&broker.bootstrap()).await;
        let no_idempotence = kafkit::producer::Producer::<String, String>::builder(&client)
            .enable_idempotence(false)
            .transactional_id("cfg")
            .build()
            .unwrap_err();
        assert!(
            matches!(no_idempotence, Error::Config(_)),
            "{no_idempotence}"
        );
        let acks = kafkit::producer::Producer::<String, String>::builder(&client)
            .acks(kafkit::producer::Acks::Leader)
            .transactional_id("cfg")
            .build()
            .unwrap_err();
        assert!(matches!(acks, Error::Config(_)), "{acks}");
        let empty = TransactionalProducer::<String, String>::builder(&client, "")
            .build()
            .unwrap_err();
        assert!(matches!(empty, Error::Config(_)), "{empty}");
    }
}
