"""What a reviewer needs to judge one result at a glance: mouth close-ups, and the mouth against the sound.

Measured on the written result (its tracks come from the analysis cache when the job's own sync measure
tracked it already): the speaker's inner-lip gap per frame, the result's own sound's speech-band loudness per
frame (the dub as muxed), and a strip of mouth close-ups at the loudest moment of each eighth of the clip.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

STRIP_FRAMES = 8
CROP_W, CROP_H = 112, 80  # one close-up, px
MAX_POINTS = 300  # per curve in a sidecar


def _resample(x: np.ndarray, n: int) -> list[float | None]:
    """``x`` reduced to at most ``n`` points by averaging (NaN kept as None)."""
    if len(x) == 0:
        return []
    if len(x) > n:
        edges = np.linspace(0, len(x), n + 1).astype(int)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN stretch (no face) stays NaN
            x = np.array([np.nanmean(x[a:b]) if b > a else np.nan for a, b in zip(edges[:-1], edges[1:])])
    return [None if not np.isfinite(v) else round(float(v), 4) for v in x]


def _mouth_box(landmarks: np.ndarray, width: int, height: int) -> tuple[int, int, int, int] | None:
    """A box of CROP_W:CROP_H around the lips of one frame's landmarks, or None."""
    from ..face.track import LEFT_EYE_OUTER, LIPS_OUTER, RIGHT_EYE_OUTER

    lips = landmarks[list(LIPS_OUTER), :2]
    if not np.isfinite(lips).all():
        return None
    cx, cy = lips.mean(axis=0)
    eyes = float(np.linalg.norm(landmarks[LEFT_EYE_OUTER, :2] - landmarks[RIGHT_EYE_OUTER, :2]))
    w = max(16.0, 1.25 * max(eyes, float(np.ptp(lips[:, 0]))))
    h = w * CROP_H / CROP_W
    x0, y0 = int(round(cx - w / 2)), int(round(cy - h / 2))
    x0, y0 = max(0, min(x0, width - int(w))), max(0, min(y0, height - int(h)))
    return x0, y0, min(width, x0 + int(w)), min(height, y0 + int(h))


def strip_frames(loudness_db: np.ndarray, n: int = STRIP_FRAMES) -> list[int]:
    """The loudest frame of each of ``n`` equal stretches of the clip: where the mouth should be open."""
    loud = np.nan_to_num(np.asarray(loudness_db, np.float64), nan=-200.0)
    return [int(seg[np.argmax(loud[seg])]) for seg in np.array_split(np.arange(len(loud)), n) if len(seg)]


def mouth_strip(video: Path, track, eye: tuple[str, int] | None, idx: list[int]) -> np.ndarray:
    """Close-ups of the speaker's mouth at frames ``idx``, side by side.

    Returns
    -------
    (CROP_H, STRIP_FRAMES * CROP_W, 3) uint8 RGB (grey where the face was not found).
    """
    import cv2

    from ..media.sequence import frames_in_order
    from ..media.video import VideoReader

    n = STRIP_FRAMES
    idx = idx if track is not None else []
    tiles = []
    if idx:
        with VideoReader(video) as reader:
            for i, frame in zip(idx, frames_in_order(reader, iter(idx))):
                if eye is not None:
                    from ..stereo.layout import split

                    frame = split(frame, eye[0])[int(eye[1])]
                box = _mouth_box(track.landmarks[i], frame.shape[1], frame.shape[0]) if track.present[i] else None
                if box is None:
                    tiles.append(np.full((CROP_H, CROP_W, 3), 96, np.uint8))
                    continue
                x0, y0, x1, y1 = box
                tiles.append(cv2.resize(np.ascontiguousarray(frame[y0:y1, x0:x1]), (CROP_W, CROP_H),
                                        interpolation=cv2.INTER_AREA))
    while len(tiles) < n:
        tiles.append(np.full((CROP_H, CROP_W, 3), 96, np.uint8))
    return np.concatenate(tiles[:n], axis=1)


