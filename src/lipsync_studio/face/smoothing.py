"""Temporal smoothing of face landmarks: a still head must not shimmer, a fast turn must not lag.

The landmarks of each frame are split into a head pose (a similarity transform onto the track's reference
shape, fitted on points that do not move when the person speaks) and the face's own shape in that
head-normalised frame. Both are smoothed with the One-Euro filter (Casiez et al. 2012), whose cut-off rises
with speed: heavy smoothing when still, little when moving. Because a clip is processed offline, the filter
runs forward and backward and the two passes are averaged, which cancels the filter's lag.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# FaceMesh points that move with the skull, not with speech or expression: forehead, temples, nose
# bridge and tip, the outer eye corners, cheekbones (MediaPipe's 468-point topology).
RIGID_POINTS: tuple[int, ...] = (
    10, 151, 9, 8, 168, 6, 197, 195, 5, 4, 1,  # midline forehead → nose tip
    33, 133, 362, 263,  # eye corners
    127, 356, 234, 454,  # temples / cheek sides
    116, 345, 123, 352,  # cheekbones
    98, 327, 168,  # nose wings
)


@dataclass(frozen=True)
class OneEuro:
    """One-Euro filter settings.

    Attributes
    ----------
    min_cutoff: cut-off frequency (Hz) when still; lower = smoother.
    beta: how fast the cut-off rises with speed (per unit/s); higher = less lag.
    d_cutoff: cut-off (Hz) for the speed estimate.
    """

    min_cutoff: float = 1.0
    beta: float = 0.05
    d_cutoff: float = 1.0


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


def one_euro(x: np.ndarray, fps: float, params: OneEuro, valid: np.ndarray | None = None) -> np.ndarray:
    """Causal One-Euro filter along axis 0.

    Parameters
    ----------
    x:
        (T, ...) float signal, one row per frame.
    fps:
        Frames per second (the filter's time step is 1/fps).
    valid:
        (T,) bool; invalid rows restart the filter at the next valid row and are left as they are.

    Returns
    -------
    numpy.ndarray
        The filtered signal, same shape as ``x``.
    """
    x = np.asarray(x, dtype=np.float64)
    out = x.copy()
    dt = 1.0 / fps
    a_d = _alpha(params.d_cutoff, dt)
    prev = None
    dprev = None
    for t in range(len(x)):
        if valid is not None and not valid[t]:
            prev = None
            continue
        if prev is None:
            prev, dprev = x[t], np.zeros_like(x[t])
            continue
        dx = (x[t] - prev) / dt
        dprev = a_d * dx + (1 - a_d) * dprev
        cutoff = params.min_cutoff + params.beta * np.abs(dprev)
        a = _alpha(cutoff, dt)
        prev = a * x[t] + (1 - a) * prev
        out[t] = prev
    return out


def one_euro_zero_lag(x: np.ndarray, fps: float, params: OneEuro, valid: np.ndarray | None = None) -> np.ndarray:
    """One-Euro run forward and backward in time, averaged: the lags of the two passes cancel."""
    fwd = one_euro(x, fps, params, valid)
    bwd = one_euro(x[::-1], fps, params, None if valid is None else valid[::-1])[::-1]
    return 0.5 * (fwd + bwd)


def similarity_fit(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares similarity ``dst ≈ s · R @ src + t`` (Umeyama 1991).

    Parameters
    ----------
    src, dst: (N, 3) corresponding points.

    Returns
    -------
    (s, R, t): scale, (3, 3) rotation (det +1), (3,) translation.
    """
    s, r, t = similarity_fits(src, dst)
    return float(s), r, t


def similarity_fits(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`similarity_fit` of many frames at once: ``src`` and ``dst`` are (..., N, 3) (either may be one
    (N, 3) set, fitted to each of the other's); returns scales (...), rotations (..., 3, 3), translations (..., 3).

    One frame at a time, a 300-frame track's smoothing and reference shape fitted 900 times in ~0.1 s (Python and
    numpy's per-call costs); here every frame's 3x3 decomposition is one call."""
    src, dst = np.broadcast_arrays(np.asarray(src, np.float64), np.asarray(dst, np.float64))
    n = src.shape[-2]
    mu_s, mu_d = src.mean(-2), dst.mean(-2)
    a, b = src - mu_s[..., None, :], dst - mu_d[..., None, :]
    cov = np.swapaxes(b, -1, -2) @ a / n
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones(sig.shape)
    d[..., 2] = np.where(np.linalg.det(u) * np.linalg.det(vt) < 0, -1.0, 1.0)
    r = u @ (d[..., :, None] * vt)
    var = (a ** 2).sum((-2, -1)) / n
    scale = np.where(var > 0, (sig * d).sum(-1) / np.where(var > 0, var, 1.0), 1.0)
    t = mu_d - scale[..., None] * (r @ mu_s[..., None])[..., 0]
    return scale, r, t


def _rot_to_vec(r: np.ndarray) -> np.ndarray:
    """Rotation matrix → rotation vector (axis × angle, radians)."""
    import cv2

    return cv2.Rodrigues(r)[0].ravel()


def _vec_to_rot(v: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.Rodrigues(np.asarray(v, np.float64).reshape(3, 1))[0]


@dataclass(frozen=True)
class SmoothingSettings:
    """How strongly landmarks are smoothed over time.

    Attributes
    ----------
    pose: One-Euro settings for the head pose (rotation, log-scale and translation, all in pixels of motion
        at the edge of the face). Tuned with :func:`lipsync_studio.benchmarks.face_quality.measure`.
    shape: One-Euro settings for the head-normalised face shape (px of the reference).
    enabled: False leaves the landmarks as measured.
    """

    pose: OneEuro = OneEuro(min_cutoff=1.0, beta=0.3, d_cutoff=5.0)
    shape: OneEuro = OneEuro(min_cutoff=2.5, beta=0.3)
    enabled: bool = True


def reference_shape(landmarks: np.ndarray, present: np.ndarray) -> np.ndarray:
    """The track's reference shape: the median of all present frames after aligning them on rigid points.

    Parameters
    ----------
    landmarks: (T, P, 3) float; present: (T,) bool.

    Returns
    -------
    (P, 3) float64 reference landmarks (in the pixel scale of the first present frame).
    """
    idx = np.flatnonzero(present)
    ref = landmarks[idx[0]].astype(np.float64)
    rigid = list(RIGID_POINTS)
    pts = landmarks[idx[:: max(1, len(idx) // 300)]].astype(np.float64)
    for _ in range(2):  # align to the current reference, then re-estimate it once
        s, r, tr = similarity_fits(pts[:, rigid], ref[rigid])
        ref = np.median(s[:, None, None] * (pts @ np.swapaxes(r, 1, 2)) + tr[:, None, :], axis=0)
    return ref


def smooth_landmarks(landmarks: np.ndarray, present: np.ndarray, fps: float,
                     settings: SmoothingSettings = SmoothingSettings()) -> np.ndarray:
    """Smooth a track's landmarks over time in the head-normalised frame.

    Parameters
    ----------
    landmarks:
        (T, P, 3) float32 pixel landmarks (x right, y down, z depth in x's scale); rows where
        ``present`` is False are ignored and returned unchanged.
    present:
        (T,) bool, frames where the face was found.
    fps:
        The clip's frame rate.

    Returns
    -------
    numpy.ndarray
        (T, P, 3) float32 smoothed landmarks.
    """
    if not settings.enabled or present.sum() < 3:
        return landmarks.astype(np.float32, copy=True)
    pose, local, units = head_and_shape(landmarks, present)
    pose_s = one_euro_zero_lag(pose * units, fps, settings.pose, present) / units
    T, P, _ = landmarks.shape
    local_s = one_euro_zero_lag(local.reshape(T, -1), fps, settings.shape, present).reshape(T, P, 3)
    out = landmarks.astype(np.float64, copy=True)
    out[present] = recompose(pose_s, local_s)[present]
    return out.astype(np.float32)


def head_and_shape(landmarks: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split landmarks into the head pose per frame and the face's own shape in the head's frame.

    Parameters
    ----------
    landmarks: (T, P, 3) float pixel landmarks; present: (T,) bool (other rows give zeros).

    Returns
    -------
    pose: (T, 7) rotation vector (rad), log-scale, translation (px): the similarity mapping the track's
        reference shape (centred on its rigid points) into each frame.
    local: (T, P, 3) each frame's landmarks mapped back into the reference's frame.
    units: (7,) px of motion at the edge of the face per unit of each pose parameter (rotation and log-scale
        times the face's radius), so that one filter setting in pixels fits them all.
    """
    rigid = list(RIGID_POINTS)
    # Centred on its rigid points, so the fitted translation is where the head is, not a by-product of
    # the rotation (rotation and translation are then smoothed independently without fighting).
    ref = reference_shape(landmarks, present)
    ref = ref - ref[rigid].mean(0)
    T, P, _ = landmarks.shape
    pose = np.zeros((T, 7))
    local = np.zeros((T, P, 3))
    idx = np.flatnonzero(present)
    pts = landmarks[idx].astype(np.float64)
    s, r, tr = similarity_fits(ref[rigid], pts[:, rigid])
    for k, t in enumerate(idx):
        pose[t, :3] = _rot_to_vec(r[k])
    pose[idx, 3] = np.log(s)
    pose[idx, 4:] = tr
    local[idx] = (pts - tr[:, None, :]) @ r / s[:, None, None]  # R^T (x - t) / s, as rows
    radius = float(np.sqrt((ref[rigid] ** 2).sum(1).mean()))
    return pose, local, np.array([radius] * 4 + [1.0] * 3)


def recompose(pose: np.ndarray, local: np.ndarray) -> np.ndarray:
    """(T, P, 3) float64 landmarks from a pose and shape per frame (the inverse of :func:`head_and_shape`)."""
    r = np.stack([_vec_to_rot(v) for v in pose[:, :3]]) if len(pose) else np.zeros((0, 3, 3))
    return np.exp(pose[:, 3])[:, None, None] * (local @ np.swapaxes(r, 1, 2)) + pose[:, None, 4:]
