#!/usr/bin/env bash
# setup.sh - installs what building, testing and reporting need, when missing:
#   Debian: gcc, make, pkg-config, Check (+subunit), OpenBLAS, jansson (JSON), python3,
#           chromium, clang with its libFuzzer runtime (make fuzz), util-linux (script,
#           for the progress-line test), xz-utils (the GPU bundle's archive, make test)
#   PyPI:   plotly (the HTML report), numpy (scripts/checkpoint.py)
# Idempotent and quick when everything is there. Set DDPG_SETUP_SKIP=1 to skip.
set -euo pipefail
[ "${DDPG_SETUP_SKIP:-0}" = 1 ] && exit 0

need_apt=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in gcc make pkg-config check libsubunit-dev libopenblas-dev libjansson-dev python3 \
         chromium fonts-liberation clang libclang-rt-dev bsdutils xz-utils; do
    have_pkg "$p" || need_apt+=("$p")
done
# python3 may come from elsewhere (pyenv); only ask apt for it when absent
if command -v python3 >/dev/null 2>&1; then
    need_apt=("${need_apt[@]/python3/}")
fi
pkgs=$(printf '%s ' "${need_apt[@]}" | xargs echo -n || true)
if [ -n "$pkgs" ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "setup: installing Debian packages: $pkgs"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
fi

for mod in plotly numpy; do
    if ! python3 -c "import $mod" >/dev/null 2>&1; then
        echo "setup: installing $mod (pip)"
        python3 -m pip install -q "$mod" 2>/dev/null ||
            python3 -m pip install -q --break-system-packages "$mod"
    fi
done
echo "setup: ✓ dependencies present"
