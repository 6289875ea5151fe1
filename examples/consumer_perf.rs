//! Consumer throughput, shaped like Kafka's `kafka-consumer-perf-test`:
//!
//! ```text
//! cargo run --release --example consumer_perf -- --bootstrap-server HOST:PORT --topic T \
//!     --messages N [--group G] [--from-latest] [--timeout-ms 10000]
//! ```
//! Without `--group` every partition of the topic is assigned manually
//! (rebalance time 0). Prints Kafka's header line and one data line.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use kafkit::consumer::{Consumer, OffsetReset};
use kafkit::{Client, TopicPartition};

struct Args {
    bootstrap: String,
    topic: String,
    messages: u64,
    group: Option<String>,
    from_latest: bool,
    timeout: Duration,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        bootstrap: String::new(),
        topic: String::new(),
        messages: 0,
        group: None,
        from_latest: false,
        timeout: Duration::from_secs(10),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--bootstrap-server" | "--broker-list" => a.bootstrap = value()?,
            "--topic" => a.topic = value()?,
            "--messages" => {
                a.messages = value()?.parse().map_err(|e| format!("--messages: {e}"))?
            }
            "--group" => a.group = Some(value()?),
            "--from-latest" => a.from_latest = true,
            "--timeout" | "--timeout-ms" => {
                a.timeout =
                    Duration::from_millis(value()?.parse().map_err(|e| format!("--timeout: {e}"))?)
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.bootstrap.is_empty() || a.topic.is_empty() || a.messages == 0 {
        return Err("--bootstrap-server, --topic and --messages are required".into());
    }
    Ok(a)
}

/// `yyyy-MM-dd HH:mm:ss:SSS` in UTC, as the Kafka tool prints (it uses the
/// local zone; machines running benchmarks are usually on UTC).
fn format_time(t: SystemTime) -> String {
    let ms = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0) as i64;
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}:{:03}",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

#[tokio::main]
async fn main() -> kafkit::Result<()> {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("consumer_perf: {e}");
            std::process::exit(2);
        }
    };
    if args.group.is_some() {
        eprintln!(
            "consumer_perf: --group is not yet supported (consumer groups land later); omit it to assign every partition"
        );
        std::process::exit(2);
    }
    let client = Client::builder(&args.bootstrap)
        .client_id("kafkit-consumer-perf")
        .build()
        .await?;
    let meta = client.metadata_for(&[&args.topic]).await?;
    let Some(topic) = meta.topic(&args.topic) else {
        eprintln!("consumer_perf: topic {} not found", args.topic);
        std::process::exit(1);
    };
    let partitions: Vec<TopicPartition> = topic
        .partitions
        .iter()
        .map(|p| TopicPartition::new(args.topic.as_str(), p.partition))
        .collect();

    let start_wall = SystemTime::now();
    let start = Instant::now();
    let consumer: Consumer<Bytes, Bytes> = Consumer::builder(&client)
        .auto_offset_reset(if args.from_latest {
            OffsetReset::Latest
        } else {
            OffsetReset::Earliest
        })
        .build()?;
    consumer.assign(partitions)?;
    // Manual assignment: no rebalance.
    let rebalance = Duration::ZERO;

    let (mut messages, mut bytes) = (0u64, 0u64);
    let mut last_record = Instant::now();
    while messages < args.messages && last_record.elapsed() < args.timeout {
        let records = consumer.poll(Duration::from_millis(100)).await?;
        if !records.is_empty() {
            last_record = Instant::now();
        }
        for r in &records {
            messages += 1;
            bytes += r.key.as_ref().map_or(0, |k| k.len()) as u64
                + r.value.as_ref().map_or(0, |v| v.len()) as u64;
        }
    }
    let elapsed = start.elapsed();
    let end_wall = SystemTime::now();
    if messages < args.messages {
        eprintln!(
            "WARNING: Exiting before consuming the expected number of messages: timeout ({} ms) exceeded.",
            args.timeout.as_millis()
        );
    }
    let mb = bytes as f64 / (1024.0 * 1024.0);
    let secs = elapsed.as_secs_f64().max(1e-9);
    let fetch = elapsed.saturating_sub(rebalance);
    let fetch_secs = fetch.as_secs_f64().max(1e-9);
    println!(
        "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec"
    );
    println!(
        "{}, {}, {mb:.4}, {:.4}, {messages}, {:.4}, {}, {}, {:.4}, {:.4}",
        format_time(start_wall),
        format_time(end_wall),
        mb / secs,
        messages as f64 / secs,
        rebalance.as_millis(),
        fetch.as_millis(),
        mb / fetch_secs,
        messages as f64 / fetch_secs,
    );
    let m = consumer.metrics();
    eprintln!(
        "fetch requests {}, avg fetch latency {:?}, records fetched {}",
        m.fetch_requests, m.fetch_latency_avg, m.records_fetched
    );
    consumer.close(Duration::from_secs(5)).await;
    Ok(())
}
