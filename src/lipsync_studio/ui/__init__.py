"""The desktop app (PySide6): the main window, its widgets, and the worker threads that keep it responsive.

Importing this package does not import Qt; :func:`run_app` does. Module map:

- ``app``: QApplication, theme, log file; ``main_window``: assembles the widgets and wires signals, with
  ``actions`` (menus, toolbar, shortcuts), ``job_link`` (job controls and outcomes), ``face_link`` (faces)
- ``session``: the open project (clip, dub, result, faces, position) and the threads: ``frame_server``
  (decoding, latest request wins), ``job_worker`` (long jobs, cancellable), ``threads.Tasks`` (short tasks)
- widgets: ``viewer`` + ``viewer_bar``, ``timeline_view`` (pyqtgraph) + ``transport``, ``playback``,
  ``run_panel``, ``face_view`` (Open3D via ``face_renderer``), ``export_dialog``, ``models_dialog``, ``status``
- the app model without Qt lives below this package, in :mod:`lipsync_studio.app` (jobs, faces,
  capabilities, mesh, waveforms, time codes, media files); ``qt_compat`` guards a PySide6 6.12.0 bug
"""

from __future__ import annotations

from pathlib import Path


def run_app(video: str | Path | None = None, dub: str | Path | None = None) -> int:
    """Start the desktop app; return its exit code."""
    from .app import run_app as _run

    return _run(video, dub)


def display_available() -> bool:
    """Whether a window can be shown here (Linux needs X11 or Wayland; other systems always can)."""
    import os
    import sys

    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True
