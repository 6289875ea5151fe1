//! A second instance with the same transactional id fences the first
//! (Tansu bumps the epoch on InitProducerId and refuses the old one).

use std::time::Duration;

use kafkit::producer::TransactionState;

use crate::common::{client, producer, read_log, record, values};
use crate::support;

#[tokio::test]
async fn a_second_instance_fences_the_first() {
    support::init_tracing();
    for broker in support::tansu_and_embedded().await {
        eprintln!("== against {broker}");
        let topic = support::unique_topic("txn-fence");
        broker.create_topic(&topic, 1).await;
        let client_a = client(&broker.bootstrap()).await;
        let client_b = client(&broker.bootstrap()).await;

        let first = producer(&client_a, "fence-1").await;
        first.begin_transaction().unwrap();
        first
            .send(record(&topic, 0, "first-ok".into()))
            .await
            .unwrap();
        first.commit_transaction().await.unwrap();

        let second = producer(&client_b, "fence-1").await;

        // begin_transaction is local; the first call that reaches a broker
        // finds the older epoch fenced.
        first.begin_transaction().unwrap();
        let e = first
            .send(record(&topic, 0, "first-fenced".into()))
            .await
            .unwrap_err();
        assert!(e.is_fatal(), "the fenced send must fail fatally: {e}");
        let e = first.commit_transaction().await.unwrap_err();
        assert!(e.is_fatal(), "{e}");
        assert!(matches!(
            first.transaction_state(),
            TransactionState::FatalError(_)
        ));
        let e = first.begin_transaction().unwrap_err();
        assert!(e.is_fatal(), "every later call fails: {e}");
        let e = first.abort_transaction().await.unwrap_err();
        assert!(e.is_fatal(), "{e}");

        second.begin_transaction().unwrap();
        second
            .send(record(&topic, 0, "second".into()))
            .await
            .unwrap();
        second.commit_transaction().await.unwrap();

        let (log, _) = read_log(&client_a, &topic, 0).await;
        let written = values(&log);
        assert!(
            written.contains(&"first-ok".to_string()) && written.contains(&"second".to_string())
        );
        assert!(
            !written.contains(&"first-fenced".to_string()),
            "{written:?}"
        );
        let _ = first.close(Duration::from_secs(1)).await;
        second.close(Duration::from_secs(5)).await.unwrap();
    }
}
