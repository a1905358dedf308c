"""The ``sync`` job: a clip and a dub in, a video whose speaker's lips follow the dub out.

:func:`run_sync` runs one :class:`SyncRequest` (2D, or both eyes of a stereo clip: :mod:`.stereo_sync_job`) and
returns a :class:`SyncResult`; the command line, the app and batch tasks all call it.

Stages: ``open`` (check every input and the output before any work; shift the dub when asked), ``faces``
(track, cached), ``prepare`` (the engine plans every output frame's mouth), ``render`` (stream the clip's
frames through the plan and the engine to the encoder, the dub muxed as the audio track), ``measure`` (the
result's sync).
With ``engine="none"`` only ``open`` and ``render`` run: the picture is re-timed to the dub's length.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import MediaError
from ..media.audio import probe_audio
from ..media.output import check_output_path
from ..media.prefetch import prefetch, run_in_helper
from ..media.sequence import frames_in_order
from ..media.timeline import ExtendPolicy, OutputPlan, ShortenPolicy, plan_output
from ..media.video import VideoReader, probe_video
from ..media.writer import CONTAINERS, VideoFormat, VideoWriter, keeps_alpha, threads_beside_one_busy
from ..sync.base import WholeFrameNeeded
from .dub import measured_against, prepare_dub
from ..job import CancelToken, Job, ProgressCallback, Stage, StageContext, run_collecting_warnings

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
    face: which face to sync (track id; None: the largest face); several ids: one person the tracker saw as
        several faces in different shots (:meth:`~lipsync_studio.face.track.ClipFaces.choose_speaker`).
    measure: measure the result's sync (re-tracks the output: one more pass).
    device: where the networks run: ``auto`` (CUDA, then MPS, then CPU), ``cpu``, ``cuda``, ``cuda:N``, ``mps``.
        The built-in engine runs on the CPU whatever is chosen (it has no network).
    start_s, end_s: sync only the output's frames from ``start_s`` to ``end_s`` (seconds on the output's
        timeline; None: its start, its end); the rest of the output is the clip re-timed, unchanged, so the
        synced range is spliced into the whole clip.
    script: the dub's text (.txt, .srt, .vtt): its phones are aligned to the dub instead of only recognised.
    script_lang: the script's language, as an espeak-ng voice name (``en``, ``de``, ``fr``, ``es``, …).
    dub_stream: which of the dub's audio streams the sync hears and the output carries (its number among the
        file's streams, as ``probe`` lists them; a delivery often holds the mix, the M&E and the dialogue as
        streams of one file); None: the file's main audio stream (a dub with several says which it heard).
    dub_channels: only these channels of that stream (numbered from 1, as a mixer does: a polyphonic file of
        stems, ``(5, 6)`` its dialogue pair); None: all, a surround mix heard from its centre.
    """

    extend: ExtendPolicy = ExtendPolicy.PINGPONG
    shorten: ShortenPolicy = ShortenPolicy.TRIM_PICTURE
    fmt: VideoFormat = field(default_factory=VideoFormat)
    engine: str = "auto"
    face: int | tuple[int, ...] | None = None
    measure: bool = True
    device: str = "auto"
    start_s: float | None = None
    end_s: float | None = None
    script: Path | None = None
    script_lang: str = "en"
    dub_stream: int | None = None
    dub_channels: tuple[int, ...] | None = None


def synced_range(options: SyncOptions, plan: OutputPlan) -> tuple[int, int]:
    """The output frames ``[first, stop)`` the engine changes: ``options.start_s``/``end_s`` on ``plan``'s
    timeline (a frame is in when its start time is), the whole output without them.

    Raises
    ------
    OptionError
        The range is empty, reversed, or starts past the output's end (named in seconds).
    """
    from ..errors import OptionError

    fps = float(plan.fps)
    length = plan.n_out / fps
    start = 0.0 if options.start_s is None else float(options.start_s)
    end = length if options.end_s is None else min(float(options.end_s), length)
    if start < 0 or start >= length or end <= start:
        raise OptionError(f"the range {start:.2f}-{end:.2f} s holds no frame of the output (0-{length:.2f} s)",
                          hint="give --start below --end, both within the output's length")
    first, stop = int(np.ceil(start * fps - 1e-6)), int(np.ceil(end * fps - 1e-6))
    if stop <= first:
        raise OptionError(f"the range {start:.3f}-{end:.3f} s holds no whole frame at {fps:g} fps")
    return first, stop


