"""Stereo layouts: how two eyes are packed into one video frame, and how to tell which packing a file uses.

Conventions (the whole app): the *left* eye is the view the left camera saw. A point at column ``x`` of
the left view appears at column ``x - d`` of the right view; positive disparity ``d`` is nearer to the
cameras (crossed: in front of the screen). Rows are rectified.

Packings (names as on the command line; FFmpeg ``stereo3d`` names in brackets):

===============  ===============================================================================
``mono``         one view (2D)
``sbs``          full side by side, left eye on the left [sbsl]: 2W x H (what VR players expect)
``sbs-rl``       full side by side, right eye on the left (cross-eyed) [sbsr]
``half-sbs``     each eye squeezed to half width, left eye on the left [sbs2l]: W x H (3D TVs)
``half-sbs-rl``  as half-sbs, right eye on the left [sbs2r]
``tb``           full top-bottom (over-under), left eye on top [tbl]: W x 2H
``tb-rl``        full bottom-top, right eye on top [tbr]
``half-tb``      each eye squeezed to half height, left eye on top [tb2l]: W x H
``half-tb-rl``   as half-tb, right eye on top [tb2r]
===============  ===============================================================================

Detection (:func:`detect_layout`) compares the two halves of sampled frames: the eyes of a stereo pair
show the same scene shifted horizontally, so one half matches the other after a small shift (high
normalised cross-correlation of the detail), while the halves of a 2D picture do not. File names are hints
(``*_LRF_Full_SBS*``, ``_SBS``, ``_3dh_``, ``_TB``/``_OU``, ``_RL``, ``_2D``). Full vs half packing is
read from the frame's shape (a half-SBS frame has an ordinary aspect, a full-SBS frame a doubled one) unless
the name says; which half is the left eye from the prior that a talking head is nearer than its background.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from ..errors import MediaError, OptionError
from ..media.video import VideoInfo, VideoReader


class StereoLayout(str, Enum):
    """How the two eyes are packed into a frame (see the module doc)."""

    MONO = "mono"
    SBS = "sbs"
    SBS_RL = "sbs-rl"
    HALF_SBS = "half-sbs"
    HALF_SBS_RL = "half-sbs-rl"
    TB = "tb"
    TB_RL = "tb-rl"
    HALF_TB = "half-tb"
    HALF_TB_RL = "half-tb-rl"

    def __str__(self) -> str:
        return self.value

    @property
    def is_stereo(self) -> bool:
        """True for every packing of two eyes."""
        return self is not StereoLayout.MONO

    @property
    def side_by_side(self) -> bool:
        """True when the eyes sit next to each other (split along the width)."""
        return self.value.startswith(("sbs", "half-sbs"))

    @property
    def top_bottom(self) -> bool:
        """True when the eyes sit one above the other (split along the height)."""
        return self.value.startswith(("tb", "half-tb"))

    @property
    def half(self) -> bool:
        """True when each eye is squeezed to half its width (SBS) or height (TB)."""
        return self.value.startswith("half-")

    @property
    def right_first(self) -> bool:
        """True when the right eye comes first (left half, or top half)."""
        return self.value.endswith("-rl")

    @classmethod
    def parse(cls, text: "str | StereoLayout") -> "StereoLayout":
        """A layout from its name or a common alias (``lr``, ``rl``, ``ou``, ``bt``, ``hsbs``, ``2d`` ...).

        Raises
        ------
        OptionError
            The name is not a layout.
        """
        if isinstance(text, StereoLayout):
            return text
        key = str(text).strip().lower().replace("_", "-")
        if key in _ALIASES:
            return _ALIASES[key]
        try:
            return cls(key)
        except ValueError:
            raise OptionError(f"unknown stereo layout '{text}'",
                              hint="use " + ", ".join(v.value for v in cls)) from None

    @classmethod
    def compose(cls, *, top_bottom: bool, half: bool, right_first: bool) -> "StereoLayout":
        """The stereo layout with these three properties."""
        name = ("half-" if half else "") + ("tb" if top_bottom else "sbs") + ("-rl" if right_first else "")
        return cls(name)

    def eye_size(self, width: int, height: int) -> tuple[int, int]:
        """Size (w, h) of one eye as :func:`split` returns it, for a packed frame of ``width`` x ``height``."""
        if self.side_by_side:
            half = width // 2
            return (2 * half, height) if self.half else (half, height)
        if self.top_bottom:
            half = height // 2
            return (width, 2 * half) if self.half else (width, half)
        return width, height

    def packed_size(self, eye_width: int, eye_height: int) -> tuple[int, int]:
        """Size (w, h) of the frame :func:`join` makes from two eyes of ``eye_width`` x ``eye_height``."""
        if self.side_by_side:
            return (2 * (eye_width // 2), eye_height) if self.half else (2 * eye_width, eye_height)
        if self.top_bottom:
            return (eye_width, 2 * (eye_height // 2)) if self.half else (eye_width, 2 * eye_height)
        return eye_width, eye_height


_ALIASES = {
    "2d": StereoLayout.MONO, "none": StereoLayout.MONO,
    "lr": StereoLayout.SBS, "sbs-lr": StereoLayout.SBS, "full-sbs": StereoLayout.SBS, "sbsl": StereoLayout.SBS,
    "rl": StereoLayout.SBS_RL, "sbsr": StereoLayout.SBS_RL, "cross": StereoLayout.SBS_RL,
    "hsbs": StereoLayout.HALF_SBS, "sbs2l": StereoLayout.HALF_SBS, "lrh": StereoLayout.HALF_SBS,
    "sbs2r": StereoLayout.HALF_SBS_RL, "rlh": StereoLayout.HALF_SBS_RL,
    "ou": StereoLayout.TB, "over-under": StereoLayout.TB, "top-bottom": StereoLayout.TB, "tbl": StereoLayout.TB,
    "full-tb": StereoLayout.TB, "ab": StereoLayout.TB,
    "bt": StereoLayout.TB_RL, "bottom-top": StereoLayout.TB_RL, "tbr": StereoLayout.TB_RL,
    "htb": StereoLayout.HALF_TB, "half-ou": StereoLayout.HALF_TB, "tbh": StereoLayout.HALF_TB,
    "tb2l": StereoLayout.HALF_TB, "tb2r": StereoLayout.HALF_TB_RL, "bth": StereoLayout.HALF_TB_RL,
}


# -- packing and unpacking --------------------------------------------------------------------------------

def split(frame: np.ndarray, layout: "StereoLayout | str") -> tuple[np.ndarray, np.ndarray]:
    """The (left, right) eyes of a packed frame.

    Parameters
    ----------
    frame : np.ndarray
        (H, W, C) or (H, W) packed frame.
    layout : StereoLayout
        The packing. Half layouts are stretched back to full size (bicubic), so both eyes have the shape
        :meth:`StereoLayout.eye_size` gives. ``mono`` returns the frame as both eyes.

    Returns
    -------
    left, right : np.ndarray
        The two eyes, same dtype as ``frame``. Full layouts return views into ``frame`` (no copy).
    """
    layout = StereoLayout.parse(layout)
    if not layout.is_stereo:
        return frame, frame
    h, w = frame.shape[:2]
    if layout.side_by_side:
        half = w // 2
        a, b = frame[:, :half], frame[:, half:2 * half]
    else:
        half = h // 2
        a, b = frame[:half], frame[half:2 * half]
    if layout.half:
        ew, eh = layout.eye_size(w, h)
        a = cv2.resize(np.ascontiguousarray(a), (ew, eh), interpolation=cv2.INTER_CUBIC)
        b = cv2.resize(np.ascontiguousarray(b), (ew, eh), interpolation=cv2.INTER_CUBIC)
    return (b, a) if layout.right_first else (a, b)


def eye_view(layout: "StereoLayout | str", side: int):
    """One eye of every frame of a packed clip, as a :class:`~lipsync_studio.face.analysis.FrameView` for the
    face tracker (``side``: 0 left, 1 right)."""
    from ..face.analysis import FrameView

    layout, side = StereoLayout.parse(layout), int(side)
    return FrameView(key=f"eye={layout.value}:{side}", size=layout.eye_size,
                     crop=lambda frame: np.ascontiguousarray(split(frame, layout)[side]))


def join(left: np.ndarray, right: np.ndarray, layout: "StereoLayout | str") -> np.ndarray:
    """Pack two eyes into one frame (the inverse of :func:`split`).

    Parameters
    ----------
    left, right : np.ndarray
        (H, W, C) or (H, W) eyes of the same shape and dtype.
    layout : StereoLayout
        The packing. Half layouts squeeze each eye to half width (or height) with area averaging;
        ``mono`` returns ``left``.

    Returns
    -------
    np.ndarray
        The packed frame, :meth:`StereoLayout.packed_size` pixels.
    """
    layout = StereoLayout.parse(layout)
    if left.shape != right.shape or left.dtype != right.dtype:
        raise ValueError(f"the eyes differ: left {left.shape} {left.dtype}, right {right.shape} {right.dtype}")
    if not layout.is_stereo:
        return left
    a, b = (right, left) if layout.right_first else (left, right)
    h, w = left.shape[:2]
    if layout.half:
        pw, ph = layout.packed_size(w, h)
        size = (pw // 2, ph) if layout.side_by_side else (pw, ph // 2)
        a = cv2.resize(np.ascontiguousarray(a), size, interpolation=cv2.INTER_AREA)
        b = cv2.resize(np.ascontiguousarray(b), size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(np.concatenate([a, b], axis=1 if layout.side_by_side else 0))


# -- detection ------------------------------------------------------------------------------------------

#: Half-frame similarity (detail NCC after the best small shift) above which two halves are one scene.
STEREO_SIMILARITY = 0.5
#: Below this the halves are unrelated: a 2D picture.
MONO_SIMILARITY = 0.3
#: Eye aspect (w/h as stored in the packed frame) at or above which side-by-side eyes are full width:
#: a full-SBS frame of square eyes is 2:1 (eye aspect 1.0), a half-SBS 16:9 frame has eyes of 0.89.
FULL_SBS_MIN_EYE_ASPECT = 0.95
#: Eye aspect at or below which top-bottom eyes are full height (full TB 16:9 eyes: 1.78; half TB of a
#: square frame: 2.0).
FULL_TB_MAX_EYE_ASPECT = 1.9


@dataclass(frozen=True)
class NameHint:
    """What a file name says about its packing (None: the name does not say)."""

    stereo: bool | None = None
    top_bottom: bool | None = None
    half: bool | None = None
    right_first: bool | None = None


def layout_from_name(path: str | Path) -> NameHint:
    """Read the packing hints in a file name.

    Recognised tokens (case-insensitive, separated by ``_ - . space``): ``LRF``/``Full_SBS``/``FSBS``
    (full side by side, left first), ``SBS``/``LR``/``3D``, ``Half``/``HSBS``/``3dh``/``lrh`` (half),
    ``RL``/``cross`` (right first), ``TB``/``OU``/``AB``/``3dv``/``tbh``/``HTB`` (top-bottom),
    ``BT`` (bottom-top), ``2D``/``mono`` (not stereo). VR players use the same tokens.
    """
    tokens = set(re.split(r"[^a-z0-9]+", Path(path).stem.lower())) - {""}
    if tokens & {"2d", "mono", "flat"}:
        return NameHint(stereo=False)
    sbs = tokens & {"sbs", "lr", "lrf", "fsbs", "hsbs", "3dh", "lrh", "rl", "rlh", "cross", "crosseyed"}
    tb = tokens & {"tb", "ou", "ab", "tbh", "htb", "hou", "bt", "bth", "3dv", "overunder", "topbottom"}
    if not sbs and not tb:
        return NameHint(stereo=True) if tokens & {"3d", "stereo"} else NameHint()
    if sbs and tb:
        return NameHint(stereo=True)
    half: bool | None = None
    if tokens & {"half", "hsbs", "3dh", "lrh", "rlh", "htb", "tbh", "hou", "bth", "3dv"}:
        half = True
    elif tokens & {"full", "fsbs", "lrf"}:
        half = False
    right_first: bool | None = None
    if tokens & {"rl", "rlh", "cross", "crosseyed", "bt", "bth"}:
        right_first = True
    elif tokens & {"lr", "lrf", "lrh", "tbl"}:
        right_first = False
    return NameHint(stereo=True, top_bottom=bool(tb), half=half, right_first=right_first)


@dataclass(frozen=True)
class LayoutEvidence:
    """What :func:`layout_evidence` measured on a clip.

    Attributes
    ----------
    sbs_similarity: median over sampled frames of the left-half/right-half similarity (detail NCC after the
        best shift, -1..1); NaN when no frame had detail.
    tb_similarity: the same for the top and bottom halves.
    order_cue_sbs, order_cue_tb: median (centre disparity - border disparity) in packed pixels, taking the
        first half as the left eye; positive says the first half is the left eye (the centre is nearer).
    frames: frames that had enough detail to measure.
    name: the file name's hints.
    width, height: packed frame size.
    """

    sbs_similarity: float
    tb_similarity: float
    order_cue_sbs: float
    order_cue_tb: float
    frames: int
    name: NameHint
    width: int
    height: int


def _detail(gray: np.ndarray, max_side: int) -> np.ndarray:
    """Gray float image scaled to at most ``max_side`` px, low frequencies removed (shading, gradients)."""
    h, w = gray.shape
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        gray = cv2.resize(gray, (max(8, round(w * scale)), max(8, round(h * scale))), interpolation=cv2.INTER_AREA)
    g = gray.astype(np.float32)
    return g - cv2.GaussianBlur(g, (0, 0), 2.0)


def _best_shift(a: np.ndarray, b: np.ndarray, mx: int, my: int) -> tuple[float, float]:
    """NCC of ``a``'s centre found in ``b`` within ±mx, ±my px: (best score, horizontal offset of b vs a).

    The offset is sub-pixel (parabola through the peak); a point at x in ``a`` is at x + offset in ``b``.
    """
    h, w = a.shape
    if h <= 2 * my + 4 or w <= 2 * mx + 4:
        return float("nan"), 0.0
    templ = a[my:h - my, mx:w - mx]
    if float(templ.std()) < 1e-3 or float(b.std()) < 1e-3:
        return float("nan"), 0.0
    res = cv2.matchTemplate(b, templ, cv2.TM_CCOEFF_NORMED)
    _, score, _, (px, py) = cv2.minMaxLoc(res)
    dx = 0.0
    if 0 < px < res.shape[1] - 1:
        l, c, r = res[py, px - 1], res[py, px], res[py, px + 1]
        den = l - 2 * c + r
        if den < 0:
            dx = float(0.5 * (l - r) / den)
    return float(score), px + dx - mx


def _halves(gray: np.ndarray, top_bottom: bool) -> tuple[np.ndarray, np.ndarray]:
    h, w = gray.shape
    if top_bottom:
        return gray[:h // 2], gray[h // 2:2 * (h // 2)]
    return gray[:, :w // 2], gray[:, w // 2:2 * (w // 2)]


def _without_bars(gray: np.ndarray, across: bool, flat: float = 3.0) -> np.ndarray:
    """``gray`` without the plain bars along the edges that the halves' split does not cut: pillar bars (plain
    columns at the left and right) for a top/bottom comparison (``across``), letterbox bars (plain rows) for a
    side-by-side one. A bar's straight edge is the same in both halves at any shift along it, so a flat portrait
    framed by bars read as a stereo pair; the bars say nothing about the eyes (each eye keeps the same columns or
    rows, so the halves stay aligned). ``flat``: the largest standard deviation (grey levels) of a bar's line."""
    spread = gray.std(axis=0 if across else 1)
    plain = spread < flat
    n = len(plain)
    lead = int(np.argmin(plain)) if not plain.all() else n
    trail = int(np.argmin(plain[::-1])) if not plain.all() else 0
    if lead + trail > 0.8 * n:  # (nearly) a plain picture: nothing to take away from
        return gray
    return gray[:, lead:n - trail] if across else gray[lead:n - trail]


