"""The ``mesh`` job: a clip in, the speaker's 3D face for every frame out, as an OBJ sequence or one animated
file (USD, USDZ, glTF, GLB; see :mod:`lipsync_studio.face.anim_export`).

Stages: ``open`` (check the clip, the range and the output folder), ``track`` (faces through the range,
cached), ``mesh`` (per frame: the 3D face, its texture, its files).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import MediaError, OptionError
from ..face.anim_export import AnimationWriter, check_format
from ..face.obj_export import ObjOptions, ObjSequenceWriter
from ..face.steady import SteadySettings
from ..media.video import VideoReader, probe_video
from .job import Job, Stage, StageContext


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
    """

    start_s: float | None = None
    end_s: float | None = None
    face: int | None = None
    obj: ObjOptions = ObjOptions()
    backend: str = "auto"
    steady: SteadySettings = SteadySettings()
    format: str | None = None


@dataclass(frozen=True)
class MeshResult:
    """What a finished mesh job wrote: the folder (OBJ) or file (one-file formats), frames written, frames
    where the face was measured."""

    folder: Path
    frames: int
    measured: int
    face: int
    faces_found: int
    backend: str = "facemesh"
    format: str = "obj"


def _open(ctx: StageContext) -> None:
    s = ctx.state
    opts: MeshOptions = s["options"]
    info = probe_video(s["video"])
    start = 0 if opts.start_s is None else int(round(opts.start_s * float(info.fps)))
    stop = info.n_frames if opts.end_s is None else int(round(opts.end_s * float(info.fps)))
    if not 0 <= start < min(stop, info.n_frames):
        raise OptionError(f"the range {opts.start_s}–{opts.end_s} s is outside the clip (0–{info.duration:.2f} s)")
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
    s.update(info=info, start=start, stop=min(stop, info.n_frames))
    # The writer checks the output before any work.
    output, fmt = check_format(s["output"], opts.format)
    s["format"] = fmt
    if fmt == "obj":
        s["writer"] = ObjSequenceWriter(output, opts.obj)
    else:
        s["writer"] = AnimationWriter(output, float(info.fps), s["stop"] - s["start"], opts.obj.texture,
                                      width=info.width, height=info.height)
    ctx.advance(1)


def _track(ctx: StageContext) -> None:
    from ..face.analysis import analyse_faces

    s = ctx.state
    s["faces"] = analyse_faces(s["video"], start=s["start"], stop=s["stop"], advance=ctx.advance)


def _mesh(ctx: StageContext) -> None:
    from ..face.mesh3d import FaceModel, TextureBaker, mesh_for_frame
    from ..face.steady import steady_landmarks

    s = ctx.state
    opts: MeshOptions = s["options"]
    faces, info, writer = s["faces"], s["info"], s["writer"]
    faces.choose_speaker(opts.face)
    track = faces.speaker_track()
    if track is None:
        raise MediaError(f"no face was found between {s['start'] / float(info.fps):.2f} s and "
                         f"{s['stop'] / float(info.fps):.2f} s", path=s["video"],
                         hint="check that a face is visible and lit; very small faces may be missed")
    model = FaceModel.from_track(track, info.width, info.height)
    # From the measurements, not the tracker's live-view smoothing: the export's own zero-phase smoother.
    landmarks = steady_landmarks(track.raw, track.present, float(info.fps), opts.steady)
    prnet = None
    if s["backend"] == "prnet":
        from ..face.prnet_backend import PRNetMesher

        prnet = PRNetMesher(model)
    baker = TextureBaker(model, opts.obj.texture_size) if opts.obj.texture and prnet is None else None
    measured = 0
    with VideoReader(info.path) as reader:
        for i, frame in reader.iter_frames(s["start"], s["stop"]):
            if prnet is not None:
                mesh, texture = prnet.mesh(frame, landmarks[i], bool(track.present[i]))
            else:
                mesh = mesh_for_frame(model, landmarks[i], frame, bool(track.present[i]))
                texture = baker.bake(frame, mesh.image_points) if baker is not None else None
            writer.write(i - s["start"] + 1, i / float(info.fps), mesh, texture)
            measured += mesh.measured
            ctx.advance(1)
    s["result"] = MeshResult(writer.close(dict(_provenance(s), fps=float(info.fps), first_frame=s["start"],
                                               face=track.track_id, backend=s["backend"],
                                               texture=opts.obj.texture)),
                             s["stop"] - s["start"], measured, track.track_id, len(faces.tracks), s["backend"],
                             s["format"])


def _provenance(s: dict) -> dict:
    """Which face the export is of (``face_of``: ``synced`` or ``original``) and the files it came from."""
    return {"face_of": "original", "source": str(s["info"].path)}


def build_mesh_job(video: str | Path, output: str | Path, options: MeshOptions | None = None) -> Job:
    """Make the job that exports the speaker's face of ``video`` as an OBJ sequence into ``output``."""
    state: dict[str, Any] = {"video": Path(video), "output": Path(output), "options": options or MeshOptions()}
    return Job("mesh", [
        Stage("open", _open, total=1),
        Stage("track", _track, total=lambda st: st["stop"] - st["start"]),
        Stage("mesh", _mesh, total=lambda st: st["stop"] - st["start"]),
    ], state)


def run_mesh(video: str | Path, output: str | Path, options: MeshOptions | None = None, on_progress=None,
             cancel=None) -> MeshResult:
    """Run a mesh job to the end; a failure or cancel removes the partial folder."""
    job = build_mesh_job(video, output, options)
    try:
        job.run(on_progress, cancel)
    except BaseException:
        writer = job.state.get("writer")
        if writer is not None:
            writer.abort()
        raise
    return job.state["result"]
