"""Lower-face crops kept while the clip is being tracked, so the donor bank needs no second decoding pass.

The tracker hands every frame and its detections to :meth:`FaceCrops.keep`; the crop around each face's
lower half is kept (a margin wide enough for the bank's warp), up to a memory budget. Later, when the
donors are chosen, a donor's bank image is warped from its kept crop exactly as it would have been from the
whole frame; donors whose crop was not kept (budget spent, or the tracks came from the cache) are read from
the clip as before.

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


class FaceCrops:
    """Lower-face crops of every tracked face, frame by frame, within ``max_bytes``."""

    def __init__(self, max_bytes: int = 256 << 20) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self.full = False
        self._crops: dict[int, list[tuple[np.ndarray, int, int, np.ndarray]]] = {}
        self._measures: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}

    def keep(self, index: int, frame: np.ndarray, detections: list[np.ndarray]) -> None:
        """Keep the lower face of each detection (``(478, 3)`` landmarks in pixels) in ``frame``, and measure
        its mouth (:meth:`measures`)."""
        h, w = frame.shape[:2]
        for lm in detections:
            pts = lm[:468, :2]
            eye = float(np.linalg.norm(pts[EYE_CORNERS[0]] - pts[EYE_CORNERS[1]]))
            # Teeth matter where the lips may be drawn shut: measured where they are at most twice the band apart.
            near_shut = float(np.linalg.norm(pts[14] - pts[13])) <= 2 * TEETH_REACH * eye
            values = np.array([mouth_detail(frame, lm), teeth_between_lips(frame, lm) if near_shut else np.nan])
            self._measures.setdefault(index, []).append((landmark_box(lm), values, mouth_look(frame, lm)))
            if self.full:
                continue
            if not np.isfinite(eye) or eye <= 0:
                continue
            lower = pts[pts[:, 1] > pts[SUBNASALE, 1] - 0.3 * eye]
            m = _MARGIN * eye
            x0, y0 = np.floor(lower.min(0) - m).astype(int)
            x1, y1 = np.ceil(lower.max(0) + m).astype(int)
            x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
            if x1 <= x0 or y1 <= y0:
                continue
            crop = np.ascontiguousarray(frame[y0:y1, x0:x1])
            if self.bytes + crop.nbytes > self.max_bytes:
                self.full = True
                continue
            self.bytes += crop.nbytes
            self._crops.setdefault(index, []).append((landmark_box(lm), x0, y0, crop))

    def get(self, index: int, landmarks: np.ndarray) -> tuple[np.ndarray, int, int] | None:
        """The crop kept at frame ``index`` for the face with these raw landmarks: ``(crop, x0, y0)``."""
        kept = _same_face(self._crops.get(index, ()), landmarks)
        return None if kept is None else (kept[3], kept[1], kept[2])

    def measures(self, index: int, landmarks: np.ndarray) -> np.ndarray:
        """(2,): the mouth detail (:func:`mouth_detail`) and the teeth between the lips
        (:func:`teeth_between_lips`; lips more than twice :data:`TEETH_REACH` apart are not measured) at frame
        ``index`` for the face with these raw landmarks (NaN if none)."""
        return self.measures_and_look(index, landmarks)[0]

    def measures_and_look(self, index: int, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """:meth:`measures` and the mouth's look (:func:`mouth_look`; None if none) at frame ``index`` for the face
        with these raw landmarks."""
        kept = _same_face(self._measures.get(index, ()), landmarks)
        return (np.full(2, np.nan), None) if kept is None else (kept[1], kept[2])

    def detail(self, index: int, landmarks: np.ndarray) -> float:
        """The mouth detail measured at frame ``index`` for the face with these raw landmarks (NaN if none)."""
        return float(self.measures(index, landmarks)[0])

    def __len__(self) -> int:
        return sum(len(v) for v in self._crops.values())
