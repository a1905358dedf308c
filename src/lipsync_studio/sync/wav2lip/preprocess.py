"""Wav2Lip's model inputs, built exactly as the official ``inference.py`` builds them, from our face track.

Official recipe (Rudrabha/Wav2Lip ``inference.py``), reproduced bit for bit:

- the face crop ``frame[y1:y2, x1:x2]`` (any aspect ratio) is resized to 96×96 with ``cv2.resize``'s
  default (bilinear) interpolation; colour stays **BGR** (the official code reads frames with OpenCV);
- ``masked = crop.copy(); masked[48:] = 0`` zeroes the lower half; the input is
  ``concat([masked, crop], channel) / 255`` → ``(B, 6, 96, 96)`` float32 (the division happens in float64
  and is then rounded to float32, as ``np.concatenate(...) / 255.`` followed by ``torch.FloatTensor`` does);
- the mel window of each frame ``(80, 16)`` becomes ``(B, 1, 80, 16)`` float32 (windows cut by
  :func:`lipsync_studio.media.mel.mel_windows`, the official ``int(i * 80./fps)`` indexing at any fps).

Where our crops come from — the one deliberate difference
---------------------------------------------------------
The official code detects faces with S3FD and averages each box with the next four (a forward window that
lags on fast motion and "dislocates" the mouth), then pads it by ``--pads 0 10 0 0`` (10 px more below).
We have no S3FD; we derive the box from our FaceMesh track, whose landmarks are already smoothed without
lag. The box is the bounding box of the 468 surface landmarks in frame pixels:

- **left/right**: the cheek contour at ear level (landmarks 234 and 454), where S3FD's sides fall;
- **top**: the upper forehead (landmark 10, below the hairline), about where S3FD's top falls;
- **bottom**: the chin (landmark 152); S3FD's box ends at or just below the chin, which the official
  bottom pad of 10 px covers.

As S3FD's output, the box is clipped at 0 and truncated to integers, then padded with the official pads
(``y1 = max(0, y1 - top)``, ``y2 = min(H, y2 + bottom)``, likewise for x). On the project's synthetic clip
this places the eyes at ≈0.30 and the lips at ≈0.69 of the crop height — where LRS2 S3FD crops have them
within a few pixels of 96, by eye; S3FD itself could not be run here to measure the difference.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ...face.track import N_SURFACE

if TYPE_CHECKING:
    from ...face.track import FaceTrack

IMG_SIZE = 96  #: side of the generator's face crops (px)
OFFICIAL_PADS = (0, 10, 0, 0)  #: the official ``--pads`` default: top, bottom, left, right (px)

# x / 255 for every uint8 x, computed in float64 and rounded to float32 as the official code does.
_DIV255 = (np.arange(256, dtype=np.float64) / 255.0).astype(np.float32)


def face_box(landmarks: np.ndarray, width: int, height: int,
             pads: tuple[int, int, int, int] = OFFICIAL_PADS) -> tuple[int, int, int, int] | None:
    """The Wav2Lip crop box ``(x1, y1, x2, y2)`` of one frame's landmarks (see the module docstring).

    Parameters
    ----------
    landmarks:
        (478, 2 or 3) FaceMesh landmarks in frame pixels, or NaN where the face is absent.
    width, height:
        Frame size (px).
    pads:
        ``(top, bottom, left, right)`` px added around the box, clipped to the frame.

    Returns
    -------
    tuple or None
        Integer box with ``0 ≤ x1 < x2 ≤ width`` and ``0 ≤ y1 < y2 ≤ height``; None when the landmarks are
        absent or the box has no area inside the frame.
    """
    pts = np.asarray(landmarks)[:N_SURFACE, :2]
    if not np.all(np.isfinite(pts)):
        return None
    x0, y0 = np.maximum(pts.min(axis=0), 0.0)
    x1, y1 = pts.max(axis=0)
    top, bottom, left, right = pads
    bx1 = max(0, int(x0) - left)
    by1 = max(0, int(y0) - top)
    bx2 = min(width, int(max(x1, 0.0)) + right)
    by2 = min(height, int(max(y1, 0.0)) + bottom)
    if bx2 - bx1 < 2 or by2 - by1 < 2:
        return None
    return bx1, by1, bx2, by2


def track_boxes(track: FaceTrack, width: int, height: int,
                pads: tuple[int, int, int, int] = OFFICIAL_PADS) -> np.ndarray:
    """(T, 4) int64 crop boxes ``x1, y1, x2, y2`` for every frame of ``track``; rows of -1 where absent."""
    out = np.full((track.n_frames, 4), -1, np.int64)
    for t in np.flatnonzero(track.present):
        box = face_box(track.landmarks[t], width, height, pads)
        if box is not None:
            out[t] = box
    return out


def crop_face(frame: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The 96×96 face crop of ``frame`` in ``box``, resized as the official code does.

    Parameters
    ----------
    frame:
        (H, W, 3) uint8 RGB frame.
    box:
        ``(x1, y1, x2, y2)`` from :func:`face_box`.

    Returns
    -------
    numpy.ndarray
        (96, 96, 3) uint8, **RGB** (same channel order as ``frame``: a per-channel resize commutes with the
        BGR flip, so this equals the official BGR crop with its channels reversed).
    """
    import cv2

    x1, y1, x2, y2 = box
    return cv2.resize(np.ascontiguousarray(frame[y1:y2, x1:x2]), (IMG_SIZE, IMG_SIZE))


