"""Export what the editor approved: the preview of the last run, copied or re-encoded, not synced again.

:func:`preview_differences` says in the Run panel's words what changed between the request that made the
preview and the one an export would make (empty: the preview is what would be synced); :func:`export_task`
writes the preview to the export's file (a copy when the encoder settings match, else a re-encode of its
frames with its sound) as a job the app's worker runs. No Qt here.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..engine.sync_job import SyncRequest, SyncResult
from ..job import CancelToken, Job, ProgressCallback, Stage, StageContext
from ..media.output import atomic_output
from ..media.writer import CONTAINERS, VideoFormat
from .jobs import JobTask
from .words import engine_label, extend_label, shorten_label, stereo_mode_label, layout_label


def default_export_name(clip: Path, dub: Path | None, kind: str = "video", layout: str = "") -> str:
    """The suggested file (or folder) name of an export: ``clip_lang.mp4`` for a 2D video,
    ``clip_lang_anaglyph.mp4`` / ``clip_lang_sbs.mp4`` ... for a stereo one, ``clip_lang_meshes`` for an OBJ
    sequence. ``lang`` is the dub's name, less the clip's name when it starts with it (``talk_fr.wav`` for
    ``talk.mp4`` gives ``talk_fr.mp4``). The extension is the caller's."""
    stem = clip.stem
    if dub is not None:
        d = dub.stem
        stem = d if d.lower().startswith(clip.stem.lower()) and d.lower() != clip.stem.lower() else f"{stem}_{d}"
    if kind == "stereo":
        return f"{stem}_{layout or 'stereo'}"
    if kind == "obj":
        return f"{stem}_meshes"
    return stem


def preview_differences(approved: SyncRequest, wanted: SyncRequest) -> list[str]:
    """What an export would sync differently from the approved preview, one line each in the Run panel's
    words (``"Dub longer: Ping-pong the picture → Hold the last frame"``); empty when the preview is exactly
    what would be synced (the output file, its encoder settings and the device do not count)."""
    out: list[str] = []

    def diff(name: str, a: Any, b: Any, words=str) -> None:
        if a != b:
            out.append(f"{name}: {words(a)} → {words(b)}")

    diff("Clip", approved.video.name, wanted.video.name)
    diff("Dub", approved.dub.name, wanted.dub.name)
    if approved.video == wanted.video and approved.dub == wanted.dub:
        diff("Dub offset", round(approved.dub_offset_ms), round(wanted.dub_offset_ms), lambda ms: f"{ms:+d} ms")
        diff("Dub stream", approved.options.dub_stream, wanted.options.dub_stream,
             lambda s: "the main one" if s is None else f"#{s}")
        diff("Dub channels", tuple(approved.options.dub_channels or ()), tuple(wanted.options.dub_channels or ()),
             lambda c: ", ".join(map(str, c)) if c else "all")
    a, b = approved.options, wanted.options
    diff("Engine", a.engine, b.engine, engine_label)
    diff("Dub longer", str(getattr(a.extend, "value", a.extend)), str(getattr(b.extend, "value", b.extend)),
         extend_label)
    diff("Dub shorter", str(getattr(a.shorten, "value", a.shorten)), str(getattr(b.shorten, "value", b.shorten)),
         shorten_label)
    diff("Face", a.face, b.face, lambda f: "largest face" if f is None else f"face {f}")
    diff("Range", (a.start_s, a.end_s), (b.start_s, b.end_s), _range_words)
    diff("Script", a.script.name if a.script else None, b.script.name if b.script else None,
         lambda name: "none" if name is None else name)
    diff("Script language", a.script_lang, b.script_lang)
    sa, sb = approved.stereo, wanted.stereo
    if (sa is None) != (sb is None):
        diff("Clip", "stereo" if sa else "2D", "stereo" if sb else "2D")
    elif sa is not None and sb is not None:
        diff("Stereo", sa.mode, sb.mode, stereo_mode_label)
        diff("Clip layout", sa.layout, sb.layout, layout_label)
        diff("Layout", sa.out_layout, sb.out_layout, layout_label)
    return out


def _range_words(span: tuple[float | None, float | None]) -> str:
    start, end = span
    if start is None and end is None:
        return "the whole timeline"
    return f"{start or 0.0:.2f}-{'end' if end is None else f'{end:.2f}'} s"


def same_encoding(a: VideoFormat, b: VideoFormat) -> bool:
    """Whether two encoder settings make the same picture (the audio bitrate aside)."""
    return (a.codec, a.crf, a.preset, a.pix_fmt) == (b.codec, b.crf, b.preset, b.pix_fmt)


def _copy(ctx: StageContext) -> None:
    s = ctx.state
    src, out = s["preview"], s["output"]
    with atomic_output(out) as tmp:
        with open(src, "rb") as fin, open(tmp, "wb") as fout:
            while chunk := fin.read(8 << 20):
                fout.write(chunk)
                ctx.check()
        shutil.copystat(src, tmp)
    ctx.advance(ctx.total)


def _reencode(ctx: StageContext) -> None:
    from ..media.prefetch import prefetch
    from ..media.video import VideoReader, probe_video
    from ..media.writer import VideoWriter

    s = ctx.state
    info = probe_video(s["preview"])
    with VideoReader(s["preview"]) as reader, VideoWriter(
            s["output"], info.fps, info.width, info.height, fmt=s["fmt"], audio=s["preview"],
            audio_seconds=s["seconds"], audio_at_picture=True, picture=info.picture) as writer:
        # As decoded: an interlaced result's two fields go on as they are (its RGB is one field's moment).
        for _, frame in prefetch(reader.iter_frames(planes=True, rgb=False)):
            writer.write(frame)
            ctx.advance(1)


def export_preview(preview: SyncResult, output: Path, fmt: VideoFormat, preview_fmt: VideoFormat,
                   on_progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> SyncResult:
    """Write the approved preview to ``output``: a byte copy when ``fmt`` is the preview's encoding and the
    container is the same, else its frames re-encoded with ``fmt`` and its sound. (A transparent photo exported
    where its transparency is kept is synced again: the preview holds none, and its outline moves with the face.)

    Returns the preview's result (measures and all) for ``output``; ``timings`` holds the ``copy`` or
    ``encode`` stage. Nothing is left under ``output`` when it fails or is cancelled.
    """
    from ..media.output import check_output_path

    src = Path(preview.output)
    out = check_output_path(output, inputs=(src,), suffixes=CONTAINERS)
    copy = same_encoding(fmt, preview_fmt) and out.suffix.lower() == src.suffix.lower()
    state = {"preview": src, "output": out, "fmt": fmt.for_container(out.suffix), "seconds": preview.duration}
    stage = (Stage("copy", _copy, total=1) if copy else Stage("encode", _reencode, total=preview.frames))
    job = Job("export", [stage], state)
    job.run(on_progress, cancel)
    return replace(preview, output=out, outputs=(out,), timings=dict(job.timings))


def export_task(preview: SyncResult, output: Path, fmt: VideoFormat, preview_fmt: VideoFormat) -> JobTask:
    """:func:`export_preview` as the app's ``Export`` task."""

    def run(on_progress: ProgressCallback, cancel: CancelToken) -> SyncResult:
        cancel.raise_if_cancelled()
        return export_preview(preview, output, fmt, preview_fmt, on_progress, cancel)

    return JobTask(name="Export", run=run, output=Path(output))
