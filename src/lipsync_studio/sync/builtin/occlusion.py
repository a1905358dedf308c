"""Frames where something in front of the mouth covers it (a microphone, a cup, a hand): not drawn, not lent.

The face tracker goes on placing the lips behind whatever covers them, so a mouth drawn there was drawn over the
microphone, and a frame whose "mouth" was the microphone, lent as a donor, pasted pieces of it into other frames
(looked at: an interview-style clip with a hand microphone raised to the chin for two seconds came out with the mic
cut through, doubled, and a black hole in a later mouth). A covered mouth says nothing anyway: those frames are left
as they are, with the drawn mouth faded out and in around them, never lent, and the user is told which.

The sign: against the same frame's cheeks (:func:`~.crops.lips_against_skin`), lips are redder and darker by amounts
of the speaker's own, steady over a clip; where something covers them the lip band takes its colour. On the six real
talking heads of the development media (4 700 frames) no frame reads as covered at these thresholds (lips redder by
4-30 a* levels, their lightness within 42 L levels of its median); under a dark hand microphone every frame where
it covers the lips does (lips 6 levels *less* red than the skin where they were 29 redder). A hand over pale lips (a
man's, barely redder and darker than his skin) is not seen: it is skin over lips of nearly skin's colour.
"""

from __future__ import annotations

import numpy as np

#: Lips less red against the skin than the clip's median by this many a* levels (or by 60 % of that median, where
#: more) read as covered.
REDNESS_DROP = 8.0
REDNESS_SHARE = 0.6
#: Lips lighter against the skin than the clip's median by more than this (L levels, 0-255) read as covered (a
#: hand, a cup, paper over lips darker than skin). Darker does not: a wide-open mouth's dark inside reaches into the
#: lip band (a dark microphone shows as lips no redder than skin).
LIGHTNESS_SHIFT = 50.0
#: Frames around a covered run that count as covered too (s): what covers the lips passes over the chin or the
#: cheek on its way in and out, and the lent lower face would be drawn over it there.
APPROACH_S = 0.25
#: Gaps between covered runs shorter than this (s) count as covered (the lips peek out for a frame or two).
BRIDGE_S = 0.25
#: Frames over which the drawn mouth fades out before a covered run and in after it.
FADE_FRAMES = 3
#: L* + 16 on OpenCV's 0-255 lightness scale: what goes as the cube root of the luminance.
LAB_OFFSET = 16 * 2.55
#: A mouth whose outer lip contour comes within this many pixels of the picture's edge is not drawn
#: (:func:`outside_picture`).
EDGE_PX = 2.0


def covered_frames(redder: np.ndarray, lighter: np.ndarray, fps: float,
                   skin: np.ndarray | None = None) -> np.ndarray:
    """(T,) bool: the clip frames whose mouth something covers (see the module doc).

    Parameters
    ----------
    redder, lighter: (T,) per frame, how much redder and lighter the lips are than the cheeks
        (:func:`~.crops.lips_against_skin`; NaN where not measured).
    fps: the clip's frame rate.
    skin: (T,) the cheeks' lightness (L, 0-255), or None. Lab's differences shrink with the light: a picture
        darkened k times has them k^(1/3) as large (L* + 16 goes as the cube root of the luminance), so a fade to
        black read as lips no longer redder than skin; with ``skin`` both are scaled back to the clip's usual light.
    """
    redder = np.asarray(redder, np.float64)
    lighter = np.asarray(lighter, np.float64)
    if skin is not None:
        skin = np.asarray(skin, np.float64)
        lit = np.isfinite(skin)
        if lit.any():
            usual = float(np.median(skin[lit])) + LAB_OFFSET
            scale = np.where(lit, usual / np.maximum(skin + LAB_OFFSET, 1.0), np.nan)
            redder, lighter = redder * scale, lighter * scale
    seen = np.isfinite(redder) & np.isfinite(lighter)
    covered = np.zeros(len(redder), bool)
    if seen.sum() < 10:
        return covered
    red, light = float(np.median(redder[seen])), float(np.median(lighter[seen]))
    drop = max(REDNESS_DROP, REDNESS_SHARE * red)
    covered[seen] = (redder[seen] < red - drop) | (lighter[seen] - light > LIGHTNESS_SHIFT)
    if not covered.any():
        return covered
    covered = _bridged(covered, int(round(BRIDGE_S * fps)))
    return _grown(covered, int(round(APPROACH_S * fps)))


