"""A 3D face mesh for every frame, built in (no downloaded weights): FaceMesh's surface made metric.

Per clip, the speaker's reference shape (see :mod:`.smoothing`) is turned to face the camera and scaled to
millimetres by the distance between the iris centres (63 mm, the adult mean); that is the clip's canonical
face, and its frontal x/y give the UV layout. Per frame, the canonical face is fitted to the landmarks on
rigid points: that fit is the head pose; what is left is the face's own shape (mouth, eyes, brows) in
millimetres. The camera is a pinhole with a horizontal field of view of ``hfov_deg`` (50° by default).

Coordinates are right-handed, in millimetres, camera at the origin looking down -z, +y up (OpenGL, OBJ).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .smoothing import RIGID_POINTS, reference_shape, similarity_fit
from .topology import face_topology, nearest_covered, orient, rasterize_uv
from .track import N_SURFACE, FaceTrack

IRIS_CENTRES = (468, 473)
MEAN_IPD_MM = 63.0
FOREHEAD, CHIN = 10, 152
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263


def _to_gl(lm: np.ndarray) -> np.ndarray:
    """Image pixels (x right, y down, z away) → right-handed (x right, y up, z toward the viewer)."""
    q = np.asarray(lm, np.float64).copy()
    q[..., 1] *= -1
    q[..., 2] *= -1
    return q


@dataclass(frozen=True)
class FaceModel:
    """The speaker's canonical face for one clip: shared topology, UVs and scale for every frame.

    Attributes
    ----------
    canonical: (468, 3) float32 frontal face in mm, centred at the nose bridge area's centroid.
    triangles: (M, 3) int32, counter-clockwise seen from the front; the mouth is a hole.
    uv: (468, 2) float32 texture coordinates in [0, 1] (v up).
    mm_per_px: millimetres per pixel of the reference frame.
    width, height: frame size in pixels; hfov_deg: assumed horizontal field of view.
    """

    canonical: np.ndarray
    triangles: np.ndarray
    uv: np.ndarray
    mm_per_px: float
    width: int
    height: int
    hfov_deg: float = 50.0

    @property
    def focal_px(self) -> float:
        """Focal length in pixels of the assumed pinhole camera."""
        return self.width / (2 * math.tan(math.radians(self.hfov_deg) / 2))

    @classmethod
    def from_track(cls, track: FaceTrack, width: int, height: int, hfov_deg: float = 50.0) -> "FaceModel":
        """Build the canonical face from a track (needs at least one frame with the face)."""
        if not track.present.any():
            raise ValueError("the face track has no frame with a face")
        ref = _to_gl(reference_shape(np.nan_to_num(track.raw), track.present))
        x = ref[LEFT_EYE_OUTER] - ref[RIGHT_EYE_OUTER]
        x /= np.linalg.norm(x)
        y = ref[FOREHEAD] - ref[CHIN]
        y -= x * (y @ x)
        y /= np.linalg.norm(y)
        rot = np.stack([x, y, np.cross(x, y)])  # rows: the face's own axes
        centre = ref[list(RIGID_POINTS)].mean(0)
        frontal = (rot @ (ref - centre).T).T
        ipd_px = np.linalg.norm(frontal[IRIS_CENTRES[0]] - frontal[IRIS_CENTRES[1]])
        mm_per_px = MEAN_IPD_MM / max(ipd_px, 1e-6)
        canonical = (frontal[:N_SURFACE] * mm_per_px).astype(np.float32)
        tris = orient(face_topology().triangles, canonical.astype(np.float64))
        lo, hi = canonical[:, :2].min(0), canonical[:, :2].max(0)
        span = float((hi - lo).max()) * 1.04
        uv = ((canonical[:, :2] - (lo + hi) / 2) / span + 0.5).astype(np.float32)
        return cls(canonical, tris.astype(np.int32), uv, float(mm_per_px), width, height, hfov_deg)


@dataclass(frozen=True)
class FaceMesh3D:
    """The face in one frame.

    Attributes
    ----------
    vertices: (468, 3) float32 mm in camera space (see the module doc).
    triangles: (M, 3) int32 (the same on every frame).
    uv: (468, 2) float32 (the same on every frame).
    colors: (468, 3) float32 RGB in [0, 1] sampled from the frame.
    rotation: (3, 3) head rotation (canonical face → camera).
    translation: (3,) mm, where the canonical face's centre is in camera space.
    image_points: (468, 2) float32 pixel positions of the vertices in the frame (for texturing, overlays).
    measured: False when the face was not found in this frame and the mesh was interpolated.
    """

    vertices: np.ndarray
    triangles: np.ndarray
    uv: np.ndarray
    colors: np.ndarray
    rotation: np.ndarray
    translation: np.ndarray
    image_points: np.ndarray
    measured: bool


def fill_gaps(track: FaceTrack) -> np.ndarray:
    """(T, 478, 3) landmarks with absent frames filled: interpolated between neighbours, held at the ends."""
    from .steady import fill_absent

    return fill_absent(track.landmarks, track.present).astype(np.float32)


def vertex_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """(N, 3) float64 unit normals of (N, 3) vertices, area-weighted over the (M, 3) triangles around each."""
    v = np.asarray(vertices, np.float64)
    a, b, c = (v[triangles[:, k]] for k in range(3))
    fn = np.cross(b - a, c - a)
    n = np.zeros_like(v)
    for k in range(3):
        np.add.at(n, triangles[:, k], fn)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


def sample_colors(frame: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Bilinear RGB in [0, 1] of ``frame`` at (N, 2) pixel ``points`` (clamped to the image)."""
    import cv2

    m = points.astype(np.float32).reshape(1, -1, 2)
    out = cv2.remap(frame, m[..., 0], m[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return (out.reshape(-1, 3).astype(np.float32) / 255.0)


def mesh_for_frame(model: FaceModel, landmarks: np.ndarray, frame: np.ndarray | None, measured: bool = True) -> FaceMesh3D:
    """The 3D face for one frame.

    Parameters
    ----------
    model: the clip's canonical face.
    landmarks: (478, 3) pixel landmarks of this frame (smoothed).
    frame: (H, W, 3) uint8 RGB, for vertex colours (None: grey).
    """
    q = _to_gl(landmarks[:N_SURFACE])
    rigid = list(RIGID_POINTS)
    s, r, t = similarity_fit(model.canonical[rigid].astype(np.float64), q[rigid])
    local = (r.T @ (q - t).T).T / s  # this frame's shape in the canonical frame, mm
    f = model.focal_px
    # s is pixels per mm at the face's depth: the pinhole puts the face at z = -f / s.
    z = -f / s
    translation = np.array([(t[0] - model.width / 2) / s, (t[1] + model.height / 2) / s, z])
    vertices = (r @ local.T).T + translation
    pts = landmarks[:N_SURFACE, :2].astype(np.float32)
    colors = sample_colors(frame, pts) if frame is not None else np.full((N_SURFACE, 3), 0.7, np.float32)
    return FaceMesh3D(vertices.astype(np.float32), model.triangles, model.uv, colors, r.astype(np.float32),
                      translation.astype(np.float32), pts, measured)


class TextureBaker:
    """Warps a frame's face into the clip's UV atlas (piecewise affine over the mesh triangles).

    The atlas is ``size``² pixels; texels outside every triangle take the nearest covered texel's
    source, so bilinear filtering at the mesh border shows no seam.
    """

    def __init__(self, model: FaceModel, size: int = 512) -> None:
        self.size = size
        tri_id, bary = rasterize_uv(model.uv, model.triangles, size)
        src = nearest_covered(tri_id >= 0)
        flat_tri = tri_id.ravel()[src]
        flat_bary = bary.reshape(-1, 3)[src]
        self._verts = model.triangles[flat_tri]  # (size², 3) vertex ids per texel
        self._bary = flat_bary  # (size², 3)

    def bake(self, frame: np.ndarray, image_points: np.ndarray) -> np.ndarray:
        """(size, size, 3) uint8 RGB texture of this frame's face."""
        import cv2

        p = image_points.astype(np.float32)
        mx = (p[self._verts, 0] * self._bary).sum(1).reshape(self.size, self.size)
        my = (p[self._verts, 1] * self._bary).sum(1).reshape(self.size, self.size)
        return cv2.remap(frame, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
