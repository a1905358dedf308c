"""Face analysis of a clip with caching: track once, reuse in every later run and in the app."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

from ..engine.cache import cache_path
from ..media.prefetch import prefetch
from ..media.video import VideoReader
from .track import ClipFaces
from .tracker import TrackerSettings, track_faces


def analyse_faces(clip: str | Path, settings: TrackerSettings = TrackerSettings(), start: int = 0,
                  stop: int | None = None, advance: Callable[[int], None] | None = None,
                  use_cache: bool = True, keep=None) -> ClipFaces:
    """Track the faces of ``clip`` over timeline frames ``[start, stop)`` (cached by content + settings).

    Frames outside the range are marked absent in the returned tracks. ``keep(index, frame, detections)`` sees
    every frame while tracking (see :func:`track_faces`); not called when the tracks come from the cache.
    """
    with VideoReader(clip) as reader:
        info = reader.info
        stop = info.n_frames if stop is None else min(stop, info.n_frames)
        path = cache_path("faces", clip, f"{settings.key()}|{start}:{stop}")
        if use_cache and path.exists():
            try:
                faces = ClipFaces.load(path)
                if advance is not None:
                    advance(stop - start)
                return faces
            except (OSError, ValueError, KeyError):
                pass  # a damaged cache entry is recomputed
        faces = track_faces(prefetch(reader.iter_frames(start, stop)), info.n_frames, float(info.fps), info.width,
                            info.height, settings, advance, keep)
    if use_cache:
        store_faces(faces, path)
    return faces


def store_faces(faces: ClipFaces, path: Path) -> None:
    """Put tracks in the cache under a temporary name, then rename (a reader never sees half a file).

    A cache that cannot be written (full disk, read-only) is not an error: the result is just not kept.
    """
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + f".{os.getpid()}.tmp.npz")
        faces.save(tmp)
        os.replace(tmp, path)
