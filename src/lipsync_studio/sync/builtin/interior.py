"""A real mouth interior for a mouth opened beyond its donor: one of the clip's own open mouths, lent.

When the target opening is larger than the donor's, the new lips part over what the donor never showed. Rather
than paint teeth, the interior (teeth, tongue, cavity) of an open frame of the clip is warped from its inner
lip contour onto the new inner lip contour: a fan of triangles from the contour's centre, so the teeth keep
their edges and sit under the upper lip as they did. The interior comes from the open frame whose opening is
nearest the target's (a few kept, at levels of opening: a half-open mouth shows the tips of the teeth, a wide
one the tongue), and it replaces the donor's own interior whole: two interiors blended read as a double image.
Only a clip that never opens its mouth (a still photo) falls back to a drawn interior
(:func:`~.render.paint_interior`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ...media.colourspace import srgb_to_linear
from .render import LUMA, inner_lip_edges, piecewise_warp

#: The fan over the inner lip contour (20 points) and its centre (index 20).
_N = 20
FAN = np.array([[i, (i + 1) % _N, _N] for i in range(_N)], np.int32)


def interior_donors(gaps: np.ndarray, frames: np.ndarray, detail: np.ndarray | None = None,
                    open_enough: float = 0.06, levels: int = 5) -> np.ndarray:
    """The clip frames that lend interiors: one per level of opening, from the widest opening down.

    Parameters
    ----------
    gaps: (T,) inner-lip gap per clip frame (eye distances; NaN where absent).
    frames: candidate clip frames (the donor bank).
    detail: optional (T,) relative mouth sharpness (log units, :func:`~.planner.relative_detail`): near each
        level the sharpest mouth wins.
    open_enough: the smallest gap that shows an interior worth lending.
    levels: how many openings are kept (evenly from the widest down to ``open_enough``: a narrow opening squeezed
        into from a wide one shows its teeth as a thin white bar).

    Returns
    -------
    (L,) int64 clip frames, widest opening first (empty when the clip never opens that far).
    """
    frames = np.asarray(frames, np.int64)
    g = np.asarray(gaps, np.float64)[frames] if len(frames) else np.zeros(0)
    ok = np.isfinite(g) & (g >= open_enough)
    if not ok.any():
        return np.zeros(0, np.int64)
    frames, g = frames[ok], g[ok]
    widest = float(g.max())
    score = np.zeros(len(frames)) if detail is None else np.nan_to_num(np.asarray(detail, np.float64)[frames])
    chosen: list[int] = [int(frames[np.argmax(g)])]
    for level in np.linspace(widest, open_enough, levels)[1:] if levels > 1 else []:
        near = np.abs(g - level) <= 0.15 * level  # within 15 % of this level's opening
        if not near.any():
            continue
        k = int(frames[near][np.argmax(score[near])])
        if k not in chosen:
            chosen.append(k)
    return np.asarray(chosen, np.int64)


def pick_interior(target_gap: float, donor_gaps: np.ndarray) -> int | None:
    """Index into ``donor_gaps`` (the interior donors' gaps) of the interior for a mouth opened to ``target_gap``:
    the smallest opening at least 80 % of the target's (scaled up little), else the widest (scaled up at most
    2x: a sliver of teeth stretched over a wide mouth is a grey smear); None when even that is under half."""
    g = np.asarray(donor_gaps, np.float64)
    if len(g) == 0 or float(g.max()) < 0.5 * target_gap:
        return None
    enough = np.flatnonzero(g >= 0.8 * target_gap)
    if len(enough):
        return int(enough[np.argmin(g[enough])])
    return int(np.argmax(g))


def interior_choice(target_gap: float, donor_gap: float, donor_gaps: np.ndarray,
                    squeezed: bool) -> tuple[int | None, bool]:
    """What fills a mouth opened to ``target_gap`` from a donor opened to ``donor_gap`` (eye distances).

    Parameters
    ----------
    donor_gaps: the interior donors' gaps (:func:`interior_donors`).
    squeezed: the donor's mouth is being closed most of the way (its teeth would squeeze into a bar).

    Returns
    -------
    (index into ``donor_gaps`` of the interior to lend, or None; whether a drawn interior may stand in when none
    is lent). An interior is lent when it is wider than the donor's own (or the donor's is squeezed). A drawn one
    only where the clip has none to give (or the donor is shut): when the widest the clip has is the donor's own,
    its real teeth, stretched a little, stay (a drawn grey band used to flash in for a frame).
    """
    g = np.asarray(donor_gaps, np.float64)
    pick = pick_interior(target_gap, g)
    lend = pick if pick is not None and (g[pick] > donor_gap + 0.01 or squeezed) else None
    return lend, not squeezed and (pick is None or donor_gap < 0.015)


def needs_interior(target_gap: float, donor_gap: float) -> bool:
    """Whether a mouth drawn from a donor opened to ``donor_gap`` to ``target_gap`` (eye distances) wants an
    interior other than the donor's own: much more opening than the donor has (its interior, stretched past
    1.33x, would smear; a closed donor has none), or the donor squeezed most of the way shut but still parted."""
    if squeezed(target_gap, donor_gap):
        return target_gap >= 0.02
    return target_gap > 0.04 and target_gap - donor_gap > 0.015 and (donor_gap < 0.015 or
                                                                      donor_gap < 0.75 * target_gap)


def squeezed(target_gap: float, donor_gap: float) -> bool:
    """The donor's mouth is closed most of the way (its teeth would squeeze into a jagged white bar)."""
    return donor_gap > 0.03 and target_gap < 0.5 * donor_gap


