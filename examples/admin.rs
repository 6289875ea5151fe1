//! Kafka's admin tools in one, on kafkit's `Admin`:
//!
//! ```text
//! cargo run --example admin -- --bootstrap-server HOST:PORT [--command-config FILE] \
//!     groups --describe --group G
//! cargo run --example admin -- --bootstrap-server HOST:PORT \
//!     groups --reset-offsets --group G --topic T --to-datetime 2026-12-01T00:00:00Z --dry-run
//! cargo run --example admin -- --bootstrap-server HOST:PORT topics --create --topic T --partitions 6
//! cargo run --example admin -- --bootstrap-server HOST:PORT configs --alter \
//!     --entity-type topics --entity-name T --add-config retention.ms=86400000
//! cargo run --example admin -- --bootstrap-server HOST:PORT acls --add \
//!     --allow-principal User:alice --operation Read --topic T
//! ```
//!
//! Commands and options follow `kafka-topics`, `kafka-configs`,
//! `kafka-consumer-groups` and `kafka-acls`; `--help` lists them.
//! `--command-config` takes the same client properties file
//! (`security.protocol`, `sasl.*`, `ssl.*`) Kafka's tools take.

#[path = "common/admin_acls.rs"]
mod admin_acls;
#[path = "common/admin_groups.rs"]
mod admin_groups;
#[path = "common/admin_tool.rs"]
mod admin_tool;
#[path = "common/cli.rs"]
mod cli;

use std::process::ExitCode;

use admin_tool::{BoxError, Parsed, USAGE};
use kafkit::{Admin, Client, ClientBuilder, Properties};

#[tokio::main]
async fn main() -> ExitCode {
    cli::init_tracing();
    let mut words: Vec<String> = std::env::args().skip(1).collect();
    if words.iter().any(|w| w == "-h" || w == "--help") || words.is_empty() {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let bootstrap =
        take(&mut words, "--bootstrap-server").or_else(|| std::env::var(cli::BOOTSTRAP_ENV).ok());
    let config = take(&mut words, "--command-config");
    let parsed = match Parsed::parse(words) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("admin: {e} (try --help)");
            return ExitCode::from(2);
        }
    };
    let Some(bootstrap) = bootstrap else {
        eprintln!(
            "admin: no broker given: pass --bootstrap-server HOST:PORT or set KAFKA_BOOTSTRAP"
        );
        return ExitCode::from(2);
    };
    cli::exit_code("admin", run(&bootstrap, config.as_deref(), &parsed).await)
}

/// Removes `--flag value` (or `--flag=value`) from `words`, returning the value.
fn take(words: &mut Vec<String>, flag: &str) -> Option<String> {
    let i = words
        .iter()
        .position(|w| w == flag || w.starts_with(&format!("{flag}=")))?;
    let word = words.remove(i);
    match word.split_once('=') {
        Some((_, v)) => Some(v.to_owned()),
        None if i < words.len() => Some(words.remove(i)),
        None => None,
    }
}

