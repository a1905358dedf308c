"""Projections of the sphere (360 equirectangular, VR180 mesh or half-equirectangular) and flat perspective
views into them: the geometry for finding and syncing a face where the projection bends it.

Directions are unit vectors in one frame for the whole app: ``x`` right, ``y`` down, ``z`` forward (OpenCV's
camera axes). Longitude (yaw) grows to the right, latitude (pitch) upwards: ``x = cos(lat) sin(lon)``,
``y = -sin(lat)``, ``z = cos(lat) cos(lon)``. Pixels are those of ONE eye (after :func:`.layout.split`).

A :class:`PerspectiveView` is a pinhole camera at the sphere's centre, turned by yaw and pitch: it makes a
flat picture of the region around a face (:meth:`PerspectiveView.render`), where a face looks as in any flat
clip, and puts the pixels an edit changed back into the projection (:meth:`PerspectiveView.paste`), leaving
every other pixel of the eye as it was. The sample maps are computed once per view and eye size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np


def lonlat_to_dir(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """(..., 3) unit directions from longitude/latitude (radians)."""
    cl = np.cos(lat)
    return np.stack([cl * np.sin(lon), -np.sin(lat), cl * np.cos(lon)], -1)


def dir_to_lonlat(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Longitude, latitude (radians) of (..., 3) directions (any length)."""
    d = np.asarray(d, np.float64)
    n = np.linalg.norm(d, axis=-1)
    return np.arctan2(d[..., 0], d[..., 2]), np.arcsin(np.clip(-d[..., 1] / np.maximum(n, 1e-12), -1, 1))


