"""The warp f_w of the paper (Pilzer et al. 2018): make one eye's view from the other through a disparity.

``f_w(d, I)(x) = I(x + d(x))``: horizontal-only bilinear backward sampling (rows are rectified), edges
clamped (the "border" wrap mode of the original sampler). With the app's convention (left ``x`` is at
``x - d_L(x)`` in the right view; right ``x`` is at ``x + d_R(x)`` in the left view):

- the right eye from the left one: ``Î_r = f_w(d_R, I_l)`` (:func:`warp_left_to_right`);
- the left eye from the right one: ``Î_l = f_w(-d_L, I_r)`` (:func:`warp_right_to_left`).

Backward sampling needs the disparity on the *output's* grid; :func:`disparity_left_to_right` moves a left
disparity map to the right grid (forward splat with a z-buffer). A pixel seen by one eye only has no true
source in the other: :func:`occlusion_mask` finds those from the disparity alone, :func:`left_right_check`
from a pair of maps.
"""

from __future__ import annotations

import cv2
import numpy as np


def f_w(d: np.ndarray, image: np.ndarray) -> np.ndarray:
    """Sample ``image`` at ``x + d(x)`` along each row (bilinear, edges clamped).

    Parameters
    ----------
    d : np.ndarray
        (H, W) horizontal offsets in pixels, on the output's grid.
    image : np.ndarray
        (H, W) or (H, W, C), uint8 or float.

    Returns
    -------
    np.ndarray
        The warped image, same shape; uint8 stays uint8 (rounded), anything else comes back float32.
    """
    h, w = d.shape
    if image.shape[:2] != (h, w):
        raise ValueError(f"disparity {d.shape} and image {image.shape} differ in size")
    map_x = np.arange(w, dtype=np.float32)[None, :] + np.asarray(d, np.float32)
    map_y = np.broadcast_to(np.arange(h, dtype=np.float32)[:, None], (h, w))
    src = image if image.dtype == np.uint8 else np.asarray(image, np.float32)
    # cv2.remap takes at most 4 channels per call.
    if src.ndim == 3 and src.shape[2] > 4:
        return np.stack([f_w(d, src[..., c]) for c in range(src.shape[2])], axis=-1)
    return cv2.remap(src, map_x, np.ascontiguousarray(map_y), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def warp_right_to_left(right: np.ndarray, disp_left: np.ndarray) -> np.ndarray:
    """The left eye as the right eye sees it: ``Î_l(x) = I_r(x - d_L(x))`` (``f_w(-d_L, I_r)``)."""
    return f_w(-np.asarray(disp_left, np.float32), right)


def warp_left_to_right(left: np.ndarray, disp_right: np.ndarray) -> np.ndarray:
    """The right eye made from the left eye: ``Î_r(x) = I_l(x + d_R(x))`` (``f_w(d_R, I_l)``)."""
    return f_w(np.asarray(disp_right, np.float32), left)


def occlusion_mask(disp_left: np.ndarray, margin: float = 0.5) -> np.ndarray:
    """Left pixels the right eye cannot see: hidden behind something nearer, or outside its frame.

    A left pixel ``x`` lands at ``x - d(x)`` in the right view; it is hidden when a pixel to its right lands
    at or before that position (that pixel is nearer: it moved further left).

    Parameters
    ----------
    disp_left : np.ndarray
        (H, W) left-view disparity (px).
    margin : float
        How far (px) the nearer surface must overlap before a pixel counts as hidden.

    Returns
    -------
    np.ndarray
        (H, W) bool, True where occluded.
    """
    d = np.asarray(disp_left, np.float64)
    h, w = d.shape
    pos = np.arange(w)[None, :] - d
    # Smallest landing position among the pixels to the right of each pixel.
    after = np.minimum.accumulate(pos[:, ::-1], axis=1)[:, ::-1]
    after = np.concatenate([after[:, 1:], np.full((h, 1), np.inf)], axis=1)
    return (after < pos - margin) | (pos < -0.5) | (pos > w - 0.5)


def left_right_check(disp_left: np.ndarray, disp_right: np.ndarray, threshold: float = 1.0) -> np.ndarray:
    """Left pixels whose match in the right view agrees: ``|d_L(x) - d_R(x - d_L(x))| <= threshold``.

    Parameters
    ----------
    disp_left : np.ndarray
        (H, W) left-view disparity.
    disp_right : np.ndarray
        (H, W) right-view disparity, positive like the left one (NaN where unknown).

    Returns
    -------
    np.ndarray
        (H, W) bool, True where consistent (the nearest right pixel is used: no blending across edges).
    """
    d = np.asarray(disp_left, np.float32)
    h, w = d.shape
    xr = np.rint(np.arange(w, dtype=np.float32)[None, :] - d).astype(np.int64)
    inside = (xr >= 0) & (xr < w)
    other = np.asarray(disp_right, np.float32)[np.arange(h)[:, None], np.clip(xr, 0, w - 1)]
    with np.errstate(invalid="ignore"):
        return inside & (np.abs(other - d) <= threshold)


#: A forward-mapped interval stretched beyond this is a disocclusion (the same rule as the sample pairs).
MAX_STRETCH = 2.0


def disparity_left_to_right(disp_left: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Move a left-view disparity map onto the right view's grid.

    Each row is a piecewise-linear surface: the interval between left pixels ``x`` and ``x + 1`` lands on
    ``[x - d(x), x + 1 - d(x + 1)]`` and is resampled there; where surfaces overlap the nearest (largest
    disparity) wins. Right pixels no surface reaches (disocclusions, stretched more than `MAX_STRETCH`)
    take the background's disparity: the smaller of their nearest covered neighbours.

    Parameters
    ----------
    disp_left : np.ndarray
        (H, W) left-view disparity (px).

    Returns
    -------
    disp_right : np.ndarray
        (H, W) float32 right-view disparity, positive (right ``x`` is at ``x + d_R`` in the left view).
    seen : np.ndarray
        (H, W) bool, True where a left surface covered the pixel (False where filled).
    """
    d = np.asarray(disp_left, np.float64)
    h, w = d.shape
    x = np.arange(w, dtype=np.float64)
    t0 = (x[:-1] - d[:, :-1]).ravel()
    t1 = (x[1:] - d[:, 1:]).ravel()
    d0, d1 = d[:, :-1].ravel(), d[:, 1:].ravel()
    rows = np.repeat(np.arange(h), w - 1)
    stretch = t1 - t0
    ok = (stretch > 0) & (stretch <= MAX_STRETCH)
    out = np.full(h * w, -np.inf)
    for k in range(int(np.ceil(MAX_STRETCH)) + 1):
        xr = np.ceil(t0 - 1e-9) + k
        take = ok & (xr <= t1 + 1e-9) & (xr >= 0) & (xr <= w - 1)
        alpha = (xr[take] - t0[take]) / stretch[take]
        np.maximum.at(out, rows[take] * w + xr[take].astype(np.int64), (1 - alpha) * d0[take] + alpha * d1[take])
    out = out.reshape(h, w)
    seen = np.isfinite(out)
    # Fill from the background side: the smaller disparity of the nearest covered pixels left and right.
    idx = np.broadcast_to(np.arange(w), (h, w))
    left_src = np.maximum.accumulate(np.where(seen, idx, -1), axis=1)
    right_src = np.minimum.accumulate(np.where(seen, idx, w)[:, ::-1], axis=1)[:, ::-1]
    rr = np.arange(h)[:, None]
    from_left = np.where(left_src >= 0, out[rr, np.clip(left_src, 0, w - 1)], np.inf)
    from_right = np.where(right_src < w, out[rr, np.clip(right_src, 0, w - 1)], np.inf)
    fill = np.minimum(from_left, from_right)
    out = np.where(seen, out, np.where(np.isfinite(fill), fill, 0.0))
    return out.astype(np.float32), seen
