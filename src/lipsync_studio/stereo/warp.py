"""The warp f_w of the paper (Pilzer et al. 2018): make one eye's view from the other through a disparity.

``f_w(d, I)(x) = I(x + d(x))``: horizontal-only bilinear backward sampling (rows are rectified), edges
clamped (the "border" wrap mode of the original sampler). With the app's convention (left ``x`` is at
``x - d_L(x)`` in the right view; right ``x`` is at ``x + d_R(x)`` in the left view):

- the right eye from the left one: ``Î_r = f_w(d_R, I_l)`` (:func:`warp_left_to_right`);
- the left eye from the right one: ``Î_l = f_w(-d_L, I_r)`` (:func:`warp_right_to_left`).

Backward sampling needs the disparity on the *output's* grid; :func:`disparity_left_to_right` moves a left
disparity map to the right grid with :func:`forward_warp` (forward splat with a z-buffer), which also makes a
right view from a left one where only the left view's disparity is known. A pixel seen by one eye only has no true
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


#: A forward-mapped interval stretched beyond this many pixels is a disocclusion, not surface.
MAX_STRETCH = 2.0


def forward_warp(left: np.ndarray, disparity: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Forward-warp the left view into the right view through a left-view disparity (z-buffered).

    Each row is a piecewise-linear surface: the interval between left pixels ``x`` and ``x + 1`` lands on
    ``[x - d(x), x + 1 - d(x + 1)]`` in the right view and is resampled there (sub-pixel exact; an integer
    disparity shifts pixels exactly). Where several surfaces land on one right pixel the nearest (largest
    disparity) wins. Intervals stretched wider than :data:`MAX_STRETCH` are disocclusions; those holes, and
    columns no left pixel reaches, are filled from the background side (the neighbour with the smaller
    disparity). The one forward warp of the project: the sample stereo pairs, stereoize and the carried
    right eye of a stereo sync all use it.

    Parameters
    ----------
    left : np.ndarray
        (H, W, C) uint8 or float left view.
    disparity : np.ndarray
        (H, W) left-to-right disparity in pixels (positive = nearer).

    Returns
    -------
    right : np.ndarray
        (H, W, C) right view, the input's dtype (uint8 rounded).
    seen : np.ndarray
        (H, W) bool, True where the right view saw real surface (False for filled holes).
    disparity_right : np.ndarray
        (H, W) float32 right-view disparity, positive (right ``x`` is at ``x + d_R`` in the left view); 0 in
        rows no surface reaches at all.
    """
    if left.ndim != 3 or disparity.shape != left.shape[:2]:
        raise ValueError(f"left {left.shape} and disparity {disparity.shape} do not match: "
                         "expected (H, W, C) and (H, W)")
    h, w, ch = left.shape
    d = np.asarray(disparity, np.float64)
    x = np.arange(w, dtype=np.float64)
    t0 = (x[:-1] - d[:, :-1]).ravel()  # right-view position of each interval's start
    t1 = (x[1:] - d[:, 1:]).ravel()
    rows = np.repeat(np.arange(h), w - 1)
    cols = np.tile(np.arange(w - 1), h)
    stretch = t1 - t0
    ok = (stretch > 0) & (stretch <= MAX_STRETCH)
    values = left.reshape(h, w, ch).astype(np.float64)
    cand_pix, cand_depth, cand_color = [], [], []
    for k in range(int(np.ceil(MAX_STRETCH)) + 1):
        xr = np.ceil(t0 - 1e-9) + k
        take = ok & (xr <= t1 + 1e-9) & (xr >= 0) & (xr <= w - 1)
        alpha = (xr[take] - t0[take]) / stretch[take]
        r, c = rows[take], cols[take]
        cand_pix.append(r * w + xr[take].astype(np.int64))
        cand_depth.append((1 - alpha) * d[r, c] + alpha * d[r, c + 1])
        cand_color.append((1 - alpha)[:, None] * values[r, c] + alpha[:, None] * values[r, c + 1])
    pix = np.concatenate(cand_pix)
    depth = np.concatenate(cand_depth)
    color = np.concatenate(cand_color)
    # z-buffer: for each right pixel keep the candidate with the largest disparity.
    order = np.lexsort((depth, pix))
    pix, depth, color = pix[order], depth[order], color[order]
    last = np.r_[pix[1:] != pix[:-1], True]
    right = np.zeros((h * w, ch))
    right_disp = np.full(h * w, np.nan)
    right[pix[last]] = color[last]
    right_disp[pix[last]] = depth[last]
    right, right_disp = right.reshape(h, w, ch), right_disp.reshape(h, w)
    seen = ~np.isnan(right_disp)
    _fill_from_background(right, right_disp, seen)
    right_disp = np.where(np.isnan(right_disp), 0.0, right_disp).astype(np.float32)
    if left.dtype == np.uint8:
        return np.clip(right + 0.5, 0, 255).astype(np.uint8), seen, right_disp
    return right.astype(np.float32), seen, right_disp


def _fill_from_background(image: np.ndarray, disp: np.ndarray, valid: np.ndarray) -> None:
    """Fill invalid pixels in place, row by row, from the nearer-to-background valid neighbour."""
    h, w = valid.shape
    idx = np.broadcast_to(np.arange(w), (h, w))
    left_src = np.maximum.accumulate(np.where(valid, idx, -1), axis=1)
    right_src = np.minimum.accumulate(np.where(valid, idx, w)[:, ::-1], axis=1)[:, ::-1]
    rr = np.broadcast_to(np.arange(h)[:, None], (h, w))
    has_left, has_right = left_src >= 0, right_src < w
    d_left = np.where(has_left, disp[rr, np.clip(left_src, 0, w - 1)], np.inf)
    d_right = np.where(has_right, disp[rr, np.clip(right_src, 0, w - 1)], np.inf)
    use_left = d_left <= d_right
    src = np.where(use_left, left_src, right_src)
    fill = ~valid & (has_left | has_right)
    image[fill] = image[rr[fill], src[fill]]
    disp[fill] = disp[rr[fill], src[fill]]


def disparity_left_to_right(disp_left: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Move a left-view disparity map onto the right view's grid (:func:`forward_warp` of the map itself).

    Where surfaces overlap the nearest (largest disparity) wins; right pixels no surface reaches
    (disocclusions, stretched more than :data:`MAX_STRETCH`) take the background's disparity: the smaller of
    their nearest covered neighbours.

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
    d = np.asarray(disp_left, np.float32)
    _, seen, disp_right = forward_warp(d[..., None], d)
    return disp_right, seen
