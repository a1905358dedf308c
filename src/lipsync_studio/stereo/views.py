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
