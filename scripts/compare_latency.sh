#!/usr/bin/env bash
# Side-by-side sequential send latency: kafkit's `producer_perf --sequential`
# (each `send().await` finishes before the next) and librdkafka's
# `rdkafka_producer_perf --sequential` (each record's delivery report is
# awaited before the next is produced; not flush, which skips linger.ms),
# against the same broker in the same run, alternating, RUNS times each
# (default 3). Both use acks=all, idempotence and the same linger.ms
# (default 5, both clients' default).
#
#   scripts/compare_latency.sh [NUM_RECORDS] [RECORD_SIZE]   (default 300 100)
#
# Uses KAFKA_BOOTSTRAP when set, else starts a Tansu broker (scripts/tansu.sh).
# Each run writes to a fresh 6-partition topic. Reports, per client, the
# median over runs of the p50, p99 and average latency (microseconds, from
# the tools' "latency in us" line), then the ratio kafkit/rdkafka of the
# median p50s. PERF_ARGS adds arguments to both tools (e.g. "--linger-ms 0").
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
num="${1:-300}"
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
trap 'cleanup; rm -f "$results"' EXIT
for run in $(seq 1 "$runs"); do
    for client in kafkit rdkafka; do
        topic="latency-$client-$run-$$"
        # kafkit's tool creates the topic (6 partitions) with one record.
        "$bin/producer_perf" --bootstrap-server "$bootstrap" --topic "$topic" \
            --num-records 1 --record-size "$size" >/dev/null
        tool="$bin/producer_perf"
        [ "$client" = rdkafka ] && tool="$bin/rdkafka_producer_perf"
        out="$("$tool" --bootstrap-server "$bootstrap" --topic "$topic" --sequential \
            --num-records "$num" --record-size "$size" "${extra[@]}" 2>&1)"
        # "latency in us: A avg, M max, P50 50th, P95 95th, P99 99th, P999 99.9th"
        line="$(grep '^latency in us:' <<<"$out" | tail -1)" ||
            { echo "$client run $run: no latency line in:" >&2; echo "$out" >&2; exit 1; }
        read -r avg p50 p99 < <(sed -E 's/^latency in us: ([0-9.]+) avg, [0-9]+ max, ([0-9]+) 50th, [0-9]+ 95th, ([0-9]+) 99th.*/\1 \2 \3/' <<<"$line")
        echo "$client run $run: $(grep 'records sent' <<<"$out" | tail -1)" >&2
        echo "$client $p50 $p99 $avg" >>"$results"
    done
done

python3 - "$results" "$num" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
med = {}
for c in ("kafkit", "rdkafka"):
    r = [row for row in rows if row[0] == c]
    med[c] = tuple(statistics.median(float(x[i]) for x in r) for i in (1, 2, 3))
    p50, p99, avg = med[c]
    print(f"{c:8} {sys.argv[2]} sequential sends: p50 {p50 / 1000:8.2f} ms  p99 {p99 / 1000:8.2f} ms  avg {avg / 1000:8.2f} ms (medians of {len(r)} runs)")
k, r = med["kafkit"], med["rdkafka"]
print(f"ratio kafkit/rdkafka: p50 {k[0] / r[0]:.2f}x (target <= 1.20x), p99 {k[1] / r[1]:.2f}x, avg {k[2] / r[2]:.2f}x")
PY
