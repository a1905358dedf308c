"""How a synced mouth *looks* next to the clip's own frames: sharpness, lip colour, lip size.

A synced mouth is judged frame by frame against the source frame it was drawn into, and the clip's own
natural change is the yardstick: the same numbers are taken between the source frame and a *real different*
frame of the clip (half the clip away), which is what a viewer accepts as "the same face".

- **Sharpness**: variance of the Laplacian of the grey image in the mouth box (the outer lip contour's box
  grown by a fifth of the eye distance), result / source per frame; reported as the median and the worst
  tenth (10th percentile). An open mouth showing teeth has far more edges than a shut one, so a result that shuts
  a mouth the source showed open scores low without being any softer; the **same-shape** ratio takes that out:
  each ratio is divided by what the clip's own frames show between those two openings (the median sharpness
  of the source's frames at each inner-lip gap, :func:`shape_sharpness`). The real different frame is scored
  the same way beside it.
- **Lip colour**: the mean colour of the lip band (outer minus inner lip contour, from FaceMesh landmarks) in
  CIE Lab; dE (CIE76) between the result's and the source's band.
- **Lip size**: the lip band's area in eye distances squared; the clip's natural range is its 2nd to 98th
  percentile over the source's frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..face.track import LIPS_INNER, LIPS_OUTER, FaceTrack

EYE_CORNERS = (33, 263)
#: How far the mouth box reaches beyond the outer lip contour, in eye distances.
BOX_MARGIN = 0.2


def mouth_box(landmarks: np.ndarray, width: int, height: int) -> tuple[int, int, int, int] | None:
    """``x0, y0, x1, y1`` of the mouth box for (478 or 468, >=2) landmarks in pixels; None if degenerate."""
    pts = landmarks[list(LIPS_OUTER), :2]
    eye = float(np.linalg.norm(landmarks[EYE_CORNERS[0], :2] - landmarks[EYE_CORNERS[1], :2]))
    if not (np.isfinite(pts).all() and np.isfinite(eye)) or eye <= 0:
        return None
    m = BOX_MARGIN * eye
    x0, y0 = np.floor(pts.min(0) - m).astype(int)
    x1, y1 = np.ceil(pts.max(0) + m).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    return int(x0), int(y0), int(x1), int(y1)


def sharpness(grey: np.ndarray) -> float:
    """Variance of the 3x3 Laplacian of a (h, w) grey image (any dtype; levels 0..255)."""
    import cv2

    return float(cv2.Laplacian(np.asarray(grey, np.float32), cv2.CV_32F, ksize=1).var())


def lip_band(landmarks: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """(h, w) bool mask of the lip band (outer minus inner lip contour) inside ``box``."""
    import cv2

    x0, y0, x1, y1 = box
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    off = np.array([x0, y0], np.float64)
    outer = np.round((landmarks[list(LIPS_OUTER), :2] - off) * 4).astype(np.int32)
    inner = np.round((landmarks[list(LIPS_INNER), :2] - off) * 4).astype(np.int32)
    cv2.fillPoly(mask, [outer], 1, cv2.LINE_8, shift=2)
    cv2.fillPoly(mask, [inner], 0, cv2.LINE_8, shift=2)
    return mask.astype(bool)


def inner_gap(landmarks: np.ndarray) -> float:
    """The inner-lip gap (landmarks 13 to 14) in eye distances of (478 or 468, >=2) landmarks; NaN if degenerate."""
    eye = float(np.linalg.norm(landmarks[EYE_CORNERS[0], :2] - landmarks[EYE_CORNERS[1], :2]))
    if not np.isfinite(eye) or eye <= 0:
        return float("nan")
    return float(np.linalg.norm(landmarks[14, :2] - landmarks[13, :2])) / eye


def shape_sharpness(gap: np.ndarray, sharp: np.ndarray, bins: int = 8):
    """How sharp a mouth of the clip is for its opening: a function ``f(gap) -> log sharpness`` (arrays in, arrays
    out), the median log sharpness of the clip's frames in ``bins`` bins of equal counts along the inner-lip gap,
    interpolated between their medians (flat beyond them). None with fewer than 16 measured frames.

    Parameters
    ----------
    gap: (T,) inner-lip gap per frame (eye distances; NaN where absent).
    sharp: (T,) mouth sharpness per frame (NaN or <= 0 where unmeasured).
    """
    ok = np.isfinite(gap) & np.isfinite(sharp) & (sharp > 0)
    if ok.sum() < 16:
        return None
    g, ls = gap[ok], np.log(sharp[ok])
    order = np.argsort(g)
    parts = np.array_split(order, min(bins, max(2, ok.sum() // 8)))
    xs = np.array([np.median(g[p]) for p in parts])
    ys = np.array([np.median(ls[p]) for p in parts])
    xs, keep = np.unique(xs, return_index=True)
    ys = ys[keep]
    return lambda q: np.interp(np.asarray(q, np.float64), xs, ys)


def frame_looks(img: np.ndarray, landmarks: np.ndarray) -> tuple[float, np.ndarray, float]:
    """Sharpness, mean lip Lab (3,) and lip band area (eye distances²) of one RGB frame; NaNs without a face."""
    import cv2

    nan = (np.nan, np.full(3, np.nan), np.nan)
    h, w = img.shape[:2]
    box = mouth_box(landmarks, w, h)
    if box is None:
        return nan
    x0, y0, x1, y1 = box
    crop = img[y0:y1, x0:x1]
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    band = lip_band(landmarks, box)
    eye = float(np.linalg.norm(landmarks[EYE_CORNERS[0], :2] - landmarks[EYE_CORNERS[1], :2]))
    if band.sum() < 4:
        return sharpness(grey), np.full(3, np.nan), float(band.sum()) / eye ** 2
    lab = cv2.cvtColor(crop.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    return sharpness(grey), lab[band].mean(0).astype(np.float64), float(band.sum()) / eye ** 2


@dataclass(frozen=True)
class ClipLooks:
    """Per frame of a clip: mouth sharpness, lip band colour (Lab) and area, inner-lip gap (NaN where no face)."""

    sharpness: np.ndarray
    lab: np.ndarray
    area: np.ndarray
    gap: np.ndarray | None = None

    @property
    def n_frames(self) -> int:
        """Frames measured."""
        return len(self.sharpness)


def clip_looks(frames, track: FaceTrack | None, n_frames: int) -> ClipLooks:
    """Measure every frame of ``frames`` (an iterable of ``(index, (h, w, 3) uint8 RGB)``) with ``track``'s
    landmarks."""
    s = np.full(n_frames, np.nan)
    lab = np.full((n_frames, 3), np.nan)
    area = np.full(n_frames, np.nan)
    gap = np.full(n_frames, np.nan)
    for i, img in frames:
        if track is None or i >= n_frames or not track.present[i]:
            continue
        s[i], lab[i], area[i] = frame_looks(img, track.landmarks[i])
        gap[i] = inner_gap(track.landmarks[i])
    return ClipLooks(s, lab, area, gap)


def video_looks(video: str | Path, advance=None, eye=None) -> ClipLooks:
    """Track the faces of ``video`` (the analysis cache serves a clip seen before) and measure its looks.

    ``eye``: a :class:`~lipsync_studio.face.analysis.FrameView` (one eye of a packed stereo clip) to measure
    instead of the whole frame."""
    from ..face.analysis import analyse_faces
    from ..media.video import VideoReader

    faces = analyse_faces(video, advance=advance, eye=eye)
    with VideoReader(video) as r:
        frames = r.iter_frames()
        if eye is not None:
            frames = ((i, eye.crop(f)) for i, f in frames)
        return clip_looks(frames, faces.speaker_track(), faces.n_frames)


def _worst_tenth(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.percentile(x, 10)) if len(x) else float("nan")


def _median(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.median(x)) if len(x) else float("nan")


def _mean(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.mean(x)) if len(x) else float("nan")


@dataclass(frozen=True)
class LooksScore:
    """A result's looks against its source clip, with the clip's own natural change beside each number.

    Sharpness values are ratios to the source frame (1 = as sharp); ``real_*`` are what a real different frame
    of the clip scores against the same source frame. Colour in CIE76 dE; area in eye distances².
    """

    frames_used: int
    sharpness_median: float
    sharpness_worst_tenth: float
    real_sharpness_median: float
    real_sharpness_worst_tenth: float
    colour_de: float
    real_colour_de: float
    next_frame_colour_de: float
    area_median: float
    natural_area: tuple[float, float]
    area_in_range: float
    same_shape_median: float = float("nan")
    same_shape_worst_tenth: float = float("nan")
    real_same_shape_median: float = float("nan")
    real_same_shape_worst_tenth: float = float("nan")
    softest_frames: tuple[int, ...] = field(default=())
    most_recoloured_frames: tuple[int, ...] = field(default=())
    per_frame_sharpness: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False, compare=False)

    def verdicts(self) -> dict[str, bool]:
        """Whether each number lies within the clip's natural change: sharpness within 0.05 of what a real different
        frame of the clip scores against the same source frames (at the median and in the worst tenth, plainly and
        at the same opening), lip colour within 0.5 dE of its change or of the next frame's, the lip band's size
        inside the clip's range in 90 % of frames.

        The worst tenth was held to 0.65 of the source whatever the clip, but a real different frame scores
        0.28-0.85 there (0.48 on average over twelve halves of six real talking heads: a shut mouth in a frame that
        showed teeth has far fewer edges), so a result as sharp as the clip's own frames read OFF. The same-shape
        worst tenth is the one a blur lowers and a change of opening does not."""
        near = lambda result, real: bool(result >= real - 0.05)  # noqa: E731
        return {"sharpness": near(self.sharpness_median, self.real_sharpness_median),
                "sharpness_worst_tenth": near(self.sharpness_worst_tenth, self.real_sharpness_worst_tenth),
                "same_shape": near(self.same_shape_median, self.real_same_shape_median),
                "same_shape_worst_tenth": near(self.same_shape_worst_tenth, self.real_same_shape_worst_tenth),
                "colour": self.colour_de <= max(self.real_colour_de, self.next_frame_colour_de) + 0.5,
                "lip_size": self.area_in_range >= 0.9}

    def summary(self) -> str:
        """A few lines for the terminal."""
        v = self.verdicts()

        def mark(k: str) -> str:
            return "ok" if v[k] else "OFF"

        lo, hi = self.natural_area
        return "\n".join([
            f"looks ({self.frames_used} frames, against the source; a real different frame of the clip in brackets):",
            f"  mouth sharpness (result/source): median {self.sharpness_median:.2f} [{self.real_sharpness_median:.2f}],"
            f" worst tenth {self.sharpness_worst_tenth:.2f} [{self.real_sharpness_worst_tenth:.2f}]"
            f"  {mark('sharpness')}/{mark('sharpness_worst_tenth')}",
            f"  same-shape sharpness (each ratio over the clip's own for those openings): median"
            f" {self.same_shape_median:.2f} [{self.real_same_shape_median:.2f}],"
            f" worst tenth {self.same_shape_worst_tenth:.2f} [{self.real_same_shape_worst_tenth:.2f}]"
            f"  {mark('same_shape')}/{mark('same_shape_worst_tenth')}",
            f"  lip colour dE: {self.colour_de:.1f} [{self.real_colour_de:.1f}; next frame {self.next_frame_colour_de:.1f}]"
            f"  {mark('colour')}",
            f"  lip band area: median {self.area_median:.4f}, clip's range {lo:.4f}-{hi:.4f},"
            f" {100 * self.area_in_range:.0f}% of frames within  {mark('lip_size')}",
            f"  softest frames: {', '.join(map(str, self.softest_frames)) or '-'};"
            f" most recoloured: {', '.join(map(str, self.most_recoloured_frames)) or '-'}",
        ])

    def as_dict(self) -> dict:
        """Plain data for JSON."""
        def r(x: float) -> float | None:
            return None if not np.isfinite(x) else round(float(x), 4)

        return {"frames_used": self.frames_used, "sharpness_median": r(self.sharpness_median),
                "sharpness_worst_tenth": r(self.sharpness_worst_tenth),
                "real_sharpness_median": r(self.real_sharpness_median),
                "real_sharpness_worst_tenth": r(self.real_sharpness_worst_tenth),
                "same_shape_median": r(self.same_shape_median),
                "same_shape_worst_tenth": r(self.same_shape_worst_tenth),
                "real_same_shape_median": r(self.real_same_shape_median),
                "real_same_shape_worst_tenth": r(self.real_same_shape_worst_tenth),
                "colour_de": r(self.colour_de), "real_colour_de": r(self.real_colour_de),
                "next_frame_colour_de": r(self.next_frame_colour_de), "area_median": r(self.area_median),
                "natural_area": [r(self.natural_area[0]), r(self.natural_area[1])],
                "area_in_range": r(self.area_in_range), "softest_frames": list(self.softest_frames),
                "most_recoloured_frames": list(self.most_recoloured_frames), "verdicts": self.verdicts()}


def compare_looks(result: ClipLooks, source: ClipLooks, source_index: np.ndarray | None = None,
                  real_shift: int | None = None, n_worst: int = 5) -> LooksScore:
    """Score ``result``'s frames against the ``source`` frames they were drawn into.

    Parameters
    ----------
    result, source: per-frame looks of the result and of the source clip.
    source_index: (result frames,) source frame of each result frame (default: the same index, cut to the
        shorter clip).
    real_shift: the real different frame of source frame j is ``(j + real_shift) % T`` (default: half the clip).
    n_worst: how many worst frames to name.
    """
    T = source.n_frames
    if source_index is None:
        n = min(result.n_frames, T)
        source_index = np.arange(n)
    else:
        n = min(result.n_frames, len(source_index))
        source_index = np.asarray(source_index[:n], np.int64)
    shift = T // 2 if real_shift is None else int(real_shift)
    j = source_index
    real = (j + shift) % max(T, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = result.sharpness[:n] / source.sharpness[j]
        real_ratio = source.sharpness[real] / source.sharpness[j]
    # The same ratios over what the clip's own frames show between the two openings.
    fair = real_fair = np.full(n, np.nan)
    f = shape_sharpness(source.gap, source.sharpness) if source.gap is not None else None
    if f is not None and result.gap is not None:
        fair = ratio / np.exp(f(result.gap[:n]) - f(source.gap[j]))
        real_fair = real_ratio / np.exp(f(source.gap[real]) - f(source.gap[j]))
    de = np.linalg.norm(result.lab[:n] - source.lab[j], axis=1)
    real_de = np.linalg.norm(source.lab[real] - source.lab[j], axis=1)
    nxt = np.linalg.norm(np.diff(source.lab, axis=0), axis=1)
    areas = source.area[np.isfinite(source.area)]
    natural = (float(np.percentile(areas, 2)), float(np.percentile(areas, 98))) if len(areas) else (np.nan, np.nan)
    ra = result.area[:n]
    ok_a = np.isfinite(ra)
    in_range = float(np.mean((ra[ok_a] >= natural[0] * 0.97) & (ra[ok_a] <= natural[1] * 1.03))) if ok_a.any() \
        else float("nan")
    ok = np.isfinite(ratio)
    # The softest frames by the same-shape ratio where it is known: the plain one named the shut mouths drawn
    # where the source showed teeth, which are not soft.
    rank = np.where(np.isfinite(fair), fair, ratio)
    order = np.argsort(np.where(np.isfinite(rank), rank, np.inf))
    softest = tuple(int(k) for k in order[:n_worst] if np.isfinite(rank[k]))
    okd = np.isfinite(de)
    recol = tuple(int(k) for k in np.argsort(np.where(okd, -de, np.inf))[:n_worst] if okd[k])
    return LooksScore(
        frames_used=int(ok.sum()), sharpness_median=_median(ratio), sharpness_worst_tenth=_worst_tenth(ratio),
        real_sharpness_median=_median(real_ratio), real_sharpness_worst_tenth=_worst_tenth(real_ratio),
        same_shape_median=_median(fair), same_shape_worst_tenth=_worst_tenth(fair),
        real_same_shape_median=_median(real_fair), real_same_shape_worst_tenth=_worst_tenth(real_fair),
        colour_de=_mean(de), real_colour_de=_mean(real_de), next_frame_colour_de=_mean(nxt),
        area_median=_median(ra), natural_area=natural, area_in_range=in_range, softest_frames=softest,
        most_recoloured_frames=recol, per_frame_sharpness=ratio)


def evaluate_looks(video: str | Path, reference: str | Path, advance=None) -> LooksScore:
    """The looks of ``video`` (a synced result) against ``reference`` (the clip it was made from), frame for frame."""
    return compare_looks(video_looks(video, advance), video_looks(reference, advance))
