"""How steady a face sequence is, and whether its mouth keeps time with the video.

Two measures for any sequence of face points with FaceMesh's vertex order (the exported 3D mesh in mm, or
FaceMesh's own landmarks in pixels), comparable across both because each is made scale-free:

- **jitter**: every frame is aligned onto the sequence's reference shape by a similarity fit on the rigid
  points (so head motion, near/far and turning are removed); the second difference over time of each point's
  aligned position, RMS over points and frames, divided by the reference's eye-corner distance. Noise that
  shakes a point back and forth from frame to frame dominates it; smooth motion (speech) adds little.
  ``jitter_ratio`` = a sequence's jitter over that of the raw per-frame landmarks of the same clip.
- **mouth lag**: the inner-lip gap (over the eye-corner distance) of the sequence against the lip gap FaceMesh
  measures on the video, cross-correlated; the best lag in frames (sub-frame, positive = the sequence is late)
  and the correlation at zero lag.

Nothing here is timed; ``bench/mesh_steadiness.py`` runs these on real clips.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..face.smoothing import RIGID_POINTS, reference_shape, similarity_fit
from ..face.track import LEFT_EYE_OUTER, LOWER_LIP_INNER, N_SURFACE, RIGHT_EYE_OUTER, UPPER_LIP_INNER

# Points around the mouth (lips and the skin just around them): reported apart from the rest of the face.
MOUTH_REGION = (0, 11, 12, 13, 14, 15, 16, 17, 37, 39, 40, 61, 78, 80, 81, 82, 84, 87, 88, 91, 95, 146, 178,
                181, 185, 191, 267, 269, 270, 291, 308, 310, 311, 312, 314, 317, 318, 321, 324, 375, 402, 405,
                409, 415)


@dataclass(frozen=True)
class Jitter:
    """Jitter of a face sequence, in eye-corner distances per frame² (see the module doc).

    Attributes
    ----------
    face: RMS over all points; mouth: over :data:`MOUTH_REGION`; upper: over every other point.
    frames: frames that had both neighbours present (the second differences taken).
    """

    face: float
    mouth: float
    upper: float
    frames: int


def align_to_reference(points: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, float]:
    """Remove the rigid head motion: each frame similarity-fitted onto the sequence's reference on rigid points.

    Parameters
    ----------
    points: (T, N >= 468, 3) float positions (any unit); present: (T,) bool.

    Returns
    -------
    aligned: (T, 468, 3) float64 in the reference's frame (NaN where absent).
    eye_distance: the reference's outer eye-corner distance (same unit).
    """
    pts = np.asarray(points, np.float64)[:, :N_SURFACE]
    ref = reference_shape(np.nan_to_num(pts), present)
    rigid = list(RIGID_POINTS)
    out = np.full(pts.shape, np.nan)
    for t in np.flatnonzero(present):
        s, r, tr = similarity_fit(pts[t, rigid], ref[rigid])
        out[t] = s * (r @ pts[t].T).T + tr
    return out, float(np.linalg.norm(ref[LEFT_EYE_OUTER] - ref[RIGHT_EYE_OUTER]))


def jitter(points: np.ndarray, present: np.ndarray | None = None) -> Jitter:
    """Jitter of a face sequence after its rigid head motion is removed.

    Parameters
    ----------
    points: (T, N >= 468, 3) float: mesh vertices (mm) or FaceMesh landmarks (px); the unit cancels.
    present: (T,) bool, frames that count (default: every frame without NaN).
    """
    pts = np.asarray(points, np.float64)
    if present is None:
        present = ~np.isnan(pts[:, :N_SURFACE]).any(axis=(1, 2))
    present = np.asarray(present, bool)
    if present.sum() < 3:
        raise ValueError("jitter needs at least three frames with the face")
    aligned, eyes = align_to_reference(pts, present)
    d2 = aligned[2:] - 2 * aligned[1:-1] + aligned[:-2]
    ok = present[2:] & present[1:-1] & present[:-2]
    mag2 = (d2[ok] ** 2).sum(-1) / eyes ** 2  # (frames, 468) squared, in eye distances
    mouth = np.zeros(N_SURFACE, bool)
    mouth[list(MOUTH_REGION)] = True
    return Jitter(float(np.sqrt(mag2.mean())), float(np.sqrt(mag2[:, mouth].mean())),
                  float(np.sqrt(mag2[:, ~mouth].mean())), int(ok.sum()))


def lip_gap(points: np.ndarray, dims: int = 3) -> np.ndarray:
    """(T,) inner-lip gap over the outer eye-corner distance of each frame (NaN where the points are NaN).

    ``dims``: 3 for a mesh in space, 2 for landmarks in the picture (their x, y only).
    """
    p = np.asarray(points, np.float64)[..., :dims]
    gap = np.linalg.norm(p[:, UPPER_LIP_INNER] - p[:, LOWER_LIP_INNER], axis=-1)
    eyes = np.linalg.norm(p[:, LEFT_EYE_OUTER] - p[:, RIGHT_EYE_OUTER], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return gap / eyes


def lag_ms(measured: np.ndarray, truth: np.ndarray, fps: float, max_lag: int = 10) -> float:
    """Delay (ms, positive = late) of ``measured`` behind ``truth``, from the best cross-correlation."""
    m = measured - measured.mean()
    t = truth - truth.mean()
    lags = np.arange(-max_lag, max_lag + 1)
    scores = np.array([np.dot(m[max(0, k):len(m) + min(0, k)], t[max(0, -k):len(t) - max(0, k)]) for k in lags])
    k = int(np.argmax(scores))
    frac = 0.0
    if 0 < k < len(lags) - 1:  # parabolic refinement to a sub-frame lag
        a, b, c = scores[k - 1], scores[k], scores[k + 1]
        den = a - 2 * b + c
        frac = 0.5 * (a - c) / den if den != 0 else 0.0
    return float((lags[k] + frac) / fps * 1000)


def lag_frames(signal: np.ndarray, reference: np.ndarray, max_lag: int = 5) -> float:
    """Delay of ``signal`` behind ``reference`` in frames (sub-frame; positive = late), by cross-correlation.

    NaN samples (in either) are filled by interpolation first.
    """
    def filled(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float64)
        ok = ~np.isnan(x)
        return np.interp(np.arange(len(x)), np.flatnonzero(ok), x[ok])

    return lag_ms(filled(signal), filled(reference), 1.0, max_lag) / 1000.0  # at 1 fps, ms / 1000 = frames


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two (T,) signals over the samples where both are defined."""
    ok = ~(np.isnan(a) | np.isnan(b))
    return float(np.corrcoef(a[ok], b[ok])[0, 1]) if ok.sum() > 2 else float("nan")


