#!/usr/bin/env bash
# How to serve SmolLM2-135M on this machine: the server knobs measured on the same real
# episodes, as ratios to the default (one server, 2 threads, n_batch 512).
#
#   scripts/bench-smollm2-servers.sh [--tasks N] [--harness FILE]
#
# Every configuration plays the same episodes: two halves of the work, `harnessx run
# --tasks N` (N = 3 by default) of FILE (default bridges/textworld_express_smollm2.harness)
# on TextWorldExpress `twc` (1 room, 1 item) through the bridge, the first half on the test
# fold's games, the second on the train fold's; one episode at a time per server:
#
#   one server, 2 threads, n_batch 512   the two halves one after the other (the default)
#   one server, 2 threads, n_batch 128   the same, smaller prompt batches
#   one server, 2 threads, n_batch 2048  the same, the whole context window per batch
#   one server, 2 threads, n_batch 512   the two halves at once, sharing the server
#   two servers, 1 thread each           the two halves at once, one per server
#
# Prints a Markdown table on stdout: wall seconds, episodes per minute and the ratio to the
# default, mean steps and successes (the episodes should match across rows for the ratio
# to be fair; the harness samples at temperature 0.2, so they may not: check these
# columns), and the servers' own prompt-eval and generation seconds (from their logs, by
# scripts/smollm2-prefix-report.py; summed over both servers in the last row). Needs what
# scripts/serve-smollm2.sh needs, python3 with textworld-express 1.1.0 and Java. About 10
# minutes on 2 idle cores, which must be otherwise idle: another process on them changes
# every figure.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

tasks=3
harness=bridges/textworld_express_smollm2.harness
while [[ $# -gt 0 ]]; do
  case "$1" in
    --tasks) tasks="$2"; shift 2 ;;
    --harness) harness="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