def plan_interiors(target_gap: np.ndarray, donor_gap: np.ndarray, interior_gaps: np.ndarray,
                   keep_own: float = 0.6, short: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Which interior every output frame's mouth shows, decided over time.

    Frame by frame (:func:`needs_interior`, :func:`interior_choice`) the choice flickers where the target's opening
    hovers about the point where a lent interior takes over from the donor's own: the teeth and tongue of another
    moment flashed in for a single frame (on six real talking heads, both directions, 41 of 63 lent runs were one
    frame long, and the interior changed 122 times; KatieHill A->B 15 showed its own lower teeth for one frame
    between two runs of a lent interior, lp_d20 A->B 73 the lent mouth's lip edges as pale streaks for one frame;
    decided over the frames: 17 of 32, 61 changes). Over the frames, a frame between two runs of the same
    lent interior lends it too; a frame whose interior differs from the same one on both sides takes theirs; and
    a run of lent interiors ``short`` frames or shorter gives way to the donor's own interior where that stays
    mostly real (the donor opened to ``keep_own`` of the target or more, not squeezed; stretched 1.67x at most
    for a frame or two).

    Parameters
    ----------
    target_gap, donor_gap: (K,) per output frame: the target's and the donor's opening (eye distances).
    interior_gaps: (L,) the lending frames' openings (:func:`interior_donors`).

    Returns
    -------
    (K,) int64 index into ``interior_gaps`` (-1: the donor's own interior), (K,) bool: a drawn interior may stand
    in (only where nothing is lent).
    """
    tg, dg = np.asarray(target_gap, np.float64), np.asarray(donor_gap, np.float64)
    k = len(tg)
    pick = np.full(k, -1, np.int64)
    paint = np.zeros(k, bool)
    sq = np.array([squeezed(t, d) for t, d in zip(tg, dg)], bool)
    for i in range(k):
        if needs_interior(tg[i], dg[i]):
            p, paint[i] = interior_choice(tg[i], dg[i], interior_gaps, bool(sq[i]))
            pick[i] = -1 if p is None else p
    if k < 3:
        return pick, paint & (pick < 0)
    g = np.asarray(interior_gaps, np.float64)
    for i in range(1, k - 1):
        a, b = pick[i - 1], pick[i + 1]
        if a >= 0 and a == b and pick[i] != a and tg[i] > 0.04 and g[a] >= 0.5 * tg[i]:
            pick[i] = a  # a hole or a different interior between two runs of the same one
    # Short runs of a lent interior where the donor's own serves: the donor's own stays.
    lent = np.flatnonzero(pick >= 0)
    if len(lent):
        runs = np.split(lent, np.flatnonzero(np.diff(lent) > 1) + 1)
        for run in runs:
            if len(run) <= short and not sq[run].any() and (dg[run] >= 0.015).all() and \
                    (dg[run] >= keep_own * tg[run]).all():
                pick[run] = -1
    return pick, paint & (pick < 0)


def inner_mask(inner: np.ndarray, shape: tuple[int, int], shrink: float = 0.5) -> np.ndarray:
    """(h, w) float32 0..1 anti-aliased mask of the polygon ``inner`` (20, 2), pulled ``shrink`` px inward
    (the interior stays inside the lips' edge), its edge softened over ``shrink`` px when that is over 1."""
    import cv2

    c = inner.mean(0)
    d = inner - c
    n = np.linalg.norm(d, axis=1, keepdims=True) + 1e-9
    pts = c + d * np.maximum(n - shrink, 0) / n
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(pts * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    if shrink > 1.0:  # a soft edge as wide as the pull: the interior meets the lip without a seam
        mask = cv2.GaussianBlur(mask, (0, 0), shrink / 2)
    return mask.astype(np.float32) / 255.0


#: The darkest an open mouth's cavity reads (luma, 0-255) for its colour to be taken: lips barely parted show the lips'
#: own inner edge inside the contour, not a cavity.
CAVITY_LUMA = 80.0


class OwnInterior(NamedTuple):
    """What a clip's own open mouth shows, for a drawn interior to follow (:func:`own_interior`)."""

    #: RGB float32 of its teeth, or None where they do not show.
    teeth: np.ndarray | None = None
    #: RGB float32 of its cavity, or None (lips barely parted: lip inside the contour, not a cavity).
    cavity: np.ndarray | None = None
    #: Which teeth show: "upper", "lower" or "both" ("upper" too where none show: the common case).
    rows: str = "upper"
    #: The lower teeth's visible height over the lower lip, in eye distances (teeth keep their size as the mouth
    #: opens; 0: not seen).
    lower_band: float = 0.0
    #: Where the clip shows no teeth: the share of the drawn teeth's stock light that the face's light allows (linear
    #: light, at most 1: :func:`teeth_light`).
    light: float = 1.0


#: The lightest a face's teeth are drawn against the red of the skin around its mouth, both in linear light. The
#: lit middle teeth of five real heads (``../shared/media``) measure 1.3-1.9 times the red of the skin beside and
#: under their lips (luma over red: a skin's red depends least on its tone); a drawn interior stays under the top of
#: that, so that a dim, warm photo's teeth are not the stock ivory of a lit face (BobMenendez's shut frame: ivory at
#: 222 luma over teeth that are 157 in his own open frames), and a lit face's are never made brighter.
TEETH_OVER_SKIN = 1.9


def skin_red(img: np.ndarray, outer: np.ndarray, unit: float) -> float | None:
    """The red of the skin around a mouth, in linear light (0..1), or None where too little of it is in ``img``.

    The median over the pixels 0.1-0.3 eye distances (``unit`` pixels) out from the outer lip contour ``outer``
    ((20, 2) pixels of ``img``), beside and under the lips (above them lie the nostrils' shadows), less the darkest
    quarter (shadow, stubble) and the lightest twentieth (highlights).
    """
    import cv2

    lips = np.zeros(img.shape[:2], np.uint8)
    cv2.fillPoly(lips, [np.round(outer).astype(np.int32)], 1)
    away = cv2.distanceTransform(1 - lips, cv2.DIST_L2, 5)
    ring = (away > 0.1 * unit) & (away < 0.3 * unit)
    ring[: max(int(np.floor(outer[:, 1].min())), 0)] = False
    if ring.sum() < 20:
        return None
    px = img[ring].astype(np.float32)
    luma = px @ LUMA
    keep = (luma >= np.percentile(luma, 25)) & (luma <= np.percentile(luma, 95))
    return float(srgb_to_linear(np.median(px[keep][:, 0]) / 255.0))


def teeth_light(red: float | None, stock: np.ndarray) -> float:
    """The share (linear light, 0..1) of the ``stock`` teeth colour's (RGB 0-255) light that a face whose skin
    around the mouth has the linear red ``red`` (:func:`skin_red`) allows its drawn teeth (:data:`TEETH_OVER_SKIN`);
    1 where unknown."""
    if red is None:
        return 1.0
    stock_luma = float(srgb_to_linear(np.asarray(stock, np.float64) / 255.0) @ np.array([0.2126, 0.7152, 0.0722]))
    return float(np.clip(TEETH_OVER_SKIN * red / max(stock_luma, 1e-6), 0.05, 1.0))


def own_interior(img: np.ndarray, inner: np.ndarray, unit: float = 1.0) -> OwnInterior:
    """What an open mouth's interior shows: its colours, and which teeth (:func:`teeth_rows`).

    The cavity: the median of its darkest third, if darker than :data:`CAVITY_LUMA`; the teeth: the median of the
    brightest quarter of its pixels far lighter than that and nearly grey, where those span an eighth of the
    mouth's width at least (a photo parted on the tips of its lower teeth: a fifth of the width, 4-6 % of the area
    inside the contour, however large the face).

    Parameters
    ----------
    img: (h, w, 3) uint8 RGB.
    inner: (20, 2) the mouth's inner-lip contour (pixels of ``img``, FaceMesh LIPS_INNER order: 0 and 10 the
        corners, 1-9 the upper lip).
    unit: an eye distance in ``img``'s pixels.
    """
    mask = inner_mask(inner, img.shape[:2], 1.0) > 0.5
    if mask.sum() < 20:
        return OwnInterior()
    px = img[mask].astype(np.float32)
    luma = px @ LUMA
    cavity = np.median(px[luma <= np.percentile(luma, 33)], axis=0)
    cavity_luma = float(cavity @ LUMA)
    light = _teeth_pixels(px, luma, cavity_luma)
    cavity_seen = cavity if cavity_luma < CAVITY_LUMA else None
    spread = len(np.unique(np.nonzero(mask)[1][light])) / max(float(np.ptp(inner[:, 0])), 1.0)
    if light.sum() < 6 or spread < 0.12:
        return OwnInterior(None, cavity_seen)
    # The lit part: the teeth's edge pixels blend with the dark and the lips (a photo's few rows of lower teeth
    # read pink and dim at the median of all of them).
    teeth = np.median(px[light & (luma >= np.percentile(luma[light], 75))], axis=0)
    rows, band = teeth_rows(img, inner, cavity_luma, unit)
    return OwnInterior(teeth, cavity_seen, rows, band)


def _teeth_pixels(px: np.ndarray, luma: np.ndarray, cavity_luma: float) -> np.ndarray:
    """Which of the RGB pixels ``px`` (..., 3) with luma ``luma`` are teeth: far lighter than the cavity, nearly
    grey."""
    return (luma > cavity_luma + 60) & (px.max(-1) - px.min(-1) < 0.35 * np.maximum(luma, 1.0))


def teeth_rows(img: np.ndarray, inner: np.ndarray, cavity_luma: float, unit: float = 1.0) -> tuple[str, float]:
    """Which rows of teeth an open mouth shows, ``"upper"``, ``"lower"`` or ``"both"``, and the lower row's visible
    height (eye distances; 0 where it does not show).

    Column by column over the middle four fifths of the mouth (its corners hold the lips' own light edges), in the
    contour grown a little (FaceMesh's inner contour runs across a photo's lower teeth, whose lower part lies
    outside it): a run of teeth pixels from the upper lip down is the upper row (a smile's upper teeth can fill
    the opening to the lower lip); one that starts below the middle and reaches the lower lip, the cavity's dark
    above it, the lower row (the upper teeth filling a smile, shaded and seamed, break into runs: no dark between).
    The lower row shows in three columns and a quarter of the upper's, the upper in three; its height is the
    median of its runs.
    """
    near = inner_mask(inner, img.shape[:2], -max(2.0, 0.015 * unit)) > 0.5
    cols, rows_ = np.flatnonzero(near.any(0)), np.flatnonzero(near.any(1))
    x0, x1, y0, y1 = int(cols[0]), int(cols[-1]) + 1, int(rows_[0]), int(rows_[-1]) + 1
    area = img[y0:y1, x0:x1].astype(np.float32)
    luma = area @ LUMA
    inside = near[y0:y1, x0:x1]
    light = inside & _teeth_pixels(area, luma, cavity_luma)
    dark = inside & (luma < CAVITY_LUMA)
    upper, lower = inner_lip_edges(inner)
    columns = np.arange(x0, x1)
    top = np.interp(columns, upper[:, 0], upper[:, 1]) - y0
    height = np.maximum(np.interp(columns, lower[:, 0], lower[:, 1]) - y0 - top, 1.0)
    left, right = float(inner[:, 0].min()) - x0, float(inner[:, 0].max()) - x0
    n_upper, lower_runs = 0, []
    for c in np.flatnonzero(light.any(0)):
        if abs(2 * c - left - right) > 0.8 * (right - left):
            continue
        on = np.concatenate([[0], light[:, c].astype(np.int8), [0]])
        starts, ends = np.flatnonzero(np.diff(on) == 1), np.flatnonzero(np.diff(on) == -1)
        n_upper += bool(((starts - top[c]) / height[c] < 0.4).any())
        apart = np.array([dark[:k, c].any() for k in starts], bool)
        low = ((starts - top[c]) / height[c] >= 0.4) & ((ends - top[c]) / height[c] > 0.7) & apart
        if low.any():
            lower_runs.append(float((ends[low] - starts[low]).max()))
    if len(lower_runs) < max(3, n_upper // 4):
        return "upper", 0.0
    return ("both" if n_upper >= 3 else "lower"), float(np.median(lower_runs)) / max(unit, 1e-6)


def lend_interior(img: np.ndarray, inner_dst: np.ndarray, donor: np.ndarray, inner_src: np.ndarray,
                  strength: float = 1.0, shrink: float = 0.5) -> bool:
    """Draw the donor's mouth interior inside ``inner_dst`` (in place).

    Parameters
    ----------
    img: (h, w, 3) uint8 area drawn in.
    inner_dst: (20, 2) the new inner lip contour, pixels of ``img`` (FaceMesh LIPS_INNER order).
    donor: (H, W, 3) uint8 image holding the open mouth.
    inner_src: (20, 2) the open mouth's inner lip contour, pixels of ``donor``.
    strength: 0..1, how much of the lent interior covers what was there.
    shrink: how far inside the contour the interior ends (px): FaceMesh's inner lip contour can lie a little
        inside the red of the lip, and the donor's own contour too; the lip stays the lip.

    Returns
    -------
    Whether anything was drawn (False for a contour with no area inside ``img``).
    """
    import cv2

    h, w = img.shape[:2]
    lo = np.floor(inner_dst.min(0)).astype(int) - 1
    hi = np.ceil(inner_dst.max(0)).astype(int) + 2
    x0, y0 = max(int(lo[0]), 0), max(int(lo[1]), 0)
    x1, y1 = min(int(hi[0]), w), min(int(hi[1]), h)
    if x1 - x0 < 3 or y1 - y0 < 2:
        return False
    src = np.vstack([inner_src, inner_src.mean(0)])
    dst = np.vstack([inner_dst, inner_dst.mean(0)])
    # Lanczos: the teeth keep their edges (the mouth box is drawn so, see :func:`~.render.piecewise_warp`).
    warped, _ = piecewise_warp(donor, src, dst, FAN, (x0, y0, x1, y1), interpolation=cv2.INTER_LANCZOS4)
    a = inner_mask(inner_dst - [x0, y0], (y1 - y0, x1 - x0), shrink)[..., None] * float(np.clip(strength, 0.0, 1.0))
    if not a.any():
        return False
    area = img[y0:y1, x0:x1]
    img[y0:y1, x0:x1] = np.rint(area * (1 - a) + warped * a).astype(np.uint8)
    return True
