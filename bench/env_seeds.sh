#!/usr/bin/env bash
# env_seeds.sh - one environment on several seeds, on the CPU: for each seed the env step
# and wall time of the first evaluation at or above the environment's solved threshold,
# and the final and best evaluation returns.
#   bench/env_seeds.sh ENV TOTAL_STEPS [seeds...] [-- more ddpg_cuda options]
#   bench/env_seeds.sh mountaincar 300000 1 2 3 4 5 -- --stop-when-solved
# Seeds default to 1 2 3 4 5. Prints a table, then one JSON line with the command.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: bench/env_seeds.sh ENV TOTAL_STEPS [seeds...] [-- options]" >&2; exit 2; }
env=$1 total=$2
shift 2
seeds=() extra=()
while [ $# -gt 0 ]; do
    if [ "$1" = "--" ]; then shift; extra=("$@"); break; fi
    seeds+=("$1"); shift
done
[ ${#seeds[@]} -gt 0 ] || seeds=(1 2 3 4 5)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cmd="./ddpg_cuda --device cpu --env $env --total-steps $total ${extra[*]:-} --seed SEED"
echo "# $cmd   (commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown))"
printf '%-6s %-12s %-10s %-12s %-12s %-10s %-8s\n' seed solved_step solved_s final_eval \
    best_eval env_steps wall_s
json="["
for s in "${seeds[@]}"; do
    ./ddpg_cuda --device cpu --env "$env" --total-steps "$total" ${extra[@]+"${extra[@]}"} \
        --seed "$s" --quiet --out "$out/s$s" >/dev/null 2>"$out/s$s.err" ||
        { echo "seed $s failed:" >&2; cat "$out/s$s.err" >&2; exit 1; }
    row=$(python3 - "$out/s$s/summary.json" "$s" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
def f(v, spec):
    return "null" if v is None else format(v, spec)
print(f(d["solved_step"], "d"), f(d["solved_wall_s"], ".1f"), f(d["final_eval_return"], ".2f"),
      f(d["best_eval_return"], ".2f"), d["env_steps"], f(d["wall_s"], ".1f"))
PY
)
    read -r solved solved_s fin best steps wall <<<"$row"
    printf '%-6s %-12s %-10s %-12s %-12s %-10s %-8s\n' "$s" "$solved" "$solved_s" "$fin" \
        "$best" "$steps" "$wall"
    [ "$json" = "[" ] || json="$json, "
    json="$json{\"seed\": $s, \"solved_step\": $solved, \"solved_wall_s\": $solved_s, \"final_eval_return\": $fin, \"best_eval_return\": $best, \"env_steps\": $steps, \"wall_s\": $wall}"
done
echo "{\"bench\": \"env_seeds\", \"env\": \"$env\", \"command\": \"$cmd\", \"runs\": $json]}"
