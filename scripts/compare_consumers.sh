#!/usr/bin/env bash
# Side-by-side consumer throughput on one broker, in the same run:
#   kafkit        examples/consumer_perf.rs, every partition assigned manually
#   kafkit-group  the same with --group (subscribe; a fresh group per run)
#   rdkafka       examples/rdkafka_consumer_perf.rs (BaseConsumer,
#                 fetch.queue.backoff.ms=0)
#   rskafka       tools/rskafka_consumer_perf (a raw fetch loop per partition;
#                 a separate crate, built here into target/tools, never by
#                 `cargo test`)
# run alternately, RUNS times each (default 3).
#
#   scripts/compare_consumers.sh [NUM_RECORDS] [RECORD_SIZE]
#
# Uses KAFKA_BOOTSTRAP when set, else starts a Tansu broker. The topic (6
# partitions) is written once with kafkit's producer_perf. Reports median
# records/s (fetch.nMsg.sec: the group's join time left out), client CPU
# seconds and peak RSS, and each client's ratios to kafkit's. KAFKIT_ARGS
# adds consumer_perf arguments (e.g. "--fetch-connections 3").
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
num="${1:-1000000}"
size="${2:-100}"
runs="${RUNS:-3}"
target="${CARGO_TARGET_DIR:-$repo_root/target}"

cargo build --release -q --example producer_perf --example consumer_perf --example rdkafka_consumer_perf
# rskafka comes from crates.io on the first build only.
cargo build --release -q --manifest-path tools/rskafka_consumer_perf/Cargo.toml \
    --target-dir "$target/tools"
bin="$target/release/examples"
rskafka_bin="$target/tools/release/rskafka_consumer_perf"

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
# measure NAME COMMAND...: runs it under /usr/bin/time and appends
# "NAME records/s cpu-s rss-kB" to the results.
measure() {
    local name="$1"
    shift
    local out rate user sys rss
    out="$(/usr/bin/time -f 'TIME %U %S %M' "$@" --bootstrap-server "$bootstrap" \
        --topic "$topic" --messages "$num" 2>&1)"
    # The Kafka-style data line; field 10 is fetch.nMsg.sec.
    rate="$(grep -E '^[0-9]{4}-' <<<"$out" | tail -1 | cut -d, -f10 | tr -d ' ')"
    read -r _ user sys rss < <(grep '^TIME' <<<"$out")
    echo "$name run $run: $rate records/s cpu=$(echo "$user + $sys" | bc)s rss=${rss}KB" >&2
    echo "$name $rate $(echo "$user + $sys" | bc) $rss" >>"$results"
}

for run in $(seq 1 "$runs"); do
    # shellcheck disable=SC2086 # KAFKIT_ARGS is a list of arguments
    measure kafkit "$bin/consumer_perf" ${KAFKIT_ARGS:-}
    # shellcheck disable=SC2086
    measure kafkit-group "$bin/consumer_perf" ${KAFKIT_ARGS:-} --group "consume-perf-$$-$run"
    measure rdkafka "$bin/rdkafka_consumer_perf"
    measure rskafka "$rskafka_bin"
done

python3 - "$results" "$num" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
n = int(sys.argv[2])
clients = ("kafkit", "kafkit-group", "rdkafka", "rskafka")
med = {}
for c in clients:
    r = [row for row in rows if row[0] == c]
    med[c] = tuple(statistics.median(float(x[i]) for x in r) for i in (1, 2, 3))
    rate, cpu, rss = med[c]
    print(f"{c:12} {rate:12,.0f} records/s  {cpu:6.2f} CPU-s  {cpu / n * 1e6:6.3f} CPU-us/record  {rss / 1024:7.1f} MB peak RSS")
k = med["kafkit"]
for c in ("kafkit-group", "rdkafka", "rskafka"):
    o = med[c]
    print(f"ratio kafkit/{c}: records/s {k[0] / o[0]:.2f}x, CPU-s {k[1] / o[1]:.2f}x, peak RSS {k[2] / o[2]:.2f}x")
PY
