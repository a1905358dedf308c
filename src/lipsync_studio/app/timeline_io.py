"""Hand the synced shots back to the editing timeline, and read an editor's cut: OpenTimelineIO (``opentimelineio``;
Resolve, Premiere and Avid read and write it through its adapters; CMX 3600 EDLs through
``otio-cmx3600-adapter``). No Qt here.

- :func:`write_timeline` writes an ``.otio`` timeline of synced shots: each rendered file placed where its
  picture belongs (a range synced on its own sits at the range's place in the clip; a whole sync at the start),
  the rendered files referenced at their own source times, and the dub on an audio track.
- :func:`read_cut` lists the shots of a cut (``.otio``, ``.edl``, ...): the media file, its source range and its
  place on the cut's timeline. :func:`cut_requests` makes one range-only sync request per shot against the
  cut's dub (the programme's new sound): the shot hears the dub from its place on the timeline.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..engine.sync_job import SyncOptions, SyncRequest, SyncResult
from ..errors import MediaError, OptionError

#: Suffixes :func:`read_cut` reads (the adapters installed here).
CUT_SUFFIXES = (".otio", ".otioz", ".otiod", ".edl")


@dataclass(frozen=True)
class Shot:
    """A shot on a timeline.

    Attributes
    ----------
    name: the clip's name on the timeline.
    media: the video file (absolute).
    source_start_s, duration_s: the span of ``media`` used (seconds from the file's first frame).
    record_start_s: where the shot starts on the timeline (seconds from the timeline's start).
    fps: the timeline's rate.
    """

    name: str
    media: Path
    source_start_s: float
    duration_s: float
    record_start_s: float
    fps: float


def _otio():
    try:
        import opentimelineio as otio
    except ImportError as exc:  # pragma: no cover - a dependency; this names it when an install lacks it
        raise OptionError("timelines need the opentimelineio package",
                          hint="pip install opentimelineio") from exc
    return otio


def place_of(result: SyncResult) -> float:
    """Where the file ``result`` wrote belongs on its clip's timeline (seconds): a range written on its own
    (``engine_info["range_frames"]``) at the range's first frame, a whole sync at 0."""
    first = (result.engine_info or {}).get("range_frames", [0, result.frames])[0]
    return first / float(result.fps)


def write_timeline(path: str | Path, shots: list[tuple[SyncResult, Path, Path, float | None]],
                   name: str | None = None, dub: Path | None = None) -> Path:
    """Write an OpenTimelineIO timeline of synced shots to ``path`` (whole or not at all).

    Parameters
    ----------
    shots: ``(result, clip, dub, start_s)`` per shot: each result's file is placed at ``start_s`` on the
        timeline (None: :func:`place_of`); shots may not overlap (one video track). Its metadata under ``lipsync_studio``
        names the clip, the dub, the engine, the dub offset, the range and the sync measure.
    dub: the programme's sound, put on an audio track from the timeline's start (None: the rendered files'
        own sound, one audio clip per shot).

    Raises
    ------
    OptionError
        Shots overlap on the timeline.
    """
    otio = _otio()
    path = Path(path)
    if not shots:
        raise OptionError("there is no synced shot to put on a timeline")
    fps = float(shots[0][0].fps)
    rt = lambda s: otio.opentime.RationalTime(round(s * fps), fps)  # noqa: E731 - whole frames

    def span(start_s: float, dur_s: float):
        return otio.opentime.TimeRange(rt(start_s), rt(dur_s))

    tl = otio.schema.Timeline(name=name or path.stem)
    tl.global_start_time = otio.opentime.RationalTime(0, fps)
    video = otio.schema.Track(name="V1 synced", kind=otio.schema.TrackKind.Video)
    audio = otio.schema.Track(name="A1 dub", kind=otio.schema.TrackKind.Audio)
    at = 0.0
    placed = [(r, c, d, place_of(r) if at_s is None else float(at_s)) for r, c, d, at_s in shots]
    for result, clip, sdub, start in sorted(placed, key=lambda s: s[3]):
        dur = result.frames / float(result.fps)
        if start < at - 0.5 / fps:
            raise OptionError(f"the shot of {Path(result.output).name} starts at {start:.2f} s, inside the one "
                              f"before (up to {at:.2f} s)")
        out = Path(result.output).absolute()
        meta = {"clip": str(Path(clip).absolute()), "dub": str(Path(sdub).absolute()), "engine": result.engine,
                "dub_offset_ms": result.dub_offset_ms, "frames": result.frames,
                "range_frames": (result.engine_info or {}).get("range_frames"),
                "changed_frames": result.changed_frames,
                "sync": None if result.sync is None else result.sync.as_dict()}
        for track in ((video, audio) if dub is None else (video,)):
            if start > at + 0.5 / fps:
                track.append(otio.schema.Gap(source_range=span(0.0, start - at)))
            # In the file's own time code, as editing software relinks it (the result keeps the clip's).
            base = _media_start_s(out)
            ref = otio.schema.ExternalReference(target_url=otio.url_utils.url_from_filepath(str(out)),
                                                available_range=span(base, dur))
            track.append(otio.schema.Clip(name=out.stem, media_reference=ref, source_range=span(base, dur),
                                          metadata={"lipsync_studio": meta}))
        at = start + dur
    if dub is not None:
        from ..media.audio import probe_audio

        length = probe_audio(dub).duration_s
        ref = otio.schema.ExternalReference(target_url=otio.url_utils.url_from_filepath(str(Path(dub).absolute())),
                                            available_range=span(0.0, length))
        audio.append(otio.schema.Clip(name=Path(dub).stem, media_reference=ref, source_range=span(0.0, length)))
    tl.tracks.append(video)
    tl.tracks.append(audio)
    text = otio.adapters.write_to_string(tl, "otio_json")
    tmp = path.with_name(f".{path.name}.part-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        from ..errors import OutputError

        raise OutputError(f"cannot write the timeline: {exc.strerror or exc}", path=path) from exc
    return path


def read_cut(path: str | Path, rate: float | None = None) -> list[Shot]:
    """The video shots of a cut, in timeline order (every video track; gaps and transitions skipped).

    Media paths are resolved against the cut's folder when relative; a shot whose media reference is missing
    (no file named) is an error naming the shot. An EDL carries no frame rate: ``rate`` (frames a second), else
    the rate of the first shot's media file when it is there, else 24.

    Raises
    ------
    MediaError
        The file cannot be read as a timeline (names the file and the reason), or a shot names no file.
    """
    path = Path(path)
    if not path.is_file():
        raise MediaError("no such file", path=path)
    if path.suffix.lower() == ".edl" and rate is None:
        rate = _edl_media_rate(path)
    return _read_cut(path, rate)


def _edl_media_rate(path: Path) -> float:
    """The frame rate of the first media file an EDL names (``* FROM CLIP: file``), else 24 (the adapter's)."""
    import re

    from ..media.video import probe_video

    for m in re.finditer(r"^\*\s*FROM CLIP:\s*(.+?)\s*$", path.read_text(errors="replace"), re.MULTILINE):
        url = m.group(1)
        media = Path(_otio().url_utils.filepath_from_url(url) if "://" in url else url)
        media = media if media.is_absolute() else path.parent / media
        if media.is_file():
            try:
                return float(probe_video(media).fps)
            except MediaError:
                continue
    return 24.0


def _read_cut(path: Path, rate: float | None) -> list[Shot]:
    otio = _otio()
    try:
        extra = {"rate": rate} if rate is not None and path.suffix.lower() == ".edl" else {}
        tl = otio.adapters.read_from_file(str(path), **extra)
    except Exception as exc:  # noqa: BLE001 - the adapters raise many kinds; the user needs the words
        raise MediaError(f"cannot read this cut ({type(exc).__name__}: {exc})", path=path,
                         hint=f"an OpenTimelineIO timeline or a CMX 3600 EDL ({', '.join(CUT_SUFFIXES)})") from exc
    timelines = [tl] if isinstance(tl, otio.schema.Timeline) else list(tl.find_children(
        descended_from_type=otio.schema.Timeline))
    shots: list[Shot] = []
    for t in timelines:
        for track in t.video_tracks():
            for clip in track.find_clips():
                ref = clip.media_reference
                url = getattr(ref, "target_url", None)
                if not url:
                    raise MediaError(f"the shot {clip.name!r} names no media file", path=path)
                media = Path(otio.url_utils.filepath_from_url(url) if "://" in url else url)
                if not media.is_absolute():
                    media = path.parent / media
                src = clip.trimmed_range()
                rate = src.duration.rate
                start = src.start_time.to_seconds()
                avail = getattr(ref, "available_range", None)
                if avail is not None:
                    start -= avail.start_time.to_seconds()  # times from the file's own first frame
                else:  # an EDL: source times are the media's own time codes
                    start -= _media_start_s(media)
                rec = clip.trimmed_range_in_parent().start_time.to_seconds()
                shots.append(Shot(clip.name or media.stem, media.absolute(), max(0.0, start),
                                  src.duration.to_seconds(), rec, float(rate)))
    shots.sort(key=lambda s: s.record_start_s)
    return shots


def _media_start_s(media: Path) -> float:
    """Seconds from 00:00:00:00 to a media file's first frame by its own time code (an EDL gives source times so: a
    camera clip starting at 10:00:00:00 is asked for 10 hours in); 0 where it has none or cannot be read."""
    from ..media.timecode import timecode_frames
    from ..media.video import probe_video

    try:
        info = probe_video(media)
    except MediaError:
        return 0.0
    frames = timecode_frames(info.timecode, info.fps) if info.timecode else None
    return 0.0 if frames is None else frames / float(info.fps)


def cut_requests(shots: list[Shot], dub: Path, folder: Path, options: SyncOptions | None = None,
                 fmt_suffix: str = ".mp4") -> list[SyncRequest]:
    """One range-only sync request per shot: the shot's source range of its media, hearing ``dub`` from the
    shot's place on the cut's timeline; written to ``folder/NN_name.mp4``.

    The picture keeps the clip's own timeline (dub longer: cut; shorter: the whole clip kept), so output frame
    k is clip frame k and the range is the shot's source range.
    """
    import re

    from ..media.timeline import ExtendPolicy, ShortenPolicy

    options = options or SyncOptions()
    out = []
    for i, s in enumerate(shots, 1):
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", s.name).strip("._") or "shot"
        opts = replace(options, extend=ExtendPolicy.TRIM_AUDIO, shorten=ShortenPolicy.PAD_SILENCE,
                       start_s=s.source_start_s, end_s=s.source_start_s + s.duration_s)
        out.append(SyncRequest(s.media, dub, Path(folder) / f"{i:02d}_{safe}{fmt_suffix}", opts,
                               dub_offset_ms=1000.0 * (s.source_start_s - s.record_start_s)))
    return out


def describe_shots(shots: list[Shot]) -> list[dict[str, Any]]:
    """The shots as plain data (``cut --json``)."""
    return [{"name": s.name, "media": str(s.media), "source_start_s": round(s.source_start_s, 4),
             "duration_s": round(s.duration_s, 4), "record_start_s": round(s.record_start_s, 4), "fps": s.fps}
            for s in shots]


def with_timeline(task, timeline: Path, clip: Path, dub: Path):
    """``task`` (an app ``JobTask`` whose result is a ``SyncResult``) followed by writing ``timeline``: the
    written file at its place (:func:`place_of`), for the editing software."""
    from .jobs import JobTask

    def run(on_progress, cancel):
        result = task.run(on_progress, cancel)
        write_timeline(timeline, [(result, clip, dub, None)])
        return result

    return JobTask(name=task.name, run=run, output=task.output, cancel=task.cancel)
