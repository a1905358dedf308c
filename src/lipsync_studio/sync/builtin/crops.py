"""Lower-face crops kept while the clip is being tracked, so the donor bank needs no second decoding pass.

The tracker hands every frame and its detections to :meth:`FaceCrops.keep`; the crop around each face's
lower half is kept (a margin wide enough for the bank's warp), up to a memory budget. Later, when the
donors are chosen, a donor's bank image is warped from its kept crop exactly as it would have been from the
whole frame; donors whose crop was not kept (budget spent, or the tracks came from the cache) are read from
the clip as before.

Every face's mouth detail (:func:`mouth_detail`) is measured on the same pass, budget or not, so the planner can
prefer sharp donors without decoding the clip again.
"""

from __future__ import annotations

import numpy as np

from ...face.track import LIPS_INNER, LIPS_OUTER
from ...face.tracker import landmark_box
from ..mouth import EYE_CORNERS, SUBNASALE

#: Margin around the lower face, in eye distances: the bank's region reaches 0.27 beyond its points.
_MARGIN = 0.45


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

    pts = landmarks[:, :2]
    eye = float(np.linalg.norm(pts[EYE_CORNERS[0]] - pts[EYE_CORNERS[1]]))
    outer = pts[list(LIPS_OUTER)]
    if not (np.isfinite(outer).all() and np.isfinite(eye)) or eye <= 0:
        return float("nan")
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


class FaceCrops:
    """Lower-face crops of every tracked face, frame by frame, within ``max_bytes``."""

    def __init__(self, max_bytes: int = 256 << 20) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self.full = False
        self._crops: dict[int, list[tuple[np.ndarray, int, int, np.ndarray]]] = {}
        self._detail: dict[int, list[tuple[np.ndarray, float]]] = {}

    def keep(self, index: int, frame: np.ndarray, detections: list[np.ndarray]) -> None:
        """Keep the lower face of each detection (``(478, 3)`` landmarks in pixels) in ``frame``, and measure
        its mouth's detail."""
        h, w = frame.shape[:2]
        for lm in detections:
            self._detail.setdefault(index, []).append((landmark_box(lm), mouth_detail(frame, lm)))
            if self.full:
                continue
            pts = lm[:468, :2]
            eye = float(np.linalg.norm(pts[EYE_CORNERS[0]] - pts[EYE_CORNERS[1]]))
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
        box = landmark_box(landmarks)
        for kept_box, x0, y0, crop in self._crops.get(index, ()):
            if np.allclose(kept_box, box, atol=1e-3):
                return crop, x0, y0
        return None

    def detail(self, index: int, landmarks: np.ndarray) -> float:
        """The mouth detail measured at frame ``index`` for the face with these raw landmarks (NaN if none)."""
        box = landmark_box(landmarks)
        for kept_box, value in self._detail.get(index, ()):
            if np.allclose(kept_box, box, atol=1e-3):
                return value
        return float("nan")

    def __len__(self) -> int:
        return sum(len(v) for v in self._crops.values())
