#!/usr/bin/env bash
# The real model on TextWorldExpress twc (1 room, 1 item, test fold): the seed harness of the
# real-model benchmark (bridges/textworld_express_smollm2.harness: constrained decoding, every
# admissible action offered) against the same file with one change, `offer = untried`, on the
# same games. Prints each arm's success and the paired sign test. Replies are cached in
# runs/smollm2-cache, so a rerun asks the model nothing it already answered.
#
#   url=$(scripts/serve-smollm2.sh)
#   scripts/real-model-offer-ab.sh [TASKS]     # default 40 games
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tasks="${1:-40}"
url="${HARNESSX_SMOLLM2_URL:-http://127.0.0.1:8089/v1}"
params="numLocations=1,numItemsToPutAway=1,includeDoors=0,limitInventorySize=0"
env="stdio:python3 bridges/textworld_express_bridge.py --params $params --fold test"
out="${HARNESSX_AB_OUT:-runs/offer-ab}"
mkdir -p "$out"
seed=bridges/textworld_express_smollm2.harness
variant="$out/untried.harness"
sed 's/^    decoding = constrained$/    decoding = constrained\n    offer = untried/' "$seed" > "$variant"
grep -q 'offer = untried' "$variant"
cargo build -q -p harnessx
for arm in seed untried; do
  file=$seed
  [[ $arm == untried ]] && file=$variant
  ./target/debug/harnessx run "$file" --env "$env" --interpret --workers 1 --tasks "$tasks" \
    --model "cache:runs/smollm2-cache:openai:$url#smollm2" --trace-dir "$out/$arm" | tee "$out/$arm.txt"
done
python3 - "$out" "$tasks" <<'PY'
import json, math, os, sys
out, tasks = sys.argv[1], int(sys.argv[2])
def success(arm):
    s = []
    for t in range(tasks):
        ok = False
        with open(os.path.join(out, arm, f"episode-{t:04}.jsonl")) as f:
            for line in f:
                e = json.loads(line)
                if e.get("event") == "episode_end":
                    ok = bool(e.get("success"))
        s.append(ok)
    return s
a, b = success("seed"), success("untried")
wins = sum(1 for x, y in zip(a, b) if y and not x)
losses = sum(1 for x, y in zip(a, b) if x and not y)
n, m = wins + losses, min(wins, losses)
p = min(1.0, 2 * sum(math.comb(n, k) for k in range(m + 1)) / 2 ** n) if n else 1.0
print(f"games {tasks}: seed {sum(a)}/{tasks}, offer = untried {sum(b)}/{tasks}; "
      f"untried better on {wins}, worse on {losses}; two-sided sign test p = {p:.4g}")
PY
