"""The window's actions (menus, toolbar, keyboard shortcuts) in one place.

Editors' conventions: Space plays/pauses, J/K/L shuttle, ←/→ step one frame (Shift: one second), Home/End
jump, 1–5 pick the viewer mode, C toggles before/after, F fits.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QToolBar

from .theme import icon


class Actions:
    """Creates the actions of ``window`` and its menus and toolbar; attributes are the QActions."""

    def __init__(self, window: QMainWindow) -> None:
        self.window = window

        def act(text: str, shortcut: str | QKeySequence.StandardKey | None = None, icon_name: str | None = None,
                tip: str = "", checkable: bool = False) -> QAction:
            a = QAction(text, window)
            if icon_name:
                a.setIcon(icon(icon_name))
            if shortcut is not None:
                a.setShortcut(QKeySequence(shortcut))
            a.setToolTip(tip or text.replace("…", ""))
            a.setStatusTip(tip or text.replace("…", ""))
            a.setCheckable(checkable)
            window.addAction(a)  # shortcuts work even with the menu bar hidden
            return a

        self.new_project = act("New Project", QKeySequence.StandardKey.New, None,
                               "Start again with no clip, dub or result (Ctrl+N)")
        self.open_project = act("Open Project…", "Ctrl+Alt+O", "folder",
                                "Open a saved project: clip, dub, settings and previews (Ctrl+Alt+O)")
        self.save_project = act("Save Project", QKeySequence.StandardKey.Save, None,
                                "Keep the clip, dub, settings, marks and previews in a project file (Ctrl+S)")
        self.save_project_as = act("Save Project As…", "Ctrl+Shift+S", None, "Save the project under another name")
        self.open_clip = act("Open Clip…", QKeySequence.StandardKey.Open, "clip", "Open the video to dub (Ctrl+O)")
        self.open_dub = act("Open Dub…", "Ctrl+Shift+O", "dub", "Open the new audio track (Ctrl+Shift+O)")
        self.export = act("Export…", "Ctrl+E", "export", "Write the synced video, a stereo video or meshes (Ctrl+E)")
        self.quit = act("Quit", QKeySequence.StandardKey.Quit)
        self.run = act("Run", "Ctrl+R", "run", "Sync the clip to the dub (Ctrl+R)")
        self.cancel = act("Cancel Job", "Esc", "cancel", "Stop the running job (Esc)")
        self.track_faces = act("Track Faces", "Ctrl+T", "face3d", "Find and follow the clip's faces (Ctrl+T)")
        self.models = act("Models…", None, "models", "Installed model weights, licences, and adding weights")
        self.batch = act("Batch…", "Ctrl+B", None,
                         "Dub the open clip into several languages, or run a manifest, and open its QC report (Ctrl+B)")
        self.play = act("Play / Pause", "Space", "play")
        self.shuttle_back = act("Play Backward (J)", "J")
        self.shuttle_stop = act("Stop (K)", "K")
        self.shuttle_fwd = act("Play Forward (L)", "L")
        self.prev_frame = act("Previous Frame", "Left", "step_back")
        self.next_frame = act("Next Frame", "Right", "step_forward")
        self.back_second = act("Back One Second", "Shift+Left")
        self.fwd_second = act("Forward One Second", "Shift+Right")
        self.to_start = act("Go to Start", "Home", "to_start")
        self.to_end = act("Go to End", "End", "to_end")
        self.compare = act("Before / After", "C", "before_after", checkable=True)
        self.fit = act("Fit to Window", "F", "fit")
        self.zoom_in = act("Zoom In", QKeySequence.StandardKey.ZoomIn, "zoom_in")
        self.zoom_out = act("Zoom Out", QKeySequence.StandardKey.ZoomOut, "zoom_out")
        self.zoom_one = act("Actual Pixels", "Ctrl+1", "zoom_100")
        self.mode_keys = [act(f"View {name}", str(k + 1)) for k, name in
                          enumerate(("Original", "Result", "Side by Side", "Anaglyph", "Disparity"))]
        self.mark_in = act("Mark In", "I", tip="Sync only from here on (I); the rest stays the clip as it is")
        self.mark_out = act("Mark Out", "O", tip="Sync only up to this frame (O)")
        self.clear_marks = act("Clear In and Out", "Alt+X", tip="Sync the whole timeline again (Alt+X)")
        self.open_logs = act("Open Log Folder", None, "folder")
        self.about = act("About Lipsync Studio", None, "info")
        for a in (self.play, self.shuttle_back, self.shuttle_stop, self.shuttle_fwd, self.prev_frame, self.next_frame,
                  self.back_second, self.fwd_second, self.to_start, self.to_end, *self.mode_keys, self.compare,
                  self.fit, self.mark_in, self.mark_out, self.clear_marks):
            a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)

        mb = window.menuBar()
        m = mb.addMenu("&File")
        m.addAction(self.new_project)
        m.addAction(self.open_project)
        self.recent_projects = m.addMenu("Open Recent Project")
        m.addAction(self.save_project)
        m.addAction(self.save_project_as)
        m.addSeparator()
        m.addAction(self.open_clip)
        m.addAction(self.open_dub)
        self.recent_clips = m.addMenu("Recent Clips")
        self.recent_dubs = m.addMenu("Recent Dubs")
        m.addSeparator()
        m.addAction(self.export)
        m.addSeparator()
        m.addAction(self.quit)
        self.view_menu = mb.addMenu("&View")
        for a in self.mode_keys:
            self.view_menu.addAction(a)
        self.view_menu.addSeparator()
        for a in (self.compare, self.fit, self.zoom_in, self.zoom_out, self.zoom_one):
            self.view_menu.addAction(a)
        self.view_menu.addSeparator()
        m = mb.addMenu("&Playback")
        for a in (self.play, self.shuttle_back, self.shuttle_stop, self.shuttle_fwd):
            m.addAction(a)
        m.addSeparator()
        for a in (self.prev_frame, self.next_frame, self.back_second, self.fwd_second, self.to_start, self.to_end):
            m.addAction(a)
        m.addSeparator()
        for a in (self.mark_in, self.mark_out, self.clear_marks):
            m.addAction(a)
        m = mb.addMenu("&Sync")
        m.addAction(self.run)
        m.addAction(self.cancel)
        m.addSeparator()
        m.addAction(self.track_faces)
        m.addAction(self.batch)
        m.addAction(self.models)
        m = mb.addMenu("&Help")
        m.addAction(self.open_logs)
        m.addAction(self.about)

        tb = QToolBar("Main")
        tb.setObjectName("mainToolbar")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for a in (self.open_clip, self.open_dub):
            tb.addAction(a)
        tb.addSeparator()
        for a in (self.run, self.cancel):
            tb.addAction(a)
        tb.addSeparator()
        tb.addAction(self.export)
        tb.addAction(self.models)
        window.addToolBar(Qt.ToolBarArea.TopToolBarArea, tb)
        self.toolbar = tb

    def fill_recent(self, menu: QMenu, paths: list[str], opener: Callable[[str], None]) -> None:
        """List ``paths`` in ``menu``; choosing one calls ``opener(path)``."""
        menu.clear()
        for p in paths:
            a = menu.addAction(p)
            a.triggered.connect(lambda _=False, p=p: opener(p))
        menu.setEnabled(bool(paths))
