"""The stereo ``sync`` job: both eyes of a stereo clip lip-synced so that they stay a valid stereo pair.

The two-eye case of :func:`~.sync_job.run_sync` (a :class:`~.sync_job.SyncRequest` with ``stereo`` set), with
the same options, checks, warnings, measure and result as a 2D clip.

Stages: ``open`` (the clip's layout, the dub, the output; the dub shifted when asked), ``eyes`` (a packed clip
is split into one file per eye, beside the output, removed at the end, when the engine needs files), ``faces``
(tracked on the left eye; on both for ``independent``; a ``face`` id that does not exist is refused as in 2D),
``prepare`` (the engine plans the mouths), ``render`` (both eyes, packed into the output layout; the right eye
made by :class:`~lipsync_studio.stereo.right_eye.RightEye`), ``measure`` (each eye's sync, when asked).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from ..errors import MediaError, OptionError
from ..stereo.right_eye import MODES
from .dub import measured_against, prepare_dub
from ..job import Job, Stage, StageContext
from .sync_job import StereoOptions, SyncOptions, SyncResult


def _open(ctx: StageContext) -> None:
    from ..media.audio import probe_audio
    from ..media.output import check_output_path
    from ..media.timeline import plan_output
    from ..media.writer import CONTAINERS
    from ..stereo.layout import StereoReader

    s = ctx.state
    opts: SyncOptions = s["options"]
    st: StereoOptions = s["stereo"]
    if st.mode not in MODES:
        raise OptionError(f"unknown stereo mode '{st.mode}'", hint="use " + ", ".join(MODES))
    if st.mode == "cycle":
        from ..inference import pick_device
        from ..sync.stereo_cycle.predictor import load_stereo_cycle
        from ..weights import weight_path

        path = weight_path("stereo_cycle")
        if path is None:
            raise OptionError("the cycle mode needs the stereo cycle model (stereo_cycle.pt) in the models folder",
                              hint="train it with `lipsync-studio train stereo`, or use --stereo-mode consistent")
        cycle = load_stereo_cycle(path, device=pick_device(None if opts.device == "auto" else opts.device))
        if cycle.model.config.generator != "wav2lip":
            raise OptionError(f"was trained with the '{cycle.model.config.generator}' test generator, not Wav2Lip",
                              path=path, hint="train it with the default generator")
        s["cycle"] = cycle
    with StereoReader(s["video"], st.layout, st.right) as reader:
        info = reader.info
    if not info.is_stereo:
        raise MediaError("is not a stereo clip (no left/right pair found)", path=s["video"],
                         hint="sync it as a 2D clip, or give --layout or --right")
    try:
        audio = probe_audio(s["dub"], opts.dub_stream)
    except MediaError as exc:
        raise MediaError(exc.message, path=s["dub"], hint=exc.hint or "the dub must be a file with sound") from exc
    if audio.duration_s <= 0:
        raise MediaError("the dub's audio is empty", path=s["dub"])
    from ..stereo.vr import output_layout
    from ..stereo.writer import stereo_output_paths

    s["out_layout"] = output_layout(st.out_layout, info)
    if info.packed.views > 1:
        from ..media.warnings import warn_media

        warn_media(f"{s['video']}: spatial video (MV-HEVC, two views) is written as {s['out_layout']} with its "
                   "stereo metadata: MV-HEVC out needs a multiview HEVC encoder, which this app's (libx265 in PyAV) "
                   "lacks")
    # A VR-style name is for a full-SBS output the user asked for, not for a VR clip kept in its own format.
    s["vr_name"] = st.vr_name and st.out_layout not in ("same", "")
    inputs = [s["video"], s["dub"]] + ([st.right] if st.right else [])
    s["output"] = check_output_path(s["output"], inputs=inputs, suffixes=CONTAINERS)
    for p in stereo_output_paths(s["output"], s["out_layout"], s["vr_name"]):  # the names really written
        check_output_path(p, inputs=inputs, suffixes=CONTAINERS)
    s["info"] = info
    audio = prepare_dub(s, audio)
    s["plan"] = plan_output(info.n_frames, info.fps, audio.duration_s, opts.extend, opts.shorten)
    from .sync_job import synced_range

    s["range"] = synced_range(opts, s["plan"])
    ctx.advance(1)


def _make_engines(s: dict[str, Any]) -> list:
    """One engine per eye that is synced on its own (two in ``independent`` mode, else one)."""
    from ..sync.registry import make_engine

    opts: SyncOptions = s["options"]
    st: StereoOptions = s["stereo"]
    if opts.engine == "none":  # re-timing (and re-packing) alone, as ``none`` does for a 2D clip
        return []
    engine_name = opts.engine
    engines = []
    for _ in range(2 if st.mode == "independent" else 1):
        if st.mode == "cycle":
            # The cycle model's own Wav2Lip generator syncs the left eye (batching, mel windows, soft paste).
            from ..sync.wav2lip.engine import Wav2LipEngine
            from ..sync.wav2lip.predictor import Wav2LipPredictor

            cycle = s["cycle"]
            engines.append(Wav2LipEngine(predictor=Wav2LipPredictor(cycle.model.generator, device=cycle.device)))
        else:
            engines.append(make_engine(engine_name, opts.device))
    return engines


def _eyes(ctx: StageContext) -> None:
    from ..media.output import temporary_sibling
    from ..media.writer import VideoFormat, VideoWriter
    from ..stereo.layout import StereoReader, eye_view
    from ..sync.builtin.engine import BuiltinEngine

    s = ctx.state
    info = s["info"]
    s["engines"] = _make_engines(s)
    s["views"] = (None, None)
    if _projected_eyes(ctx):  # a VR clip: the sync runs on flat views around the face
        return
    if info.right_path is not None:
        s["eyes"] = (info.path, info.right_path)
        ctx.advance(ctx.total)
        return
    if all(isinstance(e, BuiltinEngine) for e in s["engines"]):
        # The built-in engine takes its eye straight from the packed frames: no per-eye files to write.
        s["eyes"] = (info.path, info.path)
        s["views"] = (eye_view(info.layout, 0), eye_view(info.layout, 1))
        for eye, engine in enumerate(s["engines"]):
            engine.frame_view = s["views"][eye].crop
        ctx.advance(ctx.total)
        return
    # A hidden partial folder beside the output (its owner in its name: a killed run's is swept later).
    tmp = temporary_sibling(s["output"].with_name(s["output"].stem + "-eyes"))
    tmp.mkdir()
    s.setdefault("cleanup", []).append(tmp)
    near_lossless = VideoFormat(crf=10, preset="ultrafast")
    paths = (tmp / "left.mkv", tmp / "right.mkv")
    with StereoReader(s["video"], info.layout) as reader, \
            VideoWriter(paths[0], info.fps, info.eye_width, info.eye_height, fmt=near_lossless) as wl, \
            VideoWriter(paths[1], info.fps, info.eye_width, info.eye_height, fmt=near_lossless) as wr:
        for _, left, right in reader.iter_pairs():
            wl.write(left)
            wr.write(right)
            ctx.advance(1)
    s["eyes"] = paths


def _projected_eyes(ctx: StageContext) -> bool:
    """For a clip whose file declares a sphere projection (360, VR180): find the face through the projection and
    write each eye's perspective view around it as the clips the later stages sync (see stereo.projected).
    False (nothing done) for a flat clip, or when no face is found."""
    from ..media.prefetch import prefetch
    from ..stereo.layout import StereoReader
    from ..stereo.projected import ProjectedFaces
    from .sync_job import write_projected_views

    s = ctx.state
    info = s["info"]
    projected = ProjectedFaces.for_clip(info)
    if projected is None:
        return False
    with StereoReader(s["video"], info.layout) as reader:
        paths = write_projected_views(s, projected, reader.pairs_at, lambda: prefetch(reader.iter_pairs()),
                                      info.n_frames, info.fps, ctx.advance)
    if paths is None:
        return False
    s["eyes"], s["projected"] = paths, projected
    return True


def _faces(ctx: StageContext) -> None:
    from ..face.analysis import analyse_faces

    s = ctx.state
    opts: SyncOptions = s["options"]
    s["faces"] = []
    sounds: list = []  # what each eye's engine hears
    for eye, engine in enumerate(s["engines"]):
        if hasattr(engine, "begin"):  # the engine hears the dub beside the tracking, as in a 2D sync
            # A VR clip's eyes are views written from it (the left one with a re-encoded copy of its sound, the
            # right one silent): the sound is the clip's own, and what was heard ahead of the sync is taken up.
            sound = s["video"] if s.get("projected") is not None else s["eyes"][eye]
            # The right eye's engine of a packed or VR clip hears the same sound as the left's: it shares it.
            first = s["engines"][0]
            like = first if eye and sounds and sound == sounds[0] and type(engine) is type(first) else None
            sounds.append(sound)
            if like is not None:
                engine.begin(sound, s["dub"], script=opts.script, script_lang=opts.script_lang, like=like)
            else:
                engine.begin(sound, s["dub"], script=opts.script, script_lang=opts.script_lang)
        observer = getattr(engine, "frame_observer", None)
        s["faces"].append(analyse_faces(s["eyes"][eye], advance=ctx.advance, eye=s["views"][eye],
                                        keep=observer() if observer else None))
    # The face asked for must exist in the left eye, as in a 2D clip; the right eye's tracks are numbered on
    # their own, so there the same id is used when it exists (else the largest face, the left's twin).
    s["faces"][0].choose_speaker(opts.face, where="in the left eye")
    from .sync_job import warn_faces_left

    warn_faces_left(s["faces"][0], s["video"])
    for f in s["faces"][1:]:
        f.speaker = None
        if opts.face is not None:
            with contextlib.suppress(OptionError):  # numbered otherwise there: the largest face, the left's twin
                f.choose_speaker(opts.face, where="in the right eye")


def _prepare(ctx: StageContext) -> None:
    s = ctx.state
    engines = s["engines"]
    for eye, (engine, faces) in enumerate(zip(engines, s["faces"])):
        lead = getattr(engines[0], "lead", None) if eye else None
        if lead is not None and getattr(engine, "lead_s", 0.0) is None:
            engine.lead_s = lead.lead_s  # both eyes' mouths on one timing: the speaker's, as the left eye measured it
        engine.prepare(s["eyes"][eye], s["dub"], faces, s["plan"])
    ctx.advance(ctx.total)


def _original_eyes(reader, sources: list[int], layout, boxes, writer):
    """``(decoded frame or None, left, right)`` of a packed clip for every output frame (``sources``: its frames).

    Where the output packs the eyes as the clip does and the decoder gives 4:2:0 planes, each eye is converted to
    RGB only within its box of ``boxes`` (a VR view's reads, where its change is pasted back; empty: none), and
    the frame goes to the writer as decoded but for the boxes its eyes changed in
    (:meth:`~lipsync_studio.stereo.writer.StereoWriter.write_over`): at 1920 x 3840 the whole frames converted to
    RGB and back, and their eyes joined, were most of a VR render. Otherwise the eyes whole, with None."""
    from ..media.prefetch import prefetch
    from ..media.sequence import frames_in_order
    from ..stereo.layout import split

    if not writer.packs_as(layout) or None in boxes:
        for f in prefetch(frames_in_order(reader, iter(sources))):
            yield (None, *split(f, layout))
        return
    packed = []
    for eye, (x0, y0, x1, y1) in enumerate(boxes):
        ox, oy = writer.eye_origin(eye)
        packed.append((x0 + ox, y0 + oy, x1 + ox, y1 + oy))

    def eyes(frames):  # on the reading thread
        for f in frames:
            if not writer.takes_planes(f):
                yield (None, *split(f.rgb, layout))
            else:
                yield f, split(f.rgb_within(packed[0]), layout)[0], split(f.rgb_within(packed[1]), layout)[1]

    yield from prefetch(eyes(frames_in_order(reader, iter(sources), planes=True, rgb=False)))


def _retime_only(ctx: StageContext) -> None:
    """``engine="none"``: no engine, and each eye read from the clip itself (the stages that find and sync a face
    do not run: a stereo re-timing used to run the built-in engine's whole sync, unasked)."""
    from ..stereo.layout import eye_view

    s = ctx.state
    info = s["info"]
    s["engines"] = []
    if info.right_path is not None:
        s["eyes"], s["views"] = (info.path, info.right_path), (None, None)
    else:
        s["eyes"], s["views"] = (info.path, info.path), (eye_view(info.layout, 0), eye_view(info.layout, 1))
    ctx.advance(ctx.total)


def _render(ctx: StageContext) -> None:
    from ..media.prefetch import prefetch
    from ..media.sequence import frames_in_order
    from ..media.video import VideoReader
    from ..stereo.layout import split
    from ..stereo.right_eye import RightEye
    from ..media.writer import threads_beside_one_busy
    from ..stereo.writer import StereoWriter

    s = ctx.state
    opts: SyncOptions = s["options"]
    st: StereoOptions = s["stereo"]
    info, plan = s["info"], s["plan"]
    engines = s["engines"]
    projected = s.get("projected")
    eye_width = projected.view.size if projected is not None else info.eye_width
    right_eye = RightEye(st.mode, max_disparity=max(8, int(0.06 * eye_width)),
                         right_engine=engines[1] if len(engines) > 1 else None,
                         cycle=s.get("cycle")) if engines else None
    packed = s["views"][0] is not None
    with VideoReader(s["eyes"][0]) as rl, (contextlib.nullcontext() if packed else VideoReader(s["eyes"][1])) as rr, \
            StereoWriter(s["output"], plan.fps, info.eye_width, info.eye_height, layout=s["out_layout"],
                         fmt=opts.fmt, audio=s["dub"], audio_seconds=plan.audio_seconds,
                         anaglyph_method=st.anaglyph, vr_name=s["vr_name"], vr_metadata=info.vr,
                         encoder_threads=threads_beside_one_busy(), picture=info.packed.picture) as writer, \
            contextlib.ExitStack() as stack:
        sources = [plan.source_index(k) for k in range(plan.n_out)]
        originals = None  # the packed frames written, where they are not the eyes synced
        if not engines and packed:
            # Re-timed alone: what is written is the clip's own frames (as decoded, into its own packing), with
            # nothing to read of them.
            pairs = ((None, None) for _ in sources)
            originals = _original_eyes(rl, sources, info.layout, ((0, 0, 0, 0), (0, 0, 0, 0)), writer)
        elif packed:  # one decoder for both eyes
            pairs = (split(f, info.layout) for f in prefetch(frames_in_order(rl, iter(sources))))
        else:
            pairs = zip(prefetch(frames_in_order(rl, iter(sources))), prefetch(frames_in_order(rr, iter(sources))))
        from .sync_job import ChangeCounter

        counter = ChangeCounter()
        first, stop = s["range"]
        if projected is not None:  # the views are synced; the eyes they came from are what is written
            ro = stack.enter_context(VideoReader(s["video"]))
            originals = _original_eyes(ro, sources, info.layout, (projected.reads(0), projected.reads(1)), writer)
        for k, (left, right) in enumerate(pairs):
            j = sources[k]
            if not engines or not first <= k < stop:  # outside the synced range: both eyes as they are
                if originals is None:
                    writer.write(left, right)
                else:
                    base, eye_l, eye_r = next(originals)
                    if base is not None:
                        writer.write_over(base, eye_l, eye_r, (None, None))
                    else:
                        writer.write(eye_l, eye_r)
                ctx.advance(1)
                continue
            new_left = engines[0].render(k, j, left)
            counter.check(left, new_left)
            new_right = right_eye(k, j, left, new_left, right, engines[0])
            if originals is not None:
                base, eye_l, eye_r = next(originals)
                (new_left, box_l), (new_right, box_r) = projected.paste_boxes(
                    eye_l, eye_r, (left, right), (new_left, new_right), whole=base is None)
                if base is not None:
                    writer.write_over(base, new_left, new_right, (box_l, box_r))
                    ctx.advance(1)
                    continue
            writer.write(new_left, new_right)
            ctx.advance(1)
        s["written"] = writer.paths
    from .sync_job import keep_motion_tracks

    keep_motion_tracks(s["video"], s["written"], s["plan"].n_out / float(s["plan"].fps))
    if engines:
        s["changed_frames"] = counter.changed
        counter.warn_if_unchanged(s["video"])


def _measure(ctx: StageContext) -> None:
    """Each eye's sync, measured on what was written (an anaglyph mixes the eyes: it is not measured)."""
    from ..media.warnings import warn_media
    from ..metrics.sync import evaluate_video
    from ..stereo.layout import eye_view
    from ..stereo.writer import OutputLayout

    s = ctx.state
    layout = OutputLayout.parse(s["out_layout"])
    written = s["written"]
    if layout is OutputLayout.ANAGLYPH:
        warn_media(f"{written[0]}: an anaglyph mixes both eyes, so its sync is not measured")
        return
    if layout is OutputLayout.SEPARATE:
        eyes = [(written[0], None), (written[1], None)]
    else:
        eyes = [(written[0], eye_view(layout.packing, 0)), (written[0], eye_view(layout.packing, 1))]
    s["sync"] = [evaluate_video(path, measured_against(s["dub"], path), advance=ctx.advance, eye=view)
                 for path, view in eyes]


def build_stereo_sync_job(video: str | Path, dub: str | Path, output: str | Path,
                          options: SyncOptions | None = None, stereo: StereoOptions | None = None,
                          dub_offset_ms: float = 0.0) -> Job:
    """Make the job that lip-syncs both eyes of ``video`` to ``dub`` into ``output`` (see the module doc)."""
    options = options or SyncOptions()
    stereo = stereo or StereoOptions()
    state: dict[str, Any] = {"video": Path(video), "dub": Path(dub), "output": Path(output), "options": options,
                             "stereo": stereo, "dub_offset_ms": float(dub_offset_ms)}
    if options.engine == "none":
        stages = [Stage("open", _open, total=1), Stage("eyes", _retime_only, total=1)]
    else:
        stages = [
            Stage("open", _open, total=1),
            Stage("eyes", _eyes, total=lambda st: st["info"].n_frames),
            Stage("faces", _faces, total=lambda st: st["info"].n_frames * (2 if stereo.mode == "independent" else 1)),
            Stage("prepare", _prepare, total=1),
        ]
    stages.append(Stage("render", _render, total=lambda st: st["plan"].n_out))
    if options.measure:
        stages.append(Stage("measure", _measure, total=lambda st: 2 * st["plan"].n_out, like="faces"))
    return Job("stereo sync", stages, state)


def stereo_result(job: Job, state: dict[str, Any], warnings: tuple[str, ...]) -> SyncResult:
    """The :class:`SyncResult` of a finished stereo job."""
    plan = state["plan"]
    st: StereoOptions = state["stereo"]
    engines = state.get("engines") or []
    engine = engines[0] if engines else None
    outputs = tuple(Path(p) for p in state["written"])
    measures = state.get("sync") or [None, None]
    info = dict(getattr(engine, "info", {}) or {})
    if len(engines) > 1 and all("lead_ms" in (getattr(e, "info", {}) or {}) for e in engines):
        info["lead_ms_per_eye"] = [e.info["lead_ms"] for e in engines]
    return SyncResult(output=outputs[0], frames=plan.n_out, fps=float(plan.fps), duration=plan.n_out / float(plan.fps),
                      clip_frames=plan.n_clip, warnings=warnings, engine=getattr(engine, "name", "none"),
                      sync=measures[0], engine_info=info, outputs=outputs,
                      layout=str(state.get("out_layout", st.out_layout)), mode=st.mode, sync_right=measures[1],
                      dub_offset_ms=float(state.get("dub_offset_ms", 0.0)), timings=dict(job.timings),
                      changed_frames=state.get("changed_frames"), plan=plan)
