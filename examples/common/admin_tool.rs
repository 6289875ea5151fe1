//! The `admin` example's command line and its `topics` and `configs`
//! commands, shaped like Kafka's `kafka-topics` and `kafka-configs` so an
//! operator recognises them. `groups` and `acls` are in their own files.
//! Every command returns the lines it prints, so the example's tests can
//! run it against the embedded cluster and check its output.

use kafkit::Admin;
use kafkit::admin::{AlterConfigOp, ConfigResource, NewPartitions, NewTopic};

use super::admin_acls;
use super::admin_groups;

/// Any error the tool ends with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The usage text.
pub const USAGE: &str = "\
admin: Kafka's admin tools in one, on kafkit's Admin client.

usage: admin --bootstrap-server HOST:PORT [--command-config FILE] COMMAND ACTION [OPTIONS]

commands (the options of Kafka's tools of the same name):
  topics   --list | --describe [--topic T] | --create --topic T --partitions N
           [--replication-factor R] [--config k=v ...] | --alter --topic T --partitions N
           | --delete --topic T
  configs  --describe | --alter [--add-config k=v,k2=v2] [--delete-config k,k2]
           --entity-type topics|brokers|broker-defaults [--entity-name NAME]
  groups   --list [--state S] | --describe --group G | --delete --group G
           | --delete-offsets --group G --topic T
           | --reset-offsets --group G (--topic T[:P,P...] ... | --all-topics)
             (--to-earliest | --to-latest | --to-current | --to-offset N | --shift-by N
              | --to-datetime YYYY-MM-DDTHH:mm:SS[.sss][Z|+hh:mm] | --by-duration PnDTnHnMnS
              | --from-file CSV)
             (--dry-run | --execute)
  acls     --add | --remove | --list
           [--allow-principal P | --deny-principal P] [--operation OP ...] [--host H]
           [--topic T | --group G | --transactional-id ID | --cluster]
           [--resource-pattern-type literal|prefixed|match|any]

environment: KAFKA_BOOTSTRAP names the brokers when --bootstrap-server is absent.
";

/// Flags that take no value.
const SWITCHES: &[&str] = &[
    "--list",
    "--describe",
    "--create",
    "--alter",
    "--delete",
    "--delete-offsets",
    "--reset-offsets",
    "--all-topics",
    "--to-earliest",
    "--to-latest",
    "--to-current",
    "--dry-run",
    "--execute",
    "--add",
    "--remove",
    "--cluster",
    "-h",
    "--help",
];

/// A parsed command line: the command word and its flags in order.
#[derive(Debug, Default)]
pub struct Parsed {
    /// `topics`, `configs`, `groups` or `acls`.
    pub command: String,
    flags: Vec<(String, Option<String>)>,
}

impl Parsed {
    /// Parses the words after the program name.
    pub fn parse(words: impl IntoIterator<Item = String>) -> Result<Parsed, String> {
        let mut parsed = Parsed::default();
        let mut it = words.into_iter().peekable();
        while let Some(word) = it.next() {
            if !word.starts_with('-') {
                if !parsed.command.is_empty() {
                    return Err(format!("unexpected argument {word}"));
                }
                parsed.command = word;
                continue;
            }
            let (flag, inline) = match word.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
                _ => (word, None),
            };
            if SWITCHES.contains(&flag.as_str()) {
                parsed.flags.push((flag, None));
                continue;
            }
            let value = match inline {
                Some(v) => v,
                // A negative number is a value (`--shift-by -5`).
                None => match it.next_if(|v| !v.starts_with("--")) {
                    Some(v) => v,
                    None => return Err(format!("{flag} needs a value")),
                },
            };
            parsed.flags.push((flag, Some(value)));
        }
        Ok(parsed)
    }

    /// Whether the switch was given.
    pub fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|(f, _)| f == flag)
    }

    /// The last value of `flag`.
    pub fn value(&self, flag: &str) -> Option<&str> {
        self.flags
            .iter()
            .rev()
            .find(|(f, _)| f == flag)
            .and_then(|(_, v)| v.as_deref())
    }

    /// Every value of a repeatable flag, in order.
    pub fn values(&self, flag: &str) -> Vec<&str> {
        self.flags
            .iter()
            .filter(|(f, _)| f == flag)
            .filter_map(|(_, v)| v.as_deref())
            .collect()
    }

    /// The value of a flag the action cannot do without.
    pub fn required(&self, flag: &str) -> Result<&str, BoxError> {
        self.value(flag)
            .ok_or_else(|| format!("{flag} is required").into())
    }

    /// A flag's value, converted.
    pub fn number<T: std::str::FromStr>(&self, flag: &str) -> Result<Option<T>, BoxError> {
        match self.value(flag) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| format!("{flag} {v}: not a number").into()),
        }
    }

    /// Exactly one of the actions, or a usage error naming them.
    pub fn action<'a>(&self, actions: &[&'a str]) -> Result<&'a str, BoxError> {
        let given: Vec<&&str> = actions.iter().filter(|a| self.has(a)).collect();
        match given.as_slice() {
            [one] => Ok(one),
            _ => Err(format!("give exactly one of {}", actions.join(", ")).into()),
        }
    }
}

