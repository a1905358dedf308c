"""Lower-face crops kept while the clip is being tracked, so the donor bank needs no second decoding pass.

The tracker hands every frame and its detections to :meth:`FaceCrops.keep`; the crop around each face's
lower half is kept (a margin wide enough for the bank's warp), within a memory budget (:class:`KeepPolicy`: a clip
whose crops outgrow it keeps runs of frames spread over the whole clip and around its most open and most shut
mouths, and the donors are chosen among those, :func:`kept_frames`). Later, when the donors are chosen, a donor's
bank image is warped from its kept crop exactly as it would have been from the whole frame; donors whose crop was
not kept (the tracks came from the cache, another face took the memory) are read from the clip as before.

Every face's mouth detail (:func:`mouth_detail`), the teeth showing between its lips (:func:`teeth_between_lips`)
and the mouth's look (:func:`mouth_look`) are measured on the same pass, budget or not, so the planner can prefer
sharp donors, shut lips that really meet, and donors that look like the one before, without decoding the clip
again.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ...face.track import LIPS_INNER, LIPS_OUTER
from ...face.tracker import landmark_box
from ..mouth import EYE_CORNERS, SUBNASALE

#: Margin around the lower face, in eye distances: the bank's region reaches 0.27 beyond its points.
_MARGIN = 0.45


def outer_lips(landmarks: np.ndarray) -> tuple[np.ndarray, float] | None:
    """The outer lip contour ((20, 2) pixels) and the eye distance of a face's landmarks ((468 or 478, >=2)), or
    None for a degenerate face."""
    pts = landmarks[:, :2]
    eye = float(np.linalg.norm(pts[EYE_CORNERS[0]] - pts[EYE_CORNERS[1]]))
    outer = pts[list(LIPS_OUTER)]
    if not (np.isfinite(outer).all() and np.isfinite(eye)) or eye <= 0:
        return None
    return outer, eye


def mouth_detail(frame: np.ndarray, landmarks: np.ndarray) -> float:
    """How sharp a frame's mouth is: the variance of the 3x3 Laplacian of the grey mouth box (the outer lip
    contour's box grown by 0.15 eye distances) outside the inner lip contour (teeth and tongue, which come and
    go with the shape, are left out). NaN for a degenerate face.

    Parameters
    ----------
    frame: (h, w, 3) uint8 RGB.
    landmarks: (468 or 478, >=2) landmarks in the frame's pixels.
    """
    import cv2

    lips = outer_lips(landmarks)
    if lips is None:
        return float("nan")
    outer, eye = lips
    pts = landmarks[:, :2]
    h, w = frame.shape[:2]
    x0, y0 = np.floor(outer.min(0) - 0.15 * eye).astype(int)
    x1, y1 = np.ceil(outer.max(0) + 0.15 * eye).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 6 or y1 - y0 < 6:
        return float("nan")
    grey = cv2.cvtColor(np.ascontiguousarray(frame[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY).astype(np.float32)
    lap = cv2.Laplacian(grey, cv2.CV_32F, ksize=1)
    keep = np.ones(grey.shape, np.uint8)
    inner = np.round((pts[list(LIPS_INNER)] - [x0, y0]) * 4).astype(np.int32)
    cv2.fillPoly(keep, [inner], 0, cv2.LINE_8, shift=2)
    keep[0, :] = keep[-1, :] = 0  # the Laplacian's border rows and columns see a reflected edge
    keep[:, 0] = keep[:, -1] = 0
    vals = lap[keep.astype(bool)]
    return float(vals.var()) if len(vals) >= 16 else float("nan")


#: The inner lip contour's middle half, upper and lower points paired across the mouth (left to right).
_UPPER_MIDDLE = (81, 82, 13, 312, 311)
_LOWER_MIDDLE = (178, 87, 14, 317, 402)
#: How far above and below the line where the lips meet teeth are looked for (eye distances).
TEETH_REACH = 0.05


def teeth_between_lips(frame: np.ndarray, landmarks: np.ndarray, lighter: float = 25.0,
                       greyer: float = 0.6) -> float:
    """How much of the teeth shows where the lips meet: the mean height (eye distances) of the pixels that are
    lighter and greyer than the lips within :data:`TEETH_REACH` of the line midway between the inner lip
    contours, over the middle half of the mouth. 0 for lips that meet; NaN for a degenerate face or one at the
    frame's edge.

    The face tracker puts the inner lip contours of slightly parted lips over the teeth's edges, so lips a few
    pixels apart with the teeth showing between them can read as shut (on a real talking head a frame with a
    band of teeth 3 px high measured an inner-lip gap of 0.004 eye distances, its truly shut frames 0.000-0.002):
    drawn for a p, b or m, such a donor shows teeth where the lips should meet.

    Parameters
    ----------
    frame: (h, w, 3) uint8 RGB.
    landmarks: (468 or 478, >=2) landmarks in the frame's pixels.
    lighter: luma (BT.601, 0-255) above the lips' own that a teeth pixel has at least.
    greyer: a teeth pixel's colourfulness (its largest channel less its smallest) is below this share of the
        lips'.
    """
    pts = landmarks[:, :2].astype(np.float64)
    eye = float(np.linalg.norm(pts[EYE_CORNERS[0]] - pts[EYE_CORNERS[1]]))
    mid = 0.5 * (pts[list(_UPPER_MIDDLE)] + pts[list(_LOWER_MIDDLE)])
    # The lips' own colour: the middle of the upper lip's body and of the lower lip's.
    bodies = np.stack([0.5 * (pts[0] + pts[13]), 0.5 * (pts[14] + pts[17])])
    if not (np.isfinite(mid).all() and np.isfinite(bodies).all() and np.isfinite(eye)) or eye <= 0:
        return float("nan")
    reach = TEETH_REACH * eye
    order = np.argsort(mid[:, 0])
    mx, my = mid[order, 0], mid[order, 1]
    x0, x1 = int(np.floor(mx[0])), int(np.ceil(mx[-1])) + 1
    y0, y1 = int(np.floor(my.min() - reach)), int(np.ceil(my.max() + reach)) + 1
    h, w = frame.shape[:2]
    corners = np.round(bodies).astype(int)
    if (x1 - x0 < 2 or x0 < 2 or y0 < 1 or x1 + 2 > w or y1 > h
            or (corners < 2).any() or (corners[:, 0] + 3 > w).any() or (corners[:, 1] + 2 > h).any()):
        return float("nan")

    def luma_and_colour(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        f = rgb.astype(np.float32)
        return f @ np.array([0.299, 0.587, 0.114], np.float32), f.max(-1) - f.min(-1)

    patches = [frame[cy - 1:cy + 2, cx - 2:cx + 3] for cx, cy in corners]
    lips_luma, lips_colour = (float(np.median(np.concatenate([v.ravel() for v in values])))
                              for values in zip(*(luma_and_colour(p) for p in patches)))
    luma, colour = luma_and_colour(frame[y0:y1, x0:x1])
    teeth = (luma > lips_luma + lighter) & (colour < greyer * lips_colour)
    line = np.interp(np.arange(x0, x1), mx, my)
    band = np.abs(np.arange(y0, y1)[:, None] - line[None, :]) <= reach
    return float((teeth & band).sum()) / (x1 - x0) / eye


#: Landmarks on the cheeks below the eyes, beside the nose: skin that what covers a mouth (a microphone, a cup, a hand
#: at the chin) seldom covers at the same time.
CHEEKS = (50, 280, 205, 425)


def lips_against_skin(frame: np.ndarray, landmarks: np.ndarray) -> tuple[float, float, float]:
    """``(redder, lighter, skin)``: how much redder (Lab a*, 0-255 scale) and lighter (L, 0-255) the lips are than
    the cheeks' skin in this frame (medians of the lip band, outer less inner contour, and of small patches at
    :data:`CHEEKS`), and the skin's own lightness. Lips are redder and darker than skin in every frame of a clip, by
    amounts of the speaker's own; a frame where something in front of the mouth covers them reads far from those
    (:mod:`.occlusion`). Against the same frame's skin, so that lighting changing over the clip changes both alike
    (a fade to black shrinks both differences with the skin's lightness: :func:`~.occlusion.covered_frames` scales
    them back). NaN for a degenerate face or one at the frame's edge."""
    import cv2

    lips = outer_lips(landmarks)
    nothing = float("nan"), float("nan"), float("nan")
    if lips is None:
        return nothing
    outer, eye = lips
    pts = landmarks[:, :2]
    h, w = frame.shape[:2]
    r = max(2, int(round(0.08 * eye)))
    cheeks = np.round(pts[list(CHEEKS)]).astype(int)
    x0, y0 = np.floor(outer.min(0)).astype(int) - 2
    x1, y1 = np.ceil(outer.max(0)).astype(int) + 3
    if (x0 < 0 or y0 < 0 or x1 > w or y1 > h or (cheeks < r).any() or (cheeks[:, 0] + r > w).any()
            or (cheeks[:, 1] + r > h).any()):
        return nothing
    band = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(band, [np.round((outer - [x0, y0]) * 4).astype(np.int32)], 1, shift=2)
    cv2.fillPoly(band, [np.round((pts[list(LIPS_INNER)] - [x0, y0]) * 4).astype(np.int32)], 0, shift=2)
    band = cv2.erode(band, np.ones((3, 3), np.uint8)) > 0
    if band.sum() < 12:
        return nothing
    lips_lab = cv2.cvtColor(np.ascontiguousarray(frame[y0:y1, x0:x1]), cv2.COLOR_RGB2Lab)[band]
    skin = np.concatenate([cv2.cvtColor(np.ascontiguousarray(frame[cy - r:cy + r, cx - r:cx + r]),
                                        cv2.COLOR_RGB2Lab).reshape(-1, 3) for cx, cy in cheeks])
    lip, sk = np.median(lips_lab, axis=0), np.median(skin, axis=0)
    return float(lip[1]) - float(sk[1]), float(lip[0]) - float(sk[0]), float(sk[0])