def measure_result(video: Path, eye: tuple[str, int] | None = None) -> tuple[dict[str, Any], np.ndarray]:
    """Curves, sync measure and mouth close-ups of a written result.

    Parameters
    ----------
    video: the result (its own sound is the dub as muxed).
    eye: ``(layout, side)`` to look at one eye of a packed stereo result.

    Returns
    -------
    qc: ``fps``, ``frames``, ``mouth`` (inner-lip gap / eye distance per frame, ≤ MAX_POINTS points),
        ``loudness_db`` (speech-band loudness of the sound per frame, same points), ``strip_frames`` (indices of
        the close-ups), ``face_found`` (share of frames), ``sync`` (the weight-free measure on these curves).
    strip: the close-ups, (CROP_H, STRIP_FRAMES * CROP_W, 3) uint8 RGB.
    """
    from ..face.analysis import analyse_faces
    from ..media.audio import load_audio
    from ..metrics.sync import sync_score
    from ..stereo.layout import eye_view
    from ..sync.acoustics import mouth_from_audio

    faces = analyse_faces(video, eye=eye_view(*eye) if eye is not None else None)
    track = faces.speaker_track()
    n = faces.n_frames
    mouth = track.mouth_gap() if track is not None else np.full(n, np.nan)
    loud = mouth_from_audio(load_audio(video, sr=16000, at_picture=True, voice=True), faces.fps, n,
                            lead_s=0.0).loudness_db
    idx = strip_frames(loud)
    strip = mouth_strip(video, track, eye, idx)
    score = sync_score(mouth, loud)
    qc = {"fps": float(faces.fps), "frames": int(n), "mouth": _resample(mouth, MAX_POINTS),
          "loudness_db": _resample(np.asarray(loud, np.float64), MAX_POINTS), "strip_frames": idx,
          "face_found": round(track.coverage, 4) if track is not None else 0.0,
          "sync": {k: v for k, v in score.as_dict().items() if k != "curve"}}
    return qc, strip


def measure_looks(video: Path, source: Path, eye: tuple[str, int] | None = None,
                  source_eye: tuple[str, int] | None = None,
                  source_frames: tuple[int, ...] | list[int] = ()) -> dict[str, Any] | None:
    """How the result's mouth looks against the clip it was drawn into (:mod:`~lipsync_studio.metrics.looks`:
    sharpness, lip colour and size, each beside what a real different frame of the clip scores, and the worst
    frames), as plain data; None where the two cannot be compared pixel for pixel (an eye stored squeezed to half
    its size, or two pictures of different sizes).

    Parameters
    ----------
    video: the result; eye: ``(layout, side)`` of the eye to measure where the result packs two.
    source: the clip; source_eye: the same for the clip.
    source_frames: the clip frame each result frame shows (the sync's timeline); empty: the same index.
    """
    from ..media.video import probe_video
    from ..metrics.looks import compare_looks, video_looks
    from ..stereo.layout import StereoLayout, eye_view

    if any(e is not None and StereoLayout.parse(e[0]).half for e in (eye, source_eye)):
        return None  # an eye stored at half its width or height: its pixels are not the clip's
    views = [eye_view(*e) if e is not None else None for e in (eye, source_eye)]
    sizes = []
    for path, view in zip((video, source), views):
        info = probe_video(path)
        sizes.append(view.size(info.width, info.height) if view is not None else (info.width, info.height))
    if sizes[0] != sizes[1]:
        return None
    score = compare_looks(video_looks(video, eye=views[0]), video_looks(source, eye=views[1]),
                          np.asarray(source_frames, np.int64) if len(source_frames) else None)
    return score.as_dict()


def write_jpeg(path: Path, rgb: np.ndarray, quality: int = 88) -> None:
    """Write an RGB image as JPEG (the caller makes ``path`` a temporary name)."""
    import cv2

    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise OSError(f"cannot encode {path.name}")
    path.write_bytes(data.tobytes())