/// Runs one command; returns the lines to print.
pub async fn run(admin: &Admin, parsed: &Parsed) -> Result<Vec<String>, BoxError> {
    match parsed.command.as_str() {
        "topics" => topics(admin, parsed).await,
        "configs" => configs(admin, parsed).await,
        "groups" => admin_groups::groups(admin, parsed).await,
        "acls" => admin_acls::acls(admin, parsed).await,
        "" => Err("no command given: topics, configs, groups or acls".into()),
        other => Err(format!("unknown command {other}: topics, configs, groups or acls").into()),
    }
}

/// Per-item results: the failures as one error naming each, else `Ok`.
pub fn all_ok<K: std::fmt::Display, T>(
    results: Vec<(K, kafkit::Result<T>)>,
) -> Result<Vec<(K, T)>, BoxError> {
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    for (k, r) in results {
        match r {
            Ok(v) => ok.push((k, v)),
            Err(e) => failed.push(format!("{k}: {e}")),
        }
    }
    if failed.is_empty() {
        Ok(ok)
    } else {
        Err(failed.join("\n").into())
    }
}

async fn topics(admin: &Admin, p: &Parsed) -> Result<Vec<String>, BoxError> {
    let mut out = Vec::new();
    match p.action(&["--list", "--describe", "--create", "--alter", "--delete"])? {
        "--list" => {
            for t in admin.list_topics().await? {
                out.push(t.name);
            }
        }
        "--describe" => {
            let names: Vec<String> = match p.value("--topic") {
                Some(t) => vec![t.to_owned()],
                None => admin
                    .list_topics()
                    .await?
                    .into_iter()
                    .map(|t| t.name)
                    .collect(),
            };
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let configs: Vec<ConfigResource> = names
                .iter()
                .map(|n| ConfigResource::Topic(n.to_string()))
                .collect();
            let configs = admin.describe_configs(&configs).await?;
            for ((name, described), (_, config)) in all_ok(admin.describe_topics(&names).await?)?
                .into_iter()
                .zip(configs)
            {
                let rf = described.partitions.first().map_or(0, |p| p.replicas.len());
                let set: Vec<String> = config
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|e| !e.is_default())
                    .map(|e| format!("{}={}", e.name, e.value.unwrap_or_default()))
                    .collect();
                out.push(format!(
                    "Topic: {name}\tTopicId: {}\tPartitionCount: {}\tReplicationFactor: {rf}\tConfigs: {}",
                    topic_id(&described.topic_id),
                    described.partitions.len(),
                    set.join(",")
                ));
                for part in &described.partitions {
                    out.push(format!(
                        "\tTopic: {name}\tPartition: {}\tLeader: {}\tReplicas: {}\tIsr: {}",
                        part.partition,
                        part.leader.map_or("none".into(), |l| l.to_string()),
                        join(&part.replicas),
                        join(&part.isr)
                    ));
                }
            }
        }
        "--create" => {
            let name = p.required("--topic")?;
            let mut topic = NewTopic::new(
                name,
                p.number("--partitions")?.unwrap_or(-1),
                p.number("--replication-factor")?.unwrap_or(-1),
            );
            for kv in p.values("--config") {
                let (k, v) = kv
                    .split_once('=')
                    .ok_or(format!("--config {kv}: not k=v"))?;
                topic = topic.with_config(k, v);
            }
            all_ok(admin.create_topics([topic]).await?)?;
            out.push(format!("Created topic {name}."));
        }
        "--alter" => {
            let name = p.required("--topic")?;
            let count = p
                .number("--partitions")?
                .ok_or("--alter needs --partitions")?;
            all_ok(
                admin
                    .create_partitions(&[NewPartitions::increase_to(name, count)], false)
                    .await?,
            )?;
            out.push(format!("Topic {name} now has {count} partitions."));
        }
        _ => {
            let name = p.required("--topic")?;
            all_ok(admin.delete_topics(&[name]).await?)?;
            out.push(format!("Deleted topic {name}."));
        }
    }
    Ok(out)
}

