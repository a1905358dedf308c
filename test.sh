#!/usr/bin/env bash
# Set up (first time only) and run the whole test suite. Tests that need a real X server with OpenGL run
# under Xvfb when it is installed; plain Qt widgets run offscreen. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh --test
export PYTHONDONTWRITEBYTECODE=1
if [ -z "${DISPLAY:-}" ] && command -v xvfb-run >/dev/null 2>&1; then
  exec xvfb-run -a -s "-screen 0 1920x1080x24 +extension GLX +render -noreset" .venv/bin/python -m pytest "$@"
fi
exec .venv/bin/python -m pytest "$@"
