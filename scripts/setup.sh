#!/usr/bin/env bash
# Set up everything Lipsync Studio needs on this machine: Debian runtime libraries (when we may install
# them), a virtual environment in .venv, and the Python dependencies. Safe to run again: it only does
# what is missing. Usage: scripts/setup.sh [--test]   (--test adds what the test suite needs)
set -euo pipefail
cd "$(dirname "$0")/.."
want_test=0
[ "${1:-}" = "--test" ] && want_test=1

say() { printf '[setup] %s\n' "$*" >&2; }

# --- Python ---------------------------------------------------------------------------------------
PY=""
for cand in python3.11 python3.12 python3; do
  if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(0 if (3,11) <= sys.version_info[:2] <= (3,12) else 1)' 2>/dev/null; then
    PY=$(command -v "$cand"); break
  fi
done
if [ -z "$PY" ]; then
  say "Python 3.11 or 3.12 is needed (MediaPipe 0.10.21 has no wheels for newer ones)."
  say "Install it, e.g.: sudo apt-get install python3.11 python3.11-venv"
  exit 1
fi

# --- Debian packages needed at run time (and for tests) ------------------------------------------
# libportaudio2: sound (sounddevice); libusb-1.0-0, libgl1, libegl1: Open3D; xcb libraries: Qt windows;
# xvfb, xauth: a virtual screen for the GUI tests; espeak-ng: real spoken test sentences.
debs=(libportaudio2 libusb-1.0-0 libgl1 libegl1 libglib2.0-0 libfontconfig1 libdbus-1-3 libxkbcommon-x11-0
      libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-shape0
      libxcb-randr0 libxcb-xinerama0 libxcb-xkb1 libgl1-mesa-dri)
debs+=(espeak-ng)  # sync --script: phonemes of a non-English dub's text
[ $want_test = 1 ] && debs+=(xvfb xauth)
if command -v dpkg-query >/dev/null 2>&1; then
  missing=()
  for d in "${debs[@]}"; do
    dpkg-query -W -f='${Status}' "$d" 2>/dev/null | grep -q "install ok installed" || missing+=("$d")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      say "installing Debian packages: ${missing[*]}"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || say "could not install them; run: sudo apt-get install ${missing[*]}"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      say "installing Debian packages: ${missing[*]}"
      sudo apt-get update -qq >/dev/null && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || say "could not install them; run: sudo apt-get install ${missing[*]}"
    else
      say "missing Debian packages (the app runs, but some parts will not): ${missing[*]}"
      say "install them with: sudo apt-get install ${missing[*]}"
    fi
  fi
else
  say "not a Debian system: make sure PortAudio, libusb-1.0, OpenGL/EGL and the X11 xcb libraries are installed"
fi

# --- Virtual environment and Python dependencies -----------------------------------------------
if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $PY"
  "$PY" -m venv .venv
fi
extras="test"
stamp=".venv/.lipsync-installed-$( (cat pyproject.toml; echo "$extras") | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  say "installing Python dependencies (first run takes a few minutes)"
  # They take about 4.1 GB in .venv, and pip unpacks each wheel in a temporary folder besides: a disk
  # with less than 6 GB free fails half-way with "No space left on device". Say so before starting.
  free_kb=$(df -Pk . 2>/dev/null | awk 'NR==2 {print $4}')
  tmp_kb=$(df -Pk "${TMPDIR:-/tmp}" 2>/dev/null | awk 'NR==2 {print $4}')
  if [ -n "$free_kb" ] && [ "$free_kb" -lt 6000000 ]; then
    say "only $((free_kb / 1024)) MB free on the disk of $(pwd); the dependencies need about 6 GB: free some space"
    exit 1
  fi
  if [ -n "$tmp_kb" ] && [ "$tmp_kb" -lt 1500000 ]; then
    say "only $((tmp_kb / 1024)) MB free in ${TMPDIR:-/tmp}, where pip unpacks; set TMPDIR to a folder with 1.5 GB free"
    exit 1
  fi
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  # torch is pinned to 2.13.0 in pyproject.toml: these machines hold its CPU wheel locally.
  # pip's chatter goes to a log; on failure its end is shown.
  if ! .venv/bin/python -m pip install --no-cache-dir -e ".[$extras]" > .venv/pip-install.log 2>&1; then
    tail -n 40 .venv/pip-install.log >&2
    say "installing the Python dependencies failed (full log: .venv/pip-install.log)"
    exit 1
  fi
  rm -f .venv/.lipsync-installed-*
  touch "$stamp"
fi
