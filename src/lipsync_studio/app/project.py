"""A project: the work on one clip and dub, kept in one JSON file (``.lsproj``) to come back to. No Qt here.

What it keeps: the clip, the dub (and the script beside it), the dub offset, the In/Out marks, the clip's stereo
layout, the chosen face, the Run panel's settings, and the previews made: each rendered file with the request
that made it and its result (measures and all), so reopening shows the preview again without syncing. The
clip's face tracks are kept beside it (``NAME_files/faces.npz``) with the previews, so the face list needs no
re-tracking either.

Paths inside the project's folder are written relative to it (the folder can move, or be copied to another
machine); others are absolute. A referenced file that is missing is listed by :func:`load_project` as a note and
the project opens without it. :func:`save_project` writes the whole file or nothing (a temporary name, renamed).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ..engine.sync_job import SyncRequest, SyncResult, to_plain
from ..errors import OutputError, UserError
from ..media.output import atomic_output

#: The file name extension of a project.
PROJECT_SUFFIX = ".lsproj"
#: What a project file says it is (checked on reading).
PROJECT_FORMAT = "lipsync-studio-project"
#: The schema version written; files of a newer version are refused with a clear message.
PROJECT_VERSION = 1


class ProjectError(UserError):
    """A project file that cannot be read (not JSON, not a project, a newer version)."""


@dataclass(frozen=True)
class Preview:
    """One rendered preview: its file, the request that made it and what the run reported.

    Attributes
    ----------
    file: the rendered video (absolute in memory; relative to the project in its file when beside it).
    request: the sync request that made it (its ``output`` is ``file``).
    result: the run's result (frames, measures, warnings, timings).
    stale: the project's choices changed since (it is not what Run would make now).
    """

    file: Path
    request: SyncRequest
    result: SyncResult
    stale: bool = False


@dataclass(frozen=True)
class Project:
    """Everything a project file holds (see the module doc).

    Attributes
    ----------
    clip, dub, script: the media (None: not chosen). Absolute paths in memory.
    dub_offset_ms: the dub's shift (ms, later when positive).
    dub_stream: the dub's audio stream heard (None: the file's main one).
    dub_channels: the channels of it heard (from 1; None: all).
    mark_in, mark_out: In and Out marks (output frames, Out included; None: the timeline's start / end).
    layout: the clip's stereo layout (``mono`` for 2D).
    face: the face to sync (track id; ids of one person seen as several faces; None: the largest).
    position: the playhead (output frame).
    run: the Run panel's settings (``RunSettings`` fields).
    previews: the previews made, the one shown first.
    faces_file: the clip's face tracks saved beside the project (``.npz``), None when not tracked.
    """

    clip: Path | None = None
    dub: Path | None = None
    script: Path | None = None
    dub_offset_ms: float = 0.0
    dub_stream: int | None = None
    dub_channels: tuple[int, ...] | None = None
    mark_in: int | None = None
    mark_out: int | None = None
    layout: str = "mono"
    face: int | tuple[int, ...] | None = None
    position: int = 0
    run: dict[str, Any] = field(default_factory=dict)
    previews: tuple[Preview, ...] = ()
    faces_file: Path | None = None


def files_folder(project_path: Path) -> Path:
    """The folder beside a project where its previews and face tracks are kept: ``NAME_files``."""
    p = Path(project_path)
    return p.with_name(f"{p.stem}_files")


def _rel(path: Path | None, base: Path) -> str | None:
    """``path`` relative to the folder ``base`` when it is inside it, else absolute (None stays None)."""
    if path is None:
        return None
    path = Path(path).absolute()
    try:
        return path.relative_to(base.absolute()).as_posix()
    except ValueError:
        return str(path)


def _abs(text: Any, base: Path) -> Path | None:
    if not text:
        return None
    p = Path(str(text))
    return p if p.is_absolute() else (base / p)


def project_to_dict(project: Project, project_path: Path) -> dict[str, Any]:
    """The JSON data of ``project`` saved as ``project_path`` (paths beside it relative)."""
    base = Path(project_path).absolute().parent

    def request_dict(r: SyncRequest) -> dict[str, Any]:
        d = r.to_dict()
        for k in ("video", "dub", "output"):
            d[k] = _rel(getattr(r, k), base)
        if r.options.script is not None:
            d["options"]["script"] = _rel(r.options.script, base)
        return d

    previews = []
    for pv in project.previews:
        res = to_plain(pv.result)
        res["output"] = _rel(pv.result.output, base)
        res["outputs"] = [_rel(Path(o), base) for o in pv.result.outputs]
        previews.append({"file": _rel(pv.file, base), "stale": pv.stale, "request": request_dict(pv.request),
                         "result": res})
    return {
        "format": PROJECT_FORMAT, "version": PROJECT_VERSION,
        "clip": _rel(project.clip, base), "dub": _rel(project.dub, base), "script": _rel(project.script, base),
        "dub_offset_ms": round(float(project.dub_offset_ms), 3), "dub_stream": project.dub_stream,
        "dub_channels": list(project.dub_channels) if project.dub_channels else None,
        "mark_in": project.mark_in, "mark_out": project.mark_out, "layout": project.layout,
        "face": list(project.face) if isinstance(project.face, tuple) else project.face,
        "position": int(project.position), "run": dict(project.run), "previews": previews,
        "faces_file": _rel(project.faces_file, base),
    }


def save_project(project: Project, path: str | Path, faces=None) -> Project:
    """Write ``project`` to ``path`` (whole or not at all) and return it as saved.

    Previews that are not yet in the project's files folder (``NAME_files``, e.g. still in the cache, which is
    cleared when the app closes) are copied there first, and ``faces`` (a ``ClipFaces``) is saved there, so the
    project keeps what it refers to. The returned project points at those copies.

    Raises
    ------
    ProjectError
        The file or its folder cannot be written (names which).
    """
    path = Path(path).absolute()
    if path.suffix.lower() != PROJECT_SUFFIX:
        path = path.with_name(path.name + PROJECT_SUFFIX)
    folder = files_folder(path)
    try:
        previews = []
        for pv in project.previews:
            src = Path(pv.file)
            if src.is_file() and src.absolute().parent != folder:
                folder.mkdir(parents=True, exist_ok=True)
                dst = folder / src.name
                with atomic_output(dst) as tmp:
                    shutil.copyfile(src, tmp)
                pv = Preview(dst, replace(pv.request, output=dst),
                             replace(pv.result, output=dst, outputs=(dst,)), pv.stale)
            previews.append(pv)
        faces_file = project.faces_file
        if faces is not None:
            folder.mkdir(parents=True, exist_ok=True)
            faces_file = folder / "faces.npz"
            with atomic_output(faces_file) as tmp:
                faces.save(tmp)
        project = replace(project, previews=tuple(previews), faces_file=faces_file)
        before = _previews_in(path, folder)
        text = json.dumps(project_to_dict(project, path), indent=2) + "\n"
        with atomic_output(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
        # Previews this project kept before and no longer refers to (a newer run replaced them) go.
        for old in before - {Path(pv.file).absolute() for pv in project.previews}:
            old.unlink(missing_ok=True)
    except OSError as exc:
        raise ProjectError(f"cannot save the project: {exc.strerror or exc}", path=path,
                           hint="choose a folder you can write to") from exc
    except OutputError as exc:  # a full disk or a place that cannot be written (what atomic_output names)
        raise ProjectError(f"cannot save the project: {exc.message}", path=path,
                           hint=exc.hint or "choose a folder you can write to") from exc
    return project


def _channels(value: Any) -> tuple[int, ...] | None:
    """A project's ``dub_channels``: a list of channel numbers from 1; None for anything else."""
    if not isinstance(value, list) or not value:
        return None
    if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 1 for c in value):
        return None
    return tuple(value)


