"""Drawing a new mouth into a frame: piecewise-affine warp, feathered mask, colour match, mouth interior.

Everything happens inside the lower-face region's bounding box; the blend mask is exactly zero outside the
region, so the rest of the frame stays pixel-identical to the input.
"""

from __future__ import annotations

import numpy as np


def piecewise_warp(src: np.ndarray, src_pts: np.ndarray, dst_pts: np.ndarray, triangles: np.ndarray,
                   box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Warp ``src`` so that each triangle of ``src_pts`` lands on the same triangle of ``dst_pts``.

    Parameters
    ----------
    src: (h, w, 3) uint8 source image.
    src_pts, dst_pts: (N, 2) corresponding points (source image / destination frame pixels).
    triangles: (M, 3) int triangles over the points.
    box: ``x0, y0, x1, y1`` of the destination area to fill.

    Returns
    -------
    warped: (y1-y0, x1-x0, 3) uint8 destination pixels.
    cover: (y1-y0, x1-x0) bool, pixels inside some triangle.
    """
    import cv2

    x0, y0, x1, y1 = box
    h, w = y1 - y0, x1 - x0
    d = dst_pts - np.array([x0, y0], np.float64)
    canvas = np.zeros((h, w), np.int32)
    for k, t in enumerate(triangles):
        cv2.fillConvexPoly(canvas, np.round(d[t] * 16).astype(np.int32), k + 1, lineType=cv2.LINE_8, shift=4)
    ids = canvas - 1
    ys, xs = np.nonzero(ids >= 0)
    t = triangles[ids[ys, xs]]
    p = np.stack([xs + 0.0, ys + 0.0], 1)
    a, b, c = d[t[:, 0]], d[t[:, 1]], d[t[:, 2]]
    v0, v1, v2 = b - a, c - a, p - a
    den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    den = np.where(np.abs(den) < 1e-9, 1e-9, den)
    w1 = (v2[:, 0] * v1[:, 1] - v1[:, 0] * v2[:, 1]) / den
    w2 = (v0[:, 0] * v2[:, 1] - v2[:, 0] * v0[:, 1]) / den
    w0 = 1 - w1 - w2
    sp = src_pts[t]  # (n, 3, 2)
    sx = w0 * sp[:, 0, 0] + w1 * sp[:, 1, 0] + w2 * sp[:, 2, 0]
    sy = w0 * sp[:, 0, 1] + w1 * sp[:, 1, 1] + w2 * sp[:, 2, 1]
    mx = np.full((h, w), -1.0, np.float32)
    my = np.full((h, w), -1.0, np.float32)
    mx[ys, xs] = sx
    my[ys, xs] = sy
    warped = cv2.remap(src, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return warped, ids >= 0


def feathered_mask(cover: np.ndarray, feather: float) -> np.ndarray:
    """(h, w) float32 alpha: 1 well inside ``cover``, falling smoothly to exactly 0 at and beyond its edge."""
    import cv2

    f = max(1.0, feather)
    dist = cv2.distanceTransform(cover.astype(np.uint8), cv2.DIST_L2, 5)
    alpha = np.clip(dist / (2 * f), 0, 1).astype(np.float32)
    alpha = alpha * alpha * (3 - 2 * alpha)  # smoothstep: no visible ridge at the feather's end
    alpha[~cover] = 0.0
    return alpha


def match_colour(warped: np.ndarray, target: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Per-channel gain and offset, fitted on the feather ring, that make ``warped`` match ``target``.

    Returns (6,) float: gains (3) then offsets (3).
    """
    ring = (alpha > 0.05) & (alpha < 0.95)
    if ring.sum() < 20:
        return np.array([1, 1, 1, 0, 0, 0], np.float64)
    s = warped[ring].astype(np.float64)
    t = target[ring].astype(np.float64)
    gain = np.clip((t.std(0) + 1.0) / (s.std(0) + 1.0), 0.8, 1.25)
    offset = t.mean(0) - gain * s.mean(0)
    return np.concatenate([gain, offset])


def paint_interior(img: np.ndarray, inner: np.ndarray, upper: np.ndarray, gap_px: float,
                   strength: float = 1.0) -> None:
    """Draw a mouth interior inside the inner-lip polygon (in place): a dark cavity and upper teeth.

    Parameters
    ----------
    img: (h, w, 3) uint8 area to draw in.
    inner: (20, 2) inner-lip contour (pixels of ``img``).
    upper: (n, 2) the upper inner lip, left to right.
    gap_px: the opening in pixels (sets the teeth's height and the blur).
    strength: 0..1, how much of the drawn interior covers what was there (fades it in as the mouth opens).
    """
    import cv2

    h, w = img.shape[:2]
    poly = np.zeros((h, w), np.uint8)
    cv2.fillPoly(poly, [np.round(inner * 4).astype(np.int32)], 255, cv2.LINE_AA, shift=2)
    if poly.max() == 0:
        return
    cavity = np.zeros((h, w, 3), np.float32)
    cavity[:] = (58, 22, 24)
    dist = cv2.distanceTransform((poly > 127).astype(np.uint8), cv2.DIST_L2, 3)
    depth = np.clip(dist / max(gap_px * 0.5, 1), 0, 1)[..., None]
    cavity *= 1.0 - 0.55 * depth  # darker toward the back of the mouth
    teeth = np.zeros((h, w), np.uint8)
    band = max(1.5, 0.28 * gap_px)
    pts = np.vstack([upper, (upper + [0, band])[::-1]])
    cv2.fillPoly(teeth, [np.round(pts * 4).astype(np.int32)], 255, cv2.LINE_AA, shift=2)
    teeth = cv2.GaussianBlur(teeth, (0, 0), max(0.6, gap_px * 0.04)).astype(np.float32)[..., None] / 255
    cavity = cavity * (1 - teeth * 0.9) + np.array([222, 214, 200], np.float32) * teeth * 0.9
    a = cv2.GaussianBlur(poly, (0, 0), max(0.7, gap_px * 0.06)).astype(np.float32)[..., None] / 255
    a *= (poly[..., None] > 0) * float(np.clip(strength, 0.0, 1.0))  # stay inside the lips
    img[:] = np.clip(img * (1 - a) + cavity * a, 0, 255).astype(np.uint8)
