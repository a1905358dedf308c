"""The open work kept for recovery: after the app closed unexpectedly (a crash, a killed process, a power cut) the
next start offers it back.

While the app runs, what its session holds (clip, dub, offset, marks, face, Run settings, the synced preview) is
written as a project file of its own, ``<data dir>/recovery/session-<pid>.lsproj``, a few seconds after each
change; a clean close removes it. A file whose process no longer runs is what an unexpected end left behind. The
preview it names stays in the cache folder (the app removes its previews only when it closes cleanly), so the
recovered session shows the synced result without a new sync. Nothing is copied: writing one is a few kB.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..media.output import atomic_output
from .project import PROJECT_SUFFIX, Project, project_to_dict

#: The key of a recovery file that names the project file the session had (None: never saved).
PROJECT_FILE_KEY = "recovered_project_file"


def recovery_folder() -> Path:
    """Where recovery files go."""
    from ..settings import data_dir

    return data_dir() / "recovery"


def recovery_file(pid: int | None = None) -> Path:
    """This process's recovery file (or process ``pid``'s)."""
    return recovery_folder() / f"session-{os.getpid() if pid is None else pid}{PROJECT_SUFFIX}"


def write_recovery(project: Project, project_file: Path | None, path: Path | None = None) -> Path:
    """Write ``project`` (a session's open work, :meth:`Session.to_project`) as a recovery file, whole or not at all,
    naming the project file it was opened from or saved as (``project_file``); return the file.

    Raises
    ------
    OSError, OutputError
        It cannot be written (the caller goes on without it).
    """
    path = recovery_file() if path is None else path
    path.parent.mkdir(parents=True, exist_ok=True)
    data = project_to_dict(project, path)
    data[PROJECT_FILE_KEY] = str(project_file) if project_file is not None else None
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


def recovered_project_file(path: Path) -> Path | None:
    """The project file a recovery file's session had, or None (never saved, or unreadable)."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8")).get(PROJECT_FILE_KEY)
    except (OSError, ValueError, AttributeError):
        return None
    return Path(value) if isinstance(value, str) and value else None


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's, or cannot tell: not ours to take
    return True


def left_behind() -> list[Path]:
    """Recovery files whose process no longer runs (an unexpected end), newest first."""
    folder = recovery_folder()
    found = []
    for p in folder.glob(f"session-*{PROJECT_SUFFIX}") if folder.is_dir() else ():
        try:
            pid = int(p.stem.split("-", 1)[1])
        except ValueError:
            continue
        if pid != os.getpid() and not _running(pid):
            found.append(p)
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def discard(path: Path) -> None:
    """Remove a recovery file (the user declined it, or the session closed cleanly)."""
    Path(path).unlink(missing_ok=True)
