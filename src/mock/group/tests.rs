//! The coordinator's logic driven through its handlers, without a network
//! (tokio's paused clock stands in for waiting out timeouts).

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::error::ResponseError as E;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::offset_commit_request::*;
use kafka_protocol::messages::offset_delete_request::*;
use kafka_protocol::messages::offset_fetch_request::*;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use super::*;

const G: &str = "g";

fn sb(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// Consumer protocol subscription v0: topics, no user data.
fn subscription(topics: &[&str]) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(0);
    b.put_i32(topics.len() as i32);
    for t in topics {
        b.put_i16(t.len() as i16);
        b.put_slice(t.as_bytes());
    }
    b.put_i32(-1);
    b.freeze()
}

fn join_req(member: &str, instance: Option<&str>, protocols: &[&str]) -> JoinGroupRequest {
    JoinGroupRequest::default()
        .with_group_id(sb(G).into())
        .with_session_timeout_ms(10_000)
        .with_rebalance_timeout_ms(30_000)
        .with_member_id(sb(member))
        .with_group_instance_id(instance.map(sb))
        .with_protocol_type(sb("consumer"))
        .with_protocols(
            protocols
                .iter()
                .map(|p| {
                    JoinGroupRequestProtocol::default()
                        .with_name(sb(p))
                        .with_metadata(subscription(&["t"]))
                })
                .collect(),
        )
}

fn caller() -> Caller {
    Caller {
        client_id: "c".into(),
        client_host: "/127.0.0.1".into(),
    }
}

/// A v9 join: MEMBER_ID_REQUIRED first (dynamic members), then the real
/// join, held until the rebalance completes.
async fn join(
    c: &GroupCoordinator,
    instance: Option<&str>,
    protocols: &[&str],
) -> JoinGroupResponse {
    let first = c
        .join_group(join_req("", instance, protocols), 9, caller())
        .await;
    if first.error_code != E::MemberIdRequired.code() {
        return first;
    }
    c.join_group(
        join_req(first.member_id.as_str(), instance, protocols),
        9,
        caller(),
    )
    .await
}

fn spawn_join(
    c: &GroupCoordinator,
    member: &str,
    instance: Option<&str>,
) -> tokio::task::JoinHandle<JoinGroupResponse> {
    let c = c.clone();
    let req = join_req(member, instance, &["range"]);
    tokio::spawn(async move { c.join_group(req, 9, caller()).await })
}

fn sync_req(member: &str, generation: i32, assignments: &[(&str, &[u8])]) -> SyncGroupRequest {
    SyncGroupRequest::default()
        .with_group_id(sb(G).into())
        .with_generation_id(generation)
        .with_member_id(sb(member))
        .with_assignments(
            assignments
                .iter()
                .map(|(m, a)| {
                    SyncGroupRequestAssignment::default()
                        .with_member_id(sb(m))
                        .with_assignment(Bytes::copy_from_slice(a))
                })
                .collect(),
        )
}

async fn heartbeat(
    c: &GroupCoordinator,
    member: &str,
    generation: i32,
    instance: Option<&str>,
) -> i16 {
    let req = HeartbeatRequest::default()
        .with_group_id(sb(G).into())
        .with_generation_id(generation)
        .with_member_id(sb(member))
        .with_group_instance_id(instance.map(sb));
    c.heartbeat(req, 4).await.error_code
}

/// One member joined and synced: (member id, generation).
async fn stable_single(c: &GroupCoordinator, instance: Option<&str>) -> (String, i32) {
    let j = join(c, instance, &["range"]).await;
    assert_eq!(j.error_code, 0);
    let id = j.member_id.to_string();
    assert_eq!(j.leader.as_str(), id);
    let s = c
        .sync_group(sync_req(&id, j.generation_id, &[(&id, b"A")]), 5)
        .await;
    assert_eq!(s.error_code, 0);
    assert_eq!(&s.assignment[..], b"A");
    (id, j.generation_id)
}

#[tokio::test(start_paused = true)]
async fn member_id_required_then_join_sync_stable() {
    let c = GroupCoordinator::default();
    let first = c
        .join_group(join_req("", None, &["range"]), 4, caller())
        .await;
    assert_eq!(first.error_code, E::MemberIdRequired.code());
    assert!(first.member_id.starts_with("c-"));
    // v3 and older get an id and join at once.
    let (id, generation) = stable_single(&c, None).await;
    let snap = c.group_state(G).unwrap();
    assert_eq!(snap.state, GroupState::Stable);
    assert_eq!(snap.generation, generation);
    assert_eq!(snap.protocol.as_deref(), Some("range"));
    assert_eq!(snap.leader.as_deref(), Some(id.as_str()));
    assert_eq!(&snap.members[0].assignment[..], b"A");
}

