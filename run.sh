#!/usr/bin/env bash
# Set up (first time only) and run Lipsync Studio. With no arguments it runs the demo: it makes a talking
# clip and a dub from the project's own synthetic media and syncs them into demo-out/.
# Any arguments go to the `lipsync-studio` command, e.g. ./run.sh sync clip.mp4 dub.wav -o out.mp4
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
if [ $# -eq 0 ]; then set -- demo; fi
exec .venv/bin/lipsync-studio "$@"
