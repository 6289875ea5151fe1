#!/usr/bin/env bash
# Side-by-side producer throughput: kafkit's producer_perf and librdkafka's
# ThreadedProducer (examples/rdkafka_producer_perf.rs) against the same
# broker in the same run, alternating, RUNS times each (default 3).
#
#   scripts/compare_producers.sh [NUM_RECORDS] [RECORD_SIZE]
#
# Uses KAFKA_BOOTSTRAP when set, else starts a Tansu broker (scripts/tansu.sh).
# Each run writes to a fresh 6-partition topic. Reports, per client, the
# median records/s, client CPU seconds (user+sys, from /usr/bin/time) and
# peak RSS, then the ratios kafkit/rdkafka. PERF_ARGS adds arguments to both
# tools (e.g. "--linger-ms 0", "--compression lz4"); for sequential latency
# see scripts/compare_latency.sh.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
num="${1:-1000000}"
size="${2:-100}"
runs="${RUNS:-3}"
extra=(${PERF_ARGS:-})

cargo build --release -q --example producer_perf --example rdkafka_producer_perf
bin="${CARGO_TARGET_DIR:-$repo_root/target}/release/examples"

tansu_pid=""
cleanup() { [ -n "$tansu_pid" ] && kill "$tansu_pid" 2>/dev/null || true; }
trap cleanup EXIT
if [ -n "${KAFKA_BOOTSTRAP:-}" ]; then
    bootstrap="$KAFKA_BOOTSTRAP"
else
    read -r tansu_pid port < <(scripts/tansu.sh start)
    bootstrap="127.0.0.1:$port"
fi

results="$(mktemp)"
for run in $(seq 1 "$runs"); do
    for client in kafkit rdkafka; do
        topic="perf-$client-$run-$$"
        # kafkit's tool creates the topic (6 partitions) with one record.
        "$bin/producer_perf" --bootstrap-server "$bootstrap" --topic "$topic" \
            --num-records 1 --record-size "$size" >/dev/null
        tool="$bin/producer_perf"
        [ "$client" = rdkafka ] && tool="$bin/rdkafka_producer_perf"
        out="$(/usr/bin/time -f 'TIME %U %S %M' "$tool" --bootstrap-server "$bootstrap" \
            --topic "$topic" --num-records "$num" --record-size "$size" "${extra[@]}" 2>&1)"
        summary="$(grep 'records sent' <<<"$out" | tail -1)"
        rate="$(sed -E 's/.* records sent, ([0-9.]+) records\/sec.*/\1/' <<<"$summary")"
        read -r _ user sys rss < <(grep '^TIME' <<<"$out")
        echo "$client run $run: $summary cpu=$(echo "$user + $sys" | bc)s rss=${rss}KB" >&2
        echo "$client $rate $(echo "$user + $sys" | bc) $rss" >>"$results"
    done
done

python3 - "$results" "$num" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
n = int(sys.argv[2])
med = {}
for c in ("kafkit", "rdkafka"):
    r = [row for row in rows if row[0] == c]
    med[c] = tuple(statistics.median(float(x[i]) for x in r) for i in (1, 2, 3))
    rate, cpu, rss = med[c]
    print(f"{c:8} {rate:12,.0f} records/s  {cpu:6.2f} CPU-s  {cpu / n * 1e6:6.3f} CPU-us/record  {rss / 1024:7.1f} MB peak RSS")
k, r = med["kafkit"], med["rdkafka"]
print(f"ratio kafkit/rdkafka: records/s {k[0] / r[0]:.2f}x, CPU-s per record {k[1] / r[1]:.2f}x, peak RSS {k[2] / r[2]:.2f}x")
EOF
