"""The stereo ``sync`` job: both eyes of a stereo clip lip-synced so that they stay a valid stereo pair.

Stages: ``open`` (the clip's layout, the dub, the output), ``eyes`` (a packed clip is split into one file per
eye, beside the output, removed at the end), ``faces`` (tracked on the left eye; on both for ``independent``),
``prepare`` (the engine plans the mouths), ``render`` (both eyes, packed into the output layout).

Modes (``--stereo-mode``):

- ``independent``: each eye synced on its own (the paper's baseline): two trackings, two plans; the two mouths
  may disagree, which the brain sees as a mouth floating at the wrong depth.
- ``consistent`` (default): the left eye is synced; the change is carried to the right eye through the
  disparity of the original pair — the paper's warp ``Î_r = f_w(d, I_l)``: each changed left pixel moves to
  ``x − d(x)`` in the right eye (:mod:`..stereo.carry`: a smooth fit to sparse sub-pixel matches, corrected per
  pixel; a half-size dense matcher with a z-buffered forward warp where too few points match), given the
  cameras' colour difference and blended with the same feathered mask. One tracking, one plan. (Syncing the
  right eye with the left eye's donor schedule, so each eye shows its own pixels of the same mouth, was
  measured too: it moves the mouth in depth as much as ``independent`` does, because each eye's landmarks
  place the mouth, so carrying is kept.)
- ``cycle``: the paper's trained model (``lipsync-studio train stereo`` makes ``stereo_cycle.pt``): its Wav2Lip
  generator syncs the left eye, its disparity generator makes the right face from the synced left one,
  ``Î_r = f_w(G_l(Ĩ_l, I_r), Ĩ_l)``, pasted into the right eye with the mask moved by the same disparity.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MediaError, OptionError
from .job import Job, Stage, StageContext
from .sync_job import SyncOptions

MODES = ("independent", "consistent", "cycle")


@dataclass(frozen=True)
class StereoSyncOptions:
    """What the user chose for a stereo sync.

    Attributes
    ----------
    sync: the 2D options (engine, face, length policies, codec).
    layout: the input's packing (``auto`` detects it); right: the right eye's own file, if separate.
    out_layout: the output's packing (``sbs``, ``half-sbs``, ``tb``, ``anaglyph``, ``separate``, ...); ``same``
        (default): the input's own packing, with its stereo/VR metadata written back.
    mode: ``consistent`` (default), ``independent`` or ``cycle``.
    anaglyph: the anaglyph method for ``out_layout="anaglyph"``; vr_name: name full-SBS files ``*_LRF_Full_SBS``.
    """

    sync: SyncOptions = field(default_factory=SyncOptions)
    layout: str = "auto"
    right: Path | None = None
    out_layout: str = "same"
    mode: str = "consistent"
    anaglyph: str = "dubois"
    vr_name: bool = True


def carry_change(left: np.ndarray, left_new: np.ndarray, right: np.ndarray, max_disparity: int = 64,
                 cache: dict | None = None, key: int | None = None,
                 within: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """The right eye with the change made to the left eye carried across by the original pair's disparity.

    Parameters
    ----------
    left, right: the original eyes, (H, W, 3) uint8.
    left_new: the left eye after lip-sync.
    max_disparity: how far (px) the right eye's copy of the change may sit from the left's.
    cache, key: a dict kept by the caller between the frames of a clip, and the source frame's index: what the
        next frames can use is kept there (:class:`~lipsync_studio.stereo.carry.Carrier`), and the disparity of
        a source frame shown again (a held or ping-ponged frame) is not estimated twice.
    within: ``x0, y0, x1, y1`` holding every changed pixel, when the engine says where it drew (else the whole
        eye is compared).
    """
    from ..stereo.carry import Carrier, carry_with

    h, w = left.shape[:2]
    if within is None:
        changed = np.any(left_new != left, axis=2)
    else:
        x0, y0, x1, y1 = within
        changed = np.zeros((h, w), bool)
        changed[y0:y1, x0:x1] = np.any(left_new[y0:y1, x0:x1] != left[y0:y1, x0:x1], axis=2)
    if not changed.any():
        return right
    ys, xs = np.nonzero(changed)
    # The face's disparity as a smooth function fitted to sparse sub-pixel matches, corrected per pixel (see
    # stereo.carry); the dense matcher below only where too few points match.
    carrier = cache.setdefault("carrier", Carrier(max_disparity)) if cache is not None else Carrier(max_disparity)
    bw, bh = xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()
    fit_box = (max(0, int(xs.min() - 0.4 * bw)), max(0, int(ys.min() - 0.4 * bh)),
               min(w, int(xs.max() + 1 + 0.4 * bw)), min(h, int(ys.max() + 1 + 0.4 * bh)))
    feather = max(3, int(0.02 * w) | 1)
    pad = feather + 2  # the feathered mask reaches beyond the changed pixels
    box = (max(0, int(xs.min()) - pad), max(0, int(ys.min()) - pad), min(w, int(xs.max()) + pad + 1),
           min(h, int(ys.max()) + pad + 1))
    dense = carrier.disparity(left, right, changed, box, fit_box, key if cache is not None else None)
    if dense is not None:
        return carry_with(left, left_new, right, changed[box[1]:box[3], box[0]:box[2]], box, feather, dense,
                          memory=carrier.memory)
    import cv2

    from ..samples.stereo_pair import synthesize_right_view  # imports the sample synthesisers: ~2 s
    from ..stereo.disparity import DisparitySettings, estimate_disparity
    from ..sync.builtin.render import apply_colour, match_colour
    pad_y = 8
    x0, x1 = max(0, xs.min() - max_disparity - 8), min(w, xs.max() + 9)
    y0, y1 = max(0, ys.min() - pad_y), min(h, ys.max() + pad_y + 1)
    # The disparity of the ORIGINAL pair over the changed area (the new mouth has no right-eye match yet).
    # Half resolution: the face's disparity is smooth, and this keeps the cost a fraction of a frame's sync.
    settings = DisparitySettings(max_fraction=max_disparity / w, min_fraction=-8 / w, downscale=2)
    roi = (x0, y0, x1, y1)
    # Consecutive output frames showing the same source frame reuse it.
    held = cache.get("dense matcher") if cache is not None and key is not None else None
    if held is not None and held[0] == (key, roi):
        d = held[1]
    else:
        d = estimate_disparity(left, right, settings, roi=roi).disparity[y0:y1, x0:x1]
        if cache is not None and key is not None:
            cache["dense matcher"] = ((key, roi), d)
    crop_new = np.ascontiguousarray(left_new[y0:y1, x0:x1])
    # The blend mask: the changed area, closed and feathered, in the left eye's geometry ...
    mask = changed[y0:y1, x0:x1].astype(np.uint8) * 255
    k = max(3, int(0.02 * w) | 1)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    mask = cv2.GaussianBlur(mask, (0, 0), k / 3)
    mask[~changed[y0:y1, x0:x1] & (mask < 16)] = 0
    # ... then both moved into the right eye's geometry by the same warp.
    warped, valid = synthesize_right_view(crop_new, d.astype(np.float32))
    alpha3, _ = synthesize_right_view(np.repeat(mask[..., None], 3, axis=2), d.astype(np.float32))
    alpha = (alpha3[..., 0].astype(np.float32) / 255.0) * valid
    region = right[y0:y1, x0:x1]
    c = match_colour(warped, region, alpha)
    warped = apply_colour(warped, c)
    out = right.copy()
    out[y0:y1, x0:x1] = cv2.blendLinear(warped, np.ascontiguousarray(region), alpha, 1.0 - alpha)
    return out


def _cycle_right(cycle, engine, src_index: int, new_left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """The right eye from the cycle model: Î_r = f_w(G_l(Ĩ_l, I_r), Ĩ_l), pasted with the mask moved by d."""
    import cv2

    from ..stereo.warp import f_w
    from ..sync.wav2lip.preprocess import crop_face

    found = engine.paste_mask(src_index)
    if found is None:
        return right
    (x1, y1, x2, y2), alpha = found
    face_r, d = cycle.right_face(crop_face(new_left, (x1, y1, x2, y2))[None], crop_face(right, (x1, y1, x2, y2))[None])
    w, h = x2 - x1, y2 - y1
    patch = cv2.resize(face_r[0], (w, h), interpolation=cv2.INTER_CUBIC)
    d_px = cv2.resize(d[0].astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) * (w / 96.0)
    # The mask moves with the mouth: where the right face shows the pixel the left mask had at x + d.
    alpha_r = np.clip(f_w(d_px, alpha.astype(np.float32)), 0.0, 1.0).astype(np.float32)
    out = right.copy()
    region = np.ascontiguousarray(out[y1:y2, x1:x2])
    out[y1:y2, x1:x2] = cv2.blendLinear(np.ascontiguousarray(patch), region, alpha_r, 1.0 - alpha_r)
    return out


def _open(ctx: StageContext) -> None:
    from ..media.audio import probe_audio
    from ..media.output import check_output_path
    from ..media.timeline import plan_output
    from ..media.writer import CONTAINERS
    from ..stereo.layout import StereoReader

    s = ctx.state
    opts: StereoSyncOptions = s["options"]
    if opts.mode not in MODES:
        raise OptionError(f"unknown stereo mode '{opts.mode}'", hint="use " + ", ".join(MODES))
    if opts.mode == "cycle":
        from ..sync.inference import pick_device
        from ..train.stereo_cycle.train import load_stereo_cycle
        from ..weights import weight_path

        path = weight_path("stereo_cycle")
        if path is None:
            raise OptionError("the cycle mode needs the stereo cycle model (stereo_cycle.pt) in the models folder",
                              hint="train it with `lipsync-studio train stereo`, or use --stereo-mode consistent")
        cycle = load_stereo_cycle(path, device=pick_device(None if opts.sync.device == "auto" else opts.sync.device))
        if cycle.model.config.generator != "wav2lip":
            raise OptionError(f"was trained with the '{cycle.model.config.generator}' test generator, not Wav2Lip",
                              path=path, hint="train it with the default generator")
        s["cycle"] = cycle
    with StereoReader(s["video"], opts.layout, opts.right) as reader:
        info = reader.info
    if not info.is_stereo:
        raise MediaError("is not a stereo clip (no left/right pair found)", path=s["video"],
                         hint="sync it as a 2D clip, or give --layout or --right")
    audio = probe_audio(s["dub"])
    from ..stereo.vr import output_layout
    from ..stereo.writer import stereo_output_paths

    s["out_layout"] = output_layout(opts.out_layout, info)
    # A VR-style name is for a full-SBS output the user asked for, not for a VR clip kept in its own format.
    s["vr_name"] = opts.vr_name and opts.out_layout not in ("same", "")
    inputs = [s["video"], s["dub"]] + ([opts.right] if opts.right else [])
    s["output"] = check_output_path(s["output"], inputs=inputs, suffixes=CONTAINERS)
    for p in stereo_output_paths(s["output"], s["out_layout"], s["vr_name"]):  # the names really written
        check_output_path(p, inputs=inputs, suffixes=CONTAINERS)
    s["info"] = info
    s["plan"] = plan_output(info.n_frames, info.fps, audio.duration_s, opts.sync.extend, opts.sync.shorten)
    ctx.advance(1)


def _make_engines(s: dict[str, Any]) -> list:
    """One engine per eye that is synced on its own (two in ``independent`` mode, else one)."""
    from ..sync.registry import make_engine

    opts: StereoSyncOptions = s["options"]
    engine_name = opts.sync.engine if opts.sync.engine != "none" else "builtin"
    engines = []
    for _ in range(2 if opts.mode == "independent" else 1):
        if opts.mode == "cycle":
            # The cycle model's own Wav2Lip generator syncs the left eye (batching, mel windows, soft paste).
            from ..sync.wav2lip.engine import Wav2LipEngine
            from ..sync.wav2lip.predictor import Wav2LipPredictor

            cycle = s["cycle"]
            engines.append(Wav2LipEngine(predictor=Wav2LipPredictor(cycle.model.generator, device=cycle.device)))
        else:
            engines.append(make_engine(engine_name, opts.sync.device))
    return engines


def _eye_view(layout, side: int):
    from ..stereo.layout import split

    return lambda frame: split(frame, layout)[side]


def _eyes(ctx: StageContext) -> None:
    from ..media.writer import VideoFormat, VideoWriter
    from ..stereo.layout import StereoReader
    from ..sync.builtin.engine import BuiltinEngine

    s = ctx.state
    opts: StereoSyncOptions = s["options"]
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
        s["views"] = ((info.layout, 0), (info.layout, 1))
        for eye, engine in enumerate(s["engines"]):
            engine.frame_view = _eye_view(info.layout, eye)
        ctx.advance(ctx.total)
        return
    tmp = Path(tempfile.mkdtemp(prefix=".lipsync-eyes-", dir=s["output"].parent))
    s["tmp"] = tmp
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
    del opts


def _sound_of(path: Path) -> Path | None:
    """``path`` when it has a sound track (the view clips carry it, for the engine's calibration), else None."""
    from ..media.audio import probe_audio

    try:
        probe_audio(path)
    except MediaError:
        return None
    return path


def _projected_eyes(ctx: StageContext) -> bool:
    """For a clip whose file declares a sphere projection (360, VR180): find the face through the projection and
    write each eye's perspective view around it as the clips the later stages sync (see stereo.projected).
    False (nothing done) for a flat clip, or when no face is found."""
    from ..media.prefetch import prefetch
    from ..media.writer import VideoFormat, VideoWriter
    from ..stereo.layout import StereoReader
    from ..stereo.projected import ProjectedFaces

    s = ctx.state
    info = s["info"]
    projected = ProjectedFaces.for_clip(info)
    if projected is None:
        return False
    with StereoReader(s["video"], info.layout) as reader:
        picks = sorted({int(k) for k in np.linspace(0, info.n_frames - 1, min(5, info.n_frames)).round()})
        if projected.find(reader.pair(i) for i in picks) is None:
            return False
        tmp = Path(tempfile.mkdtemp(prefix=".lipsync-views-", dir=s["output"].parent))
        s["tmp"] = tmp
        size = projected.view.size
        paths = (tmp / "left.mkv", tmp / "right.mkv")
        near_lossless = VideoFormat(crf=10, preset="ultrafast")
        with VideoWriter(paths[0], info.fps, size, size, fmt=near_lossless, audio=_sound_of(s["video"])) as wl, \
                VideoWriter(paths[1], info.fps, size, size, fmt=near_lossless) as wr:
            projected.write_view_clips(prefetch(reader.iter_pairs()), (wl, wr), ctx.advance)
    s["eyes"], s["projected"] = paths, projected
    return True


def _faces(ctx: StageContext) -> None:
    from ..face.analysis import analyse_faces

    s = ctx.state
    opts: StereoSyncOptions = s["options"]
    s["faces"] = []
    for eye, engine in enumerate(s["engines"]):
        observer = getattr(engine, "frame_observer", None)
        s["faces"].append(analyse_faces(s["eyes"][eye], advance=ctx.advance, eye=s["views"][eye],
                                        keep=observer() if observer else None))
    for f in s["faces"]:
        f.speaker = opts.sync.face if opts.sync.face in f.tracks else None


def _prepare(ctx: StageContext) -> None:
    s = ctx.state
    for eye, (engine, faces) in enumerate(zip(s["engines"], s["faces"])):
        engine.prepare(s["eyes"][eye], s["dub"], faces, s["plan"])
    ctx.advance(ctx.total)


def _render(ctx: StageContext) -> None:
    from ..media.prefetch import prefetch
    from ..media.sequence import frames_in_order
    from ..media.video import VideoReader
    from ..stereo.layout import split
    from ..stereo.writer import StereoWriter

    s = ctx.state
    opts: StereoSyncOptions = s["options"]
    info, plan = s["info"], s["plan"]
    engines = s["engines"]
    projected = s.get("projected")
    max_d = max(8, int(0.06 * (projected.view.size if projected is not None else info.eye_width)))
    packed = s["views"][0] is not None
    with VideoReader(s["eyes"][0]) as rl, (contextlib.nullcontext() if packed else VideoReader(s["eyes"][1])) as rr, \
            StereoWriter(s["output"], plan.fps, info.eye_width, info.eye_height, layout=s["out_layout"],
                         fmt=opts.sync.fmt, audio=s["dub"], audio_seconds=plan.audio_seconds,
                         anaglyph_method=opts.anaglyph, vr_name=s["vr_name"], vr_metadata=info.vr) as writer, \
            contextlib.ExitStack() as stack:
        sources = [plan.source_index(k) for k in range(plan.n_out)]
        cache: dict = {}
        if packed:  # one decoder for both eyes
            pairs = (split(f, info.layout) for f in prefetch(frames_in_order(rl, iter(sources))))
        else:
            pairs = zip(prefetch(frames_in_order(rl, iter(sources))), prefetch(frames_in_order(rr, iter(sources))))
        originals = None
        if projected is not None:  # the views are synced; the eyes they came from are what is written
            ro = stack.enter_context(VideoReader(s["video"]))
            originals = (split(f, info.layout) for f in prefetch(frames_in_order(ro, iter(sources))))
        for k, (left, right) in enumerate(pairs):
            j = sources[k]
            new_left = engines[0].render(k, j, left)
            if opts.mode == "independent":
                new_right = engines[1].render(k, j, right)
            elif opts.mode == "cycle":
                new_right = _cycle_right(s["cycle"], engines[0], j, new_left, right)
            else:
                new_right = carry_change(left, new_left, right, max_d, cache, key=j,
                                         within=getattr(engines[0], "last_box", None) if new_left is not left
                                         else None)
            if originals is not None:
                new_left, new_right = projected.paste(*next(originals), (left, right), (new_left, new_right))
            writer.write(new_left, new_right)
            ctx.advance(1)
        s["written"] = writer.paths


def build_stereo_sync_job(video: str | Path, dub: str | Path, output: str | Path,
                          options: StereoSyncOptions | None = None) -> Job:
    """Make the job that lip-syncs both eyes of ``video`` to ``dub`` into ``output`` (see the module doc)."""
    options = options or StereoSyncOptions()
    state: dict[str, Any] = {"video": Path(video), "dub": Path(dub), "output": Path(output), "options": options}
    return Job("stereo sync", [
        Stage("open", _open, total=1),
        Stage("eyes", _eyes, total=lambda st: st["info"].n_frames),
        Stage("faces", _faces, total=lambda st: st["info"].n_frames * (2 if options.mode == "independent" else 1)),
        Stage("prepare", _prepare, total=1),
        Stage("render", _render, total=lambda st: st["plan"].n_out),
    ], state)


def run_stereo_sync(video: str | Path, dub: str | Path, output: str | Path, options: StereoSyncOptions | None = None,
                    on_progress=None, cancel=None) -> dict[str, Any]:
    """Run a stereo sync to the end; the per-eye files are removed whatever happens."""
    job = build_stereo_sync_job(video, dub, output, options)
    try:
        state = job.run(on_progress, cancel)
    finally:
        tmp = job.state.get("tmp")
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return {"outputs": state["written"], "frames": state["plan"].n_out, "timings": dict(job.timings),
            "mode": state["options"].mode}
