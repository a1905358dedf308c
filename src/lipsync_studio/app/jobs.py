"""The jobs the app runs, as plain callables the job worker executes (no Qt here).

A :class:`JobTask` is a name, a function ``run(on_progress, cancel) -> result`` and a cancel token. The Run
button makes a *preview* task (written to the cache folder, fast encoder settings); Export makes the same
job with the user's format and file name, so what is exported is exactly what was previewed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..job import CancelToken, ProgressCallback
from ..engine.sync_job import SyncRequest
from ..media.writer import VideoFormat

#: Encoder settings of a preview render (fast) and of a final one (the CLI's defaults).
QUALITY: dict[str, VideoFormat] = {
    "preview": VideoFormat(preset="veryfast", crf=20),
    "final": VideoFormat(),
}


@dataclass(frozen=True)
class JobTask:
    """A long job for the worker thread.

    Attributes
    ----------
    name: what the user sees (``"Sync"``, ``"Export"``).
    run: ``run(on_progress, cancel) -> result``; raises ``Cancelled`` when cancelled, having removed
        its partial output.
    output: the file the job writes, if any.
    cancel: the job's cancel token (set from the GUI thread).
    """

    name: str
    run: Callable[[ProgressCallback, CancelToken], Any]
    output: Path | None = None
    cancel: CancelToken = field(default_factory=CancelToken)


def preview_path(request: SyncRequest, engine: str) -> Path:
    """Where the preview of this request goes (cache folder; one file per clip, dub, options and offset)."""
    from ..settings import cache_dir

    video, dub = request.video, request.dub
    key = (f"{video.absolute()}|{dub.absolute()}|{request.options}|{request.dub_offset_ms:.1f}|{request.stereo}|"
           f"{engine}")
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    return cache_dir() / "results" / f"{video.stem}-{dub.stem}-{digest}.mp4"


def sync_task(request: SyncRequest, *, name: str = "Sync") -> JobTask:
    """The one sync job (2D or stereo: :func:`~lipsync_studio.engine.sync_job.run_sync`) as a task; its result
    is a :class:`~lipsync_studio.engine.sync_job.SyncResult`."""
    from ..engine.sync_job import run_sync

    def run(on_progress: ProgressCallback, cancel: CancelToken):
        cancel.raise_if_cancelled()
        return run_sync(request, on_progress=on_progress, cancel=cancel)

    return JobTask(name=name, run=run, output=request.output)
