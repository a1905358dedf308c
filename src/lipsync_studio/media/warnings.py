"""Warnings shared by the media readers.

A warning (not an error) is raised when a file can be used, but not all of it: a damaged or truncated
recording is read up to the damage, and the user is told where it stops so they can judge whether the
result is still useful.

A running job collects these notes for its result (:func:`collecting_media_warnings`); outside a job they
are ordinary Python warnings. The collection is kept in a context variable, not in the :mod:`warnings`
module's global filters: ``warnings.catch_warnings`` is not thread-safe, so a job collecting that way lost
(or, under an "error" filter, raised) its notes whenever another thread (a waveform or face task of the app)
entered or left its own ``catch_warnings`` at the same moment. Threads a job starts to help it (decoding
ahead, encoding) run in a copy of the job's context (:func:`in_this_context`), so their notes land too.
"""

from __future__ import annotations

import contextlib
import contextvars
import warnings
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["MediaWarning", "warn_media", "collecting_media_warnings", "in_this_context"]

_notes: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("lipsync_media_notes", default=None)


class MediaWarning(UserWarning):
    """A media file was read only in part (damaged or truncated), or with a lossy fallback.

    The message names the file, says what was lost (e.g. "damaged at 12.48 s; read up to there") and
    what the user can do. Front ends show it next to the result rather than aborting the job.
    """


def warn_media(message: str, stacklevel: int = 2) -> None:
    """Tell the user that a file was used only in part: into the running job's notes when a job collects them
    (this thread's context), else as a :class:`MediaWarning` pointing ``stacklevel`` frames up."""
    notes = _notes.get()
    if notes is not None:
        notes.append(str(message))
    else:
        warnings.warn(MediaWarning(message), stacklevel=stacklevel + 1)


@contextlib.contextmanager
def collecting_media_warnings() -> Iterator[list[str]]:
    """Collect the media notes raised inside the block (and in threads started with :func:`in_this_context`)
    into the list it yields, in order, instead of warning."""
    notes: list[str] = []
    token = _notes.set(notes)
    try:
        yield notes
    finally:
        _notes.reset(token)


def in_this_context(target: Callable[..., Any]) -> Callable[..., Any]:
    """``target`` wrapped to run in a copy of the caller's context: give it to a helper thread so the media
    notes it raises reach the job that started it."""
    ctx = contextvars.copy_context()
    return lambda *args, **kwargs: ctx.run(target, *args, **kwargs)