@dataclass(frozen=True)
class StereoOptions:
    """How a stereo clip is read, synced and written (the two-eye case of a sync job).

    Attributes
    ----------
    layout: how the clip packs its eyes: ``auto`` (detected from the picture and the name), ``sbs``,
        ``half-sbs``, ``tb``, ... (see :class:`~lipsync_studio.stereo.layout.StereoLayout`).
    right: the right eye's own file, when the eyes are two files (the request's ``video`` is then the left).
    out_layout: the output's packing: ``same`` (default: the input's own packing, with its stereo/VR metadata
        written back), ``sbs``, ``half-sbs``, ``tb``, ``anaglyph``, ``separate`` (two files ``OUT_L``/``OUT_R``), ...
    mode: how the right eye follows the synced left eye (:data:`~lipsync_studio.stereo.right_eye.MODES`):
        ``consistent`` (default: the change carried through the pair's disparity), ``independent`` (each eye
        synced on its own), ``cycle`` (the paper's trained model).
    anaglyph: the anaglyph method for ``out_layout="anaglyph"``.
    vr_name: name a full-SBS output ``*_LRF_Full_SBS`` (VR players); off: the file written is the one asked for.
    """

    layout: str = "auto"
    right: Path | None = None
    out_layout: str = "same"
    mode: str = "consistent"
    anaglyph: str = "dubois"
    vr_name: bool = False


