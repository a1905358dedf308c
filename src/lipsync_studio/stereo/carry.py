"""Carrying an edit of the left eye over to the right eye through the original pair's disparity.

A face is a smooth surface, so over the lower face the disparity of the original pair is first described by a
smooth function: it is measured at a few hundred textured points (pyramidal Lucas-Kanade from the left eye to
the right, kept only where the match holds both ways and stays on the same row) and fitted with a cubic in
``(x, y)``, robustly (points on the background or an occluding edge weigh nothing). Each pixel is then
corrected by sub-pixel alignment of the two eyes around it, where the face bends faster than a cubic (jaw
line, chin over the neck). Sub-pixel, and a few milliseconds a frame, where a dense block matcher is slower and
noisier on weakly textured skin.

The changed pixels are then moved by that disparity (``Î_r(x − d, y) = Ĩ_l(x, y)``, the paper's ``f_w``, in its
backward form ``Î_r(x', y) = Ĩ_l(x' + d(x), y)`` with ``x`` found by fixed-point iteration), colour-matched to
the right eye and blended with the same feathered mask."""

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


def refine_disparity(disp: SmoothDisparity, left: np.ndarray, right: np.ndarray,
                     box: tuple[int, int, int, int]) -> tuple[np.ndarray, float]:
    """The smooth fit made dense and exact: ``(y1 − y0, x1 − x0)`` float32 disparity over ``box`` (left eye),
    and how far the fit was corrected (median |correction| over the box's textured pixels, px).

    A face is smooth but not a cubic: where it bends fast (the jaw line, the chin over the neck) the fit is off
    by tenths of a pixel. Each pixel is corrected by sub-pixel alignment of the two eyes
    (:func:`~lipsync_studio.stereo.disparity.refine_subpixel`, a window of 3 % of the box), within 2 px of the fit.
    Against a known disparity over the lower face: 0.05 px off where the fit alone is 0.20 px off (a raw pair),
    0.06 vs 0.14 px on a clip encoded at CRF 12.
    """
    from ..sync.builtin.render import upsample_grid
    from .disparity import refine_subpixel

    x0, y0, x1, y1 = box
    step = 4  # the cubic on a 4-px grid, interpolated: within a thousandth of a pixel, 16x fewer evaluations
    gw, gh = (x1 - x0 + step - 1) // step + 1, (y1 - y0 + step - 1) // step + 1
    gx, gy = np.meshgrid(x0 + step * np.arange(gw, dtype=np.float64), y0 + step * np.arange(gh, dtype=np.float64))
    d0 = upsample_grid(disp(gx, gy), step, x1 - x0, y1 - y0)
    sigma = float(np.clip(0.03 * max(x1 - x0, y1 - y0), 2.0, 8.0))
    dense = refine_subpixel(left, right, d0, box, sigma, iterations=2, reach=2.0)
    moved = np.abs(dense - d0)[::4, ::4]
    textured = moved > 1e-3  # untextured pixels barely move: they say nothing about the fit
    return dense, float(np.median(moved[textured])) if textured.sum() >= 8 else 0.0


class Carrier:
    """Carries the left eye's change into the right eye frame after frame, keeping what the next frame can use.

    - The smooth fit: measured afresh every ``refit_every`` source frames, and in between reused (the per-pixel
      correction takes up the head's motion), unless the correction shows it has gone stale (a cut, a fast
      turn: a median correction over ``stale`` px), when it is measured again at once.
    - The dense disparity of a source frame shown again (a held or ping-ponged frame).
    - The cameras' colour difference (averaged over time).
    """

    def __init__(self, max_disparity: int = 64, refit_every: int = 4, stale: float = 0.3) -> None:
        self.max_disparity = max_disparity
        self.refit_every = refit_every
        self.stale = stale
        self.fit: SmoothDisparity | None = None
        self.fit_age = 0
        self.fits = 0  #: fits measured (for tests and benchmarks)
        self._source: int | None = None
        self._dense: dict[tuple[int, int, int, int], np.ndarray] = {}
        self.memory: dict = {}

    def _measure(self, left, right, fit_box, changed) -> SmoothDisparity | None:
        self.fits += 1
        fit = fit_smooth_disparity(left, right, fit_box, self.max_disparity, where=changed, guess=self.fit)
        if fit is None and self.fit is not None:  # the guess misled it (a cut): search the whole range
            fit = fit_smooth_disparity(left, right, fit_box, self.max_disparity, where=changed)
        return fit

    def disparity(self, left: np.ndarray, right: np.ndarray, changed: np.ndarray, box: tuple[int, int, int, int],
                  fit_box: tuple[int, int, int, int], key: int | None) -> np.ndarray | None:
        """The original pair's dense disparity over ``box`` (None: too few points match; a dense matcher must
        do). ``changed``: (H, W) bool, the pixels to measure at; ``fit_box``: the area to fit over; ``key``: the
        source frame's index (None: nothing is remembered for it)."""
        if key is not None and key == self._source and box in self._dense:
            return self._dense[box]
        if key != self._source:
            self._dense.clear()
            self._source = key
            self.fit_age += 1
        fresh = self.fit is None or self.fit_age >= self.refit_every
        fit = self._measure(left, right, fit_box, changed) if fresh else self.fit
        if fit is None:
            return None
        dense, correction = refine_disparity(fit, left, right, box)
        if not fresh and correction > self.stale:
            fresh, fit = True, self._measure(left, right, fit_box, changed)
            if fit is None:
                return None
            dense, _ = refine_disparity(fit, left, right, box)
        if fresh:
            self.fit, self.fit_age = fit, 0
        if key is not None:
            self._dense[box] = dense
        return dense