class SphereProjection:
    """How one eye's picture covers the sphere. Subclasses give :meth:`to_pixel` and :meth:`to_direction`."""

    width: int
    height: int
    name = "sphere"
    #: True when the picture's left and right edges meet (a full 360° equirectangular): sampling wraps around.
    wraps = False

    def to_pixel(self, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel ``(x, y)`` (float, pixel centres at integers) of (..., 3) directions; NaN where not covered."""
        raise NotImplementedError

    def to_direction(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """(..., 3) unit directions of pixels ``(x, y)``; NaN where the pixel shows no direction."""
        raise NotImplementedError

    def pixels_per_radian(self, d: np.ndarray) -> float:
        """How many eye pixels one radian spans around direction ``d`` (the larger of the two axes)."""
        lon, lat = dir_to_lonlat(d)
        eps = 1e-3
        x0, y0 = self.to_pixel(lonlat_to_dir(lon, lat))
        x1, _ = self.to_pixel(lonlat_to_dir(lon + eps, lat))
        _, y1 = self.to_pixel(lonlat_to_dir(lon, lat + eps))
        return float(np.nanmax([abs(x1 - x0) / (eps * math.cos(lat)), abs(y1 - y0) / eps]))


@dataclass
class Equirectangular(SphereProjection):
    """An equirectangular picture of the sphere, cropped by ``bounds`` (top, bottom, left, right fractions of
    the full 360x180 panorama not in the picture): 360 video has none, half-equirectangular VR180 has
    ``(0, 0, 0.25, 0.25)``."""

    width: int
    height: int
    bounds: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    name = "equirectangular"

    @property
    def wraps(self) -> bool:  # type: ignore[override]
        return self.bounds[2] == 0 and self.bounds[3] == 0

    def to_pixel(self, d):
        lon, lat = dir_to_lonlat(d)
        t, b, l, r = self.bounds
        u = lon / (2 * np.pi) + 0.5
        v = 0.5 - lat / np.pi
        x = (u - l) / (1 - l - r) * self.width - 0.5
        y = (v - t) / (1 - t - b) * self.height - 0.5
        out = (u < l) | (u > 1 - r) | (v < t) | (v > 1 - b)
        if self.wraps:  # the seam: the last half pixel reads across to the first column
            out = np.zeros_like(out)
        return np.where(out, np.nan, x), np.where(out, np.nan, y)

    def to_direction(self, x, y):
        t, b, l, r = self.bounds
        u = l + (np.asarray(x, np.float64) + 0.5) / self.width * (1 - l - r)
        v = t + (np.asarray(y, np.float64) + 0.5) / self.height * (1 - t - b)
        return lonlat_to_dir((u - 0.5) * 2 * np.pi, (0.5 - v) * np.pi)


@dataclass
class MeshSphere(SphereProjection):
    """A mesh projection (Spherical Video V2 ``mshp``): vertices carry a direction and a texture coordinate;
    between vertices both are interpolated linearly (over a Delaunay triangulation of the vertices, which for
    the dense regular meshes cameras write is the mesh's own up to its seams).

    ``xyz`` (N, 3) OpenGL axes (-Z forward, +Y up), ``uv`` (N, 2) with the origin at the lower left, in this eye's
    picture (0..1).
    """

    width: int
    height: int
    xyz: np.ndarray
    uv: np.ndarray
    name = "mesh"
    _fwd: object = field(default=None, repr=False)
    _inv: object = field(default=None, repr=False)

    def __post_init__(self) -> None:
        from scipy.interpolate import LinearNDInterpolator

        d = np.asarray(self.xyz, np.float64) * np.array([1.0, -1.0, -1.0])  # to x right, y down, z forward
        d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12)
        lon, lat = _azimuthal(d)
        px = np.stack([np.asarray(self.uv[:, 0], np.float64) * self.width - 0.5,
                       (1.0 - np.asarray(self.uv[:, 1], np.float64)) * self.height - 0.5], -1)
        fwd = LinearNDInterpolator(np.stack([lon, lat], -1), px)
        self._inv = LinearNDInterpolator(px, d)
        # Direction -> pixel as a table (LUT_STEP apart, bilinear between) over an azimuthal parametrisation
        # around forward (regular everywhere but straight behind, unlike longitude/latitude at the poles): a
        # view's maps then cost one lookup per pixel, so the viewer's window turns smoothly over a mesh too.
        step = math.radians(self.LUT_STEP)
        self._lut_origin = (float(lon.min()), float(lat.min()))
        nx = int(math.ceil((lon.max() - lon.min()) / step)) + 2
        ny = int(math.ceil((lat.max() - lat.min()) / step)) + 2
        gy, gx = np.mgrid[0:ny, 0:nx].astype(np.float64)
        self._lut = fwd(self._lut_origin[0] + gx * step, self._lut_origin[1] + gy * step).astype(np.float32)

    #: Spacing (degrees) of the direction -> pixel table.
    LUT_STEP = 0.25

    def to_pixel(self, d):
        lon, lat = _azimuthal(d)
        shape = np.shape(lon)
        step = math.radians(self.LUT_STEP)
        gx = ((np.ravel(lon) - self._lut_origin[0]) / step).astype(np.float32)
        gy = ((np.ravel(lat) - self._lut_origin[1]) / step).astype(np.float32)
        n = gx.size
        cols = 1024
        rows = max(1, -(-n // cols))
        pad = rows * cols - n
        mx = np.pad(gx, (0, pad), constant_values=-1).reshape(rows, cols)
        my = np.pad(gy, (0, pad), constant_values=-1).reshape(rows, cols)
        out = cv2.remap(self._lut, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=np.nan)
        out = out.reshape(-1, 2)[:n]
        return out[:, 0].reshape(shape).astype(np.float64), out[:, 1].reshape(shape).astype(np.float64)

    def to_direction(self, x, y):
        d = self._inv(np.asarray(x, np.float64), np.asarray(y, np.float64))
        return d / np.linalg.norm(d, axis=-1, keepdims=True)


#: Cube faces of the Spherical Video V2 cubemap layout 0 (3 x 2 cells: right, left, up / down, front, back):
#: (column, row, image-right axis, image-down axis, outward axis) in world axes. The side faces stand upright;
#: the up face has its top towards the front, the down face its top towards the back (the RFC's words).
_CUBE_FACES = (
    (0, 0, (0, 0, -1), (0, 1, 0), (1, 0, 0)),    # right
    (1, 0, (0, 0, 1), (0, 1, 0), (-1, 0, 0)),    # left
    (2, 0, (-1, 0, 0), (0, 0, -1), (0, -1, 0)),  # up
    (0, 1, (-1, 0, 0), (0, 0, 1), (0, 1, 0)),    # down
    (1, 1, (1, 0, 0), (0, 1, 0), (0, 0, 1)),     # front
    (2, 1, (-1, 0, 0), (0, 1, 0), (0, 0, -1)),   # back
)


@dataclass
class Cubemap(SphereProjection):
    """A cubemap (``cbmp`` layout 0): six 90° faces in a 3 x 2 grid, each inset by ``padding`` px."""

    width: int
    height: int
    padding: int = 0
    name = "cubemap"

    def _cell(self) -> tuple[float, float]:
        return self.width / 3.0, self.height / 2.0

    def to_pixel(self, d):
        d = np.asarray(d, np.float64)
        axes = np.array([f[4] for f in _CUBE_FACES], np.float64)  # (6, 3)
        k = np.argmax(d @ axes.T, axis=-1)
        cw, ch = self._cell()
        x = np.full(d.shape[:-1], np.nan)
        y = np.full(d.shape[:-1], np.nan)
        for i, (col, row, right, down, out) in enumerate(_CUBE_FACES):
            sel = k == i
            if not sel.any():
                continue
            ds = d[sel]
            z = ds @ np.array(out, np.float64)
            u, v = ds @ np.array(right, np.float64) / z, ds @ np.array(down, np.float64) / z
            x[sel] = col * cw + self.padding + (u + 1) / 2 * (cw - 2 * self.padding) - 0.5
            y[sel] = row * ch + self.padding + (v + 1) / 2 * (ch - 2 * self.padding) - 0.5
        return x, y

    def to_direction(self, x, y):
        x, y = np.broadcast_arrays(np.asarray(x, np.float64), np.asarray(y, np.float64))
        cw, ch = self._cell()
        col = np.clip(np.floor((x + 0.5) / cw), 0, 2).astype(int)
        row = np.clip(np.floor((y + 0.5) / ch), 0, 1).astype(int)
        out = np.full(x.shape + (3,), np.nan)
        for c, r, right, down, axis in _CUBE_FACES:
            sel = (col == c) & (row == r)
            u = (x[sel] + 0.5 - c * cw - self.padding) / (cw - 2 * self.padding) * 2 - 1
            v = (y[sel] + 0.5 - r * ch - self.padding) / (ch - 2 * self.padding) * 2 - 1
            out[sel] = u[:, None] * np.array(right) + v[:, None] * np.array(down) + np.array(axis)
        return out / np.linalg.norm(out, axis=-1, keepdims=True)


def _azimuthal(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) radians: the angle from forward along the direction's bearing (azimuthal equidistant around +z)."""
    d = np.asarray(d, np.float64)
    n = np.maximum(np.linalg.norm(d, axis=-1), 1e-12)
    theta = np.arccos(np.clip(d[..., 2] / n, -1, 1))
    phi = np.arctan2(d[..., 1], d[..., 0])
    return theta * np.cos(phi), theta * np.sin(phi)


def projection_for(meta, eye_width: int, eye_height: int, eye: int = 0) -> SphereProjection | None:
    """The projection of one eye described by a file's :class:`~lipsync_studio.media.vrmeta.VRMetadata`.

    Returns None for a flat (rectilinear) picture or a projection this app cannot map (a cubemap layout other
    than 0).
    """
    if meta is None:
        return None
    if meta.projection == "equirectangular":
        return Equirectangular(eye_width, eye_height, meta.equi_bounds or (0.0, 0.0, 0.0, 0.0))
    if meta.projection == "cubemap" and (meta.cubemap or (0, 0))[0] == 0:
        return Cubemap(eye_width, eye_height, int((meta.cubemap or (0, 0))[1]))
    if meta.projection == "half-equirectangular":
        return Equirectangular(eye_width, eye_height, (0.0, 0.0, 0.25, 0.25))
    if meta.projection == "mesh" and meta.meshes:
        mesh = meta.meshes[min(eye, len(meta.meshes) - 1)]
        uv = np.asarray(mesh.uv, np.float64).copy()
        if meta.stereo == "custom" and len(meta.meshes) == 2:  # the texture coordinates address the whole frame
            layout = meta.layout or "sbs"
            first = (eye == 0) != layout.endswith("-rl")
            if layout.startswith("sbs"):
                uv[:, 0] = uv[:, 0] * 2 - (0 if first else 1)
            else:  # the first (top) half has v in [0.5, 1]
                uv[:, 1] = uv[:, 1] * 2 - (1 if first else 0)
        return MeshSphere(eye_width, eye_height, mesh.xyz, uv)
    return None


def rotation(yaw: float, pitch: float) -> np.ndarray:
    """(3, 3) camera-to-world rotation of a camera turned ``yaw`` right then ``pitch`` up (radians)."""
    cy, sy, cp, sp = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch)
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])  # pitch up: forward tilts towards -y (up)
    return ry @ rx