#[tokio::test(start_paused = true)]
async fn second_member_rebalances_and_both_get_the_new_generation() {
    let c = GroupCoordinator::default();
    let (a, gen1) = stable_single(&c, None).await;
    let b_first = c
        .join_group(join_req("", None, &["range"]), 9, caller())
        .await;
    let b = spawn_join(&c, b_first.member_id.as_str(), None);
    tokio::task::yield_now().await;
    assert_eq!(
        c.group_state(G).unwrap().state,
        GroupState::PreparingRebalance
    );
    assert_eq!(
        heartbeat(&c, &a, gen1, None).await,
        E::RebalanceInProgress.code()
    );
    let a_join = spawn_join(&c, &a, None).await.unwrap();
    let b_join = b.await.unwrap();
    assert_eq!(a_join.generation_id, gen1 + 1);
    assert_eq!(b_join.generation_id, gen1 + 1);
    assert_eq!(a_join.leader.as_str(), a, "the leader stays the leader");
    assert_eq!(a_join.members.len(), 2);
    assert!(b_join.members.is_empty());
    // The follower waits for the leader's assignment.
    let c2 = c.clone();
    let b_id = b_join.member_id.to_string();
    let follower =
        tokio::spawn(async move { c2.sync_group(sync_req(&b_id, gen1 + 1, &[]), 5).await });
    tokio::task::yield_now().await;
    let bm = b_join.member_id.to_string();
    let leader = c
        .sync_group(sync_req(&a, gen1 + 1, &[(&a, b"A"), (&bm, b"B")]), 5)
        .await;
    assert_eq!(&leader.assignment[..], b"A");
    assert_eq!(
        leader.protocol_name.as_ref().map(|p| p.as_str()),
        Some("range")
    );
    let follower = follower.await.unwrap();
    assert_eq!(follower.error_code, 0);
    assert_eq!(&follower.assignment[..], b"B");
    assert_eq!(c.group_state(G).unwrap().state, GroupState::Stable);
}

#[tokio::test(start_paused = true)]
async fn member_not_rejoining_is_removed_after_the_rebalance_timeout() {
    let c = GroupCoordinator::default();
    let (a, _) = stable_single(&c, None).await;
    let b_first = c
        .join_group(join_req("", None, &["range"]), 9, caller())
        .await;
    let b = spawn_join(&c, b_first.member_id.as_str(), None);
    // `a` heartbeats through its session but never rejoins; the rebalance
    // timeout (30 s) completes the join without it.
    let joined = b.await.unwrap();
    assert_eq!(joined.error_code, 0);
    assert_eq!(joined.leader, joined.member_id);
    assert_eq!(joined.members.len(), 1);
    let snap = c.group_state(G).unwrap();
    assert!(snap.members.iter().all(|m| m.member_id != a));
    assert_eq!(snap.state, GroupState::CompletingRebalance);
}

#[tokio::test(start_paused = true)]
async fn session_expiry_removes_the_member_and_empties_the_group() {
    let c = GroupCoordinator::default();
    let (a, generation) = stable_single(&c, None).await;
    tokio::time::sleep(Duration::from_millis(9_000)).await;
    assert_eq!(heartbeat(&c, &a, generation, None).await, 0);
    tokio::time::sleep(Duration::from_millis(9_000)).await;
    assert_eq!(
        c.group_state(G).unwrap().members.len(),
        1,
        "the heartbeat reset the timer"
    );
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    let snap = c.group_state(G).unwrap();
    assert!(snap.members.is_empty());
    assert_eq!(snap.state, GroupState::Empty);
    assert_eq!(snap.generation, generation + 1);
    assert_eq!(
        heartbeat(&c, &a, generation, None).await,
        E::UnknownMemberId.code()
    );
}

