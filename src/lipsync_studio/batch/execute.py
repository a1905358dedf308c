"""The one place the batch calls the sync job: a manifest row in, files in a folder and a small outcome out.

Everything else in :mod:`lipsync_studio.batch` sees only :func:`run_job` and :class:`JobOutcome`, so moving the
batch onto another sync entry point is a change of this module alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import OptionError
from .manifest import BatchJob

#: The per-job manifest options this sync job carries out (``script`` waits for a sync job that takes one).
SUPPORTED_OPTIONS = ("face", "dub_offset", "stereo_mode", "out_layout")

def output_suffix(codec: str) -> str:
    """The container for a codec: MP4 for H.264/HEVC, QuickTime for ProRes, Matroska for VP9."""
    return {"prores": ".mov", "vp9": ".mkv"}.get(codec, ".mp4")


@dataclass(frozen=True)
class BatchSettings:
    """What the batch sets for every job (part of what a sidecar records and compares).

    Attributes
    ----------
    engine: the sync engine (``auto``, ``builtin``, ``wav2lip``).
    codec, crf, preset, pix_fmt: the output's encoding.
    """

    engine: str = "auto"
    codec: str = "h264"
    crf: int = 16
    preset: str = "veryfast"
    pix_fmt: str = "yuv420p"

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return asdict(self)


@dataclass(frozen=True)
class JobOutcome:
    """What one finished job wrote and measured.

    Attributes
    ----------
    outputs: the files written, as names inside the job's folder (two for ``out_layout=separate``).
    frames, fps, duration: the result's length (frames, frames/s, s).
    engine: the engine that synced it.
    stereo: whether the clip was stereo; mode: the stereo mode.
    eye: for stereo outputs packed in one picture, ``(layout, 0)``: where the left eye is (the QC measures it).
    sync: the sync measure (:meth:`~lipsync_studio.metrics.sync.SyncScore.as_dict`), when the job measured.
    warnings: things a reviewer should know (damaged input, ...).
    timings: seconds per stage.
    """

    outputs: tuple[str, ...]
    frames: int
    fps: float
    duration: float
    engine: str
    stereo: bool = False
    mode: str | None = None
    eye: tuple[str, int] | None = None
    sync: dict | None = None
    warnings: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        d = asdict(self)
        d["outputs"], d["warnings"] = list(self.outputs), list(self.warnings)
        d["eye"] = list(self.eye) if self.eye else None
        return d


def _shifted_dub(dub: Path, offset_s: float, folder: Path) -> Path:
    """The dub started ``offset_s`` seconds later (silence before it) or earlier (its start cut), as a WAV."""
    import numpy as np

    from ..media.audio import load_audio
    from ..media.audio_writer import write_audio

    sr = 48_000
    audio = load_audio(dub, sr=sr, mono=False)
    n = int(round(abs(offset_s) * sr))
    if offset_s >= 0:
        audio = np.concatenate([np.zeros((audio.shape[0], n), audio.dtype), audio], axis=1)
    else:
        audio = audio[:, n:]
        if audio.shape[1] == 0:
            raise OptionError(f"dub_offset {offset_s:g} s cuts away the whole dub", path=dub)
    return write_audio(folder / ".dub-shifted.wav", audio.T if audio.shape[0] > 1 else audio[0], sr)


def run_job(job: BatchJob, out_tmp: Path, device: str = "auto", settings: BatchSettings = BatchSettings(),
            cancel=None, on_progress=None) -> JobOutcome:
    """Run one batch job with today's sync job, writing its output(s) into the folder ``out_tmp``.

    Parameters
    ----------
    job: the manifest row.
    out_tmp: an existing, empty folder; the output is ``<clip>_<lang>.mp4`` in it (``_L``/``_R`` for
        ``out_layout=separate``). The caller moves the files to their final place.
    device: where networks run (``auto``, ``cpu``, ``cuda``, ...).
    settings: the batch-wide engine and encoding.
    cancel: a :class:`~lipsync_studio.engine.job.CancelToken`; on_progress: the job's progress events.

    Raises
    ------
    UserError
        The job cannot be done for its own reason (bad media, no face, a stereo option on a 2D clip...).
    """
    import time

    from ..engine.sync_job import SyncOptions, run_sync
    from ..media.writer import VideoFormat

    fmt = VideoFormat(codec=settings.codec, crf=settings.crf, preset=settings.preset, pix_fmt=settings.pix_fmt)
    opts = SyncOptions(fmt=fmt, engine=settings.engine, face=job.options.get("face"), measure=True, device=device)
    dub = job.dub
    if job.options.get("dub_offset"):
        dub = _shifted_dub(job.dub, float(job.options["dub_offset"]), out_tmp)
    out = out_tmp / f"{job.key}{output_suffix(settings.codec)}"
    video = job.video if job.video is not None else job.left
    stereo_asked = "stereo_mode" in job.options or "out_layout" in job.options
    layout = "auto"
    if job.right is None:
        from ..stereo.layout import detect_layout

        detected = detect_layout(video)[0]
        if not detected.is_stereo:
            if stereo_asked:
                raise OptionError("stereo_mode/out_layout given, but the clip is not stereo", path=video)
            started = time.perf_counter()
            result = run_sync(video, dub, out, opts, on_progress=on_progress, cancel=cancel)
            return JobOutcome(outputs=(result.output.name,), frames=result.frames, fps=result.fps,
                              duration=result.duration, engine=result.engine,
                              sync=result.sync.as_dict() if result.sync is not None else None,
                              warnings=tuple(result.warnings),
                              timings={"sync": round(time.perf_counter() - started, 3)})
        layout = detected.value
    return _run_stereo(job, video, dub, out, opts, layout, cancel, on_progress)


def _run_stereo(job: BatchJob, video: Path, dub: Path, out: Path, opts, layout: str, cancel,
                on_progress) -> JobOutcome:
    import warnings

    from ..engine.stereo_sync_job import StereoSyncOptions, run_stereo_sync
    from ..media.warnings import MediaWarning

    out_layout = job.options.get("out_layout", "sbs")
    sopts = StereoSyncOptions(sync=opts, layout=layout, right=job.right, out_layout=out_layout,
                              mode=job.options.get("stereo_mode", "consistent"), vr_name=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MediaWarning)
        result = run_stereo_sync(video, dub, out, sopts, on_progress=on_progress, cancel=cancel)
    notes = tuple(dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, MediaWarning)))
    for w in caught:
        if not issubclass(w.category, MediaWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    from ..media.video import probe_video

    info = probe_video(result["outputs"][0])
    packed = out_layout not in ("separate", "anaglyph")
    return JobOutcome(outputs=tuple(Path(p).name for p in result["outputs"]), frames=int(result["frames"]),
                      fps=float(info.fps), duration=result["frames"] / float(info.fps), engine=opts.engine,
                      stereo=True, mode=result["mode"], eye=(out_layout, 0) if packed else None,
                      warnings=notes, timings={k: round(v, 3) for k, v in result["timings"].items()})