venv="${HARNESSX_SMOLLM2_VENV:-.venv-smollm2}"
twx="numLocations=1,numItemsToPutAway=1,includeDoors=0,limitInventorySize=0"
bridge="stdio:python3 bridges/textworld_express_bridge.py --params $twx --fold"
work="$(mktemp -d)"
# Every port this script may serve on, stopped on exit however it ends.
ports=(8093 8094 8095)
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
cleanup() {
  for p in "${ports[@]}"; do
    HARNESSX_SMOLLM2_PORT="$p" scripts/serve-smollm2.sh --stop 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

cargo build -q -p harnessx
hx=target/debug/harnessx

# serve PORT THREADS BATCH: starts a fresh server (a stale one on PORT is stopped first, so
# its knobs cannot leak into the measurement) and prints its URL.
serve() {
  HARNESSX_SMOLLM2_PORT="$1" scripts/serve-smollm2.sh --stop 2>/dev/null || true
  HARNESSX_SMOLLM2_PORT="$1" HARNESSX_SMOLLM2_THREADS="$2" HARNESSX_SMOLLM2_BATCH="$3" \
    scripts/serve-smollm2.sh
}

# half URL FOLD OUT: one half of the work (the fold's first games) against the server at URL.
half() {
  "$hx" run "$harness" --interpret --color never --env "$bridge $2" \
    --model "openai:$1#smollm2?timeout_ms=600000" --tasks "$tasks" \
    --trace-dir "$3" > "$3.summary" 2> "$3.err"
}

# A warm-up request per server so that loading the weights is not measured.
warm() {
  "$hx" run "$harness" --interpret --color never --env "$bridge dev" \
    --model "openai:$1#smollm2" --tasks 1 > /dev/null 2>&1 || true
}

# steps_and_wins DIR...: "mean steps, successes/episodes" over the traces in DIR...
steps_and_wins() {
  python3 - "$@" <<'PY'
import json, pathlib, sys
steps = wins = n = 0
for d in sys.argv[1:]:
    for f in sorted(pathlib.Path(d).glob("episode-*.jsonl")):
        n += 1
        for line in f.read_text().splitlines():
            e = json.loads(line)
            if e.get("event") == "episode_end":
                steps += int(e.get("steps", 0))
                wins += 1 if e.get("success") else 0
print(f"{steps / n if n else 0:.1f} | {wins}/{n}")
PY
}

# server_seconds LOG FROM_LINE...: "prompt eval s | generation s" from the servers' logs
# (summed over the servers named: each pair is a log and the line its measurement starts).
server_seconds() {
  local args=()
  while [[ $# -gt 0 ]]; do
    args+=("$(python3 scripts/smollm2-prefix-report.py "$1" --from-line "$2" | head -n 1)")
    shift 2
  done
  python3 - "${args[@]}" <<'PY'
import re, sys
p = g = 0.0
for line in sys.argv[1:]:
    m = re.search(r"prompt eval ([0-9.]+) s  generation ([0-9.]+) s", line)
    p += float(m.group(1))
    g += float(m.group(2))
print(f"{p:.1f} | {g:.1f}")
PY
}

rows=()
base=""
# add_row LABEL WALL TRACES_A TRACES_B SERVER_SECONDS: one row of the table; the first row
# added is the default every speed ratio divides by.
add_row() {
  [[ -z "$base" ]] && base="$2"
  rows+=("| $1 | $2 | $(python3 -c "print(f'{2 * $tasks * 60 / $2:.2f}')") | $(python3 -c "print(f'{$base / $2:.2f}')") | $(steps_and_wins "$3" "$4") | $5 |")
}
measure_one_server() { # LABEL BATCH
  local port=8093
  local url log from t0 t1 wall
  url="$(serve "$port" 2 "$2")"
  log="$venv/server-$port.log"
  warm "$url"
  from=$(wc -l < "$log")
  t0=$(date +%s.%N)
  half "$url" test "$work/$2-a"
  half "$url" train "$work/$2-b"
  t1=$(date +%s.%N)
  HARNESSX_SMOLLM2_PORT="$port" scripts/serve-smollm2.sh --stop 2>/dev/null
  wall=$(python3 -c "print(f'{$t1 - $t0:.1f}')")
  add_row "$1" "$wall" "$work/$2-a" "$work/$2-b" "$(server_seconds "$log" "$from")"
}

measure_one_server "one server, 2 threads, n_batch 512 (default)" 512
measure_one_server "one server, 2 threads, n_batch 128" 128
measure_one_server "one server, 2 threads, n_batch 2048" 2048

# at_once LABEL PORT_A PORT_B: the two halves at the same time, against the servers on
# PORT_A and PORT_B (the same port twice: both halves share one server).
at_once() {
  local url_a="$4" url_b="$5" from_a from_b t0 t1 wall pid_a pid_b seconds
  warm "$url_a"
  [[ "$url_b" != "$url_a" ]] && warm "$url_b"
  from_a=$(wc -l < "$venv/server-$2.log")
  from_b=$(wc -l < "$venv/server-$3.log")
  t0=$(date +%s.%N)
  half "$url_a" test "$work/$2-$3-a" &
  pid_a=$!
  half "$url_b" train "$work/$2-$3-b" &
  pid_b=$!
  wait "$pid_a"
  wait "$pid_b"
  t1=$(date +%s.%N)
  wall=$(python3 -c "print(f'{$t1 - $t0:.1f}')")
  if [[ "$2" == "$3" ]]; then
    seconds="$(server_seconds "$venv/server-$2.log" "$from_a")"
  else
    seconds="$(server_seconds "$venv/server-$2.log" "$from_a" "$venv/server-$3.log" "$from_b")"
  fi
  add_row "$1" "$wall" "$work/$2-$3-a" "$work/$2-$3-b" "$seconds"
}

url="$(serve 8093 2 512)"
at_once "one server, 2 threads, both halves at once" 8093 8093 "$url" "$url"
HARNESSX_SMOLLM2_PORT=8093 scripts/serve-smollm2.sh --stop 2>/dev/null

url_a="$(serve 8094 1 512)"
url_b="$(serve 8095 1 512)"
at_once "two servers, 1 thread each, one half each at once" 8094 8095 "$url_a" "$url_b"

echo "SmolLM2-135M (llama-cpp-python), $((2 * tasks)) TextWorldExpress twc episodes of $harness per row, on $(nproc) cores; load average before: $load_before."
echo
echo "| configuration | wall s | episodes/min | speed vs default | mean steps | successes | prompt eval s (servers' logs) | generation s (servers' logs) |"
echo "|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