def _pair_measures(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(similarity of two halves, order cue in their own pixels) for one frame.

    The similarity is the median over a 3x3 grid of tiles of each tile's best NCC within a small shift:
    tiles let near and far parts of a stereo pair each find their own disparity.
    """
    da, db = _detail(a, 256), _detail(b, 256)
    h, w = da.shape
    mx, my = max(3, int(np.ceil(0.1 * w))), max(1, int(np.ceil(0.03 * h)))
    scores = []
    ys, xs = np.linspace(0, h, 4).astype(int), np.linspace(0, w, 4).astype(int)
    for r in range(3):
        for c in range(3):
            y0, y1 = max(0, ys[r] - my), min(h, ys[r + 1] + my)
            x0, x1 = max(0, xs[c] - mx), min(w, xs[c + 1] + mx)
            sc, _ = _best_shift(da[y0:y1, x0:x1], db[y0:y1, x0:x1], mx, my)
            if np.isfinite(sc):
                scores.append(sc)
    score = float(np.median(scores)) if len(scores) >= 3 else float("nan")
    if not np.isfinite(score) or score < MONO_SIMILARITY:
        return score, 0.0
    # Order cue at a finer scale: the disparity of the centre vs the left/right borders. In b (taken as the
    # right eye) a point moves by -d; a nearer centre has the larger d.
    fa, fb = _detail(a, 400), _detail(b, 400)
    s = a.shape[1] / fa.shape[1]
    h, w = fa.shape
    mx, my = max(3, int(np.ceil(0.08 * w))), max(1, int(np.ceil(0.02 * h)))
    cy0, cy1, cx0, cx1 = int(0.2 * h), int(0.8 * h), int(0.3 * w), int(0.7 * w)
    y0, y1 = max(0, cy0 - my), min(h, cy1 + my)
    sc, oc = _best_shift(fa[y0:y1, max(0, cx0 - mx):cx1 + mx], fb[y0:y1, max(0, cx0 - mx):cx1 + mx], mx, my)
    strip = max(int(0.22 * w), 2 * mx + 8)
    borders = []
    for x0, x1 in ((0, strip), (w - strip, w)):
        sb, ob = _best_shift(fa[:, x0:x1], fb[:, x0:x1], mx, my)
        if np.isfinite(sb) and sb > MONO_SIMILARITY:
            borders.append(ob)
    if not (np.isfinite(sc) and sc > MONO_SIMILARITY) or not borders:
        return score, 0.0
    return score, float(-oc + np.median(borders)) * s


def layout_evidence(source: "VideoReader | str | Path", samples: int = 8,
                    within_s: float | None = None) -> LayoutEvidence:
    """Measure the left/right and top/bottom similarity of ``samples`` frames spread through a clip (through its
    first ``within_s`` seconds only, when given: decoded in one short run from the first keyframe)."""
    reader = source if isinstance(source, VideoReader) else VideoReader(source)
    try:
        info = reader.info
        n = info.n_frames
        last = n - 1 if within_s is None else min(n - 1, int(round(within_s * float(info.fps))))
        picks = sorted({int(k) for k in np.linspace(0, last, min(samples, n)).round()}) if n else []
        sims: dict[bool, list[float]] = {False: [], True: []}
        cues: dict[bool, list[float]] = {False: [], True: []}
        for _, rgb in reader.frames_at(picks):
            gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
            for tb in (False, True):
                sim, cue = _pair_measures(*_halves(_without_bars(gray, across=tb), tb))
                if np.isfinite(sim):
                    sims[tb].append(sim)
                    if sim >= STEREO_SIMILARITY:
                        cues[tb].append(cue)
    finally:
        if reader is not source:
            reader.close()
    med = lambda v: float(np.median(v)) if v else float("nan")  # noqa: E731
    return LayoutEvidence(med(sims[False]), med(sims[True]), med(cues[False]) if cues[False] else 0.0,
                          med(cues[True]) if cues[True] else 0.0, max(len(sims[False]), len(sims[True])),
                          layout_from_name(info.path), info.width, info.height)


def decide_layout(ev: LayoutEvidence) -> tuple[StereoLayout, float]:
    """Turn measured evidence into a layout and a confidence in [0, 1] (see :func:`detect_layout`)."""
    sbs = ev.sbs_similarity if np.isfinite(ev.sbs_similarity) else -1.0
    tb = ev.tb_similarity if np.isfinite(ev.tb_similarity) else -1.0
    measured = ev.frames > 0
    name = ev.name
    best_tb = tb > sbs
    best = max(sbs, tb)
    if name.stereo is False:
        if best < 0.8:
            return StereoLayout.MONO, 0.9
        name = NameHint()  # the content clearly says stereo: the name is wrong
    if name.top_bottom is not None:
        on_axis = tb if name.top_bottom else sbs
        off_axis = sbs if name.top_bottom else tb
        if not measured or on_axis >= MONO_SIMILARITY or off_axis < STEREO_SIMILARITY:
            top_bottom = name.top_bottom
            confidence = 0.95 if on_axis >= STEREO_SIMILARITY else (0.75 if on_axis >= MONO_SIMILARITY else 0.5)
        else:  # the picture contradicts the name
            top_bottom, confidence = best_tb, _stereo_confidence(best, min(sbs, tb))
    elif best >= STEREO_SIMILARITY and best - min(sbs, tb) >= 0.1:
        top_bottom, confidence = best_tb, _stereo_confidence(best, min(sbs, tb))
        if name.stereo:
            confidence = max(confidence, 0.9)
    else:
        if best >= STEREO_SIMILARITY:  # both axes match: a flat or repetitive picture, undecidable
            return StereoLayout.MONO, 0.3
        confidence = float(np.clip((STEREO_SIMILARITY - best) / (STEREO_SIMILARITY - MONO_SIMILARITY + 0.2), 0.3, 0.95))
        return StereoLayout.MONO, confidence if measured else 0.3

    half = name.half if name.top_bottom == top_bottom or name.top_bottom is None else None
    if half is None:
        if top_bottom:
            half = ev.width / max(ev.height // 2, 1) > FULL_TB_MAX_EYE_ASPECT
        else:
            half = (ev.width // 2) / max(ev.height, 1) < FULL_SBS_MIN_EYE_ASPECT
    right_first = name.right_first if name.top_bottom == top_bottom else None
    if right_first is None:
        cue = ev.order_cue_tb if top_bottom else ev.order_cue_sbs
        # Half an eye pixel of difference is the least we trust; without it, left first (the common case).
        threshold = 0.25 if (half and not top_bottom) else 0.5
        right_first = cue < -threshold
        if abs(cue) < threshold:
            confidence *= 0.9
    return StereoLayout.compose(top_bottom=top_bottom, half=half, right_first=right_first), float(confidence)


def _stereo_confidence(best: float, other: float) -> float:
    return float(np.clip(0.5 + (best - STEREO_SIMILARITY) + 0.5 * (best - other), 0.5, 0.99))


def detect_layout(source: "VideoReader | str | Path", samples: int = 8) -> tuple[StereoLayout, float]:
    """Guess how a clip packs its eyes.

    Parameters
    ----------
    source : VideoReader or path
        The clip.
    samples : int
        Frames spread through the clip to compare (each costs one decode and a few small correlations).

    Returns
    -------
    layout : StereoLayout
        ``mono`` when the halves do not show one scene.
    confidence : float
        0..1; below ~0.6 ask the user (or let them override with ``--layout``).
    """
    if samples > 3:
        # Three frames of the first second usually settle it; frames through the whole clip only when they
        # leave doubt. Frames far into the clip cost a decode from the keyframe before them: a clip with one
        # keyframe (x264's default is one every 250 frames) was decoded whole, 0.35-0.5 s of a 10 s 720p sync.
        layout, confidence = decide_layout(layout_evidence(source, 3, within_s=1.0))
        if confidence >= 0.9:
            return layout, confidence
    return decide_layout(layout_evidence(source, samples))


# -- reading ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StereoInfo:
    """A stereo clip as the app sees it.

    Attributes
    ----------
    path: the (left or packed) file; right_path: the right eye's file, or None when packed.
    layout: the packing of ``path`` (``mono`` for two separate files, or for a 2D clip).
    confidence: 1 when the user chose the layout, else :func:`detect_layout`'s confidence.
    eye_width, eye_height: size of one eye (px) as the reader yields it.
    fps, n_frames, duration: the timeline (shared by both eyes).
    packed: the file's own video info (the left file for two files).
    layout_source: ``user``, ``metadata`` (the file declares it: ``st3d``, Matroska StereoMode, frame-packing
        SEI) or ``pictures`` (detected).
    vr: what the file declares (:class:`~lipsync_studio.media.vrmeta.VRMetadata`), or None when not read.
    """

    path: Path
    right_path: Path | None
    layout: StereoLayout
    confidence: float
    eye_width: int
    eye_height: int
    fps: Fraction
    n_frames: int
    duration: float
    packed: VideoInfo
    layout_source: str = "user"
    vr: object = None

    @property
    def is_stereo(self) -> bool:
        """True when the clip has two eyes (packed, or two files)."""
        return self.right_path is not None or self.layout.is_stereo


def _fps_text(fps: Fraction) -> str:
    return f"{float(fps):.3f}".rstrip("0").rstrip(".")


class StereoReader:
    """Both eyes of a stereo clip, frame by frame: one packed file, or two files (left and right).

    Parameters
    ----------
    path : path
        The packed clip, or the left eye's clip when ``right`` is given.
    layout : StereoLayout or str
        ``auto`` (what the file's metadata declares, else detected from the pictures), or the packing of
        ``path``. Must be ``auto`` or ``mono`` with ``right``.
    right : path, optional
        The right eye's clip; it must have the same frame count, frame rate and size as ``path``.

    Raises
    ------
    MediaError
        A file cannot be read, or the two eyes' files do not match.
    OptionError
        ``right`` was given with a packed layout.

    Frames are ``(eye_height, eye_width, 3) uint8 RGB``. Use as a context manager or call :meth:`close`.
    """

    def __init__(self, path: str | Path, layout: "StereoLayout | str" = "auto", right: str | Path | None = None,
                 *, samples: int = 8) -> None:
        auto = isinstance(layout, str) and layout.strip().lower() == "auto"
        chosen = None if auto else StereoLayout.parse(layout)
        self._left = VideoReader(path)
        self._right: VideoReader | None = None
        source, vr = "user", None
        try:
            li = self._left.info
            if right is not None:
                if chosen is not None and chosen.is_stereo:
                    raise OptionError(f"--right gives the right eye as its own file, so the layout of {li.path.name} "
                                      f"cannot be {chosen.value}", hint="leave the layout at auto, or say mono")
                self._right = VideoReader(right)
                ri = self._right.info
                if ri.n_frames != li.n_frames or ri.fps != li.fps:
                    raise MediaError(
                        f"has {ri.n_frames} frames at {_fps_text(ri.fps)} fps, but the left eye {li.path.name} has "
                        f"{li.n_frames} frames at {_fps_text(li.fps)} fps", path=ri.path,
                        hint="the two eyes must match frame for frame: export both from the same edit, "
                             "same length and frame rate")
                if (ri.width, ri.height) != (li.width, li.height):
                    raise MediaError(f"is {ri.width}x{ri.height}, but the left eye {li.path.name} is "
                                     f"{li.width}x{li.height}", path=ri.path,
                                     hint="the two eyes must have the same frame size")
                self.layout, confidence = StereoLayout.MONO, 1.0
            else:
                from ..media.vrmeta import read_vr_metadata

                vr = read_vr_metadata(li.path)
                if vr.views > 1:
                    from .vr import refuse_second_view

                    refuse_second_view(vr, li.path, li.views)
                if chosen is not None:
                    self.layout, confidence = chosen, 1.0
                elif vr.layout is not None:
                    self.layout, confidence, source = StereoLayout.parse(vr.layout), 1.0, "metadata"
                else:
                    (self.layout, confidence), source = detect_layout(self._left), "pictures"
            ew, eh = self.layout.eye_size(li.width, li.height)
            self.info = StereoInfo(li.path, None if self._right is None else self._right.info.path, self.layout,
                                   confidence, ew, eh, li.fps, li.n_frames, li.duration, li, source, vr)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Release the decoders."""
        self._left.close()
        if self._right is not None:
            self._right.close()

    def __enter__(self) -> "StereoReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return self.info.n_frames

    def __iter__(self) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        return self.iter_pairs()

    def iter_pairs(self, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """Stream ``(index, left, right)`` for timeline frames ``start <= index < stop`` (bounded memory)."""
        if self._right is None:
            for i, frame in self._left.iter_frames(start, stop):
                left, right = split(frame, self.layout)
                yield i, left, right
            return
        for (i, left), (_, right) in zip(self._left.iter_frames(start, stop), self._right.iter_frames(start, stop)):
            yield i, left, right

    def pairs_at(self, indices: Iterable[int]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The (left, right) eyes of each of ``indices`` (increasing), decoded in one forward pass where it pays
        (:meth:`~lipsync_studio.media.video.VideoReader.frames_at`)."""
        indices = list(indices)
        if self._right is not None:
            for (_, left), (_, right) in zip(self._left.frames_at(indices), self._right.frames_at(indices)):
                yield left, right
            return
        for _, frame in self._left.frames_at(indices):
            yield split(frame, self.layout)

    def pair(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The (left, right) eyes of timeline frame ``index`` (random access, for scrubbing)."""
        if self._right is not None:
            return self._left.frame(index), self._right.frame(index)
        return split(self._left.frame(index), self.layout)
