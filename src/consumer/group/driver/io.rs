//! The membership's requests on the wire: FindCoordinator, the coordinator
//! requests the machine asks for, and the offset calls. Each runs as its
//! own task and answers with exactly one result.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::{
    HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest, OffsetCommitRequest, OffsetFetchRequest,
    SyncGroupRequest,
};

use super::offsets::{self, CommitIdentity, OffsetAndMetadata, Outcome};
use super::requests::{self, JoinSettings};
use crate::client::Client;
use crate::consumer::group::machine::{Event, Request, RequestKind};
use crate::net::connection::Connection;
use crate::net::pool::BrokerRef;
use crate::protocol::coordinator::CoordinatorKey;
use crate::{ErrorCode, Result, TopicPartition};

/// JoinGroup is held by the coordinator for up to the rebalance timeout;
/// Java gives it that plus 5 s.
const JOIN_GROUP_EXTRA: Duration = Duration::from_secs(5);

/// What the request tasks share: the client, the group's settings and the
/// member's own JoinGroup/SyncGroup connection.
#[derive(Clone)]
pub(super) struct Io {
    pub client: Client,
    pub group_id: Arc<str>,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    /// The coordinator connection for JoinGroup/SyncGroup, this member's
    /// alone: the coordinator answers a connection's requests in order and
    /// holds a JoinGroup until every member has joined, so two members of
    /// one process sharing a socket would wait for each other until the
    /// rebalance timeout. Heartbeats and commits use the pool's control
    /// lane, so a held JoinGroup never delays them.
    group_conn: Arc<tokio::sync::Mutex<Option<(i32, Connection)>>>,
}

impl Io {
    pub(super) fn new(
        client: Client,
        group_id: &str,
        session_timeout: Duration,
        rebalance_timeout: Duration,
    ) -> Io {
        Io {
            client,
            group_id: group_id.into(),
            session_timeout,
            rebalance_timeout,
            group_conn: Arc::default(),
        }
    }

    async fn group_connection(&self, coordinator: i32) -> Result<Connection> {
        let mut slot = self.group_conn.lock().await;
        if let Some((id, conn)) = slot.as_ref()
            && *id == coordinator
            && !conn.needs_replacement()
        {
            return Ok(conn.clone());
        }
        if let Some((id, old)) = slot.take() {
            // A connection whose SASL session ends soon (KIP-368) is let go
            // without closing it: a request in flight on it finishes.
            if id != coordinator || old.is_closed() {
                old.close();
            }
        }
        self.client.ensure_open()?;
        let conn = self
            .client
            .pool()
            .connect_unpooled(BrokerRef::Node(coordinator))
            .await?;
        *slot = Some((coordinator, conn.clone()));
        Ok(conn)
    }

    /// Drops the JoinGroup/SyncGroup connection (the coordinator is gone):
    /// a request held on it fails at once instead of at its timeout.
    pub(super) fn close_group_connection(&self) {
        // Locked means a task is connecting right now: that connection is
        // new, and is checked against the coordinator at its next use.
        if let Ok(mut slot) = self.group_conn.try_lock()
            && let Some((_, conn)) = slot.take()
        {
            conn.close();
        }
    }

    /// FindCoordinator to any broker: the coordinator's node id, or why not.
    pub(super) async fn find_coordinator(&self) -> Result<i32> {
        self.client
            .find_coordinator(CoordinatorKey::Group, &self.group_id)
            .await
    }

