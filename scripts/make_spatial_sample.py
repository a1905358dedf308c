#!/usr/bin/env python3
"""Remake tests/data/spatial_talk_mvhevc.mov: our own synthetic spatial video (MV-HEVC, two views in one stream).

The content is ours: the talking astronaut of lipsync_studio.samples as a stereo pair with known disparity
(wall 4 px, nearest point of the face 12 px), 256x256 per view, 25 fps, ~1.9 s, with its own synthetic speech.

The encoder: PyAV's libx265 (and Debian's x265) are built without multiview, so an x265 4.1 command-line encoder
built with multiview is needed. How it was built here (Debian bookworm, no nasm needed):

    echo 'deb-src http://deb.debian.org/debian trixie main' > /tmp/16/src.list
    apt-get -o Dir::Etc::sourcelist=/tmp/16/src.list -o Dir::Etc::sourceparts=/dev/null \\
            -o Dir::State::Lists=/tmp/16/lists update
    apt-get -o ...the same three options... source --download-only x265     # x265_4.1.orig.tar.xz
    tar xf x265_4.1.orig.tar.xz && mkdir build && cd build
    cmake ../x265_4.1/source -DENABLE_MULTIVIEW=ON -DENABLE_ASSEMBLY=OFF -DENABLE_SHARED=OFF \\
          -DCMAKE_BUILD_TYPE=Release
    nice make -j2 cli                                                          # ./x265, ~2 minutes

Usage: scripts/make_spatial_sample.py [--x265 PATH] [-o tests/data/spatial_talk_mvhevc.mov]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from lipsync_studio.samples.spatial_video import SAMPLE, mux_spatial_video, write_views_yuv  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--x265", default=shutil.which("x265") or "/tmp/16/build/x265",
                    help="an x265 4.x CLI built with ENABLE_MULTIVIEW")
    ap.add_argument("-o", "--output", type=Path, default=ROOT / "tests" / "data" / "spatial_talk_mvhevc.mov")
    args = ap.parse_args()
    helptext = subprocess.run([args.x265, "--help"], capture_output=True, text=True).stdout
    if "--multiview-config" not in helptext:
        print(f"{args.x265} has no --multiview-config: build x265 with -DENABLE_MULTIVIEW=ON (see this script's "
              "docstring)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        left, right = write_views_yuv(tmp)
        cfg = tmp / "views.cfg"
        cfg.write_text(f'--num-views 2\n--format 0\n--input "{left}"\n--input "{right}"\n')
        hevc = tmp / "views.hevc"
        # No B-frames: the remux stamps times in decode order. Two GOPs, so seeking is exercised (the second
        # layer's parameter sets in an lhvC box: mux_spatial_video).
        subprocess.run([args.x265, "--multiview-config", str(cfg), "--input-res", f"{SAMPLE.size}x{SAMPLE.size}",
                        "--fps", str(SAMPLE.fps), "--preset", "medium", "--crf", "20", "--bframes", "0",
                        "--keyint", "25", "--min-keyint", "25", "--no-scenecut", "--no-info", str(hevc)], check=True)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        part = args.output.with_name(args.output.name + ".part.mov")
        mux_spatial_video(hevc, part)
        part.replace(args.output)
    print(f"wrote {args.output} ({args.output.stat().st_size / 1024:.0f} KiB, {SAMPLE.n_frames} frames)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
