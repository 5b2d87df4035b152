#!/usr/bin/env bash
# check_env_ptx.sh - kernels/env.cu compiles without contracted multiply-adds.
#
#   tests/check_env_ptx.sh NVCC FLAGS...     make test-env-ptx passes the flags of env.o
#
# An environment follows Gymnasium's NumPy, where a * b + c rounds twice. nvcc fuses
# such a pair into one fma (-fmad=true, its default), and the Makefile's
# -ffp-contract=off reaches only the host compiler. The CUDA math library's sin and cos
# use fma.rn on purpose, so a bare grep cannot tell a contraction from them: env.cu is
# compiled to PTX twice, with FLAGS and with FLAGS -fmad=false, and each function of the
# first must hold no more fma.rn than the same function of the second, and no add, sub
# or mul without a rounding mode (ptxas may fuse those into an fma itself; PTX ISA,
# "Floating-Point Instructions": only an explicit .rn forbids it). One SKIP line
# without nvcc.
set -euo pipefail
cd "$(dirname "$0")/.."
nvcc=${1:-}
[ $# -gt 0 ] && shift
if [ -z "$nvcc" ] || ! command -v "$nvcc" > /dev/null 2>&1; then
    echo "SKIP check_env_ptx: no nvcc, kernels/env.cu not checked"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$nvcc" "$@" -ptx kernels/env.cu -o "$tmp/build.ptx"
"$nvcc" "$@" -fmad=false -ptx kernels/env.cu -o "$tmp/nofmad.ptx"

# one line per function: name, fma.rn count, count of add/sub/mul without a rounding mode
count() {
    awk '/^[ \t]*(\.visible[ \t]+|\.weak[ \t]+)?\.(entry|func)[ \t]/ && !/;[ \t]*$/ {
             if (match($0, /[A-Za-z_$][A-Za-z0-9_$]*\(/)) {
                 name = substr($0, RSTART, RLENGTH - 1); order[++n] = name
             }
         }
         name != "" && /^[ \t]*(@!?%[a-z0-9]+[ \t]+)?fma\.rn(\.ftz)?(\.sat)?\.f(16|32|64)[ \t]/ {
             fma[name]++
         }
         name != "" && /^[ \t]*(@!?%[a-z0-9]+[ \t]+)?(add|sub|mul|mad)(\.ftz)?(\.sat)?\.f(16|32|64)[ \t]/ {
             bare[name]++
         }
         END { for (i = 1; i <= n; i++) print order[i], fma[order[i]] + 0, bare[order[i]] + 0 }' "$1"
}
count "$tmp/build.ptx" > "$tmp/build.txt"
count "$tmp/nofmad.ptx" > "$tmp/nofmad.txt"
demangle() { if command -v c++filt > /dev/null; then c++filt "$1"; else echo "$1"; fi; }

bad=0 functions=0 lib_fma=0
while read -r name fma bare; do
    functions=$((functions + 1))
    ref=$(awk -v n="$name" '$1 == n { print $2 }' "$tmp/nofmad.txt")
    ref=${ref:-0}
    lib_fma=$((lib_fma + ref))
    if [ "$fma" -gt "$ref" ] || [ "$bare" -gt 0 ]; then
        [ $bad -eq 0 ] && echo "check_env_ptx: FAIL: kernels/env.cu compiles with contraction" \
            "(flags: $*)"
        echo "  $(demangle "$name"): $((fma - ref)) fma.rn of its own ($fma, against $ref" \
            "with -fmad=false), $bare add/sub/mul without a rounding mode"
        bad=1
    fi
done < "$tmp/build.txt"
if [ $functions -eq 0 ]; then
    echo "check_env_ptx: FAIL: no functions found in the PTX of kernels/env.cu"
    exit 1
fi
if [ $bad -ne 0 ]; then
    echo "  compile kernels/env.cu with -fmad=false (the Makefile), or round each step with" \
        "__dmul_rn and __dadd_rn (include/ddpg/envs/mountain_car.h)"
    exit 1
fi
echo "check_env_ptx: kernels/env.cu, $functions functions: no contracted multiply-add" \
    "(its $lib_fma fma.rn are the CUDA math library's own, as with -fmad=false)"
