#!/usr/bin/env bash
# run_suite.sh - the bench suite (`make bench`): every program in turn, then one record.
#
#   bench/run_suite.sh OUT_DIR PROGRAM...
#
# PROGRAMs are bench binaries (build/bench/NAME) or Python scripts (bench/NAME.py). Each
# one's output goes to the terminal and to OUT_DIR/NAME.log, its wall time and exit
# status to OUT_DIR/seconds.tsv. Then bench/gather.py writes OUT_DIR/suite.csv (every
# program's figures, one row each), OUT_DIR/summary.md, the plot OUT_DIR/bench.png
# (scripts/plot_bench.py, when matplotlib is there) and OUT_DIR/suite.json, and prints
# that JSON object as the last line. Exits 1 when a program failed (after the record).
#
# BENCH_COMMAND names the command that ran the suite, for the summary ("make bench ...").
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are left as they are: the README runs the bench
# with both unset, and the summary says whether they were.
set -uo pipefail
[ $# -ge 2 ] || { echo "usage: $0 OUT_DIR PROGRAM..." >&2; exit 2; }
here="$(cd "$(dirname "$0")/.." && pwd)"
out=$1
shift
mkdir -p "$out" || exit 1
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
start=$(now)
: >"$out/seconds.tsv"
rc=0
for p in "$@"; do
    name=$(basename "$p")
    name=${name%.py}
    echo "== $name"
    case $p in
        *.py) cmd=(python3 "$p") ;;
        *) cmd=("$p") ;;
    esac
    t0=$(now)
    "${cmd[@]}" 2>&1 | tee "$out/$name.log"
    prc=${PIPESTATUS[0]}
    printf '%s\t%s\t%d\n' "$name" "$(since "$t0")" "$prc" >>"$out/seconds.tsv"
    [ "$prc" -eq 0 ] || { echo "run_suite: $name exited with status $prc" >&2; rc=1; }
done
echo "== gather"
python3 "$here/bench/gather.py" "$out" \
    --seconds "$(since "$start")" \
    --load "$load_before" "$(cut -d' ' -f1-3 /proc/loadavg)" \
    --command "${BENCH_COMMAND:-bench/run_suite.sh $out $*}" || rc=1
exit $rc
