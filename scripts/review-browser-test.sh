#!/usr/bin/env bash
# The review site (docs/REVIEW.md) in a real headless Chromium: a small real evolve run,
# `harnessx review` on it, then scripts/review-browser-test.cjs checks the DOM and keeps
# screenshots in target/review-browser-test/. Installs Debian's chromium when absent and
# playwright-core (the driver only; it downloads no browser) into target/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

out=target/review-browser-test
rm -rf "$out"
mkdir -p "$out"

missing=()
command -v chromium > /dev/null || missing+=(chromium)
command -v npm > /dev/null || missing+=(nodejs npm)
if ((${#missing[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" > /dev/null
fi
pw=target/playwright-core
if [[ ! -f $pw/node_modules/playwright-core/package.json ]]; then
  npm install --prefix "$pw" --no-audit --no-fund --silent playwright-core@1.65.1
fi

cargo build -q -p harnessx
bin=target/debug/harnessx
# A seed file whose name is markup: the page must show it as text.
seed="$out/evil\"'<img src=x onerror=document.title='PWNED'>.harness"
cp examples/household.harness "$seed"
# Two rounds on ten tasks: a few seconds. With run seed 1 a change ships (with seed 0 the
# simulated household run ships nothing, and the page would have no diff to show).
"$bin" evolve "$seed" --rounds 2 --train-tasks 10 --held-out-tasks 20 --seed 1 --no-build \
  --out "$out/run" > "$out/evolve.log"
"$bin" review "$out/run"
PLAYWRIGHT_CORE="$pw/node_modules/playwright-core" CHROMIUM="$(command -v chromium)" \
  node scripts/review-browser-test.cjs "$out/run" "$out"
