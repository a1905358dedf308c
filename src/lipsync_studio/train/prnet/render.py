"""PRNet training pairs rendered from our own face meshes, in face3d's 300W-LP format (``NAME.jpg`` + ``NAME.npy``).

PRNet's ground truth is a 3DMM fit rendered into its UV layout; we have no 3DMM here, but every frame of a tracked
clip has our own 468-vertex FaceMesh surface (:mod:`lipsync_studio.face.mesh3d`). This module turns it into a
position map in the **synthetic** UV layout (:func:`~lipsync_studio.face.prnet.synthetic.synthetic_uv_layout`),
so the whole fine-tuning procedure runs end to end without PRNet's files:

1. **Clip.** A synthetic talking clip (the astronaut speaking formant speech), tracked with our FaceMesh tracker.
2. **Crop** the PRNet way around our tracked landmarks — the same box (min/max of the 478 landmarks) and the same
   1.6× crop the app's PRNet backend uses (:func:`~lipsync_studio.face.prnet.predictor.crop_transform`), so the
   fine-tuned network sees the crops it will see in the app (face3d's own 300W-LP crop is 1.5× the 68-point box
   with jitter).
3. **Where each FaceMesh vertex sits in UV** (fixed for the clip). A fixed correspondence names, for each of the
   68 key points (68-point convention), one FaceMesh vertex (:data:`FACEMESH_68`, the usual MediaPipe → dlib
   table). A thin-plate spline (slightly regularised, so the close inner/outer lip rows do not fold) maps the
   clip's frontal FaceMesh layout (``FaceModel.uv``) onto the synthetic layout's 68 UV key points and is applied
   to all 468 vertices.
4. **Rasterise** the FaceMesh triangles in UV: every UV pixel a triangle covers gets the barycentric mix of its
   three vertices' crop positions. Face pixels no triangle covers (the mouth hole, the rim of the synthetic
   ellipse beyond the FaceMesh outline) take the value of the nearest covered pixel; the 68 key-point pixels are
   then set to their corresponding vertex exactly, so key-point NME is measured against our tracked landmarks.
   Pixels outside the face mask are 0 (face3d's renderer leaves them 0 too).
5. **Values** as face3d writes them: x, y in crop pixels (y down); z = the landmarks' depth (FaceMesh's z is in
   the scale of x, smaller = nearer) negated, scaled by the crop scale and shifted so the face's minimum is 0.

The approximation: the UV placement is only as good as a 68-point spline between two different parameterisations,
so a UV pixel does not mean the same anatomical point as in PRNet's layout away from the key points; and the
surface is FaceMesh's (coarser than BFM, no neck, no teeth). It is meant for tests and for a smoke run of the
procedure, not for training a model for use.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from lipsync_studio.face.prnet.uv_data import UV_SIZE

FACEMESH_68 = (
    162, 234, 93, 58, 172, 136, 149, 148, 152, 377, 378, 365, 397, 288, 323, 454, 389,  # jaw 0–16
    71, 63, 105, 66, 107,  # brow 17–21 (image left)
    336, 296, 334, 293, 301,  # brow 22–26
    168, 197, 5, 4,  # nose bridge 27–30
    75, 97, 2, 326, 305,  # nostrils 31–35
    33, 160, 158, 133, 153, 144,  # eye 36–41 (image left)
    362, 385, 387, 263, 373, 380,  # eye 42–47
    61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181,  # outer lips 48–59
    78, 82, 13, 312, 308, 317, 14, 87,  # inner lips 60–67
)
"""FaceMesh vertex standing for each of the 68 key points (68-point convention, image left = subject's right)."""

TPS_SMOOTHING = 20.0
"""Regularisation of the thin-plate spline (UV pixels²); 0 interpolates the 68 points exactly."""


def _tps_fit(src: np.ndarray, dst: np.ndarray, smoothing: float) -> tuple[np.ndarray, np.ndarray]:
    """Thin-plate spline coefficients mapping (K, 2) ``src`` to (K, 2) ``dst``."""
    k = len(src)
    d = np.linalg.norm(src[:, None] - src[None], axis=-1)
    kernel = np.where(d > 0, d ** 2 * np.log(np.maximum(d, 1e-12)), 0.0) + smoothing * np.eye(k)
    p = np.concatenate([np.ones((k, 1)), src], axis=1)
    a = np.zeros((k + 3, k + 3))
    a[:k, :k], a[:k, k:], a[k:, :k] = kernel, p, p.T
    b = np.zeros((k + 3, 2))
    b[:k] = dst
    coef = np.linalg.solve(a, b)
    return coef, src


def _tps_apply(coef: np.ndarray, src: np.ndarray, points: np.ndarray) -> np.ndarray:
    k = len(src)
    d = np.linalg.norm(points[:, None] - src[None], axis=-1)
    u = np.where(d > 0, d ** 2 * np.log(np.maximum(d, 1e-12)), 0.0)
    return u @ coef[:k] + coef[k] + points @ coef[k + 1:]


def facemesh_uv_positions(model_uv: np.ndarray, kpt_ind: np.ndarray, smoothing: float = TPS_SMOOTHING) -> np.ndarray:
    """(468, 2) float64 UV pixel (u, v down) of every FaceMesh vertex in the target layout (step 3).

    Parameters
    ----------
    model_uv: (468, 2) the clip's frontal layout in [0, 1], v up (``FaceModel.uv``).
    kpt_ind: (2, 68) the target layout's key points (rows u, v).
    """
    src = np.stack([model_uv[:, 0] * UV_SIZE, (1 - model_uv[:, 1]) * UV_SIZE], axis=1).astype(np.float64)
    coef, ctrl = _tps_fit(src[list(FACEMESH_68)], np.asarray(kpt_ind, np.float64).T, smoothing)
    return _tps_apply(coef, ctrl, src)


class UVRasteriser:
    """Step 4 for one clip: per-vertex values (468, C) → (256, 256, C) UV map on the layout's face pixels."""

    def __init__(self, vertex_uv: np.ndarray, triangles: np.ndarray, face_mask: np.ndarray,
                 kpt_ind: np.ndarray) -> None:
        from lipsync_studio.face.topology import nearest_covered, rasterize_uv

        # rasterize_uv takes [0, 1] with v up and samples texel centres at (col + 0.5, row + 0.5).
        uv01 = np.stack([(vertex_uv[:, 0] + 0.5) / UV_SIZE, 1 - (vertex_uv[:, 1] + 0.5) / UV_SIZE], axis=1)
        tri_id, bary = rasterize_uv(uv01, np.asarray(triangles, np.int64), UV_SIZE)
        covered = tri_id >= 0
        source = nearest_covered(covered)
        self.face = np.asarray(face_mask, bool).reshape(-1)
        src = source[self.face]
        self.vertices = np.asarray(triangles, np.int64)[tri_id.reshape(-1)[src]]  # (F, 3)
        # Texels at a triangle's edge can get weights slightly outside [0, 1] (and thin triangles large ones):
        # clamp and renormalise, so every value is a convex mix of its triangle's vertices.
        weights = np.clip(bary.reshape(-1, 3)[src].astype(np.float64), 0.0, 1.0)
        self.bary = weights / np.maximum(weights.sum(axis=1, keepdims=True), 1e-12)  # (F, 3)
        self.kpt_flat = np.asarray(kpt_ind[1], np.int64) * UV_SIZE + np.asarray(kpt_ind[0], np.int64)
        self.coverage = float(covered.reshape(-1)[self.face].mean())

    def __call__(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, np.float64)
        out = np.zeros((UV_SIZE * UV_SIZE, values.shape[1]))
        out[self.face] = np.einsum("fk,fkc->fc", self.bary, values[self.vertices])
        out[self.kpt_flat] = values[list(FACEMESH_68)]
        return out.reshape(UV_SIZE, UV_SIZE, -1)


def render_training_pairs(out_dir: str | os.PathLike[str], *, n_frames: int = 8, size: int = 256, seed: int = 3,
                          syllables: int = 4, every: int = 2) -> dict[str, Any]:
    """Write ``n_frames`` pairs ``talk_SSS_FFFF.jpg`` + ``.npy`` and the synthetic ``uv-data/`` into ``out_dir``.

    Parameters
    ----------
    n_frames: pairs to write (frames ``0, every, 2·every, …`` of the clip).
    size: side of the talking clip's frames in pixels. seed, syllables: the synthetic speech.

    Returns
    -------
    dict with ``pairs`` (list of image paths), ``uv_dir`` (the layout written), ``coverage`` (share of the layout's
    face pixels covered by the FaceMesh surface before the nearest-pixel fill).
    """
    import cv2

    from lipsync_studio.face.mesh3d import FaceModel, fill_gaps, mesh_for_frame
    from lipsync_studio.face.prnet.predictor import box_from_landmarks, crop_face, crop_transform
    from lipsync_studio.face.prnet.synthetic import synthetic_uv_layout, write_synthetic_uv_data
    from lipsync_studio.face.tracker import track_faces
    from lipsync_studio.samples import random_syllables, synth_speech, talking_clip

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    speech = synth_speech(random_syllables(syllables, seed), seed=seed)
    frames_iter, total = talking_clip(speech, fps=25.0, size=size, seed=seed)
    wanted = min(total, n_frames * every)
    frames = [f for _, f in zip(range(wanted), frames_iter)]
    faces = track_faces(enumerate(frames), len(frames), 25.0, size, size)
    track = faces.speaker_track()
    if track is None:
        raise RuntimeError("the synthetic talking clip was not tracked (no face found)")
    model = FaceModel.from_track(track, size, size)
    landmarks = fill_gaps(track)
    layout = synthetic_uv_layout()
    uv_dir = write_synthetic_uv_data(out / "uv-data", layout)
    raster = UVRasteriser(facemesh_uv_positions(model.uv, layout.kpt_ind), model.triangles, layout.face_mask,
                          layout.kpt_ind)
    written = []
    for i in range(0, len(frames), every)[:n_frames]:
        lm = landmarks[i]
        mesh = mesh_for_frame(model, lm, frames[i], bool(track.present[i]))
        tform = crop_transform(box_from_landmarks(lm[:, :2]))
        scale = tform[0, 0]
        xy = mesh.image_points.astype(np.float64) @ tform[:2, :2].T + tform[:2, 2]
        z = -lm[: len(xy), 2].astype(np.float64) * scale
        z -= z.min()
        pos = raster(np.concatenate([xy, z[:, None]], axis=1)).astype(np.float32)
        crop = crop_face(frames[i], tform)
        name = f"talk_{seed:03d}_{i:04d}"
        cv2.imwrite(str(out / f"{name}.jpg"), cv2.cvtColor(np.clip(crop * 255 + 0.5, 0, 255).astype(np.uint8),
                                                         cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
        np.save(out / f"{name}.npy", pos)
        written.append(out / f"{name}.jpg")
    return {"pairs": written, "uv_dir": uv_dir, "coverage": raster.coverage}