def _previews_in(path: Path, folder: Path) -> set[Path]:
    """The preview files the project file ``path`` (if any) keeps in its files ``folder``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        files = {_abs(pv.get("file"), path.parent) for pv in data.get("previews") or []}
    except (OSError, ValueError, AttributeError, TypeError):
        return set()
    return {f.absolute() for f in files if f is not None and f.absolute().parent == folder.absolute()}


def load_project(path: str | Path) -> tuple[Project, list[str]]:
    """Read a project file; returns it and notes, one per referenced file that is missing (the project opens
    without it: a missing clip or dub is left out, a missing preview is dropped).

    Raises
    ------
    ProjectError
        The file is missing, not JSON, not a Lipsync Studio project, or of a newer version.
    """
    path = Path(path).absolute()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ProjectError("the project file does not exist", path=path) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectError(f"cannot read the project file: {exc}", path=path) from exc
    except ValueError as exc:
        raise ProjectError(f"the project file is damaged (not JSON: {exc})", path=path) from exc
    if not isinstance(data, dict) or data.get("format") != PROJECT_FORMAT:
        raise ProjectError("this file is not a Lipsync Studio project", path=path)
    version = data.get("version")
    if not isinstance(version, int) or version > PROJECT_VERSION:
        raise ProjectError(f"the project was written by a newer Lipsync Studio (project version {version}; this "
                           f"one reads up to {PROJECT_VERSION})", path=path, hint="update Lipsync Studio")
    base = path.parent
    notes: list[str] = []

    def media(key: str, what: str) -> Path | None:
        p = _abs(data.get(key), base)
        if p is not None and not p.is_file():
            notes.append(f"The {what} is missing: {p}")
            return None
        return p

    clip, dub, script = media("clip", "clip"), media("dub", "dub"), media("script", "script")
    previews = []
    for i, pv in enumerate(data.get("previews") or []):
        try:
            file = _abs(pv["file"], base)
            req = dict(pv["request"])
            for k in ("video", "dub", "output"):
                req[k] = str(_abs(req[k], base))
            if req.get("options", {}).get("script"):
                req["options"] = dict(req["options"], script=_abs(req["options"]["script"], base))
            request = SyncRequest.from_dict(req)
            result = result_from_dict(dict(pv["result"], output=str(file), outputs=[str(file)]))
        except (KeyError, TypeError, ValueError) as exc:
            notes.append(f"Preview {i + 1} could not be read ({exc}); it is left out")
            continue
        if file is None or not file.is_file():
            notes.append(f"The preview is missing: {file} (Run makes it again)")
            continue
        previews.append(Preview(file, request, result, bool(pv.get("stale", False))))
    faces_file = _abs(data.get("faces_file"), base)
    if faces_file is not None and not faces_file.is_file():
        faces_file = None  # the face list is tracked again on demand: nothing the user must act on

    def opt_int(key: str) -> int | None:
        v = data.get(key)
        return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    face = data.get("face")
    face = tuple(int(f) for f in face if isinstance(f, int)) or None if isinstance(face, list) else opt_int("face")
    run = data.get("run") if isinstance(data.get("run"), dict) else {}
    project = Project(clip=clip, dub=dub, script=script, dub_offset_ms=float(data.get("dub_offset_ms") or 0.0),
                      dub_stream=opt_int("dub_stream"), dub_channels=_channels(data.get("dub_channels")),
                      mark_in=opt_int("mark_in"), mark_out=opt_int("mark_out"),
                      layout=str(data.get("layout") or "mono"), face=face,
                      position=opt_int("position") or 0, run=run, previews=tuple(previews), faces_file=faces_file)
    if project.clip is None:
        project = replace(project, previews=())  # a preview is of the clip: without it there is nothing to show
    return project, notes


def result_from_dict(data: dict[str, Any]) -> SyncResult:
    """The :class:`SyncResult` that ``SyncResult.to_dict()`` (or a project) described."""
    from ..metrics.sync import MouthLead, PhoneticAgreement, SyncScore

    def score(d: Any) -> SyncScore | None:
        if not isinstance(d, dict):
            return None
        ph = d.get("phonetic")
        phon = None
        if isinstance(ph, dict):
            phon = PhoneticAgreement(ph.get("closure"), ph.get("rounding"), ph.get("leak"),
                                     float(ph.get("loudness") or 0.0), int(ph.get("bilabials") or 0),
                                     float(ph.get("score") or 0.0))
        return SyncScore(offset_frames=int(d["offset_frames"]), confidence=float(d["confidence"]),
                         correlation=float(d["correlation"]), frames_used=int(d["frames_used"]),
                         curve=tuple(float(c) for c in d.get("curve") or ()), expert=d.get("expert_cosine"),
                         lse_d=d.get("lse_d"), lse_c=d.get("lse_c"), lse_offset=d.get("lse_offset"), phonetic=phon,
                         lead=MouthLead.from_dict(d.get("lead")))

    names = {f.name for f in fields(SyncResult)}
    kw = {k: v for k, v in data.items() if k in names}
    kw["output"] = Path(kw["output"])
    kw["outputs"] = tuple(Path(p) for p in kw.get("outputs") or (kw["output"],))
    kw["warnings"] = tuple(kw.get("warnings") or ())
    kw["sync"] = score(kw.get("sync"))
    kw["sync_right"] = score(kw.get("sync_right"))
    return SyncResult(**kw)

