"""The one place the batch calls the sync job: a manifest row in, files in a folder and a small outcome out.

Everything else in :mod:`lipsync_studio.batch` sees only :func:`run_job` and :class:`JobOutcome`, so moving the
batch onto another sync entry point is a change of this module alone.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import OptionError
from .manifest import BatchJob

#: The per-job manifest options this sync job carries out.
SUPPORTED_OPTIONS = ("face", "script", "dub_offset", "dub_stream", "dub_channels", "stereo_mode", "out_layout")

def output_suffix(codec: str) -> str:
    """The container for a codec: MP4 for H.264/HEVC, QuickTime for ProRes and DNxHR, Matroska for VP9."""
    return {"prores": ".mov", "dnxhr": ".mov", "vp9": ".mkv"}.get(codec, ".mp4")


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
    crf: int = 18
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
    source: the clip (its left eye's file for two files) the result's first output was drawn into, for the QC's
        looks (None for an anaglyph, whose colours are not the clip's); ``source_eye``: ``(layout, 0)`` where that
        clip packs both eyes; ``source_frames``: the clip frame each output frame shows (not in :meth:`as_dict`).
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
    source: str | None = None
    source_eye: tuple[str, int] | None = None
    source_frames: tuple[int, ...] = field(default=(), repr=False)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        d = asdict(self)
        d["outputs"], d["warnings"] = list(self.outputs), list(self.warnings)
        d["eye"] = list(self.eye) if self.eye else None
        d["source_eye"] = list(self.source_eye) if self.source_eye else None
        del d["source_frames"]
        return d


def run_job(job: BatchJob, out_tmp: Path, device: str = "auto", settings: BatchSettings = BatchSettings(),
            cancel=None, on_progress=None) -> JobOutcome:
    """Run one batch job with the sync job (:func:`~lipsync_studio.engine.sync_job.run_sync`), writing its output(s) into the folder ``out_tmp``.

    Parameters
    ----------
    job: the manifest row.
    out_tmp: an existing, empty folder; the output is ``<clip>_<lang>.mp4`` in it (``_L``/``_R`` for
        ``out_layout=separate``). The caller moves the files to their final place.
    device: where networks run (``auto``, ``cpu``, ``cuda``, ...).
    settings: the batch-wide engine and encoding.
    cancel: a :class:`~lipsync_studio.job.CancelToken`; on_progress: the job's progress events.

    Raises
    ------
    UserError
        The job cannot be done for its own reason (bad media, no face, a stereo option on a 2D clip...).
    """
    from ..engine.sync_job import StereoOptions, SyncOptions, SyncRequest, run_sync
    from ..media.writer import VideoFormat

    fmt = VideoFormat(codec=settings.codec, crf=settings.crf, preset=settings.preset, pix_fmt=settings.pix_fmt)
    from ..sync.phones import espeak_voice

    # A script is in the job's language (its BCP 47 tag, as espeak-ng names a voice for it).
    opts = SyncOptions(fmt=fmt, engine=settings.engine, face=job.options.get("face"), measure=True, device=device,
                       script=job.options.get("script"), script_lang=espeak_voice(job.lang),
                       dub_stream=job.options.get("dub_stream"), dub_channels=job.options.get("dub_channels"))
    out = out_tmp / f"{job.key}{output_suffix(settings.codec)}"
    video = job.video if job.video is not None else job.left
    offset_ms = 1000.0 * float(job.options.get("dub_offset") or 0)
    stereo_asked = "stereo_mode" in job.options or "out_layout" in job.options
    stereo = None
    if job.right is not None:
        stereo = StereoOptions(right=job.right)
    else:
        from ..stereo.vr import resolve_layout
        from ..sync.builtin.engine import hear_ahead

        if opts.dub_stream is None and opts.dub_channels is None:  # else it hears a part of it written apart
            hear_ahead(video, job.dub, settings.engine, offset_ms)  # heard while the layout is looked at

        detected = resolve_layout(video)[0]
        if detected.is_stereo:
            stereo = StereoOptions(layout=detected.value)
        elif stereo_asked:
            raise OptionError("stereo_mode/out_layout given, but the clip is not stereo", path=video)
    if stereo is not None:
        stereo = dataclasses.replace(stereo, out_layout=job.options.get("out_layout", "same"),
                                     mode=job.options.get("stereo_mode", "consistent"), vr_name=False)
    request = SyncRequest(video, job.dub, out, opts, dub_offset_ms=offset_ms, stereo=stereo)
    result = run_sync(request, on_progress=on_progress, cancel=cancel)
    packed = stereo is not None and result.layout not in ("separate", "anaglyph")
    plan = result.plan
    return JobOutcome(outputs=tuple(Path(p).name for p in (result.outputs or (result.output,))),
                      frames=result.frames, fps=float(result.fps), duration=float(result.duration),
                      engine=result.engine, stereo=stereo is not None, mode=result.mode,
                      eye=(result.layout, 0) if packed else None,
                      sync=result.sync.as_dict() if result.sync is not None else None,
                      warnings=tuple(result.warnings),
                      timings={k: round(float(v), 3) for k, v in result.timings.items()},
                      source=str(video) if result.layout != "anaglyph" else None,  # not the clip's colours
                      source_eye=(stereo.layout, 0) if stereo is not None and job.right is None else None,
                      source_frames=tuple(plan.source_indices().tolist()) if plan else ())