async fn configs(admin: &Admin, p: &Parsed) -> Result<Vec<String>, BoxError> {
    let name = p.value("--entity-name");
    let resource = match (p.required("--entity-type")?, name) {
        ("topics", Some(n)) => ConfigResource::Topic(n.to_owned()),
        ("brokers", Some(n)) => {
            ConfigResource::Broker(n.parse().map_err(|_| "broker ids are numbers")?)
        }
        ("brokers", None) | ("broker-defaults", _) => ConfigResource::BrokerDefaults,
        ("topics", None) => return Err("--entity-type topics needs --entity-name".into()),
        (other, _) => {
            return Err(
                format!("--entity-type {other}: topics, brokers or broker-defaults").into(),
            );
        }
    };
    let mut out = Vec::new();
    match p.action(&["--describe", "--alter"])? {
        "--describe" => {
            let described = admin
                .describe_configs(std::slice::from_ref(&resource))
                .await?;
            let entries = all_ok(described)?.pop().map(|(_, e)| e).unwrap_or_default();
            out.push(format!("All configs for {resource} are:"));
            for e in entries {
                let value = if e.sensitive {
                    "<sensitive>".to_owned()
                } else {
                    e.value.clone().unwrap_or_else(|| "null".into())
                };
                let synonyms: Vec<String> = e
                    .synonyms
                    .iter()
                    .map(|s| {
                        format!(
                            "{}:{}={}",
                            s.source.name(),
                            s.name,
                            s.value.as_deref().unwrap_or("null")
                        )
                    })
                    .collect();
                out.push(format!(
                    "  {}={} sensitive={} synonyms={{{}}}",
                    e.name,
                    value,
                    e.sensitive,
                    synonyms.join(", ")
                ));
            }
        }
        _ => {
            let mut ops = Vec::new();
            for kv in p.values("--add-config").iter().flat_map(|s| s.split(',')) {
                let (k, v) = kv
                    .split_once('=')
                    .ok_or(format!("--add-config {kv}: not k=v"))?;
                ops.push(AlterConfigOp::Set(k.to_owned(), v.to_owned()));
            }
            for k in p
                .values("--delete-config")
                .iter()
                .flat_map(|s| s.split(','))
            {
                ops.push(AlterConfigOp::Delete(k.to_owned()));
            }
            if ops.is_empty() {
                return Err("--alter needs --add-config or --delete-config".into());
            }
            all_ok(
                admin
                    .incremental_alter_configs(&[(resource.clone(), ops)], false)
                    .await?,
            )?;
            out.push(format!("Completed updating config for {resource}."));
        }
    }
    Ok(out)
}

fn join(ids: &[i32]) -> String {
    ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

/// A topic id as Kafka prints it: URL-safe base64 without padding.
fn topic_id(id: &[u8; 16]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in id.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}
