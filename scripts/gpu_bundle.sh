#!/usr/bin/env bash
# gpu_bundle.sh - build here, for a GPU machine that has the CUDA toolkit but no Check or
# OpenBLAS: make STATIC=1, then pack the stripped binaries that scripts/gpu_check.sh runs.
#
#   scripts/gpu_bundle.sh OUT.tar.xz
#
# There: BUNDLE=OUT.tar.xz scripts/gpu_check.sh RESULTS_DIR unpacks and runs them.
# (The unstripped static binaries are about 28 MB each; the bundle is about 9 MB.)
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${1:?usage: scripts/gpu_bundle.sh OUT.tar.xz}
case $dest in /*) ;; *) dest=$PWD/$dest ;; esac
benches=$(ls bench/*.c | sed 's|bench/\(.*\)\.c|build/bench/\1|' | tr '\n' ' ')
# shellcheck disable=SC2086 # one make target per bench program
make STATIC=1 all build/run_tests $benches
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
for f in ddpg_cuda build/run_tests $benches; do
    mkdir -p "$stage/$(dirname "$f")"
    strip -s -o "$stage/$f" "$f"
done
mkdir -p "$(dirname "$dest")"
tar cJf "$dest.part" -C "$stage" .
mv "$dest.part" "$dest"
echo "gpu_bundle: $dest ($(du -h "$dest" | cut -f1)): ddpg_cuda build/run_tests $benches"