#: A mouth's look, as the donor schedule compares two (:func:`mouth_look`): grey, this many pixels across and down,
#: over a box :data:`LOOK_BOX` eye distances wide and high centred on the lips.
LOOK_SIZE = (24, 16)
LOOK_BOX = (1.8, 1.2)


def mouth_look(frame: np.ndarray, landmarks: np.ndarray) -> np.ndarray | None:
    """(16, 24) uint8: the mouth and the skin around it in grey (``frame``: (h, w, 3) uint8 RGB; ``landmarks`` in
    its pixels), averaged down to :data:`LOOK_SIZE`: a smile, teeth showing, a lit lip tell apart at that size; the
    lips' fine detail does not matter. None for a degenerate face or one whose box leaves the frame."""
    import cv2

    lips = outer_lips(landmarks)
    if lips is None:
        return None
    centre, eye = lips[0].mean(0), lips[1]
    (cw, ch), (bw, bh) = LOOK_SIZE, LOOK_BOX
    x0, x1 = int(round(centre[0] - 0.5 * bw * eye)), int(round(centre[0] + 0.5 * bw * eye))
    y0, y1 = int(round(centre[1] - 0.5 * bh * eye)), int(round(centre[1] + 0.5 * bh * eye))
    h, w = frame.shape[:2]
    if x0 < 0 or y0 < 0 or x1 > w or y1 > h or x1 - x0 < cw or y1 - y0 < ch:
        return None
    grey = cv2.cvtColor(np.ascontiguousarray(frame[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey, (cw, ch), interpolation=cv2.INTER_AREA)


def _same_face(kept: Iterable[tuple], landmarks: np.ndarray) -> tuple | None:
    """The entry of ``kept`` (tuples whose first item is a face's landmark box) for the face with these raw
    landmarks, or None."""
    box = landmark_box(landmarks)
    return next((entry for entry in kept if np.allclose(entry[0], box, atol=1e-3)), None)


#: Frames kept together once the budget is spent: consecutive donors continue each other's motion (a run of the
#: donor bank, :func:`~.planner.choose_bank`).
RUN = 6


def lower_face_box(landmarks: np.ndarray, width: int, height: int) -> tuple[int, int, int, int] | None:
    """``x0, y0, x1, y1``: the crop :class:`FaceCrops` keeps of a face (its lower half and :data:`_MARGIN` eye
    distances around it) in a ``width`` x ``height`` frame, or None for a degenerate face or an empty box."""
    pts = landmarks[:468, :2]
    eye = float(np.linalg.norm(pts[EYE_CORNERS[0]] - pts[EYE_CORNERS[1]]))
    if not np.isfinite(eye) or eye <= 0:
        return None
    lower = pts[pts[:, 1] > pts[SUBNASALE, 1] - 0.3 * eye]
    m = _MARGIN * eye
    x0, y0 = np.floor(lower.min(0) - m).astype(int)
    x1, y1 = np.ceil(lower.max(0) + m).astype(int)
    x0, y0, x1, y1 = max(int(x0), 0), max(int(y0), 0), min(int(x1), width), min(int(y1), height)
    return None if x1 <= x0 or y1 <= y0 else (x0, y0, x1, y1)


def _opening(landmarks: np.ndarray) -> float:
    """The inner-lip gap in eye distances (NaN for a degenerate face): what ranks the most open and most shut runs."""
    pts = landmarks[:468, :2]
    eye = float(np.linalg.norm(pts[EYE_CORNERS[0]] - pts[EYE_CORNERS[1]]))
    return float(np.linalg.norm(pts[14] - pts[13])) / eye if np.isfinite(eye) and eye > 0 else float("nan")


class KeepPolicy:
    """Which frames' crops a memory budget keeps, decided as the frames come (a long or high-resolution clip's
    crops outgrow it: a 60 s 1080p close-up's are ~1.8 GB).

    Until the budget is spent every frame is kept. From then on (:attr:`thinned`) the frames are kept in runs of
    :data:`RUN`, as the donor bank holds them: every ``stride``-th run (the stride doubles whenever the budget is
    spent again, so the runs kept stay spread evenly over the clip so far), and the runs holding the most open and
    the most shut mouths of the clip so far (as many of each as a sixth of the runs the budget held when it was
    first spent), so every shape the speaker makes stays available. A run is decided when the next one begins:
    until then it is kept whole.

    Before, the first frames filled the budget and every donor after them was decoded again in a second pass
    over the rest of the clip: 3.1 s of a 60 s 1080p sync's 4.1 s planning.
    """

    def __init__(self, max_bytes: int, run: int = RUN) -> None:
        self.max_bytes = max_bytes
        self.run = run
        self.bytes = 0
        self.stride = 1
        self.thinned = False
        self._sizes: dict[int, int] = {}  # frame -> bytes kept for it
        self._gaps: dict[int, list[float]] = {}  # run -> openings of its frames so far
        self._scores: dict[int, tuple[float, float]] = {}  # decided run -> (most open, most shut) opening
        self._extremes = 0
        self._current = -1
        self._refused = -1

    def note(self, t: int, landmarks: np.ndarray, width: int, height: int
             ) -> tuple[tuple[int, int, int, int] | None, list[int]]:
        """:meth:`add` the crop :class:`FaceCrops` keeps of a face (``landmarks`` in a ``width`` x ``height``
        frame): ``(box, dropped)``, its :func:`lower_face_box` (None: nothing to keep, nothing noted) and the frames
        to drop. What the tracking pass keeps and :func:`kept_frames` decides again go through this one step."""
        box = lower_face_box(landmarks, width, height)
        if box is None:
            return None, []
        x0, y0, x1, y1 = box
        return box, self.add(t, (x1 - x0) * (y1 - y0) * 3, _opening(landmarks))

    def holds(self, t: int) -> bool:
        """Whether frame ``t`` is kept (so far)."""
        return t in self._sizes

    def frames(self) -> np.ndarray:
        """The frames kept, in order."""
        return np.array(sorted(self._sizes), np.int64)

    def add(self, t: int, nbytes: int, opening: float) -> list[int]:
        """Note ``nbytes`` more kept for frame ``t`` (frames come in order; a frame may be noted for several
        faces), whose mouth opening is ``opening`` (NaN: unknown). Returns the frames whose crops are to be
        dropped now (``t`` itself among them when it is not kept)."""
        if t == self._refused:  # another face of a frame not kept
            return [t]
        drop: list[int] = []
        r = t // self.run
        if r != self._current:
            done, self._current = self._current, r
            if done >= 0:
                drop += self._decide(done)
        self._gaps.setdefault(r, []).append(opening)
        self._sizes[t] = self._sizes.get(t, 0) + nbytes
        self.bytes += nbytes
        if self.bytes > self.max_bytes:
            if not self.thinned:
                self.thinned = True
                self._extremes = max(1, len({f // self.run for f in self._sizes}) // 6)
            while self.bytes > self.max_bytes and self.stride <= r:
                self.stride *= 2
                drop += self._thin()
            if self.bytes > self.max_bytes:  # the protected runs fill the budget: this frame is not kept
                self._refused = t
                drop += self._drop([t])
        return drop

    def _protected(self) -> set[int]:
        """The decided runs with the most open and the most shut mouths."""
        if not self._scores:
            return set()
        runs = list(self._scores)
        top = np.array([self._scores[q][0] for q in runs])
        low = np.array([self._scores[q][1] for q in runs])
        k = self._extremes
        # Stable orders (ties to the earlier run), unknown openings last.
        by_open = np.lexsort((runs, -np.nan_to_num(top, nan=-np.inf)))[:k]
        by_shut = np.lexsort((runs, np.nan_to_num(low, nan=np.inf)))[:k]
        return {runs[i] for i in by_open} | {runs[i] for i in by_shut}

    def _thin(self) -> list[int]:
        """Drop the frames of every run that is neither on the spread, nor among the extremes, nor being read."""
        protected = self._protected()
        return self._drop([f for f in self._sizes
                           if (q := f // self.run) != self._current and q % self.stride and q not in protected])

    def _decide(self, r: int) -> list[int]:
        """Run ``r`` is complete: score it, and (once thinned) drop it, or a run it displaced among the extremes,
        unless wanted."""
        gaps = np.array(self._gaps.pop(r, []), np.float64)
        known = gaps[np.isfinite(gaps)]
        self._scores[r] = (float(known.max()), float(known.min())) if len(known) else (np.nan, np.nan)
        return self._thin() if self.thinned else []

    def _drop(self, frames: list[int]) -> list[int]:
        for f in frames:
            self.bytes -= self._sizes.pop(f)
        return frames


def kept_frames(raw: np.ndarray, width: int, height: int, max_bytes: int) -> np.ndarray | None:
    """The frames whose crops :class:`FaceCrops` keeps of one face tracked through a ``width`` x ``height`` clip
    (``raw``: (T, 478, 3) landmarks, NaN where absent) within ``max_bytes``; None when every one fits.

    What the keeper decides while tracking, decided again from the landmarks alone: the planning chooses its donors
    among these frames whether the crops were kept on this run or the tracks came from the cache, so both plan
    alike."""
    policy = KeepPolicy(max_bytes)
    for t in range(len(raw)):
        if np.isfinite(raw[t]).all():
            policy.note(t, raw[t], width, height)
    return policy.frames() if policy.thinned else None


#: What :meth:`FaceCrops.measures` gives per frame: detail, teeth, lips redder and lighter than skin, skin lightness.
N_MEASURES = 5


class FaceCrops:
    """Lower-face crops of every tracked face, frame by frame, within ``max_bytes``."""

    def __init__(self, max_bytes: int = 256 << 20) -> None:
        self.policy = KeepPolicy(max_bytes)
        self._crops: dict[int, list[tuple[np.ndarray, int, int, np.ndarray]]] = {}
        self._measures: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}

    @property
    def max_bytes(self) -> int:
        return self.policy.max_bytes

    @max_bytes.setter
    def max_bytes(self, value: int) -> None:
        self.policy.max_bytes = value

    @property
    def bytes(self) -> int:
        """Memory held by the crops kept."""
        return self.policy.bytes

    @property
    def full(self) -> bool:
        """Whether the budget was spent (from then on runs spread over the clip are kept, :class:`KeepPolicy`)."""
        return self.policy.thinned

    def keep(self, index: int, frame: np.ndarray, detections: list[np.ndarray]) -> None:
        """Keep the lower face of each detection (``(478, 3)`` landmarks in pixels) in ``frame`` as the budget allows
        (:class:`KeepPolicy`), and measure its mouth (:meth:`measures`)."""
        h, w = frame.shape[:2]
        for lm in detections:
            pts = lm[:468, :2]
            eye = float(np.linalg.norm(pts[EYE_CORNERS[0]] - pts[EYE_CORNERS[1]]))
            # Teeth matter where the lips may be drawn shut: measured where they are at most twice the band apart.
            near_shut = float(np.linalg.norm(pts[14] - pts[13])) <= 2 * TEETH_REACH * eye
            values = np.array([mouth_detail(frame, lm), teeth_between_lips(frame, lm) if near_shut else np.nan,
                               *lips_against_skin(frame, lm)])
            self._measures.setdefault(index, []).append((landmark_box(lm), values, mouth_look(frame, lm)))
            box, dropped = self.policy.note(index, lm, w, h)
            for f in dropped:
                self._crops.pop(f, None)
            if box is not None and self.policy.holds(index):
                x0, y0, x1, y1 = box
                crop = np.ascontiguousarray(frame[y0:y1, x0:x1])
                self._crops.setdefault(index, []).append((landmark_box(lm), x0, y0, crop))

    def get(self, index: int, landmarks: np.ndarray) -> tuple[np.ndarray, int, int] | None:
        """The crop kept at frame ``index`` for the face with these raw landmarks: ``(crop, x0, y0)``."""
        kept = _same_face(self._crops.get(index, ()), landmarks)
        return None if kept is None else (kept[3], kept[1], kept[2])

    def measures(self, index: int, landmarks: np.ndarray) -> np.ndarray:
        """(:data:`N_MEASURES`,): the mouth detail (:func:`mouth_detail`), the teeth between the lips
        (:func:`teeth_between_lips`; lips more than twice :data:`TEETH_REACH` apart are not measured) and the lips
        against the skin (:func:`lips_against_skin`: redder, lighter, the skin's lightness) at frame ``index`` for the
        face with these raw landmarks (NaN if none)."""
        return self.measures_and_look(index, landmarks)[0]

    def measures_and_look(self, index: int, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """:meth:`measures` and the mouth's look (:func:`mouth_look`; None if none) at frame ``index`` for the face
        with these raw landmarks."""
        kept = _same_face(self._measures.get(index, ()), landmarks)
        return (np.full(N_MEASURES, np.nan), None) if kept is None else (kept[1], kept[2])

    def detail(self, index: int, landmarks: np.ndarray) -> float:
        """The mouth detail measured at frame ``index`` for the face with these raw landmarks (NaN if none)."""
        return float(self.measures(index, landmarks)[0])

    def __len__(self) -> int:
        return sum(len(v) for v in self._crops.values())