#[tokio::test(start_paused = true)]
async fn static_member_rejoining_replaces_without_rebalance() {
    let c = GroupCoordinator::default();
    let (old, generation) = stable_single(&c, Some("i1")).await;
    let again = join(&c, Some("i1"), &["range"]).await;
    assert_eq!(again.error_code, 0);
    assert_ne!(again.member_id.as_str(), old);
    assert_eq!(again.generation_id, generation, "no rebalance");
    assert!(again.skip_assignment, "the leader keeps the assignment");
    let snap = c.group_state(G).unwrap();
    assert_eq!(snap.state, GroupState::Stable);
    assert_eq!(&snap.members[0].assignment[..], b"A");
    let new = again.member_id.to_string();
    let s = c
        .sync_group(
            sync_req(&new, generation, &[]).with_group_instance_id(Some(sb("i1"))),
            5,
        )
        .await;
    assert_eq!(&s.assignment[..], b"A");
    assert_eq!(
        heartbeat(&c, &old, generation, Some("i1")).await,
        E::FencedInstanceId.code()
    );
    assert_eq!(heartbeat(&c, &new, generation, Some("i1")).await, 0);
}

#[tokio::test(start_paused = true)]
async fn fencing_of_sync_heartbeat_and_commit() {
    let c = GroupCoordinator::default();
    let (a, generation) = stable_single(&c, None).await;
    assert_eq!(
        heartbeat(&c, &a, generation + 1, None).await,
        E::IllegalGeneration.code()
    );
    assert_eq!(
        heartbeat(&c, "nobody", generation, None).await,
        E::UnknownMemberId.code()
    );
    let s = c.sync_group(sync_req(&a, generation - 1, &[]), 5).await;
    assert_eq!(s.error_code, E::IllegalGeneration.code());
    let s = c
        .sync_group(
            sync_req(&a, generation, &[]).with_protocol_name(Some(sb("roundrobin"))),
            5,
        )
        .await;
    assert_eq!(s.error_code, E::InconsistentGroupProtocol.code());
    let commit = |member: &str, generation: i32, metadata: &str| {
        OffsetCommitRequest::default()
            .with_group_id(sb(G).into())
            .with_generation_id_or_member_epoch(generation)
            .with_member_id(sb(member))
            .with_topics(vec![
                OffsetCommitRequestTopic::default()
                    .with_name(sb("t").into())
                    .with_partitions(vec![
                        OffsetCommitRequestPartition::default()
                            .with_partition_index(0)
                            .with_committed_offset(42)
                            .with_committed_leader_epoch(3)
                            .with_committed_metadata(Some(sb(metadata))),
                    ]),
            ])
    };
    let code = |r: OffsetCommitResponse| r.topics[0].partitions[0].error_code;
    assert_eq!(
        code(c.offset_commit(commit(&a, generation + 1, ""), 9).await),
        E::IllegalGeneration.code()
    );
    assert_eq!(
        code(c.offset_commit(commit("x", generation, ""), 9).await),
        E::UnknownMemberId.code()
    );
    assert_eq!(
        code(c.offset_commit(commit("", -1, ""), 9).await),
        E::UnknownMemberId.code()
    );
    let big = "m".repeat(4097);
    assert_eq!(
        code(c.offset_commit(commit(&a, generation, &big), 9).await),
        E::OffsetMetadataTooLarge.code()
    );
    assert_eq!(
        code(c.offset_commit(commit(&a, generation, "meta"), 9).await),
        0
    );
    let o = &c.group_state(G).unwrap().offsets[&("t".to_string(), 0)];
    assert_eq!(
        (o.offset, o.leader_epoch, o.metadata.as_deref()),
        (42, 3, Some("meta"))
    );
}

