"""How fast a VR clip is synced, against re-timing the same clip alone (decode + encode through the same writer).

Makes a talking head in a one-eye 360 panorama (``--size``: the panorama's height; its width is twice that) and
in a top-bottom VR180 pair (``--size``: each eye's side), with its own synthetic speech and a dub in another
voice, then for each: ``lipsync-studio sync`` with the built-in engine, and the same with ``--engine none
--layout mono`` (re-timing the file as a flat clip: decode and the writer's encode, no face work), both timed
here in the same run. Printed per kind:
the stage timings of the sync (``--json``'s ``timings``), both wall times and their ratio (the cost of the face
work as a multiple of the floor). The machine's load before and after is printed: on a shared machine read the
ratios, not the seconds.

On two cores (2026-12-06, ``--size 1920 --seconds 6``: 5.7 s clips to a 6.7 s dub; machine load 2-3): at df05e6c
the 3840 x 1920 panorama synced in 29.7 s (3.01x its re-timing), the 1920 x 3840 VR180 pair in 40.0 s (4.34x);
after a view was rendered from the pixels it sees and pasted back over the box its change reaches, a one-eye
clip's frames passed from decoder to encoder but for that box (b3de7b9, 9948841, f5618cd): 16.3 / 17.1 s (2.06x /
2.07x) and 21.8 / 22.4 s (2.81x / 2.70x); the VR180 pair's frames passed likewise but for each eye's box: its
render 16.1 / 16.5 -> 13.7 / 13.8 s, interleaved with a worktree of 4e84276.

usage: python bench/vr_speed.py [--size 1920] [--seconds 6] [--kind 360 vr180] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np


def make_clip(folder: Path, kind: str, size: int, seconds: float) -> tuple[Path, Path]:
    """(clip, dub): a talking head in a VR ``kind`` clip (``360``: one eye, ``vr180``: a top-bottom pair)."""
    from lipsync_studio.media.audio_writer import write_audio
    from lipsync_studio.media.writer import VideoFormat, VideoWriter
    from lipsync_studio.samples import random_syllables, synth_speech, talking_face_frames
    from lipsync_studio.samples.vr_scene import VRTalkingScene

    mono = kind == "360"
    scene = VRTalkingScene(kind, size, 30.0 if mono else 20.0, -5.0 if mono else 0.0, distance=0.6, mono=mono)
    own = synth_speech(random_syllables(int(seconds * 3), 11), seed=11)
    own_wav = write_audio(folder / f"{kind}_own.wav", own.audio, own.sr)
    n = int(own.duration * 25)
    clip = folder / f"{kind}.mp4"
    height = scene.eye_h if mono else 2 * scene.eye_h
    with VideoWriter(clip, Fraction(25), scene.eye_w, height, fmt=VideoFormat(crf=20), audio=own_wav,
                     audio_seconds=n / 25) as w:
        w.vr_metadata = scene.metadata()
        for face in talking_face_frames(own.mouth_opening(np.arange(n) / 25), size=480, seed=11):
            w.write(scene.picture(face) if mono else np.concatenate(scene.eyes(face), 0))
    dub = synth_speech(random_syllables(int(seconds * 3), 4), seed=4, f0=200.0, rate=3.2)
    return clip, write_audio(folder / f"{kind}_dub.wav", dub.audio, dub.sr)


def timed_sync(clip: Path, dub: Path, out: Path, engine: str, *extra: str) -> tuple[float, dict]:
    """Wall seconds of ``lipsync-studio sync`` (in a child process, as a user runs it) and its stage timings."""
    cmd = [sys.executable, "-c", "from lipsync_studio.cli import main; main()", "-q", "sync", str(clip), str(dub),
           "-o", str(out), "--engine", engine, "--no-measure", "--json", *extra]
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if r.returncode:
        sys.exit(f"sync failed: {r.stderr[-600:]}")
    return wall, json.loads(r.stdout).get("timings", {})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=1920)
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--kind", nargs="+", default=["360", "vr180"], choices=["360", "vr180"])
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    folder = a.out or Path(tempfile.mkdtemp(prefix="vr-speed-"))
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["LIPSYNC_STUDIO_CACHE_DIR"] = str(folder / "cache")  # every run tracks and hears anew
    print(f"machine: load average {os.getloadavg()[0]:.1f} before", flush=True)
    for kind in a.kind:
        clip, dub = make_clip(folder, kind, a.size, a.seconds)
        # The floor: the file re-timed as a flat clip (its frames from decoder to encoder as they are; a stereo
        # one re-timed as stereo now passes them so too, but ran the built-in engine's whole sync before 5aaab28).
        floor, _ = timed_sync(clip, dub, folder / f"{kind}_none.mp4", "none", "--layout", "mono")
        for p in (folder / "cache").glob("**/*"):
            if p.is_file():
                p.unlink()
        synced, stages = timed_sync(clip, dub, folder / f"{kind}_synced.mp4", "builtin")
        print(f"{kind} ({clip.name}): sync {synced:.2f} s {json.dumps({k: round(v, 2) for k, v in stages.items()})}; "
              f"re-timing alone {floor:.2f} s; ratio {synced / floor:.2f}", flush=True)
    print(f"machine: load average {os.getloadavg()[0]:.1f} after")
    return 0


if __name__ == "__main__":
    sys.exit(main())
