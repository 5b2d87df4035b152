#!/usr/bin/env bash
# compare_algos.sh - the notebook's exercises compared: DDPG, TD3, DDPG with OU noise, DDPG
# with LayerNorm and TD3 with LayerNorm, on several seeds of one environment, on the CPU.
#   bench/compare_algos.sh ENV TOTAL_STEPS OUT_DIR [seeds...] [-- more ddpg_cuda options]
#   bench/compare_algos.sh pendulum 20000 bench/results/compare_pendulum 1 2 3 4 5
# Keeps each run's eval.csv and summary.json under OUT_DIR/<variant>/s<seed>/ (the logs the
# table and plot are made from: bench/plot_compare.py), prints a table per run, then one
# JSON line. Runs one at a time, so that the wall times are each run's own.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 3 ] || { echo "usage: bench/compare_algos.sh ENV TOTAL_STEPS OUT_DIR [seeds...] [-- options]" >&2; exit 2; }
env=$1 total=$2 out=$3
shift 3
seeds=() extra=()
while [ $# -gt 0 ]; do
    if [ "$1" = "--" ]; then shift; extra=("$@"); break; fi
    seeds+=("$1"); shift
done
[ ${#seeds[@]} -gt 0 ] || seeds=(1 2 3 4 5)
variants=("ddpg:" "td3:--algo td3" "ddpg-ou:--noise ou" "ddpg-ln:--layer-norm"
          "td3-ln:--algo td3 --layer-norm")
# an environment whose own default is OU noise (MountainCar) compares Gaussian noise instead
if ./ddpg_cuda --help | grep -A3 "^  $env, " | tr -s ' \n' ' ' | grep -q -- "--noise ou"; then
    variants[2]="ddpg-gauss:--noise gaussian --noise-sigma 0.1"
fi
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "# ./ddpg_cuda --device cpu --env $env --total-steps $total ${extra[*]:-} VARIANT --seed SEED   (commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(nproc) cores)"
printf '%-8s %-5s %-12s %-12s %-12s %-10s\n' variant seed solved_step final_eval overest wall_s
for v in "${variants[@]}"; do
    name=${v%%:*} opts=${v#*:}
    for s in "${seeds[@]}"; do
        # shellcheck disable=SC2086
        ./ddpg_cuda --device cpu --env "$env" --total-steps "$total" ${extra[@]+"${extra[@]}"} \
            $opts --seed "$s" --quiet --out "$tmp/$name-s$s" >/dev/null 2>"$tmp/err" ||
            { echo "$name seed $s failed:" >&2; cat "$tmp/err" >&2; exit 1; }
        mkdir -p "$out/$name/s$s"
        cp "$tmp/$name-s$s/eval.csv" "$tmp/$name-s$s/summary.json" "$tmp/$name-s$s/config.json" \
            "$out/$name/s$s/"
        python3 - "$out/$name/s$s" "$name" "$s" <<'PY'
import csv, json, sys
d, name, seed = sys.argv[1:]
s = json.load(open(f"{d}/summary.json"))
rows = list(csv.DictReader(open(f"{d}/eval.csv")))
last = rows[-1]
over = float(last["q_start"]) - float(last["discounted_return"])
solved = s["solved_step"]
print(f"{name:8s} {seed:5s} {str(solved) if solved is not None else '-':12s} "
      f"{s['final_eval_return']:<12.2f} {over:<12.2f} {s['wall_s']:<10.1f}")
PY
    done
done
python3 bench/plot_compare.py "$out" --json