#[tokio::test(start_paused = true)]
async fn simple_commit_fetch_and_transactional_offsets() {
    let c = GroupCoordinator::default();
    let commit = OffsetCommitRequest::default()
        .with_group_id(sb("simple").into())
        .with_generation_id_or_member_epoch(-1)
        .with_topics(vec![
            OffsetCommitRequestTopic::default()
                .with_name(sb("t").into())
                .with_partitions(vec![
                    OffsetCommitRequestPartition::default()
                        .with_partition_index(1)
                        .with_committed_offset(7),
                ]),
        ]);
    assert_eq!(
        c.offset_commit(commit, 2).await.topics[0].partitions[0].error_code,
        0
    );
    let fetch = |topics: Option<Vec<OffsetFetchRequestTopic>>, stable: bool| {
        OffsetFetchRequest::default()
            .with_group_id(sb("simple").into())
            .with_topics(topics)
            .with_require_stable(stable)
    };
    let asked = vec![
        OffsetFetchRequestTopic::default()
            .with_name(sb("t").into())
            .with_partition_indexes(vec![0, 1]),
    ];
    let r = c.offset_fetch(fetch(Some(asked.clone()), false), 7).await;
    let offsets: Vec<i64> = r.topics[0]
        .partitions
        .iter()
        .map(|p| p.committed_offset)
        .collect();
    assert_eq!(offsets, vec![-1, 7]);
    let all = c.offset_fetch(fetch(None, false), 7).await;
    assert_eq!(all.topics[0].partitions.len(), 1);
    let staged = c.stage_txn_offsets(
        "simple",
        9,
        0,
        vec![(
            ("t".into(), 0),
            CommittedOffset {
                offset: 5,
                leader_epoch: -1,
                metadata: None,
            },
        )],
    );
    assert_eq!(staged[0].1, 0);
    let r = c.offset_fetch(fetch(Some(asked.clone()), true), 7).await;
    assert_eq!(
        r.topics[0].partitions[0].error_code,
        E::UnstableOffsetCommit.code()
    );
    c.complete_txn_offsets(9, true);
    let r = c.offset_fetch(fetch(Some(asked), true), 7).await;
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
    assert_eq!(r.topics[0].partitions[0].committed_offset, 5);
    // v8+: several groups in one request.
    let multi = OffsetFetchRequest::default().with_groups(vec![
        OffsetFetchRequestGroup::default()
            .with_group_id(sb("simple").into())
            .with_topics(None),
        OffsetFetchRequestGroup::default()
            .with_group_id(sb("none").into())
            .with_topics(None),
    ]);
    let r = c.offset_fetch(multi, 8).await;
    assert_eq!(r.groups[0].topics[0].partitions.len(), 2);
    assert!(r.groups[1].topics.is_empty());
}

#[tokio::test(start_paused = true)]
async fn protocol_selection_by_votes_and_inconsistent_protocols() {
    let c = GroupCoordinator::default();
    let (a, _) = stable_single(&c, None).await;
    let bad = c
        .join_group(join_req("", None, &["roundrobin"]), 9, caller())
        .await;
    assert_eq!(bad.error_code, E::InconsistentGroupProtocol.code());
    let c2 = GroupCoordinator::default();
    let x = c2.join_group(
        join_req("", None, &["cooperative-sticky", "range"]),
        3,
        caller(),
    );
    let y = c2.join_group(
        join_req("", None, &["range", "cooperative-sticky"]),
        3,
        caller(),
    );
    let z = c2.join_group(join_req("", None, &["range"]), 3, caller());
    // The first completes alone at once; the others rebalance with it.
    let x = x.await;
    let (y, z, x2) = tokio::join!(
        y,
        z,
        c2.join_group(
            join_req(x.member_id.as_str(), None, &["cooperative-sticky", "range"]),
            3,
            caller()
        )
    );
    assert_eq!(y.protocol_name.as_ref().unwrap().as_str(), "range");
    assert_eq!(z.generation_id, x2.generation_id);
    assert_eq!(
        c2.group_state(G).unwrap().protocol.as_deref(),
        Some("range")
    );
    let _ = a;
}

