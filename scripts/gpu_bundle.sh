#!/usr/bin/env bash
# gpu_bundle.sh - everything scripts/gpu_check.sh runs on a GPU machine, in one file, built
# here: the GPU machines we borrow have the CUDA toolkit (nvcc, cuBLAS, cuRAND,
# compute-sanitizer) and python3, but no OpenBLAS, no Check and no package registry.
#
#   scripts/gpu_bundle.sh OUT.tar.xz
#
# There, either of
#   BUNDLE=OUT.tar.xz STAGE=1 scripts/gpu_check.sh RESULTS_DIR   (from a copy of the tree)
#   mkdir b && tar xJf OUT.tar.xz -C b && STAGE=1 b/scripts/gpu_check.sh RESULTS_DIR
# (scripts/gpu_check.sh's header: the two stages and their steps).
#
# The bundle is laid out as a checkout, so that unpacked into an empty folder it runs
# scripts/gpu_check.sh from there, every step of it:
#   the programs, make STATIC=1 (OpenBLAS, Check, Jansson and the CUDA runtime linked in;
#   cuBLAS and cuRAND stay shared, the toolkit ships them so): ./ddpg_cuda (with its symbol
#   table, for the sanitizers' host backtraces), build/run_tests, build/bench/* (every
#   program of bench/), build/examples/* (tests/test_checkpoint.c runs embed_policy);
#   the scripts the steps run: scripts/gpu_check.sh, scripts/report.py (the program runs it
#   at the end of a run), scripts/plot_bench.py, bench/solve_study.sh, bench/run_suite.sh,
#   bench/gather.py, bench/pytorch_update.py;
#   what the Check suites read: tests/fixtures/*.csv, tests/fuzz/checkpoint/ and
#   tests/fuzz/regressions/;
#   BUNDLE.txt (the commit, the build, the toolkit) and BUNDLE.sha256 (every file, checked
#   by gpu_check.sh's bundle step).
# About 4 MB: xz with a 64 MiB window, in which the programs find each other's bytes (each
# is about 27 MB, mostly the same OpenBLAS and CUDA runtime).
#
# The build: in BUILD (default build/, the Makefile's own) with JOBS jobs (default 2). The
# objects are the same with and without STATIC=1, so after a plain `make` only the programs
# are linked again; ./ddpg_cuda and build/ then hold the static programs until the next
# make links them back (the Makefile notices the change of flavour). The options of a make
# that runs this script are not passed on (BUILD and JOBS are read from the environment).
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${1:?usage: scripts/gpu_bundle.sh OUT.tar.xz}
case $dest in /*) ;; *) dest=$PWD/$dest ;; esac
build=${BUILD:-build}
jobs=${JOBS:-2}
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL BUILD="$build" make --no-print-directory -j"$jobs" STATIC=1 "$@"; }

# the program is ./ddpg_cuda for the default build folder, else in its folder (the Makefile's BIN)
if [ "$build" = build ]; then bin=ddpg_cuda; else bin=$build/ddpg_cuda; fi
names() { # names DIR EXT: the programs the Makefile makes of DIR/*.EXT
    local f
    for f in "$1"/*."$2"; do
        [ -e "$f" ] && basename "$f" ".$2"
    done
}
mapfile -t bench_names < <(names bench c)
mapfile -t example_names < <(names examples c)
benches=("${bench_names[@]/#/$build/bench/}")
examples=("${example_names[@]/#/$build/examples/}")

banner=$(mk banner)
case $banner in
    *"building with the CUDA backend"*) ;;
    *) echo "gpu_bundle: $banner: a bundle for the GPU needs the CUDA backend (nvcc)" >&2; exit 1 ;;
esac
mk all "$build/run_tests" "${benches[@]}" "${examples[@]}"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
put() { # put SRC DEST: SRC as DEST in the bundle, its mode and time kept
    mkdir -p "$stage/$(dirname "$2")"
    cp -pr "$1" "$stage/$2"
}
put "$bin" ddpg_cuda
programs=(build/run_tests)
for n in "${bench_names[@]}"; do programs+=("build/bench/$n"); done
for n in "${example_names[@]}"; do programs+=("build/examples/$n"); done
for p in "${programs[@]}"; do
    mkdir -p "$stage/$(dirname "$p")"
    strip -s -o "$stage/$p" "$build/${p#build/}"
done
for f in scripts/gpu_check.sh scripts/report.py scripts/plot_bench.py \
    bench/solve_study.sh bench/run_suite.sh bench/gather.py bench/pytorch_update.py \
    tests/fixtures/*.csv tests/fuzz/checkpoint tests/fuzz/regressions; do
    put "$f" "$f"
done

commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
changes=$(git status --porcelain --untracked-files=no 2>/dev/null || true)
{
    echo "ddpg_cuda GPU bundle (scripts/gpu_bundle.sh)"
    echo "commit: $commit${changes:+ (with uncommitted changes)}"
    echo "made: $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(uname -n), make STATIC=1 BUILD=$build"
    echo "nvcc: $(nvcc --version 2>/dev/null | grep -o "release .*" || echo unknown)"
    echo "NVCC_ARCH: ${NVCC_ARCH:-as the Makefile sets it (sm_90 code, compute_90 PTX)}"
} >"$stage/BUNDLE.txt"
sums=$(cd "$stage" && find . -type f | sed 's|^\./||' | LC_ALL=C sort | xargs -d '\n' sha256sum)
echo "$sums" >"$stage/BUNDLE.sha256"

mkdir -p "$(dirname "$dest")"
# sorted, so that the programs lie next to each other, within xz's window of one another
tar --sort=name --owner=0 --group=0 --numeric-owner -C "$stage" -cf - . |
    xz --lzma2=preset=1,dict=64MiB -T1 >"$dest.part"
mv "$dest.part" "$dest"
echo "gpu_bundle: $dest ($(du -h "$dest" | cut -f1), $(wc -l <"$stage/BUNDLE.sha256") files," \
    "$(du -sh "$stage" | cut -f1) unpacked), commit ${commit:0:12}"
