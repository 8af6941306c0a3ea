#!/usr/bin/env bash
# Serves SmolLM2-135M-Instruct OpenAI-compatibly on loopback with llama-cpp-python, in the
# background, and prints its base URL (for `openai:URL#smollm2`) on stdout.
#
#   url=$(scripts/serve-smollm2.sh)          # start (or reuse) a server on port 8089
#   scripts/serve-smollm2.sh --stop          # stop the server this script started
#
# Runs scripts/setup-smollm2.sh first (idempotent: it skips what is installed).
#
# Environment:
#   HARNESSX_SMOLLM2_PORT   port (default 8089)
#   HARNESSX_SMOLLM2_VENV   the venv (default: <project>/.venv-smollm2)
#   HARNESSX_SMOLLM2_WAIT   seconds to wait for the server to answer (default 120)
#   HARNESSX_SMOLLM2_THREADS  the server's threads, for generation and for prompt batches
#                             (default 2, this machine's cores)
#   HARNESSX_SMOLLM2_BATCH    llama.cpp's n_batch, prompt tokens per forward pass (default
#                             512); scripts/bench-smollm2-servers.sh measures both knobs
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${HARNESSX_SMOLLM2_VENV:-$root/.venv-smollm2}"
port="${HARNESSX_SMOLLM2_PORT:-8089}"
wait_s="${HARNESSX_SMOLLM2_WAIT:-120}"
threads="${HARNESSX_SMOLLM2_THREADS:-2}"
batch="${HARNESSX_SMOLLM2_BATCH:-512}"
host="127.0.0.1"
url="http://$host:$port/v1"
pidfile="$venv/server-$port.pid"
logfile="$venv/server-$port.log"

log() { printf '[serve-smollm2] %s\n' "$*" >&2; }

# Whether /v1/models answers. Uses python (always in the venv) rather than curl, which a
# minimal machine may lack.
answers() {
  "$venv/bin/python" - "$url/models" <<'PY' 2>/dev/null
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
        sys.exit(0 if r.status == 200 else 1)
except Exception:
    sys.exit(1)
PY
}

stop() {
  if [[ -f "$pidfile" ]]; then
    pid="$(cat "$pidfile")"
    # The server runs in its own session (setsid), so its process group id is its pid.
    if kill -0 "$pid" 2>/dev/null; then
      log "stopping server (pid $pid)"
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
  fi
}

if [[ "${1:-}" == "--stop" ]]; then
  stop
  exit 0
fi

gguf="$("$root/scripts/setup-smollm2.sh" | tail -n 1)"

if answers; then
  log "a server already answers at $url"
  echo "$url"
  exit 0
fi

log "starting llama_cpp.server on $host:$port (log: $logfile)"
# setsid: a process group of its own, so --stop (and CI's trap) can end it and its threads
# without touching anything else.
setsid "$venv/bin/python" -m llama_cpp.server \
  --model "$gguf" --model_alias smollm2 \
  --host "$host" --port "$port" \
  --n_ctx 2048 --n_threads "$threads" --n_threads_batch "$threads" --n_batch "$batch" \
  >"$logfile" 2>&1 </dev/null &
echo $! >"$pidfile"

deadline=$((SECONDS + wait_s))
until answers; do
  if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    log "the server exited; last lines of $logfile:"
    tail -n 20 "$logfile" >&2 || true
    rm -f "$pidfile"
    exit 1
  fi
  if ((SECONDS >= deadline)); then
    log "no answer from $url after ${wait_s}s; stopping it"
    tail -n 20 "$logfile" >&2 || true
    stop
    exit 1
  fi
  sleep 0.5
done
# The server runs in a session of its own, and the kernel shares the CPU between sessions
# ("autogroups") before it looks at nice values: a build in another terminal then takes
# half the machine however the server is reniced. Raising the server's autogroup priority
# (root only; HARNESSX_SERVER_NICE=0 to skip) keeps its tokens/s near the idle figure
# under such load (measured: 13 -> 100-150 prompt tokens/s beside four rustc processes,
# docs/MODELS.md).
server_nice="${HARNESSX_SERVER_NICE:--10}"
if [[ "$server_nice" != 0 && -w "/proc/$(cat "$pidfile")/autogroup" ]]; then
  echo "$server_nice" >"/proc/$(cat "$pidfile")/autogroup" 2>/dev/null &&
    log "server autogroup priority set to nice $server_nice"
fi
log "ready at $url (pid $(cat "$pidfile"))"
echo "$url"
