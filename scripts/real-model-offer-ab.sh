#!/usr/bin/env bash
# The real model on TextWorldExpress twc (1 room, 1 item, test fold): the seed harness of the
# real-model benchmark (bridges/textworld_express_smollm2.harness: constrained decoding, every
# admissible action offered) against the same file with one change, `offer = VARIANT`, on the
# same games. Prints each arm's success and the paired sign test against the seed. Replies
# are cached in runs/smollm2-cache, so a rerun asks the model nothing it already answered.
#
#   url=$(scripts/serve-smollm2.sh)
#   scripts/real-model-offer-ab.sh [TASKS [VARIANT...]]
#     TASKS defaults to 40 games; VARIANTs default to every `offer` other than `all`.
#     HARNESSX_AB_FOLD=dev plays the bridge's dev fold instead of the test fold.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tasks="${1:-40}"
shift || true
variants=("$@")
[[ ${#variants[@]} -eq 0 ]] && variants=(untried untried_since_reward untried_since_change)
url="${HARNESSX_SMOLLM2_URL:-http://127.0.0.1:8089/v1}"
params="numLocations=1,numItemsToPutAway=1,includeDoors=0,limitInventorySize=0"
fold="${HARNESSX_AB_FOLD:-test}"
env="stdio:python3 bridges/textworld_express_bridge.py --params $params --fold $fold"
out="${HARNESSX_AB_OUT:-runs/offer-ab}"
mkdir -p "$out"
seed=bridges/textworld_express_smollm2.harness
cargo build -q -p harnessx
arms=(seed)
for v in "${variants[@]}"; do
  sed "s/^    decoding = constrained\$/    decoding = constrained\n    offer = $v/" "$seed" > "$out/$v.harness"
  grep -q "offer = $v\$" "$out/$v.harness"
  arms+=("$v")
done
for arm in "${arms[@]}"; do
  file=$seed
  [[ $arm != seed ]] && file="$out/$arm.harness"
  ./target/debug/harnessx run "$file" --env "$env" --interpret --workers 1 --tasks "$tasks" \
    --model "cache:runs/smollm2-cache:openai:$url#smollm2" --trace-dir "$out/$arm" | tee "$out/$arm.txt"
done
python3 - "$out" "$tasks" "${arms[@]}" <<'PY'
import json, math, os, sys
out, tasks, arms = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
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
seed = success("seed")
fold = os.environ.get("HARNESSX_AB_FOLD", "test")
print(f"games {tasks} (twc {fold} fold 0-{tasks - 1}, SmolLM2-135M, not simulated): seed {sum(seed)}/{tasks}")
for arm in arms[1:]:
    b = success(arm)
    wins = sum(1 for x, y in zip(seed, b) if y and not x)
    losses = sum(1 for x, y in zip(seed, b) if x and not y)
    n, m = wins + losses, min(wins, losses)
    p = min(1.0, 2 * sum(math.comb(n, k) for k in range(m + 1)) / 2 ** n) if n else 1.0
    print(f"  offer = {arm}: {sum(b)}/{tasks}; better than the seed on {wins}, worse on "
          f"{losses}; two-sided sign test p = {p:.4g}")
PY
