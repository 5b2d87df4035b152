#!/usr/bin/env bash
# browser_test.sh - the run report in headless chromium, offline (see browser_test.py).
# Needs chromium and plotly: scripts/setup.sh installs both.
set -euo pipefail
exec python3 "$(dirname "$0")/browser_test.py" "$@"
