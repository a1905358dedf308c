"""A talking head with cutaways: how fast its faces are tracked, and whether the head is one face before and after.

Makes a clip (``--height``, 16:9, 25 fps) of the built-in talking head for ``--seconds``, a still cutaway with
nobody in it (scenery with a compressed picture's noise, x264 adding its own), a moving one
(the same picture panning), and the talking head again; then tracks its faces as a sync does
(:func:`~lipsync_studio.face.analysis.analyse_faces`, a fresh cache) and decodes it alone, both timed here in the
same run. Printed: the faces found (the head should be one face present in both of its shots), the tracking's wall
and CPU seconds, decoding's, and tracking as a multiple of decoding. The machine's load is printed: on a shared
machine read the ratio.

On two cores (2026-12-06, ``--height 720 --seconds 5``: 5 s head, 5 s still, 5 s pan, 5 s head; load 1-2), two
runs interleaved with a worktree of d814628: before, the head came back as a second face and tracking took 4.42 /
3.67 s (3.24 / 2.84x decoding; 6.2 / 5.3 CPU-s); after the faceless-shot gate and the rejoin (899344c, 8bc2e17,
3f46ee3), one face in both shots, 2.88 / 3.14 s (2.30 / 2.59x; 4.4 / 4.7 CPU-s). The panning cutaway is searched on
every frame still (its picture changes on every one).

usage: python bench/cutaway.py [--height 720] [--seconds 5] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np


def make_clip(folder: Path, height: int, seconds: float) -> Path:
    """The clip: head, still cutaway, panning cutaway, head; each ``seconds`` long."""
    import cv2

    from lipsync_studio.media.writer import VideoFormat, VideoWriter
    from lipsync_studio.samples import random_syllables, synth_speech, talking_clip

    width = (height * 16 // 9) // 2 * 2
    n = int(round(seconds * 25))
    speech = synth_speech(random_syllables(max(2, int(seconds * 6)), 3), seed=3)
    frames, _ = talking_clip(speech, fps=25.0, size=360, seed=3)
    heads = [cv2.resize(f, (height, height), interpolation=cv2.INTER_CUBIC) for f in frames][: 2 * n]
    rng = np.random.default_rng(5)
    # Scenery: a sky over hills and a field, with texture (random blotches would do, but face detectors see faces
    # in them).
    yy, xx = np.mgrid[0:height, 0:2 * width].astype(np.float32)
    ridge = 0.55 * height + 0.08 * height * np.sin(xx / (0.21 * width)) + 0.03 * height * np.sin(xx / (0.05 * width))
    sky = np.stack([120 + 80 * yy / height, 160 + 60 * yy / height, 235 - 20 * yy / height], -1)
    field = np.stack([70 + 30 * np.sin(xx / 37.0), 110 + 25 * np.sin(yy / 11.0), 50 + 0 * xx], -1)
    scenery = np.where((yy > ridge)[..., None], field, sky)
    scenery = np.clip(scenery + rng.normal(0, 6, scenery.shape), 0, 255).astype(np.uint8)
    scenery = cv2.GaussianBlur(scenery, (0, 0), 1.0)
    clip = folder / "cutaway.mp4"
    with VideoWriter(clip, Fraction(25), width, height, fmt=VideoFormat(preset="veryfast")) as w:
        canvas = np.full((height, width, 3), (40, 44, 52), np.uint8)
        x0 = (width - height) // 2
        for k in range(n):
            canvas[:, x0:x0 + height] = heads[k % len(heads)]
            w.write(canvas)
        for k in range(n):  # still: the same picture, a compressed picture's noise on it
            w.write(np.clip(scenery[:, :width].astype(np.int16) + rng.integers(-3, 4, (height, width, 3)), 0,
                            255).astype(np.uint8))
        for k in range(n):  # panning
            x = int(k * width / max(n, 1))
            w.write(np.ascontiguousarray(scenery[:, x:x + width]))
        for k in range(n, 2 * n):
            canvas[:, x0:x0 + height] = heads[k % len(heads)]
            w.write(canvas)
    return clip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    folder = a.out or Path(tempfile.mkdtemp(prefix="cutaway-"))
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["LIPSYNC_STUDIO_CACHE_DIR"] = str(folder / "cache")
    from lipsync_studio.face.analysis import analyse_faces
    from lipsync_studio.media.video import VideoReader

    clip = make_clip(folder, a.height, a.seconds)
    print(f"clip: {clip} ({a.height}p, 4 x {a.seconds:g} s: head, still cutaway, panning cutaway, head); "
          f"load {os.getloadavg()[0]:.1f}")
    t, c = time.perf_counter(), time.process_time()
    with VideoReader(clip) as r:
        n = sum(1 for _ in r.iter_frames())
    decode, decode_cpu = time.perf_counter() - t, time.process_time() - c
    t, c = time.perf_counter(), time.process_time()
    faces = analyse_faces(clip, use_cache=False)
    track, track_cpu = time.perf_counter() - t, time.process_time() - c
    for tid, tr in sorted(faces.tracks.items()):
        shown = np.flatnonzero(tr.present)
        runs = np.split(shown, np.flatnonzero(np.diff(shown) > 1) + 1)
        print(f"face {tid}: {len(shown)} frames in {len(runs)} shot(s): "
              + ", ".join(f"{r[0]}-{r[-1]}" for r in runs))
    print(f"decoding {n} frames: {decode:.2f} s ({decode_cpu:.2f} CPU-s); tracking: {track:.2f} s "
          f"({track_cpu:.2f} CPU-s), {track / decode:.2f}x decoding; load after {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
