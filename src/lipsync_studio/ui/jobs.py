"""The jobs the app runs, as plain callables the job worker executes (no Qt here).

A :class:`JobTask` is a name, a function ``run(on_progress, cancel) -> result`` and a cancel token. The Run
button makes a *preview* task (written to the cache folder, fast encoder settings); Export makes the same
job with the user's format and file name, so what is exported is exactly what was previewed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..engine.job import CancelToken, Progress, ProgressCallback
from ..engine.sync_job import SyncOptions
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


def preview_path(video: Path, dub: Path, options: SyncOptions, dub_offset_s: float, engine: str) -> Path:
    """Where the preview of this clip, dub and options goes (cache folder; one file per combination)."""
    from ..settings import cache_dir

    key = f"{Path(video).absolute()}|{Path(dub).absolute()}|{options}|{dub_offset_s:.4f}|{engine}"
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    return cache_dir() / "results" / f"{Path(video).stem}-{Path(dub).stem}-{digest}.mp4"


@contextlib.contextmanager
def offset_dub(dub: Path, offset_s: float, folder: Path) -> Iterator[Path]:
    """The dub shifted by ``offset_s`` seconds (later when positive), as a temporary WAV; the dub itself at 0.

    Positive offsets start the dub with silence; negative ones drop its beginning.
    """
    if abs(offset_s) < 1e-4:
        yield Path(dub)
        return
    import numpy as np

    from ..media.audio import load_audio
    from ..media.audio_writer import write_audio

    sr = 48_000
    audio = load_audio(dub, sr=sr, mono=False)
    shift = int(round(abs(offset_s) * sr))
    if offset_s > 0:
        audio = np.concatenate([np.zeros((audio.shape[0], shift), np.float32), audio], axis=1)
    else:
        audio = audio[:, shift:] if shift < audio.shape[1] else np.zeros((audio.shape[0], sr // 10), np.float32)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".dub-offset-{os.getpid()}-{id(audio):x}.wav"
    write_audio(tmp, audio, sr)
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def sync_task(video: Path, dub: Path, output: Path, options: SyncOptions, *, dub_offset_s: float = 0.0,
              name: str = "Sync") -> JobTask:
    """The sync job (clip + dub → ``output``) as a task; the result is a ``SyncResult``."""
    from ..engine.sync_job import run_sync

    def run(on_progress: ProgressCallback, cancel: CancelToken):
        cancel.raise_if_cancelled()
        if abs(dub_offset_s) >= 1e-4:
            on_progress(Progress("align dub", 0, 1, 0, 1, 0.0, None, f"shifting the dub by {dub_offset_s:+.3f} s"))
        from ..settings import cache_dir

        with offset_dub(Path(dub), dub_offset_s, cache_dir() / "tmp") as aligned:
            return run_sync(video, aligned, output, options, on_progress=on_progress, cancel=cancel)

    return JobTask(name=name, run=run, output=Path(output))


@dataclass(frozen=True)
class StereoRunResult:
    """What a stereo sync wrote, shaped like a ``SyncResult`` for the window.

    Attributes
    ----------
    output: the (first) file written; outputs: every file (two for separate eyes).
    frames, fps, duration: the output's length; clip_frames: frames of the clip.
    engine: the lip-sync engine asked for; mode: ``consistent`` or ``independent``; layout: the output's packing.
    """

    output: Path
    outputs: tuple[Path, ...]
    frames: int
    fps: float
    duration: float
    clip_frames: int
    engine: str
    mode: str
    layout: str
    sync: Any = None
    warnings: tuple[str, ...] = ()


def stereo_sync_task(video: Path, dub: Path, output: Path, options: SyncOptions, *, layout: str, out_layout: str,
                     mode: str, vr_name: bool, dub_offset_s: float = 0.0, name: str = "Sync") -> JobTask:
    """The stereo sync (both eyes kept a valid pair) as a task; the result is a :class:`StereoRunResult`."""
    from ..engine.stereo_sync_job import StereoSyncOptions, run_stereo_sync
    from ..media.video import probe_video

    opts = StereoSyncOptions(sync=options, layout=layout, out_layout=out_layout, mode=mode, vr_name=vr_name)

    def run(on_progress: ProgressCallback, cancel: CancelToken):
        from ..settings import cache_dir

        cancel.raise_if_cancelled()
        info = probe_video(video)
        with offset_dub(Path(dub), dub_offset_s, cache_dir() / "tmp") as aligned:
            out = run_stereo_sync(video, aligned, output, opts, on_progress=on_progress, cancel=cancel)
        outputs = tuple(Path(p) for p in out["outputs"])
        fps = float(info.fps)
        return StereoRunResult(outputs[0], outputs, int(out["frames"]), fps, out["frames"] / fps, info.n_frames,
                               options.engine, out["mode"], out_layout)

    return JobTask(name=name, run=run, output=Path(output))
