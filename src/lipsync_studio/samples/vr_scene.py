"""A talking head in a VR picture: a 360 equirectangular or a VR180 (fisheye mesh) stereo pair with known geometry.

The head is a flat picture (frames of :func:`.face_clip.talking_face_frames`, or any clip's) standing in the
scene at a known direction and distance, facing the viewer; the background is a textured sphere at infinity
(zero disparity). Each eye is a camera half the baseline left or right of the rig's centre, looking forward;
its picture is rendered through the projection pixel by pixel (ray, plane, texture), so the two eyes differ by
exactly the disparity the geometry gives, and the projection bends the head as a real VR camera would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..media.vrmeta import Mesh, VRMetadata, mshp_payload, st3d_box, sv3d_equirect_box, sv3d_mesh_box
from ..stereo.projection import Equirectangular, MeshSphere, SphereProjection, dir_to_lonlat, lonlat_to_dir


def fisheye_mesh(n_theta: int = 24, n_phi: int = 48, fov_deg: float = 180.0) -> Mesh:
    """An equidistant fisheye as a Spherical Video V2 mesh: the angle from forward maps linearly to the radius
    in the picture (``fov_deg`` across the picture's inscribed circle)."""
    half = math.radians(fov_deg) / 2
    theta = np.linspace(0, half, n_theta + 1)[1:]
    phi = np.linspace(0, 2 * np.pi, n_phi, endpoint=False)
    th, ph = np.meshgrid(theta, phi, indexing="ij")
    # Directions in the mesh's OpenGL axes: -Z forward, +X right, +Y up.
    xyz = np.stack([np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph), -np.cos(th)], -1).reshape(-1, 3)
    r = 0.5 * th / half
    uv = np.stack([0.5 + r * np.cos(ph), 0.5 + r * np.sin(ph)], -1).reshape(-1, 2)
    xyz = np.vstack([[0, 0, -1], xyz])
    uv = np.vstack([[0.5, 0.5], uv])
    tris = []
    for j in range(n_phi):  # the fan around the centre
        tris.append((0, 1 + j, 1 + (j + 1) % n_phi))
    for i in range(n_theta - 1):
        for j in range(n_phi):
            a, b = 1 + i * n_phi + j, 1 + i * n_phi + (j + 1) % n_phi
            c, d = a + n_phi, b + n_phi
            tris += [(a, c, d), (a, d, b)]
    return Mesh(xyz.astype(np.float32), uv.astype(np.float32), np.array(tris, np.int32))


def _background(seed: int, width: int = 720, height: int = 360) -> np.ndarray:
    """A textured equirectangular panorama (blurred colour noise with some edges): the scene at infinity."""
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.integers(40, 220, (9, 18, 3)).astype(np.uint8), (width, height),
                      interpolation=cv2.INTER_CUBIC)
    fine = cv2.GaussianBlur(rng.integers(0, 60, (height, width, 3)).astype(np.uint8), (0, 0), 1.5)
    img = cv2.add(base, fine)
    for k in range(40):  # a few straight edges, which a projection visibly bends
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        cv2.rectangle(img, (x, y), (x + int(rng.integers(8, 60)), y + int(rng.integers(8, 40))),
                      tuple(int(c) for c in rng.integers(0, 255, 3)), -1)
    return img


@dataclass(frozen=True)
class SceneChange:
    """What :meth:`VRTalkingScene.stereo_change` measured: ``frames`` compared, ``changed`` (mouth changed in both
    eyes), ``outside`` (largest change outside the head, grey levels), ``right_eye_error`` (x, y px)."""

    frames: int
    changed: int
    outside: int
    right_eye_error: tuple[float, float]


