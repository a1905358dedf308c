"""A synthetic PRNet UV layout and stand-in network, for tests and for running the PRNet path without its files.

PRNet's UV data files and weights cannot be shipped or downloaded here, so tests build their own in the official
formats and sizes:

- :func:`synthetic_uv_layout` — a frontal face in UV space: an ellipse of **exactly 43,867 face pixels** (the
  pixels of lowest elliptical radius, so the count matches PRNet's vertex count), 68 key points placed where the
  68-point convention puts them on a frontal face (jaw 0–16, brows 17–26, nose 27–35, eyes 36–47, lips 48–67),
  eye regions, a weight mask in the official encoding, two triangles per 2×2 block of face pixels and a dome-shaped
  mean face.
- :func:`write_synthetic_uv_data` — writes it as PRNet's files (``face_ind.txt`` …, 8-bit PNG masks).
- :func:`identity_position_map` and :func:`identity_network` — a position map whose UV pixel (u, v) sits at crop
  pixel (u, v) with a dome depth, and a module that outputs it for any input: the whole pipeline (crop, network,
  uncrop, mesh, colours) then has a known answer.

Nothing here comes from PRNet's data; only the formats are PRNet's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lipsync_studio.face.prnet.uv_data import (
    CANONICAL,
    FACE_EYES_PNG,
    FACE_IND,
    FACE_MASK,
    FACE_PNG,
    KPT_IND,
    N_KEYPOINTS,
    N_VERTICES,
    TRIANGLES,
    UV_SIZE,
    WEIGHT_MASK,
)

if TYPE_CHECKING:
    from torch import nn

CENTER = (128.0, 128.0)
"""(u, v) centre of the synthetic face ellipse."""

ASPECT = 0.9
"""Width / height of the synthetic face ellipse."""


@dataclass(frozen=True)
class SyntheticUVLayout:
    """A synthetic UV face layout in PRNet's conventions (see :class:`.uv_data.PRNetUVData` for the fields)."""

    face_ind: np.ndarray          # (V,) int64, sorted
    triangles: np.ndarray         # (T, 3) int64
    kpt_ind: np.ndarray           # (2, 68) int64, rows u and v
    face_mask: np.ndarray         # (256, 256) bool
    eye_mask: np.ndarray          # (256, 256) bool
    weight_png: np.ndarray        # (256, 256) uint8, official encoding (weights × 16)
    canonical_vertices: np.ndarray  # (V, 3) float64
    semi_axes: tuple[float, float]  # (a, b): half-width and half-height of the ellipse in pixels


def keypoint_template() -> np.ndarray:
    """(68, 2) float64: a frontal face's 68 key points in ellipse units (x right, y down, face ellipse radius 1)."""
    pts = np.zeros((N_KEYPOINTS, 2))
    phi = np.pi + 0.05 - np.arange(17) * (np.pi + 0.1) / 16  # jaw: ear to ear through the chin
    pts[0:17] = np.stack([0.86 * np.cos(phi), -0.12 + 0.88 * np.sin(phi)], axis=1)
    t = np.linspace(0, 1, 5)
    brow_y = -0.42 - 0.08 * np.sin(np.pi * t)
    pts[17:22] = np.stack([-0.70 + 0.56 * t, brow_y], axis=1)
    pts[22:27] = np.stack([0.14 + 0.56 * t, brow_y[::-1]], axis=1)
    pts[27:31] = [(0, -0.28), (0, -0.17), (0, -0.06), (0, 0.05)]
    pts[31:36] = [(-0.16, 0.14), (-0.08, 0.16), (0, 0.17), (0.08, 0.16), (0.16, 0.14)]
    w, h = 0.15, 0.06
    for first, cx in ((36, -0.38), (42, 0.38)):  # outer/inner corner, upper lid, other corner, lower lid
        cy = -0.24
        pts[first:first + 6] = [(cx - w, cy), (cx - w / 3, cy - h), (cx + w / 3, cy - h), (cx + w, cy),
                                (cx + w / 3, cy + h), (cx - w / 3, cy + h)]
    mw, cy, hu, hl = 0.30, 0.40, 0.09, 0.11
    pts[48:60] = [(-mw, 0), (-2 * mw / 3, -0.7 * hu), (-mw / 3, -hu), (0, -0.9 * hu), (mw / 3, -hu),
                  (2 * mw / 3, -0.7 * hu), (mw, 0), (2 * mw / 3, 0.7 * hl), (mw / 3, hl), (0, 1.05 * hl),
                  (-mw / 3, hl), (-2 * mw / 3, 0.7 * hl)]
    pts[60:68] = [(-0.8 * mw, 0), (-mw / 3, -0.3 * hu), (0, -0.3 * hu), (mw / 3, -0.3 * hu), (0.8 * mw, 0),
                  (mw / 3, 0.3 * hl), (0, 0.3 * hl), (-mw / 3, 0.3 * hl)]
    pts[48:68, 1] += cy
    return pts


