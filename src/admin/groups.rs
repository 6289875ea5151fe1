//! Consumer groups as `kafka-consumer-groups --list / --describe /
//! --delete` sees them: ListGroups at every broker, DescribeGroups and
//! DeleteGroups at each group's coordinator, and the removal of static
//! members (LeaveGroup v3+ naming `group.instance.id`s).

use std::future::Future;

use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::{
    ApiKey, DeleteGroupsRequest, DescribeGroupsRequest, GroupId, LeaveGroupRequest,
    ListGroupsRequest,
};
use kafka_protocol::protocol::StrBytes;

use super::Admin;
use crate::TopicPartition;
use crate::consumer::assignor::wire::decode_assignment;
use crate::error::{Context, Error, Result};
use crate::protocol::coordinator::CoordinatorKey;

pub use super::group_offsets::PartitionLag;

/// A group as [`Admin::list_consumer_groups`] lists it (Java's
/// `ConsumerGroupListing`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerGroupListing {
    /// The group id.
    pub group_id: String,
    /// `consumer` for consumer groups; empty for groups that only commit
    /// offsets (Java's "simple" groups).
    pub protocol_type: String,
    /// `Stable`, `Empty`, `PreparingRebalance`, ... when the broker says
    /// (ListGroups v4+).
    pub state: Option<String>,
    /// `classic` or `consumer` (KIP-848) when the broker says (v5+).
    pub group_type: Option<String>,
}

/// What [`Admin::list_consumer_groups`] found: the groups of every broker
/// that answered, and the brokers that did not.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ListedGroups {
    /// Groups, sorted by id.
    pub groups: Vec<ConsumerGroupListing>,
    /// Brokers whose groups are missing, and why.
    pub errors: Vec<(i32, Error)>,
}

/// A member of a described group (Java's `MemberDescription`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemberDescription {
    /// The coordinator-assigned member id.
    pub member_id: String,
    /// The static member's `group.instance.id`.
    pub group_instance_id: Option<String>,
    /// The member's `client.id`.
    pub client_id: String,
    /// The member's host, as the coordinator saw it (`/127.0.0.1`).
    pub host: String,
    /// The member's partitions, decoded from the consumer protocol
    /// (empty for other protocols, or while a rebalance runs).
    pub assignment: Vec<TopicPartition>,
}

/// A group described by [`Admin::describe_consumer_groups`] (Java's
/// `ConsumerGroupDescription`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerGroupDescription {
    /// The group id.
    pub group_id: String,
    /// Whether the group only commits offsets (no protocol type).
    pub is_simple: bool,
    /// `Stable`, `Empty`, `Dead`, `PreparingRebalance`, `CompletingRebalance`.
    pub state: String,
    /// The protocol type, `consumer` for consumer groups.
    pub protocol_type: String,
    /// The assignor the group chose (`range`, `cooperative-sticky`, ...).
    pub assignor: String,
    /// The coordinator's node id.
    pub coordinator: i32,
    /// The members.
    pub members: Vec<MemberDescription>,
    /// What the caller may do with the group, when the broker says.
    pub authorized_operations: Option<Vec<super::AclOperation>>,
}

fn group_id(g: &str) -> GroupId {
    GroupId(StrBytes::from_string(g.to_owned()))
}

pub(super) fn group_context(api: &'static str, group: &str, coordinator: Option<i32>) -> Context {
    let c = Context::api(api).with_resource("group", group);
    match coordinator {
        Some(id) => c.with_broker(format!("node {id}")),
        None => c,
    }
}

