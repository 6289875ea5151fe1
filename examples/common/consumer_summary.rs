//! The summary of Kafka's `kafka-consumer-perf-test` (a header line and one
//! data line), shared by `consumer_perf` (kafkit), `rdkafka_consumer_perf`
//! (librdkafka) and `tools/rskafka_consumer_perf` (rskafka) so that all three
//! print the same figures the same way and one script can parse them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

/// One consumer run: wall-clock start, how long it took in all and how much
/// of that went to joining the group (0 with manual assignment).
pub struct Run {
    pub start: SystemTime,
    pub elapsed: Duration,
    pub rebalance: Duration,
    pub messages: u64,
    /// Key and value bytes read.
    pub bytes: u64,
}

/// Prints the header and data line. `fetch.*` figures leave the rebalance
/// time out, so they compare clients with and without a group.
pub fn print(run: &Run) {
    let mb = run.bytes as f64 / (1024.0 * 1024.0);
    let secs = run.elapsed.as_secs_f64().max(1e-9);
    let fetch = run.elapsed.saturating_sub(run.rebalance);
    let fetch_secs = fetch.as_secs_f64().max(1e-9);
    println!(
        "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec"
    );
    println!(
        "{}, {}, {mb:.4}, {:.4}, {}, {:.4}, {}, {}, {:.4}, {:.4}",
        format_time(run.start),
        format_time(run.start + run.elapsed),
        mb / secs,
        run.messages,
        run.messages as f64 / secs,
        run.rebalance.as_millis(),
        fetch.as_millis(),
        mb / fetch_secs,
        run.messages as f64 / fetch_secs,
    );
}