def _ellipse_radius(a: float, b: float) -> np.ndarray:
    v, u = np.mgrid[0:UV_SIZE, 0:UV_SIZE].astype(np.float64)
    return np.sqrt(((u - CENTER[0]) / a) ** 2 + ((v - CENTER[1]) / b) ** 2)


def synthetic_uv_layout(n_vertices: int = N_VERTICES) -> SyntheticUVLayout:
    """Build the synthetic layout with exactly ``n_vertices`` face pixels (PRNet's 43,867 by default)."""
    b = float(np.sqrt(n_vertices / (np.pi * ASPECT)))
    a = ASPECT * b
    radius = _ellipse_radius(a, b)
    order = np.argsort(radius.reshape(-1), kind="stable")
    face_ind = np.sort(order[:n_vertices]).astype(np.int64)
    face_mask = np.zeros(UV_SIZE * UV_SIZE, dtype=bool)
    face_mask[face_ind] = True
    face_mask = face_mask.reshape(UV_SIZE, UV_SIZE)

    template = keypoint_template()
    kpt_u = np.round(CENTER[0] + a * template[:, 0]).astype(np.int64)
    kpt_v = np.round(CENTER[1] + b * template[:, 1]).astype(np.int64)
    kpt_ind = np.stack([kpt_u, kpt_v])
    assert np.unique(kpt_v * UV_SIZE + kpt_u).size == N_KEYPOINTS and face_mask[kpt_v, kpt_u].all()

    # Two triangles per 2×2 block of face pixels, counter-clockwise as drawn on the UV image (v down).
    vertex_of = np.full(UV_SIZE * UV_SIZE, -1, dtype=np.int64)
    vertex_of[face_ind] = np.arange(n_vertices)
    grid = vertex_of.reshape(UV_SIZE, UV_SIZE)
    p00, p01, p10, p11 = grid[:-1, :-1], grid[:-1, 1:], grid[1:, :-1], grid[1:, 1:]
    full = (p00 >= 0) & (p01 >= 0) & (p10 >= 0) & (p11 >= 0)
    triangles = np.concatenate([np.stack([p00[full], p10[full], p01[full]], axis=1),
                                np.stack([p10[full], p11[full], p01[full]], axis=1)])

    v, u = np.mgrid[0:UV_SIZE, 0:UV_SIZE].astype(np.float64)
    eye_mask = np.zeros((UV_SIZE, UV_SIZE), dtype=bool)
    for first in (36, 42):
        cu, cv = kpt_u[first:first + 6].mean(), kpt_v[first:first + 6].mean()
        eye_mask |= ((u - cu) / (0.21 * a)) ** 2 + ((v - cv) / (0.13 * b)) ** 2 <= 1
    eye_mask &= face_mask

    # The official weight image: 255 on key points, 64 on eyes/nose/mouth, 48 on the rest of the map (neck
    # included, as in PRNet's file), 0 on the last row (PRNet's has 256 zero pixels).
    weight = np.full((UV_SIZE, UV_SIZE), 48, dtype=np.uint8)
    regions = eye_mask.copy()
    for lo, hi, rx, ry in ((27, 36, 0.22, 0.28), (48, 68, 0.40, 0.20)):
        cu, cv = kpt_u[lo:hi].mean(), kpt_v[lo:hi].mean()
        regions |= ((u - cu) / (rx * a)) ** 2 + ((v - cv) / (ry * b)) ** 2 <= 1
    weight[regions] = 64
    weight[kpt_v, kpt_u] = 255
    weight[-1, :] = 0

    r = radius.reshape(-1)[face_ind]
    fu, fv = u.reshape(-1)[face_ind], v.reshape(-1)[face_ind]
    nose = np.exp(-(((fu - CENTER[0]) / (0.12 * a)) ** 2 + ((fv - CENTER[1]) / (0.25 * b)) ** 2))
    canonical = np.stack([(fu - CENTER[0]) * 0.95, 258.0 - (fv - CENTER[1]) * 0.84,
                          4.0 + 140.0 * np.sqrt(np.clip(1 - r ** 2, 0, 1)) + 33.0 * nose], axis=1)
    return SyntheticUVLayout(face_ind=face_ind, triangles=triangles.astype(np.int64), kpt_ind=kpt_ind,
                             face_mask=face_mask, eye_mask=eye_mask, weight_png=weight,
                             canonical_vertices=canonical, semi_axes=(a, b))


