"""The user's settings: one typed object, stored as readable JSON under the user's config folder.

What the app remembers between runs (last folders, recent files, run and export options, viewer choices)
lives in :class:`Settings`. Window geometry and dock layout are Qt's business (``QSettings``, kept by the
window itself); everything else is here, without Qt, so the command line and tests can read it too.

The file carries a schema version. Loading is forgiving: unknown keys are ignored, a value of the wrong
type falls back to its default, and a damaged file is moved aside (``settings.json.broken``) rather than
crashing the app or being silently overwritten.

Where things go (``platformdirs``; all of them under ``$LIPSYNC_STUDIO_HOME`` when that is set, which
tests and portable installs use):

=========== ================================================== =====================================
what        function                                           e.g. on Linux
=========== ================================================== =====================================
settings    :func:`config_dir`                                 ``~/.config/lipsync-studio``
logs        :func:`log_dir`                                    ``~/.local/state/lipsync-studio/log``
models      :func:`data_dir` ``/ "models"`` (installed app)    ``~/.local/share/lipsync-studio``
previews    :func:`cache_dir`                                  ``~/.cache/lipsync-studio``
=========== ================================================== =====================================
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

APP_NAME = "lipsync-studio"
#: Bumped when a stored key changes meaning; older files are migrated in :func:`_migrate`.
SCHEMA_VERSION = 1
#: How many recent clips and dubs the File menu lists.
MAX_RECENT = 10


# -- where things live -------------------------------------------------------------------------------------

def _home_override() -> Path | None:
    value = os.environ.get("LIPSYNC_STUDIO_HOME")
    return Path(value).expanduser() if value else None


def config_dir() -> Path:
    """Folder of the settings file (created on demand by :meth:`Settings.save`)."""
    home = _home_override()
    if home is not None:
        return home / "config"
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    """Folder of the app's log files."""
    home = _home_override()
    if home is not None:
        return home / "log"
    import platformdirs

    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    """Per-user data folder (an installed app keeps its model weights in ``data_dir() / "models"``)."""
    home = _home_override()
    if home is not None:
        return home / "data"
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    """Per-user cache folder (preview renders of results; safe to delete)."""
    home = _home_override()
    if home is not None:
        return home / "cache"
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def settings_path() -> Path:
    """The settings file."""
    return config_dir() / "settings.json"


# -- the settings ------------------------------------------------------------------------------------------

@dataclass
class RunSettings:
    """Options of the Run panel.

    Attributes
    ----------
    engine: lip-sync engine: ``auto``, ``builtin``, ``wav2lip`` or ``none`` (re-time only).
    device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"mps"``.
    quality: ``"preview"`` (fast encode) or ``"final"``.
    extend: picture policy when the dub is longer (``pingpong``, ``hold``, ``loop``, ``trim-audio``).
    shorten: policy when the dub is shorter (``trim-picture``, ``pad-silence``).
    stereo_mode: how a stereo clip's eyes are synced: ``consistent`` (the left eye's change carried to the right
        through the pair's disparity) or ``independent``.
    measure: measure the result's audio-visual sync after a run (one more pass over the result).
    """

    engine: str = "auto"
    device: str = "auto"
    quality: str = "preview"
    extend: str = "pingpong"
    shorten: str = "trim-picture"
    stereo_mode: str = "consistent"
    measure: bool = True


@dataclass
class ExportSettings:
    """Options of the Export dialog.

    Attributes
    ----------
    kind: ``"video"``, ``"stereo"`` or ``"obj"``.
    container: output extension for videos (``.mp4``, ``.mov``, ``.mkv``, ``.webm``).
    codec, crf, preset, pix_fmt: the encoder (see :class:`lipsync_studio.media.writer.VideoFormat`).
    stereo_layout: layout of a stereo export (``same``: the clip's own, with its VR metadata; ``sbs``,
        ``half-sbs``, ``tb``, ``half-tb``, ``anaglyph``, ``separate``).
    obj_colours: ``"texture"`` or ``"vertex"`` colours in an OBJ sequence.
    """

    kind: str = "video"
    container: str = ".mp4"
    codec: str = "h264"
    crf: int = 18
    preset: str = "medium"
    pix_fmt: str = "yuv420p"
    stereo_layout: str = "same"
    obj_colours: str = "texture"


