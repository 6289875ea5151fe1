#!/usr/bin/env bash
# What TLS costs the client itself, kafkit against librdkafka: client CPU
# seconds (user+sys, from getrusage) per record with TLS and without,
# producing and consuming, in the same run, alternating, RUNS times each
# (default 3), medians reported.
#
#   scripts/compare_tls.sh [NUM_RECORDS] [RECORD_SIZE]
#
# Why CPU per record and not records/s: TLS is terminated for the broker by
# stunnel, which runs on the same machine as the clients. A client that reads
# faster makes stunnel encrypt faster, so a throughput ratio (TLS / plain)
# mixes the client's cost with stunnel's, and punishes the faster client.
# The CPU the client process itself burns per record does not depend on
# stunnel's share of the cores (only on how the data arrives), so
#   TLS cost = CPU-us/record with TLS - CPU-us/record without
# is the client's own. records/s is reported too, for reference.
#
# Two Tansu brokers (scripts/tansu.sh): a plain one, and one behind stunnel
# that advertises stunnel's port (so metadata sends clients back through
# TLS; a broker cannot advertise both). The CA and the server certificate
# (subjectAltName IP:127.0.0.1, DNS:localhost) are made with openssl in a
# temp dir. Clients: kafkit's producer_perf/consumer_perf (examples/, built
# with --features tls) and librdkafka's rdkafka_producer_perf/
# rdkafka_consumer_perf, all given the same --command-config
# (security.protocol=SSL, ssl.ca.location). Each producer run writes a fresh
# 6-partition topic; consumers read one topic per broker written once at
# the start with kafkit's producer_perf, every partition assigned.
#
# Needs stunnel4 and openssl. PERF_ARGS adds arguments to both producers
# (e.g. "--linger-ms 0").
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
num="${1:-1000000}"
size="${2:-100}"
runs="${RUNS:-3}"
extra=(${PERF_ARGS:-})
stunnel="$(command -v stunnel4 || command -v stunnel)" ||
    { echo "compare_tls.sh: stunnel is not installed (apt-get install -y stunnel4)" >&2; exit 1; }

cargo build --release -q -p kafkit-examples --features tls --example producer_perf --example consumer_perf
cargo build --release -q --example rdkafka_producer_perf --example rdkafka_consumer_perf
bin="${CARGO_TARGET_DIR:-$repo_root/target}/release/examples"

dir="$(mktemp -d)"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$dir"
}
trap cleanup EXIT

# A CA and a server certificate from it. The extensions make them X.509 v3
# certificates: webpki (kafkit's verifier) refuses v1, and needs the
# subjectAltName to match 127.0.0.1.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=compare-tls-ca \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=localhost \
    -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
printf '%s\n' basicConstraints=CA:FALSE extendedKeyUsage=serverAuth \
    keyUsage=digitalSignature,keyEncipherment subjectAltName=IP:127.0.0.1,DNS:localhost >"$dir/server.ext"
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -set_serial 1 \
    -days 2 -extfile "$dir/server.ext" -out "$dir/server.pem" 2>/dev/null
printf 'security.protocol=SSL\nssl.ca.location=%s\n' "$dir/ca.pem" >"$dir/tls.properties"

free_port() {
    python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'
}

read -r pid port < <(scripts/tansu.sh start)
pids+=("$pid")
plain="127.0.0.1:$port"

tls_port="$(free_port)"
read -r pid port < <(TANSU_ADVERTISED_PORT="$tls_port" scripts/tansu.sh start)
pids+=("$pid")
# TCP_NODELAY both ways as in tests/support/tls.rs: without it stunnel's
# small writes wait on Nagle and the clients' acks.
cat >"$dir/stunnel.conf" <<EOF
foreground = yes
pid =
output = $dir/stunnel.log
debug = info
socket = l:TCP_NODELAY=1
socket = r:TCP_NODELAY=1

[kafka]
accept = 127.0.0.1:$tls_port
connect = 127.0.0.1:$port
cert = $dir/server.pem
key = $dir/server.key
EOF
"$stunnel" "$dir/stunnel.conf" </dev/null >/dev/null 2>&1 &
pids+=("$!")
for _ in $(seq 1 100); do # 100 x 0.1 s = 10 s
    (exec 3<>"/dev/tcp/127.0.0.1/$tls_port") 2>/dev/null && break
    sleep 0.1
done
tls="127.0.0.1:$tls_port"

# connect MODE: the arguments that point a tool at MODE's broker.
connect() {
    if [ "$1" = tls ]; then
        echo "--bootstrap-server $tls --command-config $dir/tls.properties"
    else
        echo "--bootstrap-server $plain"
    fi
}

# The consumers' topics, one per broker, written once.
topic="tls-consume-$$"
for mode in plain tls; do
    # shellcheck disable=SC2046 # connect's words are separate arguments
    "$bin/producer_perf" $(connect "$mode") --topic "$topic" \
        --num-records "$num" --record-size "$size" | tail -1 >&2
done

