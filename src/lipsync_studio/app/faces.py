"""Faces for the app (no Qt): tracking as a job, the 3D mesh of any frame, the OBJ export job.

The face module does the work (:func:`lipsync_studio.face.analysis.analyse_faces` tracks and caches,
:mod:`lipsync_studio.face.mesh3d` builds the metric mesh); this module shapes it for the 3D view, the
mesh overlay and the Export dialog.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..job import CancelToken, Job, ProgressCallback, Stage, StageContext
from .jobs import JobTask
from .mesh import MeshFrame


def track_task(clip: Path) -> JobTask:
    """The "Track faces" job: every face of ``clip`` tracked (cached per clip); the result is ``ClipFaces``."""

    def _track(ctx: StageContext) -> None:
        from ..face.analysis import analyse_faces

        ctx.state["faces"] = analyse_faces(ctx.state["clip"], advance=ctx.advance)

    def _frames(state: dict) -> int:
        from ..media.video import probe_video

        return probe_video(state["clip"]).n_frames

    def run(on_progress: ProgressCallback, cancel: CancelToken):
        job = Job("track faces", [Stage("track faces", _track, total=_frames)], {"clip": Path(clip)})
        return job.run(on_progress, cancel)["faces"]

    return JobTask(name="Track faces", run=run)


def cached_faces(clip: Path):
    """The clip's face tracks when an earlier run cached them, else None (never tracks; cheap)."""
    from ..face.analysis import faces_cache_path
    from ..face.track import ClipFaces
    from ..face.tracker import TrackerSettings
    from ..media.video import probe_video

    info = probe_video(clip)
    path = faces_cache_path(clip, info, TrackerSettings(), 0, info.n_frames)
    if not path.exists():
        return None
    try:
        return ClipFaces.load(path)
    except (OSError, ValueError, KeyError):
        return None


@dataclass(frozen=True)
class FaceFrame:
    """The speaker's face in one clip frame: the mesh for the 3D view and its outline on the picture.

    Attributes
    ----------
    mesh: vertices centred on the head (mm; the head's rotation kept, its position removed).
    image_points: ``(N, 2)`` pixel positions of the vertices in the frame.
    measured: False when the face was not found in this frame (interpolated).
    """

    mesh: MeshFrame
    image_points: np.ndarray
    measured: bool


#: A face chosen to sync: a track id, several ids seen as one person (shots the tracker could not join), or None
#: (the largest face).
FaceChoice = int | tuple[int, ...] | None


def as_one_person(faces, face: FaceChoice):
    """``faces`` with the chosen face as its speaker: for several ids a copy in which they are one track (as the
    sync joins them, :meth:`~lipsync_studio.face.track.ClipFaces.choose_speaker`), the clip's own left as it is."""
    if isinstance(face, tuple):
        if len(face) > 1:
            one = replace(faces, tracks=dict(faces.tracks))
            one.choose_speaker(face)
            return one
        face = face[0] if face else None
    one = replace(faces, tracks=faces.tracks)
    one.speaker = face
    return one


class FaceMeshes:
    """Meshes of one face of a tracked clip, frame by frame.

    Parameters
    ----------
    faces: the clip's ``ClipFaces``.
    face: track id, ids of one person (:data:`FaceChoice`), or None: the speaker, i.e. the largest face.
    of: what the frames are, put before each mesh's label (e.g. ``"Synced result"``); empty: the clip.
    """

    def __init__(self, faces, face: FaceChoice = None, of: str = "") -> None:
        from ..face.mesh3d import FaceModel
        from ..face.steady import steady_landmarks

        faces = as_one_person(faces, face)
        self.track = faces.speaker_track()
        if self.track is None:
            raise ValueError("no face was found in this clip")
        self.model = FaceModel.from_track(self.track, faces.width, faces.height)
        # As the export smooths them: the 3D view shows the face that Export writes.
        self.landmarks = steady_landmarks(self.track.raw, self.track.present, faces.fps)
        self.n_frames = faces.n_frames
        self.of = of

    def frame(self, index: int, picture: np.ndarray | None = None) -> FaceFrame:
        """The face in clip frame ``index``; ``picture`` ``(H, W, 3) uint8`` colours the vertices."""
        from ..face.mesh3d import mesh_for_frame

        i = int(min(max(0, index), self.n_frames - 1))
        m = mesh_for_frame(self.model, self.landmarks[i], picture, bool(self.track.present[i]))
        verts = np.asarray(m.vertices, np.float64) - np.asarray(m.translation, np.float64)
        state = "measured" if m.measured else "interpolated (no face found in this frame)"
        label = f"Face {self.track.track_id}, frame {i + 1}: {len(verts)} vertices, {state}"
        if self.of:
            label = f"{self.of} · {label}"
        return FaceFrame(MeshFrame(verts, m.triangles, m.colors, label), np.asarray(m.image_points), m.measured)