def _bridged(flags: np.ndarray, gap: int) -> np.ndarray:
    """``flags`` with runs of False at most ``gap`` long between two True runs set True."""
    out = flags.copy()
    on = np.flatnonzero(flags)
    for a, b in zip(on[:-1], on[1:]):
        if 1 < b - a <= gap + 1:
            out[a:b] = True
    return out


def _grown(flags: np.ndarray, by: int) -> np.ndarray:
    """``flags`` with every True run grown by ``by`` frames on both sides."""
    if by <= 0:
        return flags.copy()
    c = np.concatenate([[0], np.cumsum(flags)])
    n = len(flags)
    k = np.arange(n)
    lo, hi = np.clip(k - by, 0, n), np.clip(k + by + 1, 0, n)
    return (c[hi] - c[lo]) > 0


def drawing_weight(covered: np.ndarray, fade: int = FADE_FRAMES) -> np.ndarray:
    """(T,) float32 in [0, 1]: how strongly each clip frame's mouth is drawn: 0 where covered, rising over ``fade``
    frames away from a covered run, 1 beyond."""
    if not covered.any():
        return np.ones(len(covered), np.float32)
    return np.clip(_distance(covered) / (fade + 1.0), 0.0, 1.0).astype(np.float32)


def outside_picture(landmarks: np.ndarray, width: int, height: int, margin: float = EDGE_PX) -> np.ndarray:
    """(T,) bool: the clip frames whose lips the picture's edge cuts (an extreme close-up framed at the mouth, a
    head leaving the frame): a point of the outer lip contour within ``margin`` px of the edge or beyond it.

    The tracker places the lips beyond the edge where it cannot see them, and loosely near it. Drawn there, a
    mouth came out as a pale sliver of lip and teeth at the bottom edge (KatieHill cut just under her upper lip),
    or pale lips over the frame's own teeth showing through where the donor's own frame ended; such a frame, lent,
    lends lips without their lower half. Like a covered mouth, it is left as it is, faded around, and not lent.

    Parameters
    ----------
    landmarks: (T, >=468, >=2) the speaker's landmarks in the frame's pixels (NaN where absent: not cut).
    width, height: the picture's size.
    """
    from ...face.track import LIPS_OUTER

    lips = np.asarray(landmarks)[:, list(LIPS_OUTER), :2]
    with np.errstate(invalid="ignore"):
        inside = ((lips >= margin) & (lips <= np.array([width, height]) - 1 - margin)).all(axis=(1, 2))
    return np.isfinite(lips).all(axis=(1, 2)) & ~inside


def _distance(flags: np.ndarray) -> np.ndarray:
    """Frames from each frame to the nearest True one (two passes)."""
    n = len(flags)
    d = np.full(n, n, np.int64)
    last = -n
    for k in range(n):
        if flags[k]:
            last = k
        d[k] = k - last
    last = 2 * n
    for k in range(n - 1, -1, -1):
        if flags[k]:
            last = k
        d[k] = min(d[k], last - k)
    return d


def covered_spans(covered: np.ndarray) -> list[tuple[int, int]]:
    """``[(first, last), ...]``: the covered runs, first and last frame of each."""
    on = np.flatnonzero(covered)
    if not len(on):
        return []
    breaks = np.flatnonzero(np.diff(on) > 1)
    starts = np.concatenate([[on[0]], on[breaks + 1]])
    ends = np.concatenate([on[breaks], [on[-1]]])
    return [(int(a), int(b)) for a, b in zip(starts, ends)]
