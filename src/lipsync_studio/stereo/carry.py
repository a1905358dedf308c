"""Carrying an edit of the left eye over to the right eye through the original pair's disparity.

A face is a smooth surface, so over the lower face the disparity of the original pair is well described by a
smooth function: it is measured at a few hundred textured points (pyramidal Lucas-Kanade from the left eye to
the right, kept only where the match holds both ways and stays on the same row) and fitted with a quadratic
in ``(x, y)``, robustly (points on the background or an occluding edge weigh nothing). Sub-pixel, and a few
milliseconds a frame, where a dense matcher is slower and noisier on weakly textured skin.

The changed pixels are then moved by that disparity (``Î_r(x − d, y) = Ĩ_l(x, y)``, the paper's ``f_w``; a
smooth map makes the backward form exact: ``Î_r(x', y) = Ĩ_l(x' + d_r(x'), y)`` with ``d_r`` found by fixed-point
iteration), colour-matched to the right eye and blended with the same feathered mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SmoothDisparity:
    """``d(x, y) = c · [1, u, v, u², uv, v², u³, u²v, uv², v³]``, ``u = (x − cx) / s``, ``v = (y − cy) / s``."""

    coef: np.ndarray
    centre: tuple[float, float]
    scale: float
    inliers: int
    residual: float  #: robust spread of the inliers' residuals (px)

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        u = (x - self.centre[0]) / self.scale
        v = (y - self.centre[1]) / self.scale
        return _terms(u, v) @ self.coef


def _terms(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(..., 10) the cubic polynomial's terms."""
    u = np.asarray(u, np.float64)
    v = np.asarray(v, np.float64)
    return np.stack([np.ones_like(u), u, v, u * u, u * v, v * v, u * u * u, u * u * v, u * v * v, v * v * v], -1)


def _design(x: np.ndarray, y: np.ndarray, centre, scale) -> np.ndarray:
    return _terms((x - centre[0]) / scale, (y - centre[1]) / scale)


def fit_smooth_disparity(left: np.ndarray, right: np.ndarray, box: tuple[int, int, int, int],
                         max_disparity: int, min_points: int = 12, where: np.ndarray | None = None,
                         guess: "SmoothDisparity | None" = None) -> SmoothDisparity | None:
    """The original pair's disparity over ``box`` (``x0, y0, x1, y1`` in the left eye) as a smooth function.

    ``where``: (H, W) bool, the only pixels to measure at (e.g. the edited area: the face, not what is behind).
    ``guess``: a nearby frame's fit, to start the matching from (fewer pyramid levels).
    Returns None where too few points match (then a dense matcher must do).
    """
    import cv2

    h, w = left.shape[:2]
    x0, y0, x1, y1 = max(box[0], 0), max(box[1], 0), min(box[2], w), min(box[3], h)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    # One window for both eyes: the box, reaching max_disparity further left (where the right eye sees it).
    rx0, rx1 = max(0, x0 - max_disparity - 16), min(w, x1 + 16)
    glw = cv2.cvtColor(np.ascontiguousarray(left[y0:y1, rx0:rx1]), cv2.COLOR_RGB2GRAY)
    gr = cv2.cvtColor(np.ascontiguousarray(right[y0:y1, rx0:rx1]), cv2.COLOR_RGB2GRAY)
    mask = np.zeros(glw.shape, np.uint8)
    mask[:, x0 - rx0:x1 - rx0] = 255  # corners in the box only
    if where is not None:
        mask[~where[y0:y1, rx0:rx1]] = 0
    side = max(x1 - x0, y1 - y0)
    pts = cv2.goodFeaturesToTrack(glw, maxCorners=160, qualityLevel=0.005, minDistance=max(2, side // 30),
                                  mask=mask, blockSize=5)
    if pts is None or len(pts) < min_points:
        return None
    pts = pts.astype(np.float32)  # in the window's pixels
    win = (21, 21)
    crit = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01)
    if guess is not None:  # the last frame's disparity: a level or two of pyramid is enough
        start = pts.copy()
        start[:, 0, 0] -= guess(pts[:, 0, 0] + rx0, pts[:, 0, 1] + y0).astype(np.float32)
        levels, flags = 1, cv2.OPTFLOW_USE_INITIAL_FLOW
    else:
        start, flags = None, 0
        levels = int(np.clip(np.ceil(np.log2(max(max_disparity, 8) / 8.0)), 1, 5))
    fwd, st1, _ = cv2.calcOpticalFlowPyrLK(glw, gr, pts, start, winSize=win, maxLevel=levels, criteria=crit,
                                           flags=flags)
    back, st2, _ = cv2.calcOpticalFlowPyrLK(gr, glw, fwd, pts.copy(), winSize=win, maxLevel=levels, criteria=crit,
                                            flags=cv2.OPTFLOW_USE_INITIAL_FLOW)
    p, q, b = pts[:, 0], fwd[:, 0], back[:, 0]
    ok = (st1[:, 0] == 1) & (st2[:, 0] == 1) & (np.linalg.norm(b - p, axis=1) < 0.3) & (np.abs(q[:, 1] - p[:, 1]) < 1.0)
    d = p[:, 0] - q[:, 0]
    ok &= (d > -max_disparity) & (d < max_disparity)
    if ok.sum() < min_points:
        return None
    x, y, d = p[ok, 0].astype(np.float64) + rx0, p[ok, 1].astype(np.float64) + y0, d[ok].astype(np.float64)
    centre = ((x0 + x1) / 2.0, (y0 + y1) / 2.0)
    scale = max(side / 2.0, 1.0)
    a = _design(x, y, centre, scale)
    wts = np.ones(len(d))
    coef = np.zeros(10)
    sigma = 1.0
    for _ in range(6):  # iteratively reweighted least squares, Tukey's biweight
        sw = np.sqrt(wts)
        coef = np.linalg.lstsq(a * sw[:, None], d * sw, rcond=None)[0]
        r = d - a @ coef
        sigma = max(1.4826 * np.median(np.abs(r - np.median(r))), 0.05)
        z = r / (4.685 * sigma)
        wts = np.where(np.abs(z) < 1, (1 - z * z) ** 2, 0.0)
        if (wts > 0).sum() < min_points:
            return None
    return SmoothDisparity(coef, centre, scale, int((wts > 0).sum()), float(sigma))


