"""Safe outputs: checks before any work starts, a temporary name while writing, a rename on success.

A failed or cancelled run leaves nothing under the final name, and an input is never overwritten.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import socket
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..errors import OutputError


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_output_path(
    path: str | Path,
    inputs: Iterable[str | Path] = (),
    *,
    suffixes: Iterable[str] | None = None,
    is_dir: bool = False,
) -> Path:
    """Check before any work that ``path`` can be written, and return it as an absolute Path.

    Parameters
    ----------
    path:
        The output file (or folder, with ``is_dir``).
    inputs:
        The job's input files; the output may not be any of them.
    suffixes:
        Accepted file extensions (lower case, with the dot), or None for any.

    Raises
    ------
    OutputError
        The folder is missing or read-only, the output is one of the inputs, the extension is not
        supported, or the path names an existing folder where a file is expected.
    """
    p = Path(path).expanduser().absolute()
    for src in inputs:
        if src is not None and _same_file(p, Path(src)):
            raise OutputError("the output would overwrite an input file", path=p,
                              hint="choose another output name")
    if suffixes is not None and not is_dir:
        allowed = sorted(set(suffixes))
        if p.suffix.lower() not in allowed:
            raise OutputError(f"unsupported output type '{p.suffix or '(none)'}'", path=p,
                              hint="use one of " + ", ".join(allowed))
    if not is_dir and p.is_dir():
        raise OutputError("is a folder; give a file name", path=p)
    parent = p.parent
    if not parent.exists():
        raise OutputError("the output folder does not exist", path=parent, hint="create it first")
    if not parent.is_dir():
        raise OutputError("is not a folder", path=parent)
    # The mode bits count too: an administrator can write anywhere, but a folder marked read-only for
    # everyone was marked so on purpose.
    if not os.access(parent, os.W_OK | os.X_OK) or parent.stat().st_mode & 0o222 == 0:
        raise OutputError("the output folder is read-only", path=parent, hint="choose a folder you can write to")
    remove_stale_partials(parent)
    return p


def _host() -> str:
    """This machine's name, reduced to letters and digits (it becomes part of file names)."""
    return re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:24] or "host"


#: ``.<stem>.partial-<host>-<pid>-<8 hex><ext>``: the owner of a partial output is in its name.
_PARTIAL = re.compile(r"^\..*\.partial-(?P<host>[A-Za-z0-9]+)-(?P<pid>\d+)-[0-9a-f]{8}(\.[^./]*)?$")


def temporary_sibling(final: Path) -> Path:
    """A hidden name beside ``final`` with the same extension (so muxers recognise the format).

    The name carries this machine's name and this process's id, so that a later run can tell a partial
    output left by a killed run (:func:`remove_stale_partials`) from one that is still being written.
    """
    return final.with_name(f".{final.stem}.partial-{_host()}-{os.getpid()}-{uuid.uuid4().hex[:8]}{final.suffix}")


def remove_stale_partials(folder: str | Path) -> list[Path]:
    """Remove partial outputs in ``folder`` that a run killed without warning (SIGKILL, power loss) left.

    Only our own kind of partial (named by :func:`temporary_sibling`) is touched, and only when it was made
    on this machine by a process that no longer runs: a partial of a live run, of another machine sharing
    the folder, or of an unknown kind is left alone. Returns what was removed; a file that cannot be
    removed is skipped silently (it is somebody else's problem, not this run's).
    """
    import psutil

    removed: list[Path] = []
    host = _host()
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for entry in entries:
        m = _PARTIAL.match(entry.name)
        if m is None or m["host"] != host:
            continue
        pid = int(m["pid"])
        if pid == os.getpid() or psutil.pid_exists(pid):
            continue
        _remove(entry)
        if not entry.exists():
            removed.append(entry)
    return removed


def os_error_to_output_error(exc: OSError, path: Path) -> OutputError:
    """Say what an OS error while writing means for the user."""
    if exc.errno == errno.ENOSPC:
        return OutputError("the disk is full", path=path, hint="free some space or choose another drive")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return OutputError("cannot write here (permission denied)", path=path)
    return OutputError(f"cannot be written ({exc.strerror or exc})", path=path)


def _remove(p: Path) -> None:
    with contextlib.suppress(OSError):
        if p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink()


@contextlib.contextmanager
def atomic_output(final: str | Path, *, is_dir: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; on success move it to ``final``, on any error remove it.

    An existing ``final`` is replaced only when the new output is complete. A full disk or a place that cannot
    be written while the block writes is an :class:`OutputError` naming ``final``.
    """
    final = Path(final)
    tmp = temporary_sibling(final)
    if is_dir:
        tmp.mkdir()
    try:
        yield tmp
    except OSError as exc:
        _remove(tmp)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM):
            raise os_error_to_output_error(exc, final) from exc
        raise
    except BaseException:
        _remove(tmp)
        raise
    try:
        if is_dir and final.exists():
            _remove(final)
        os.replace(tmp, final)
    except OSError as exc:
        _remove(tmp)
        raise os_error_to_output_error(exc, final) from exc
