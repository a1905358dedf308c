"""The ``sync`` job: a clip and a dub in, a video whose speaker's lips follow the dub out.

Stages: ``open`` (check every input and the output before any work), ``faces`` (track, cached),
``prepare`` (the engine plans every output frame's mouth), ``render`` (stream the clip's frames through the
plan and the engine to the encoder, the dub muxed as the audio track), ``measure`` (the result's sync).
With ``engine="none"`` only ``open`` and ``render`` run: the picture is re-timed to the dub's length.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import MediaError
from ..media.audio import probe_audio
from ..media.output import check_output_path
from ..media.prefetch import prefetch
from ..media.sequence import frames_in_order
from ..media.timeline import ExtendPolicy, OutputPlan, ShortenPolicy, plan_output
from ..media.video import VideoReader, probe_video
from ..media.writer import CONTAINERS, VideoFormat, VideoWriter
from .job import Job, Stage, StageContext, run_collecting_warnings

if TYPE_CHECKING:  # pragma: no cover
    from ..metrics.sync import SyncScore

#: ``transform(output_index, source_index, frame) -> frame``: what an engine does to each output frame.
FrameTransform = Callable[[int, int, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class SyncOptions:
    """What the user chose for a sync job.

    Attributes
    ----------
    extend: picture policy when the dub is longer than the clip.
    shorten: policy when the dub is shorter than the clip.
    fmt: codec and quality of the output.
    engine: ``auto`` (Wav2Lip when its weights are present, else built-in), ``builtin``, ``wav2lip``, or
        ``none`` (re-time the picture only, no lip-sync: the baseline to compare against).
    face: which face to sync (track id; None: the largest face).
    measure: measure the result's sync (re-tracks the output: one more pass).
    device: where the networks run: ``auto`` (CUDA, then MPS, then CPU), ``cpu``, ``cuda``, ``cuda:N``, ``mps``.
        The built-in engine runs on the CPU whatever is chosen (it has no network).
    script: the dub's text (.txt, .srt, .vtt): its phones are aligned to the dub instead of only recognised.
    script_lang: the script's language, as an espeak-ng voice name (``en``, ``de``, ``fr``, ``es``, …).
    """

    extend: ExtendPolicy = ExtendPolicy.PINGPONG
    shorten: ShortenPolicy = ShortenPolicy.TRIM_PICTURE
    fmt: VideoFormat = field(default_factory=VideoFormat)
    engine: str = "auto"
    face: int | None = None
    measure: bool = True
    device: str = "auto"
    script: Path | None = None
    script_lang: str = "en"


@dataclass(frozen=True)
class SyncResult:
    """What a finished sync job produced.

    Attributes
    ----------
    output: the written file.
    frames: output frames.
    fps: output frame rate.
    duration: output duration in seconds.
    clip_frames: frames of the input clip's timeline.
    warnings: things the user should know (damaged input, ...).
    """

    output: Path
    frames: int
    fps: float
    duration: float
    clip_frames: int
    warnings: tuple[str, ...] = ()
    engine: str = "none"
    sync: "SyncScore | None" = None
    engine_info: dict = field(default_factory=dict)


def _open_stage(ctx: StageContext) -> None:
    s = ctx.state
    video, dub, out = s["video"], s["dub"], s["output"]
    info = probe_video(video)
    try:
        audio = probe_audio(dub)
    except MediaError as exc:
        raise MediaError(exc.message, path=dub, hint=exc.hint or "the dub must be a file with sound") from exc
    if audio.duration_s <= 0:
        raise MediaError("the dub's audio is empty", path=dub)
    s["output"] = check_output_path(out, inputs=(video, dub), suffixes=CONTAINERS)
    opts: SyncOptions = s["options"]
    if opts.script is not None:
        from ..sync.phones import check_script

        check_script(opts.script)
    s["video_info"] = info
    s["plan"] = plan_output(info.n_frames, info.fps, audio.duration_s, opts.extend, opts.shorten)
    ctx.advance(1)


def _faces_stage(ctx: StageContext) -> None:
    from ..face.analysis import analyse_faces

    s = ctx.state
    opts: SyncOptions = s["options"]
    # An engine may start hearing the sound now: it runs beside the tracking.
    begin = getattr(s["engine"], "begin", None)
    if begin is not None:
        begin(s["video"], s["dub"], script=opts.script, script_lang=opts.script_lang)
    # An engine may keep what it needs of each frame while the tracker has it decoded.
    observer = getattr(s["engine"], "frame_observer", None)
    faces = analyse_faces(s["video"], advance=ctx.advance, keep=observer() if observer else None)
    faces.choose_speaker(opts.face)
    s["faces"] = faces


def _prepare_stage(ctx: StageContext) -> None:
    s = ctx.state
    s["engine"].prepare(s["video"], s["dub"], s["faces"], s["plan"], advance=ctx.advance)
    s["transform"] = s["engine"].render
    ctx.advance(max(0, ctx.total - ctx.done))  # engines report in output frames, some not at all


def _measure_stage(ctx: StageContext) -> None:
    from ..metrics.sync import evaluate_video

    s = ctx.state
    s["sync"] = evaluate_video(s["output"], advance=ctx.advance)


def _render_stage(ctx: StageContext) -> None:
    s = ctx.state
    info = s["video_info"]
    plan: OutputPlan = s["plan"]
    opts: SyncOptions = s["options"]
    transform: FrameTransform | None = s.get("transform")
    with VideoReader(info.path) as reader, VideoWriter(
        s["output"], plan.fps, info.width, info.height, fmt=opts.fmt, audio=s["dub"], audio_seconds=plan.audio_seconds
    ) as writer:
        sources = (plan.source_index(k) for k in range(plan.n_out))
        for k, frame in enumerate(prefetch(frames_in_order(reader, sources))):
            if transform is not None:
                frame = transform(k, plan.source_index(k), frame)
            writer.write(frame)
            ctx.advance(1)


def build_sync_job(video: str | Path, dub: str | Path, output: str | Path, options: SyncOptions | None = None,
                   transform: FrameTransform | None = None) -> Job:
    """Make the job that writes ``output``: ``video`` lip-synced to ``dub`` by the chosen engine (or, with
    ``engine="none"`` or an explicit ``transform``, re-timed / transformed only)."""
    from ..sync.registry import make_engine

    options = options or SyncOptions()
    engine = None if transform is not None else make_engine(options.engine, options.device)
    state: dict[str, Any] = {
        "video": Path(video), "dub": Path(dub), "output": Path(output),
        "options": options, "transform": transform, "engine": engine,
    }
    stages = [Stage("open", _open_stage, total=1)]
    if engine is not None:
        stages += [Stage("faces", _faces_stage, total=lambda st: st["video_info"].n_frames),
                   Stage("prepare", _prepare_stage, total=lambda st: st["plan"].n_out)]
    stages.append(Stage("render", _render_stage, total=lambda st: st["plan"].n_out))
    if engine is not None and options.measure:
        stages.append(Stage("measure", _measure_stage, total=lambda st: st["plan"].n_out))
    return Job("sync", stages, state)


def run_sync(video: str | Path, dub: str | Path, output: str | Path, options: SyncOptions | None = None,
             on_progress=None, cancel=None) -> SyncResult:
    """Run a sync job to the end and describe what it wrote (warnings collected, not printed)."""
    job = build_sync_job(video, dub, output, options)
    state, notes = run_collecting_warnings(job, on_progress, cancel)
    plan: OutputPlan = state["plan"]
    engine = state.get("engine")
    return SyncResult(output=state["output"], frames=plan.n_out, fps=float(plan.fps),
                      duration=plan.n_out / float(plan.fps), clip_frames=plan.n_clip, warnings=notes,
                      engine=engine.name if engine is not None else "none", sync=state.get("sync"),
                      engine_info=dict(getattr(engine, "info", {}) or {}))