async fn run(bootstrap: &str, config: Option<&str>, parsed: &Parsed) -> Result<(), BoxError> {
    let builder = match config {
        None => Client::builder(bootstrap),
        Some(path) => {
            let mut props = Properties::from_file(path)?;
            props.set("bootstrap.servers", bootstrap);
            ClientBuilder::from_properties(&props)?
        }
    };
    let client = builder.build().await?;
    let admin = Admin::new(&client);
    for line in admin_tool::run(&admin, parsed).await? {
        if !cli::print_line(format_args!("{line}")) {
            break;
        }
    }
    client.close(std::time::Duration::from_secs(5)).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use kafkit::consumer::OffsetAndMetadata;
    use kafkit::mock::MockCluster;
    use kafkit::producer::{Producer, ProducerRecord};
    use kafkit::{Admin, Client, TopicPartition};

    use super::admin_groups::{parse_datetime, parse_duration};
    use super::admin_tool::{Parsed, run};

    async fn admin_on(cluster: &MockCluster) -> Admin {
        let client = Client::builder(cluster.bootstrap_servers())
            .build()
            .await
            .unwrap();
        Admin::new(&client)
    }

    async fn sh(admin: &Admin, line: &str) -> Result<Vec<String>, String> {
        let parsed =
            Parsed::parse(line.split_whitespace().map(str::to_owned)).map_err(|e| e.to_string())?;
        run(admin, &parsed).await.map_err(|e| e.to_string())
    }

    /// Splits a table row into its columns.
    fn columns(line: &str) -> Vec<&str> {
        line.split_whitespace().collect()
    }

    #[test]
    fn datetimes_and_durations_parse_as_kafkas_tool_takes_them() {
        assert_eq!(parse_datetime("1970-01-01T00:00:01").unwrap(), 1_000);
        assert_eq!(
            parse_datetime("2026-12-04T10:15:30.25Z").unwrap(),
            1_796_379_330_250
        );
        assert_eq!(
            parse_datetime("2026-12-04T11:15:30.250+01:00").unwrap(),
            1_796_379_330_250
        );
        assert_eq!(
            parse_datetime("2000-02-29T00:00:00-00:30").unwrap(),
            951_784_200_000
        );
        assert!(parse_datetime("2026-13-01T00:00:00").is_err());
        assert!(parse_datetime("yesterday").is_err());
        assert_eq!(parse_duration("PT30M").unwrap(), Duration::from_secs(1_800));
        assert_eq!(
            parse_duration("P1DT2H3M4S").unwrap(),
            Duration::from_secs(93_784)
        );
        assert_eq!(parse_duration("P2D").unwrap(), Duration::from_secs(172_800));
        assert!(parse_duration("P").is_err());
        assert!(parse_duration("30M").is_err());
        assert!(parse_duration("PT5X").is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn topics_and_configs_commands_print_what_kafkas_tools_print() {
        let cluster = MockCluster::new(3).await.unwrap();
        let admin = admin_on(&cluster).await;
        let out = sh(
            &admin,
            "topics --create --topic orders --partitions 3 --config retention.ms=5000",
        )
        .await
        .unwrap();
        assert_eq!(out, vec!["Created topic orders."]);
        let out = sh(&admin, "topics --alter --topic orders --partitions 4")
            .await
            .unwrap();
        assert_eq!(out, vec!["Topic orders now has 4 partitions."]);
        let out = sh(&admin, "topics --describe --topic orders")
            .await
            .unwrap();
        assert_eq!(out.len(), 5, "{out:?}");
        assert!(out[0].starts_with("Topic: orders\tTopicId: "), "{}", out[0]);
        assert!(
            out[0].contains("PartitionCount: 4\tReplicationFactor: 3\tConfigs: retention.ms=5000"),
            "{}",
            out[0]
        );
        assert!(
            out[4].starts_with("\tTopic: orders\tPartition: 3\tLeader: "),
            "{}",
            out[4]
        );
        let out = sh(&admin, "configs --alter --entity-type topics --entity-name orders --add-config max.message.bytes=2000,cleanup.policy=compact --delete-config retention.ms").await.unwrap();
        assert_eq!(out, vec!["Completed updating config for topic orders."]);
        let out = sh(
            &admin,
            "configs --describe --entity-type topics --entity-name orders",
        )
        .await
        .unwrap();
        assert!(
            out.iter()
                .any(|l| l.starts_with("  max.message.bytes=2000 ")),
            "{out:?}"
        );
        assert!(
            out.iter()
                .any(|l| l.starts_with("  cleanup.policy=compact ")),
            "{out:?}"
        );
        let out = sh(&admin, "topics --list").await.unwrap();
        assert_eq!(out, vec!["orders"]);
        // Errors name what failed.
        let err = sh(&admin, "topics --create --topic orders --partitions 1")
            .await
            .unwrap_err();
        assert!(
            err.contains("orders") && err.contains("TOPIC_ALREADY_EXISTS"),
            "{err}"
        );
        let err = sh(&admin, "topics --describe --create").await.unwrap_err();
        assert!(err.contains("exactly one of"), "{err}");
        sh(&admin, "topics --delete --topic orders").await.unwrap();
        assert!(sh(&admin, "topics --list").await.unwrap().is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn groups_describe_and_reset_offsets_print_kafkas_columns_and_apply_the_plan() {
        let cluster = MockCluster::new(3).await.unwrap();
        cluster.create_topic("events", 2).unwrap();
        let admin = admin_on(&cluster).await;
        let producer: Producer<String, String> = Producer::builder(admin.client()).build().unwrap();
        for i in 0..20 {
            let r = ProducerRecord::new("events", i.to_string())
                .partition(i % 2)
                .timestamp(1_000 + i as i64 / 2);
            producer.send(r).await.unwrap();
        }
        let committed = BTreeMap::from([
            (TopicPartition::new("events", 0), OffsetAndMetadata::new(3)),
            (TopicPartition::new("events", 1), OffsetAndMetadata::new(8)),
        ]);
        admin
            .alter_consumer_group_offsets("billing", &committed)
            .await
            .unwrap();

        let out = sh(&admin, "groups --describe --group billing")
            .await
            .unwrap();
        assert_eq!(out[0], "Consumer group 'billing' has no active members.");
        assert_eq!(
            columns(&out[1]),
            [
                "GROUP",
                "TOPIC",
                "PARTITION",
                "CURRENT-OFFSET",
                "LOG-END-OFFSET",
                "LAG",
                "CONSUMER-ID",
                "HOST",
                "CLIENT-ID"
            ]
        );
        assert_eq!(
            columns(&out[2]),
            ["billing", "events", "0", "3", "10", "7", "-", "-", "-"]
        );
        assert_eq!(
            columns(&out[3]),
            ["billing", "events", "1", "8", "10", "2", "-", "-", "-"]
        );

        // Dry run: the plan, nothing changed.
        let out = sh(&admin, "groups --reset-offsets --group billing --topic events --to-datetime 1970-01-01T00:00:01.004Z --dry-run").await.unwrap();
        assert_eq!(
            columns(&out[0]),
            ["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"]
        );
        assert_eq!(columns(&out[1]), ["billing", "events", "0", "4"]);
        assert_eq!(columns(&out[2]), ["billing", "events", "1", "4"]);
        let lag = admin
            .consumer_group_lag("billing", kafkit::consumer::IsolationLevel::ReadUncommitted)
            .await
            .unwrap();
        assert_eq!(
            lag.values().map(|l| l.committed).collect::<Vec<_>>(),
            vec![3, 8]
        );
        // Shift one partition back, clamped at the start, and execute.
        let out = sh(
            &admin,
            "groups --reset-offsets --group billing --topic events:1 --shift-by -20 --execute",
        )
        .await
        .unwrap();
        assert!(
            out[0].starts_with("WARN: events-1: new offset -12"),
            "{out:?}"
        );
        assert_eq!(columns(&out[2]), ["billing", "events", "1", "0"]);
        let lag = admin
            .consumer_group_lag("billing", kafkit::consumer::IsolationLevel::ReadUncommitted)
            .await
            .unwrap();
        assert_eq!(
            lag.values().map(|l| l.committed).collect::<Vec<_>>(),
            vec![3, 0]
        );
        // From a file.
        let path =
            std::env::temp_dir().join(format!("kafkit-admin-plan-{}.csv", std::process::id()));
        std::fs::write(&path, "events,0,6\nevents,1,7\n").unwrap();
        let line = format!(
            "groups --reset-offsets --group billing --from-file {} --execute",
            path.display()
        );
        sh(&admin, &line).await.unwrap();
        std::fs::remove_file(&path).unwrap();
        let lag = admin
            .consumer_group_lag("billing", kafkit::consumer::IsolationLevel::ReadUncommitted)
            .await
            .unwrap();
        assert_eq!(
            lag.values().map(|l| l.committed).collect::<Vec<_>>(),
            vec![6, 7]
        );
        // Bad input is refused, naming it.
        let err = sh(&admin, "groups --reset-offsets --group billing --topic events --to-earliest --to-latest --dry-run").await.unwrap_err();
        assert!(err.contains("exactly one of"), "{err}");
        let err = sh(
            &admin,
            "groups --reset-offsets --group billing --topic nope --to-earliest --dry-run",
        )
        .await
        .unwrap_err();
        assert!(
            err.contains("nope") && err.contains("UNKNOWN_TOPIC_OR_PARTITION"),
            "{err}"
        );
        let out = sh(&admin, "groups --list").await.unwrap();
        assert_eq!(out, vec!["billing"]);
        sh(&admin, "groups --delete --group billing").await.unwrap();
        assert!(sh(&admin, "groups --list").await.unwrap().is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn acls_commands_add_list_and_remove_as_kafka_acls_does() {
        let cluster = MockCluster::builder()
            .acls(true)
            .super_user("User:ANONYMOUS")
            .build()
            .await
            .unwrap();
        let admin = admin_on(&cluster).await;
        let out = sh(&admin, "acls --add --allow-principal User:alice --operation Read --operation Write --topic orders").await.unwrap();
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(out[0].starts_with("Added ACL ResourcePattern(resourceType=TOPIC, name=orders, patternType=LITERAL): (principal=User:alice, host=*, operation=READ, permissionType=ALLOW)"), "{}", out[0]);
        sh(&admin, "acls --add --deny-principal User:bob --operation All --group billing --resource-pattern-type prefixed").await.unwrap();
        let out = sh(&admin, "acls --list --topic orders").await.unwrap();
        assert_eq!(out.len(), 2, "{out:?}");
        let out = sh(&admin, "acls --list").await.unwrap();
        assert_eq!(out.len(), 3, "{out:?}");
        assert!(
            out.iter().any(|l| l
                .contains("resourceType=GROUP, name=billing, patternType=PREFIXED")
                && l.contains("permissionType=DENY")),
            "{out:?}"
        );
        let out = sh(
            &admin,
            "acls --remove --allow-principal User:alice --operation Write --topic orders",
        )
        .await
        .unwrap();
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(out[0].contains("operation=WRITE"), "{}", out[0]);
        assert_eq!(sh(&admin, "acls --list").await.unwrap().len(), 2);
        let err = sh(
            &admin,
            "acls --add --allow-principal User:alice --topic orders",
        )
        .await
        .unwrap_err();
        assert!(err.contains("--operation"), "{err}");
        let err = sh(
            &admin,
            "acls --add --allow-principal User:alice --operation Fly --topic orders",
        )
        .await
        .unwrap_err();
        assert!(err.contains("Fly"), "{err}");
    }
}
