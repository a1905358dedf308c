"""The ``mesh`` job: a clip in, the speaker's 3D face for every frame out, as an OBJ sequence or one animated
file (USD, USDZ, glTF, GLB; see :mod:`lipsync_studio.face.anim_export`).

Stages: ``open`` (check the clip, the range and the output folder), ``track`` (faces through the range,
cached), ``mesh`` (per frame: the 3D face, its texture, its files).

A VR clip (its file declares a 360, VR180 or cubemap projection) is meshed in a flat perspective view around the
face, found through the projection (the left eye of a stereo clip; :func:`~lipsync_studio.stereo.projected.
clip_face_view`): the face is tracked and meshed there, so the meshes are in that pinhole view's metric space,
and ``sequence.json`` records the view (direction, field of view, size).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MediaError, OptionError
from ..face.anim_export import AnimationWriter, check_format
from ..face.obj_export import ObjOptions, ObjSequenceWriter
from ..face.render3d import ViewOptions
from ..face.steady import SteadySettings
from ..media.output import check_output_path
from ..media.video import VideoReader, probe_video
from ..media.writer import CONTAINERS, VideoWriter
from ..job import Job, Stage, StageContext


@dataclass(frozen=True)
class MeshOptions:
    """What the user chose for a mesh export.

    Attributes
    ----------
    start_s, end_s: the range in seconds (None: the clip's start / end).
    face: track id of the face to export (None: the speaker — the largest face).
    obj: texture or vertex colours, texture size.
    backend: ``auto``, ``facemesh`` or ``prnet``.
    steady: how the face is smoothed over time (zero-phase; see :mod:`lipsync_studio.face.steady`).
    format: ``obj`` (a folder), ``usd``, ``usdz``, ``gltf`` or ``glb``; None: from the output's extension.
    video: also render the face as a video here (``.mp4``, ``.mov``, ``.mkv``, ``.webm``), with the clip's
        sound over the range; None: no video.
    view: how the video looks (style, camera, background, stereo).
    dub: lip-sync the clip to this sound first (the built-in or Wav2Lip engine, as ``sync`` does) and export
        the synced face; the 3D video then has the dub as its sound. None: the clip's face as it is.
    synced_video: where to keep that lip-synced video (None: a temporary file, removed at the end).
    face_of: what to record the export as, ``synced`` or ``original``, when the clip given is already a sync
        result (the app exports its result this way); None: ``synced`` with a dub, else ``original``.
    original, synced_with: the original clip and its dub when the clip given is a sync result (recorded).
    """

    start_s: float | None = None
    end_s: float | None = None
    face: int | tuple[int, ...] | None = None
    obj: ObjOptions = ObjOptions()
    backend: str = "auto"
    steady: SteadySettings = SteadySettings()
    format: str | None = None
    video: Path | None = None
    view: ViewOptions = ViewOptions()
    dub: Path | None = None
    synced_video: Path | None = None
    face_of: str | None = None
    original: Path | None = None
    synced_with: Path | None = None


@dataclass(frozen=True)
class MeshResult:
    """What a finished mesh job wrote: the folder (OBJ) or file (one-file formats; None when only a video was
    asked for), frames written, frames where the face was measured, the video file(s)."""

    folder: Path | None
    frames: int
    measured: int
    face: int
    faces_found: int
    backend: str = "facemesh"
    format: str = "obj"
    videos: tuple[Path, ...] = ()


def _set_range(s: dict, info) -> None:
    """The clip's facts and the range of frames to export, checked."""
    opts: MeshOptions = s["options"]
    start = 0 if opts.start_s is None else int(round(opts.start_s * float(info.fps)))
    stop = info.n_frames if opts.end_s is None else int(round(opts.end_s * float(info.fps)))
    if not 0 <= start < min(stop, info.n_frames):
        raise OptionError(f"the range {opts.start_s}–{opts.end_s} s is outside the clip (0–{info.duration:.2f} s)")
    s.update(info=info, start=start, stop=min(stop, info.n_frames))


def _open(ctx: StageContext) -> None:
    s = ctx.state
    opts: MeshOptions = s["options"]
    info = probe_video(s["video"])
    if opts.dub is not None:
        from ..media.audio import probe_audio

        probe_audio(opts.dub)  # a dub without sound is refused before any work
        if opts.face_of == "original":
            raise OptionError("a dub makes the export of the synced face", hint="leave out the dub for the original")
        if opts.synced_video is not None:
            check_output_path(opts.synced_video, inputs=(s["video"], opts.dub), suffixes=CONTAINERS)
    if opts.face_of not in (None, "synced", "original"):
        raise OptionError(f"unknown face '{opts.face_of}'", hint="use synced or original")
    _set_range(s, info)  # on the synced video again once it exists (its length follows the dub)
    _face_view(s, info)
    from ..face.prnet_backend import prnet_available, prnet_folder

    if opts.backend not in ("auto", "facemesh", "prnet"):
        raise OptionError(f"unknown mesh backend '{opts.backend}'", hint="use auto, facemesh or prnet")
    backend = opts.backend
    if backend == "auto":
        backend = "prnet" if prnet_available() else "facemesh"
    elif backend == "prnet" and not prnet_available():
        raise OptionError(f"PRNet's weights and uv data are not in {prnet_folder()}",
                          hint="see models/README.md, or use --backend facemesh")
    s["backend"] = backend
    if s["output"] is None and opts.video is None:
        raise OptionError("nothing to write", hint="give an output (-o) for the meshes, a video (--video), or both")
    try:
        opts.view.check()
    except ValueError as exc:
        raise OptionError(str(exc)) from exc
    if opts.video is not None:
        check_output_path(opts.video, inputs=(s["video"],), suffixes=CONTAINERS)
    # The writer checks the output before any work.
    s["format"] = None
    if s["output"] is not None:
        output, fmt = check_format(s["output"], opts.format)
        s["format"] = fmt
        if fmt == "obj":
            s["writer"] = ObjSequenceWriter(output, opts.obj)
        else:
            s["writer"] = AnimationWriter(output, float(info.fps), s["stop"] - s["start"], opts.obj.texture,
                                          width=s["frame_size"][0], height=s["frame_size"][1], hfov_deg=s["hfov"])
    ctx.advance(1)


def _face_view(s: dict, info) -> None:
    """For a VR clip, the flat view its face is meshed in (``s["face_view"]``, None for a flat clip), and the size
    and horizontal field of view of the pictures the mesher sees."""
    from ..stereo.projected import clip_face_view

    vr = clip_face_view(s["video"])
    s["face_view"] = vr
    if vr is None:
        s["frame_size"], s["hfov"] = (info.width, info.height), 50.0
    else:
        s["frame_size"], s["hfov"] = (vr.view.size, vr.view.size), float(np.degrees(vr.view.fov))


def _sync(ctx: StageContext) -> None:
    """Lip-sync the clip to the dub: what follows exports the synced face."""
    import dataclasses
    import tempfile

    from .sync_job import SyncOptions, SyncRequest, run_sync

    s = ctx.state
    opts: MeshOptions = s["options"]
    target = opts.synced_video
    if target is None:
        s["tmp_dir"] = Path(tempfile.mkdtemp(prefix="lipsync-mesh-"))
        target = s["tmp_dir"] / "synced.mp4"

    def forward(ev) -> None:
        if ctx.on_progress is not None:
            ctx.on_progress(dataclasses.replace(ev, stage=f"sync: {ev.stage}", stage_index=ctx.stage_index,
                                                n_stages=ctx.n_stages))

    vr = s.get("face_view")
    stereo = None
    if vr is not None and vr.layout != "mono":  # a stereo VR clip: synced in both eyes through its projection
        from .sync_job import StereoOptions

        stereo = StereoOptions(layout=vr.layout)
    result = run_sync(SyncRequest(s["video"], opts.dub, target, SyncOptions(face=opts.face, measure=False),
                                  stereo=stereo), on_progress=forward, cancel=ctx.cancel)
    s["original"], s["video"] = s["video"], Path(result.output)
    _set_range(s, probe_video(s["video"]))
    # The tracks of the synced video: the face in it is picked again (ids are per video).
    ctx.advance(1)


def _track(ctx: StageContext) -> None:
    from ..face.analysis import analyse_faces

    s = ctx.state
    vr = s.get("face_view")
    s["faces"] = analyse_faces(s["video"], start=s["start"], stop=s["stop"], advance=ctx.advance,
                               eye=vr.frame_view if vr is not None else None)


def _mesh(ctx: StageContext) -> None:
    from ..face.mesh3d import FaceModel, TextureBaker, mesh_for_frame
    from ..face.steady import steady_landmarks

    s = ctx.state
    opts: MeshOptions = s["options"]
    faces, info, writer = s["faces"], s["info"], s.get("writer")
    faces.choose_speaker(opts.face)
    track = faces.speaker_track()
    if track is None:
        raise MediaError(f"no face was found between {s['start'] / float(info.fps):.2f} s and "
                         f"{s['stop'] / float(info.fps):.2f} s", path=s["video"],
                         hint="check that a face is visible and lit; very small faces may be missed")
    vr = s.get("face_view")
    model = FaceModel.from_track(track, *s["frame_size"], hfov_deg=s["hfov"])
    # From the measurements, not the tracker's live-view smoothing: the export's own zero-phase smoother.
    landmarks = steady_landmarks(track.raw, track.present, float(info.fps), opts.steady)
    prnet = None
    if s["backend"] == "prnet":
        from ..face.prnet_backend import PRNetMesher

        prnet = PRNetMesher(model)
    exporting = writer is not None
    baker = TextureBaker(model, opts.obj.texture_size) if exporting and opts.obj.texture and prnet is None else None
    video = _FaceVideo(s, model, landmarks) if opts.video is not None else None
    measured = 0
    with VideoReader(info.path) as reader:
        for i, frame in reader.iter_frames(s["start"], s["stop"]):
            if vr is not None:  # the flat view around the face, as it was tracked
                frame = vr.frame_view.crop(frame)
            present = bool(track.present[i])
            mesh = mesh_for_frame(model, landmarks[i], frame, present) if prnet is None or video is not None else None
            if exporting:
                if prnet is not None:
                    export_mesh, texture = prnet.mesh(frame, landmarks[i], present)
                else:
                    export_mesh = mesh
                    texture = baker.bake(frame, mesh.image_points) if baker is not None else None
                writer.write(i - s["start"] + 1, i / float(info.fps), export_mesh, texture)
            if video is not None:
                video.write(i, frame, mesh)
            measured += present
            ctx.advance(1)
    meta = dict(_provenance(s), fps=float(info.fps), first_frame=s["start"], face=track.track_id,
                backend=s["backend"], texture=opts.obj.texture)
    if vr is not None:
        meta["view"] = vr.describe()
    videos = video.close() if video is not None else ()
    folder = writer.close(meta) if exporting else None
    s["result"] = MeshResult(folder, s["stop"] - s["start"], measured, track.track_id, len(faces.tracks),
                             s["backend"], s["format"] or "none", videos)


class _FaceVideo:
    """The face rendered frame by frame into a video (or a stereo pair), with the clip's sound over the range."""

    def __init__(self, s: dict, model, landmarks) -> None:
        from ..face.mesh3d import TextureBaker, mesh_for_frame
        from ..face.render3d import FaceRenderer, FaceRig, render_model

        opts: MeshOptions = s["options"]
        info = s["info"]
        view = opts.view
        self.fps = float(info.fps)
        poses = [mesh_for_frame(model, landmarks[i], None) for i in range(s["start"], s["stop"])]
        width, height = s["frame_size"]
        self.rig = FaceRig(model, np.stack([m.rotation for m in poses]), np.stack([m.translation for m in poses]),
                           width, height, view)
        self.renderer = FaceRenderer(model, view)
        self.baker = TextureBaker(render_model(model), 512) if view.style == "textured" else None
        self.start = s["start"]
        self.scale = view.supersample
        seconds = (s["stop"] - s["start"]) / self.fps
        self._tmp_audio = _sound_of_range(info.path, s["start"] / self.fps, seconds)
        sound = self._tmp_audio if self._tmp_audio is not None else (info.path if _has_sound(info.path) else None)
        kw = dict(audio=sound, audio_seconds=seconds if sound is not None else None, picture=info.picture.colour_only())
        if view.stereo:
            from ..stereo.writer import StereoWriter

            self.writer = StereoWriter(opts.video, info.fps, width, height, **kw)
        else:
            self.writer = VideoWriter(opts.video, info.fps, width, height, **kw)
        s["video_writer"] = self

    def write(self, index: int, frame, mesh) -> None:
        texture = self.baker.bake(frame, mesh.image_points) if self.baker is not None else None
        cams = self.rig.cameras((index - self.start) / self.fps, self.scale)
        pictures = [self.renderer.render(mesh.vertices, cam, texture) for cam in cams]
        self.writer.write(*pictures)

    def close(self) -> tuple[Path, ...]:
        try:
            self.writer.close()
        finally:
            self._drop_audio()
        return tuple(getattr(self.writer, "paths", [self.writer.path]))

    def abort(self) -> None:
        self.writer.abort()
        self._drop_audio()

    def _drop_audio(self) -> None:
        if self._tmp_audio is not None:
            self._tmp_audio.unlink(missing_ok=True)
            self._tmp_audio = None


def _has_sound(path: Path) -> bool:
    from ..media.audio import probe_audio

    try:
        probe_audio(path)
        return True
    except MediaError:
        return False


def _sound_of_range(path: Path, start_s: float, seconds: float) -> Path | None:
    """A temporary WAV of ``path``'s sound from ``start_s`` (None when the range starts at 0 or there is none)."""
    import tempfile

    from ..media.audio import load_audio
    from ..media.audio_writer import write_audio

    if start_s <= 0 or not _has_sound(path):
        return None
    rate = 48_000
    wav = load_audio(path, sr=rate, mono=False, at_picture=True)
    a = int(round(start_s * rate))
    piece = wav[:, a:a + int(round(seconds * rate))]
    fd, name = tempfile.mkstemp(prefix="lipsync-mesh-sound-", suffix=".wav")
    os.close(fd)
    return write_audio(name, piece, rate)


def _provenance(s: dict) -> dict:
    """Which face the export is of (``face_of``: ``synced`` or ``original``) and the files it came from."""
    opts: MeshOptions = s["options"]
    if opts.dub is not None:
        return {"face_of": "synced", "source": str(opts.synced_video) if opts.synced_video else None,
                "original": str(s["original"]), "dub": str(opts.dub)}
    out = {"face_of": opts.face_of or "original", "source": str(s["info"].path)}
    if opts.original is not None:
        out["original"] = str(opts.original)
    if opts.synced_with is not None:
        out["dub"] = str(opts.synced_with)
    return out


def build_mesh_job(video: str | Path, output: str | Path | None, options: MeshOptions | None = None) -> Job:
    """Make the job that exports the speaker's face of ``video`` into ``output`` (an OBJ folder or one animated
    file; None: only the video of ``options.video``)."""
    options = options or MeshOptions()
    state: dict[str, Any] = {"video": Path(video), "output": None if output is None else Path(output),
                             "options": options}
    stages = [Stage("open", _open, total=1)]
    if options.dub is not None:
        stages.append(Stage("sync", _sync, total=1))
    return Job("mesh", stages + [
        Stage("track", _track, total=lambda st: st["stop"] - st["start"]),
        Stage("mesh", _mesh, total=lambda st: st["stop"] - st["start"]),
    ], state)


def run_mesh(video: str | Path, output: str | Path | None, options: MeshOptions | None = None, on_progress=None,
             cancel=None) -> MeshResult:
    """Run a mesh job to the end; a failure or cancel removes the partial folder."""
    import shutil

    job = build_mesh_job(video, output, options)
    try:
        job.run(on_progress, cancel)
    except BaseException:
        for key in ("writer", "video_writer"):
            writer = job.state.get(key)
            if writer is not None:
                writer.abort()
        raise
    finally:
        if job.state.get("tmp_dir") is not None:
            shutil.rmtree(job.state["tmp_dir"], ignore_errors=True)
    return job.state["result"]
