#!/usr/bin/env bash
# ab_update.sh - two revisions' CPU update time, in turns, on this machine.
#
#   bench/ab_update.sh REV_A REV_B [TURNS] [ROUNDS]
#
# On a noisy host (vCPUs that the hypervisor moves, neighbours that come and
# go) one bench run of each revision cannot show a change of 1-2%: the spread
# between runs is larger. Here each revision is built once (make CPU=1, in a
# clean clone, with this checkout's bench/bench_cpu.c and bench/bench_common.h
# so that both have the same harness), then the two take TURNS turns (default
# 10), each turn `bench_cpu --rounds ROUNDS` (default 10 rounds of 200
# updates, 2 threads) of A, then of B. Per turn: the fastest and the median
# round of each. Last line: JSON with the turns where B's fastest round beat
# A's, and the ranges.
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for the runs.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 REV_A REV_B [TURNS] [ROUNDS]" >&2; exit 2; }
here="$(cd "$(dirname "$0")/.." && pwd)"
rev_a=$(git -C "$here" rev-parse --short "$1") || { echo "$0: unknown revision $1" >&2; exit 2; }
rev_b=$(git -C "$here" rev-parse --short "$2") || { echo "$0: unknown revision $2" >&2; exit 2; }
turns=${3:-10}
rounds=${4:-10}
[[ "$turns" =~ ^[1-9][0-9]*$ && "$rounds" =~ ^[1-9][0-9]*$ ]] ||
    { echo "$0: TURNS and ROUNDS must be positive integers" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for rev in "$rev_a" "$rev_b"; do
    git clone -q "$here" "$work/$rev"
    git -C "$work/$rev" checkout -q "$rev"
    cp "$here/bench/bench_cpu.c" "$here/bench/bench_common.h" "$work/$rev/bench/"
    make -C "$work/$rev" CPU=1 build/bench/bench_cpu >"$work/$rev.build.log" 2>&1 ||
        { echo "$0: $rev does not build with this bench_cpu.c (see below)" >&2;
          tail -20 "$work/$rev.build.log" >&2; exit 1; }
done
field() { python3 -c "import json,sys; d=json.loads(sys.stdin.read().splitlines()[-1]); print(d['$1'])"; }
printf '%-5s %-22s %-22s\n' turn "$rev_a min/median" "$rev_b min/median"
wins=0
mins_a=() mins_b=()
for t in $(seq "$turns"); do
    out_a=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$work/$rev_a/build/bench/bench_cpu" --rounds "$rounds")
    out_b=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$work/$rev_b/build/bench/bench_cpu" --rounds "$rounds")
    a=$(field min_us <<<"$out_a") am=$(field median_us <<<"$out_a")
    b=$(field min_us <<<"$out_b") bm=$(field median_us <<<"$out_b")
    printf '%-5s %-22s %-22s\n' "$t" "$a / $am" "$b / $bm"
    mins_a+=("$a") mins_b+=("$b")
    if python3 -c "import sys; sys.exit(0 if $b < $a else 1)"; then wins=$((wins + 1)); fi
done
python3 - "$rev_a" "$rev_b" "$wins" "$turns" "${mins_a[*]}" "${mins_b[*]}" <<'PY'
import json, sys
a, b, wins, turns = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ma = [float(x) for x in sys.argv[5].split()]
mb = [float(x) for x in sys.argv[6].split()]
print(json.dumps({"bench": "ab_update", "rev_a": a, "rev_b": b, "turns": turns,
                  "b_faster_turns": wins, "min_us_a": [min(ma), max(ma)],
                  "min_us_b": [min(mb), max(mb)]}))
PY