def head_jitter(points: np.ndarray, present: np.ndarray) -> float:
    """Shake of the head as a whole in the picture: RMS second difference of the rigid points' x, y.

    Parameters
    ----------
    points: (T, N >= 468, >= 2) landmarks in pixels; present: (T,) bool.

    Returns
    -------
    In eye-corner distances per frame² (real head motion counts too: compare sequences of one clip).
    """
    p = np.asarray(points, np.float64)[:, list(RIGID_POINTS), :2]
    eyes = np.nanmedian(np.linalg.norm(np.asarray(points, np.float64)[:, LEFT_EYE_OUTER, :2]
                                       - np.asarray(points, np.float64)[:, RIGHT_EYE_OUTER, :2], axis=1))
    d2 = p[2:] - 2 * p[1:-1] + p[:-2]
    ok = present[2:] & present[1:-1] & present[:-2]
    return float(np.sqrt((d2[ok] ** 2).sum(-1).mean()) / eyes)


def lip_gap_range(gap: np.ndarray) -> float:
    """Spread of a (T,) lip gap: its 95th minus its 5th percentile (how far the mouth opens and closes)."""
    g = np.asarray(gap, np.float64)
    g = g[~np.isnan(g)]
    return float(np.percentile(g, 95) - np.percentile(g, 5))