def write_synthetic_uv_data(directory: str | os.PathLike[str], layout: SyntheticUVLayout | None = None, *,
                            eyes: bool = True, weight_mask: bool = True, face_mask: bool = True,
                            canonical: bool = True, float_text: bool = False) -> Path:
    """Write a synthetic layout as PRNet's uv-data files into ``directory`` (created); returns the folder.

    Parameters
    ----------
    eyes, weight_mask, face_mask, canonical:
        Write the optional files ``uv_face.png`` + ``uv_face_eyes.png``, ``uv_weight_mask.png``,
        ``uv_face_mask.png``, ``canonical_vertices.npy``.
    float_text:
        Write numbers as ``numpy.savetxt`` does by default (``1.000000000000000000e+00``) instead of integers.
    """
    import cv2

    layout = layout if layout is not None else synthetic_uv_layout()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    fmt = "%.18e" if float_text else "%d"
    np.savetxt(directory / FACE_IND, layout.face_ind, fmt=fmt)
    np.savetxt(directory / TRIANGLES, layout.triangles, fmt=fmt)
    np.savetxt(directory / KPT_IND, layout.kpt_ind, fmt=fmt)
    if face_mask:
        cv2.imwrite(str(directory / FACE_MASK), layout.face_mask.astype(np.uint8) * 255)
    if weight_mask:
        cv2.imwrite(str(directory / WEIGHT_MASK), layout.weight_png)
    if eyes:
        plain = layout.face_mask.astype(np.uint8) * 255
        cv2.imwrite(str(directory / FACE_PNG), plain)
        cv2.imwrite(str(directory / FACE_EYES_PNG), np.where(layout.eye_mask, 0, plain).astype(np.uint8))
    if canonical:
        np.save(directory / CANONICAL, layout.canonical_vertices)
    return directory


def identity_position_map(depth: float = 60.0, layout: SyntheticUVLayout | None = None) -> np.ndarray:
    """(256, 256, 3) float32 crop-pixel position map: UV pixel (u, v) at crop (x = u, y = v), z a dome.

    ``z = depth · sqrt(1 − ρ²)`` inside the face ellipse (ρ its elliptical radius), 0 outside.
    """
    a, b = (layout.semi_axes if layout is not None else
            (ASPECT * np.sqrt(N_VERTICES / (np.pi * ASPECT)), np.sqrt(N_VERTICES / (np.pi * ASPECT))))
    v, u = np.mgrid[0:UV_SIZE, 0:UV_SIZE].astype(np.float32)
    rho = _ellipse_radius(a, b)
    z = depth * np.sqrt(np.clip(1 - rho ** 2, 0, 1))
    return np.stack([u, v, z.astype(np.float32)], axis=-1)


def identity_network(position_map: np.ndarray | None = None) -> nn.Module:
    """A stand-in for ResFCN256 that outputs ``position_map / MAX_POSITION`` for every input image.

    It takes (N, 3, 256, 256) and returns (N, 3, 256, 256) like the real network, in the input's dtype and device,
    so a :class:`~.predictor.PRNetPredictor` built on it runs the whole pipeline with a known answer.
    """
    import torch
    from torch import nn

    from lipsync_studio.face.prnet.network import MAX_POSITION

    pos = identity_position_map() if position_map is None else position_map
    target = torch.from_numpy(np.ascontiguousarray(pos.transpose(2, 0, 1), dtype=np.float32)) / MAX_POSITION

    class IdentityPRNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("target", target)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.target.to(x.dtype).expand(x.shape[0], -1, -1, -1).clone()

    return IdentityPRNet()
