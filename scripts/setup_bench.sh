#!/usr/bin/env bash
# setup_bench.sh - installs the bench's optional Python packages, when missing:
#   torch       (the CPU build) bench/pytorch_update.py times the notebook's DDPG update
#               in PyTorch beside ours; without it the bench shows a recorded reference
#   matplotlib  scripts/plot_bench.py draws the bench's plot; without it there is no PNG
# `make bench` runs without them; the tests and CI never need them. Idempotent and quick
# when both are there, like scripts/setup.sh.
set -euo pipefail

# pip, then pip with --break-system-packages (a Debian python3 that refuses the first)
pip_install() {
    python3 -m pip install -q "$@" 2>/dev/null ||
        python3 -m pip install -q --break-system-packages "$@"
}

if ! python3 -c "import torch" >/dev/null 2>&1; then
    echo "setup_bench: installing torch, CPU build (pip, download.pytorch.org)"
    # the CPU wheel index first (no CUDA libraries to download); PyPI's torch otherwise
    pip_install torch --index-url https://download.pytorch.org/whl/cpu ||
        { echo "setup_bench: the CPU index failed; torch from PyPI"; pip_install torch; }
fi
if ! python3 -c "import matplotlib" >/dev/null 2>&1; then
    echo "setup_bench: installing matplotlib (pip)"
    pip_install matplotlib
fi
python3 -c "import torch, matplotlib; print('setup_bench: ✓ torch', torch.__version__, \
'| matplotlib', matplotlib.__version__)"
