"""A software renderer for the 3D face: the mesh sequence as pictures from a chosen angle, with no display.

Numpy and OpenCV only (Open3D's offscreen renderer needs Vulkan, which hangs on software drivers). Per frame:
vertices are projected through a pinhole camera; triangles are drawn far to near (painter's order: the face is
nearly convex, so this hides what is behind) into a triangle-id buffer at ``supersample`` times the output
size; every covered pixel gets its triangle's barycentric weights, from which normals, UVs and colours are
interpolated; the picture is lit (a key and a fill light, Lambert plus a little Blinn highlight) and scaled
down, which anti-aliases the edges.

Styles: ``shaded`` (a clay face), ``textured`` (the frame's own face texture, lightly shaded so the shape
reads), ``wireframe`` (the triangle edges over a dim surface, hidden edges removed). The mouth, a hole in the
exported mesh, is closed here by a cap over the inner-lip loop: dark in ``shaded``, the video's own mouth
(teeth, tongue) in ``textured``.

Cameras orbit the clip's mean head position: ``front``, ``left``/``right`` (45° to the speaker's left/right),
``turntable`` (a full turn every ``turntable_s`` seconds) or ``AZ,EL`` in degrees. The camera stays put while
the head moves as it did in the clip. ``stereo`` renders two parallel eyes 64 mm apart, converged on the face (its centre at zero disparity: the nose
comes out of the screen, the cheeks go in).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from .mesh3d import FaceModel, vertex_normals
from .raster import rasterize
from .topology import face_topology, orient

STYLES = ("shaded", "wireframe", "textured")
CAMERAS = {"front": (0.0, 0.0), "left": (45.0, 0.0), "right": (-45.0, 0.0)}
EYE_SEPARATION_MM = 64.0
_KEY = np.array([-0.45, 0.55, 0.70])  # camera space: from the upper left, in front
_FILL = np.array([0.6, 0.1, 0.8])
_CLAY = np.array([0.80, 0.70, 0.62])
_INSIDE = np.array([0.42, 0.42, 0.48])
_MOUTH = np.array([0.22, 0.07, 0.07])


@dataclass(frozen=True)
class ViewOptions:
    """How the face video looks.

    Attributes
    ----------
    style: ``shaded``, ``wireframe`` or ``textured``.
    camera: ``front``, ``left``, ``right``, ``turntable`` or ``"AZ,EL"`` (degrees; azimuth toward the
        speaker's left, elevation up).
    background: RGB 0-255.
    fov_deg: the virtual camera's vertical field of view.
    fill: how much of the picture's height the face takes (0..1).
    turntable_s: seconds per turn of the turntable.
    stereo: two eyes (left, right) instead of one.
    supersample: render this many times larger, then scale down (anti-aliasing).
    """

    style: str = "shaded"
    camera: str = "front"
    background: tuple[int, int, int] = (28, 30, 36)
    fov_deg: float = 30.0
    fill: float = 0.8
    turntable_s: float = 8.0
    stereo: bool = False
    supersample: int = 2

    def check(self) -> "ViewOptions":
        """Raise ValueError naming the bad option; return self."""
        if self.style not in STYLES:
            raise ValueError(f"unknown style '{self.style}' (use {', '.join(STYLES)})")
        camera_angles(self.camera, 0.0, self.turntable_s)
        return self


def parse_color(text: str) -> tuple[int, int, int]:
    """``#RRGGBB``, ``R,G,B`` (0-255) or a name (black, white, grey/gray, green, blue) → RGB."""
    names = {"black": (0, 0, 0), "white": (255, 255, 255), "grey": (128, 128, 128), "gray": (128, 128, 128),
             "green": (0, 177, 64), "blue": (0, 71, 187), "dark": (28, 30, 36)}
    t = text.strip().lower()
    if t in names:
        return names[t]
    try:
        if t.startswith("#") and len(t) == 7:
            return tuple(int(t[k:k + 2], 16) for k in (1, 3, 5))  # type: ignore[return-value]
        parts = [int(p) for p in t.split(",")]
        if len(parts) == 3 and all(0 <= p <= 255 for p in parts):
            return tuple(parts)  # type: ignore[return-value]
    except ValueError:
        pass
    raise ValueError(f"'{text}' is not a colour (use #RRGGBB, R,G,B or one of {', '.join(names)})")


def camera_angles(camera: str, time_s: float, turntable_s: float = 8.0) -> tuple[float, float]:
    """(azimuth, elevation) in degrees of ``camera`` at ``time_s`` (see :class:`ViewOptions`)."""
    c = camera.strip().lower()
    if c in CAMERAS:
        return CAMERAS[c]
    if c == "turntable":
        return (360.0 * time_s / turntable_s) % 360.0, 0.0
    try:
        az, el = (float(p) for p in c.split(","))
    except ValueError:
        raise ValueError(f"unknown camera '{camera}' (use front, left, right, turntable or AZ,EL in degrees)")
    if not -90 <= el <= 90:
        raise ValueError(f"camera elevation {el}° is outside -90..90")
    return az, el


@dataclass(frozen=True)
class Camera:
    """A pinhole camera: position (mm), orthonormal right/up/forward axes, focal length and size in pixels;
    ``shift_px`` moves the picture sideways (a stereo eye's convergence on the face)."""

    position: np.ndarray
    right: np.ndarray
    up: np.ndarray
    forward: np.ndarray
    focal_px: float
    width: int
    height: int
    shift_px: float = 0.0

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, 2) pixel positions and (N,) depths (mm along the view) of (N, 3) points."""
        p = points - self.position
        z = p @ self.forward
        zs = np.maximum(z, 1e-3)
        x = self.focal_px * (p @ self.right) / zs + self.width / 2 + self.shift_px
        y = self.height / 2 - self.focal_px * (p @ self.up) / zs
        return np.stack([x, y], 1), z


def mean_rotation(rotations: np.ndarray) -> np.ndarray:
    """The rotation nearest to the average of (T, 3, 3) rotations."""
    u, _, vt = np.linalg.svd(np.mean(rotations, axis=0))
    r = u @ vt
    if np.linalg.det(r) < 0:
        u[:, -1] *= -1
        r = u @ vt
    return r


class FaceRig:
    """The cameras for a clip's face: orbiting its mean head position, framed to its size.

    Parameters
    ----------
    model: the clip's canonical face; rotations: (T, 3, 3), translations: (T, 3) mm, the head pose per frame.
    width, height: the picture's size; options: the view.
    """

    def __init__(self, model: FaceModel, rotations: np.ndarray, translations: np.ndarray, width: int, height: int,
                 options: ViewOptions) -> None:
        self.options = options.check()
        self.width, self.height = width, height
        self.centre = np.mean(translations, axis=0)
        self.axes = mean_rotation(np.asarray(rotations, np.float64))
        radius = float(np.percentile(np.linalg.norm(model.canonical[:, :2], axis=1), 98))
        half = math.tan(math.radians(options.fov_deg) / 2)
        self.distance = radius / (options.fill * half)
        self.focal_px = (height / 2) / half

    def cameras(self, time_s: float, scale: int = 1) -> list[Camera]:
        """The camera (or the left and right eyes' cameras) at ``time_s``; ``scale`` multiplies the size."""
        az, el = (math.radians(a) for a in camera_angles(self.options.camera, time_s, self.options.turntable_s))
        d = self.axes @ np.array([math.sin(az) * math.cos(el), math.sin(el), math.cos(az) * math.cos(el)])
        position = self.centre + self.distance * d
        forward = -d
        up0 = self.axes @ np.array([0.0, 1.0, 0.0])
        right = np.cross(forward, up0)
        if np.linalg.norm(right) < 1e-6:  # looking straight down or up
            right = self.axes @ np.array([1.0, 0.0, 0.0])
        right /= np.linalg.norm(right)
        up = np.cross(right, forward)
        w, h, f = self.width * scale, self.height * scale, self.focal_px * scale
        if not self.options.stereo:
            return [Camera(position, right, up, forward, f, w, h)]
        # Parallel eyes, each picture shifted so the face's centre has no disparity (it sits at the screen).
        half = EYE_SEPARATION_MM / 2 * right
        shift = f * (EYE_SEPARATION_MM / 2) / self.distance
        return [Camera(position - half, right, up, forward, f, w, h, -shift),
                Camera(position + half, right, up, forward, f, w, h, shift)]


def mouth_cap(model: FaceModel) -> np.ndarray:
    """(K, 3) int32 triangles closing the mouth hole (a fan over the inner-lip loop), wound like the face."""
    loop = face_topology().mouth_loop
    fan = np.array([(loop[0], loop[k], loop[k + 1]) for k in range(1, len(loop) - 1)], np.int32)
    return orient(fan, model.canonical.astype(np.float64)).astype(np.int32)


def render_model(model: FaceModel) -> FaceModel:
    """``model`` with the mouth cap added to its triangles (for the renderer and its texture baker)."""
    return replace(model, triangles=np.concatenate([model.triangles, mouth_cap(model)]))


def _light(normals: np.ndarray, view: np.ndarray, specular: float) -> tuple[np.ndarray, np.ndarray]:
    """Diffuse (key + fill + ambient) and highlight terms for (K, 3) camera-space normals."""
    key, fill = _KEY / np.linalg.norm(_KEY), _FILL / np.linalg.norm(_FILL)
    diffuse = 0.28 + 0.62 * np.clip(normals @ key, 0, None) + 0.22 * np.clip(normals @ fill, 0, None)
    h = key + view
    h /= np.linalg.norm(h)
    spec = specular * np.clip(normals @ h, 0, None) ** 24
    return diffuse, spec


def _sample(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(K, 3) float32 in [0, 1]: bilinear samples of a uint8 RGB image at K pixel positions."""
    import cv2

    k = len(x)
    cols = 4096  # remap's maps must stay under 32767 on a side: lay the K positions out in rows
    rows = max(1, -(-k // cols))
    mx = np.zeros(rows * cols, np.float32)
    my = np.zeros(rows * cols, np.float32)
    mx[:k], my[:k] = x, y
    out = cv2.remap(image, mx.reshape(rows, cols), my.reshape(rows, cols), cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(-1, 3)[:k].astype(np.float32) / np.float32(255.0)


class FaceRenderer:
    """Draws one frame's face for one camera (see the module doc).

    Parameters
    ----------
    model: the clip's canonical face (its triangles; the mouth cap is added here).
    options: the view (style, background, supersampling).
    """

    def __init__(self, model: FaceModel, options: ViewOptions) -> None:
        self.options = options.check()
        self.model = render_model(model)
        self.n_face = len(model.triangles)
        self.triangles = self.model.triangles
        self.uv = self.model.uv

    def render(self, vertices: np.ndarray, camera: Camera, texture: np.ndarray | None = None) -> np.ndarray:
        """(H, W, 3) uint8 RGB picture at ``camera``'s size / supersample.

        Parameters
        ----------
        vertices: (468, 3) mm in camera space of the clip (a ``FaceMesh3D``'s vertices).
        camera: from :meth:`FaceRig.cameras` with ``scale=supersample``.
        texture: (S, S, 3) uint8 RGB atlas baked with :func:`render_model`'s triangles (``textured`` style).
        """
        opts = self.options
        v = np.asarray(vertices, np.float64)
        tris = self.triangles
        px, depth = camera.project(v)
        bg = np.array(opts.background, np.float64) / 255.0
        img = np.empty((camera.height, camera.width, 3), np.float32)
        img[:] = bg
        a, b, c = (v[tris[:, k]] for k in range(3))
        fn = np.cross(b - a, c - a)
        fn /= np.maximum(np.linalg.norm(fn, axis=1, keepdims=True), 1e-12)
        to_cam = camera.position - (a + b + c) / 3
        front = (fn * to_cam).sum(1) > 0
        # Triangles in front of the camera, far ones first; the inside of the mask (back faces) before all
        # of the outside, so where both cover a pixel the outside wins whatever their centres' depths say.
        ok = (depth[tris] > 1.0).all(1)
        far_first = np.argsort(-depth[tris].mean(1), kind="stable")
        order = np.concatenate([far_first[ok[far_first] & ~front[far_first]],
                                far_first[ok[far_first] & front[far_first]]])
        cam_rot = np.stack([camera.right, camera.up, -camera.forward])  # world → camera (x right, y up, z back)
        if opts.style == "wireframe":
            return self._wireframe(px, tris, order, front, fn @ cam_rot.T, bg, camera)
        cover = rasterize(px, tris, (camera.height, camera.width), order)
        ys, xs, tri, bary = cover.ys, cover.xs, cover.triangle, cover.bary
        t = tris[tri]
        facing = front[tri]
        cap = tri >= self.n_face
        # Lit per vertex (Gouraud), front and back (the inside of the mask, seen from behind) apart.
        vn = vertex_normals(v, tris[: self.n_face]) @ cam_rot.T
        textured = opts.style == "textured" and texture is not None
        spec_amount = 0.06 if textured else 0.18
        d_front, s_front = _light(vn, np.array([0.0, 0.0, 1.0]), spec_amount)
        d_back, _ = _light(-vn, np.array([0.0, 0.0, 1.0]), 0.0)
        vert_back = _INSIDE * d_back[:, None]  # the inside is plain in every style: no mirrored face
        if textured:
            vert_front = np.repeat((0.45 + 0.55 * np.minimum(d_front, 1.2))[:, None], 3, 1)
        else:
            vert_front = _CLAY * d_front[:, None] + s_front[:, None]
        shade = np.where(facing[:, None], cover.interpolate(vert_front, tris), cover.interpolate(vert_back, tris))
        if textured:
            size = texture.shape[0]
            uv = cover.interpolate(self.uv, tris)
            albedo = _sample(texture, uv[:, 0] * size - 0.5, (1 - uv[:, 1]) * size - 0.5)
            colour = np.where(facing[:, None], albedo * shade, shade)
            colour[cap] = albedo[cap]  # the mouth's own picture, unlit
            colour[~cap] += (s_front[t[~cap]] * bary[~cap]).sum(1, keepdims=True) * facing[~cap, None]
        else:
            colour = shade
            colour[cap] = _MOUTH
        img[ys, xs] = colour
        return self._finish(img)

    def _wireframe(self, px, tris, order, front, normals_cam, bg, camera) -> np.ndarray:
        import cv2

        img = np.empty((camera.height, camera.width, 3), np.uint8)
        img[:] = np.round(bg * 255).astype(np.uint8)
        fixed = np.round((px - 0.5) * 16).astype(np.int32)  # pixel centres at +0.5, as in rasterize
        key = _KEY / np.linalg.norm(_KEY)
        base = np.clip(0.18 + 0.25 * np.abs(normals_cam @ key), 0, 1)
        line_w = max(1, self.options.supersample // 2)
        for k in order:
            pts = fixed[tris[k]]
            if k >= self.n_face:
                fill = tuple(int(255 * x) for x in _MOUTH * 0.7)
                cv2.fillConvexPoly(img, pts, fill, lineType=cv2.LINE_AA, shift=4)
                continue
            shade = base[k] if front[k] else base[k] * 0.5
            cv2.fillConvexPoly(img, pts, tuple(int(255 * shade * x) for x in (0.55, 0.62, 0.75)),
                               lineType=cv2.LINE_AA, shift=4)
            edge = (120, 220, 255) if front[k] else (60, 90, 110)
            cv2.polylines(img, [pts], True, edge, line_w, lineType=cv2.LINE_AA, shift=4)
        return self._finish(img.astype(np.float64) / 255.0)

    def _finish(self, img: np.ndarray) -> np.ndarray:
        import cv2

        out = cv2.convertScaleAbs(img, alpha=255.0)  # scales, rounds and saturates to uint8
        s = self.options.supersample
        if s > 1:
            out = cv2.resize(out, (out.shape[1] // s, out.shape[0] // s), interpolation=cv2.INTER_AREA)
        return out
