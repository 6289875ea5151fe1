//! The `admin` example's `groups` command, shaped like
//! `kafka-consumer-groups`: `--list`, `--describe` with Kafka's columns,
//! `--delete`, `--delete-offsets` and `--reset-offsets` with every
//! scenario, planned (`--dry-run`) or applied (`--execute`).

use std::collections::BTreeMap;
use std::time::Duration;

use kafkit::admin::ResetTo;
use kafkit::consumer::IsolationLevel;
use kafkit::{Admin, TopicPartition};

use super::admin_tool::{BoxError, Parsed, all_ok};

pub async fn groups(admin: &Admin, p: &Parsed) -> Result<Vec<String>, BoxError> {
    match p.action(&[
        "--list",
        "--describe",
        "--delete",
        "--delete-offsets",
        "--reset-offsets",
    ])? {
        "--list" => list(admin, p).await,
        "--describe" => describe(admin, p.required("--group")?).await,
        "--delete" => {
            let group = p.required("--group")?;
            all_ok(admin.delete_consumer_groups(&[group]).await?)?;
            Ok(vec![format!(
                "Deletion of requested consumer groups ('{group}') was successful."
            )])
        }
        "--delete-offsets" => {
            let group = p.required("--group")?;
            let partitions = partitions_of(admin, &p.values("--topic")).await?;
            all_ok(
                admin
                    .delete_consumer_group_offsets(group, &partitions)
                    .await?,
            )?;
            Ok(vec![format!(
                "Request succeeded for deleting offsets of {} partition(s) from group {group}.",
                partitions.len()
            )])
        }
        _ => reset(admin, p).await,
    }
}

async fn list(admin: &Admin, p: &Parsed) -> Result<Vec<String>, BoxError> {
    let states: Vec<&str> = p
        .values("--state")
        .iter()
        .flat_map(|s| s.split(','))
        .collect();
    let listed = admin.list_consumer_groups(&states, &[]).await?;
    let mut out = Vec::new();
    if states.is_empty() {
        out.extend(listed.groups.into_iter().map(|g| g.group_id));
    } else {
        out.push(format!("{:<40} {}", "GROUP", "STATE"));
        for g in listed.groups {
            out.push(format!(
                "{:<40} {}",
                g.group_id,
                g.state.unwrap_or_default()
            ));
        }
    }
    if let Some((broker, e)) = listed.errors.first() {
        return Err(format!("broker {broker} could not list its groups: {e}").into());
    }
    Ok(out)
}

/// `--describe`: one row per partition the group has committed or is
/// assigned, with its lag and the member consuming it.
async fn describe(admin: &Admin, group: &str) -> Result<Vec<String>, BoxError> {
    let described = all_ok(admin.describe_consumer_groups(&[group]).await?)?;
    let description = described
        .into_iter()
        .next()
        .map(|(_, d)| d)
        .ok_or("no answer")?;
    let lag = admin
        .consumer_group_lag(group, IsolationLevel::ReadUncommitted)
        .await?;
    let mut owner: BTreeMap<TopicPartition, (&str, &str, &str)> = BTreeMap::new();
    for m in &description.members {
        for tp in &m.assignment {
            owner.insert(tp.clone(), (&m.member_id, &m.host, &m.client_id));
        }
    }
    let mut partitions: Vec<TopicPartition> = lag.keys().chain(owner.keys()).cloned().collect();
    partitions.sort();
    partitions.dedup();
    let ends = {
        let asked: Vec<(&str, i32)> = partitions
            .iter()
            .map(|tp| (&*tp.topic, tp.partition))
            .collect();
        admin
            .list_offsets(&asked, kafkit::admin::OffsetSpec::Latest)
            .await?
    };
    let mut out = Vec::new();
    if description.members.is_empty() {
        out.push(format!("Consumer group '{group}' has no active members."));
    }
    out.push(format!(
        "{:<16} {:<16} {:>9} {:>14} {:>14} {:>6} {:<40} {:<16} {}",
        "GROUP",
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
        "CONSUMER-ID",
        "HOST",
        "CLIENT-ID"
    ));
    for (tp, (_, end)) in partitions.iter().zip(ends) {
        let end = end
            .map(|e| e.offset.to_string())
            .unwrap_or_else(|_| "-".into());
        let (current, lag) = match lag.get(tp) {
            Some(l) => (l.committed.to_string(), l.lag.to_string()),
            None => ("-".into(), "-".into()),
        };
        let (member, host, client) = owner.get(tp).copied().unwrap_or(("-", "-", "-"));
        out.push(format!(
            "{:<16} {:<16} {:>9} {:>14} {:>14} {:>6} {:<40} {:<16} {}",
            group, tp.topic, tp.partition, current, end, lag, member, host, client
        ));
    }
    Ok(out)
}

