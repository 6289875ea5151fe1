//! The summary line of Kafka's `kafka-producer-perf-test`, shared by
//! `producer_perf` (kafkit) and `rdkafka_producer_perf` (librdkafka) so that
//! both print exactly the same figures the same way:
//!
//! ```text
//! N records sent, X records/sec (Y MB/sec), A ms avg latency, M ms max latency, P50 ms 50th, P95 ms 95th, P99 ms 99th, P999 ms 99.9th.
//! ```
//!
//! Latency is per record, from the call that hands it to the producer to
//! its acknowledgement. Kafka prints the percentiles in whole milliseconds,
//! too coarse to compare latencies of a few ms, so the line before it gives
//! the same figures in microseconds (`scripts/compare_latency.sh` reads it).

/// The latency at quantile `p` of `sorted` (as Kafka picks it), 0 when empty.
fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// Prints the summary for the delivered records' latencies (microseconds)
/// over `elapsed_secs`, after a note on stderr if some records failed.
pub fn print(mut latencies_us: Vec<u64>, failed: usize, elapsed_secs: f64, record_size: usize) {
    latencies_us.sort_unstable();
    let l = &latencies_us;
    let n = l.len();
    let avg_us = l.iter().map(|&x| x as f64).sum::<f64>() / n.max(1) as f64;
    let max_us = l.last().copied().unwrap_or(0);
    let quantiles = [0.5, 0.95, 0.99, 0.999].map(|p| percentile(l, p));
    let elapsed_secs = elapsed_secs.max(1e-9);
    if failed > 0 {
        eprintln!("{failed} records failed");
    }
    println!(
        "latency in us: {avg_us:.1} avg, {max_us} max, {} 50th, {} 95th, {} 99th, {} 99.9th",
        quantiles[0], quantiles[1], quantiles[2], quantiles[3],
    );
    // Kafka's line: whole ms for the percentiles (truncated, as its int
    // milliseconds are).
    let [p50, p95, p99, p999] = quantiles.map(|q| q / 1000);
    println!(
        "{n} records sent, {:.1} records/sec ({:.2} MB/sec), {:.2} ms avg latency, {:.2} ms max latency, {p50} ms 50th, {p95} ms 95th, {p99} ms 99th, {p999} ms 99.9th.",
        n as f64 / elapsed_secs,
        n as f64 * record_size as f64 / elapsed_secs / (1024.0 * 1024.0),
        avg_us / 1000.0,
        max_us as f64 / 1000.0,
    );
}