#[tokio::test(start_paused = true)]
async fn leave_delete_list_describe_and_offset_delete() {
    let c = GroupCoordinator::default();
    let (a, generation) = stable_single(&c, Some("i1")).await;
    let commit = OffsetCommitRequest::default()
        .with_group_id(sb(G).into())
        .with_generation_id_or_member_epoch(generation)
        .with_member_id(sb(&a))
        .with_topics(vec![
            OffsetCommitRequestTopic::default()
                .with_name(sb("t").into())
                .with_partitions(vec![
                    OffsetCommitRequestPartition::default().with_committed_offset(1),
                ]),
            OffsetCommitRequestTopic::default()
                .with_name(sb("u").into())
                .with_partitions(vec![
                    OffsetCommitRequestPartition::default().with_committed_offset(2),
                ]),
        ]);
    c.offset_commit(commit, 8).await;
    let del = |topic: &str| {
        OffsetDeleteRequest::default()
            .with_group_id(sb(G).into())
            .with_topics(vec![
                OffsetDeleteRequestTopic::default()
                    .with_name(sb(topic).into())
                    .with_partitions(vec![OffsetDeleteRequestPartition::default()]),
            ])
    };
    let r = c.offset_delete(del("t"), 0).await;
    assert_eq!(
        r.topics[0].partitions[0].error_code,
        E::GroupSubscribedToTopic.code()
    );
    let r = c.offset_delete(del("u"), 0).await;
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
    let listed = c
        .list_groups(
            ListGroupsRequest::default().with_states_filter(vec![sb("stable")]),
            5,
        )
        .await;
    assert_eq!(listed.groups.len(), 1);
    assert_eq!(listed.groups[0].group_state.as_str(), "Stable");
    let none = c
        .list_groups(
            ListGroupsRequest::default().with_states_filter(vec![sb("Empty")]),
            4,
        )
        .await;
    assert!(none.groups.is_empty());
    let d = c
        .describe_groups(
            DescribeGroupsRequest::default().with_groups(vec![sb(G).into(), sb("x").into()]),
            5,
        )
        .await;
    assert_eq!(d.groups[0].protocol_data.as_str(), "range");
    assert_eq!(
        d.groups[0].members[0]
            .group_instance_id
            .as_ref()
            .unwrap()
            .as_str(),
        "i1"
    );
    assert_eq!(&d.groups[0].members[0].member_assignment[..], b"A");
    assert_eq!(d.groups[1].group_state.as_str(), "Dead");
    let delete = || DeleteGroupsRequest::default().with_groups_names(vec![sb(G).into()]);
    assert_eq!(
        c.delete_groups(delete(), 2).await.results[0].error_code,
        E::NonEmptyGroup.code()
    );
    // v3+ leave by instance id only.
    let leave = LeaveGroupRequest::default()
        .with_group_id(sb(G).into())
        .with_members(vec![
            MemberIdentity::default().with_group_instance_id(Some(sb("i1"))),
        ]);
    let r = c.leave_group(leave, 5).await;
    assert_eq!(r.members[0].error_code, 0);
    assert_eq!(c.group_state(G).unwrap().state, GroupState::Empty);
    assert_eq!(c.delete_groups(delete(), 2).await.results[0].error_code, 0);
    assert!(c.group_state(G).is_none());
    assert_eq!(
        c.delete_groups(delete(), 2).await.results[0].error_code,
        E::GroupIdNotFound.code()
    );
}

#[tokio::test(start_paused = true)]
async fn join_waits_for_members_in_the_member_id_handshake() {
    let c = GroupCoordinator::default();
    let a = c
        .join_group(join_req("", None, &["range"]), 9, caller())
        .await;
    let b = c
        .join_group(join_req("", None, &["range"]), 9, caller())
        .await;
    let held = spawn_join(&c, a.member_id.as_str(), None);
    tokio::task::yield_now().await;
    assert!(!held.is_finished(), "b has not joined yet");
    let b = spawn_join(&c, b.member_id.as_str(), None).await.unwrap();
    let a = held.await.unwrap();
    assert_eq!((a.generation_id, b.generation_id), (1, 1));
    assert_eq!(c.group_state(G).unwrap().members.len(), 2);
    // A handshake never finished is forgotten after the session timeout.
    let _ = c
        .join_group(join_req("", None, &["range"]), 9, caller())
        .await;
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert!(c.lock().groups[G].pending_members.is_empty());
}

#[tokio::test(start_paused = true)]
async fn static_member_with_a_stale_member_id_is_fenced() {
    let c = GroupCoordinator::default();
    let (_, _) = stable_single(&c, Some("i1")).await;
    let stale = c
        .join_group(join_req("i1-old", Some("i1"), &["range"]), 9, caller())
        .await;
    assert_eq!(stale.error_code, E::FencedInstanceId.code());
}

