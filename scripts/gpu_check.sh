#!/usr/bin/env bash
# gpu_check.sh - the check of the CUDA backend on a machine with an NVIDIA GPU, in two
# stages that each fit one call of at most 5 minutes on a borrowed GPU machine.
#
#   BUNDLE=F.tar.xz STAGE=1 scripts/gpu_check.sh OUT_DIR
#
# Stage 1 (STAGE=1, the default; about a minute): does the GPU path work at all?
#   device       nvidia-smi, the driver, the toolkit, and the shared libraries the programs
#                load (cuBLAS, cuBLASLt): one that is not found fails the step
#   parity       the GPU parity suite alone (CK_RUN_SUITE=gpu_parity build/run_tests): every
#                GPU op, the environments' kernels and the update and graph paths against
#                their CPU twins; a case that SKIPs (no device) fails the step
#   train_*      six short training runs through the CUDA backend, a few seconds each:
#                train_ddpg_pendulum, train_td3_pendulum, train_ddpg_mountaincar,
#                train_td3_mountaincar, train_layer_norm, train_ou_noise (DDPG on Pendulum
#                with --layer-norm, with --noise ou). Each must exit 0, and its summary.json
#                say device cuda, every env step and some updates done, a finite evaluation.
# Stage 2 (STAGE=2; about 4 minutes): what is wrong that still runs?
#   sanitize_memcheck, sanitize_initcheck, sanitize_synccheck, sanitize_racecheck
#                compute-sanitizer, one tool per step, over three small runs each: DDPG on
#                Pendulum (200 steps of auto-reset), TD3 with LayerNorm, MountainCar (DDPG,
#                OU noise, an evaluation graph of a 999-step episode); 0 errors to pass.
#                racecheck (slowest by far, last) runs them shorter and without evaluation.
#   solve        the solve study's 256-env row (bench/solve_study.sh --device cuda --envs
#                256: 10 seeds with the defaults until solved); passes at 9 of 10 solved
#   bench        the GPU rows of the bench through its suite (bench/run_suite.sh into
#                OUT_DIR/bench): bench_gpu (the update op by op and as graphs, the env
#                step), bench_env and bench_update (BENCH_ROUNDS rounds, default 3; they
#                time the CPU rows too); each must give cuda rows
# Optional, named in STEPS only:
#   tests        every Check suite (build/run_tests), no GPU case may skip (about a minute;
#                test_rundir's report test needs plotly there)
#   bench_full   make bench's whole suite: every bench program and bench/pytorch_update.py
#   build        make STATIC=1 here (for a GPU machine that has OpenBLAS and Check)
# Every run also checks the bundle first (step bundle: every file of BUNDLE.sha256 there and
# intact), and before each step that the files it reads are there (a missing one fails it).
#
# With the device tool: here `scripts/gpu_bundle.sh .gpucarry/bundle.tar.xz` (an ignored
# folder), then one call per stage with carry [".gpucarry"] and timeout_s 330, bringing
# back the verdict and one tarball (only 8 files come back from $OUT):
#   BUNDLE=.gpucarry/bundle.tar.xz STAGE=1 TAR=1 scripts/gpu_check.sh /tmp/gc1; rc=$?; cp /tmp/gc1/verdict.txt /tmp/gc1.tar.gz $OUT/; exit $rc
# and the same with STAGE=2 and /tmp/gc2. The verdict lines are also printed as they come.
#
# Settings (environment):
#   STAGE=1|2|all       the steps of stage 1, of stage 2, or of both (4 to 5.5 minutes: more
#                       than one call of 5)
#   STEPS="..."         exactly these steps instead (the names above; "train" and "sanitize"
#                       name their groups), e.g. STEPS="sanitize_racecheck"
#   STEP_TIMEOUT=S      every step's limit in seconds (default: each step's own, below)
#   STAGE_SECONDS=S     the whole run's limit, default 280 (560 for STAGE=all): each step
#                       gets at most what is left, and one that cannot get 10 s is not run
#                       (and the check fails). The unpacking counts.
#   BUNDLE=F.tar.xz     unpack F into BUNDLE_DIR (default: a new folder in /tmp, removed at
#                       the end) and run the gpu_check.sh in it, with its programs and files
#   TAR=1               also write OUT_DIR.tar.gz (checkpoints are left out of OUT_DIR)
#   BENCH_ROUNDS=N      rounds of bench_env and bench_update in the bench step (3)
#   GPU_CHECK_DRY=1     a dry run, for a machine without a GPU (tests/gpu_bundle_test.sh):
#                       the runs use --device cpu, nvidia-smi may be missing, the parity
#                       cases may SKIP; stage 2 runs its plumbing only: the sanitizers' runs
#                       without a sanitizer, the solve study's script on one short run, the
#                       bench suite with bench_gpu alone. It checks the files and the
#                       scripts, not the GPU, and its verdict says so.
# Default limits (s; expected durations on an H100 in brackets, estimates until the first
# run of this version): device 30 [2], parity 150 [20-40], each train_* 40 [2-4],
# sanitize_memcheck 60 [15-25], sanitize_initcheck 60 [15-25], sanitize_synccheck 45
# [10-20], solve 90 [25-50], bench 90 [40-60], sanitize_racecheck 150 [60-100], tests 270
# [50-70], bench_full 280 [120-180]. Stage 1 about 1 minute, stage 2 about 3 to 4.5.
#
# OUT_DIR: verdict.txt (one line per step: PASS or FAIL, seconds, what it found), each
# step's STEP.log, and the runs: runs/ (train_*), sanitize/, solve/, bench/.
# Exit status: 0 when every step passed, 1 otherwise, 2 for a bad setting.
# shellcheck disable=SC2317 # the steps' functions run in a child bash (export -f, below)
set -uo pipefail
t_start=${GPU_CHECK_T0:-$(date +%s)}
usage() {
    echo "usage: [BUNDLE=F.tar.xz] [STAGE=1|2|all] [STEPS=\"...\"] scripts/gpu_check.sh OUT_DIR" >&2
    exit 2
}
[ $# -eq 1 ] || usage
out=$1
case $out in /*) ;; *) out=$PWD/$out ;; esac

# ---- from a bundle: unpack it, then run its own copy of this script ----
if [ -n "${BUNDLE:-}" ]; then
    bundle=$BUNDLE
    case $bundle in /*) ;; *) bundle=$PWD/$bundle ;; esac
    dir=${BUNDLE_DIR:-}
    if [ -z "$dir" ]; then
        dir=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check_bundle.XXXXXX") || exit 1
        export GPU_CHECK_REMOVE=$dir
    fi
    if ! mkdir -p "$dir" || ! tar xJf "$bundle" -C "$dir"; then
        echo "gpu_check: cannot unpack $bundle into $dir" >&2
        exit 1
    fi
    [ -x "$dir/scripts/gpu_check.sh" ] ||
        { echo "gpu_check: $bundle holds no scripts/gpu_check.sh: not a bundle of this version" >&2; exit 1; }
    export GPU_CHECK_T0=$t_start GPU_CHECK_BUNDLE=$bundle
    unset BUNDLE BUNDLE_DIR
    exec "$dir/scripts/gpu_check.sh" "$out"
fi

cd "$(dirname "$0")/.." || exit 1
root=$PWD
dry=0
[ "${GPU_CHECK_DRY:-0}" = 1 ] && dry=1
dev=cuda
[ $dry = 1 ] && dev=cpu

# ---- the steps ----
STAGE1="device parity train_ddpg_pendulum train_td3_pendulum train_ddpg_mountaincar \
train_td3_mountaincar train_layer_norm train_ou_noise"
STAGE2="sanitize_memcheck sanitize_initcheck sanitize_synccheck solve bench sanitize_racecheck"
OPTIONAL="tests bench_full"
stage=${STAGE:-1}
case $stage in
    1) chosen=$STAGE1 limit_all=280 ;;
    2) chosen=$STAGE2 limit_all=280 ;;
    all) chosen="$STAGE1 $STAGE2" limit_all=560 ;;
    *) echo "gpu_check: STAGE=$stage: 1, 2 or all" >&2; usage ;;
esac
if [ -n "${STEPS:-}" ]; then
    chosen=""
    for s in $STEPS; do
        case " build $STAGE1 $STAGE2 $OPTIONAL " in
            *" $s "*) chosen+=" $s" ;;
            *)
                matched=""
                for t in $STAGE1 $STAGE2; do [[ $t == "${s}_"* ]] && matched+=" $t"; done
                [ -n "$matched" ] || { echo "gpu_check: STEPS: no step $s" >&2; usage; }
                chosen+="$matched"
                ;;
        esac
    done
fi
# in their own order: build first, the stages' order, the optional ones last
ordered=""
for s in build $STAGE1 $STAGE2 $OPTIONAL; do
    [[ " $chosen " == *" $s "* ]] && ordered+=" $s"
done
[ -f BUNDLE.sha256 ] && ordered="bundle$ordered"
deadline=$((t_start + ${STAGE_SECONDS:-$limit_all}))

default_limit() {
    case $1 in
        bundle | device) echo 30 ;;
        parity) echo 150 ;;
        train_*) echo 40 ;;
        sanitize_memcheck | sanitize_initcheck) echo 60 ;;
        sanitize_synccheck) echo 45 ;;
        sanitize_racecheck) echo 150 ;;
        solve | bench) echo 90 ;;
        tests) echo 270 ;;
        bench_full) echo 280 ;;
        build) echo 600 ;;
    esac
}

# the files a step reads, relative to the root (a bundle's or a checkout's)
needs() {
    case $1 in
        bundle) echo BUNDLE.sha256 ;;
        device | train_* | sanitize_*) echo ddpg_cuda ;;
        parity) echo build/run_tests ;;
        tests) echo build/run_tests ddpg_cuda build/examples/embed_policy scripts/report.py \
            tests/fixtures/pendulum.csv tests/fixtures/mountain_car.csv tests/fuzz/checkpoint \
            tests/fuzz/regressions ;;
        solve) echo ddpg_cuda bench/solve_study.sh ;;
        bench) echo build/bench/bench_gpu build/bench/bench_env build/bench/bench_update \
            bench/run_suite.sh bench/gather.py scripts/plot_bench.py ;;
        bench_full) echo build/bench/bench_gpu build/bench/bench_env build/bench/bench_update \
            build/bench/bench_cpu build/bench/bench_backends bench/run_suite.sh bench/gather.py \
            scripts/plot_bench.py bench/pytorch_update.py ;;
        build) echo Makefile ;;
    esac
}

mkdir -p "$out" || exit 1
verdict=$out/verdict.txt
: >"$verdict"
work=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check_work.XXXXXX") || exit 1
cleanup() {
    rm -rf "$work"
    # the folder a BUNDLE= run unpacked into (this script's own root): the results are in OUT_DIR
    if [ -n "${GPU_CHECK_REMOVE:-}" ] && [ "$GPU_CHECK_REMOVE" = "$root" ]; then
        rm -rf "$GPU_CHECK_REMOVE"
    fi
}
trap cleanup EXIT
# The runs use a copy of the program without scripts/ beside it: it writes no report.html
# (report.py needs plotly, and takes a second a run), as bench/solve_study.sh explains.
if [ -x ddpg_cuda ]; then
    mkdir -p "$work/bin"
    ln -f ddpg_cuda "$work/bin/ddpg_cuda" 2>/dev/null || cp -p ddpg_cuda "$work/bin/ddpg_cuda"
fi
BIN=$work/bin/ddpg_cuda
SANITIZER=${SANITIZER:-$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)}

say() { echo "$*" | tee -a "$verdict"; }
# a step's functions add a few words to its verdict line with note
note() { echo "$*" >>"$NOTE"; }

# ---- stage 1 ----

device_info() {
    local ok=0
    [ -f BUNDLE.txt ] && { echo "== bundle (${GPU_CHECK_BUNDLE:-unpacked})"; cat BUNDLE.txt; }
    echo "== host"
    uname -a
    echo "cores: $(nproc)"
    free -g 2>/dev/null | head -2
    echo "== nvidia-smi"
    if command -v nvidia-smi >/dev/null; then
        nvidia-smi || ok=1
        nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap,clocks.max.sm \
            --format=csv || true
        note "$(nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv,noheader 2>/dev/null | head -1)"
    elif [ "$DRY" = 1 ]; then
        echo "nvidia-smi: not found (a dry run: no GPU here)"
        note "dry run: no nvidia-smi"
    else
        echo "nvidia-smi: not found"
        ok=1
    fi
    echo "== toolkit"
    nvcc --version 2>/dev/null || echo "nvcc: not found"
    if [ -n "$SANITIZER" ]; then "$SANITIZER" --version; else echo "compute-sanitizer: not found"; fi
    python3 --version
    python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())' 2>/dev/null ||
        echo "torch: not importable"
    echo "== the libraries ./ddpg_cuda loads"
    ldd ./ddpg_cuda
    if ldd ./ddpg_cuda | grep -q "not found"; then
        note "libraries not found: $(ldd ./ddpg_cuda | awk '/not found/ {print $1}' | tr '\n' ' ')"
        ok=1
    fi
    return "$ok"
}

run_parity() {
    CK_RUN_SUITE=gpu_parity DDPG_BIN="$root/ddpg_cuda" DDPG_BUILD=build \
        build/run_tests >"$work/parity.out" 2>&1
    local rc=$?
    cat "$work/parity.out"
    local skips checks
    skips=$(grep -c "^SKIP gpu" "$work/parity.out")
    checks=$(grep -Eo "[0-9]+%: Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+" "$work/parity.out" | tail -1)
    note "${checks:-no Check summary}$([ "$skips" = 0 ] || echo ", $skips cases skipped")"
    [ "$rc" = 0 ] || return 1
    [ -n "$checks" ] || return 1
    if [ "$skips" != 0 ] && [ "$DRY" != 1 ]; then
        echo "gpu_check: $skips GPU cases skipped: no usable device"
        return 1
    fi
    return 0
}

# check_summary DIR ENV_STEPS WITH_EVAL: the run's summary.json against what it was asked
check_summary() {
    python3 - "$1/summary.json" "$DEV" "$2" "$3" <<'PY'
import json, math, sys
path, dev, steps, with_eval = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
try:
    d = json.load(open(path))
except (OSError, ValueError) as e:
    print(f"no summary: {e}")
    sys.exit(1)
bad = []
if d.get("device") != dev:
    bad.append(f"device {d.get('device')!r}, not {dev!r}")
if d.get("status") not in ("completed", "solved"):
    bad.append(f"status {d.get('status')!r}")
if d.get("env_steps") != steps:
    bad.append(f"{d.get('env_steps')} env steps, not {steps}")
if not d.get("updates"):
    bad.append("no updates")
e = d.get("final_eval_return")
if with_eval and not (isinstance(e, (int, float)) and math.isfinite(e)):
    bad.append(f"final evaluation {e!r}")
ev = f", final eval {e:.1f}" if isinstance(e, (int, float)) else ""
print(f"{d.get('device')} ({d.get('device_name')}): {d.get('env_steps')} env steps, "
      f"{d.get('updates')} updates{ev}, {d.get('wall_s', 0):.1f} s"
      + ("" if not bad else "; WRONG: " + "; ".join(bad)))
sys.exit(1 if bad else 0)
PY
}

# the stage-1 runs: a few seconds each on the GPU (CUDA's start is most of it)
TRAIN_SMALL="--envs 32 --batch-size 64 --total-steps 3200 --start-steps 640 --update-after 640 \
--eval-every 1600 --eval-episodes 4 --probe-n 4 --quiet"
train_args() {
    case $1 in
        train_ddpg_pendulum) echo --algo ddpg --env pendulum ;;
        train_td3_pendulum) echo --algo td3 --env pendulum ;;
        train_ddpg_mountaincar) echo --algo ddpg --env mountaincar ;;
        train_td3_mountaincar) echo --algo td3 --env mountaincar ;;
        train_layer_norm) echo --algo ddpg --env pendulum --layer-norm ;;
        train_ou_noise) echo --algo ddpg --env pendulum --noise ou ;;
    esac
}

train() {
    local name=$1 d="$out/runs/$1" line
    rm -rf "$d"
    mkdir -p "$out/runs"
    # shellcheck disable=SC2046,SC2086 # word lists of options
    echo "+ ddpg_cuda --device $DEV" $TRAIN_SMALL $(train_args "$name") "--out $d"
    # shellcheck disable=SC2046,SC2086
    "$BIN" --device "$DEV" $TRAIN_SMALL $(train_args "$name") --out "$d" || {
        note "exit status $?"
        return 1
    }
    rm -f "$d/checkpoint.bin"
    line=$(check_summary "$d" 3200 1)
    local rc=$?
    echo "$line"
    note "$line"
    return "$rc"
}

# ---- stage 2 ----

# The three runs of each sanitizer, 16 envs, batch 64. full (memcheck, initcheck,
# synccheck): Pendulum DDPG 200 iterations of random actions (the auto-reset at step 200)
# then 50 updates and one evaluation; TD3 + LayerNorm and MountainCar 50 + 50 iterations and
# one evaluation (MountainCar's: a graph of 999 steps). short (racecheck, about 20 ms a kernel
# there): 4 + 8 iterations, no evaluation (its kernels are training's, at another size).
SAN_RUNS="pendulum_ddpg td3_layernorm mountaincar"
SAN_COMMON="--envs 16 --batch-size 64 --probe-n 4 --eval-episodes 2 --quiet"
san_args() { # san_args RUN full|short
    local what
    case $1 in
        pendulum_ddpg) what="--algo ddpg --env pendulum" ;;
        td3_layernorm) what="--algo td3 --layer-norm --env pendulum" ;;
        mountaincar) what="--algo ddpg --env mountaincar" ;;
    esac
    case $1:$2 in
        *:short) echo "$what --total-steps 192 --start-steps 64 --update-after 64 --eval-every 0" ;;
        pendulum_ddpg:full) echo "$what --total-steps 4000 --start-steps 3200 --update-after 3200 --eval-every 4000" ;;
        *:full) echo "$what --total-steps 1600 --start-steps 800 --update-after 800 --eval-every 1600" ;;
    esac
}
san_steps() { # the env steps of san_args's run
    case $1:$2 in
        *:short) echo 192 ;;
        pendulum_ddpg:full) echo 4000 ;;
        *:full) echo 1600 ;;
    esac
}

sanitize() {
    local tool=$1 variant=full with_eval=1 rc=0 run d args summary
    [ "$tool" = racecheck ] && variant=short with_eval=0
    if [ "$DRY" != 1 ] && [ -z "$SANITIZER" ]; then
        echo "compute-sanitizer: not found"
        note "compute-sanitizer not found"
        return 1
    fi
    if [ "$DRY" = 1 ] && [ -e "$WORK/dry_sanitize_$variant" ]; then
        note "dry run: the same runs as an earlier sanitizer step, not repeated"
        return 0
    fi
    mkdir -p "$out/sanitize"
    for run in $SAN_RUNS; do
        d="$out/sanitize/$tool-$run"
        rm -rf "$d" "$d.log"
        args="$SAN_COMMON $(san_args "$run" "$variant")"
        if [ "$DRY" = 1 ]; then
            echo "== $run (dry run, no sanitizer): ddpg_cuda --device $DEV $args"
            # shellcheck disable=SC2086
            "$BIN" --device "$DEV" $args --out "$d" >"$d.log" 2>&1
        else
            echo "== $run: compute-sanitizer --tool $tool ddpg_cuda --device $DEV $args"
            # shellcheck disable=SC2086
            "$SANITIZER" --tool "$tool" --error-exitcode 3 --leak-check=no \
                "$BIN" --device "$DEV" $args --out "$d" >"$d.log" 2>&1
        fi
        local prc=$?
        cat "$d.log"
        rm -f "$d/checkpoint.bin"
        summary=$(grep -Eo "(ERROR|RACECHECK) SUMMARY: .*" "$d.log" | tail -1)
        [ "$DRY" = 1 ] && summary="no sanitizer"
        local sum_line
        sum_line=$(check_summary "$d" "$(san_steps "$run" "$variant")" "$with_eval")
        local src=$?
        echo "$sum_line"
        if [ "$prc" != 0 ] || [ "$src" != 0 ] || [ -z "$summary" ]; then
            rc=1
            note "$run: exit status $prc, ${summary:-no sanitizer summary}${sum_line:+, $sum_line}"
        else
            note "$run: ${summary#*SUMMARY: }"
        fi
    done
    [ "$DRY" = 1 ] && [ "$rc" = 0 ] && : >"$WORK/dry_sanitize_$variant"
    return "$rc"
}

solve() {
    local d="$out/solve"
    rm -rf "$d"
    if [ "$DRY" = 1 ]; then
        # the plumbing: one short run of 16 envs on the CPU (a second; it does not solve)
        DDPG_BIN=$BIN bench/solve_study.sh "$d" --device cpu --envs 16 --seeds 1 -- \
            --total-steps 1600 --batch-size 64 || return 1
    else
        # the issue's measure: --envs 256 with its defaults, 10 seeds, updates and seconds to solve
        DDPG_BIN=$BIN bench/solve_study.sh "$d" --device cuda --envs 256 || return 1
    fi
    python3 - "$d/runs.csv" "$DRY" >>"$NOTE" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
dry = sys.argv[2] == "1"
ok = [r for r in rows if r["solved"] == "1"]
secs = [float(r["solved_wall_s"]) for r in ok]
upd = [int(r["updates"]) for r in ok]
med = f", median {statistics.median(upd):.0f} updates, {statistics.median(secs):.2f} s" if ok else ""
print(f"{rows[0]['envs'] if rows else '?'} envs: {len(ok)}/{len(rows)} seeds solved{med}"
      + (" (dry run: the script, not the measure)" if dry else ""))
sys.exit(0 if (rows if dry else len(ok) >= 9) else 1)
PY
}

# bench programs with an argument: run_suite.sh runs each program as it is given
bench_wrapper() { # bench_wrapper NAME ARGS...: a program of NAME in WORK/bench that runs it with ARGS
    local name=$1
    shift
    mkdir -p "$WORK/bench"
    printf '#!/bin/sh\nexec "%s" %s\n' "$root/build/bench/$name" "$*" >"$WORK/bench/$name"
    chmod +x "$WORK/bench/$name"
    echo "$WORK/bench/$name"
}

bench_check() { # the cuda rows of each GPU program in the suite's CSV
    python3 - "$out/bench/suite.csv" "$@" >>"$NOTE" <<'PY'
import csv, math, sys
def finite(v):
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False
rows = list(csv.DictReader(open(sys.argv[1])))
bad, said = [], []
for prog in sys.argv[2:]:
    n = sum(1 for r in rows if r["program"] == prog and r["backend"] == "cuda" and finite(r["value"]))
    said.append(f"{prog} {n} cuda rows")
    if n == 0:
        bad.append(prog)
print(", ".join(said))
sys.exit(1 if bad else 0)
PY
}

run_bench() {
    local progs=() rounds=${BENCH_ROUNDS:-3}
    rm -rf "$out/bench"
    if [ "$DRY" = 1 ]; then
        # the plumbing: bench_gpu says there is no GPU, then the suite's record is made
        progs=(build/bench/bench_gpu)
    else
        progs=(build/bench/bench_gpu "$(bench_wrapper bench_env "$rounds")"
            "$(bench_wrapper bench_update "$rounds")")
    fi
    BENCH_COMMAND="scripts/gpu_check.sh (bench step)" env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        bench/run_suite.sh "$out/bench" "${progs[@]}" || return 1
    [ -f "$out/bench/suite.csv" ] || return 1
    if [ "$DRY" = 1 ]; then
        note "dry run: the suite of bench_gpu alone (no GPU rows)"
    else
        bench_check bench_gpu bench_env bench_update || return 1
    fi
}

# ---- optional ----

run_tests() {
    DDPG_BIN="$root/ddpg_cuda" DDPG_BUILD=build build/run_tests \
        >"$work/tests.out" 2>&1
    local rc=$?
    cat "$work/tests.out"
    note "$(grep -Eo "[0-9]+%: Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+" "$work/tests.out" | tail -1)"
    [ "$rc" = 0 ] || return 1
    if [ "$DRY" != 1 ] && grep -q "^SKIP gpu" "$work/tests.out"; then
        echo "gpu_check: GPU cases skipped: no usable device"
        return 1
    fi
}

run_bench_full() {
    local progs=() b
    for b in build/bench/*; do [ -f "$b" ] && [ -x "$b" ] && progs+=("$b"); done
    rm -rf "$out/bench_full"
    BENCH_COMMAND="scripts/gpu_check.sh (bench_full step)" env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        bench/run_suite.sh "$out/bench_full" "${progs[@]}" bench/pytorch_update.py
}

build_here() {
    local benches=() b
    for b in bench/*.c; do benches+=("build/bench/$(basename "$b" .c)"); done
    make -j"$(nproc)" STATIC=1 all build/run_tests examples "${benches[@]}"
}

verify_bundle() {
    sha256sum --quiet -c BUNDLE.sha256 && note "$(wc -l <BUNDLE.sha256) files intact"
}

run_step() { # the function of step NAME
    case $1 in
        bundle) verify_bundle ;;
        build) build_here ;;
        device) device_info ;;
        parity) run_parity ;;
        train_*) train "$1" ;;
        sanitize_*) sanitize "${1#sanitize_}" ;;
        solve) solve ;;
        bench) run_bench ;;
        tests) run_tests ;;
        bench_full) run_bench_full ;;
    esac
}

# the steps run in a child bash under `timeout` (its whole process group is stopped)
export out root work DRY=$dry DEV=$dev BIN SANITIZER TRAIN_SMALL SAN_RUNS SAN_COMMON WORK=$work
export GPU_CHECK_BUNDLE=${GPU_CHECK_BUNDLE:-}
# shellcheck disable=SC2046 # every function of this script
export -f $(declare -F | awk '{print $3}')

step() {
    local name=$1 limit left t0 rc missing="" f extra
    limit=${STEP_TIMEOUT:-$(default_limit "$name")}
    left=$((deadline - $(date +%s)))
    if [ $left -lt 10 ]; then
        say "FAIL $name: not run, ${left} s left of the run's $((deadline - t_start)) s (STAGE_SECONDS)"
        fail=1
        return
    fi
    [ "$limit" -gt "$left" ] && limit=$left
    for f in $(needs "$name"); do [ -e "$f" ] || missing+=" $f"; done
    if [ -n "$missing" ]; then
        say "FAIL $name (0 s): missing:$missing"
        fail=1
        return
    fi
    export NOTE=$work/$name.note
    : >"$NOTE"
    t0=$(date +%s)
    # shellcheck disable=SC2016 # $1 is the child's
    timeout -k 10 "$limit" bash -c 'run_step "$1"' step "$name" >"$out/$name.log" 2>&1
    rc=$?
    extra=$(paste -sd';' "$NOTE" | sed 's/;/; /g')
    case $rc in
        0) say "PASS $name ($(($(date +%s) - t0)) s)${extra:+: $extra}" ;;
        124 | 137) say "FAIL $name ($(($(date +%s) - t0)) s): stopped at its limit of $limit s${extra:+; $extra}"
            fail=1 ;;
        *) say "FAIL $name ($(($(date +%s) - t0)) s): see $name.log${extra:+; $extra}"
            fail=1 ;;
    esac
}

fail=0
what="stage $stage"
[ -n "${STEPS:-}" ] && what="steps"
say "gpu_check: $what:$ordered"
say "  from $root${GPU_CHECK_BUNDLE:+ (bundle $GPU_CHECK_BUNDLE)}$([ -f BUNDLE.txt ] && sed -n 's/^commit: / commit /p' BUNDLE.txt)"
[ $dry = 1 ] && say "  DRY RUN (GPU_CHECK_DRY=1): --device cpu, no GPU checked"
for s in $ordered; do
    step "$s"
done
say "gpu_check: $([ $fail = 0 ] && echo PASSED || echo FAILED)$([ $dry = 1 ] && echo " (dry run)")" \
    "in $(($(date +%s) - t_start)) s — results in $out"
if [ "${TAR:-0}" = 1 ]; then
    tar czf "$out.tar.gz" -C "$(dirname "$out")" "$(basename "$out")"
fi
exit $fail
