"""Writing a synced range on its own: the frames between In and Out, with their stretch of the dub, as a short
file (instead of spliced into the whole clip). No Qt here.

:func:`cut_range` writes frames ``[first, stop)`` of a synced video with its sound from ``first``'s time on;
:func:`sync_range_only` runs a range sync and keeps only the range (the command line's ``sync --range-only``,
the app's Export with "In to Out only"). The range's place on the whole timeline is kept in the result
(``SyncResult.engine_info["range_frames"]``) so a timeline export can put the shot where it belongs.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..engine.sync_job import SyncRequest, SyncResult, resolve_output, synced_range
from ..errors import OptionError
from ..job import CancelToken, Job, ProgressCallback, Stage, StageContext
from ..media.writer import CONTAINERS, VideoFormat


def range_of(request: SyncRequest, frames: int, fps) -> tuple[int, int]:
    """The output frames ``[first, stop)`` that ``request``'s ``start_s``/``end_s`` pick on an output of
    ``frames`` frames at ``fps`` (the engine's own rule: a frame is in when its start time is)."""
    from fractions import Fraction

    from ..media.timeline import ExtendPolicy, OutputPlan

    plan = OutputPlan(n_out=int(frames), fps=Fraction(fps), audio_seconds=frames / float(fps), n_clip=int(frames),
                      extend=ExtendPolicy.HOLD)
    return synced_range(request.options, plan)


def _cut_stage(ctx: StageContext) -> None:
    from ..engine.dub import write_shifted_dub
    from ..media.output import temporary_sibling
    from ..media.prefetch import prefetch
    from ..media.video import VideoReader
    from ..media.writer import VideoWriter

    s = ctx.state
    info, first, stop, out = s["info"], s["first"], s["stop"], s["output"]
    fps = float(info.fps)
    sound = temporary_sibling(out.with_name(f"{out.stem}-sound.wav"))
    s["cleanup"].append(sound)
    write_shifted_dub(s["source"], -first / fps, sound, at_picture=True)  # the sound from the range's first frame on
    with VideoReader(s["source"]) as reader, VideoWriter(
            out, info.fps, info.width, info.height, fmt=s["fmt"], audio=sound,
            audio_seconds=(stop - first) / fps, picture=info.picture.from_frame(first, info.fps)) as writer:
        # As decoded: an interlaced clip's two fields go on as they are (its RGB is one field's moment).
        for _, frame in prefetch(reader.iter_frames(first, stop, planes=True, rgb=False)):
            writer.write(frame)
            ctx.advance(1)


def cut_range(source: Path, output: Path, first: int, stop: int, fmt: VideoFormat,
              on_progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> dict:
    """Write frames ``[first, stop)`` of the video ``source`` to ``output`` (encoded with ``fmt``), with
    ``source``'s sound from frame ``first``'s time for as long. Nothing is left under ``output`` on failure.

    Returns the job's timings (``{"cut": seconds}``).

    Raises
    ------
    OptionError
        The range is empty or outside ``source``.
    """
    from ..job import cleanup_files
    from ..media.output import check_output_path
    from ..media.video import probe_video

    info = probe_video(source)
    if not 0 <= first < stop <= info.n_frames:
        raise OptionError(f"frames {first}-{stop} are not within the video's {info.n_frames} frames", path=source)
    out = check_output_path(Path(output), inputs=(Path(source),), suffixes=CONTAINERS)
    state = {"source": Path(source), "output": out, "first": int(first), "stop": int(stop), "info": info,
             "fmt": fmt.for_container(out.suffix), "cleanup": []}
    job = Job("cut", [Stage("cut", _cut_stage, total=stop - first)], state)
    with cleanup_files(state):
        job.run(on_progress, cancel)
    return dict(job.timings)


def sync_range_only(request: SyncRequest, on_progress: ProgressCallback | None = None,
                    cancel: CancelToken | None = None) -> SyncResult:
    """Sync ``request``'s range (``options.start_s``/``end_s``) and write only that range to its output.

    The whole output is synced to a temporary file beside the output (outside the range only re-timed, so it
    costs little more than the range), the range cut from it, and the temporary file removed. The sync is
    measured on the file written, when the request asks for a measure.

    Raises
    ------
    OptionError
        No range was given, or the output is two files (one per eye).
    """
    from ..engine.sync_job import run_sync
    from ..media.output import temporary_sibling

    if request.options.start_s is None and request.options.end_s is None:
        raise OptionError("a range-only sync needs a range", hint="give --start and/or --end with --range-only")
    if request.stereo is not None and request.stereo.out_layout == "separate":
        raise OptionError("a range-only sync writes one file; the eyes in two files are not supported",
                          hint="choose a packed layout (--out-layout sbs, tb, ...)")
    output, _ = resolve_output(request)
    whole = temporary_sibling(output.with_name(f"{output.stem}-whole{output.suffix or '.mp4'}"))
    lossless = VideoFormat(codec="h264", crf=0, preset="ultrafast", pix_fmt=request.options.fmt.pix_fmt)
    opts = replace(request.options, measure=False, fmt=lossless)
    try:
        result = run_sync(replace(request, output=whole, options=opts), on_progress, cancel)
        first, stop = range_of(request, result.frames, _fps_of(whole))
        timings = cut_range(whole, output, first, stop, request.options.fmt, on_progress, cancel)
    finally:
        whole.unlink(missing_ok=True)
    sync = None
    if request.options.measure and result.engine != "none":
        from ..metrics.sync import evaluate_video

        sync = evaluate_video(output)
    n = stop - first
    info = dict(result.engine_info, range_frames=[first, stop], range_seconds=[first / result.fps,
                                                                               stop / result.fps])
    return replace(result, output=output, outputs=(output,), frames=n, duration=n / result.fps, sync=sync,
                   engine_info=info, timings={**result.timings, **timings})


def _fps_of(path: Path):
    from ..media.video import probe_video

    return probe_video(path).fps


def export_preview_range(preview: SyncResult, request: SyncRequest, output: Path, fmt: VideoFormat,
                         on_progress: ProgressCallback | None = None,
                         cancel: CancelToken | None = None) -> SyncResult:
    """Write the range of the approved preview (made by ``request``, a range sync spliced into the whole clip)
    alone to ``output``: its frames re-encoded with ``fmt``, with their stretch of the sound; no new sync."""
    first, stop = range_of(request, preview.frames, _fps_of(Path(preview.output)))
    timings = cut_range(Path(preview.output), Path(output), first, stop, fmt, on_progress, cancel)
    n = stop - first
    info = dict(preview.engine_info or {}, range_frames=[first, stop],
                range_seconds=[first / preview.fps, stop / preview.fps])
    return replace(preview, output=Path(output), outputs=(Path(output),), frames=n, duration=n / preview.fps,
                   sync=None, engine_info=info, timings=timings)
