"""Pictures of a stereo pair for the viewer: side by side, anaglyph, disparity (no Qt).

Each takes the two eyes as ``(H, W, 3) uint8 RGB`` and returns one ``uint8 RGB`` picture. The disparity view
is the expensive one (SGBM + WLS, ~0.4 s at 720p on two cores); pass a :class:`DisparityCache` so a frame
seen once is instant when scrubbed back to, and a ``downscale`` of 2 for a live preview (~0.1 s at 720p).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .anaglyph import AnaglyphMethod, anaglyph
from .disparity import DisparityCache, DisparitySettings, colorize_disparity
from .layout import StereoLayout, join


def side_by_side_view(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """The two eyes next to each other, left eye on the left: ``(H, 2W, 3)``."""
    return join(left, right, StereoLayout.SBS)


def anaglyph_view(left: np.ndarray, right: np.ndarray,
                  method: "AnaglyphMethod | str" = AnaglyphMethod.DUBOIS) -> np.ndarray:
    """A red-cyan anaglyph of the pair (Dubois by default): ``(H, W, 3)``."""
    return anaglyph(left, right, method)


def disparity_view(left: np.ndarray, right: np.ndarray, *, cache: DisparityCache | None = None,
                   downscale: int = 1, vmin: float | None = None, vmax: float | None = None) -> np.ndarray:
    """The pair's disparity colour-mapped (turbo: near red, far blue, unmatched grey): ``(H, W, 3)``.

    Parameters
    ----------
    cache : DisparityCache, optional
        Where maps are remembered (memory only if None is given: a new cache per call computes each time).
    downscale : int
        Estimate at 1/downscale of the size (faster, coarser) when no cache is given.
    vmin, vmax : float, optional
        Fix the colour scale (px) so frames compare; default: this frame's 2nd-98th percentiles.
    """
    if cache is None:
        cache = DisparityCache(replace(DisparitySettings(), downscale=max(1, downscale)), folder=False,
                               memory_frames=0)
    m = cache.get(left, right)
    return colorize_disparity(m.disparity, m.valid, vmin=vmin, vmax=vmax)


class SphereWindow:
    """A flat window into a VR clip's sphere for the viewer: look around by yaw and pitch, zoom by field of view.

    Parameters
    ----------
    vr : VRMetadata
        The clip's metadata (:func:`~lipsync_studio.media.vrmeta.read_vr_metadata`); its projection must be one
        :func:`.projection.projection_for` maps (equirectangular, VR180 mesh, cubemap).
    eye_width, eye_height : int
        One eye's size (px).

    The window's two pictures are a stereo pair (same orientation in both eyes), so :func:`anaglyph_view` and
    :func:`disparity_view` work on them as on any pair. Sample maps are kept per orientation (a drag recomputes
    them once; scrubbing at a fixed orientation costs two remaps a frame).
    """

    def __init__(self, vr, eye_width: int, eye_height: int) -> None:
        from .projection import projection_for

        self.projections = (projection_for(vr, eye_width, eye_height, 0), projection_for(vr, eye_width, eye_height, 1))
        if self.projections[0] is None:
            raise ValueError(f"no sphere projection to look into ({vr.projection})")
        self.yaw, self.pitch, self.fov = 0.0, 0.0, 90.0
        self._view = None

    def look(self, yaw_deg: float, pitch_deg: float, fov_deg: float | None = None) -> None:
        """Point the window (degrees: yaw right, pitch up, clamped to ±89°; field of view 20-120°)."""
        self.yaw = (float(yaw_deg) + 180.0) % 360.0 - 180.0
        self.pitch = float(np.clip(pitch_deg, -89.0, 89.0))
        if fov_deg is not None:
            self.fov = float(np.clip(fov_deg, 20.0, 120.0))
        self._view = None

    def drag(self, dx_px: float, dy_px: float, size: int) -> None:
        """Turn as a drag of ``(dx, dy)`` window pixels does (the picture follows the pointer)."""
        per_px = self.fov / max(size, 1)
        self.look(self.yaw - dx_px * per_px, self.pitch + dy_px * per_px)

    def views(self, left: np.ndarray, right: np.ndarray, size: int = 480) -> tuple[np.ndarray, np.ndarray]:
        """The window's (left, right) pictures, ``(size, size, 3)``."""
        view = self._perspective(size)
        return view.render(left, self.projections[0]), view.render(right, self.projections[1])

    def view(self, picture: np.ndarray, size: int = 480) -> np.ndarray:
        """The window's picture of a one-eye clip's ``picture``, ``(size, size, 3)``."""
        return self._perspective(size).render(picture, self.projections[0])

    def _perspective(self, size: int):
        import math

        from .projection import PerspectiveView

        if self._view is None or self._view.size != size:
            self._view = PerspectiveView(math.radians(self.yaw), math.radians(self.pitch), math.radians(self.fov),
                                         size)
        return self._view