/// Every response the handlers build encodes at every version they serve
/// (a field set that a version lacks would make the cluster close the
/// connection).
#[tokio::test(start_paused = true)]
async fn responses_encode_at_every_version() {
    use kafka_protocol::protocol::Encodable;
    fn enc<T: Encodable>(r: &T, v: i16, what: &str) {
        let mut b = BytesMut::new();
        r.encode(&mut b, v)
            .unwrap_or_else(|e| panic!("{what} v{v}: {e:#}"));
    }
    let c = GroupCoordinator::default();
    let (a, generation) = stable_single(&c, Some("i1")).await;
    for v in 0..=9 {
        let r = c
            .join_group(join_req(&a, Some("i1"), &["range"]), v, caller())
            .await;
        enc(&r, v, "JoinGroup");
        let r = c
            .join_group(join_req("", None, &["roundrobin"]), v, caller())
            .await;
        enc(&r, v, "JoinGroup error");
    }
    for v in 0..=5 {
        let r = c.sync_group(sync_req(&a, generation, &[]), v).await;
        enc(&r, v, "SyncGroup");
        let leave = LeaveGroupRequest::default().with_group_id(sb("other").into());
        enc(&c.leave_group(leave, v).await, v, "LeaveGroup");
        let d = DescribeGroupsRequest::default().with_groups(vec![sb(G).into()]);
        enc(&c.describe_groups(d, v).await, v, "DescribeGroups");
        enc(
            &c.list_groups(ListGroupsRequest::default(), v).await,
            v,
            "ListGroups",
        );
    }
    for v in 0..=4 {
        let req = HeartbeatRequest::default()
            .with_group_id(sb(G).into())
            .with_generation_id(generation)
            .with_member_id(sb(&a));
        enc(&c.heartbeat(req, v).await, v, "Heartbeat");
    }
    // kafka-protocol 0.18 (like Kafka 4) speaks OffsetCommit v2+ and
    // OffsetFetch v1+.
    for v in 1..=9 {
        let commit = OffsetCommitRequest::default()
            .with_group_id(sb("s").into())
            .with_generation_id_or_member_epoch(-1)
            .with_topics(vec![
                OffsetCommitRequestTopic::default()
                    .with_name(sb("t").into())
                    .with_partitions(vec![OffsetCommitRequestPartition::default()]),
            ]);
        if v >= 2 {
            enc(&c.offset_commit(commit, v).await, v, "OffsetCommit");
        }
        let fetch = if v >= 8 {
            OffsetFetchRequest::default().with_groups(vec![
                OffsetFetchRequestGroup::default()
                    .with_group_id(sb("s").into())
                    .with_topics(None),
            ])
        } else {
            OffsetFetchRequest::default()
                .with_group_id(sb("s").into())
                .with_topics((v < 2).then(|| {
                    vec![
                        OffsetFetchRequestTopic::default()
                            .with_name(sb("t").into())
                            .with_partition_indexes(vec![0, 1]),
                    ]
                }))
        };
        enc(&c.offset_fetch(fetch, v).await, v, "OffsetFetch");
    }
    let del = OffsetDeleteRequest::default().with_group_id(sb("s").into());
    enc(&c.offset_delete(del, 0).await, 0, "OffsetDelete");
    for v in 0..=2 {
        let d = DeleteGroupsRequest::default().with_groups_names(vec![sb("nope").into()]);
        enc(&c.delete_groups(d, v).await, v, "DeleteGroups");
    }
}

#[tokio::test(start_paused = true)]
async fn leader_leaving_hands_leadership_to_a_rejoining_member() {
    let c = GroupCoordinator::default();
    let (a, gen1) = stable_single(&c, None).await;
    let b_first = c
        .join_group(join_req("", None, &["range"]), 9, caller())
        .await;
    let b = spawn_join(&c, b_first.member_id.as_str(), None);
    tokio::task::yield_now().await;
    let a_join = spawn_join(&c, &a, None).await.unwrap();
    let b_id = b.await.unwrap().member_id.to_string();
    let gen2 = a_join.generation_id;
    assert_eq!(gen2, gen1 + 1);
    let c2 = c.clone();
    let b2 = b_id.clone();
    let follower = tokio::spawn(async move { c2.sync_group(sync_req(&b2, gen2, &[]), 5).await });
    tokio::task::yield_now().await;
    c.sync_group(sync_req(&a, gen2, &[(&a, b"A"), (&b_id, b"B")]), 5)
        .await;
    assert_eq!(&follower.await.unwrap().assignment[..], b"B");
    // v0-v2 leave of the leader by member id.
    let leave = LeaveGroupRequest::default()
        .with_group_id(sb(G).into())
        .with_member_id(sb(&a));
    assert_eq!(c.leave_group(leave, 1).await.error_code, 0);
    assert_eq!(
        heartbeat(&c, &b_id, gen2, None).await,
        E::RebalanceInProgress.code()
    );
    let rejoined = spawn_join(&c, &b_id, None).await.unwrap();
    assert_eq!(rejoined.generation_id, gen2 + 1);
    assert_eq!(rejoined.leader.as_str(), b_id, "the remaining member leads");
    assert_eq!(rejoined.members.len(), 1);
}
