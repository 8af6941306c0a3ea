#!/usr/bin/env bash
# Fuzzes the front end and code generation (fuzz/fuzz_targets/front_end.rs) with libFuzzer
# through `cargo fuzz`, then prints a summary: executions, executions per second, wall
# time, corpus size and findings. docs/TESTING.md explains the target, the invariants and
# why the build uses `--sanitizer none` on the stable toolchain.
#
#   scripts/fuzz.sh --time 30            # 30 seconds (what CI runs)
#   scripts/fuzz.sh --runs 1000000       # a fixed number of executions
#   scripts/fuzz.sh --runs 1000000 --minimize   # ... then rewrite fuzz/seeds/front_end
#
# The working corpus is fuzz/corpus/front_end (not committed). It is seeded from the
# committed, minimized corpus fuzz/seeds/front_end, the examples and every fixture under
# tests/fixtures. A finding is saved under fuzz/artifacts/front_end/ and makes the script
# exit 1; replay one with `cargo fuzz run --sanitizer none front_end FILE`.
#
# Installs cargo-fuzz from crates.io when it is absent (`cargo install --locked`).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$PWD"

time_limit=""
runs=""
minimize=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --time) time_limit="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --minimize) minimize=1; shift ;;
    -h|--help) sed -n '2,16p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [[ -z "$time_limit" && -z "$runs" ]]; then
  time_limit=60
fi

if ! cargo fuzz --version > /dev/null 2>&1; then
  echo "cargo-fuzz is not installed; installing it from crates.io" >&2
  cargo install cargo-fuzz --locked
fi

target=front_end
corpus="fuzz/corpus/$target"
seeds="fuzz/seeds/$target"
artifacts="fuzz/artifacts/$target"
mkdir -p "$corpus" "$artifacts"

# Seeds: the minimized corpus, then every example and fixture (named by path, so a rerun
# overwrites rather than duplicates them).
cp "$seeds"/* "$corpus"/ 2> /dev/null || true
while IFS= read -r -d '' f; do
  cp "$f" "$corpus/seed-$(echo "${f#./}" | tr '/' '_')"
done < <(find examples tests/fixtures -name '*.harness' -print0)

# Stable toolchain, no sanitizer: see docs/TESTING.md ("Build"). Debug assertions and
# overflow checks stay on (cargo fuzz's default), so an overflow is a finding too.
fuzz_flags=(--sanitizer none)
(cd fuzz && cargo fuzz build "${fuzz_flags[@]}" "$target")
binary="$root/fuzz/target/x86_64-unknown-linux-gnu/release/$target"

before_corpus=$(find "$corpus" -type f | wc -l)
before_findings=$(find "$artifacts" -type f | wc -l)
limit=()
[[ -n "$time_limit" ]] && limit+=("-max_total_time=$time_limit")
[[ -n "$runs" ]] && limit+=("-runs=$runs")

log="$(mktemp)"
start=$(date +%s.%N)
set +e
# -max_len: room for any committed seed (the largest example is under 4 KB) and then some;
# -timeout: one input taking 10 s is a finding (a hang), as is -rss_limit_mb.
(cd fuzz && "$binary" "$root/$corpus" \
  -dict="$root/fuzz/$target.dict" \
  -artifact_prefix="$root/$artifacts/" \
  -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 "${limit[@]}") > "$log" 2>&1
status=$?
set -e
end=$(date +%s.%N)

stat() { grep -m1 "^stat::$1:" "$log" | awk '{print $2}' || true; }
execs=$(stat number_of_executed_units)
rate=$(stat average_exec_per_sec)
peak=$(stat peak_rss_mb)
after_corpus=$(find "$corpus" -type f | wc -l)
findings=$(($(find "$artifacts" -type f | wc -l) - before_findings))
wall=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", b - a }')

if [[ $status -ne 0 || -z "$execs" ]]; then
  echo "---- libFuzzer output (last 60 lines)"
  tail -n 60 "$log"
  findings=$((findings > 0 ? findings : 1))
fi
rm -f "$log"

if [[ $minimize -eq 1 && $findings -eq 0 ]]; then
  # Keep a smallest set of inputs covering every feature: libFuzzer's set-cover merge
  # into an empty directory.
  fresh="$(mktemp -d)"
  (cd fuzz && "$binary" -set_cover_merge=1 -max_len=16384 -timeout=10 "$fresh" "$root/$corpus") > /dev/null 2>&1
  rm -rf "$seeds"
  mkdir -p "$seeds"
  cp "$fresh"/* "$seeds"/
  rm -rf "$fresh"
  echo "minimized corpus: $(find "$seeds" -type f | wc -l) files, $(du -sh "$seeds" | cut -f1) in $seeds"
fi

cat <<EOF

fuzz summary (target $target, $(rustc --version | cut -d' ' -f1-2), sanitizer none, debug assertions on)
| executions | exec/s | wall time | peak RSS | corpus before -> after | findings |
|---:|---:|---:|---:|---:|---:|
| ${execs:-0} | ${rate:-0} | ${wall} s | ${peak:-?} MB | ${before_corpus} -> ${after_corpus} | ${findings} |
EOF

if [[ $findings -ne 0 ]]; then
  echo "FINDINGS: see $artifacts/ (replay: cd fuzz && cargo fuzz run --sanitizer none $target ../$artifacts/FILE)" >&2
  exit 1
fi
