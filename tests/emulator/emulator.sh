#!/usr/bin/env bash
# Starts, stops or reports the local AWS emulator on a loopback port.
#   tests/emulator/emulator.sh start   # prints the endpoint URL once it answers
#   tests/emulator/emulator.sh stop
#   tests/emulator/emulator.sh url
# EMULATOR_PORT (default 4599) picks the port; EMULATOR_PYTHON the interpreter (default: the project's .venv).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
state="$root/.emulator"
port=${EMULATOR_PORT:-4599}
python=${EMULATOR_PYTHON:-$root/.venv/bin/python}
url="http://127.0.0.1:$port"

running() { [ -f "$state/pid" ] && kill -0 "$(cat "$state/pid")" 2>/dev/null; }

case "${1:-}" in
  start)
    mkdir -p "$state"
    if running; then cat "$state/url"; exit 0; fi
    "$python" "$here/server.py" --port "$port" >"$state/log" 2>&1 &
    echo $! >"$state/pid"
    echo "$url" >"$state/url"
    for _ in $(seq 1 100); do
      if curl -fsS "$url/_emulator/health" >/dev/null 2>&1; then echo "$url"; exit 0; fi
      if ! running; then break; fi
      sleep 0.1
    done
    echo "the emulator did not start; its log:" >&2
    cat "$state/log" >&2
    exit 1
    ;;
  stop)
    if running; then kill "$(cat "$state/pid")"; fi
    rm -f "$state/pid"
    ;;
  url)
    running && cat "$state/url"
    ;;
  *)
    echo "usage: $0 start|stop|url" >&2
    exit 2
    ;;
esac
