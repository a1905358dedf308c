"""How well each stereo mode keeps the mouth at its depth, on a talking pair with known disparity.

Makes a full-SBS talking clip (``--size`` px eyes; ``--noise``: independent sensor noise per eye, in 8-bit
levels) or, with ``--clip VIDEO``, turns a 2D talking head (your own footage) into one with ``stereoize``
(depth from its 3D face in every frame); ``--from-2d`` does the same with the project's own 2D talking clip.
Then a dub in another voice (or ``--dub``), and:

- ``floor``: the clip re-encoded once more with nothing changed: the measure's own noise (encoding, matcher);
- ``consistent`` and ``independent``: ``lipsync-studio sync`` in each stereo mode;

then ``eval --stereo --reference`` on each: the mean disparity change over the mouth and the face (px), the
mouth's depth shift, the block matcher's own difference, and the mouth's reprojection L1. Prints one JSON line.

    python bench/stereo_depth.py --size 320 --noise 0 --out /tmp/depth
    python bench/stereo_depth.py --clip talking_head.mp4 --out /tmp/depth-real
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
    p.add_argument("--clip", type=Path, help="a 2D talking head to stereoize (instead of the synthetic pair)")
    p.add_argument("--from-2d", action="store_true", help="stereoize the project's own 2D talking clip")
    p.add_argument("--dub", type=Path, help="the dub (default: synthetic speech in another voice)")
    p.add_argument("--crf", type=int, default=16, help="x264 quality of the outputs and the floor (0: lossless)")
    p.add_argument("--out", type=Path, required=True, help="a folder for the clips")
    args = p.parse_args()

    from lipsync_studio.engine.sync_job import StereoOptions, SyncRequest, run_sync
    from lipsync_studio.engine.sync_job import SyncOptions
    from lipsync_studio.media.audio_writer import write_audio
    from lipsync_studio.media.video import VideoReader
    from lipsync_studio.media.writer import VideoFormat, VideoWriter
    from lipsync_studio.samples import random_syllables, stereo_talking_frames, synth_speech, talking_clip
    from lipsync_studio.stereo.layout import join
    from lipsync_studio.stereo.metrics import evaluate_stereo
    from lipsync_studio.stereo.stereoize import StereoizeOptions, stereoize

    folder = args.out
    folder.mkdir(parents=True, exist_ok=True)
    own = synth_speech(random_syllables(args.syllables, 11), seed=11)
    write_audio(folder / "own.wav", own.audio, own.sr)
    n = int(np.ceil(own.duration * 25))
    clip, floor = folder / "talk_SBS.mp4", folder / "floor_SBS.mp4"
    keep = VideoFormat(crf=12)
    if args.clip is not None or args.from_2d:
        source = args.clip
        if source is None:  # the project's 2D talking head
            source = folder / "talk_2d.mp4"
            frames, n = talking_clip(own, size=args.size, seed=11)
            with VideoWriter(source, Fraction(25), args.size, args.size, fmt=keep, audio=folder / "own.wav",
                             audio_seconds=n / 25) as w:
                for f in frames:
                    w.write(f)
        clip = stereoize(source, clip, StereoizeOptions(fmt=keep, vr_name=False)).output
    else:
        rng = np.random.default_rng(0)
        with VideoWriter(clip, Fraction(25), 2 * args.size, args.size, fmt=keep,
                         audio=folder / "own.wav", audio_seconds=n / 25) as w:
            for left, right, _ in stereo_talking_frames(own.mouth_opening(np.arange(n) / 25), size=args.size,
                                                        seed=11):
                if args.noise:
                    left = np.clip(left + rng.normal(0, args.noise, left.shape), 0, 255).astype(np.uint8)
                    right = np.clip(right + rng.normal(0, args.noise, right.shape), 0, 255).astype(np.uint8)
                w.write(join(left, right, "sbs"))
    with VideoReader(clip) as r:
        width, height, fps, seconds = r.info.width, r.info.height, r.info.fps, r.info.duration
        with VideoWriter(floor, fps, width, height, fmt=VideoFormat(crf=args.crf), audio=clip,
                         audio_seconds=seconds) as w:
            for _, f in r.iter_frames():
                w.write(f)
    dub_speech = synth_speech(random_syllables(9, 4), seed=4, f0=200.0, rate=3.2, pause_every=4, lead_silence=0.5)
    dub = args.dub or write_audio(folder / "dub.wav", dub_speech.audio, dub_speech.sr)

    def measure(path: Path) -> dict:
        s = evaluate_stereo(path, reference=clip)
        return {"mouth_dd_px": round(s.disparity_change_mouth, 3), "mouth_shift_px": round(s.mouth_shift, 3),
                "matcher_mouth_dd_px": round(s.matcher_change_mouth, 3),
                "face_dd_px": round(s.disparity_change_face, 3), "mouth_l1": round(s.mouth.l1, 2)}

    result = {"clip": str(args.clip) if args.clip else ("2d-stereoized" if args.from_2d else "synthetic-pair"),
              "size": args.size, "noise": args.noise, "crf": args.crf, "floor": measure(floor)}
    sync = SyncOptions(fmt=VideoFormat(crf=args.crf), measure=False)
    for mode in ("consistent", "independent"):
        t = time.perf_counter()
        out = run_sync(SyncRequest(clip, dub, folder / f"{mode}.mp4", sync, stereo=StereoOptions(mode=mode))).output
        result[mode] = {**measure(out), "seconds": round(time.perf_counter() - t, 1)}
    for key in ("mouth_dd_px", "mouth_shift_px", "matcher_mouth_dd_px"):
        c, i, f = (result[k][key] for k in ("consistent", "independent", "floor"))
        result[f"independent_over_consistent_{key}"] = round(i / max(c, 1e-6), 2)
        # None: consistent reads at (or under) the floor, the measure cannot tell it from an untouched pair.
        result[f"same_above_the_floor_{key}"] = round((i - f) / (c - f), 2) if c - f > 0.002 else None
    print(json.dumps(result))


if __name__ == "__main__":
    main()
