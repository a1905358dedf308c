"""Triangles to pixels: which triangle covers each pixel centre, with its barycentric weights.

One scan converter for every picture drawn from a mesh here (the renderer, the UV atlas): OpenCV fills each
triangle's id into an integer image (far triangles first, so nearer ones end on top), then the weights of
every covered pixel's centre are computed at once. Pixel ``(row, col)`` has its centre at ``(col + 0.5,
row + 0.5)`` in the coordinates the points are given in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Coverage:
    """The covered pixels of a rasterised mesh.

    Attributes
    ----------
    ys, xs: (K,) row and column of each covered pixel.
    triangle: (K,) index of the triangle covering it.
    bary: (K, 3) float32 barycentric weights of the pixel centre in that triangle (clipped to it, sum 1).
    """

    ys: np.ndarray
    xs: np.ndarray
    triangle: np.ndarray
    bary: np.ndarray

    def ids(self, shape: tuple[int, int]) -> np.ndarray:
        """(H, W) int32 triangle per pixel, -1 where none."""
        out = np.full(shape, -1, np.int32)
        out[self.ys, self.xs] = self.triangle
        return out

    def interpolate(self, values: np.ndarray, triangles: np.ndarray) -> np.ndarray:
        """(K, C) float32 per-pixel values from (N, C) per-vertex values."""
        vals = np.asarray(values, np.float32)
        t = triangles[self.triangle]
        b = self.bary
        return vals[t[:, 0]] * b[:, :1] + vals[t[:, 1]] * b[:, 1:2] + vals[t[:, 2]] * b[:, 2:]


def rasterize(points: np.ndarray, triangles: np.ndarray, shape: tuple[int, int],
              order: np.ndarray | None = None) -> Coverage:
    """Scan-convert triangles.

    Parameters
    ----------
    points: (N, 2) vertex positions in pixels (x right, y down).
    triangles: (M, 3) vertex indices.
    shape: (H, W) of the picture.
    order: triangle indices in drawing order, later ones on top (default: all, in index order); triangles
        left out are not drawn.
    """
    import cv2

    h, w = shape
    # Work inside the mesh's bounding box (a face is a small part of a 4K frame), in its own coordinates.
    pts = np.asarray(points, np.float64)
    lo = np.floor(pts.min(0)).astype(int) if len(pts) else np.zeros(2, int)
    hi = np.ceil(pts.max(0)).astype(int) + 1 if len(pts) else np.zeros(2, int)
    x0, y0 = max(0, lo[0]), max(0, lo[1])
    x1, y1 = min(w, hi[0]), min(h, hi[1])
    if x1 <= x0 or y1 <= y0:
        empty = np.zeros(0, np.int64)
        return Coverage(empty, empty, empty, np.zeros((0, 3), np.float32))
    local = pts - (x0, y0)
    ids = np.zeros((y1 - y0, x1 - x0), np.int32)
    fixed = np.round((local - 0.5) * 16).astype(np.int32)  # centres at +0.5
    for k in (range(len(triangles)) if order is None else order):
        cv2.fillConvexPoly(ids, fixed[triangles[k]], int(k) + 1, lineType=cv2.LINE_8, shift=4)
    ys, xs = np.nonzero(ids)
    tri = ids[ys, xs] - 1
    t = triangles[tri]
    p = local.astype(np.float32)
    pa, pb, pc = p[t[:, 0]], p[t[:, 1]], p[t[:, 2]]
    v0, v1 = pb - pa, pc - pa
    qx = xs.astype(np.float32) + 0.5 - pa[:, 0]
    qy = ys.astype(np.float32) + 0.5 - pa[:, 1]
    den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    den = np.where(np.abs(den) < 1e-6, np.float32(1e-6), den)
    w1 = np.clip((qx * v1[:, 1] - v1[:, 0] * qy) / den, 0, 1)
    w2 = np.clip((v0[:, 0] * qy - qx * v0[:, 1]) / den, 0, 1)
    w0 = np.maximum(1 - w1 - w2, 0)
    bary = np.stack([w0, w1, w2], 1)
    bary /= np.maximum(bary.sum(1, keepdims=True), np.float32(1e-6))
    return Coverage(ys + y0, xs + x0, tri, bary.astype(np.float32))
