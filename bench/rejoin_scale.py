"""Rejoining a film's faces after their cutaways: how the time grows with the number of shots.

A feature film has hundreds to thousands of shots; every face track that begins after another has ended is
compared with what was kept of the earlier ones (:func:`~lipsync_studio.face.tracker.rejoin_tracks`). This makes a
film's tracks without decoding anything: ``--people`` faces, each at one of four places of a 1280 x 720 picture,
seen in ``--tracks`` shots of 2-10 s, each track keeping a look every 12 frames as the tracker does (the person's own
look plus noise), then rejoins them and checks that every face came back as one (and no two people as one).
Printed: tracks, faces found, seconds, and the same as a multiple of making the looks themselves
(:func:`~lipsync_studio.face.tracker.context_look` on a 720p frame, once per moment kept: what the tracking pass
spends on them), measured in the same run.

On two cores (2026-12-07): comparing each returning face with every moment kept, pair by pair, 200 tracks took 4.6 s
(and grew with the square of the shots); in arrays with a bound to prune by and at most 64 moments a face, 1 500
tracks of 12 people 2.1 s, 200 tracks 0.28 s.

usage: python bench/rejoin_scale.py [--tracks 1500] [--people 12]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def film(tracks: int, people: int, seed: int = 0):
    """``(frames, looks, who)`` of a made-up film (see the module doc)."""
    rng = np.random.default_rng(seed)
    base = [np.clip(rng.uniform(20, 80, (4, 4, 3)).repeat(4, 0).repeat(4, 1) + rng.normal(0, 8, (16, 16, 3)), 0, 100)
            .astype(np.float32) for _ in range(people)]
    places = [(300, 360, 250), (640, 360, 250), (980, 360, 250), (640, 360, 400)]
    frames, looks, who, t0 = {}, {}, [], 0
    for tid in range(tracks):
        n = int(rng.integers(50, 250))
        p = int(rng.integers(people))
        who.append(p)
        cx, cy, s = places[p % len(places)]
        lm = np.zeros((478, 3), np.float32)
        lm[:, 0] = cx + rng.uniform(-s / 2, s / 2, 478)
        lm[:, 1] = cy + rng.uniform(-s / 2, s / 2, 478)
        frames[tid] = {t0 + k: lm for k in range(n)}
        box = np.array([lm[:468, 0].min(), lm[:468, 1].min(), lm[:468, 0].max(), lm[:468, 1].max()])
        looks[tid] = [(t0 + k, box, base[p] + rng.normal(0, 3, (16, 16, 3)).astype(np.float32))
                      for k in range(0, n, 12)]
        t0 += n + 5
    return frames, looks, who


def main() -> int:
    from lipsync_studio.face.tracker import TrackerSettings, context_look, rejoin_tracks

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tracks", type=int, default=1500)
    ap.add_argument("--people", type=int, default=12)
    a = ap.parse_args()
    frames, looks, who = film(a.tracks, a.people)
    moments = sum(len(v) for v in looks.values())
    picture = np.random.default_rng(1).integers(0, 255, (720, 1280, 3), dtype=np.uint8)
    box = np.array([500.0, 220.0, 780.0, 500.0])
    t = time.perf_counter()
    for _ in range(moments):
        context_look(picture, box)
    making = time.perf_counter() - t
    t = time.perf_counter()
    groups = rejoin_tracks(frames, looks, TrackerSettings().rejoin_look)
    took = time.perf_counter() - t
    starts = {min(fr): tid for tid, fr in frames.items()}
    mixed = sum(len({who[starts[f]] for f in fr if f in starts}) > 1 for fr in groups.values())
    print(f"{a.tracks} tracks of {a.people} people ({moments} moments kept) -> {len(groups)} faces, "
          f"{mixed} holding two people")
    print(f"rejoin {took:.2f} s = {took / making:.2f}x making the looks ({making:.2f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