@dataclass
class ViewSettings:
    """What the viewer, the 3D view and playback start with.

    Attributes
    ----------
    mode: ``original``, ``result``, ``side-by-side``, ``anaglyph`` or ``disparity``.
    face_style: ``shaded``, ``wireframe`` or ``textured``.
    volume: playback volume, 0..1.
    hear: which sound plays with the picture: ``dub`` or ``clip``.
    """

    mode: str = "original"
    face_style: str = "shaded"
    volume: float = 0.8
    hear: str = "dub"


@dataclass
class Settings:
    """Everything the app remembers between runs.

    Attributes
    ----------
    schema_version: the file's schema (see :data:`SCHEMA_VERSION`).
    last_clip_dir, last_dub_dir, last_export_dir: folders the file dialogs open in.
    recent_clips, recent_dubs, recent_projects: most recent first, at most :data:`MAX_RECENT`.
    last_project_dir: the folder the project dialogs open in.
    models_dir: a models folder chosen by the user, or ``""`` for the default.
    run, export, view: the panels' options.
    """

    schema_version: int = SCHEMA_VERSION
    last_clip_dir: str = ""
    last_dub_dir: str = ""
    last_export_dir: str = ""
    recent_clips: list[str] = field(default_factory=list)
    recent_dubs: list[str] = field(default_factory=list)
    recent_projects: list[str] = field(default_factory=list)
    last_project_dir: str = ""
    models_dir: str = ""
    run: RunSettings = field(default_factory=RunSettings)
    export: ExportSettings = field(default_factory=ExportSettings)
    view: ViewSettings = field(default_factory=ViewSettings)

    # -- recent files ----------------------------------------------------------------------------------
    def remember_clip(self, path: str | Path) -> None:
        """Put ``path`` first in the recent clips and remember its folder."""
        p = str(Path(path).absolute())
        self.recent_clips = _push_recent(self.recent_clips, p)
        self.last_clip_dir = str(Path(p).parent)

    def remember_dub(self, path: str | Path) -> None:
        """Put ``path`` first in the recent dubs and remember its folder."""
        p = str(Path(path).absolute())
        self.recent_dubs = _push_recent(self.recent_dubs, p)
        self.last_dub_dir = str(Path(p).parent)

    def remember_project(self, path: str | Path) -> None:
        """Put the project file ``path`` first in the recent projects and remember its folder."""
        p = str(Path(path).absolute())
        self.recent_projects = _push_recent(self.recent_projects, p)
        self.last_project_dir = str(Path(p).parent)

    # -- storage ---------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Settings":
        """Build settings from stored data: unknown keys ignored, bad values replaced by defaults."""
        if not isinstance(data, dict):
            return cls()
        return _build(cls, _migrate(data))

    @classmethod
    def load(cls, path: str | Path | None = None) -> "Settings":
        """Read the settings file; defaults when there is none. A damaged file is moved aside."""
        p = Path(path) if path is not None else settings_path()
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls()
        except OSError:
            return cls()
        try:
            data = json.loads(text)
        except ValueError:
            try:
                p.replace(p.with_name(p.name + ".broken"))
            except OSError:
                pass
            return cls()
        return cls.from_dict(data)

    def save(self, path: str | Path | None = None) -> Path:
        """Write the settings file (whole or not at all) and return its path."""
        p = Path(path) if path is not None else settings_path()
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{p.name}.tmp-{os.getpid()}")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n", encoding="utf-8")
        os.replace(tmp, p)
        return p


def _push_recent(items: list[str], path: str) -> list[str]:
    return ([path] + [x for x in items if x != path])[:MAX_RECENT]


def _migrate(data: dict[str, Any]) -> dict[str, Any]:
    """Bring older schema versions up to date (none yet: version 1 is the first)."""
    data = dict(data)
    data["schema_version"] = SCHEMA_VERSION
    return data


def _build(cls: type, data: dict[str, Any]) -> Any:
    """Instantiate dataclass ``cls`` from ``data``, keeping defaults for missing or mistyped values."""
    hints = typing.get_type_hints(cls)
    default = cls()
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            kwargs[f.name] = _build(hint, value) if isinstance(value, dict) else getattr(default, f.name)
        elif _fits(value, hint):
            kwargs[f.name] = float(value) if hint is float else value
    return cls(**kwargs)


def _fits(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin is list:
        (item,) = typing.get_args(hint) or (Any,)
        return isinstance(value, list) and all(item is Any or isinstance(v, item) for v in value)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)