impl Admin {
    /// Runs `call(coordinator)` at `group`'s coordinator, finding it again
    /// and retrying while the call fails retriably (`NOT_COORDINATOR`,
    /// `COORDINATOR_LOAD_IN_PROGRESS`, a lost connection), until the
    /// request timeout.
    pub(super) async fn at_group_coordinator<T, F, Fut>(
        &self,
        api: &'static str,
        group: &str,
        call: F,
    ) -> Result<T>
    where
        F: Fn(i32) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.retrying(api, || {
            let found = self.client.find_coordinator(CoordinatorKey::Group, group);
            let call = &call;
            async move {
                let coordinator = found
                    .await
                    .map_err(|e| e.map_context(|c| c.with_resource("group", group)))?;
                call(coordinator).await
            }
        })
        .await
    }

    /// Lists the groups of every broker (ListGroups), optionally only
    /// those in `states` (e.g. `["Stable", "Empty"]`, v4+) and of `types`
    /// (`["classic"]`, `["consumer"]`, v5+). A broker that cannot answer
    /// is reported in [`ListedGroups::errors`], not hidden.
    pub async fn list_consumer_groups(
        &self,
        states: &[&str],
        types: &[&str],
    ) -> Result<ListedGroups> {
        let metadata = self.client.refresh_metadata().await?;
        let request = ListGroupsRequest::default()
            .with_states_filter(
                states
                    .iter()
                    .map(|s| StrBytes::from_string(s.to_string()))
                    .collect(),
            )
            .with_types_filter(
                types
                    .iter()
                    .map(|s| StrBytes::from_string(s.to_string()))
                    .collect(),
            );
        let mut out = ListedGroups::default();
        for &broker in metadata.brokers.keys() {
            let answer = self
                .send_to_or_any(Some(broker), request.clone(), "ListGroups")
                .await
                .and_then(|(_, r)| {
                    Error::check(r.error_code, None, || {
                        Context::api("ListGroups").with_broker(format!("node {broker}"))
                    })
                    .map(|()| r)
                });
            match answer {
                Ok(response) => {
                    out.groups
                        .extend(response.groups.into_iter().map(|g| ConsumerGroupListing {
                            group_id: g.group_id.0.to_string(),
                            protocol_type: g.protocol_type.to_string(),
                            state: (!g.group_state.is_empty()).then(|| g.group_state.to_string()),
                            group_type:
                                (!g.group_type.is_empty()).then(|| g.group_type.to_string()),
                        }))
                }
                Err(e) => out.errors.push((broker, e)),
            }
        }
        // A broker older than v4/v5 ignores the filters: apply them here.
        out.groups.retain(|g| {
            (states.is_empty()
                || g.state
                    .as_deref()
                    .is_none_or(|s| states.iter().any(|f| f.eq_ignore_ascii_case(s))))
                && (types.is_empty()
                    || g.group_type
                        .as_deref()
                        .is_none_or(|t| types.iter().any(|f| f.eq_ignore_ascii_case(t))))
        });
        out.groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        out.groups.dedup_by(|a, b| a.group_id == b.group_id);
        Ok(out)
    }

    /// Describes groups at their coordinators (DescribeGroups): state,
    /// assignor, members and their partitions. One result per group, in
    /// order; a group that does not exist is described as `Dead` with no
    /// members, as Kafka does.
    pub async fn describe_consumer_groups(
        &self,
        groups: &[&str],
    ) -> Result<Vec<(String, Result<ConsumerGroupDescription>)>> {
        let mut out = Vec::with_capacity(groups.len());
        for &group in groups {
            let result = self
                .at_group_coordinator("DescribeGroups", group, |coordinator| {
                    self.describe_group_at(coordinator, group)
                })
                .await;
            out.push((group.to_owned(), result));
        }
        Ok(out)
    }

    async fn describe_group_at(
        &self,
        coordinator: i32,
        group: &str,
    ) -> Result<ConsumerGroupDescription> {
        let request = DescribeGroupsRequest::default()
            .with_groups(vec![group_id(group)])
            .with_include_authorized_operations(true);
        let response = self.client.send_to(coordinator, request).await?;
        let context = || group_context("DescribeGroups", group, Some(coordinator));
        let Some(g) = response
            .groups
            .into_iter()
            .find(|g| g.group_id.0.as_str() == group)
        else {
            return Err(Error::protocol("group missing from response", context()));
        };
        Error::check(g.error_code, g.error_message.as_deref(), context)?;
        let is_consumer = g.protocol_type.as_str() == "consumer";
        let authorized_operations = super::acls::authorized_operations(g.authorized_operations);
        Ok(ConsumerGroupDescription {
            group_id: group.to_owned(),
            is_simple: g.protocol_type.is_empty(),
            state: g.group_state.to_string(),
            protocol_type: g.protocol_type.to_string(),
            assignor: g.protocol_data.to_string(),
            coordinator,
            members: g
                .members
                .into_iter()
                .map(|m| MemberDescription {
                    member_id: m.member_id.to_string(),
                    group_instance_id: m.group_instance_id.map(|s| s.to_string()),
                    client_id: m.client_id.to_string(),
                    host: m.client_host.to_string(),
                    // An undecodable assignment (another protocol, or a
                    // member mid-rebalance) shows as none.
                    assignment: if is_consumer && !m.member_assignment.is_empty() {
                        decode_assignment(m.member_assignment)
                            .map(|a| a.partitions)
                            .unwrap_or_default()
                    } else {
                        Vec::new()
                    },
                })
                .collect(),
            authorized_operations,
        })
    }

    /// Deletes groups with their committed offsets (DeleteGroups at each
    /// coordinator). A group with members fails with `NON_EMPTY_GROUP`;
    /// an unknown one with `GROUP_ID_NOT_FOUND`. One result per group.
    pub async fn delete_consumer_groups(
        &self,
        groups: &[&str],
    ) -> Result<Vec<(String, Result<()>)>> {
        let mut out = Vec::with_capacity(groups.len());
        for &group in groups {
            let result = self
                .at_group_coordinator("DeleteGroups", group, |coordinator| async move {
                    let request =
                        DeleteGroupsRequest::default().with_groups_names(vec![group_id(group)]);
                    let response = self.client.send_to(coordinator, request).await?;
                    let context = || group_context("DeleteGroups", group, Some(coordinator));
                    match response
                        .results
                        .iter()
                        .find(|r| r.group_id.0.as_str() == group)
                    {
                        Some(r) => Error::check(r.error_code, None, context),
                        None => Err(Error::protocol("group missing from response", context())),
                    }
                })
                .await;
            out.push((group.to_owned(), result));
        }
        Ok(out)
    }

    /// Removes static members from a group by `group.instance.id`
    /// (LeaveGroup v3+), so their partitions move without waiting for the
    /// session timeout (`kafka-consumer-groups --delete --members`). One
    /// result per instance id.
    pub async fn remove_members_from_consumer_group(
        &self,
        group: &str,
        group_instance_ids: &[&str],
    ) -> Result<Vec<(String, Result<()>)>> {
        let response = self
            .at_group_coordinator("LeaveGroup", group, |coordinator| async move {
                let context = || group_context("LeaveGroup", group, Some(coordinator));
                let connection = self.client.connection(coordinator).await?;
                // The consumer's LeaveGroup is capped below v3; naming
                // members needs v3 or later.
                let version = match connection.api_versions().range(ApiKey::LeaveGroup) {
                    Some((_, max)) if max >= 3 => max.min(5),
                    _ => {
                        return Err(Error::UnsupportedVersion {
                            api: "LeaveGroup",
                            broker_min: 3,
                            broker_max: -1,
                            context: context(),
                        });
                    }
                };
                let request = LeaveGroupRequest::default()
                    .with_group_id(group_id(group))
                    .with_members(
                        group_instance_ids
                            .iter()
                            .map(|id| {
                                MemberIdentity::default()
                                    .with_member_id(StrBytes::from_static_str(""))
                                    .with_group_instance_id(Some(StrBytes::from_string(
                                        id.to_string(),
                                    )))
                                    .with_reason(Some(StrBytes::from_static_str(
                                        "removed by admin",
                                    )))
                            })
                            .collect(),
                    );
                let response = connection.send_version(request, version).await?;
                Error::check(response.error_code, None, context)?;
                Ok((coordinator, response))
            })
            .await?;
        let (coordinator, response) = response;
        Ok(group_instance_ids
            .iter()
            .map(|id| {
                let context = || {
                    Context::api("LeaveGroup")
                        .with_broker(format!("node {coordinator}"))
                        .with_resource("member", format!("{id} of group {group}"))
                };
                let result = match response
                    .members
                    .iter()
                    .find(|m| m.group_instance_id.as_deref() == Some(*id))
                {
                    Some(m) => Error::check(m.error_code, None, context),
                    None => Err(Error::protocol("member missing from response", context())),
                };
                (id.to_string(), result)
            })
            .collect())
    }
}
