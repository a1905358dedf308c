"""Disparity of a stereo pair without downloaded weights: OpenCV SGBM, a WLS filter and a left-right check.

Convention (as everywhere in the app): a point at column ``x`` of the left view is at ``x - d(x)`` in the
right view; positive ``d`` is nearer. The matcher is semi-global block matching (``StereoSGBM``, 3-way
mode) run both ways (``ximgproc.createRightMatcher``); the weighted-least-squares filter
(``ximgproc.createDisparityWLSFilter``) makes the left map dense and edge-aware; the left-right check keeps
a pixel when the right map, looked up where the pixel lands, agrees within ``lr_threshold`` pixels. Pixels
that fail are occluded in the other eye or mismatched: :attr:`DisparityMap.valid` is False there.

Cost on two cores at 1280x720 (96 disparities): SGBM left ~0.2-0.4 s, right ~0.2-0.3 s, WLS ~0.1 s.
An ``roi`` limits the work to a face, and ``downscale`` trades precision for speed (previews).
Results are cached by content (:class:`DisparityCache`), so scrubbing back to a frame costs nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from .warp import left_right_check


@dataclass(frozen=True)
class DisparitySettings:
    """How disparity is estimated.

    Attributes
    ----------
    max_fraction: the nearest disparity searched, as a fraction of the eye width (0.05: 64 px at 1280).
    min_fraction: the farthest (most negative: behind the screen) disparity, as a fraction of the width.
    block_size: SGBM matching block (odd, 3..11).
    uniqueness: SGBM uniqueness ratio (%); speckle_window, speckle_range: SGBM speckle filter.
    wls_lambda, wls_sigma: WLS smoothness and edge sensitivity (OpenCV's typical 8000 and 0.8-2.0).
    lr_threshold: the left-right check's tolerance (px).
    downscale: estimate at 1/downscale of the size and scale the result back up (1: full resolution).
    """

    max_fraction: float = 0.05
    min_fraction: float = -0.025
    block_size: int = 5
    uniqueness: int = 10
    speckle_window: int = 100
    speckle_range: int = 2
    wls_lambda: float = 8000.0
    wls_sigma: float = 1.5
    lr_threshold: float = 1.0
    downscale: int = 1

    def key(self) -> str:
        """A string naming these settings (for caches)."""
        return "|".join(f"{k}={v}" for k, v in sorted(asdict(self).items()))

    def search_range(self, width: int) -> tuple[int, int]:
        """(minDisparity, numDisparities) for an eye ``width`` px wide (numDisparities a multiple of 16)."""
        lo = int(np.floor(self.min_fraction * width))
        hi = int(np.ceil(self.max_fraction * width))
        num = max(16, int(np.ceil((hi - lo) / 16.0)) * 16)
        return lo, num


@dataclass(frozen=True)
class DisparityMap:
    """The disparity of a stereo pair, seen from the left eye.

    Attributes
    ----------
    disparity: (H, W) float32 px, dense (WLS filtered): left ``x`` is at ``x - d`` in the right view.
    valid: (H, W) bool, True where the raw match passed the left-right check (not occluded, not ambiguous).
    confidence: (H, W) float32 in [0, 1], the WLS filter's confidence.
    right_disparity: (H, W) float32 px seen from the right eye, positive like ``disparity`` (right ``x``
        is at ``x + d_r`` in the left view); the raw match, NaN where the matcher had no answer.
    """

    disparity: np.ndarray
    valid: np.ndarray
    confidence: np.ndarray
    right_disparity: np.ndarray

    @property
    def valid_share(self) -> float:
        """Share of pixels that passed the left-right check (0..1)."""
        return float(self.valid.mean()) if self.valid.size else 0.0


def _gray(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(img, cv2.COLOR_RGB2GRAY) if img.ndim == 3 else img


def _matchers(settings: DisparitySettings, width: int):
    lo, num = settings.search_range(width)
    bs = settings.block_size
    left = cv2.StereoSGBM_create(minDisparity=lo, numDisparities=num, blockSize=bs, P1=8 * bs * bs,
                                 P2=32 * bs * bs, disp12MaxDiff=-1, preFilterCap=31,
                                 uniquenessRatio=settings.uniqueness, speckleWindowSize=settings.speckle_window,
                                 speckleRange=settings.speckle_range, mode=cv2.STEREO_SGBM_MODE_SGBM_3WAY)
    return left, cv2.ximgproc.createRightMatcher(left), lo, num


def _estimate(left: np.ndarray, right: np.ndarray, settings: DisparitySettings) -> DisparityMap:
    """Full-frame estimate at the given resolution."""
    h, w = left.shape[:2]
    lg, rg = _gray(left), _gray(right)
    lm, rm, lo, num = _matchers(settings, w)
    raw_l = lm.compute(lg, rg)
    raw_r = rm.compute(rg, lg)
    wls = cv2.ximgproc.createDisparityWLSFilter(lm)
    wls.setLambda(settings.wls_lambda)
    wls.setSigmaColor(settings.wls_sigma)
    wls.setLRCthresh(int(round(settings.lr_threshold * 16)))
    filtered = wls.filter(raw_l, left if left.ndim == 3 else lg, disparity_map_right=raw_r)
    confidence = wls.getConfidenceMap().astype(np.float32) / 255.0
    disp = filtered.astype(np.float32) / 16.0
    # The leftmost (minDisparity + numDisparities) columns have no possible match in the right view; the
    # filter fills them with noise. Hold the first matchable column instead (and they stay invalid).
    band = min(max(0, lo + num), w - 1)
    if band > 0:
        disp[:, :band] = disp[:, band:band + 1]
    # The matchers mark "no answer" with (minDisparity - 1) in 1/16 px; the right matcher's range is mirrored.
    dl = raw_l.astype(np.float32) / 16.0
    ok_l = raw_l > (lo - 1) * 16
    dr = -raw_r.astype(np.float32) / 16.0  # right matcher's disparities are negative: flip to our sign
    r_lo = 1 - lo - num
    ok_r = raw_r > (r_lo - 1) * 16
    dr = np.where(ok_r, dr, np.nan).astype(np.float32)
    valid = ok_l & left_right_check(dl, dr, settings.lr_threshold)
    return DisparityMap(disp, valid, confidence, dr)


def estimate_disparity(left: np.ndarray, right: np.ndarray, settings: DisparitySettings = DisparitySettings(),
                       roi: tuple[int, int, int, int] | None = None) -> DisparityMap:
    """Estimate the left view's disparity of a rectified stereo pair.

    Parameters
    ----------
    left, right : np.ndarray
        (H, W, 3) uint8 RGB (or (H, W) gray) eyes of the same size.
    settings : DisparitySettings
        Search range, matcher and filter settings.
    roi : (x0, y0, x1, y1), optional
        Only this box of the left view is wanted (e.g. the face): the pair is cropped around it (widened by
        the search range so the box's left edge still finds its matches). Outside the box the map is 0 and
        not valid.

    Returns
    -------
    DisparityMap
        Maps of the full (H, W) size.
    """
    if left.shape != right.shape:
        raise ValueError(f"the eyes differ in size: {left.shape} vs {right.shape}")
    h, w = left.shape[:2]
    if roi is not None:
        x0, y0, x1, y1 = (int(round(v)) for v in roi)
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        if x1 - x0 < 8 or y1 - y0 < 8:
            raise ValueError(f"the region {roi} is too small or outside the {w}x{h} frame")
        lo, num = settings.search_range(w)
        cx0 = max(0, x0 - (lo + num) - settings.block_size)
        cx1 = min(w, x1 + max(0, -lo) + settings.block_size)
        crop_settings = _fixed_range(settings, w, cx1 - cx0)
        part = estimate_disparity(left[y0:y1, cx0:cx1], right[y0:y1, cx0:cx1], crop_settings)
        out = [np.zeros((h, w), np.float32), np.zeros((h, w), bool), np.zeros((h, w), np.float32),
               np.full((h, w), np.nan, np.float32)]
        keep = np.s_[:, x0 - cx0:x1 - cx0]
        for full, piece in zip(out, (part.disparity, part.valid, part.confidence, part.right_disparity)):
            full[y0:y1, x0:x1] = piece[keep]
        return DisparityMap(*out)
    k = max(1, int(settings.downscale))
    if k == 1:
        return _estimate(left, right, settings)
    small = (max(16, w // k), max(16, h // k))
    sl = cv2.resize(left, small, interpolation=cv2.INTER_AREA)
    sr = cv2.resize(right, small, interpolation=cv2.INTER_AREA)
    part = _estimate(sl, sr, settings)
    sx = w / small[0]
    up = lambda a, interp: cv2.resize(a, (w, h), interpolation=interp)  # noqa: E731
    return DisparityMap(up(part.disparity, cv2.INTER_LINEAR) * sx,
                        up(part.valid.astype(np.uint8), cv2.INTER_NEAREST) > 0,
                        up(part.confidence, cv2.INTER_LINEAR), up(part.right_disparity, cv2.INTER_NEAREST) * sx)


def refine_subpixel(left: np.ndarray, right: np.ndarray, start: np.ndarray, box: tuple[int, int, int, int],
                    sigma: float, damping: float = 10.0, iterations: int = 4, reach: float = 3.0) -> np.ndarray:
    """A disparity over ``box`` made sub-pixel exact where the eyes have texture.

    Each pixel's correction is the horizontal shift that best lines the left eye up with the right eye moved
    by ``start``, over a window as wide as a Gaussian of ``sigma`` px: one-dimensional Lucas-Kanade, ``iterations``
    Gauss-Newton steps. A block matcher's answer is quantised and noisy; this is what a face's smooth surface
    needs for tenths of a pixel. ``damping`` (squared 8-bit gradient units) slows the steps where there is
    little texture; a correction stays within ``reach`` px of ``start``.

    Parameters
    ----------
    left, right : np.ndarray
        (H, W, 3) uint8 RGB eyes.
    start : np.ndarray
        (y1 − y0, x1 − x0) disparity (px) over ``box`` to start from.
    box : (x0, y0, x1, y1)
        The left eye's pixels wanted.

    Returns
    -------
    np.ndarray
        (y1 − y0, x1 − x0) float32 disparity (px).
    """
    h, w = left.shape[:2]
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    d0 = np.asarray(start, np.float32)
    # The right eye's window: the box moved by the disparity, with room for the correction.
    rx0 = int(np.clip(np.floor(x0 - float(d0.max()) - reach) - 2, 0, w))
    rx1 = int(np.clip(np.ceil(x1 - float(d0.min()) + reach) + 2, 0, w))
    if rx1 - rx0 < 4 or bw < 4 or bh < 4:
        return d0.copy()
    gl = _gray(np.ascontiguousarray(left[y0:y1, x0:x1])).astype(np.float32)
    gr = _gray(np.ascontiguousarray(right[y0:y1, rx0:rx1])).astype(np.float32)
    base_x = np.arange(x0 - rx0, x1 - rx0, dtype=np.float32)[None, :] - d0
    map_y = np.repeat(np.arange(bh, dtype=np.float32)[:, None], bw, axis=1)
    # The window: a box filter applied twice (a tent), as wide as a Gaussian of ``sigma``, at a third of its cost.
    k = max(3, int(round(np.sqrt(6.0 * sigma * sigma + 1.0))))
    window = lambda a: cv2.blur(cv2.blur(a, (k, k)), (k, k))  # noqa: E731
    r = np.zeros((bh, bw), np.float32)
    for _ in range(iterations):
        rec = cv2.remap(gr, base_x - r, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        ix = cv2.Sobel(rec, cv2.CV_32F, 1, 0, ksize=3) * 0.125
        num = window(ix * (gl - rec))
        den = window(ix * ix)
        # gl ≈ rec(x − δ) ≈ rec − ix·δ  ⇒  δ = −Σ ix·(gl − rec) / Σ ix²  (a larger shift: a larger disparity)
        r = np.clip(r - num / (den + damping), -reach, reach)
    return d0 + r


def _fixed_range(settings: DisparitySettings, full_width: int, crop_width: int) -> DisparitySettings:
    """Settings whose search range on a crop equals the range meant for the full width."""
    from dataclasses import replace

    lo, num = settings.search_range(full_width)
    hi = lo + num
    # Express the same pixel range as fractions of the crop (rounding kept on the safe side).
    return replace(settings, min_fraction=(lo + 0.01) / crop_width, max_fraction=(hi - 0.01) / crop_width)


def colorize_disparity(disparity: np.ndarray, valid: np.ndarray | None = None, *, vmin: float | None = None,
                       vmax: float | None = None, invalid_color: tuple[int, int, int] = (40, 40, 40)) -> np.ndarray:
    """A disparity map as a picture: turbo colours, near (large disparity) red, far blue.

    Parameters
    ----------
    disparity : np.ndarray
        (H, W) float disparity (px).
    valid : np.ndarray, optional
        (H, W) bool; invalid pixels are drawn in ``invalid_color``.
    vmin, vmax : float, optional
        The disparities mapped to the ends of the colour scale; default: the 2nd and 98th percentiles of the
        valid pixels (fix them to compare frames).

    Returns
    -------
    np.ndarray
        (H, W, 3) uint8 RGB.
    """
    d = np.asarray(disparity, np.float32)
    mask = np.isfinite(d) if valid is None else (valid & np.isfinite(d))
    sample = d[mask]
    if vmin is None:
        vmin = float(np.percentile(sample, 2)) if sample.size else 0.0
    if vmax is None:
        vmax = float(np.percentile(sample, 98)) if sample.size else 1.0
    span = max(vmax - vmin, 1e-6)
    norm = np.clip((np.nan_to_num(d, nan=vmin) - vmin) / span, 0.0, 1.0)
    rgb = cv2.cvtColor(cv2.applyColorMap((norm * 255 + 0.5).astype(np.uint8), cv2.COLORMAP_TURBO),
                       cv2.COLOR_BGR2RGB)
    rgb[~mask] = invalid_color
    return rgb


# -- cache ------------------------------------------------------------------------------------------------

def _content_key(left: np.ndarray, right: np.ndarray, settings: DisparitySettings,
                 roi: tuple[int, int, int, int] | None) -> str:
    h = hashlib.blake2b(digest_size=20)
    h.update(f"{left.shape}|{left.dtype}|{roi}|{settings.key()}|v1".encode())
    h.update(np.ascontiguousarray(left).data)
    h.update(np.ascontiguousarray(right).data)
    return h.hexdigest()


def _save(path: Path, m: DisparityMap) -> None:
    right = np.where(np.isfinite(m.right_disparity), np.rint(m.right_disparity * 16), -32768)
    tmp = path.with_name(path.stem + f".{os.getpid()}.tmp.npz")
    np.savez_compressed(tmp, d=np.rint(m.disparity * 16).astype(np.int16), v=np.packbits(m.valid),
                        c=(m.confidence * 255 + 0.5).astype(np.uint8), r=right.astype(np.int16),
                        shape=np.array(m.valid.shape))
    os.replace(tmp, path)


def _load(path: Path) -> DisparityMap:
    with np.load(path) as z:
        h, w = (int(v) for v in z["shape"])
        r = z["r"].astype(np.float32)
        r[z["r"] == -32768] = np.nan
        return DisparityMap(z["d"].astype(np.float32) / 16.0,
                            np.unpackbits(z["v"], count=h * w).reshape(h, w).astype(bool),
                            z["c"].astype(np.float32) / 255.0, r / 16.0)


class DisparityCache:
    """Disparity maps remembered by the content of the pair: in memory (recent frames) and on disk.

    Parameters
    ----------
    settings : DisparitySettings
        How maps are estimated.
    folder : path, None or False
        Where maps are stored: None for the analysis cache (``cache_dir()/disparity``), False for memory only.
    memory_frames : int
        How many recent maps are kept in memory.

    The key is a hash of both eyes' pixels, the region and the settings, so the same frame from any file
    (an input, a re-encode read back, a GUI scrub) finds its map, and a changed frame never does. Stored
    maps keep 1/16 px (the matcher's own precision) and are compressed.
    """

    def __init__(self, settings: DisparitySettings = DisparitySettings(), folder: "str | Path | None | bool" = None,
                 memory_frames: int = 32) -> None:
        self.settings = settings
        if folder is None:
            from ..media.cache import cache_dir

            folder = cache_dir() / "disparity"
        self.folder = Path(folder) if folder is not False else None
        self.memory_frames = memory_frames
        self._memory: OrderedDict[str, DisparityMap] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, left: np.ndarray, right: np.ndarray,
            roi: tuple[int, int, int, int] | None = None) -> DisparityMap:
        """The disparity of this pair (and region), from the cache or estimated now."""
        key = _content_key(left, right, self.settings, roi)
        found = self._memory.get(key)
        if found is not None:
            self._memory.move_to_end(key)
            self.hits += 1
            return found
        path = self.folder / key[:2] / f"{key}.npz" if self.folder is not None else None
        if path is not None and path.exists():
            with contextlib.suppress(OSError, ValueError, KeyError):
                found = _load(path)
        if found is None:
            self.misses += 1
            found = estimate_disparity(left, right, self.settings, roi)
            if path is not None:
                with contextlib.suppress(OSError):
                    path.parent.mkdir(parents=True, exist_ok=True)
                    _save(path, found)
        else:
            self.hits += 1
        self._remember(key, found)
        return found

    def _remember(self, key: str, value: DisparityMap) -> None:
        if self.memory_frames <= 0:
            return
        self._memory[key] = value
        while len(self._memory) > self.memory_frames:
            self._memory.popitem(last=False)
