//! DescribeConfigs and IncrementalAlterConfigs: what `kafka-configs
//! --describe / --alter` do. Broker resources go to that broker (only it
//! knows its static and dynamic configs); topic and cluster-default
//! resources to any broker.

use std::collections::BTreeMap;
use std::fmt;

use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{DescribeConfigsRequest, IncrementalAlterConfigsRequest};
use kafka_protocol::protocol::StrBytes;

use super::Admin;
use crate::error::{Context, Error, Result};

/// A resource that has configs (Java's `ConfigResource`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConfigResource {
    /// A topic's configs.
    Topic(String),
    /// One broker's configs, by node id.
    Broker(i32),
    /// The cluster-wide dynamic broker defaults (Java's broker resource
    /// with an empty name; `kafka-configs --entity-default`).
    BrokerDefaults,
    /// A consumer group's configs (KIP-848 brokers).
    Group(String),
}

impl ConfigResource {
    fn wire(&self) -> (i8, String) {
        match self {
            ConfigResource::Topic(t) => (2, t.clone()),
            ConfigResource::Broker(id) => (4, id.to_string()),
            ConfigResource::BrokerDefaults => (4, String::new()),
            ConfigResource::Group(g) => (32, g.clone()),
        }
    }

    /// The broker a request about this resource must go to, if any.
    fn target(&self) -> Option<i32> {
        match self {
            ConfigResource::Broker(id) => Some(*id),
            _ => None,
        }
    }

    fn context(&self, api: &'static str) -> Context {
        let c = Context::api(api);
        match self {
            ConfigResource::Topic(t) => c.with_topic(t.as_str()),
            ConfigResource::Broker(id) => c.with_resource("broker-config", id),
            ConfigResource::BrokerDefaults => c.with_resource("broker-config", "<default>"),
            ConfigResource::Group(g) => c.with_resource("group-config", g),
        }
    }
}

impl fmt::Display for ConfigResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigResource::Topic(t) => write!(f, "topic {t}"),
            ConfigResource::Broker(id) => write!(f, "broker {id}"),
            ConfigResource::BrokerDefaults => f.write_str("broker defaults"),
            ConfigResource::Group(g) => write!(f, "group {g}"),
        }
    }
}

/// Where a config value comes from (Java's `ConfigEntry.ConfigSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigSource {
    /// Set on the topic.
    DynamicTopicConfig,
    /// Set dynamically for this broker.
    DynamicBrokerConfig,
    /// Set dynamically as the default for all brokers.
    DynamicDefaultBrokerConfig,
    /// From the broker's properties file.
    StaticBrokerConfig,
    /// Kafka's built-in default.
    DefaultConfig,
    /// A broker logger level.
    DynamicBrokerLoggerConfig,
    /// A client-metrics subscription.
    ClientMetricsConfig,
    /// Set on the group.
    GroupConfig,
    /// A source this client does not know.
    Unknown,
}

impl ConfigSource {
    fn from_wire(v: i8) -> ConfigSource {
        match v {
            1 => ConfigSource::DynamicTopicConfig,
            2 => ConfigSource::DynamicBrokerConfig,
            3 => ConfigSource::DynamicDefaultBrokerConfig,
            4 => ConfigSource::StaticBrokerConfig,
            5 => ConfigSource::DefaultConfig,
            6 => ConfigSource::DynamicBrokerLoggerConfig,
            7 => ConfigSource::ClientMetricsConfig,
            8 => ConfigSource::GroupConfig,
            _ => ConfigSource::Unknown,
        }
    }

    /// The name `kafka-configs --describe` prints (`DYNAMIC_TOPIC_CONFIG`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ConfigSource::DynamicTopicConfig => "DYNAMIC_TOPIC_CONFIG",
            ConfigSource::DynamicBrokerConfig => "DYNAMIC_BROKER_CONFIG",
            ConfigSource::DynamicDefaultBrokerConfig => "DYNAMIC_DEFAULT_BROKER_CONFIG",
            ConfigSource::StaticBrokerConfig => "STATIC_BROKER_CONFIG",
            ConfigSource::DefaultConfig => "DEFAULT_CONFIG",
            ConfigSource::DynamicBrokerLoggerConfig => "DYNAMIC_BROKER_LOGGER_CONFIG",
            ConfigSource::ClientMetricsConfig => "CLIENT_METRICS_CONFIG",
            ConfigSource::GroupConfig => "GROUP_CONFIG",
            ConfigSource::Unknown => "UNKNOWN",
        }
    }
}