async fn reset(admin: &Admin, p: &Parsed) -> Result<Vec<String>, BoxError> {
    let group = p.required("--group")?;
    let execute = match (p.has("--dry-run"), p.has("--execute")) {
        (_, false) => false,
        (false, true) => true,
        (true, true) => return Err("give --dry-run or --execute, not both".into()),
    };
    let scenario = scenario(p)?;
    let partitions = if p.has("--all-topics") {
        Vec::new()
    } else {
        let topics = p.values("--topic");
        if topics.is_empty() && !matches!(scenario, ResetTo::FromFile(_)) {
            return Err("give --topic T[:P,...] or --all-topics".into());
        }
        partitions_of(admin, &topics).await?
    };
    let plan = admin
        .plan_offset_reset(group, &partitions, &scenario)
        .await?;
    let mut out = Vec::new();
    for (tp, note) in &plan.adjusted {
        out.push(format!("WARN: {tp}: {note}"));
    }
    out.push(format!(
        "{:<16} {:<16} {:>9} {:>10}",
        "GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"
    ));
    for (tp, offset) in &plan.offsets {
        out.push(format!(
            "{:<16} {:<16} {:>9} {:>10}",
            group, tp.topic, tp.partition, offset
        ));
    }
    if execute {
        all_ok(admin.reset_consumer_group_offsets(&plan).await?)?;
    }
    Ok(out)
}

/// The reset scenario: exactly one of Kafka's options.
fn scenario(p: &Parsed) -> Result<ResetTo, BoxError> {
    let mut found = Vec::new();
    if p.has("--to-earliest") {
        found.push(ResetTo::Earliest);
    }
    if p.has("--to-latest") {
        found.push(ResetTo::Latest);
    }
    if p.has("--to-current") {
        found.push(ResetTo::Current);
    }
    if let Some(n) = p.number("--to-offset")? {
        found.push(ResetTo::Offset(n));
    }
    if let Some(n) = p.number("--shift-by")? {
        found.push(ResetTo::ShiftBy(n));
    }
    if let Some(t) = p.value("--to-datetime") {
        found.push(ResetTo::Datetime(parse_datetime(t)?));
    }
    if let Some(d) = p.value("--by-duration") {
        found.push(ResetTo::ByDuration(parse_duration(d)?));
    }
    if let Some(path) = p.value("--from-file") {
        found.push(ResetTo::FromFile(read_plan(path)?));
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        _ => Err("give exactly one of --to-earliest, --to-latest, --to-current, --to-offset, --shift-by, --to-datetime, --by-duration, --from-file".into()),
    }
}

/// `T` (every partition) or `T:0,2` (those), for each `--topic`.
async fn partitions_of(admin: &Admin, topics: &[&str]) -> Result<Vec<TopicPartition>, BoxError> {
    let mut out = Vec::new();
    for spec in topics {
        match spec.split_once(':') {
            Some((topic, list)) => {
                for p in list.split(',') {
                    let p: i32 = p
                        .trim()
                        .parse()
                        .map_err(|_| format!("--topic {spec}: bad partition {p}"))?;
                    out.push(TopicPartition::new(topic, p));
                }
            }
            None => {
                let described = all_ok(admin.describe_topics(&[spec]).await?)?;
                for (_, t) in described {
                    out.extend(
                        t.partitions
                            .iter()
                            .map(|p| TopicPartition::new(*spec, p.partition)),
                    );
                }
            }
        }
    }
    Ok(out)
}

