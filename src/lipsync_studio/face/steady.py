"""Steady landmarks for the exported 3D face: zero-phase smoothing, heavier on the head and upper face than
on the mouth.

The tracker's own smoothing (:mod:`.smoothing`) runs One-Euro filters tuned for following a face live in the
picture. An exported face is watched on its own, frame by frame in 3D, where any shake shows; and the whole
clip is known in advance. So here every landmark track is low-passed with a Butterworth filter run forward and
backward (``sosfiltfilt``: zero phase, so nothing is delayed, the lips included): the head pose and the face
away from the mouth at ``face_hz``, the mouth at ``mouth_hz``, blended by each point's distance from the mouth.

Measured with :mod:`lipsync_studio.metrics.steadiness` on six real talking heads (``bench/mesh_steadiness.py``):
jitter 0.23–0.29x that of raw per-frame FaceMesh (the tracker's smoothing: 0.54–0.61x), the mesh's lip gap
lagging FaceMesh's on the video by at most 0.02 frame (r 0.94–0.97). The cut-offs trade steadiness against
following fast mouths: on lip-synced videos (``bench/synced_mesh.py``) the mesh's lip gap follows FaceMesh's
on the synced video at r 0.90–0.97; a higher ``mouth_hz`` follows closer and shakes more.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .smoothing import head_and_shape, recompose
from .track import LOWER_LIP_INNER, UPPER_LIP_INNER

LEFT_EYE_OUTER, RIGHT_EYE_OUTER = 33, 263


@dataclass(frozen=True)
class SteadySettings:
    """How the exported face is smoothed.

    Attributes
    ----------
    face_hz: cut-off (Hz) for the head pose and the face away from the mouth.
    mouth_hz: cut-off (Hz) for the mouth (speech moves the lips at up to ~4-6 Hz).
    depth_hz: cut-off (Hz) for every point's depth in the head's frame (FaceMesh's least certain coordinate;
        lips move mostly across the face, not toward the camera); None: as for x and y.
    order: Butterworth order of each pass (the forward-backward filter's magnitude is its square).
    mouth_radius: (inner, outer) in eye-corner distances from the mouth's centre (measured across the face
        at half weight: an ellipse as wide as the mouth): points inside ``inner`` take ``mouth_hz``, points
        beyond ``outer`` take ``face_hz``, and in between a blend of the two.
    enabled: False: the landmarks as measured (gaps still filled).
    """

    face_hz: float = 1.5
    mouth_hz: float = 5.25
    depth_hz: float | None = 1.5
    order: int = 2
    mouth_radius: tuple[float, float] = (0.15, 0.3)
    enabled: bool = True


def zero_phase_lowpass(x: np.ndarray, cutoff_hz: float, fps: float, order: int = 4) -> np.ndarray:
    """Butterworth low-pass run forward and backward along axis 0 (no delay).

    Parameters
    ----------
    x: (T, ...) float signal, one row per frame; cutoff_hz: -3 dB of each pass; fps: frames per second.

    Returns
    -------
    The filtered signal, float64, same shape; ``x`` unchanged when the cut-off is at or above Nyquist or the
    signal is too short to filter (fewer than 4 frames).
    """
    from scipy.signal import butter, sosfiltfilt

    x = np.asarray(x, np.float64)
    nyquist = fps / 2
    if cutoff_hz >= nyquist or len(x) < 4:
        return x.copy()
    sos = butter(order, cutoff_hz / nyquist, output="sos")
    # Odd (point-mirrored) padding keeps the ends in place instead of pulling them toward zero.
    return sosfiltfilt(sos, x, axis=0, padtype="odd", padlen=min(len(x) - 1, 12 * order))


def fill_absent(landmarks: np.ndarray, present: np.ndarray) -> np.ndarray:
    """(T, P, 3) float64: frames without the face interpolated between their neighbours, held at the ends."""
    lm = np.asarray(landmarks, np.float64).copy()
    idx = np.flatnonzero(present)
    missing = np.flatnonzero(~present)
    if len(idx) and len(missing):
        flat = lm.reshape(len(lm), -1)
        for j in range(flat.shape[1]):
            flat[missing, j] = np.interp(missing, idx, flat[idx, j])
    return lm


def mouth_weight(local: np.ndarray, radius: tuple[float, float]) -> np.ndarray:
    """(P,) weight in [0, 1] of the mouth's cut-off per point: 1 at the mouth, 0 far from it.

    ``local``: (P, 3) a face shape in FaceMesh's order.
    """
    eyes = np.linalg.norm(local[LEFT_EYE_OUTER, :2] - local[RIGHT_EYE_OUTER, :2])
    centre = (local[UPPER_LIP_INNER, :2] + local[LOWER_LIP_INNER, :2]) / 2
    # An ellipse twice as wide as tall, like the mouth: the corners are as much "mouth" as the lips' middle.
    off = (local[:, :2] - centre) / max(eyes, 1e-9)
    d = np.hypot(off[:, 0] / 2, off[:, 1])
    inner, outer = radius
    return np.clip((outer - d) / max(outer - inner, 1e-9), 0.0, 1.0)


def steady_landmarks(landmarks: np.ndarray, present: np.ndarray, fps: float,
                     settings: SteadySettings = SteadySettings()) -> np.ndarray:
    """The landmarks of a track, gaps filled and smoothed for export (see the module doc).

    Parameters
    ----------
    landmarks:
        (T, P, 3) pixel landmarks as measured (a track's ``raw``; NaN or anything where absent).
    present:
        (T,) bool, frames where the face was found (at least one).
    fps:
        The clip's frame rate.

    Returns
    -------
    numpy.ndarray
        (T, P, 3) float32 landmarks for every frame (absent frames interpolated, held at the ends).
    """
    present = np.asarray(present, bool)
    if not present.any():
        raise ValueError("the face track has no frame with a face")
    filled = fill_absent(np.nan_to_num(landmarks), present)
    if not settings.enabled or len(filled) < 4:
        return filled.astype(np.float32)
    everywhere = np.ones(len(filled), bool)
    pose, local, units = head_and_shape(filled, everywhere)
    pose_s = zero_phase_lowpass(pose * units, settings.face_hz, fps, settings.order) / units
    w = mouth_weight(local.mean(0), settings.mouth_radius)[None, :, None]
    face = zero_phase_lowpass(local, settings.face_hz, fps, settings.order)
    mouth = zero_phase_lowpass(local, settings.mouth_hz, fps, settings.order)
    if settings.depth_hz is not None:
        depth = zero_phase_lowpass(local[..., 2], settings.depth_hz, fps, settings.order)
        face[..., 2] = depth
        mouth[..., 2] = depth
    return recompose(pose_s, mouth * w + face * (1 - w)).astype(np.float32)