def matching_face(faces, face: FaceChoice, other) -> int | None:
    """The track id in ``other`` (a ``ClipFaces`` of the same picture, e.g. the sync's result) of the face
    ``face`` of ``faces`` (None: the speaker, i.e. the largest face, in both): the one whose mean position
    in the frame is nearest (several ids: the first one's). None when either has no such face."""
    if isinstance(face, tuple):
        face = face[0] if face else None
    if face is None or face not in faces.tracks or not other.tracks:
        return None

    def centre(track) -> np.ndarray:
        b = track.boxes()[track.present]
        return np.array([(b[:, 0] + b[:, 2]).mean(), (b[:, 1] + b[:, 3]).mean()]) / 2 if len(b) else np.full(2, np.inf)

    here = centre(faces.tracks[face])
    return min(other.tracks, key=lambda k: float(np.linalg.norm(centre(other.tracks[k]) - here)))


def describe_tracks(faces) -> list[tuple[FaceChoice, str]]:
    """``(choice, label)`` for the Face box: each face, the largest first, then each pair of the largest four that
    are never on screen together (the same person in shots the tracker could not join, another framing), to sync
    as one person, as the command line's ``--face A,B`` does."""
    tracks = sorted(faces.tracks.values(), key=lambda t: -t.mean_area() * t.coverage)
    out: list[tuple[FaceChoice, str]] = []
    for k, t in enumerate(tracks):
        role = "largest" if k == 0 else f"{k + 1}{'nd' if k == 1 else 'rd' if k == 2 else 'th'} largest"
        out.append((t.track_id, f"Face {t.track_id} ({role}, in {t.coverage:.0%} of frames)"))
    top = tracks[:4]
    for i, a in enumerate(top):
        for b in top[i + 1:]:
            if not (a.present & b.present).any():
                both = float((a.present | b.present).mean())
                out.append(((a.track_id, b.track_id), f"Faces {a.track_id} + {b.track_id} as one person (other "
                                                      f"shots, in {both:.0%} of frames)"))
    return out


def mesh_export_task(clip: Path, folder: Path | None, start_s: float | None, end_s: float | None,
                     face: "FaceChoice", texture: bool, synced_from: tuple[Path, Path | None] | None = None,
                     video: Path | None = None, view=None) -> JobTask:
    """The OBJ-sequence export (and/or the 3D face video) as a task; the result is a ``MeshResult``.

    ``synced_from``: ``(original clip, dub)`` when ``clip`` is the sync's result (recorded as the synced face).
    ``video``, ``view``: render the face into this video file, looking like this (a ``ViewOptions``).
    """
    from ..engine.mesh_job import MeshOptions, run_mesh
    from ..face.obj_export import ObjOptions

    original, dub = synced_from if synced_from is not None else (None, None)
    opts = MeshOptions(start_s=start_s, end_s=end_s, face=face, obj=ObjOptions(texture=texture),
                       face_of="synced" if synced_from is not None else "original", original=original,
                       synced_with=dub, video=video)
    if view is not None:
        opts = replace(opts, view=view)

    def run(on_progress: ProgressCallback, cancel: CancelToken):
        return run_mesh(clip, folder, opts, on_progress=on_progress, cancel=cancel)

    if folder is None:
        return JobTask(name="Export 3D face video", run=run, output=Path(video))
    return JobTask(name="Export meshes", run=run, output=Path(folder))