def carry_with(disp: SmoothDisparity, left: np.ndarray, left_new: np.ndarray, right: np.ndarray,
               changed: np.ndarray, box: tuple[int, int, int, int], feather: int) -> np.ndarray:
    """The right eye with the change (``changed`` pixels of ``left_new``) moved by ``disp`` and blended.

    ``changed``: (y1 - y0, x1 - x0) bool over ``box`` (``x0, y0, x1, y1``), which holds every changed pixel
    with room for the feather around it.
    """
    import cv2

    from ..sync.builtin.render import match_colour, upsample_grid

    h, w = right.shape[:2]
    x0, y0, x1, y1 = box
    # The right eye's area: the box moved by the disparity (its smallest and largest values there).
    gx = np.linspace(x0, x1, 5)
    gy = np.linspace(y0, y1, 5)
    corners = disp(*np.meshgrid(gx, gy))
    rx0 = int(np.clip(np.floor(x0 - corners.max()) - 2, 0, w))
    rx1 = int(np.clip(np.ceil(x1 - corners.min()) + 2, 0, w))
    if rx1 - rx0 < 2:
        return right
    # x' = x − d(x) ⇔ x = x' + d(x): fixed point (d varies slowly), on a 4-px grid (d is smooth), then
    # interpolated to every pixel.
    step = 4
    gw, gh = (rx1 - rx0 + step - 1) // step + 1, (y1 - y0 + step - 1) // step + 1
    xs, ys = np.meshgrid(rx0 + step * np.arange(gw, dtype=np.float64), y0 + step * np.arange(gh, dtype=np.float64))
    src_x = xs.copy()
    for _ in range(4):
        src_x = xs + disp(src_x, ys)
    map_x = upsample_grid(src_x - x0, step, rx1 - rx0, y1 - y0)
    map_y = np.repeat(np.arange(y1 - y0, dtype=np.float32)[:, None], rx1 - rx0, axis=1)
    # The blend mask: the changed area, closed and feathered, in the left eye's geometry ...
    mask = changed.astype(np.uint8) * 255
    k = max(3, feather | 1)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    mask = cv2.GaussianBlur(mask, (0, 0), k / 3)
    mask[~changed & (mask < 16)] = 0
    # ... then both moved into the right eye's geometry by the same map (box coordinates).
    src = np.ascontiguousarray(left_new[y0:y1, x0:x1])
    warped = cv2.remap(src, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.remap(mask, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    alpha = alpha.astype(np.float32) / 255.0
    region = np.ascontiguousarray(right[y0:y1, rx0:rx1])
    c = match_colour(warped, region, alpha)
    lut = np.clip(np.arange(256, dtype=np.float32)[:, None] * c[:3] + c[3:], 0, 255)
    warped = cv2.LUT(warped, lut.astype(np.uint8).reshape(256, 1, 3))
    out = right.copy()
    out[y0:y1, rx0:rx1] = cv2.blendLinear(warped, region, alpha, 1.0 - alpha)
    return out