def carry_with(left: np.ndarray, left_new: np.ndarray, right: np.ndarray, changed: np.ndarray,
               box: tuple[int, int, int, int], feather: int, dense: np.ndarray, memory: dict | None = None
               ) -> np.ndarray:
    """The right eye with the change (``changed`` pixels of ``left_new``) moved by the disparity and blended.

    ``changed``: (y1 - y0, x1 - x0) bool over ``box`` (``x0, y0, x1, y1``), which holds every changed pixel
    with room for the feather around it. ``dense``: the original pair's disparity over ``box``
    (:func:`refine_disparity`). ``memory``: a dict kept between the frames of a clip, where the eyes' colour
    difference (the cameras', so steady) is averaged over time.
    """
    import cv2

    from ..sync.builtin.render import apply_colour

    h, w = right.shape[:2]
    x0, y0, x1, y1 = box
    # The right eye's area: the box moved by the disparity (its smallest and largest values there).
    rx0 = int(np.clip(np.floor(x0 - float(dense.max())) - 2, 0, w))
    rx1 = int(np.clip(np.ceil(x1 - float(dense.min())) + 2, 0, w))
    if rx1 - rx0 < 2:
        return right
    # x' = x − d(x) ⇔ x = x' + d(x): a fixed point per pixel (box coordinates).
    xs = np.arange(rx0 - x0, rx1 - x0, dtype=np.float32)[None, :].repeat(y1 - y0, axis=0)
    rows = np.arange(y1 - y0, dtype=np.float32)[:, None].repeat(rx1 - rx0, axis=1)
    d = np.ascontiguousarray(dense, dtype=np.float32)
    map_x = xs + float(np.median(d[::4, ::4]))
    for _ in range(3):  # d changes by a tenth of a pixel per pixel at most: each step gains a digit
        map_x = xs + cv2.remap(d, map_x, rows, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    map_y = rows
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
    # The eyes' colour difference is the cameras', read off the ORIGINAL pair moved by the same map: the new
    # mouth is not in the right eye yet, so matching it to what is there would pull it toward the old mouth.
    last = memory.get("colour") if memory is not None else None
    seen = memory.get("colour frames", 0) if memory is not None else 0
    if last is None or seen % 4 == 0:  # steady over a shot: every 4th frame refines the running estimate
        orig = cv2.remap(np.ascontiguousarray(left[y0:y1, x0:x1]), map_x, map_y, cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
        c = eye_colour(orig, region, alpha > 0.02)
        c = c if last is None else 0.7 * last + 0.3 * c
    else:
        c = last
    if memory is not None:
        memory["colour"] = c
        memory["colour frames"] = seen + 1
    warped = apply_colour(warped, c)
    out = right.copy()
    out[y0:y1, rx0:rx1] = cv2.blendLinear(warped, region, alpha, 1.0 - alpha)
    return out


def eye_colour(source: np.ndarray, target: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Per-channel gain and offset taking ``source`` (the left eye, moved into the right eye's geometry) to
    ``target`` (the right eye) over ``where``: least squares on up to ~2000 pixels, refitted without the
    worst-fitting tenth (occlusions, specular spots). Returns (6,) float: gains (3) then offsets (3); identity
    when too few pixels.
    """
    n = int(where.sum())
    if n < 50:
        return np.array([1, 1, 1, 0, 0, 0], np.float64)
    step = max(1, int(np.sqrt(n / 2000.0)))
    m = where[::step, ::step]
    s = source[::step, ::step][m].astype(np.float32)
    t = target[::step, ::step][m].astype(np.float32)
    keep = np.ones(s.shape, bool)
    for _ in range(2):
        k = keep.sum(0)
        ms, mt = (s * keep).sum(0) / k, (t * keep).sum(0) / k
        ds, dt = (s - ms) * keep, (t - mt) * keep
        gain = np.clip((ds * dt).sum(0) / np.maximum((ds * ds).sum(0), 1e-6), 0.8, 1.25)
        offset = mt - gain * ms
        r = np.abs(t - (gain * s + offset))
        cut = np.partition(r, int(0.9 * (len(r) - 1)), axis=0)[int(0.9 * (len(r) - 1))]
        keep = r <= cut
    return np.concatenate([gain, offset]).astype(np.float64)
