#!/usr/bin/env bash
# The SCRAM-capable Tansu broker (crates.io tansu 0.6.0 built with its libsql
# feature): print its path (building it once when missing), or start one with
# SCRAM users.
#
#   scripts/tansu_scram.sh                       print the binary's path, building it if missing
#   scripts/tansu_scram.sh start USER_SPEC...    start a broker with SCRAM users and
#                                                `--authentication`; print "PID PORT DIR"
#                                                (TANSU_ADVERTISED_PORT=P: advertise port P,
#                                                e.g. stunnel's, instead of its own)
#
# USER_SPEC is MECHANISM:USER:PASSWORD with MECHANISM scram256 or scram512,
# e.g. scram512:alice:alice-secret. `start` makes a fresh data directory DIR
# (sqlite storage, the broker's log), starts the broker there without
# authentication, creates the users with `tansu user create`, stops it and
# starts it again on the same file with `--authentication` (the recipe in
# shared/BROKERS.md). Stop it with `kill PID`; remove DIR afterwards.
#
# Why a build: the static Tansu of scripts/tansu.sh has no SCRAM user store.
# The build takes about 15 minutes on two cores, so the binary is cached:
#   1. TANSU_LIBSQL_BIN, if set, is used as is;
#   2. else <cache>/tansu-libsql/bin/tansu (cache: KAFKIT_CACHE, default
#      <repo>/target/brokers);
#   3. else it is copied from the machine-wide cache
#      ${KAFKIT_BROKER_CACHE:-$HOME/.cache/kafkit/brokers}/tansu-libsql/bin/tansu;
#   4. else it is built (`cargo install tansu --version 0.6.0 --features libsql
#      --locked`, its own CARGO_TARGET_DIR) and copied into both caches.
#
# Only the path (or "PID PORT DIR") goes to stdout; diagnostics go to stderr.
set -euo pipefail

readonly TANSU_VERSION=0.6.0

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache_root="${KAFKIT_CACHE:-$repo_root/target/brokers}"
install_root="$cache_root/tansu-libsql"
bin_path="$install_root/bin/tansu"
machine_cache="${KAFKIT_BROKER_CACHE:-$HOME/.cache/kafkit/brokers}/tansu-libsql"

die() {
    echo "tansu_scram.sh: $*" >&2
    exit 1
}

build() {
    command -v cargo >/dev/null 2>&1 || die "cargo is needed to build tansu $TANSU_VERSION"
    echo "tansu_scram.sh: building tansu $TANSU_VERSION with libsql (about 15 minutes on 2 cores)" >&2
    CARGO_TARGET_DIR="$cache_root/tansu-libsql-build" nice cargo install tansu \
        --version "$TANSU_VERSION" --features libsql --locked --root "$install_root" >&2 ||
        die "cargo install tansu $TANSU_VERSION --features libsql failed"
    [ -x "$bin_path" ] || die "the build left no $bin_path"
    if mkdir -p "$machine_cache/bin" 2>/dev/null; then
        cp -f "$bin_path" "$machine_cache/bin/tansu.tmp.$$" &&
            mv -f "$machine_cache/bin/tansu.tmp.$$" "$machine_cache/bin/tansu" ||
            echo "tansu_scram.sh: could not copy the binary into $machine_cache" >&2
    fi
}

ensure_bin() {
    if [ -n "${TANSU_LIBSQL_BIN:-}" ]; then
        [ -x "$TANSU_LIBSQL_BIN" ] || die "TANSU_LIBSQL_BIN=$TANSU_LIBSQL_BIN is not an executable file"
        echo "$TANSU_LIBSQL_BIN"
        return
    fi
    if [ ! -x "$bin_path" ]; then
        mkdir -p "$install_root/bin"
        # One build at a time (parallel tests, CI) when flock exists.
        if command -v flock >/dev/null 2>&1; then
            exec 9>"$install_root/.lock"
            flock 9
        fi
        if [ ! -x "$bin_path" ]; then
            if [ -x "$machine_cache/bin/tansu" ]; then
                cp -f "$machine_cache/bin/tansu" "$bin_path.tmp.$$"
                mv -f "$bin_path.tmp.$$" "$bin_path"
            else
                build
            fi
        fi
    fi
    echo "$bin_path"
}

free_port() {
    python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'
}

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Starts the broker in $dir on $port (extra flags after); sets $pid, waits
# until it accepts connections.
run_broker() {
    local bin="$1" dir="$2" port="$3"
    shift 3
    local url="tcp://127.0.0.1:$port"
    # TANSU_ADVERTISED_PORT: the port clients are sent to (a TLS terminator
    # such as stunnel in front of the broker), if not the broker's own.
    local advertised="tcp://127.0.0.1:${TANSU_ADVERTISED_PORT:-$port}"
    (
        cd "$dir"
        exec "$bin" broker --listener-url "$url" --advertised-listener-url "$advertised" \
            --storage-engine sqlite://tansu.db "$@" </dev/null >>"$dir/tansu.log" 2>&1
    ) &
    pid=$!
    local _
    for _ in $(seq 1 200); do # 200 x 0.1 s = 20 s
        kill -0 "$pid" 2>/dev/null || {
            sed 's/^/  /' "$dir/tansu.log" >&2
            die "the broker on port $port exited early (log $dir/tansu.log)"
        }
        port_open "$port" && return 0
        sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    die "the broker on port $port is not accepting after 20 s (log $dir/tansu.log)"
}

stop_broker() {
    kill "$1" 2>/dev/null || true
    local _
    for _ in $(seq 1 100); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -9 "$1" 2>/dev/null || true
}

start() {
    [ $# -ge 1 ] || die "start needs at least one MECHANISM:USER:PASSWORD"
    local bin dir port spec mechanism user password
    bin="$(ensure_bin)"
    mkdir -p "$cache_root"
    dir="$(mktemp -d "$cache_root/scram.XXXXXX")"
    port="$(free_port)"
    run_broker "$bin" "$dir" "$port"
    for spec in "$@"; do
        IFS=: read -r mechanism user password <<<"$spec"
        case "$mechanism" in
        scram256 | scram512) ;;
        *)
            stop_broker "$pid"
            die "mechanism must be scram256 or scram512 in a user spec"
            ;;
        esac
        [ -n "$user" ] && [ -n "$password" ] || {
            stop_broker "$pid"
            die "a user spec is MECHANISM:USER:PASSWORD"
        }
        # The password goes on the command line of a short-lived local
        # process: test credentials only.
        "$bin" user create --broker "tcp://127.0.0.1:$port" --mechanism "$mechanism" \
            "$user" "$password" >>"$dir/tansu.log" 2>&1 || {
            stop_broker "$pid"
            die "tansu user create failed for $user (log $dir/tansu.log)"
        }
    done
    stop_broker "$pid"
    run_broker "$bin" "$dir" "$port" --authentication
    echo "$pid $port $dir"
}

case "${1:-}" in
"") ensure_bin ;;
start)
    shift
    start "$@"
    ;;
-h | --help)
    sed -n '2,27p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    ;;
*) die "unknown command '$1' (try --help)" ;;
esac