def face_input(crops: np.ndarray, references: np.ndarray | None = None) -> np.ndarray:
    """The generator's face input from 96×96 RGB crops: masked BGR crop + reference, /255.

    Parameters
    ----------
    crops:
        (B, 96, 96, 3) uint8 RGB crops (from :func:`crop_face`).
    references:
        (B, 96, 96, 3) uint8 RGB reference crops; None uses the crops themselves, as the official
        inference does.

    Returns
    -------
    numpy.ndarray
        (B, 6, 96, 96) float32: channels 0-2 the BGR crop with rows 48-95 zeroed, channels 3-5 the BGR
        reference, all divided by 255.
    """
    crops = _check_crops(crops, "crops")
    refs = crops if references is None else _check_crops(references, "references")
    if refs.shape != crops.shape:
        raise ValueError(f"references {refs.shape} must match crops {crops.shape}")
    bgr = crops[..., ::-1]
    out = np.empty((crops.shape[0], 6, IMG_SIZE, IMG_SIZE), np.float32)
    out[:, 0:3] = _DIV255[bgr.transpose(0, 3, 1, 2)]
    out[:, 0:3, IMG_SIZE // 2:] = 0.0
    out[:, 3:6] = _DIV255[refs[..., ::-1].transpose(0, 3, 1, 2)]
    return out


def mel_input(windows: np.ndarray) -> np.ndarray:
    """(B, 80, 16) mel windows → the generator's (B, 1, 80, 16) float32 audio input."""
    windows = np.asarray(windows)
    if windows.ndim != 3 or windows.shape[1:] != (80, 16):
        raise ValueError(f"mel windows must be (B, 80, 16), got {windows.shape}")
    return np.ascontiguousarray(windows, dtype=np.float32)[:, None]


def expert_face_input(crops: np.ndarray) -> np.ndarray:
    """The SyncNet expert's face input for every run of 5 consecutive 96×96 crops.

    Parameters
    ----------
    crops:
        (T, 96, 96, 3) uint8 RGB crops of consecutive frames, T ≥ 5.

    Returns
    -------
    numpy.ndarray
        (T - 4, 15, 48, 96) float32: window t holds the lower halves of crops t…t+4, each BGR /255, stacked
        on channels in time order (``color_syncnet_train.py``: concatenate on the channel axis, /255,
        then keep rows 48-95).
    """
    crops = _check_crops(crops, "crops")
    n = crops.shape[0] - 4
    if n < 1:
        raise ValueError(f"the expert needs at least 5 consecutive crops, got {crops.shape[0]}")
    lower = _DIV255[crops[:, IMG_SIZE // 2:, :, ::-1].transpose(0, 3, 1, 2)]  # (T, 3, 48, 96)
    windows = np.lib.stride_tricks.sliding_window_view(lower, 5, axis=0)  # (T-4, 3, 48, 96, 5)
    return np.ascontiguousarray(windows.transpose(0, 4, 1, 2, 3).reshape(n, 15, IMG_SIZE // 2, IMG_SIZE))


def _check_crops(crops: np.ndarray, name: str) -> np.ndarray:
    crops = np.asarray(crops)
    if crops.ndim != 4 or crops.shape[1:] != (IMG_SIZE, IMG_SIZE, 3):
        raise ValueError(f"{name} must be (B, {IMG_SIZE}, {IMG_SIZE}, 3), got {crops.shape}")
    if crops.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8, got {crops.dtype}")
    return crops