results="$dir/results"
# timed COMMAND...: runs it and prints "TIME user-s sys-s" and "RSS
# peak-kB" on stderr. Not /usr/bin/time alone: it rounds CPU times to
# 10 ms, and a consumer burns only ~0.1 s for 1M records, so a 10 ms step
# would be a 10% error on the very difference measured; getrusage gives
# microseconds. The peak RSS still comes from /usr/bin/time (its child is a
# small C process until exec; a child of python's would report python's
# RSS); its own CPU (~1 ms) is in the times.
timed() {
    python3 -c '
import resource, subprocess, sys
# Children of this process before it ran python (a pyenv shim) count too.
b = resource.getrusage(resource.RUSAGE_CHILDREN)
code = subprocess.call(sys.argv[1:])
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"TIME {r.ru_utime - b.ru_utime:.6f} {r.ru_stime - b.ru_stime:.6f}", file=sys.stderr)
sys.exit(code)' /usr/bin/time -f 'RSS %M' "$@"
}
# record NAME OUTPUT RATE: appends "NAME records/s cpu-s rss-kB" from
# timed's lines in OUTPUT.
record() {
    local user sys rss cpu
    read -r _ user sys < <(grep '^TIME' <<<"$2")
    read -r _ rss < <(grep '^RSS' <<<"$2")
    cpu="$(echo "$user + $sys" | bc)"
    echo "$1 run $run: $3 records/s cpu=${cpu}s rss=${rss}KB" >&2
    echo "$1 $3 $cpu $rss" >>"$results"
}

# produce CLIENT MODE: one producer run into a fresh topic.
produce() {
    local t="tls-produce-$1-$2-$run-$$" tool="$bin/producer_perf" out summary sent
    # kafkit's tool creates the topic (6 partitions) with one record;
    # librdkafka's needs it to exist.
    # shellcheck disable=SC2046
    "$bin/producer_perf" $(connect "$2") --topic "$t" --num-records 1 --record-size "$size" >/dev/null
    [ "$1" = rdkafka ] && tool="$bin/rdkafka_producer_perf"
    # shellcheck disable=SC2046
    out="$(timed "$tool" $(connect "$2") --topic "$t" \
        --num-records "$num" --record-size "$size" "${extra[@]}" 2>&1)"
    summary="$(grep 'records sent' <<<"$out" | tail -1)"
    sent="${summary%% *}"
    [ "$sent" = "$num" ] || { echo "$1 produce $2: sent ${sent:-none} of $num:" >&2; echo "$out" >&2; exit 1; }
    record "produce-$1-$2" "$out" "$(sed -E 's/.* records sent, ([0-9.]+) records\/sec.*/\1/' <<<"$summary")"
}

# consume CLIENT MODE: one consumer run over the whole topic.
consume() {
    local tool="$bin/consumer_perf" out data got
    [ "$1" = rdkafka ] && tool="$bin/rdkafka_consumer_perf"
    # shellcheck disable=SC2046
    out="$(timed "$tool" $(connect "$2") --topic "$topic" \
        --messages "$num" 2>&1)"
    # The Kafka-style data line: field 5 is data.consumed.in.nMsg, field
    # 10 fetch.nMsg.sec.
    data="$(grep -E '^[0-9]{4}-' <<<"$out" | tail -1)"
    got="$(cut -d, -f5 <<<"$data" | tr -d ' ')"
    [ "$got" = "$num" ] || { echo "$1 consume $2: read ${got:-none} of $num:" >&2; echo "$out" >&2; exit 1; }
    record "consume-$1-$2" "$out" "$(cut -d, -f10 <<<"$data" | tr -d ' ')"
}

# Alternating, with the order turned round on every other run so that
# neither client nor mode always goes first.
for run in $(seq 1 "$runs"); do
    order=("kafkit plain" "rdkafka plain" "kafkit tls" "rdkafka tls")
    if [ $((run % 2)) = 0 ]; then
        order=("rdkafka tls" "kafkit tls" "rdkafka plain" "kafkit plain")
    fi
    for job in "${order[@]}"; do
        # shellcheck disable=SC2086 # "CLIENT MODE"
        produce $job
    done
    for job in "${order[@]}"; do
        # shellcheck disable=SC2086
        consume $job
    done
done
# What the TLS connections negotiated (stunnel logs it per connection at
# level info).
grep -oE 'TLSv1\.[23][^,]*ciphersuite: [A-Z0-9_-]+' "$dir/stunnel.log" | sort | uniq -c >&2 || true

python3 - "$results" "$num" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
n = int(sys.argv[2])
# A ratio, or "n/a" where a tiny run measured 0 CPU seconds.
ratio = lambda a, b: f"{a / b:.2f}x" if b else "n/a"
med = {}
for op in ("produce", "consume"):
    for c in ("kafkit", "rdkafka"):
        for m in ("plain", "tls"):
            name = f"{op}-{c}-{m}"
            r = [row for row in rows if row[0] == name]
            rate, cpu, rss = (statistics.median(float(x[i]) for x in r) for i in (1, 2, 3))
            med[op, c, m] = (rate, cpu / n * 1e6)
            # The spread says how far apart runs were: a TLS cost smaller
            # than it is noise.
            lo, hi = (f(float(x[2]) for x in r) / n * 1e6 for f in (min, max))
            print(f"{name:22} {rate:12,.0f} records/s  {cpu:6.3f} CPU-s  {cpu / n * 1e6:6.3f} CPU-us/record "
                  f"({lo:.3f}-{hi:.3f})  {rss / 1024:7.1f} MB peak RSS")
print()
for op in ("produce", "consume"):
    cost = {}
    for c in ("kafkit", "rdkafka"):
        (rp, up), (rt, ut) = med[op, c, "plain"], med[op, c, "tls"]
        cost[c] = ut - up
        print(f"{op:7} {c:7} TLS/plain: records/s {ratio(rt, rp)}, CPU-us/record {ratio(ut, up)}; "
              f"TLS cost {cost[c]:+.3f} CPU-us/record")
    (rk, uk), (rr, ur) = med[op, "kafkit", "tls"], med[op, "rdkafka", "tls"]
    print(f"{op:7} kafkit/rdkafka with TLS: records/s {ratio(rk, rr)}, CPU-us/record {ratio(uk, ur)}; "
          f"TLS cost kafkit - rdkafka {cost['kafkit'] - cost['rdkafka']:+.3f} CPU-us/record")
PY
