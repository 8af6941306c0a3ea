#!/usr/bin/env bash
# Every number in docs/BENCHMARKS.md, from one command:
#
#   scripts/benchmarks.sh
#
# 1. `cargo bench -p harnessx-benches`: the criterion benchmarks (results in
#    target/criterion/), then `criterion-report` (a binary of harnessx-benches) renders
#    them as Markdown to target/criterion-report.md; the stress bench (front end on
#    oversized input) writes its table into docs/TESTING.md, section `stress`.
# 2. SmolLM2-135M-Instruct served on loopback by scripts/serve-smollm2.sh (set up on the
#    first run; stopped on exit, however the script ends).
# 3. `harnessx bench evolution` with the rendered criterion results and the real-model arm,
#    writing docs/BENCHMARKS.md and docs/bench/*.svg, and the README's evolution table
#    (its section `evolution`, the household rows of the headline table). The real model's responses are
#    recorded in target/bench-real-model-cache/, so a rerun replays them instead of asking
#    again.
# 4. `loopback-bench concurrency` (episodes in flight against a loopback server and against
#    SmolLM2) and `loopback-bench chaos` (1,000 episodes against a faulty server), each
#    writing its own section of docs/BENCHMARKS.md (about 5 minutes together).
#
# Needs the Rust toolchain, python3 with textworld-express 1.1.0 and Java (the
# TextWorldExpress environment), and what scripts/setup-smollm2.sh needs. Takes about
# half an hour on 2 cores: criterion a few minutes, the simulated cells about 10 minutes,
# the real-model arm about 12 (seconds when replayed from the cache).
#
# Environment:
#   HARNESSX_BENCH_SKIP_CRITERION=1   use the criterion results already in target/criterion
#   HARNESSX_BENCH_NO_REAL_MODEL=1    leave the real-model arm out (the report says so)
# Further arguments go to `harnessx bench evolution` (e.g. --real-tasks 4).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() {
  printf '\n==> %s\n' "$*" >&2
}

if [[ "${HARNESSX_BENCH_SKIP_CRITERION:-}" != 1 ]]; then
  step "cargo bench -p harnessx-benches"
  # HARNESSX_BENCH_WRITE_DOCS: the stress bench writes its table into docs/TESTING.md.
  HARNESSX_BENCH_WRITE_DOCS=1 cargo bench -p harnessx-benches
fi

step "criterion-report target/criterion > target/criterion-report.md"
cargo run --release -q -p harnessx-benches --bin criterion-report -- target/criterion \
  > target/criterion-report.md

step "cargo build --release -p harnessx"
cargo build --release -p harnessx

real=()
smollm2=()
if [[ "${HARNESSX_BENCH_NO_REAL_MODEL:-}" != 1 ]]; then
  step "SmolLM2-135M server"
  url="$(scripts/serve-smollm2.sh)"
  trap 'scripts/serve-smollm2.sh --stop' EXIT
  # Household prompts reach ~1,700 tokens; under load one call can take over a minute.
  real=(--real-model "openai:$url#smollm2?timeout_ms=300000")
  smollm2=(--smollm2-url "$url")
  log="${HARNESSX_SMOLLM2_VENV:-.venv-smollm2}/server-${HARNESSX_SMOLLM2_PORT:-8089}.log"
  if [[ -f "$log" ]]; then
    smollm2+=(--smollm2-log "$log")
  fi
fi

step "harnessx bench evolution"
cargo run --release -q -p harnessx -- bench evolution \
  --via scripts/benchmarks.sh \
  --criterion-md target/criterion-report.md \
  "${real[@]}" \
  --out docs/BENCHMARKS.md \
  --readme README.md \
  "$@"

# After the whole rewrite above, which keeps these sections as they were: refresh them.
step "loopback-bench concurrency"
cargo run --release -q -p harnessx-benches --bin loopback-bench -- concurrency \
  "${smollm2[@]}" --out docs/BENCHMARKS.md > /dev/null

step "loopback-bench chaos"
cargo run --release -q -p harnessx-benches --bin loopback-bench -- chaos \
  --out docs/BENCHMARKS.md > /dev/null
