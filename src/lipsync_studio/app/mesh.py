"""Face meshes for the 3D view (no Qt): the per-frame mesh the view takes, and a placeholder head.

The face module hands the view one :class:`MeshFrame` per video frame (MediaPipe's 468-point mesh or
PRNet's 43,867 vertices). Before the clip's faces are tracked the view shows :func:`placeholder_head`, and
says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MeshFrame:
    """A triangle mesh.

    Attributes
    ----------
    vertices: ``(N, 3) float`` positions; x right, y up, z towards the viewer (any unit).
    triangles: ``(M, 3) int`` vertex indices, counter-clockwise seen from outside.
    colors: ``(N, 3) float`` RGB in [0, 1] per vertex, or None.
    label: what the mesh is, shown under the view.
    """

    vertices: np.ndarray
    triangles: np.ndarray
    colors: np.ndarray | None = None
    label: str = ""

    def __post_init__(self) -> None:
        v = np.asarray(self.vertices, dtype=np.float64)
        t = np.asarray(self.triangles, dtype=np.int32)
        if v.ndim != 2 or v.shape[1] != 3:
            raise ValueError(f"vertices must be (N, 3), got {v.shape}")
        if t.ndim != 2 or t.shape[1] != 3:
            raise ValueError(f"triangles must be (M, 3), got {t.shape}")
        if len(t) and (t.min() < 0 or t.max() >= len(v)):
            raise ValueError("triangles refer to vertices that do not exist")
        object.__setattr__(self, "vertices", v)
        object.__setattr__(self, "triangles", t)
        if self.colors is not None:
            c = np.asarray(self.colors, dtype=np.float64)
            if c.shape != v.shape:
                raise ValueError(f"colors must be (N, 3) like the vertices, got {c.shape}")
            object.__setattr__(self, "colors", np.clip(c, 0.0, 1.0))


def _blob(x: np.ndarray, y: np.ndarray, cx: float, cy: float, sx: float, sy: float) -> np.ndarray:
    return np.exp(-(((x - cx) / sx) ** 2) - (((y - cy) / sy) ** 2))


def placeholder_head(rows: int = 120, cols: int = 200, mouth_open: float = 0.0) -> MeshFrame:
    """A smooth stand-in head (skull, brow, eye sockets, nose, cheeks, lips, chin), coloured like skin.

    Built as a sphere pushed in and out along its normals by smooth bumps (y up, z towards the viewer).
    ``mouth_open`` in [0, 1] parts the lips (so the view can show it following the timeline).
    """
    theta = np.linspace(0.0, np.pi, rows)  # from the crown to under the chin
    phi = np.linspace(-np.pi, np.pi, cols, endpoint=False)  # around; 0 faces the viewer
    th, ph = np.meshgrid(theta, phi, indexing="ij")
    x, y, z = np.sin(th) * np.sin(ph), np.cos(th), np.sin(th) * np.cos(ph)
    front = np.clip(z, 0.0, 1.0) ** 2
    ax = np.abs(x)
    o = float(np.clip(mouth_open, 0.0, 1.0))
    bump = (
        0.20 * np.exp(-((x / 0.085) ** 2)) * (_blob(0, y, 0, -0.13, 1, 0.15) + 0.35 * _blob(0, y, 0, 0.08, 1, 0.13))
        + 0.05 * _blob(ax, y, 0.085, -0.21, 0.05, 0.05)  # nostril wings
        - 0.07 * _blob(ax, y, 0.30, 0.19, 0.11, 0.075)  # eye sockets
        + 0.045 * _blob(0, y, 0, 0.33, 1, 0.06) * np.exp(-((x / 0.5) ** 2))  # brow ridge
        + 0.04 * _blob(ax, y, 0.46, -0.02, 0.14, 0.15)  # cheekbones
        + 0.05 * _blob(x, y, 0, -0.39, 0.2, 0.035) + 0.05 * _blob(x, y, 0, -0.50 - 0.05 * o, 0.18, 0.04)  # lips
        - (0.02 + 0.08 * o) * _blob(x, y, 0, -0.445 - 0.02 * o, 0.17, 0.018 + 0.03 * o)  # the mouth's line
        + 0.07 * _blob(x, y, 0, -0.74, 0.2, 0.1)  # chin
    ) * front
    r = 1.0 + bump
    # Narrower at the jaw than at the cheeks, a little deeper at the back of the skull.
    jaw = 1.0 - 0.28 * np.clip(-y, 0, 1) ** 1.6
    verts = np.stack([x * r * 0.78 * jaw, y * r * 1.05, z * r * (0.9 + 0.06 * (z < 0))], axis=-1).reshape(-1, 3)

    i, j = np.meshgrid(np.arange(rows - 1), np.arange(cols), indexing="ij")
    a, b = i * cols + j, i * cols + (j + 1) % cols
    c, d = a + cols, b + cols
    tris = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([b, d, c], -1).reshape(-1, 3)])
    skin = np.array([0.87, 0.68, 0.57])
    lip_col = np.array([0.74, 0.40, 0.40])
    lips = np.clip(_blob(x, y, 0, -0.445, 0.19, 0.07) * front * 1.6, 0, 1).reshape(-1, 1)
    colors = skin * (1 - lips) + lip_col * lips
    return MeshFrame(verts, tris.astype(np.int32), np.clip(colors, 0, 1),
                     label="Placeholder head (the face mesh arrives with the face module)")


def edges_of(triangles: np.ndarray) -> np.ndarray:
    """``(E, 2)`` unique edges of a triangle list (for wireframes)."""
    e = np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]])
    e.sort(axis=1)
    return np.unique(e, axis=0)
