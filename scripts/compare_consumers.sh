#!/usr/bin/env bash
# Side-by-side consumer throughput: kafkit's consumer_perf (manual
# assignment) and librdkafka's BaseConsumer (examples/rdkafka_consumer_perf.rs,
# fetch.queue.backoff.ms=0) reading the same topic from the same broker in
# the same run, alternating, RUNS times each (default 3).
#
#   scripts/compare_consumers.sh [NUM_RECORDS] [RECORD_SIZE]
#
# Uses KAFKA_BOOTSTRAP when set, else starts a Tansu broker. The topic (6
# partitions) is written once with kafkit's producer_perf. Reports median
# records/s, client CPU seconds and peak RSS, and the kafkit/rdkafka ratios.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
num="${1:-1000000}"
size="${2:-100}"
runs="${RUNS:-3}"

cargo build --release -q --example producer_perf --example consumer_perf --example rdkafka_consumer_perf
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

topic="consume-perf-$$"
"$bin/producer_perf" --bootstrap-server "$bootstrap" --topic "$topic" \
    --num-records "$num" --record-size "$size" | tail -1 >&2

results="$(mktemp)"
for run in $(seq 1 "$runs"); do
    out="$(/usr/bin/time -f 'TIME %U %S %M' "$bin/consumer_perf" --bootstrap-server "$bootstrap" \
        --topic "$topic" --messages "$num" 2>&1)"
    rate="$(grep -E '^[0-9]{4}-' <<<"$out" | tail -1 | cut -d, -f6 | tr -d ' ')"
    read -r _ user sys rss < <(grep '^TIME' <<<"$out")
    echo "kafkit run $run: $rate records/s cpu=$(echo "$user + $sys" | bc)s rss=${rss}KB" >&2
    echo "kafkit $rate $(echo "$user + $sys" | bc) $rss" >>"$results"

    out="$(/usr/bin/time -f 'TIME %U %S %M' "$bin/rdkafka_consumer_perf" --bootstrap-server "$bootstrap" \
        --topic "$topic" --messages "$num" 2>&1)"
    rate="$(grep 'records/sec' <<<"$out" | sed -E 's/.* s, ([0-9.]+) records\/sec.*/\1/')"
    read -r _ user sys rss < <(grep '^TIME' <<<"$out")
    echo "rdkafka run $run: $rate records/s cpu=$(echo "$user + $sys" | bc)s rss=${rss}KB" >&2
    echo "rdkafka $rate $(echo "$user + $sys" | bc) $rss" >>"$results"
done

python3 - "$results" "$num" <<'PY'
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
PY