@dataclass
class PerspectiveView:
    """A flat pinhole view from the sphere's centre.

    Attributes
    ----------
    yaw, pitch: where it looks (radians; yaw right, pitch up).
    fov: horizontal and vertical field of view (radians; the view is square).
    size: its width and height (px).
    """

    yaw: float
    pitch: float
    fov: float
    size: int
    zoom: float = 1.0
    shift: tuple[float, float] = (0.0, 0.0)
    _maps: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def focal(self) -> float:
        """Focal length (px): ``fov`` across ``size``, times ``zoom``."""
        return self.zoom * 0.5 * self.size / math.tan(0.5 * self.fov)

    @property
    def principal(self) -> tuple[float, float]:
        """The principal point (px): the view's centre moved by ``shift``."""
        c = 0.5 * (self.size - 1)
        return c + self.shift[0], c + self.shift[1]

    @property
    def centre(self) -> np.ndarray:
        """(3,) the direction it looks in."""
        return rotation(self.yaw, self.pitch)[:, 2]

    def rays(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """(..., 3) unit world directions of view pixels ``(x, y)``."""
        f, (cx, cy) = self.focal, self.principal
        v = np.stack([(np.asarray(x, np.float64) - cx) / f, (np.asarray(y, np.float64) - cy) / f,
                      np.ones(np.broadcast(x, y).shape)], -1)
        v /= np.linalg.norm(v, axis=-1, keepdims=True)
        return v @ rotation(self.yaw, self.pitch).T

    def project(self, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """View pixels ``(x, y)`` of (..., 3) world directions; NaN behind the camera."""
        cam = np.asarray(d, np.float64) @ rotation(self.yaw, self.pitch)
        z = cam[..., 2]
        f, (cx, cy) = self.focal, self.principal
        with np.errstate(divide="ignore", invalid="ignore"):
            x = np.where(z > 1e-6, cam[..., 0] / z * f + cx, np.nan)
            y = np.where(z > 1e-6, cam[..., 1] / z * f + cy, np.nan)
        return x, y

    def _sample_maps(self, proj: SphereProjection) -> tuple[np.ndarray, np.ndarray]:
        """cv2.remap maps: view pixel -> eye pixel."""
        key = ("render", id(proj))
        if key not in self._maps:
            ys, xs = np.mgrid[0:self.size, 0:self.size].astype(np.float64)
            mx, my = proj.to_pixel(self.rays(xs, ys))
            self._maps[key] = (np.nan_to_num(mx, nan=-1e4).astype(np.float32),
                               np.nan_to_num(my, nan=-1e4).astype(np.float32))
        return self._maps[key]

    def footprint(self, proj: SphereProjection, margin: int = 2) -> tuple[int, int, int, int] | None:
        """``x0, y0, x1, y1``: the box of eye pixels this view sees (None when it sees none)."""
        key = ("box", id(proj))
        if key not in self._maps:
            mx, my = self._sample_maps(proj)
            ok = mx > -1e3
            if not ok.any():
                self._maps[key] = None
            else:
                x0 = max(0, int(math.floor(mx[ok].min())) - margin)
                y0 = max(0, int(math.floor(my[ok].min())) - margin)
                x1 = min(proj.width, int(math.ceil(mx[ok].max())) + margin + 1)
                y1 = min(proj.height, int(math.ceil(my[ok].max())) + margin + 1)
                if proj.wraps and x1 - x0 > 0.5 * proj.width:  # across the 360° seam: both ends, so all columns
                    x0, x1 = 0, proj.width
                self._maps[key] = (x0, y0, x1, y1)
        return self._maps[key]

    def _paste_maps(self, proj: SphereProjection) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
        """cv2.remap maps over the footprint: eye pixel -> view pixel."""
        key = ("paste", id(proj))
        if key not in self._maps:
            box = self.footprint(proj)
            x0, y0, x1, y1 = box
            ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
            vx, vy = self.project(proj.to_direction(xs, ys))
            self._maps[key] = (np.nan_to_num(vx, nan=-1e4).astype(np.float32),
                               np.nan_to_num(vy, nan=-1e4).astype(np.float32), box)
        return self._maps[key]

    def render(self, eye: np.ndarray, proj: SphereProjection) -> np.ndarray:
        """The view of one eye's picture: ``(size, size, C)``, black where the eye shows nothing.

        Only the eye's pixels in :meth:`footprint` are read (and, where it reaches an edge of a picture whose edges
        meet, the columns past that edge, from the other one): the whole of a 4K eye was copied every frame to pad
        its edges (24 ms a frame of a 3840 x 1920 panorama)."""
        crop = self._crop_maps(proj)
        if crop is None:
            return np.zeros((self.size, self.size) + eye.shape[2:], eye.dtype)
        mx, my, (x0, y0, x1, y1), pad = crop
        if pad:  # across or beside the seam: columns past either edge continue from the other one
            eye = cv2.copyMakeBorder(np.ascontiguousarray(eye[y0:y1]), 0, 0, pad, pad, cv2.BORDER_WRAP)
        else:
            eye = eye[y0:y1, x0:x1]
        return cv2.remap(eye, mx, my, cv2.INTER_CUBIC, borderMode=cv2.BORDER_CONSTANT)  # rows past the poles: black

    def reads(self, proj: SphereProjection) -> tuple[int, int, int, int] | None:
        """``x0, y0, x1, y1``: the eye's pixels :meth:`render` reads (the footprint, or the footprint's rows where it
        reaches a seam); None when the view sees nothing. A caller may convert only those to RGB."""
        crop = self._crop_maps(proj)
        return None if crop is None else crop[2]

    def _crop_maps(self, proj: SphereProjection):
        """``(mx, my, box, pad)``: :meth:`_sample_maps` moved by whole pixels onto the crop :meth:`render` reads
        (``box``, the footprint; with ``pad`` columns wrapped on at both sides where it reaches a seam), so that
        every sample reads the same pixels with the same weights as it did from the whole eye (a picture whose
        edges meet was sampled padded, at ``x + 4`` in float: so here too); None when the view sees nothing."""
        key = ("crop", id(proj))
        if key not in self._maps:
            box = self.footprint(proj)
            if box is None:
                self._maps[key] = None
            else:
                x0, y0, x1, y1 = box
                mx, my = self._sample_maps(proj)
                ok = mx > -1e3
                if proj.wraps:
                    mx = np.where(ok, mx + np.float32(4), mx)
                pad = 4 if proj.wraps and (x0 < 4 or x1 > proj.width - 4) else 0
                if pad:  # the rows of the footprint, wrapped on at both sides
                    box, shift = (0, y0, proj.width, y1), 0
                else:
                    shift = x0 + (4 if proj.wraps else 0)
                self._maps[key] = (np.where(ok, mx - np.float32(shift), mx).astype(np.float32),
                                   np.where(ok, my - np.float32(y0), my).astype(np.float32), box, pad)
        return self._maps[key]

    def paste(self, eye: np.ndarray, proj: SphereProjection, view_new: np.ndarray, changed: np.ndarray,
              feather: float = 2.0) -> np.ndarray:
        """``eye`` with the view's changed pixels mapped back into the projection.

        Parameters
        ----------
        eye : (H, W, 3) uint8
            The eye's original picture.
        view_new : (size, size, 3) uint8
            The view after the edit.
        changed : (size, size) bool
            The pixels the edit changed (the edit's own soft edge lies inside them).
        feather : float
            Softening (view px) of the mask's edge, so resampling leaves no seam.

        Returns
        -------
        np.ndarray
            A new eye picture; outside the changed pixels' footprint it equals ``eye`` exactly.
        """
        return self.paste_box(eye, proj, view_new, changed, feather)[0]

    def paste_box(self, eye: np.ndarray, proj: SphereProjection, view_new: np.ndarray, changed: np.ndarray,
                  feather: float = 2.0, whole: bool = True) -> tuple[np.ndarray, tuple[int, int, int, int] | None]:
        """:meth:`paste`, and the box ``x0, y0, x1, y1`` of the eye's pixels it may have changed (None: none; the
        eye is returned as it is). Only that box is resampled and blended: the whole of the view's footprint was
        (58 ms a frame of a 3840 x 1920 panorama, for a mouth a tenth of the view). ``whole`` False: the picture
        returned holds the box alone (the rest is undefined), for a caller that takes no more of it (a writer
        given the decoded frame and the box), and the eye is not copied."""
        if not changed.any():
            return eye, None
        vx, vy, (x0, y0, x1, y1) = self._paste_maps(proj)
        mask = changed.astype(np.float32)
        if feather > 0:
            # Grow by the feather first, so the edit's pixels keep full weight and only the added rim blends.
            k = int(math.ceil(feather))
            mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1)))
            mask = cv2.GaussianBlur(mask, (0, 0), feather / 2)
            mask = np.maximum(mask, changed)
        # The eye's pixels that sample the mask where it is not zero: those whose view position lies within two
        # pixels of its support (a bilinear sample reads the pixel below and the next one).
        cols, rows = np.flatnonzero(mask.any(0)), np.flatnonzero(mask.any(1))
        near = ((vx >= cols[0] - 2) & (vx <= cols[-1] + 2) & (vy >= rows[0] - 2) & (vy <= rows[-1] + 2))
        ex, ey = np.flatnonzero(near.any(0)), np.flatnonzero(near.any(1))
        if not len(ex):
            return eye, None
        sx0, sx1, sy0, sy1 = int(ex[0]), int(ex[-1]) + 1, int(ey[0]), int(ey[-1]) + 1
        vx, vy = (np.ascontiguousarray(m[sy0:sy1, sx0:sx1]) for m in (vx, vy))
        x0, y0, x1, y1 = x0 + sx0, y0 + sy0, x0 + sx1, y0 + sy1
        alpha = cv2.remap(mask, vx, vy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        alpha[alpha < 1.0 / 512] = 0.0
        if not alpha.any():
            return eye, None
        patch = cv2.remap(view_new, vx, vy, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
        if whole:
            out = eye.copy()
        else:  # the box, widened to even edges as a 4:2:0 writer takes it (2 x 2 pixels a colour sample), holds the eye
            out = np.empty_like(eye)
            h, w = eye.shape[:2]
            ex0, ey0, ex1, ey1 = x0 - x0 % 2, y0 - y0 % 2, min(w, x1 + x1 % 2), min(h, y1 + y1 % 2)
            out[ey0:ey1, ex0:ex1] = eye[ey0:ey1, ex0:ex1]
        region = eye[y0:y1, x0:x1]
        blended = region.astype(np.float32) * (1 - alpha[..., None]) + patch.astype(np.float32) * alpha[..., None]
        keep = alpha == 0
        blended = np.clip(np.round(blended), 0, 255).astype(np.uint8)
        blended[keep] = region[keep]
        out[y0:y1, x0:x1] = blended
        return out, (x0, y0, x1, y1)


def view_around(proj: SphereProjection, direction: np.ndarray, face_angle: float, size: int | None = None,
                face_share: float = 0.4, max_size: int = 640) -> PerspectiveView:
    """A view centred on ``direction`` in which a face spanning ``face_angle`` radians fills ``face_share`` of
    the width; ``size`` defaults to keeping the eye's own pixel density there (no needless up/downsampling)."""
    lon, lat = dir_to_lonlat(direction)
    fov = float(np.clip(face_angle / face_share, math.radians(20), math.radians(120)))
    if size is None:
        ppr = proj.pixels_per_radian(direction)
        size = int(np.clip(round(2 * ppr * math.tan(fov / 2)), 96, max_size))
    return PerspectiveView(float(lon), float(lat), fov, int(size) + int(size) % 2)
