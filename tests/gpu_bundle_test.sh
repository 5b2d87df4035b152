#!/usr/bin/env bash
# gpu_bundle_test.sh - the GPU bundle is whole: what scripts/gpu_check.sh runs on a GPU
# machine runs from the bundle alone. Needs no GPU (make test-all runs it, with the CUDA
# backend built: make test-bundle alone).
#
#   tests/gpu_bundle_test.sh
#
#  1. scripts/gpu_bundle.sh builds the bundle (make STATIC=1 in BUILD, default build/:
#     after make test-c only the programs are linked again) into a temporary folder;
#  2. it is unpacked into an empty folder, and that folder's scripts/gpu_check.sh runs
#     both stages in its dry-run mode (GPU_CHECK_DRY=1: --device cpu), from another
#     working directory: the bundle's files intact, stage 1's device step, the parity
#     suite (its cases SKIP without a GPU) and the six training runs; stage 2's steps
#     their plumbing (the sanitizers' runs without a sanitizer, the solve study's script on
#     one short run, the bench suite with bench_gpu alone). Every step must PASS;
#  3. BUNDLE=F from the checkout unpacks F into a fresh folder and runs the copy in it;
#  4. with a file taken out, the steps that read it fail and name it.
# About a minute here (2 cores), most of it the link and the CPU training runs.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$SECONDS
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gpu_bundle_test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() {
    echo "gpu_bundle_test: FAIL: $*" >&2
    exit 1
}

scripts/gpu_bundle.sh "$tmp/bundle.tar.xz"
mkdir "$tmp/b" "$tmp/elsewhere"
tar xJf "$tmp/bundle.tar.xz" -C "$tmp/b"

# 2. both stages, dry, from the unpacked bundle alone
(cd "$tmp/elsewhere" && GPU_CHECK_DRY=1 STAGE=all "$tmp/b/scripts/gpu_check.sh" "$tmp/out") ||
    fail "the dry run from the unpacked bundle failed (verdict above)"
v=$tmp/out/verdict.txt
for s in bundle device parity train_ddpg_pendulum train_td3_pendulum train_ddpg_mountaincar \
    train_td3_mountaincar train_layer_norm train_ou_noise sanitize_memcheck sanitize_initcheck \
    sanitize_synccheck sanitize_racecheck solve bench; do
    grep -q "^PASS $s " "$v" || fail "step $s did not pass: $(grep " $s " "$v" || echo 'not run')"
done
grep -q "from $tmp/b " "$v" || fail "the check did not run from the unpacked bundle: $(sed -n 2p "$v")"
grep -q "DRY RUN" "$v" || fail "a dry run's verdict does not say so"

# 3. BUNDLE= from the checkout: a fresh folder, removed at the end
GPU_CHECK_DRY=1 BUNDLE="$tmp/bundle.tar.xz" STEPS=device scripts/gpu_check.sh "$tmp/out2" >/dev/null ||
    fail "BUNDLE= run failed: $(cat "$tmp/out2/verdict.txt")"
from=$(sed -n 's/^  from \([^ ]*\) (bundle .*/\1/p' "$tmp/out2/verdict.txt")
case $from in
    "${TMPDIR:-/tmp}"/gpu_check_bundle.*) ;;
    *) fail "BUNDLE= did not run the unpacked copy: $(sed -n 2p "$tmp/out2/verdict.txt")" ;;
esac
grep -q "^PASS bundle " "$tmp/out2/verdict.txt" || fail "BUNDLE= did not check the bundle's files"
[ ! -e "$from" ] || fail "BUNDLE= left its folder $from"

# 4. a file taken out is found: by the bundle's list, and by the step that reads it
rm "$tmp/b/bench/gather.py"
if (cd "$tmp/elsewhere" && GPU_CHECK_DRY=1 STEPS=bench "$tmp/b/scripts/gpu_check.sh" "$tmp/out3" >/dev/null); then
    fail "a bundle without bench/gather.py passed its bench step"
fi
grep -q "^FAIL bundle " "$tmp/out3/verdict.txt" || fail "the bundle step missed bench/gather.py"
grep -q "^FAIL bench (0 s): missing: bench/gather.py" "$tmp/out3/verdict.txt" ||
    fail "the bench step did not name bench/gather.py: $(grep ' bench ' "$tmp/out3/verdict.txt")"

echo "gpu_bundle_test: PASS ($((SECONDS - t0)) s): $(du -h "$tmp/bundle.tar.xz" | cut -f1) bundle," \
    "both stages' dry run from it alone"
