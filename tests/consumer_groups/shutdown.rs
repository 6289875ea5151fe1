//! `Client::close` under a group member drops every connection at once,
//! including the member's own JoinGroup/SyncGroup connection and the extra
//! fetch lanes' connections, which the client's pool does not hold.

use std::time::Duration;

use kafkit::consumer::{Consumer, OffsetReset};

use crate::support::{self, TestBroker, group_client};

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_close_drops_the_group_and_fetch_connections_at_once() {
    let broker = TestBroker::mock(1);
    let topic = support::unique_topic("shutdown");
    broker.create_topic(&topic, 4).await;
    let ports = support::bootstrap_ports(&broker.bootstrap());
    let before = support::wait_for_connections(&ports, Duration::from_secs(5), |n| n == 0).await;
    assert_eq!(before, 0, "connections before the test");

    let client = group_client(&broker.bootstrap()).await;
    // Long heartbeats and long polls: without an immediate stop, the group
    // connection would stay until a heartbeat failed, and the fetch lanes'
    // until their long polls (held 9 s by the mock) ended.
    let consumer: Consumer<String, String> = Consumer::builder(&client)
        .group_id(support::unique_topic("g"))
        .auto_offset_reset(OffsetReset::Earliest)
        .session_timeout(Duration::from_secs(30))
        .heartbeat_interval(Duration::from_secs(10))
        .fetch_max_wait(Duration::from_secs(9))
        .fetch_connections_per_broker(2)
        .build()
        .unwrap();
    consumer.subscribe([topic.clone()]).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while consumer.assignment().len() < 4 {
        assert!(tokio::time::Instant::now() < deadline, "never assigned");
        consumer.poll(Duration::from_millis(200)).await.unwrap();
    }
    // Control, the member's group connection and two fetch lanes.
    let open = support::wait_for_connections(&ports, Duration::from_secs(5), |n| n >= 4).await;
    assert!(open >= 4, "{open} connections");

    client.close(Duration::from_secs(1)).await;
    let left = support::wait_for_connections(&ports, Duration::from_secs(1), |n| n == 0).await;
    assert_eq!(
        left, 0,
        "of {open} connections, left 1 s after Client::close"
    );
    drop(consumer);
}
