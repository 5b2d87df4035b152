#!/usr/bin/env bash
# gpu_check.sh - validate everything on a machine with an NVIDIA GPU, in one command.
#
#   scripts/gpu_check.sh OUT_DIR
#
# Steps (each logged to OUT_DIR/<step>.log, verdicts in OUT_DIR/verdict.txt):
#   1. device      nvidia-smi and the CUDA toolkit versions
#   2. build       make STATIC=1 (skipped with NO_BUILD=1 when ./ddpg_cuda, build/run_tests
#                  and build/bench/* were built elsewhere and carried here)
#   3. tests       build/run_tests: every Check suite, the GPU parity suite included
#   4. sanitizer   compute-sanitizer memcheck, racecheck, initcheck, synccheck on a small
#                  training run
#   5. solve       bench/solve_study.sh --device cuda --envs 256: 10 seeds with the defaults
#                  of 256 envs until solved (eval mean >= -200); passes at 9 of 10
#   6. bench       the bench suite (bench/run_suite.sh, as make bench) into OUT_DIR/bench
# Exit status: 0 when every step passed, 1 otherwise. Set TAR=1 to also write
# OUT_DIR.tar.gz (the device tool brings back at most 8 files).
#   STEPS="tests solve"   run only the named steps (device build tests sanitize solve bench)
#   STEP_TIMEOUT=S        stop any one step after S seconds and count it as failed
#   BUNDLE=F.tar.xz       unpack binaries made by scripts/gpu_bundle.sh first (implies NO_BUILD=1)
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/gpu_check.sh OUT_DIR}
mkdir -p "$out"
verdict="$out/verdict.txt"
: >"$verdict"
fail=0

wanted() { # wanted STEP: true when STEPS is unset or names STEP
    [ -z "${STEPS:-}" ] || [[ " $STEPS " == *" $1 "* ]]
}

step() { # step NAME COMMAND...: runs COMMAND with its output in OUT/NAME.log
    local name=$1
    shift
    local t0=$SECONDS
    local limit=()
    # under a time limit the step (a shell function) runs in a child bash: see export -f below
    [ -n "${STEP_TIMEOUT:-}" ] && limit=(timeout -k 10 "$STEP_TIMEOUT" bash -c '"$@"' step)
    if "${limit[@]}" "$@" >"$out/$name.log" 2>&1; then
        echo "PASS $name ($((SECONDS - t0)) s)" | tee -a "$verdict"
    else
        echo "FAIL $name ($((SECONDS - t0)) s): see $name.log" | tee -a "$verdict"
        fail=1
    fi
}

SMALL="--device cuda --envs 64 --total-steps 1600 --start-steps 320 --update-after 320 \
--batch-size 64 --eval-every 800 --eval-episodes 2 --probe-n 4 --quiet"

device_info() {
    nvidia-smi || return 1
    nvcc --version || true
    command -v compute-sanitizer && compute-sanitizer --version
    return 0
}

run_tests() {
    # Check forks per test; CK_VERBOSITY=verbose names every case (and the GPU SKIPs)
    CK_VERBOSITY=verbose build/run_tests || return 1
    ! grep -q "SKIP gpu" "$out/tests.log" # on a GPU machine nothing may skip
}

sanitize() {
    local tool=$1
    command -v compute-sanitizer >/dev/null || { echo "compute-sanitizer not found"; return 1; }
    compute-sanitizer --tool "$tool" --error-exitcode 3 --leak-check=no ./ddpg_cuda $SMALL \
        --out "$out/sanitize_$tool"
}

solve() {
    # the issue's measure: --envs 256 with its defaults, 10 seeds, updates and seconds to solve
    bench/solve_study.sh "$out/solve256" --device cuda --envs 256 || return 1
    python3 - "$out/solve256/runs.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
sys.exit(0 if sum(r["solved"] == "1" for r in rows) >= 9 else 1)
PY
}

run_bench() {
    # the suite (make bench's script) on the binaries built or carried here
    local progs=()
    for b in build/bench/*; do [ -f "$b" ] && [ -x "$b" ] && progs+=("$b"); done
    BENCH_COMMAND="scripts/gpu_check.sh (bench step)" env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        bench/run_suite.sh "$out/bench" "${progs[@]}" bench/pytorch_update.py
}

# the steps run as functions; under STEP_TIMEOUT each runs in a child bash, which needs these
export out SMALL
export -f device_info run_tests sanitize solve run_bench

wanted device && step device device_info

if [ -n "${BUNDLE:-}" ]; then
    tar xJf "$BUNDLE" || { echo "gpu_check: cannot unpack $BUNDLE" | tee -a "$verdict"; exit 1; }
    NO_BUILD=1
fi
if [ "${NO_BUILD:-0}" != 1 ] && wanted build; then
    # shellcheck disable=SC2046 # one make target per bench program
    step build make STATIC=1 all build/run_tests $(ls bench/*.c | sed 's|bench/\(.*\)\.c|build/bench/\1|')
fi

wanted tests && step tests run_tests

if wanted sanitize; then
    for tool in memcheck racecheck initcheck synccheck; do
        step "sanitize_$tool" sanitize "$tool"
    done
fi

wanted solve && step solve solve
wanted bench && step bench run_bench

echo "gpu_check: $([ $fail = 0 ] && echo PASSED || echo FAILED) — results in $out" | tee -a "$verdict"
if [ "${TAR:-0}" = 1 ]; then
    tar czf "$out.tar.gz" -C "$(dirname "$out")" "$(basename "$out")"
fi
exit $fail