/// Another source's value for the same config, in precedence order
/// (Java's `ConfigEntry.ConfigSynonym`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigSynonym {
    /// The synonym's name (a broker config can stand for a topic config,
    /// e.g. `log.retention.ms` for `retention.ms`).
    pub name: String,
    /// Its value; `None` when sensitive.
    pub value: Option<String>,
    /// Where it is set.
    pub source: ConfigSource,
}

/// One config of a resource (Java's `ConfigEntry`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigEntry {
    /// Config name, e.g. `retention.ms`.
    pub name: String,
    /// Current value; `None` when sensitive or unset.
    pub value: Option<String>,
    /// Where the value comes from; [`ConfigSource::DefaultConfig`] for
    /// defaults, which `kafka-configs` marks as such.
    pub source: ConfigSource,
    /// Whether it cannot be changed at run time.
    pub read_only: bool,
    /// Whether the value is a secret (never shown).
    pub sensitive: bool,
    /// The values from other sources, highest precedence first.
    pub synonyms: Vec<ConfigSynonym>,
    /// Kafka's documentation of the config, when the broker sends it.
    pub documentation: Option<String>,
}

impl ConfigEntry {
    /// Whether the value is the built-in default.
    pub fn is_default(&self) -> bool {
        self.source == ConfigSource::DefaultConfig
    }
}

/// One change of [`Admin::incremental_alter_configs`] (Java's
/// `AlterConfigOp`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlterConfigOp {
    /// Set the config to the value.
    Set(String, String),
    /// Remove the config so the default applies again.
    Delete(String),
    /// Add a value to a list config (e.g. `cleanup.policy`).
    Append(String, String),
    /// Remove a value from a list config.
    Subtract(String, String),
}

impl AlterConfigOp {
    fn wire(&self) -> AlterableConfig {
        let (name, op, value) = match self {
            AlterConfigOp::Set(k, v) => (k, 0, Some(v)),
            AlterConfigOp::Delete(k) => (k, 1, None),
            AlterConfigOp::Append(k, v) => (k, 2, Some(v)),
            AlterConfigOp::Subtract(k, v) => (k, 3, Some(v)),
        };
        AlterableConfig::default()
            .with_name(StrBytes::from_string(name.clone()))
            .with_config_operation(op)
            .with_value(value.map(|v| StrBytes::from_string(v.clone())))
    }
}

fn string(s: &StrBytes) -> String {
    s.as_str().to_owned()
}

impl Admin {
    /// Describes the configs of each resource, with synonyms and sources
    /// (`kafka-configs --describe --all`). One result per resource, in
    /// order; an unknown topic or broker fails only its own entry.
    pub async fn describe_configs(
        &self,
        resources: &[ConfigResource],
    ) -> Result<Vec<(ConfigResource, Result<Vec<ConfigEntry>>)>> {
        let answers = self
            .per_target(
                resources,
                "DescribeConfigs",
                |group| {
                    DescribeConfigsRequest::default()
                        .with_include_synonyms(true)
                        .with_include_documentation(true)
                        .with_resources(
                            group
                                .iter()
                                .map(|r| {
                                    let (kind, name) = r.wire();
                                    DescribeConfigsResource::default()
                                        .with_resource_type(kind)
                                        .with_resource_name(StrBytes::from_string(name))
                                        .with_configuration_keys(None)
                                })
                                .collect(),
                        )
                },
                |response, (kind, name), context| match response
                    .results
                    .iter()
                    .find(|x| x.resource_type == kind && x.resource_name.as_str() == name)
                {
                    None => Err(Error::protocol("resource missing from response", context())),
                    Some(x) => Error::check(x.error_code, x.error_message.as_deref(), context)
                        .map(|()| x.configs.iter().map(entry).collect()),
                },
            )
            .await;
        Ok(in_order(resources, answers))
    }

