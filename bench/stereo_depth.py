"""How well each stereo mode keeps the mouth at its depth, on a talking pair with known disparity.

Makes a full-SBS talking clip (``--size`` px eyes; ``--noise``: independent sensor noise per eye, in 8-bit
levels), a dub in another voice, and:

- ``floor``: the clip re-encoded once more with nothing changed: the measure's own noise (encoding, matcher);
- ``consistent`` and ``independent``: ``lipsync-studio sync`` in each stereo mode;

then ``eval --stereo --reference`` on each: the mean disparity change over the mouth and the face (px), and
the mouth's reprojection L1. Prints a JSON line per clip.

    python bench/stereo_depth.py --size 320 --noise 0 --out /tmp/depth
"""

from __future__ import annotations

import argparse
import json
import time
from fractions import Fraction
from pathlib import Path

import numpy as np


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=320, help="eye size in px (16-480, even)")
    p.add_argument("--noise", type=float, default=0.0, help="sensor noise per eye (8-bit levels)")
    p.add_argument("--syllables", type=int, default=10, help="length of the clip's own speech")
    p.add_argument("--out", type=Path, required=True, help="a folder for the clips")
    args = p.parse_args()

    from lipsync_studio.engine.stereo_sync_job import StereoSyncOptions, run_stereo_sync
    from lipsync_studio.media.audio_writer import write_audio
    from lipsync_studio.media.video import VideoReader
    from lipsync_studio.media.writer import VideoFormat, VideoWriter
    from lipsync_studio.samples import random_syllables, stereo_talking_frames, synth_speech
    from lipsync_studio.stereo.layout import join
    from lipsync_studio.stereo.metrics import evaluate_stereo

    folder = args.out
    folder.mkdir(parents=True, exist_ok=True)
    own = synth_speech(random_syllables(args.syllables, 11), seed=11)
    write_audio(folder / "own.wav", own.audio, own.sr)
    n = int(np.ceil(own.duration * 25))
    clip, floor = folder / "talk_SBS.mp4", folder / "floor_SBS.mp4"
    rng = np.random.default_rng(0)
    with VideoWriter(clip, Fraction(25), 2 * args.size, args.size, fmt=VideoFormat(crf=12),
                     audio=folder / "own.wav", audio_seconds=n / 25) as w:
        for left, right, _ in stereo_talking_frames(own.mouth_opening(np.arange(n) / 25), size=args.size, seed=11):
            if args.noise:
                left = np.clip(left + rng.normal(0, args.noise, left.shape), 0, 255).astype(np.uint8)
                right = np.clip(right + rng.normal(0, args.noise, right.shape), 0, 255).astype(np.uint8)
            w.write(join(left, right, "sbs"))
    with VideoReader(clip) as r, VideoWriter(floor, Fraction(25), 2 * args.size, args.size,
                                             audio=folder / "own.wav", audio_seconds=n / 25) as w:
        for _, f in r.iter_frames():
            w.write(f)
    dub_speech = synth_speech(random_syllables(9, 4), seed=4, f0=200.0, rate=3.2, pause_every=4, lead_silence=0.5)
    dub = write_audio(folder / "dub.wav", dub_speech.audio, dub_speech.sr)

    def measure(path: Path) -> dict:
        s = evaluate_stereo(path, reference=clip)
        return {"mouth_dd_px": round(s.disparity_change_mouth, 3), "mouth_shift_px": round(s.mouth_shift, 3),
                "matcher_mouth_dd_px": round(s.matcher_change_mouth, 3),
                "face_dd_px": round(s.disparity_change_face, 3), "mouth_l1": round(s.mouth.l1, 2)}

    result = {"size": args.size, "noise": args.noise, "floor": measure(floor)}
    for mode in ("consistent", "independent"):
        t = time.perf_counter()
        out = run_stereo_sync(clip, dub, folder / f"{mode}.mp4", StereoSyncOptions(mode=mode))["outputs"][0]
        result[mode] = {**measure(out), "seconds": round(time.perf_counter() - t, 1)}
    c, i, f = (result[k]["mouth_dd_px"] for k in ("consistent", "independent", "floor"))
    result["independent_over_consistent"] = round(i / c, 2)
    result["same_above_the_floor"] = round((i - f) / max(c - f, 1e-6), 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
