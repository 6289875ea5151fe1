//! What a group member is configured with, named as the Java consumer's
//! settings.

use std::sync::Arc;
use std::time::Duration;

use crate::consumer::assignor::{Assignor, CooperativeSticky, Range, RebalanceProtocol};
use crate::consumer::group::machine::GroupConfig;
use crate::{Error, Result};

/// Settings of a group member: the membership protocol's
/// ([`GroupConfig`]), the assignors, and the offset calls' bounds.
#[derive(Clone)]
pub struct MembershipConfig {
    /// `group.id`, `group.instance.id`, `session.timeout.ms`,
    /// `max.poll.interval.ms`, `heartbeat.interval.ms`, `retry.backoff.ms`.
    /// Its `protocol` is ignored: [`MembershipConfig::rebalance_protocol`]
    /// derives it from the assignors.
    pub group: GroupConfig,
    /// `partition.assignment.strategy`: the assignors offered in JoinGroup,
    /// in order of preference (the coordinator picks the first one every
    /// member supports). Default `[range, cooperative-sticky]`, as Java 3.x.
    pub assignors: Vec<Arc<dyn Assignor>>,
    /// `default.api.timeout.ms`: how long a commit or an offset fetch may
    /// wait for the coordinator, retries included. Default 60 s.
    pub default_api_timeout: Duration,
    /// Ask the coordinator to hold back offsets of pending transactional
    /// commits (OffsetFetch v7 `require_stable`, KIP-447). Java sets it for
    /// `isolation.level=read_committed`. Default false.
    pub require_stable_offsets: bool,
    /// `client.rack`, sent in the subscription (consumer protocol v3) for
    /// rack-aware assignors. Default none.
    pub client_rack: Option<String>,
}

impl std::fmt::Debug for MembershipConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.assignors.iter().map(|a| a.name()).collect();
        f.debug_struct("MembershipConfig")
            .field("group", &self.group)
            .field("assignors", &names)
            .field("default_api_timeout", &self.default_api_timeout)
            .field("require_stable_offsets", &self.require_stable_offsets)
            .field("client_rack", &self.client_rack)
            .finish()
    }
}

impl MembershipConfig {
    /// A configuration for `group_id` with the Java defaults.
    pub fn new(group_id: impl Into<String>) -> Self {
        MembershipConfig {
            group: GroupConfig::new(group_id),
            assignors: vec![Arc::new(Range), Arc::new(CooperativeSticky)],
            default_api_timeout: Duration::from_secs(60),
            require_stable_offsets: false,
            client_rack: None,
        }
    }

    /// The rebalance protocol the member follows, chosen as Java does: the
    /// protocol every configured assignor supports. Java's cooperative
    /// assignors also support eager rebalancing, so a member offering
    /// `[range, cooperative-sticky]` rebalances eagerly (whichever assignor
    /// the group picks) and only a member whose assignors are all
    /// cooperative rebalances cooperatively. This is what lets a group move
    /// from eager to cooperative with two rolling restarts (KIP-429).
    pub fn rebalance_protocol(&self) -> RebalanceProtocol {
        let all_cooperative = !self.assignors.is_empty()
            && self
                .assignors
                .iter()
                .all(|a| a.rebalance_protocol() == RebalanceProtocol::Cooperative);
        if all_cooperative {
            RebalanceProtocol::Cooperative
        } else {
            RebalanceProtocol::Eager
        }
    }

    /// Checks the settings: the group's, at least one assignor, no two
    /// assignors of one name (the coordinator picks by name).
    pub fn validate(&self) -> Result<()> {
        self.group.validate()?;
        if self.assignors.is_empty() {
            return Err(Error::Config(
                "partition.assignment.strategy must name at least one assignor".into(),
            ));
        }
        for (i, a) in self.assignors.iter().enumerate() {
            if a.name().is_empty() {
                return Err(Error::Config("an assignor has an empty name".into()));
            }
            if self.assignors[..i].iter().any(|b| b.name() == a.name()) {
                return Err(Error::Config(format!(
                    "assignor {:?} is listed twice in partition.assignment.strategy",
                    a.name()
                )));
            }
        }
        if self.default_api_timeout.is_zero() {
            return Err(Error::Config("default.api.timeout.ms must be > 0".into()));
        }
        Ok(())
    }

    /// The group configuration the machine runs with (the protocol set from
    /// the assignors).
    pub(super) fn machine_config(&self) -> GroupConfig {
        let mut group = self.group.clone();
        group.protocol = self.rebalance_protocol();
        group
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consumer::assignor::RoundRobin;

    #[test]
    fn protocol_is_the_one_all_assignors_support() {
        let mut c = MembershipConfig::new("g");
        assert_eq!(c.rebalance_protocol(), RebalanceProtocol::Eager);
        c.assignors = vec![Arc::new(CooperativeSticky)];
        assert_eq!(c.rebalance_protocol(), RebalanceProtocol::Cooperative);
        assert_eq!(c.machine_config().protocol, RebalanceProtocol::Cooperative);
        c.assignors = vec![Arc::new(CooperativeSticky), Arc::new(RoundRobin)];
        assert_eq!(c.rebalance_protocol(), RebalanceProtocol::Eager);
    }

    #[test]
    fn validation_refuses_no_or_duplicate_assignors() {
        let mut c = MembershipConfig::new("g");
        assert!(c.validate().is_ok());
        c.assignors.push(Arc::new(Range));
        assert!(matches!(c.validate(), Err(Error::Config(_))));
        c.assignors.clear();
        assert!(matches!(c.validate(), Err(Error::Config(_))));
        let c = MembershipConfig::new("");
        assert!(c.validate().is_err());
    }
}
