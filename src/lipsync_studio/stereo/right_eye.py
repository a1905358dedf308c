"""How the right eye follows the synced left eye of a stereo clip: the modes of a stereo sync.

- ``independent``: each eye synced on its own (the paper's baseline): two trackings, two plans; the two mouths
  may disagree, which the brain sees as a mouth floating at the wrong depth.
- ``consistent`` (default): the left eye is synced; the change is carried to the right eye through the
  disparity of the original pair — the paper's warp ``Î_r = f_w(d, I_l)``: each changed left pixel moves to
  ``x − d(x)`` in the right eye (:mod:`.carry`: a smooth fit to sparse sub-pixel matches, corrected per
  pixel; a half-size dense matcher with a z-buffered forward warp where too few points match), given the
  cameras' colour difference and blended with the same feathered mask. One tracking, one plan. (Syncing the
  right eye with the left eye's donor schedule, so each eye shows its own pixels of the same mouth, was
  measured too: it moves the mouth in depth as much as ``independent`` does, because each eye's landmarks
  place the mouth, so carrying is kept.)
- ``cycle``: the paper's trained model (``lipsync-studio train stereo`` makes ``stereo_cycle.pt``): its Wav2Lip
  generator syncs the left eye, its disparity generator makes the right face from the synced left one,
  ``Î_r = f_w(G_l(Ĩ_l, I_r), Ĩ_l)``, pasted into the right eye with the mask moved by the same disparity.

:class:`RightEye` is the one entry point the stereo sync job calls for every frame.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import OptionError
from ..media.video import changed_pixels

MODES = ("independent", "consistent", "cycle")


class RightEye:
    """Makes each output frame's right eye from the synced left eye, the way ``mode`` says.

    Parameters
    ----------
    mode : str
        One of :data:`MODES`.
    max_disparity : int
        ``consistent``: how far (px) the right eye's copy of a change may sit from the left's.
    right_engine : object, optional
        ``independent``: the engine (prepared on the right eye) that syncs the right eye.
    cycle : object, optional
        ``cycle``: the loaded stereo cycle model.
    """

    def __init__(self, mode: str, *, max_disparity: int = 64, right_engine: Any = None, cycle: Any = None) -> None:
        if mode not in MODES:
            raise OptionError(f"unknown stereo mode '{mode}'", hint="use " + ", ".join(MODES))
        if mode == "independent" and right_engine is None:
            raise ValueError("the independent mode needs the right eye's engine")
        if mode == "cycle" and cycle is None:
            raise ValueError("the cycle mode needs the stereo cycle model")
        self.mode, self.max_disparity = mode, max_disparity
        self.right_engine, self.cycle = right_engine, cycle
        self._cache: dict = {}  # what carrying keeps between frames (see carry_change)

    def __call__(self, k: int, j: int, left: np.ndarray, new_left: np.ndarray, right: np.ndarray,
                 left_engine: Any) -> np.ndarray:
        """The right eye of output frame ``k`` (source frame ``j``): (H, W, 3) uint8, like ``right``.

        ``left``/``right``: the original eyes; ``new_left``: the left eye as ``left_engine`` synced it.
        """
        if self.mode == "independent":
            return self.right_engine.render(k, j, right)
        if self.mode == "cycle":
            return cycle_right(self.cycle, left_engine, j, new_left, right)
        within = getattr(left_engine, "last_box", None) if new_left is not left else None
        return carry_change(left, new_left, right, self.max_disparity, self._cache, key=j, within=within)


def carry_change(left: np.ndarray, left_new: np.ndarray, right: np.ndarray, max_disparity: int = 64,
                 cache: dict | None = None, key: int | None = None,
                 within: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """The right eye with the change made to the left eye carried across by the original pair's disparity.

    Parameters
    ----------
    left, right: the original eyes, (H, W, 3) uint8.
    left_new: the left eye after lip-sync.
    max_disparity: how far (px) the right eye's copy of the change may sit from the left's.
    cache, key: a dict kept by the caller between the frames of a clip, and the source frame's index: what the
        next frames can use is kept there (:class:`~lipsync_studio.stereo.carry.Carrier`), and the disparity of
        a source frame shown again (a held or ping-ponged frame) is not estimated twice.
    within: ``x0, y0, x1, y1`` holding every changed pixel, when the engine says where it drew (else the whole
        eye is compared).
    """
    from .carry import Carrier, carry_with

    h, w = left.shape[:2]
    if within is None:
        changed = changed_pixels(left, left_new)
    else:
        x0, y0, x1, y1 = within
        changed = np.zeros((h, w), bool)
        changed[y0:y1, x0:x1] = changed_pixels(left[y0:y1, x0:x1], left_new[y0:y1, x0:x1])
    if not changed.any():
        return right
    ys, xs = np.nonzero(changed)
    # The face's disparity as a smooth function fitted to sparse sub-pixel matches, corrected per pixel (see
    # stereo.carry); the dense matcher below only where too few points match.
    carrier = cache.setdefault("carrier", Carrier(max_disparity)) if cache is not None else Carrier(max_disparity)
    bw, bh = xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()
    fit_box = (max(0, int(xs.min() - 0.4 * bw)), max(0, int(ys.min() - 0.4 * bh)),
               min(w, int(xs.max() + 1 + 0.4 * bw)), min(h, int(ys.max() + 1 + 0.4 * bh)))
    feather = max(3, int(0.02 * w) | 1)
    pad = feather + 2  # the feathered mask reaches beyond the changed pixels
    box = (max(0, int(xs.min()) - pad), max(0, int(ys.min()) - pad), min(w, int(xs.max()) + pad + 1),
           min(h, int(ys.max()) + pad + 1))
    dense = carrier.disparity(left, right, changed, box, fit_box, key if cache is not None else None)
    if dense is not None:
        return carry_with(left, left_new, right, changed[box[1]:box[3], box[0]:box[2]], box, feather, dense,
                          memory=carrier.memory)
    import cv2

    from ..sync.builtin.render import apply_colour, match_colour
    from .disparity import DisparitySettings, estimate_disparity
    from .warp import forward_warp
    pad_y = 8
    x0, x1 = max(0, xs.min() - max_disparity - 8), min(w, xs.max() + 9)
    y0, y1 = max(0, ys.min() - pad_y), min(h, ys.max() + pad_y + 1)
    # The disparity of the ORIGINAL pair over the changed area (the new mouth has no right-eye match yet).
    # Half resolution: the face's disparity is smooth, and this keeps the cost a fraction of a frame's sync.
    settings = DisparitySettings(max_fraction=max_disparity / w, min_fraction=-8 / w, downscale=2)
    roi = (x0, y0, x1, y1)
    # Consecutive output frames showing the same source frame reuse it.
    held = cache.get("dense matcher") if cache is not None and key is not None else None
    if held is not None and held[0] == (key, roi):
        d = held[1]
    else:
        d = estimate_disparity(left, right, settings, roi=roi).disparity[y0:y1, x0:x1]
        if cache is not None and key is not None:
            cache["dense matcher"] = ((key, roi), d)
    crop_new = np.ascontiguousarray(left_new[y0:y1, x0:x1])
    # The blend mask: the changed area, closed and feathered, in the left eye's geometry ...
    mask = changed[y0:y1, x0:x1].astype(np.uint8) * 255
    k = max(3, int(0.02 * w) | 1)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    mask = cv2.GaussianBlur(mask, (0, 0), k / 3)
    mask[~changed[y0:y1, x0:x1] & (mask < 16)] = 0
    # ... then both moved into the right eye's geometry by the same warp.
    warped, valid, _ = forward_warp(crop_new, d.astype(np.float32))
    alpha3, _, _ = forward_warp(np.repeat(mask[..., None], 3, axis=2), d.astype(np.float32))
    alpha = (alpha3[..., 0].astype(np.float32) / 255.0) * valid
    region = right[y0:y1, x0:x1]
    c = match_colour(warped, region, alpha)
    warped = apply_colour(warped, c)
    out = right.copy()
    out[y0:y1, x0:x1] = cv2.blendLinear(warped, np.ascontiguousarray(region), alpha, 1.0 - alpha)
    return out


def cycle_right(cycle, engine, src_index: int, new_left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """The right eye from the cycle model: Î_r = f_w(G_l(Ĩ_l, I_r), Ĩ_l), pasted with the mask moved by d.

    ``cycle``: the loaded model (:class:`~lipsync_studio.sync.stereo_cycle.StereoCyclePredictor`);
    ``engine``: the Wav2Lip engine that synced the left eye (its paste mask of source frame ``src_index``).
    """
    import cv2

    from .warp import f_w
    from ..sync.wav2lip.preprocess import crop_face

    found = engine.paste_mask(src_index)
    if found is None:
        return right
    (x1, y1, x2, y2), alpha = found
    face_r, d = cycle.right_face(crop_face(new_left, (x1, y1, x2, y2))[None], crop_face(right, (x1, y1, x2, y2))[None])
    w, h = x2 - x1, y2 - y1
    patch = cv2.resize(face_r[0], (w, h), interpolation=cv2.INTER_CUBIC)
    d_px = cv2.resize(d[0].astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) * (w / 96.0)
    # The mask moves with the mouth: where the right face shows the pixel the left mask had at x + d.
    alpha_r = np.clip(f_w(d_px, alpha.astype(np.float32)), 0.0, 1.0).astype(np.float32)
    out = right.copy()
    region = np.ascontiguousarray(out[y1:y2, x1:x2])
    out[y1:y2, x1:x2] = cv2.blendLinear(np.ascontiguousarray(patch), region, alpha_r, 1.0 - alpha_r)
    return out
