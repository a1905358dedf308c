"""Errors the user sees: a dialog that says what happened and what to do, and a log file with the details.

A :class:`~lipsync_studio.errors.UserError` (bad file, bad folder, bad option) is the user's to fix: its
message names the file and the remedy. Anything else is ours: the dialog says so and points at the log.
"""

from __future__ import annotations

import logging
import logging.handlers
import traceback
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMessageBox, QWidget

from ..errors import Cancelled, UserError

log = logging.getLogger("lipsync_studio.ui")
_log_file: Path | None = None


def setup_logging() -> Path | None:
    """Log to ``<log dir>/lipsync-studio.log`` (rotating, 1 MB × 3); return the file, or None if unwritable."""
    global _log_file
    from ..settings import log_dir

    if _log_file is not None:
        return _log_file
    folder = log_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(folder / "lipsync-studio.log", maxBytes=1 << 20,
                                                       backupCount=3, encoding="utf-8")
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("lipsync_studio")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    _log_file = folder / "lipsync-studio.log"
    return _log_file


def close_logging() -> None:
    """Detach and close the log file handler (tests call this between windows)."""
    global _log_file
    root = logging.getLogger("lipsync_studio")
    for h in list(root.handlers):
        if isinstance(h, logging.handlers.RotatingFileHandler):
            root.removeHandler(h)
            h.close()
    _log_file = None


def log_file() -> Path | None:
    """The current log file, if logging is set up."""
    return _log_file


def describe_exception(exc: BaseException) -> tuple[str, str]:
    """``(message, details)`` for an exception: the user's words, and the traceback for the log."""
    details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    if isinstance(exc, (UserError, Cancelled)):
        return str(exc), details
    return (f"Something went wrong inside Lipsync Studio ({type(exc).__name__}: {exc}). "
            "This is a bug, not something you did; the details are in the log file."), details


def split_hint(message: str) -> tuple[str, str]:
    """Split a core error message ``"path: what (what to do)"`` into what happened and what to do."""
    if message.endswith(")") and " (" in message:
        head, _, hint = message[:-1].rpartition(" (")
        return head, hint[:1].upper() + hint[1:] + "."
    return message, ""


def show_error(parent: QWidget | None, title: str, message: str, details: str = "") -> QMessageBox:
    """Log the error and show it in a window-modal message box (not blocking); return the box.

    The box says what happened (the message), what to do (the hint in the message, when there is one)
    and where the log file is; the traceback is under "Show Details...".
    """
    log.error("%s: %s\n%s", title, message, details)
    what, todo = split_hint(message)
    box = QMessageBox(parent)
    box.setObjectName("errorDialog")
    from .theme import icon

    box.setIconPixmap(icon("alert").pixmap(44, 44))
    box.setWindowTitle(title)
    box.setText(f"<b>{_escape(title)}</b><br><br>{_escape(what)}")
    info = todo or "Check the file and try again."
    path = log_file()
    if path is not None:
        info += f"<br><br><span style='color:#8d939c'>Details are in the log: {_escape(str(path))}</span>"
    box.setInformativeText(info)
    if details:
        box.setDetailedText(details)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    # Room for a path and a sentence on one line each (the default box wraps them into a narrow column).
    box.setStyleSheet("QLabel#qt_msgbox_label, QLabel#qt_msgbox_informativelabel { min-width: 460px; }")
    if path is not None:
        open_log = box.addButton("Open Log Folder", QMessageBox.ButtonRole.ActionRole)
        open_log.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(path.parent))))
    box.setWindowModality(Qt.WindowModality.WindowModal if parent else Qt.WindowModality.ApplicationModal)
    box.open()
    return box


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class ErrorReporter(QObject):
    """Remembers the last error box a window showed (tests close it; a new error replaces it)."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self._parent = parent
        self.last_box: QMessageBox | None = None
        self.count = 0

    def report(self, title: str, message: str, details: str = "") -> QMessageBox:
        """Show an error dialog for the window (see :func:`show_error`)."""
        if self.last_box is not None:
            try:
                self.last_box.close()
            except RuntimeError:
                pass
        self.count += 1
        self.last_box = show_error(self._parent, title, message, details)
        return self.last_box
