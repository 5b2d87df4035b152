#!/usr/bin/env bash
# solve_study.sh - time to solve Pendulum-v1 with the defaults of each --envs: for every
# --envs and seed, one run with --stop-when-solved; the env steps, gradient updates and
# wall time of the evaluation that first reached the solved threshold, or "not solved"
# within the budget. The defaults are the ones --envs scales (./ddpg_cuda --help).
#
#   bench/solve_study.sh OUT_DIR [--device cpu|cuda] [--envs "1 16 256 4096"]
#                        [--seeds "1 2 ... 10"] [-- more ddpg_cuda options]
#
# Budgets (env steps): 50,000 at 1 env (the notebook solves in 6,000-15,000), 400,000 at
# 16, 2,000,000 from 256 up (the issue's budget). Writes OUT_DIR/runs.csv (one row per
# run), OUT_DIR/table.md (per --envs: solved seeds, median and range of updates, env
# steps and seconds to solve) and OUT_DIR/runs/ENVS-sSEED/ (each run's directory, without
# its checkpoint). Prints the table, then one JSON line. DDPG_BIN=path runs another binary
# than ./ddpg_cuda (one without scripts/ beside it writes no report.html: quicker).
set -euo pipefail
cd "$(dirname "$0")/.."
usage() { echo "usage: bench/solve_study.sh OUT_DIR [--device cpu|cuda] [--envs \"N ...\"] [--seeds \"S ...\"] [-- options]" >&2; exit 2; }
[ $# -ge 1 ] || usage
out=$1; shift
device=cpu envs_list="1 16 256 4096" seeds="1 2 3 4 5 6 7 8 9 10" extra=()
while [ $# -gt 0 ]; do
    case $1 in
        --device) device=${2:?}; shift 2 ;;
        --envs) envs_list=${2:?}; shift 2 ;;
        --seeds) seeds=${2:?}; shift 2 ;;
        --) shift; extra=("$@"); break ;;
        *) usage ;;
    esac
done
bin=${DDPG_BIN:-./ddpg_cuda}
[ -x "$bin" ] || { echo "solve_study: $bin: build first (make)" >&2; exit 2; }
mkdir -p "$out/runs"
budget() { case $1 in 1) echo 50000 ;; 16) echo 400000 ;; *) echo 2000000 ;; esac; }
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
cmd="./ddpg_cuda --device $device --envs ENVS --total-steps BUDGET --stop-when-solved --seed SEED --quiet ${extra[*]:-}"
echo "# $cmd   (commit $commit; budget: $(for e in $envs_list; do printf '%s:%s ' "$e" "$(budget "$e")"; done))"
echo "envs,seed,budget,solved,solved_step,updates,solved_wall_s,wall_s,best_eval_return,final_eval_return" >"$out/runs.csv"
for e in $envs_list; do
    for s in $seeds; do
        d="$out/runs/$e-s$s"
        rm -rf "$d"
        "$bin" --device "$device" --envs "$e" --total-steps "$(budget "$e")" \
            --stop-when-solved --seed "$s" --quiet ${extra[@]+"${extra[@]}"} --out "$d" \
            >/dev/null 2>"$d.err" || { echo "envs $e seed $s failed:" >&2; cat "$d.err" >&2; exit 1; }
        rm -f "$d/checkpoint.bin" "$d.err"
        python3 - "$d/summary.json" "$e" "$s" "$(budget "$e")" >>"$out/runs.csv" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
solved = d["solved_step"] is not None
# with --stop-when-solved the run ends at the solving evaluation: its updates are the
# updates to solve
print(",".join(str(v) for v in [sys.argv[2], sys.argv[3], sys.argv[4], int(solved),
      d["solved_step"] if solved else "", d["updates"], d["solved_wall_s"] if solved else "",
      round(d["wall_s"], 3), round(d["best_eval_return"], 2), round(d["final_eval_return"], 2)]))
PY
        tail -1 "$out/runs.csv"
    done
done
python3 - "$out" "$cmd" "$commit" "$device" <<'PY'
import csv, json, statistics, sys
out, cmd, commit, device = sys.argv[1:5]
rows = list(csv.DictReader(open(f"{out}/runs.csv")))
by = {}
for r in rows:
    by.setdefault(int(r["envs"]), []).append(r)
lines = [f"Command: `{cmd}` (commit {commit}, device {device}). Budget per run in env steps; "
         "median [min-max] over the solved seeds.", "",
         "| envs | solved | updates to solve | env steps to solve | seconds to solve | budget |",
         "| ---: | ---: | ---: | ---: | ---: | ---: |"]
summary = []
for e in sorted(by):
    rs = by[e]
    ok = [r for r in rs if r["solved"] == "1"]
    def med(key, fmt):
        v = sorted(float(r[key]) for r in ok)
        return ("-", None) if not v else (f"{format(statistics.median(v), fmt)} "
                                          f"[{format(v[0], fmt)}-{format(v[-1], fmt)}]",
                                          statistics.median(v))
    u, um = med("updates", ".0f")
    st, sm = med("solved_step", ".0f")
    w, wm = med("solved_wall_s", ".1f")
    lines.append(f"| {e} | {len(ok)}/{len(rs)} | {u} | {st} | {w} | {rs[0]['budget']} |")
    summary.append({"envs": e, "seeds": len(rs), "solved": len(ok), "median_updates": um,
                    "median_env_steps": sm, "median_seconds": wm})
open(f"{out}/table.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
print(json.dumps({"bench": "solve_study", "device": device, "commit": commit, "command": cmd,
                  "rows": summary}))
PY
