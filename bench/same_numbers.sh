#!/usr/bin/env bash
# same_numbers.sh - the runs whose logs a refactor must not move, made comparable.
#
#   bench/same_numbers.sh BIN OUT            run each case with BIN into OUT/<case>/
#   bench/same_numbers.sh --compare A B      compare two such OUT folders
#
# Each case writes updates.csv, episodes.csv, eval.csv and probes.csv; the copies in
# OUT/<case>/cmp/ drop the wall_s column (the only column that depends on the clock),
# so that two builds that compute the same numbers give byte-identical files.
# The cases: the default CPU run (seed 42), TD3 with LayerNorm, MountainCar on 4 envs
# (its own defaults: OU noise), 16 envs with the scaled defaults, TD3 at delay 3 on 16 envs.
set -euo pipefail
strip_wall() {   # CSV without its wall_s column, whichever position it has
    awk -F, -v OFS=, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "wall_s") w = i }
        { s = ""; sep = ""; for (i = 1; i <= NF; i++) if (i != w) { s = s sep $i; sep = OFS }; print s }' "$1"
}
if [ "${1:-}" = "--compare" ]; then
    [ $# -eq 3 ] || { echo "usage: $0 --compare A B" >&2; exit 2; }
    status=0
    for f in "$2"/*/cmp/*.csv; do
        rel=${f#"$2"/}
        if cmp -s "$f" "$3/$rel"; then echo "same     $rel"; else echo "DIFFERS  $rel"; status=1; fi
    done
    exit $status
fi
[ $# -eq 2 ] || { echo "usage: $0 BIN OUT | --compare A B" >&2; exit 2; }
bin=$1 out=$2
[ -x "$bin" ] || { echo "$0: $bin is not an executable" >&2; exit 2; }
mkdir -p "$out"
run_case() {   # NAME ARGS...
    local name=$1; shift
    rm -rf "${out:?}/$name"
    "$bin" --device cpu --quiet --out "$out/$name" "$@" > "$out/$name.log" 2>&1 ||
        { echo "$0: case $name failed (see $out/$name.log)" >&2; return 1; }
    mkdir -p "$out/$name/cmp"
    for f in updates episodes eval probes; do
        strip_wall "$out/$name/$f.csv" > "$out/$name/cmp/$f.csv"
    done
    echo "ran $name: $*"
}
run_case default
run_case td3_layernorm --algo td3 --layer-norm --total-steps 5000
run_case mountaincar_4envs --env mountaincar --envs 4 --total-steps 8000
run_case scaled_16envs --envs 16 --total-steps 8000
run_case td3_delay3_16envs --algo td3 --policy-delay 3 --envs 16 --total-steps 6000
