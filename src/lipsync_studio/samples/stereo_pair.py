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

def synthesize_right_view(left: np.ndarray, disparity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The right view of a sample pair: the left view forward-warped through a known disparity.

    The warp is :func:`lipsync_studio.stereo.warp.forward_warp` (z-buffered, holes filled from the
    background); this returns its ``(right, seen)``: (H, W, 3) uint8 and (H, W) bool.
    """
    from lipsync_studio.stereo.warp import forward_warp

    right, seen, _ = forward_warp(left, disparity)
    return right, seen


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
