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
