#!/usr/bin/env bash
# Runs examples/quickstart.rs against $KAFKA_BOOTSTRAP if it is set and
# reachable; otherwise fetches and starts a local Tansu broker on a free
# port, runs the example against it, and stops the broker on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

reachable() {
  local host=${1%:*} port=${1##*:}
  (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
}

if [[ -n "${KAFKA_BOOTSTRAP:-}" ]] && reachable "${KAFKA_BOOTSTRAP%%,*}"; then
  echo "using broker at $KAFKA_BOOTSTRAP"
else
  [[ -n "${KAFKA_BOOTSTRAP:-}" ]] && echo "$KAFKA_BOOTSTRAP is not reachable; starting a local Tansu broker"
  # Build first so the broker is not left idle during a cold compile.
  cargo build --example quickstart
  read -r pid port < <(scripts/tansu.sh start)
  trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
  export KAFKA_BOOTSTRAP="127.0.0.1:$port"
  echo "started Tansu (pid $pid) at $KAFKA_BOOTSTRAP"
fi
cargo run --example quickstart
