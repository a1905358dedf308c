"""True colour for a lent mouth: skin and lips matched to the target frame separately, in CIE Lab.

A donor frame can be lit a little differently from the frame its mouth is drawn into. The correction is
measured on the target frame's *own* unedited skin and lips (never on the background beyond the jaw, which
used to tint the face), as differences of mean Lab colour, and smoothed over time so it cannot flicker (over the
frames lent by one donor and those that follow it in its clip: another donor brings its own lighting, and its
correction starts afresh):

- **skin**: the difference of the mean skin colour, applied to the whole lent area as per-channel gains (a
  look-up table: no per-pixel colour conversion on the render path);
- **lips**: what the lips still differ by after that, applied in Lab inside the new lip band only (a few
  thousand pixels), with the lightness spread (gloss, highlights) kept no stronger than the frame's own lips.
"""

from __future__ import annotations

import numpy as np

from .render import apply_colour, new_donor


def _lab(pixels: np.ndarray) -> np.ndarray:
    """(N, 3) float32 Lab (L 0..100) of (N, 3) uint8 RGB pixels."""
    import cv2

    # One row, not one column: OpenCV converts row by row, and a column of single pixels costs 25x more.
    return cv2.cvtColor(pixels.reshape(1, -1, 3).astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab).reshape(-1, 3)


def _rgb(lab: np.ndarray) -> np.ndarray:
    """(N, 3) float32 RGB (0..255) of (N, 3) Lab colours."""
    import cv2

    return cv2.cvtColor(lab.reshape(1, -1, 3).astype(np.float32), cv2.COLOR_Lab2RGB).reshape(-1, 3) * 255.0


class ColourMatch:
    """The colour correction of a stream of lent mouths (one per output frame), smoothed over time.

    Parameters
    ----------
    memory: how much of the previous frame's correction each new frame keeps (0: none).
    limit: the largest change of any channel of the skin (0.18 = ±18 %): a lighting difference, never a new
        colour.
    """

    def __init__(self, memory: float = 0.8, limit: float = 0.18) -> None:
        self.memory = memory
        self.limit = limit
        self.gains: np.ndarray | None = None
        self.lips: np.ndarray | None = None  # dL, da, db, lightness-spread factor
        self.source: int | None = None

    def _smooth(self, old: np.ndarray | None, new: np.ndarray) -> np.ndarray:
        return new if old is None else self.memory * old + (1 - self.memory) * new

    def apply(self, warped: np.ndarray, target: np.ndarray, skin: np.ndarray, new_lips: np.ndarray,
              own_lips: np.ndarray, lips_box: tuple[int, int, int, int] | None = None,
              source: int | None = None) -> np.ndarray:
        """``warped`` with its skin and lips coloured like ``target``'s.

        Parameters
        ----------
        warped: (h, w, 3) uint8 RGB, the lent lower face in the target frame's geometry.
        target: (h, w, 3) uint8 RGB, the target frame's same area (unedited).
        skin: (h, w) bool, skin of the face in both (inside the face, away from either's lips).
        new_lips: (h, w) float32 0..1, the lip band of the lent mouth (where the lip correction applies).
        own_lips: (h, w) bool, the target frame's own lip band.
        lips_box: ``x0, y0, x1, y1`` holding all of ``new_lips`` (default: found from the mask).
        source: the clip frame lent (the donor). One that is neither the last one nor the frame after it starts
            the correction afresh: carried over a change of donor, the last donor's correction lit the new one
            wrongly for several frames (KatieHill A->B 80-82: a donor 7-16 % brighter than its frame drawn at the
            gains of one 4-10 % darker, a pale patch over the chin).
        """
        import cv2

        if new_donor(self.source, source):
            self.gains = self.lips = None
        self.source = source if source is not None else self.source

        # Every statistic from one Lab conversion of a subsample (a mean needs no more).
        step = 3 if skin.size > 40000 else 2
        sk = skin[::step, ::step]
        sets = [warped[::step, ::step][sk], target[::step, ::step][sk],
                warped[::2, ::2][new_lips[::2, ::2] > 0.5], target[::2, ::2][own_lips[::2, ::2]]]
        counts = [len(x) for x in sets]
        lab = _lab(np.concatenate(sets)) if sum(counts) else np.zeros((0, 3), np.float32)
        ws, ts, wl, tl = np.split(lab, np.cumsum(counts)[:-1])
        lips_ok = len(wl) >= 10 and len(tl) >= 10
        means = [ws.mean(0), ts.mean(0)] if len(ws) >= 15 else []
        if lips_ok:
            spread = float(np.clip((tl[:, 0].std() + 1.0) / (wl[:, 0].std() + 1.0), 0.7, 1.0))
            self.lips = self._smooth(self.lips, np.concatenate([tl.mean(0) - wl.mean(0), [spread]]))
            means += [wl.mean(0), wl.mean(0) + self.lips[:3]]
        rgb = _rgb(np.array(means, np.float32)) if means else None
        if len(ws) >= 15:
            a, b = rgb[0], rgb[1]
            self.gains = self._smooth(self.gains, np.clip((b + 1.0) / (a + 1.0), 1 - self.limit, 1 + self.limit))
        corrected = warped if self.gains is None else apply_colour(warped, np.concatenate([self.gains, np.zeros(3)]))
        if not lips_ok:
            return corrected
        # The lips, as an affine map of the lent pixels' RGB around their mean: the mean lands on the Lab-corrected
        # colour and the spread (gloss, highlights) around it shrinks by the lightness factor.
        mean_src, mean_dst = rgb[-2], rgb[-1]
        if lips_box is None:
            ys, xs = np.nonzero(new_lips > 0)
            lips_box = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
        x0, y0, x1, y1 = lips_box
        fixed = warped[y0:y1, x0:x1].astype(np.float32)
        fixed -= mean_src.astype(np.float32)
        fixed *= np.float32(self.lips[3])
        fixed += mean_dst.astype(np.float32) + np.float32(0.5)
        np.minimum(np.maximum(fixed, 0, out=fixed), 255, out=fixed)  # (np.clip is several times slower)
        wgt = np.ascontiguousarray(new_lips[y0:y1, x0:x1])
        out = corrected if corrected is not warped else warped.copy()
        out[y0:y1, x0:x1] = cv2.blendLinear(fixed.astype(np.uint8), np.ascontiguousarray(corrected[y0:y1, x0:x1]),
                                            wgt, 1.0 - wgt)
        return out
