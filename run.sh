#!/usr/bin/env bash
# Set up (first time only) and run Lipsync Studio. With no arguments: the app when a display is available,
# otherwise the demo (a talking clip and a dub made from the project's own synthetic media, synced into
# demo-out/). Any arguments go to the `lipsync-studio` command, e.g. ./run.sh sync clip.mp4 dub.wav -o out.mp4
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
if [ $# -eq 0 ]; then
  if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then set -- gui; else set -- demo; fi
fi
exec .venv/bin/lipsync-studio "$@"
