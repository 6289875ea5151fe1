//! ListGroups, DescribeGroups and DeleteGroups.

use kafka_protocol::error::ResponseError as E;
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use super::GroupCoordinator;
use super::state::{Event, GroupState};

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

impl GroupCoordinator {
    /// ListGroups (v0–v5; v4+ state filter, v5+ type filter: "classic").
    pub async fn list_groups(&self, req: ListGroupsRequest, version: i16) -> ListGroupsResponse {
        let inner = self.lock();
        let mut resp = ListGroupsResponse::default();
        let states: Vec<String> = req.states_filter.iter().map(|s| s.to_lowercase()).collect();
        let types: Vec<String> = req.types_filter.iter().map(|s| s.to_lowercase()).collect();
        let mut ids: Vec<&String> = inner.groups.keys().collect();
        ids.sort();
        for id in ids {
            let g = &inner.groups[id];
            let state = g.state.as_str();
            if g.state == GroupState::Dead
                || (!states.is_empty() && !states.contains(&state.to_lowercase()))
                || (!types.is_empty() && !types.iter().any(|t| t == "classic"))
            {
                continue;
            }
            let mut row = ListedGroup::default()
                .with_group_id(s(id).into())
                .with_protocol_type(s(g.protocol_type.as_deref().unwrap_or("")));
            if version >= 4 {
                row.group_state = s(state);
            }
            if version >= 5 {
                row.group_type = s("classic");
            }
            resp.groups.push(row);
        }
        resp
    }

    /// DescribeGroups (v0–v5). An unknown group is described as Dead, as
    /// Kafka does.
    pub async fn describe_groups(
        &self,
        req: DescribeGroupsRequest,
        version: i16,
    ) -> DescribeGroupsResponse {
        let inner = self.lock();
        let mut resp = DescribeGroupsResponse::default();
        for id in &req.groups {
            let mut d = DescribedGroup::default().with_group_id(id.clone());
            if version >= 3 {
                d.authorized_operations = i32::MIN;
            }
            let Some(g) = inner.groups.get(id.as_str()) else {
                d.group_state = s(GroupState::Dead.as_str());
                resp.groups.push(d);
                continue;
            };
            d.group_state = s(g.state.as_str());
            d.protocol_type = s(g.protocol_type.as_deref().unwrap_or(""));
            let stable = g.state == GroupState::Stable;
            let protocol = g.protocol.clone().unwrap_or_default();
            if stable {
                d.protocol_data = s(&protocol);
            }
            for (mid, m) in &g.members {
                let mut row = DescribedGroupMember::default()
                    .with_member_id(s(mid))
                    .with_client_id(s(&m.client.client_id))
                    .with_client_host(s(&m.client.client_host));
                if version >= 4 {
                    row.group_instance_id = m.instance_id.as_deref().map(s);
                }
                if stable {
                    row.member_metadata = m.metadata(&protocol);
                    row.member_assignment = m.assignment.clone();
                }
                d.members.push(row);
            }
            resp.groups.push(d);
        }
        resp
    }

    /// DeleteGroups: only groups without members (NON_EMPTY_GROUP).
    pub async fn delete_groups(
        &self,
        req: DeleteGroupsRequest,
        _version: i16,
    ) -> DeleteGroupsResponse {
        let mut inner = self.lock();
        let mut resp = DeleteGroupsResponse::default();
        for id in &req.groups_names {
            let code = match inner.groups.get_mut(id.as_str()) {
                None => E::GroupIdNotFound.code(),
                Some(g) if g.state == GroupState::Dead => E::GroupIdNotFound.code(),
                Some(g) if !g.members.is_empty() || g.state != GroupState::Empty => {
                    E::NonEmptyGroup.code()
                }
                Some(g) => {
                    self.apply_event(id.as_str(), g, Event::Deleted);
                    0
                }
            };
            if code == 0 {
                inner.groups.remove(id.as_str());
            }
            resp.results.push(
                DeletableGroupResult::default()
                    .with_group_id(id.clone())
                    .with_error_code(code),
            );
        }
        resp
    }
}
