"""Typed errors that front ends turn into messages a user can act on.

Every error a user can cause (a bad file, a bad path, a bad option) derives from :class:`UserError`:
the CLI prints its one-line message and exits with code 2, the GUI shows it in a dialog. Anything
else is a bug (exit code 1).
"""

from __future__ import annotations

from pathlib import Path


class LipsyncError(Exception):
    """Base of all errors raised on purpose by Lipsync Studio.

    Parameters
    ----------
    message:
        What went wrong, in the user's words.
    path:
        The file or folder concerned, if any; it is named at the start of the message.
    hint:
        What the user can do about it; appended to the message.
    """

    def __init__(self, message: str, path: str | Path | None = None, hint: str | None = None) -> None:
        self.message = message
        self.path = Path(path) if path is not None else None
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        text = f"{self.path}: {self.message}" if self.path is not None else self.message
        if self.hint:
            text = f"{text} ({self.hint})"
        return text


class UserError(LipsyncError):
    """An error caused by the user's input or options (CLI exit code 2)."""


class MediaError(UserError):
    """A media file cannot be read: missing, empty, not media, no usable stream."""


class OutputError(UserError):
    """An output path cannot be written: missing or read-only folder, same as an input, disk full."""


class OptionError(UserError):
    """An option or combination of options is invalid."""


class Cancelled(LipsyncError):
    """The job was cancelled by the user; partial outputs have been removed."""

    def __init__(self, message: str = "cancelled by the user") -> None:
        super().__init__(message)


#: Where every thread's Python stack goes when the process crashes in native code (:func:`trace_crashes`), or None.
_crash_trace = None


def trace_crashes(file) -> None:
    """On a crash in native code (a library's segmentation fault, abort, ...) write every thread's Python stack to
    ``file`` (an open file or a file descriptor, kept open), and keep doing so after a library took the crash
    signals over (:func:`rearm_crash_trace`)."""
    import faulthandler

    global _crash_trace
    _crash_trace = file
    faulthandler.enable(file=file, all_threads=True)


def rearm_crash_trace() -> None:
    """Put the crash trace of :func:`trace_crashes` back: ``ray.init`` puts Ray's own handler on the crash signals
    and ``ray.shutdown`` then leaves none, so a later crash ended the process without a word (the test suite's rare
    segmentation fault, after its batch tests, printed no stack)."""
    if _crash_trace is not None:
        import faulthandler

        faulthandler.disable()  # enable() alone does nothing while it counts itself enabled
        faulthandler.enable(file=_crash_trace, all_threads=True)
