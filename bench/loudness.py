"""Speed of the per-frame speech-band loudness (``media.mel.frame_loudness``) over long audio.

Usage::

    .venv/bin/python bench/loudness.py [--minutes 10] [--repeat 3] [--json]

Times ``frame_loudness`` over N minutes of 16 kHz noise at 29.97 fps and prints its real-time factor and its
time as a multiple of a baseline measured in the same run: one pass of numpy's real FFT over the same samples
in 512-sample blocks (the least any spectral measure has to do). Each figure is the fastest of ``--repeat``
runs (a shared machine's noise). Formerly a test asserted "10 minutes under a second"; speed is measured here.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

SR = 16000


def _fastest(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)

    import numpy as np

    from lipsync_studio.media.mel import frame_loudness

    seconds = 60.0 * args.minutes
    wav = np.random.default_rng(0).uniform(-1, 1, int(seconds * SR)).astype(np.float32)
    fps = Fraction(30000, 1001)
    n = int(seconds * float(fps))
    blocks = wav[: len(wav) // 512 * 512].reshape(-1, 512)
    baseline = _fastest(lambda: np.fft.rfft(blocks, axis=1), args.repeat)
    loud = _fastest(lambda: frame_loudness(wav, SR, fps, n), args.repeat)
    report = {"audio_seconds": seconds, "frames": n, "loudness_s": round(loud, 4), "fft_baseline_s": round(baseline, 4),
              "x_real_time": round(seconds / loud, 1), "x_baseline": round(loud / baseline, 2)}
    if args.json:
        print(json.dumps(report))
    else:
        print(f"frame_loudness: {seconds / 60:g} min of audio ({n} frames at 29.97 fps) in {loud:.3f} s = "
              f"{seconds / loud:.0f}x real time; {loud / baseline:.2f}x one FFT pass over the samples "
              f"({baseline:.3f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