/// `--from-file`: CSV lines `topic,partition,offset` (what `--dry-run
/// --export` writes in Kafka's tool).
fn read_plan(path: &str) -> Result<BTreeMap<TopicPartition, i64>, BoxError> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let mut plan = BTreeMap::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let bad = || format!("{path}:{}: want topic,partition,offset", n + 1);
        let [topic, partition, offset] = fields.as_slice() else {
            return Err(bad().into());
        };
        plan.insert(
            TopicPartition::new(*topic, partition.parse().map_err(|_| bad())?),
            offset.parse().map_err(|_| bad())?,
        );
    }
    Ok(plan)
}

/// `YYYY-MM-DDTHH:mm:SS[.sss][Z|+hh:mm|-hh:mm]` to ms since the epoch
/// (UTC when no zone is given; Kafka's tool takes the local zone, which
/// a container rarely has).
pub fn parse_datetime(s: &str) -> Result<i64, BoxError> {
    let bad = || -> BoxError {
        format!("--to-datetime {s}: want YYYY-MM-DDTHH:mm:SS[.sss][Z|+hh:mm]").into()
    };
    let (date, time) = s.split_once('T').ok_or_else(bad)?;
    let d: Vec<i64> = date
        .split('-')
        .map(|x| x.parse())
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    let [year, month, day] = d.as_slice() else {
        return Err(bad());
    };
    // Split off a zone: Z, +hh:mm or -hh:mm after the seconds.
    let (clock, offset_min) = if let Some(c) = time.strip_suffix('Z') {
        (c, 0)
    } else if let Some(i) = time.rfind(['+', '-']) {
        let (c, zone) = time.split_at(i);
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let (h, m) = zone[1..].split_once(':').ok_or_else(bad)?;
        let minutes =
            h.parse::<i64>().map_err(|_| bad())? * 60 + m.parse::<i64>().map_err(|_| bad())?;
        (c, sign * minutes)
    } else {
        (time, 0)
    };
    let (hms, millis) = match clock.split_once('.') {
        Some((hms, ms)) => (
            hms,
            format!("{ms:0<3}")[..3].parse::<i64>().map_err(|_| bad())?,
        ),
        None => (clock, 0),
    };
    let t: Vec<i64> = hms
        .split(':')
        .map(|x| x.parse())
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    let [h, mi, sec] = t.as_slice() else {
        return Err(bad());
    };
    if !(1..=12).contains(month) || !(1..=31).contains(day) || *h > 23 || *mi > 59 || *sec > 60 {
        return Err(bad());
    }
    let days = days_from_civil(*year, *month, *day);
    Ok(((days * 86_400 + h * 3_600 + mi * 60 + sec) - offset_min * 60) * 1_000 + millis)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An ISO-8601 duration as `--by-duration` takes it: `PnDTnHnMnS` (any
/// part may be missing, e.g. `PT30M`, `P1D`).
pub fn parse_duration(s: &str) -> Result<Duration, BoxError> {
    let bad = || -> BoxError { format!("--by-duration {s}: want PnDTnHnMnS, e.g. PT30M").into() };
    let rest = s.strip_prefix('P').ok_or_else(bad)?;
    let (days, time) = match rest.split_once('T') {
        Some((d, t)) => (d, t),
        None => (rest, ""),
    };
    let mut secs: u64 = 0;
    let mut number = String::new();
    for (part, units) in [
        (days, &[('D', 86_400u64)][..]),
        (time, &[('H', 3_600), ('M', 60), ('S', 1)][..]),
    ] {
        for c in part.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let (_, scale) = units.iter().find(|(u, _)| *u == c).ok_or_else(bad)?;
            secs += number.parse::<u64>().map_err(|_| bad())? * scale;
            number.clear();
        }
        if !number.is_empty() {
            return Err(bad());
        }
    }
    if rest.is_empty() || rest == "T" {
        return Err(bad());
    }
    Ok(Duration::from_secs(secs))
}