@dataclass
class VRTalkingScene:
    """A head at ``(yaw, pitch)`` degrees, ``distance`` metres from the rig, ``width`` metres wide.

    ``kind``: ``360`` (equirectangular, eyes ``2*eye_size`` x ``eye_size``) or ``vr180`` (an equidistant
    fisheye mesh, square eyes of ``eye_size``). The eyes are ``baseline`` metres apart; ``mono``: one camera at
    the rig's centre (a monoscopic clip: :meth:`picture`, metadata without ``st3d``).
    """

    kind: str = "vr180"
    eye_size: int = 400
    yaw: float = 45.0
    pitch: float = 10.0
    distance: float = 0.7
    width: float = 0.55
    baseline: float = 0.064
    seed: int = 0
    mono: bool = False
    _maps: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.kind == "360":
            self.eye_w, self.eye_h = 2 * self.eye_size, self.eye_size
            self.mesh = None
            self.projections: tuple[SphereProjection, SphereProjection] = (
                Equirectangular(self.eye_w, self.eye_h), Equirectangular(self.eye_w, self.eye_h))
        elif self.kind == "vr180":
            self.eye_w = self.eye_h = self.eye_size
            self.mesh = fisheye_mesh()
            p = MeshSphere(self.eye_w, self.eye_h, self.mesh.xyz, self.mesh.uv)
            self.projections = (p, p)
        else:
            raise ValueError(f"kind must be '360' or 'vr180', not {self.kind!r}")
        self.background = _background(self.seed)

    def metadata(self) -> VRMetadata:
        """The st3d (top-bottom) and sv3d boxes a camera would write for this scene (sv3d alone when ``mono``)."""
        if self.mesh is None:
            sv3d = sv3d_equirect_box()
        else:
            sv3d = sv3d_mesh_box(mshp_payload([self.mesh]))
        if self.mono:
            return VRMetadata(entry_boxes=((b"sv3d", sv3d),))
        return VRMetadata(entry_boxes=((b"st3d", st3d_box(1)), (b"sv3d", sv3d)))

    @property
    def face_direction(self) -> np.ndarray:
        """(3,) unit direction of the head's centre from the rig's centre."""
        return lonlat_to_dir(math.radians(self.yaw), math.radians(self.pitch))

    def _plane(self):
        c = self.face_direction
        h = np.array([c[2], 0.0, -c[0]])
        h /= np.linalg.norm(h)
        v = np.cross(c, h)  # points down the picture
        return self.distance * c, c, h, v

    def eye_origin(self, eye: int) -> np.ndarray:
        """(3,) where eye 0 (left) or 1 (right) sits, metres (the rig's centre when ``mono``)."""
        if self.mono:
            return np.zeros(3)
        return np.array([(-0.5 if eye == 0 else 0.5) * self.baseline, 0.0, 0.0])

    def hit(self, eye: int, x: np.ndarray, y: np.ndarray, frame_size: int) -> tuple[np.ndarray, np.ndarray]:
        """Head-picture pixel ``(fx, fy)`` each eye pixel sees (NaN where it sees the background)."""
        d = self.projections[eye].to_direction(x, y)
        p, n, h, v = self._plane()
        o = self.eye_origin(eye)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = ((p - o) @ n) / (d @ n)
            q = o + t[..., None] * d - p
        a, b = q @ h / self.width, q @ v / self.width
        fx = (a + 0.5) * frame_size - 0.5
        fy = (b + 0.5) * frame_size - 0.5
        inside = (t > 0) & (np.abs(a) <= 0.5) & (np.abs(b) <= 0.5)
        return np.where(inside, fx, np.nan), np.where(inside, fy, np.nan)

    def project_point(self, eye: int, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Eye pixel of (..., 3) scene points (metres)."""
        return self.projections[eye].to_pixel(np.asarray(q, np.float64) - self.eye_origin(eye))

    def head_point(self, fx: np.ndarray, fy: np.ndarray, frame_size: int) -> np.ndarray:
        """(..., 3) scene point of head-picture pixels (the inverse of :meth:`hit` on the plane)."""
        p, _, h, v = self._plane()
        a = (np.asarray(fx, np.float64) + 0.5) / frame_size - 0.5
        b = (np.asarray(fy, np.float64) + 0.5) / frame_size - 0.5
        return p + (a * self.width)[..., None] * h + (b * self.width)[..., None] * v

    def _eye_maps(self, eye: int, frame_size: int):
        key = (eye, frame_size)
        if key not in self._maps:
            ys, xs = np.mgrid[0:self.eye_h, 0:self.eye_w].astype(np.float64)
            fx, fy = self.hit(eye, xs, ys, frame_size)
            d = self.projections[eye].to_direction(xs, ys)
            lon, lat = dir_to_lonlat(d)
            bh, bw = self.background.shape[:2]
            bx = ((lon / (2 * np.pi) + 0.5) * bw - 0.5) % bw
            by = np.clip((0.5 - lat / np.pi) * bh - 0.5, 0, bh - 1)
            covered = np.isfinite(d).all(-1)
            bg = cv2.remap(self.background, bx.astype(np.float32), by.astype(np.float32), cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_WRAP)
            bg[~covered] = 0
            inside = np.isfinite(fx)
            self._maps[key] = (np.nan_to_num(fx, nan=-1).astype(np.float32), np.nan_to_num(fy, nan=-1).astype(np.float32),
                               inside, bg)
        return self._maps[key]

    def eyes(self, face_frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The (left, right) eye pictures with ``face_frame`` (square, RGB uint8) as the head."""
        return self._eye(0, face_frame), self._eye(1, face_frame)

    def picture(self, face_frame: np.ndarray) -> np.ndarray:
        """The one picture of a ``mono`` scene (``eye_h`` x ``eye_w`` x 3) with ``face_frame`` as the head."""
        return self._eye(0, face_frame)

    def head_footprint(self, frame_size: int, grow: int = 3, eye: int = 0) -> np.ndarray:
        """(eye_h, eye_w) bool: the pixels of ``eye`` that see the head picture, grown by ``grow`` px."""
        ys, xs = np.mgrid[0:self.eye_h, 0:self.eye_w].astype(np.float64)
        m = np.isfinite(self.hit(eye, xs, ys, frame_size)[0]).astype(np.uint8)
        return cv2.dilate(m, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)).astype(bool)

    def stereo_change(self, clip, synced, frame_size: int, big: int = 12) -> "SceneChange":
        """How a stereo sync changed a top-bottom clip of this scene (``clip`` -> ``synced``): the frames whose
        mouth changed in both eyes (more than 30 pixels by more than ``big`` levels), the largest change outside
        the head's footprint, and how far the right eye's change lies from where the geometry puts the left eye's
        (mean |x|, |y| px over those frames; NaN without any)."""
        from ..media.video import VideoReader
        from ..stereo.layout import split

        footprint = [self.head_footprint(frame_size, eye=e) for e in (0, 1)]
        changed, outside, errs = 0, 0, []
        with VideoReader(clip) as ri, VideoReader(synced) as ro:
            n = min(ri.info.n_frames, ro.info.n_frames)
            for k in range(n):
                a, b = split(ri.frame(k), "tb"), split(ro.frame(k), "tb")
                diff = [np.abs(a[e].astype(int) - b[e].astype(int)).max(axis=2) for e in (0, 1)]
                outside = max(outside, *(int(diff[e][~footprint[e]].max()) for e in (0, 1)))
                moved = [d > big for d in diff]
                if moved[0].sum() < 30 or moved[1].sum() < 30:
                    continue
                changed += 1
                # Where the left eye's change is in the scene, and so where the right eye must show it.
                yl, xl = np.nonzero(moved[0])
                fx, fy = self.hit(0, xl.astype(float), yl.astype(float), frame_size)
                ok = np.isfinite(fx)
                px, py = self.project_point(1, self.head_point(fx[ok], fy[ok], frame_size))
                yr, xr = np.nonzero(moved[1])
                errs.append((np.nanmean(px) - xr.mean(), np.nanmean(py) - yr.mean()))
        err = np.abs(np.array(errs)).mean(axis=0) if errs else np.array([np.nan, np.nan])
        return SceneChange(n, changed, outside, (float(err[0]), float(err[1])))

    def _eye(self, eye: int, face_frame: np.ndarray) -> np.ndarray:
        mx, my, inside, bg = self._eye_maps(eye, face_frame.shape[0])
        img = bg.copy()
        face = cv2.remap(face_frame, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        img[inside] = face[inside]
        return img