    /// Changes configs (IncrementalAlterConfigs): set, delete, append to
    /// or subtract from each resource's configs; `validate_only` checks
    /// without applying. One result per resource, in order.
    pub async fn incremental_alter_configs(
        &self,
        changes: &[(ConfigResource, Vec<AlterConfigOp>)],
        validate_only: bool,
    ) -> Result<Vec<(ConfigResource, Result<()>)>> {
        let resources: Vec<ConfigResource> = changes.iter().map(|(r, _)| r.clone()).collect();
        let answers = self
            .per_target(
                &resources,
                "IncrementalAlterConfigs",
                |group| {
                    IncrementalAlterConfigsRequest::default()
                        .with_validate_only(validate_only)
                        .with_resources(
                            changes
                                .iter()
                                .filter(|(r, _)| group.contains(&r))
                                .map(|(r, ops)| {
                                    let (kind, name) = r.wire();
                                    AlterConfigsResource::default()
                                        .with_resource_type(kind)
                                        .with_resource_name(StrBytes::from_string(name))
                                        .with_configs(ops.iter().map(AlterConfigOp::wire).collect())
                                })
                                .collect(),
                        )
                },
                |response, (kind, name), context| match response
                    .responses
                    .iter()
                    .find(|x| x.resource_type == kind && x.resource_name.as_str() == name)
                {
                    None => Err(Error::protocol("resource missing from response", context())),
                    Some(x) => Error::check(x.error_code, x.error_message.as_deref(), context),
                },
            )
            .await;
        Ok(in_order(&resources, answers))
    }

    /// One request per broker the resources must go to (built by `build`
    /// from the resources it covers); each resource's answer read by
    /// `answer` from the response, given its wire type and name and its
    /// context. A request that fails fails each of its resources.
    async fn per_target<R, T>(
        &self,
        resources: &[ConfigResource],
        api: &'static str,
        build: impl Fn(&[&ConfigResource]) -> R,
        answer: impl Fn(&R::Response, (i8, &str), &dyn Fn() -> Context) -> Result<T>,
    ) -> BTreeMap<ConfigResource, Result<T>>
    where
        R: crate::protocol::versions::VersionedRequest + Clone,
        R::Response: crate::protocol::versions::ThrottleTime,
    {
        let mut answers = BTreeMap::new();
        for (target, group) in by_target(resources) {
            let sent = self.send_to_or_any(target, build(&group), api).await;
            for r in group {
                let result = match &sent {
                    Err(e) => Err(e.clone()),
                    Ok((broker, response)) => {
                        let (kind, name) = r.wire();
                        let context = || super::answered_by(r.context(api), *broker);
                        answer(response, (kind, name.as_str()), &context)
                    }
                };
                answers.insert(r.clone(), result);
            }
        }
        answers
    }
}

fn entry(
    c: &kafka_protocol::messages::describe_configs_response::DescribeConfigsResourceResult,
) -> ConfigEntry {
    ConfigEntry {
        name: string(&c.name),
        value: c.value.as_ref().map(string),
        source: ConfigSource::from_wire(c.config_source),
        read_only: c.read_only,
        sensitive: c.is_sensitive,
        synonyms: c
            .synonyms
            .iter()
            .map(|s| ConfigSynonym {
                name: string(&s.name),
                value: s.value.as_ref().map(string),
                source: ConfigSource::from_wire(s.source),
            })
            .collect(),
        documentation: c.documentation.as_ref().map(string),
    }
}

/// Resources grouped by the broker their request must go to.
fn by_target(resources: &[ConfigResource]) -> BTreeMap<Option<i32>, Vec<&ConfigResource>> {
    let mut out: BTreeMap<Option<i32>, Vec<&ConfigResource>> = BTreeMap::new();
    for r in resources {
        out.entry(r.target()).or_default().push(r);
    }
    out
}

fn in_order<T>(
    asked: &[ConfigResource],
    mut answers: BTreeMap<ConfigResource, Result<T>>,
) -> Vec<(ConfigResource, Result<T>)> {
    asked
        .iter()
        .map(|r| {
            let result = answers.remove(r).unwrap_or_else(|| {
                // Only when the same resource was named twice.
                Err(Error::InvalidArgument {
                    reason: format!("{r} named more than once"),
                    context: r.context("DescribeConfigs"),
                })
            });
            (r.clone(), result)
        })
        .collect()
}
