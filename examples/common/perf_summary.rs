//! The summary line of Kafka's `kafka-producer-perf-test`, shared by
//! `producer_perf` (kafkit) and `rdkafka_producer_perf` (librdkafka) so that
//! both print exactly the same figures the same way.

/// The latency at quantile `p` of `sorted` (milliseconds), 0 when empty.
fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// Prints the summary for the delivered records' latencies (ms) over
/// `elapsed_secs`, after a note on stderr if some records failed.
pub fn print(mut latencies: Vec<u32>, failed: usize, elapsed_secs: f64, record_size: usize) {
    latencies.sort_unstable();
    let n = latencies.len();
    let avg = latencies.iter().map(|&l| l as f64).sum::<f64>() / n.max(1) as f64;
    if failed > 0 {
        eprintln!("{failed} records failed");
    }
    println!(
        "{n} records sent, {:.1} records/sec ({:.2} MB/sec), {avg:.2} ms avg latency, {:.2} ms max latency, {} ms 50th, {} ms 95th, {} ms 99th, {} ms 99.9th.",
        n as f64 / elapsed_secs,
        n as f64 * record_size as f64 / elapsed_secs / (1024.0 * 1024.0),
        latencies.last().copied().unwrap_or(0) as f64,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.95),
        percentile(&latencies, 0.99),
        percentile(&latencies, 0.999),
    );
}
