"""Stereo pairs with known disparity, for testing the stereo pipeline against ground truth.

Convention (the same as the app's warp f_w): a point at column x of the left view appears at
column ``x - d`` of the right view, so positive disparity means nearer to the cameras; rows are
rectified (a point keeps its row).
"""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np

from lipsync_studio.samples.face_clip import CROP, face_box, render_face
from lipsync_studio.samples.head_motion import head_poses

#: A forward-mapped pixel interval stretched beyond this many pixels is a disocclusion, not surface.
MAX_STRETCH = 2.0


def synthesize_right_view(left: np.ndarray, disparity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward-warp the left view into the right view using a known disparity.

    Each row is treated as a piecewise-linear surface: the interval between two neighbouring left
    pixels maps to ``[x - d(x), x + 1 - d(x + 1)]`` in the right view and is resampled there
    (sub-pixel exact; an integer disparity shifts pixels exactly). Where several surfaces land on
    one right pixel a z-buffer keeps the nearest (largest disparity). Intervals stretched wider
    than `MAX_STRETCH` pixels are disocclusions; those holes are filled from the background side
    (the neighbour with the smaller disparity), as are columns no left pixel reaches.

    Parameters
    ----------
    left : np.ndarray
        (H, W, 3) uint8 left view.
    disparity : np.ndarray
        (H, W) float32 left-to-right disparity in pixels (positive = nearer).

    Returns
    -------
    right : np.ndarray
        (H, W, 3) uint8 right view.
    valid_mask : np.ndarray
        (H, W) bool, True where the right view saw real surface (False for filled holes).
    """
    if left.ndim != 3 or disparity.shape != left.shape[:2]:
        raise ValueError(f"left {left.shape} and disparity {disparity.shape} do not match: "
                         "expected (H, W, C) and (H, W)")
    h, w, ch = left.shape
    d = disparity.astype(np.float64)
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
    valid = ~np.isnan(right_disp)
    right, right_disp = right.reshape(h, w, ch), right_disp.reshape(h, w)
    valid = valid.reshape(h, w)
    _fill_from_background(right, right_disp, valid)
    return np.clip(right + 0.5, 0, 255).astype(np.uint8), valid


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


def face_disparity(h: int, w: int, face_box: tuple[float, float, float, float], *,
                   background: float = 4.0, face_near: float = 12.0) -> np.ndarray:
    """A plausible disparity map of a head in front of a wall.

    A background plane (slightly nearer at the bottom, like a floor-standing subject) plus a
    rounded bulge over the head: an ellipsoid cap reaching `face_near` at its centre, with a nose
    bump, smoothed so it has no jumps; it falls to the background over the head's outline.

    Parameters
    ----------
    h, w : int
        Size of the map (px).
    face_box : tuple of float
        (x0, y0, x1, y1) of the head in pixels.
    background : float
        Disparity of the background plane at mid-height (px).
    face_near : float
        Disparity at the nearest point of the face (px).

    Returns
    -------
    np.ndarray
        (h, w) float32 disparity in pixels.
    """
    x0, y0, x1, y1 = face_box
    cx, cy, rx, ry = 0.5 * (x0 + x1), 0.5 * (y0 + y1), 0.5 * (x1 - x0), 0.5 * (y1 - y0)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    plane = background * (1.0 + 0.15 * (yy / max(h - 1, 1) - 0.5))
    r2 = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2
    cap = np.sqrt(np.clip(1.0 - r2, 0.0, 1.0))
    nose_x, nose_y = (xx - cx) / (0.12 * rx), (yy - cy - 0.15 * ry) / (0.2 * ry)
    nose = 0.12 * np.exp(-(nose_x**2 + nose_y**2))
    bulge = (face_near - background) * np.clip(0.88 * cap + nose, 0.0, 1.0)
    sigma = max(1.0, 0.04 * min(rx, ry))
    bulge = cv2.GaussianBlur(bulge, (0, 0), sigma)
    return (plane + bulge).astype(np.float32)


def stereo_talking_frames(opening: np.ndarray, *, size: int = 360, head_motion: float = 1.0,
                          seed: int = 0, fps: float = 25.0, background: float = 4.0,
                          face_near: float = 12.0
                          ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Yield a talking astronaut as a stereo pair with its ground-truth disparity.

    Parameters
    ----------
    opening : np.ndarray
        (T,) mouth opening per video frame in [0, 1].
    size, head_motion, seed, fps
        As for `talking_face_frames`.
    background, face_near : float
        As for `face_disparity` (px).

    Yields
    ------
    left : np.ndarray
        (size, size, 3) uint8 RGB left view (the 2D talking face).
    right : np.ndarray
        (size, size, 3) uint8 RGB right view synthesised from the left with `disparity`.
    disparity : np.ndarray
        (size, size) float32 left-to-right disparity (px) whose head bulge follows the head.
    """
    opening = np.asarray(opening, dtype=np.float64).ravel()
    poses = head_poses(len(opening), amount=head_motion, seed=seed, fps=fps)
    scale = size / CROP[2]
    box = face_box(size)
    for value, pose in zip(opening, poses):
        left = render_face(float(value), size=size, pose=tuple(pose))
        shift_x, shift_y = pose[0] * scale, pose[1] * scale
        moved = (box[0] + shift_x, box[1] + shift_y, box[2] + shift_x, box[3] + shift_y)
        disparity = face_disparity(size, size, moved, background=background, face_near=face_near)
        right, _ = synthesize_right_view(left, disparity)
        yield left, right, disparity