@dataclass(frozen=True)
class SyncRequest:
    """One sync job, everything it needs: what the command line, the app and a batch task hand to :func:`run_sync`.

    Paths only, never media, so a request is small, can be sent to another process and written as JSON
    (:meth:`to_dict`, :meth:`from_dict`).

    Attributes
    ----------
    video: the clip (for stereo from two files: the left eye; ``stereo.right`` is the right eye).
    dub: the new sound (any audio file, or a video's sound track).
    output: the file to write, exactly; a folder: ``<clip>_synced.mp4`` in it (VR-named for full SBS).
    options: engine, face, measure, length policies, codec (shared by 2D and stereo).
    dub_offset_ms: shift the dub by this many milliseconds (later when positive: it starts with silence;
        earlier when negative: its start is dropped), for a dub that is slightly early or late.
    stereo: None for a 2D clip; the stereo choices for a stereo clip.
    """

    video: Path
    dub: Path
    output: Path
    options: SyncOptions = field(default_factory=SyncOptions)
    dub_offset_ms: float = 0.0
    stereo: StereoOptions | None = None

    def __post_init__(self) -> None:
        for name in ("video", "dub", "output"):
            object.__setattr__(self, name, Path(getattr(self, name)))
        if self.stereo is not None and self.stereo.right is not None:
            object.__setattr__(self, "stereo", replace(self.stereo, right=Path(self.stereo.right)))

    def to_dict(self) -> dict[str, Any]:
        """Plain data (str, numbers, bools, None, dicts) for JSON; :meth:`from_dict` reads it back."""
        return to_plain(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SyncRequest":
        """The request :meth:`to_dict` described."""
        o = dict(data.get("options") or {})
        if "fmt" in o:
            o["fmt"] = VideoFormat(**o["fmt"])
        if "extend" in o:
            o["extend"] = ExtendPolicy(o["extend"])
        if "shorten" in o:
            o["shorten"] = ShortenPolicy(o["shorten"])
        st = data.get("stereo")
        return cls(video=Path(data["video"]), dub=Path(data["dub"]), output=Path(data["output"]),
                   options=SyncOptions(**o), dub_offset_ms=float(data.get("dub_offset_ms", 0.0)),
                   stereo=StereoOptions(**st) if st is not None else None)


@dataclass(frozen=True)
class SyncResult:
    """What a finished sync job produced (2D or stereo).

    Attributes
    ----------
    output: the (first) file written.
    frames: output frames.
    fps: output frame rate.
    duration: output duration in seconds.
    clip_frames: frames of the input clip's timeline.
    warnings: things the user should know (damaged input, ...), each once.
    engine: the lip-sync engine that ran (``builtin``, ``wav2lip``, ``none``).
    sync: the result's sync measure (None when not measured); for stereo the left eye's.
    engine_info: what the engine reports about itself (weights, device, ...).
    outputs: every file written (two for stereo ``separate``).
    layout: ``2d``, or the stereo output's packing (``sbs``, ``tb``, ``anaglyph``, ``separate``, ...).
    mode: None for 2D; the stereo mode (``consistent``, ``independent``, ``cycle``).
    sync_right: stereo: the right eye's sync measure (None for 2D or when not measured).
    dub_offset_ms: the dub's shift that was applied.
    timings: seconds spent in each stage (``open``, ``faces``, ``prepare``, ``render``, ``measure``, ...).
    changed_frames: output frames whose picture the engine changed (None: no engine ran, the picture is only
        re-timed); 0 with an engine: nothing was synced (no face found), and ``warnings`` says so.
    plan: the output's timeline (which clip frame each output frame shows: ``plan.source_index(k)``); not in
        :meth:`to_dict`.
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
    outputs: tuple[Path, ...] = ()
    layout: str = "2d"
    mode: str | None = None
    sync_right: "SyncScore | None" = None
    dub_offset_ms: float = 0.0
    timings: dict = field(default_factory=dict)
    changed_frames: int | None = None
    plan: OutputPlan | None = field(default=None, metadata={"plain": False})

    @property
    def unchanged(self) -> bool:
        """Whether an engine ran and changed no frame: the picture is the clip's, only re-timed to the dub."""
        return self.changed_frames == 0

    @property
    def is_stereo(self) -> bool:
        """Whether both eyes of a stereo clip were synced."""
        return self.mode is not None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (``lipsync-studio sync --json`` prints it); the plan stays behind (its length and
        rate are ``frames`` and ``fps``)."""
        return to_plain(self)


def to_plain(value: Any) -> Any:
    """``value`` as JSON-ready data: dataclasses as dicts (a sync measure via its ``as_dict``; fields marked
    ``metadata={"plain": False}`` left out), paths and enums as strings, tuples as lists."""
    import dataclasses
    import enum

    if hasattr(value, "as_dict") and callable(value.as_dict):
        return value.as_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)
                if f.metadata.get("plain", True)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def resolve_output(request: SyncRequest) -> tuple[Path, bool]:
    """The file a request writes and whether it gets the VR name: ``output`` itself, or for a folder
    ``<folder>/<clip>_synced.mp4`` (VR-named when the output is full SBS)."""
    out = request.output
    vr_name = request.stereo.vr_name if request.stereo is not None else False
    if out.is_dir():
        out, vr_name = out / f"{request.video.stem}_synced.mp4", True
    return out, vr_name


#: The most pixels a picture may have at H.264's and HEVC's level 5.2 (4096 x 2176; 4K): what phones, TVs and
#: browsers' hardware decoders play. Beyond it the encoder writes level 6.
LEVEL_52_PIXELS = 8_912_896


def _codec_words(fmt: VideoFormat) -> str:
    """The codec's name in a warning: ``H.264``, ``HEVC``, ``DNXHR``."""
    return fmt.codec.upper().replace("H264", "H.264")


def _warn_if_unplayable_photo(video: Path, info, fmt: VideoFormat) -> None:
    """Warn that a still photo larger than 4K gives a video many players cannot play (a phone's 12 MP portrait
    photo gave a 3024 x 4032 H.264 at level 6.0). A video clip that size is the user's choice (8K VR), not this."""
    if info.n_frames == 1 and info.width * info.height > LEVEL_52_PIXELS and fmt.codec in ("h264", "hevc"):
        from ..media.warnings import warn_media

        warn_media(f"{video}: the photo is {info.width}x{info.height}, and so is the video made from it: beyond 4K's "
                   f"{LEVEL_52_PIXELS / 1e6:.1f} million pixels {_codec_words(fmt)} needs "
                   "level 6, which phones, TVs and browsers' hardware decoders do not play; a photo of 4K or less "
                   "(3072 px on a 4:3 portrait's long side) gives one that plays everywhere, or --codec prores for "
                   "an edit")


#: What the warning that a transparent clip's result keeps no transparency says (after the clip's path and "the
#: photo" or "the clip"): the app, whose preview is H.264 by design, words it for its own Export instead.
TRANSPARENCY_NOT_KEPT = "is transparent around its subject, and "


def _warn_if_transparency_lost(video: Path, info, fmt: VideoFormat) -> None:
    """Warn that a transparent photo's or keyed video's transparency is not kept by ``fmt`` (H.264, HEVC, DNxHR):
    its transparent pixels then show in the colours the file stores under them, black mostly."""
    if not info.transparent or keeps_alpha(fmt):
        return
    from ..media.warnings import warn_media

    with VideoReader(info.path) as reader:
        clear = reader.alpha() == 0
        stored = np.median(reader.frame(0)[clear], axis=0) if clear.any() else None
    shade = ("" if stored is None else " (black here)" if stored.max() < 40 else " (white here)" if stored.min() > 215
             else "")
    what = "photo" if info.n_frames == 1 else "clip"
    warn_media(f"{video}: the {what} {TRANSPARENCY_NOT_KEPT}{_codec_words(fmt)} keeps "
               f"no transparency: those pixels show in the colours the {what} stores under them{shade}; "
               "written as ProRes 4444 (a .mov, --codec prores) or VP9 (a .webm, which browsers show over the page) "
               "it is kept")


def _open_stage(ctx: StageContext) -> None:
    s = ctx.state
    video, dub, out = s["video"], s["dub"], s["output"]
    info = probe_video(video)
    try:
        audio = probe_audio(dub, s["options"].dub_stream)
    except MediaError as exc:
        raise MediaError(exc.message, path=dub, hint=exc.hint or "the dub must be a file with sound") from exc
    if audio.duration_s <= 0:
        raise MediaError("the dub's audio is empty", path=dub)
    s["output"] = check_output_path(out, inputs=(video, dub), suffixes=CONTAINERS)
    opts: SyncOptions = s["options"]
    fmt = opts.fmt.for_container(s["output"].suffix)  # a codec or a sound the file cannot hold: refused before work
    _warn_if_unplayable_photo(video, info, fmt)
    _warn_if_transparency_lost(video, info, fmt)
    if info.width % 2 or info.height % 2:  # the writer pads (VideoWriter); an edit expects the clip's own size
        from ..media.warnings import warn_media

        warn_media(f"{video}: the clip is {info.width}x{info.height}, and video encoders take even sizes: the result "
                   f"is {info.width + info.width % 2}x{info.height + info.height % 2}, its last "
                   + " and ".join(w for w, odd in (("column", info.width % 2), ("row", info.height % 2)) if odd)
                   + " repeated")
    if opts.script is not None:
        from ..sync.phones import check_script

        check_script(opts.script)
    s["video_info"] = info
    from ..media.vrmeta import read_vr_metadata

    s["vr"] = read_vr_metadata(video, side_data=False)  # a 360/VR clip keeps its projection (render, VR hook)
    audio = prepare_dub(s, audio)
    s["plan"] = plan_output(info.n_frames, info.fps, audio.duration_s, opts.extend, opts.shorten)
    s["range"] = synced_range(opts, s["plan"])
    ctx.advance(1)


@contextlib.contextmanager
def short_gil_turns(seconds: float = 0.0005):
    """Let threads take turns with the interpreter lock every ``seconds`` (Python's default: 5 ms) while inside.

    A pass runs its decoder, its encoder and MediaPipe's graph in threads beside the main thread's Python work.
    Each of them gives up the lock around its native calls and must win it back after each one: while another
    thread runs Python, that waits up to a whole switch interval. Decoding a 720p frame beside a thread running
    Python took 20.6 ms at 5 ms, 3.0 ms at 0.5 ms (``bench/gil_turns.py``). Restored on leaving.
    """
    import sys

    before = sys.getswitchinterval()
    sys.setswitchinterval(min(seconds, before))
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def _faces_stage(ctx: StageContext) -> None:
    with short_gil_turns():
        _track_faces(ctx)


def _track_faces(ctx: StageContext) -> None:
    from ..face.analysis import analyse_faces

    s = ctx.state
    opts: SyncOptions = s["options"]
    # An engine may start hearing the sound now: it runs beside the tracking. Even starting it (loading the
    # sounds, ~0.1 s) is left to a thread: the tracker's frames wait only for its own model.
    video = _projected_view(ctx) or s["video"]  # a one-eye 360/VR clip: the flat view around its face
    begin = getattr(s["engine"], "begin", None)
    began = None
    if begin is not None:
        # The clip's own sound is heard from the clip itself (a view clip carries a re-encoded copy): what the
        # command line, a batch or the app heard ahead of the sync is taken up.
        began = run_in_helper(begin, s["video"], s["dub"], name="begin", script=opts.script,
                              script_lang=opts.script_lang)
    # An engine may keep what it needs of each frame while the tracker has it decoded.
    observer = getattr(s["engine"], "frame_observer", None)
    try:
        faces = analyse_faces(video, advance=ctx.advance, keep=observer() if observer else None)
    except BaseException:
        if began is not None and not began.cancel():
            began.exception()  # wait for it to end; its own error gives way to this one
        raise
    if began is not None:
        began.result()
    faces.choose_speaker(opts.face)
    warn_faces_left(faces, s["video"])  # the user's file (not a VR clip's view, tracked in its place)
    s["faces"] = faces


def warn_faces_left(faces, video: Path) -> None:
    """Tell the user about faces on screen for a second or more where the synced one is not (other shots): the
    sync leaves their mouths as they were, and syncing the result again with one of them chosen syncs it too.
    And, where no face was chosen, about faces on screen beside the synced one (a two-shot): the largest was
    taken, which need not be the one whose lines the dub holds, and nothing said so."""
    from ..media.warnings import warn_media

    second = max(1, int(round(faces.fps)))
    speaker = faces.speaker_track()
    if speaker is None:
        return
    s_id = speaker.track_id
    beside = faces.shown_with_speaker(second) if faces.speaker is None else []
    if beside:
        first = beside[0][0]
        one = len(beside) == 1
        warn_media(f"{video}: face {s_id}, the largest, is synced; {_faces_text(beside)} {'is' if one else 'are'} on "
                   f"screen beside it, left as {'it is' if one else 'they are'}: to sync {'it' if one else 'another'} "
                   f"instead, choose it (--face {first}; in the app's Face box)", stacklevel=2)
    left = faces.shown_without_speaker(second)
    if not left:
        return
    shown = _faces_text(left)
    first = left[0][0]
    verb = "is" if len(left) == 1 else "are"
    warn_media(f"{video}: only face {s_id} is synced; {shown} {verb} on screen where it is not (another person, or "
               f"the same one in another shot): to sync {'it' if len(left) == 1 else 'one'} too, sync the result again "
               f"with that face chosen (--face {first}), or, the same person, sync the clip with both "
               f"(--face {s_id},{first}; in the app's Face box: Faces {s_id} + {first} as one person)", stacklevel=2)


def _faces_text(rows: list[tuple[int, int, int, int]]) -> str:
    """Faces as a warning names them (``ClipFaces.shown_*`` rows): the first three with their frames, and how many
    more."""
    return ", ".join(f"face {tid} (frames {a}-{b})" for tid, a, b, _ in rows[:3]) + \
        (f" and {len(rows) - 3} more" if len(rows) > 3 else "")


def _projected_view(ctx: StageContext) -> Path | None:
    """The VR hook of a one-eye clip whose file declares a sphere projection (360 without stereo, the commonest
    360 video): the face is found through the projection and the clip's perspective view around it written as
    the flat clip the engine tracks, plans and renders (``state["projected"]``; the render stage pastes the
    changed pixels back). None (nothing done) for a flat or stereo clip, or when no view shows a face."""
    from ..stereo.projected import ProjectedFaces

    s = ctx.state
    info = s["video_info"]
    projected = ProjectedFaces.for_one_eye(s["vr"], info.width, info.height)
    if projected is None:
        return None

    def frames():
        """Every frame with the RGB its view reads (converted on the reading thread; the rest stays as decoded)."""
        box = projected.reads() or (0, 0, 0, 0)
        return prefetch((i, d.rgb_within(box), None) for i, d in reader.iter_frames(planes=True, rgb=False))

    with VideoReader(info.path) as reader:
        paths = write_projected_views(s, projected, lambda picks: (f for _, f in reader.frames_at(picks)), frames,
                                      info.n_frames, info.fps, None)
    if paths is None:
        return None
    s["projected"], s["view_clip"] = projected, paths[0]
    return paths[0]


def write_projected_views(s: dict[str, Any], projected, frames_at: Callable[[list[int]], Any],
                          frames: Callable[[], Any], n_frames: int, fps, advance) -> tuple[Path, ...] | None:
    """Find the face of a VR clip through its projection and write each eye's perspective view around it.

    Parameters
    ----------
    s : dict
        The job's state (``video``, ``output``; the folder written is added to its ``cleanup``).
    projected : ProjectedFaces
        The clip's eyes' projections (one eye: ``projected.projections[1]`` is None).
    frames_at : callable
        ``frames_at(indices)``: for each of a few increasing frame indices spread over the clip, the frame (one eye)
        or the ``(left, right)`` pair, for the face search (decoded in one pass: each frame decoded alone decoded
        again from its keyframe, at 4K a second or two of a short clip).
    frames : callable
        ``frames()``: every frame as ``(index, left, right)`` (``right`` None for one eye).
    n_frames, fps : the clip's length (frames) and rate.
    advance : callable or None
        Progress, one per frame written.

    Returns
    -------
    tuple of Path or None
        The view clips (left[, right]), ``size`` x ``size`` px near-lossless, the left one with the clip's sound
        (for the engine's calibration), in a hidden folder beside the output removed at the job's end; None
        when no view shows a face (nothing written).
    """
    import contextlib

    from ..media.output import temporary_sibling

    picks = sorted({int(k) for k in np.linspace(0, n_frames - 1, min(5, n_frames)).round()})
    if projected.find(frames_at(picks)) is None:
        return None
    # A hidden partial folder beside the output (its owner in its name: a killed run's is swept later).
    tmp = temporary_sibling(s["output"].with_name(s["output"].stem + "-views"))
    tmp.mkdir()
    s.setdefault("cleanup", []).append(tmp)
    size = projected.view.size
    two = projected.projections[1] is not None
    paths = (tmp / "left.mkv", tmp / "right.mkv") if two else (tmp / "view.mkv",)
    near_lossless = VideoFormat(crf=10, preset="ultrafast")
    with contextlib.ExitStack() as stack:
        writers = [stack.enter_context(VideoWriter(p, fps, size, size, fmt=near_lossless,
                                                   audio=_sound_of(s["video"]) if i == 0 else None,
                                                   audio_at_picture=True))
                   for i, p in enumerate(paths)]
        projected.write_view_clips(frames(), (writers[0], writers[1] if two else None), advance)
    return paths


def _sound_of(path: Path) -> Path | None:
    """``path`` when it has a sound track (the view clips carry it, for the engine's calibration), else None."""
    try:
        probe_audio(path)
    except MediaError:
        return None
    return path


def _prepare_stage(ctx: StageContext) -> None:
    s = ctx.state
    s["engine"].prepare(s.get("view_clip", s["video"]), s["dub"], s["faces"], s["plan"], advance=ctx.advance)
    s["transform"] = s["engine"].render
    ctx.advance(max(0, ctx.total - ctx.done))  # engines report in output frames, some not at all


def _measure_stage(ctx: StageContext) -> None:
    from ..metrics.sync import evaluate_video

    s = ctx.state
    projected = s.get("projected")  # a one-eye VR clip: measured in the view it was synced in
    with short_gil_turns():  # a tracking pass again (the result's faces)
        s["sync"] = evaluate_video(s["output"], measured_against(s["dub"], s["output"]), advance=ctx.advance,
                                   eye=projected.frame_view() if projected is not None else None)


class ChangeCounter:
    """Counts the output frames an engine changed (each compared with what it was given: a fraction of a
    millisecond beside the engine's own work), to tell a sync that changed nothing (no face in any frame, every
    frame skipped) from one that did.
    """

    def __init__(self) -> None:
        self.changed = 0

    def check(self, before: np.ndarray, after: np.ndarray, box: tuple[int, int, int, int] | None = None) -> None:
        """Note one output frame: the engine's input ``before`` and its output ``after`` ((H, W, 3) uint8).

        ``box``: ``x0, y0, x1, y1``, the only pixels the engine may have changed (its ``last_box``), so only they
        are compared (at 1080p a whole frame costs ~2 ms); None: the whole frame.
        """
        if after is before:
            return
        if box is not None:
            x0, y0, x1, y1 = box
            before, after = before[y0:y1, x0:x1], after[y0:y1, x0:x1]
        if not np.array_equal(after, before):
            self.changed += 1

    def warn_if_unchanged(self, video: Path) -> None:
        """Raise the media warning that the picture is unchanged when no frame was changed."""
        from ..media.warnings import warn_media

        if not self.changed:
            warn_media(
                f"{video}: no frame was changed (no face was found to sync in any frame): the picture is "
                "unchanged, the clip's own re-timed to the dub", stacklevel=2)


def _render_stage(ctx: StageContext) -> None:
    with short_gil_turns():
        _render_frames(ctx)


def _render_frames(ctx: StageContext) -> None:
    s = ctx.state
    info = s["video_info"]
    plan: OutputPlan = s["plan"]
    opts: SyncOptions = s["options"]
    transform: FrameTransform | None = s.get("transform")
    # An engine that names the pixels it changed (``last_box``) has only those compared.
    engine = s.get("engine") if hasattr(s.get("engine"), "last_box") else None
    # An engine draws on this thread, a core's worth: the encoder gets the other cores (the plain re-timing keeps
    # the encoder's own choice: there the encoder is the work, and so it is for a VR clip, whose panorama is many
    # times the view the engine draws in: a 3840 x 1920 one's 171 frames rendered in 11.6 / 11.6 s with one encoder
    # thread, 11.0 / 10.7 s with the encoder's own choice).
    threads = threads_beside_one_busy() if transform is not None and s.get("projected") is None else None
    # A transparent photo or keyed video keeps its alpha where the codec holds one (each frame its own, the face
    # drawn moving it: a jaw below a cut-out's chin).
    alpha = VideoReader(info.path).alpha() if keeps_alpha(opts.fmt.for_container(s["output"].suffix)) else None
    carries = alpha is not None and engine is not None and hasattr(engine, "carried")
    with VideoReader(info.path) as reader, VideoWriter(
        s["output"], plan.fps, info.width, info.height, fmt=opts.fmt, audio=s["dub"], audio_seconds=plan.audio_seconds,
        encoder_threads=threads, picture=info.picture, alpha=alpha,
    ) as writer:
        projected = s.get("projected")  # a one-eye VR clip: the engine syncs the view around the face
        writer.vr_metadata = _flat_vr_metadata(info.path, s["vr"], s.get("engine") is not None and projected is None)
        sources = (plan.source_index(k) for k in range(plan.n_out))
        counter = ChangeCounter()
        first, stop = s.get("range") or (0, plan.n_out)
        # Frames come as decoded (their 4:2:0 planes kept): the writer encodes an unchanged one as it is and
        # converts only the box an engine that names it (``last_box``) redrew, or that a VR view's changed pixels
        # went back into; only an engine needs their RGB.
        # An engine that names the pixels it reads (``reads``) gets only those converted to RGB, where the writer
        # converts back only the box it redraws; the rest of the frame goes from decoder to encoder untouched. A VR
        # clip's view reads only the pixels around the face (at 4K, converting the whole panorama to RGB and back
        # was a third of a frame's time).
        if projected is not None:
            view_reads = projected.reads()
            reads = lambda k, j: view_reads  # noqa: E731 - one box for every frame
        else:
            reads = getattr(engine, "reads", None)
        frames = frames_in_order(reader, sources, planes=True, rgb=transform is not None and reads is None)

        def with_rgb(decoded_frames):
            """Each frame with the RGB the engine reads, converted here, on the reading thread."""
            for k, decoded in enumerate(decoded_frames):
                if decoded.fields is not None and k > 0 and plan.source_index(k) <= plan.source_index(k - 1):
                    # An interlaced frame shown again or backwards (a held or ping-pong picture): its second field
                    # would move against the play; it is shown as one moment.
                    decoded = decoded.one_moment()
                if reads is None or not first <= k < stop:
                    yield decoded, None
                elif writer.takes_planes(decoded):
                    yield decoded, decoded.rgb_within(reads(k, plan.source_index(k)) or (0, 0, 0, 0))
                else:
                    yield decoded, decoded.rgb

        for k, (decoded, rgb) in enumerate(prefetch(with_rgb(frames))):
            if transform is None or not first <= k < stop:  # outside the range: the clip as it is
                writer.write(decoded, owned=True)
                ctx.advance(1)
                continue
            frame = rgb if rgb is not None else decoded.rgb
            if engine is not None:
                engine.last_box = None
            if carries:  # a video frame's own matte, or a photo's one alpha
                engine.carried = alpha if decoded.alpha is None else decoded.alpha
            before = projected.views(frame)[0] if projected is not None else frame
            try:
                new = transform(k, plan.source_index(k), before)
            except WholeFrameNeeded:  # it must read beyond what it said (not seen): the whole frame, then
                s["read_beyond"] = s.get("read_beyond", 0) + 1
                frame = before = decoded.rgb
                new = transform(k, plan.source_index(k), before)
            box = getattr(engine, "last_box", None)
            counter.check(before, new, box)
            if projected is not None:  # only the view's changed pixels go back into the projection
                boxed = writer.takes_planes(decoded)
                pasted, changed_box = projected.paste_left(frame, before, new, whole=not boxed)
                if changed_box is None:
                    writer.write(decoded, owned=True)
                elif boxed:
                    writer.write(pasted, base=decoded, box=changed_box, owned=True)
                else:
                    writer.write(pasted, owned=True)
            elif new is frame:
                writer.write(decoded, owned=True)
            else:  # an engine that names its box (``last_box``) has only that converted; others the whole frame
                # The engine drew ``new`` for this frame alone: it is converted on the encoder's thread.
                writer.write(new, base=decoded, box=box if engine is not None else None, owned=True,
                             alpha=getattr(engine, "last_alpha", None))
            ctx.advance(1)
    keep_motion_tracks(info.path, [s["output"]], plan.n_out / float(plan.fps))
    if s.get("engine") is not None:
        s["changed_frames"] = counter.changed
        counter.warn_if_unchanged(info.path)


def _flat_vr_metadata(video: Path, meta, synced_flat: bool):
    """The projection metadata to write for a one-eye 360/VR clip (``meta``, what ``video`` declares; ``sv3d``:
    its output must still play as 360), or None for a flat clip. When its face was synced as a flat picture
    (``synced_flat``: no view through the projection showed a face, or the projection is one this app cannot
    map), say so: the projection bends a face away from the picture's centre."""
    from ..media.warnings import warn_media

    if not meta.spherical:
        return None
    if synced_flat:
        warn_media(f"{video}: a one-eye {meta.projection} clip is synced as a flat picture (no face was found in "
                   "views through its projection): a face far from the picture's centre is bent by it; "
                   "the output keeps the clip's projection metadata", stacklevel=2)
    return meta.for_layout("mono") or meta


def keep_motion_tracks(video: Path, written, seconds: float) -> None:
    """Carry the clip's camera motion track (``camm``, VR cameras) into each MP4/MOV written, over the output's
    ``seconds``; say so where an output cannot hold it."""
    from ..media.camm import carry_motion_tracks, motion_tracks
    from ..media.warnings import warn_media

    if not motion_tracks(video):
        return
    for path in written:
        if Path(path).suffix.lower() in (".mp4", ".mov", ".m4v"):
            carry_motion_tracks(video, path, seconds)
        else:
            warn_media(f"{path}: the clip's camera motion track (camm) is not kept: only MP4/MOV outputs can "
                       "carry it")


def build_sync_job(video: str | Path, dub: str | Path, output: str | Path, options: SyncOptions | None = None,
                   transform: FrameTransform | None = None, dub_offset_ms: float = 0.0) -> Job:
    """Make the job that writes ``output``: ``video`` lip-synced to ``dub`` by the chosen engine (or, with
    ``engine="none"`` or an explicit ``transform``, re-timed / transformed only)."""
    from ..sync.registry import make_engine

    options = options or SyncOptions()
    engine = None if transform is not None else make_engine(options.engine, options.device)
    state: dict[str, Any] = {
        "video": Path(video), "dub": Path(dub), "output": Path(output),
        "options": options, "transform": transform, "engine": engine, "dub_offset_ms": float(dub_offset_ms),
    }
    stages = [Stage("open", _open_stage, total=1)]
    if engine is not None:
        stages += [Stage("faces", _faces_stage, total=lambda st: st["video_info"].n_frames),
                   Stage("prepare", _prepare_stage, total=lambda st: st["plan"].n_out)]
    stages.append(Stage("render", _render_stage, total=lambda st: st["plan"].n_out))
    if engine is not None and options.measure:
        stages.append(Stage("measure", _measure_stage, total=lambda st: st["plan"].n_out, like="faces"))
    return Job("sync", stages, state)


def run_sync(request: SyncRequest, on_progress: ProgressCallback | None = None,
             cancel: CancelToken | None = None) -> SyncResult:
    """Run one sync job, 2D or stereo, to the end and describe what it wrote.

    Parameters
    ----------
    request : SyncRequest
        The clip, the dub, the output and every choice (``request.stereo`` set: both eyes of a stereo clip).
    on_progress : callable, optional
        Called with :class:`~lipsync_studio.job.Progress` events (at most ~20 a second per stage).
    cancel : CancelToken, optional
        Set it from any thread to stop the job at its next check.

    Returns
    -------
    SyncResult
        The written file(s), length, warnings (collected, not printed), sync measure(s) and stage timings.

    Raises
    ------
    UserError
        Bad input or output (names the file and what to do), checked before any work.
    Cancelled
        The token was set. Nothing is left under the output's name, nor any temporary file.
    """
    from ..job import cleanup_files

    output, vr_name = resolve_output(request)
    if request.stereo is not None:
        from .stereo_sync_job import build_stereo_sync_job, stereo_result

        job = build_stereo_sync_job(request.video, request.dub, output, request.options,
                                    replace(request.stereo, vr_name=vr_name), dub_offset_ms=request.dub_offset_ms)
        with cleanup_files(job.state):
            state, notes = run_collecting_warnings(job, on_progress, cancel)
        return stereo_result(job, state, notes)
    job = build_sync_job(request.video, request.dub, output, request.options, dub_offset_ms=request.dub_offset_ms)
    with cleanup_files(job.state):
        state, notes = run_collecting_warnings(job, on_progress, cancel)
    plan: OutputPlan = state["plan"]
    engine = state.get("engine")
    return SyncResult(output=state["output"], frames=plan.n_out, fps=float(plan.fps),
                      duration=plan.n_out / float(plan.fps), clip_frames=plan.n_clip, warnings=notes,
                      engine=engine.name if engine is not None else "none", sync=state.get("sync"),
                      engine_info=dict(getattr(engine, "info", {}) or {}), outputs=(state["output"],),
                      dub_offset_ms=request.dub_offset_ms, timings=dict(job.timings),
                      changed_frames=state.get("changed_frames"), plan=plan)
