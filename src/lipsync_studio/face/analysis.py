"""Face analysis of a clip with caching: track once, reuse in every later run and in the app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..media.cache import cache_path, store
from ..media.prefetch import prefetch
from ..media.video import VideoInfo, VideoReader
from .track import ClipFaces
from .tracker import TrackerSettings, track_faces


@dataclass(frozen=True)
class FrameView:
    """The part of every frame that is tracked instead of the whole frame (e.g. one eye of a packed stereo clip:
    :func:`lipsync_studio.stereo.layout.eye_view` makes one).

    Attributes
    ----------
    key: names the view in the analysis cache's key (``"eye=sbs:0"``).
    size: ``size(width, height) -> (width, height)`` of the part of a frame of that size.
    crop: ``crop(frame) -> part``, (H, W, 3) uint8 in, the part (contiguous) out.
    """

    key: str
    size: Callable[[int, int], tuple[int, int]]
    crop: Callable[[np.ndarray], np.ndarray]


def analyse_faces(clip: str | Path, settings: TrackerSettings = TrackerSettings(), start: int = 0,
                  stop: int | None = None, advance: Callable[[int], None] | None = None,
                  use_cache: bool = True, keep=None, eye: FrameView | None = None) -> ClipFaces:
    """Track the faces of ``clip`` over timeline frames ``[start, stop)`` (cached by content + settings).

    Frames outside the range are marked absent in the returned tracks. ``keep(index, frame, detections)`` sees
    every frame while tracking (see :func:`track_faces`); not called when the tracks come from the cache.
    ``eye``: track only that part of each frame (one eye of a packed stereo clip), cached on its own; the
    tracks are then in the part's pixels. The one place a clip's (or an eye's) faces are tracked.
    """
    with VideoReader(clip) as reader:
        info = reader.info
        stop = info.n_frames if stop is None else min(stop, info.n_frames)
        width, height = info.width, info.height
        frames = reader.iter_frames(start, stop)
        view = ""
        if eye is not None:
            width, height = eye.size(info.width, info.height)
            frames = ((i, eye.crop(f)) for i, f in frames)
            view = f"|{eye.key}"
        path = faces_cache_path(clip, info, settings, start, stop, view)
        if use_cache and path.exists():
            try:
                faces = ClipFaces.load(path)
                if advance is not None:
                    advance(stop - start)
                return faces
            except (OSError, ValueError, KeyError):
                pass  # a damaged cache entry is recomputed
        # Decoding starts while the tracker loads its models (~1 s): up to ~96 MB of frames wait for it.
        depth = int(np.clip((96 << 20) // max(1, width * height * 3), 4, 48))
        faces = track_faces(prefetch(frames, depth), info.n_frames, float(info.fps), width, height, settings,
                            advance, keep)
    if use_cache:
        store_faces(faces, path)
    return faces


def faces_cache_path(clip: str | Path, info: VideoInfo, settings: TrackerSettings, start: int, stop: int,
                     view: str = "") -> Path:
    """Where the tracks of ``clip`` (:class:`~..media.video.VideoInfo` ``info``) over ``[start, stop)`` are cached:
    by its content, the tracker's settings, the range, the part of the frame (``view``) and how its pictures are
    turned, as the tracks are in the pixels as shown (a phone's portrait photo tracked on its side, before its EXIF
    orientation was read, came back on its side: the mouth drawn across the cheek)."""
    turn = f"|turned {info.rotation}{' mirrored' if info.mirrored else ''}" if info.rotation or info.mirrored else ""
    return cache_path("faces", clip, f"{settings.key()}|{start}:{stop}{view}{turn}")


def store_faces(faces: ClipFaces, path: Path) -> None:
    """Put tracks in the cache (:func:`~lipsync_studio.media.cache.store`: whole or not at all; a cache that
    cannot be written is not an error, the result is just not kept)."""
    store(path, faces.save)
