"""Starting the desktop app: the QApplication, the theme, the log file, the main window."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

log = logging.getLogger("lipsync_studio.ui")


def make_app(argv: list[str] | None = None):
    """The QApplication (created once), themed."""
    # cv2 (opencv-contrib) points Qt at its own plugins when imported; ours are PySide6's.
    plugin_path = os.environ.get("QT_QPA_PLATFORM_PLUGIN_PATH", "")
    if "cv2" in plugin_path:
        os.environ.pop("QT_QPA_PLATFORM_PLUGIN_PATH", None)
    from PySide6.QtWidgets import QApplication

    from .theme import apply_theme

    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else [sys.argv[0]])
    app.setApplicationName("Lipsync Studio")
    app.setOrganizationName("Lipsync Studio")
    app.setApplicationDisplayName("Lipsync Studio")
    apply_theme(app)
    return app


def _install_excepthook(window) -> None:
    """Unexpected errors in the GUI thread are logged and shown, not fatal."""
    from .errors import describe_exception

    previous = sys.excepthook

    def hook(exc_type, exc, tb):
        if issubclass(exc_type, KeyboardInterrupt):
            return previous(exc_type, exc, tb)
        message, details = describe_exception(exc.with_traceback(tb))
        log.error("unhandled: %s\n%s", message, details)
        try:
            window.errors.report("Unexpected error", message, details)
        except Exception:  # noqa: BLE001 - the window may be gone
            previous(exc_type, exc, tb)

    sys.excepthook = hook


def _last_crash(trace: Path) -> Path | None:
    """The crash trace a crashed run left (``trace`` not empty), moved aside under its time
    (``crash-YYYYmmdd-HHMMSS.log``) so that it is told of once; None when the last run did not crash."""
    import time

    try:
        if trace.stat().st_size == 0:
            return None
        kept = trace.with_name(time.strftime("crash-%Y%m%d-%H%M%S.log", time.localtime(trace.stat().st_mtime)))
        trace.replace(kept)
        return kept
    except OSError:
        return None


def run_app(video: str | Path | None = None, dub: str | Path | None = None) -> int:
    """Open the main window (with ``video`` and ``dub`` when given; ``video`` may be a project file,
    ``.lsproj``) and run until it closes; the exit code."""
    app = make_app()
    from .errors import setup_logging
    from .main_window import MainWindow

    logfile = setup_logging()
    log.info("Lipsync Studio starting (log: %s)", logfile)
    crashed = None
    if logfile is not None:  # a crash in a native library leaves the Python stacks beside the log
        crashed = _last_crash(logfile.parent / "crash.log")
        try:
            from ..errors import trace_crashes

            trace_crashes(open(logfile.parent / "crash.log", "a", encoding="utf-8"))  # noqa: SIM115 - open till exit
        except OSError:
            pass
    window = MainWindow()
    _install_excepthook(window)
    window.show()
    paths = [str(p) for p in (video, dub) if p]
    if crashed is not None:
        log.warning("the last run crashed: %s", crashed)
    if video and Path(video).suffix.lower() == ".lsproj":
        window.open_project(str(video))
    elif not paths:
        window.offer_recovery(crash_report=crashed)  # work left open when the app last closed unexpectedly
    else:
        if video:
            window.session.open_clip(str(video))
        if dub:
            window.session.open_dub(str(dub))
    code = app.exec()
    window.shutdown()
    from .threads import stuck_threads

    stuck = stuck_threads()
    if stuck:  # a thread stuck in a native call cannot be destroyed (Qt aborts the process): leave around it
        log.warning("leaving with threads stuck: %s", ", ".join(stuck))
        logging.shutdown()
        os._exit(int(code))
    return int(code)
