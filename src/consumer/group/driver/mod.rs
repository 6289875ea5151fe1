//! Consumer-group membership on the wire: the task that runs the
//! [`GroupMachine`](crate::consumer::group::machine::GroupMachine) against the group
//! coordinator, and the [`MembershipHandle`] the consumer holds.
//!
//! [`Membership::spawn`] starts one tokio task per member. It feeds the
//! machine the user's calls, the coordinator's answers and the passing of
//! time, and carries out what the machine asks: FindCoordinator, JoinGroup
//! (one subscription per configured assignor, encoded in the "consumer"
//! embedded protocol), SyncGroup, Heartbeat and LeaveGroup at the versions
//! the broker and we both speak; as leader it runs the assignor the group
//! chose over every member's subscription.
//!
//! User code never runs on the task. Rebalance callbacks become
//! [`RebalanceEvent`]s that the consumer takes with
//! [`MembershipHandle::next_event`]; the machine waits until an event is
//! finished before it goes on, exactly as Java waits for its
//! `ConsumerRebalanceListener`, so the consumer may commit in a revoke.
//!
//! Offsets are committed and fetched through the handle: the task adds the
//! generation (Java's `generationIfStable`) and the coordinator, retries
//! coordinator moves within `default.api.timeout.ms`, and tells the
//! machine about group errors.
//!
//! Connections: JoinGroup and SyncGroup go on a connection of this member
//! alone (the coordinator holds a JoinGroup for the whole rebalance and
//! answers a connection's requests in order, so members of one process
//! must not share it); Heartbeat, LeaveGroup and the offset calls use the
//! client's control lane, so a held JoinGroup never delays a heartbeat.
//!
//! The rebalance protocol is the one every configured assignor supports,
//! as in Java (see [`MembershipConfig::rebalance_protocol`]).

mod assign;
mod config;
mod handle;
mod io;
mod offsets;
mod requests;
mod task;

/// The driver against real brokers (Tansu, librdkafka's mock cluster),
/// as a member the way a consumer's poll loop drives it.
#[cfg(test)]
mod broker_tests;

use std::sync::Arc;

use tokio::sync::mpsc;

pub use config::MembershipConfig;
pub(crate) use handle::MembershipMetricsReader;
pub use handle::{
    CommitHandle, GroupMetadata, MembershipHandle, MembershipMetrics, RebalanceEvent, RebalanceKind,
};
pub use offsets::OffsetAndMetadata;

use crate::Result;
use crate::client::Client;
use crate::consumer::group::machine::NO_GENERATION_ID;

/// Starts group membership tasks.
#[derive(Debug)]
pub struct Membership;

impl Membership {
    /// Validates `config` and starts the membership task on the current
    /// tokio runtime. The member joins once [`MembershipHandle::subscribe`]
    /// is called; until then it can commit as a standalone consumer.
    pub fn spawn(client: Client, config: MembershipConfig) -> Result<MembershipHandle> {
        config.validate()?;
        client.ensure_open()?;
        let (commands_tx, commands_rx) = mpsc::unbounded_channel();
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(handle::Shared::new(GroupMetadata {
            group_id: config.group.group_id.clone(),
            generation_id: NO_GENERATION_ID,
            member_id: String::new(),
            group_instance_id: config.group.group_instance_id.clone(),
        }));
        let driver = task::Driver::new(
            client,
            config,
            shared.clone(),
            commands_rx,
            commands_tx.downgrade(),
            events_tx,
        )?;
        tokio::spawn(driver.run());
        Ok(MembershipHandle {
            commands: commands_tx,
            events: Arc::new(tokio::sync::Mutex::new(events_rx)),
            shared,
        })
    }
}
