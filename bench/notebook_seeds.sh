#!/usr/bin/env bash
# notebook_seeds.sh - the notebook's setting (--device cpu --envs 1, 256,256, batch 128)
# on several seeds: the env step of the first evaluation with mean return >= -200.
#   bench/notebook_seeds.sh [seeds...]   (default 1 2 3 4 5)
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || seeds=(1 2 3 4 5)
out=$(mktemp -d)
printf '%-6s %-12s %-14s %-14s %-10s\n' seed solved_step final_eval best_eval wall_s
json="["
for s in "${seeds[@]}"; do
    ./ddpg_cuda --device cpu --envs 1 --seed "$s" --total-steps 15000 --quiet --out "$out/s$s" >/dev/null 2>&1
    read -r solved fin best wall < <(python3 - "$out/s$s/summary.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(d["solved_step"], d["final_eval_return"], d["best_eval_return"], d["wall_s"])
PY
)
    printf '%-6s %-12s %-14s %-14s %-10s\n' "$s" "$solved" "$fin" "$best" "$wall"
    [ "$json" = "[" ] || json="$json, "
    json="$json{\"seed\": $s, \"solved_step\": ${solved/None/null}, \"final_eval_return\": $fin, \"best_eval_return\": $best, \"wall_s\": $wall}"
done
rm -rf "$out"
echo "{\"bench\": \"notebook_seeds\", \"total_steps\": 15000, \"runs\": $json]}"