    /// Sends a coordinator request and turns its response into the event
    /// the machine expects, with an error the user should see, if any. The
    /// error returned is for `RequestFailed`.
    pub(super) async fn coordinator_request(
        &self,
        coordinator: i32,
        request: Request,
        protocols: Vec<(String, Bytes)>,
    ) -> Result<(Event, Option<crate::Error>)> {
        let group_id: &str = &self.group_id;
        match request {
            Request::JoinGroup(join) => {
                let conn = self.group_connection(coordinator).await?;
                let version = conn.api_versions().negotiate::<JoinGroupRequest>()?;
                let settings = JoinSettings {
                    group_id,
                    session_timeout_ms: millis(self.session_timeout),
                    rebalance_timeout_ms: millis(self.rebalance_timeout),
                    protocols: &protocols,
                };
                let request = requests::join_group(version, &settings, &join);
                let timeout = self
                    .client
                    .request_timeout()
                    .max(self.rebalance_timeout + JOIN_GROUP_EXTRA);
                let response = conn.send_version_timeout(request, version, timeout).await?;
                Ok((
                    Event::JoinGroupResponse(requests::join_group_event(response)),
                    None,
                ))
            }
            Request::SyncGroup(sync) => {
                let conn = self.group_connection(coordinator).await?;
                let version = conn.api_versions().negotiate::<SyncGroupRequest>()?;
                let response = conn
                    .send_version(requests::sync_group(version, group_id, &sync), version)
                    .await?;
                // Assignment bytes that do not decode are the leader's
                // fault, not the connection's: the request failed (the
                // member rejoins) and the user is told why.
                Ok(match requests::sync_group_event(response) {
                    Ok(event) => (Event::SyncGroupResponse(event), None),
                    Err(error) => (
                        Event::RequestFailed {
                            request: RequestKind::SyncGroup,
                            error: error.clone(),
                        },
                        Some(error),
                    ),
                })
            }
            Request::Heartbeat(hb) => {
                let conn = self.client.connection(coordinator).await?;
                let version = conn.api_versions().negotiate::<HeartbeatRequest>()?;
                let response = conn
                    .send_version(requests::heartbeat(version, group_id, &hb), version)
                    .await?;
                Ok((
                    Event::HeartbeatResponse {
                        error: ErrorCode(response.error_code),
                    },
                    None,
                ))
            }
            Request::LeaveGroup(leave) => {
                let conn = self.client.connection(coordinator).await?;
                let version = conn.api_versions().negotiate::<LeaveGroupRequest>()?;
                let response = conn
                    .send_version(requests::leave_group(version, group_id, &leave), version)
                    .await?;
                Ok((
                    Event::LeaveGroupResponse {
                        error: requests::leave_group_error(&response),
                    },
                    None,
                ))
            }
        }
    }

    /// OffsetCommit to `coordinator`.
    pub(super) async fn commit(
        &self,
        coordinator: i32,
        identity: &CommitIdentity,
        offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> Outcome<()> {
        let attempt = async {
            let conn = self.client.connection(coordinator).await?;
            let version = conn.api_versions().negotiate::<OffsetCommitRequest>()?;
            conn.send(offsets::offset_commit(
                version,
                &self.group_id,
                identity,
                offsets,
            ))
            .await
        };
        match attempt.await {
            Ok(response) => offsets::commit_outcome(&response),
            Err(e) => transport_outcome(e),
        }
    }

    /// OffsetFetch from `coordinator`.
    pub(super) async fn fetch(
        &self,
        coordinator: i32,
        partitions: &[TopicPartition],
        require_stable: bool,
    ) -> Outcome<BTreeMap<TopicPartition, Option<OffsetAndMetadata>>> {
        let attempt = async {
            let conn = self.client.connection(coordinator).await?;
            let version = conn.api_versions().negotiate::<OffsetFetchRequest>()?;
            conn.send(offsets::offset_fetch(
                version,
                &self.group_id,
                partitions,
                require_stable,
            ))
            .await
        };
        match attempt.await {
            Ok(response) => offsets::fetch_outcome(&response, partitions),
            Err(e) => transport_outcome(e),
        }
    }
}

/// A request that got no response: a lost connection means the
/// coordinator must be found again (Java marks it unknown on disconnect);
/// anything else (unsupported version, closed client) is the caller's.
fn transport_outcome<T>(error: crate::Error) -> Outcome<T> {
    if error.is_retriable() {
        Outcome::Rediscover(ErrorCode::COORDINATOR_NOT_AVAILABLE)
    } else {
        Outcome::Done(Err(error))
    }
}

fn millis(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}
