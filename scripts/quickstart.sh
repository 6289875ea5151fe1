#!/usr/bin/env bash
# Run the quickstart example (examples/quickstart.rs) against a Kafka broker.
#
#   scripts/quickstart.sh [ARGS...]    ARGS are passed to the example
#
# The broker is $KAFKA_BOOTSTRAP when it is set and its first address accepts
# TCP connections; otherwise a private Tansu broker is fetched and started on a
# free loopback port (scripts/tansu.sh), exported as KAFKA_BOOTSTRAP for the
# example, and killed when this script exits, however it exits.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

die() {
    echo "quickstart.sh: $*" >&2
    exit 1
}

# Fail before starting anything if there is no example to run.
if [ ! -f examples/quickstart.rs ] && [ ! -f examples/quickstart/main.rs ] &&
    ! grep -Eq '^name *= *"quickstart"' Cargo.toml; then
    die "no quickstart example in this checkout (expected examples/quickstart.rs)"
fi

# Whether the first host:port of a bootstrap list accepts a TCP connection.
reachable() {
    local first="${1%%,*}"
    first="${first#*://}" # tolerate a scheme prefix
    local host="${first%:*}" port="${first##*:}"
    host="${host#[}"
    host="${host%]}"
    [ -n "$host" ] && [[ "$port" =~ ^[0-9]+$ ]] || return 1
    # shellcheck disable=SC2016 # $0/$1 expand in the inner shell
    timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" 2>/dev/null
}

tansu_pid=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    if [ -n "$tansu_pid" ]; then
        kill "$tansu_pid" 2>/dev/null || true
        # tansu.sh started it, so it is not our child and cannot be waited
        # for: poll until it is gone, then insist.
        for _ in $(seq 1 50); do
            kill -0 "$tansu_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$tansu_pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT
# Until the example runs, signals end the script through exit, so the EXIT
# trap runs for them too.
trap 'exit 130' INT
trap 'exit 143' TERM

# Build first, so a cold compile happens before any broker is started.
cargo build --example quickstart

if [ -n "${KAFKA_BOOTSTRAP:-}" ] && reachable "$KAFKA_BOOTSTRAP"; then
    echo "quickstart.sh: using KAFKA_BOOTSTRAP=$KAFKA_BOOTSTRAP" >&2
else
    if [ -n "${KAFKA_BOOTSTRAP:-}" ]; then
        echo "quickstart.sh: KAFKA_BOOTSTRAP=$KAFKA_BOOTSTRAP is not reachable; starting Tansu instead" >&2
    fi
    started="$(scripts/tansu.sh start)" || die "could not start a Tansu broker"
    read -r tansu_pid tansu_port <<<"$started"
    [ -n "${tansu_port:-}" ] || die "scripts/tansu.sh start printed '$started', not 'PID PORT'"
    export KAFKA_BOOTSTRAP="127.0.0.1:$tansu_port"
    echo "quickstart.sh: started Tansu (pid $tansu_pid) at $KAFKA_BOOTSTRAP" >&2
fi

# Not exec: the EXIT trap must still run to stop Tansu. In the background,
# so that a SIGTERM or SIGINT sent to this script is passed on to the
# example (cargo run execs it), which then stops cleanly: its group member
# leaves and its topic is deleted.
cargo run --example quickstart -- "$@" &
example=$!
trap 'kill -TERM "$example" 2>/dev/null || true' INT TERM
status=0
# A trapped signal interrupts wait (status > 128): wait again until the
# example has really exited.
while :; do
    wait "$example" && status=0 || status=$?
    kill -0 "$example" 2>/dev/null || break
done
exit "$status"
