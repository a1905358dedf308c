"""How steady and how quick the face tracking is, measured on synthetic clips with known motion.

- **Jitter**: a still head (the same photo every frame, with camera noise): how much the landmarks move
  frame to frame, in pixels (RMS of the frame-to-frame change of rigid points).
- **Lag**: a head swaying side to side with a known motion: the delay between the tracked and the true
  motion, in milliseconds (best cross-correlation lag, sub-frame), and the RMS position error.

Run from ``lipsync-studio bench`` and the tests; nothing here is timed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from ..face.smoothing import RIGID_POINTS, SmoothingSettings
from ..face.track import FaceTrack
from ..face.tracker import TrackerSettings, track_faces
from ..metrics.steadiness import lag_ms

NOSE_TIP = 1


def _still_frames(n: int, size: int, noise: float, seed: int) -> Iterator[tuple[int, np.ndarray]]:
    from ..samples import PHOTO_OPENING, render_face

    base = render_face(PHOTO_OPENING, size=size).astype(np.float32)
    rng = np.random.default_rng(seed)
    for i in range(n):
        yield i, np.clip(base + rng.normal(0, noise, base.shape), 0, 255).astype(np.uint8)


def sway(n: int, fps: float, amplitude: float, hz: float) -> np.ndarray:
    """(n,) horizontal offset in px of a head swaying ``amplitude`` px at ``hz``."""
    t = np.arange(n) / fps
    return amplitude * np.sin(2 * math.pi * hz * t)


def _moving_frames(offsets: np.ndarray, size: int, noise: float, seed: int) -> Iterator[tuple[int, np.ndarray]]:
    import cv2

    from ..samples import PHOTO_OPENING, render_face

    base = render_face(PHOTO_OPENING, size=size)
    rng = np.random.default_rng(seed)
    for i, dx in enumerate(offsets):
        m = np.float32([[1, 0, dx], [0, 1, 0]])
        img = cv2.warpAffine(base, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        yield i, np.clip(img + rng.normal(0, noise, img.shape), 0, 255).astype(np.uint8)


def jitter_px(track: FaceTrack, smoothed: bool = True) -> float:
    """RMS frame-to-frame motion (px) of the rigid landmarks over the frames where the face is present."""
    lm = (track.landmarks if smoothed else track.raw)[:, list(RIGID_POINTS), :2]
    d = np.diff(lm, axis=0)
    ok = track.present[1:] & track.present[:-1]
    return float(np.sqrt(np.mean(d[ok] ** 2)))


def measure(fps: float = 25.0, seconds: float = 4.0, size: int = 360, noise: float = 3.0,
            smoothing: SmoothingSettings = SmoothingSettings(), seed: int = 0) -> dict[str, float]:
    """Jitter on a still head and lag on a swaying one, raw and smoothed.

    Returns
    -------
    dict with ``jitter_raw_px``, ``jitter_smoothed_px``, ``lag_raw_ms``, ``lag_smoothed_ms``,
    ``error_raw_px``, ``error_smoothed_px`` (RMS of the nose tip against the true motion), ``coverage``.
    """
    n = int(round(seconds * fps))
    settings = TrackerSettings(smoothing=smoothing)
    still = track_faces(_still_frames(n, size, noise, seed), n, fps, size, size, settings).speaker_track()
    truth = sway(n, fps, amplitude=0.08 * size, hz=1.2)
    moving = track_faces(_moving_frames(truth, size, noise, seed), n, fps, size, size, settings).speaker_track()
    if still is None or moving is None:
        raise RuntimeError("the synthetic face was not found")
    out = {"coverage": min(still.coverage, moving.coverage),
           "jitter_raw_px": jitter_px(still, False), "jitter_smoothed_px": jitter_px(still, True)}
    for name, lm in (("raw", moving.raw), ("smoothed", moving.landmarks)):
        x = lm[:, NOSE_TIP, 0]
        ok = moving.present
        x = np.interp(np.arange(n), np.flatnonzero(ok), x[ok])
        out[f"lag_{name}_ms"] = lag_ms(x, truth, fps)
        out[f"error_{name}_px"] = float(np.sqrt(np.mean((x - x.mean() - (truth - truth.mean())) ** 2)))
    return out
