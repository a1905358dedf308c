"""The main window: it assembles the widgets and wires their signals to the session. Nothing else.

Layout: toolbar; viewer (with its mode bar) in the centre; Run panel and 3D face on the right; transport
and timeline at the bottom; status bar (clip, dub, sound, job).
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (QDockWidget, QFileDialog, QFrame, QMainWindow, QMessageBox, QScrollArea, QTabWidget,
                               QVBoxLayout,
                               QWidget)

from .. import __version__
from ..errors import MediaError
from ..settings import Settings, config_dir, log_dir
from ..weights import ModelRegistry
from ..app import capabilities
from .actions import Actions
from .errors import ErrorReporter
from .face_link import FaceLink
from .job_link import JobLink
from .face_view import FaceView
from ..app.media_files import VIDEO_FILTER, AUDIO_FILTER, sort_dropped
from ..media.audio import surround_centre
from .playback import Player, load_play_audio, probe_output_device
from .run_panel import RunPanel
from .session import Session
from .status import StatusLine
from .threads import Tasks, start_worker, stop_worker
from .timeline_view import TimelineView
from .transport import TransportBar
from .viewer import VideoViewer
from .viewer_bar import ViewerBar

log = logging.getLogger("lipsync_studio.ui")
#: How long after a change the open work is written for recovery (changes in a burst, a drag, write it once).
RECOVERY_DELAY_MS = 2000


class MainWindow(QMainWindow):
    """Lipsync Studio's window.

    Parameters
    ----------
    settings: the user's settings (loaded from the config folder when None; saved on close).
    start_3d: start the 3D face renderer when its panel is shown (tests of plain widgets turn it off).
    probe: look for a sound device and compute devices in the background at start.
    """

    def __init__(self, settings: Settings | None = None, *, start_3d: bool = True, probe: bool = True) -> None:
        super().__init__()
        self.settings = settings if settings is not None else Settings.load()
        self._save_settings = settings is None
        self.caps = capabilities.detect()
        self.setWindowTitle("Lipsync Studio")
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)
        self.errors = ErrorReporter(self)
        self.session = Session(self.settings, self)
        self.player = Player(self)
        self.actions_ = Actions(self)

        # Centre: viewer with its bar.
        self.viewer_bar = ViewerBar(self.caps)
        self.viewer = VideoViewer()
        centre = QWidget()
        col = QVBoxLayout(centre)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(0)
        col.addWidget(self.viewer_bar)
        col.addWidget(self.viewer, 1)
        self.setCentralWidget(centre)

        # Right: Run panel and 3D face; bottom: transport and timeline.
        self.run_panel = RunPanel(self.settings.run, self.caps)
        self.face_view = FaceView()
        self.transport = TransportBar()
        self.timeline = TimelineView()
        bottom = QWidget()
        col = QVBoxLayout(bottom)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(0)
        col.addWidget(self.transport)
        col.addWidget(self.timeline, 1)
        run_scroll = QScrollArea()
        run_scroll.setWidget(self.run_panel)
        run_scroll.setWidgetResizable(True)
        run_scroll.setFrameShape(QFrame.Shape.NoFrame)
        run_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.run_scroll = run_scroll
        self.run_dock = self._dock("Run", "runDock", run_scroll, Qt.DockWidgetArea.RightDockWidgetArea)
        self.face_dock = self._dock("3D Face", "faceDock", self.face_view, Qt.DockWidgetArea.RightDockWidgetArea)
        self.timeline_dock = self._dock("Timeline", "timelineDock", bottom, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.setTabPosition(Qt.DockWidgetArea.RightDockWidgetArea, QTabWidget.TabPosition.North)
        self.tabifyDockWidget(self.run_dock, self.face_dock)
        self.run_dock.raise_()
        self.resizeDocks([self.run_dock], [360], Qt.Orientation.Horizontal)
        self.resizeDocks([self.timeline_dock], [250], Qt.Orientation.Vertical)
        self.status_line = StatusLine(self.statusBar())
        self.faces = FaceLink(self.session, self.face_view, self.viewer, self.viewer_bar, self.run_panel,
                              self.caps.face_mesh, self)
        self.job_link = JobLink(self, self)
        self._wire()
        if start_3d:  # Open3D takes seconds to load: only when the 3D view is first shown
            self.face_dock.visibilityChanged.connect(lambda v: v and self.face_view.activate())
        self._restore_layout()
        self._refresh_recent()
        self._update_run_state()
        self._restore_view()
        self.probe = Tasks()
        self._probe_thread = start_worker(self.probe, "lipsync-probe")
        self.probe.done.connect(self._probed)
        self.probe.failed.connect(self._probe_failed)
        if probe:
            self.probe.submit("sound", probe_output_device)
            self.probe.submit("devices", capabilities.devices)

    def _restore_view(self) -> None:
        v = self.settings.view
        self.viewer.set_mode(v.mode if v.mode in ("original", "result") else "original")
        self.viewer_bar.set_mode(self.viewer.mode)
        self.face_view.set_style(v.face_style if v.face_style in ("shaded", "wireframe", "textured") else "shaded")
        self.transport.volume.setValue(int(round(min(1.0, max(0.0, v.volume)) * 100)))
        self.transport.hear.setCurrentIndex(max(0, self.transport.hear.findData(v.hear)))

    def _dock(self, title: str, name: str, widget: QWidget, area) -> QDockWidget:
        d = QDockWidget(title, self)
        d.setObjectName(name)
        d.setWidget(widget)
        d.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetClosable
                      | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, d)
        self.actions_.view_menu.addAction(d.toggleViewAction())
        return d

    # -- wiring ----------------------------------------------------------------------------------------
    def _wire(self) -> None:
        a, s, v, t, tl, p = self.actions_, self.session, self.viewer, self.transport, self.timeline, self.player
        a.new_project.triggered.connect(self.new_project)
        a.open_project.triggered.connect(self.choose_project)
        a.save_project.triggered.connect(self.save_project)
        a.save_project_as.triggered.connect(self.save_project_as)
        a.open_clip.triggered.connect(self.choose_clip)
        a.open_dub.triggered.connect(self.choose_dub)
        a.export.triggered.connect(self.open_export)
        a.models.triggered.connect(self.open_models)
        a.batch.triggered.connect(self.open_batch)
        a.quit.triggered.connect(self.close)
        a.run.triggered.connect(self.run)
        a.cancel.triggered.connect(s.cancel)
        a.track_faces.triggered.connect(self.faces.track)
        a.open_logs.triggered.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(log_dir()))))
        a.about.triggered.connect(self._about)
        a.play.triggered.connect(p.toggle)
        a.shuttle_back.triggered.connect(lambda: p.shuttle(-1))
        a.shuttle_stop.triggered.connect(p.stop)
        a.shuttle_fwd.triggered.connect(lambda: p.shuttle(1))
        a.prev_frame.triggered.connect(lambda: self._step(-1))
        a.next_frame.triggered.connect(lambda: self._step(1))
        a.back_second.triggered.connect(lambda: self._step(-round(float(s.timeline.fps))))
        a.fwd_second.triggered.connect(lambda: self._step(round(float(s.timeline.fps))))
        a.to_start.triggered.connect(lambda: self._seek(0))
        a.to_end.triggered.connect(lambda: self._seek(s.timeline.n_out - 1))
        a.mark_in.triggered.connect(lambda: s.set_marks(s.position, s.mark_out))
        a.mark_out.triggered.connect(lambda: s.set_marks(s.mark_in, s.position))
        a.clear_marks.triggered.connect(lambda: s.set_marks(None, None))
        a.compare.toggled.connect(self.viewer_bar.compare.setChecked)
        a.fit.triggered.connect(v.set_fit)
        a.zoom_in.triggered.connect(lambda: v.zoom_by(1.25))
        a.zoom_out.triggered.connect(lambda: v.zoom_by(1 / 1.25))
        a.zoom_one.triggered.connect(lambda: v.set_zoom(1.0))
        for key, act in zip(("original", "result", "side-by-side", "anaglyph", "disparity"), a.mode_keys):
            act.triggered.connect(lambda _=False, k=key: self.viewer_bar.set_mode(k))

        vb = self.viewer_bar
        vb.mode_changed.connect(self._mode_changed)
        self.face_view.style_changed.connect(lambda st: setattr(self.settings.view, "face_style", st))
        vb.compare_toggled.connect(self._compare_toggled)
        vb.fit_clicked.connect(v.set_fit)
        vb.zoom_step.connect(v.zoom_by)
        vb.zoom_one.connect(lambda: v.set_zoom(1.0))
        vb.layout_changed.connect(self._layout_changed)
        v.zoom_changed.connect(lambda z: vb.show_zoom(z, v.fit))
        v.files_dropped.connect(self.open_paths)

        t.play_toggled.connect(lambda on: p.play(1.0) if on else p.stop())
        t.step.connect(self._step)
        t.to_start.connect(lambda: self._seek(0))
        t.to_end.connect(lambda: self._seek(s.timeline.n_out - 1))
        t.seek.connect(self._seek)
        t.note.connect(self.status_line.flash)
        t.offset_changed.connect(lambda ms: s.set_offset(ms / 1000.0))
        t.hear_changed.connect(self._hear_changed)
        t.volume_changed.connect(self._volume_changed)
        t.loop_toggled.connect(lambda on: setattr(p, "loop", on))
        tl.seek_requested.connect(self._seek)
        tl.offset_dragged.connect(lambda sec: t.set_offset_ms(round(sec * 1000)))
        tl.offset_committed.connect(s.set_offset)
        tl.thumbnails_wanted.connect(s.frames.request_thumbnails)

        p.position_changed.connect(s.seek)
        p.state_changed.connect(t.set_playing)
        p.sound_status.connect(self.status_line.set_sound)

        s.clip_changed.connect(self._clip_changed)
        s.dub_changed.connect(self._dub_changed)
        s.result_changed.connect(self._result_changed)
        s.timeline_changed.connect(self._timeline_changed)
        s.position_changed.connect(self._position_changed)
        s.frame_ready.connect(v.show_bundle)
        v.look_dragged.connect(self._look)
        s.thumbnail_ready.connect(tl.add_thumbnail)
        s.waveform_ready.connect(self._waveform_ready)
        s.offset_changed.connect(self._offset_changed)
        s.marks_changed.connect(self._marks_changed)
        s.project_changed.connect(lambda path, modified: self._update_title())
        # The open work is kept for recovery a few seconds after each change (app.recovery).
        self._recovery_timer = QTimer(self)
        self._recovery_timer.setSingleShot(True)
        self._recovery_timer.setInterval(RECOVERY_DELAY_MS)
        self._recovery_timer.timeout.connect(self._keep_for_recovery)
        for changed in (s.project_changed, s.result_changed, s.offset_changed, s.marks_changed):
            changed.connect(lambda *_: self._recovery_timer.start())
        s.project_opened.connect(self._project_opened)
        s.report_ready.connect(self._report_ready)
        self.run_panel.strip.seek_requested.connect(self._strip_seek)
        s.error.connect(self.errors.report)
        s.status.connect(self.status_line.flash)
        s.tasks.done.connect(self._task_done)

        r = self.run_panel
        r.run_clicked.connect(self.run)
        r.cancel_clicked.connect(s.cancel)
        r.options_changed.connect(s.replan)
        r.dub_stream_changed.connect(self._dub_stream_chosen)
        r.dub_channels_changed.connect(self.session.set_dub_channels)

    # -- projects --------------------------------------------------------------------------------------
    def new_project(self) -> None:
        """File ▸ New Project: start again (after asking to save unsaved changes)."""
        if self._may_close_project("Start a new project?"):
            self.player.stop()
            self.session.new_project()

    def choose_project(self) -> None:
        """File ▸ Open Project…: ask for a project file and open it."""
        from ..app.project import PROJECT_SUFFIX

        path, _ = QFileDialog.getOpenFileName(self, "Open project",
                                              self.settings.last_project_dir or str(Path.home()),
                                              f"Lipsync Studio projects (*{PROJECT_SUFFIX});;All files (*)")
        if path:
            self.open_project(path)

    def open_project(self, path: str | Path) -> bool:
        """Open the project file ``path`` (after asking to save unsaved changes to the open one)."""
        if not self._may_close_project("Open another project?"):
            return False
        self.player.stop()
        if not self.session.open_project(path):
            return False
        self.run_panel.load_settings(self.settings.run)
        self._refresh_recent()
        return True

    def save_project(self) -> bool:
        """File ▸ Save Project (Save As… when it has no file yet); True when saved."""
        if self.session.project_path is None:
            return self.save_project_as()
        return self._save_to(self.session.project_path)

    def save_project_as(self, path: str | Path | None = None) -> bool:
        """File ▸ Save Project As…: ask for a file (unless ``path``) and save there; True when saved."""
        from ..app.project import PROJECT_SUFFIX

        if path is None:
            s = self.session
            start = s.project_path or (Path(self.settings.last_project_dir or (s.clip.path.parent if s.clip else
                                                                              Path.home()))
                                       / f"{s.clip.path.stem if s.clip else 'Untitled'}{PROJECT_SUFFIX}")
            path, _ = QFileDialog.getSaveFileName(self, "Save project", str(start),
                                                  f"Lipsync Studio projects (*{PROJECT_SUFFIX})")
            if not path:
                return False
        return self._save_to(Path(path))

    def _save_to(self, path: Path) -> bool:
        from ..app.project import ProjectError

        try:
            written = self.session.save_project(path)
        except ProjectError as exc:
            self.errors.report("Cannot save the project", str(exc), "")
            return False
        self.status_line.flash(f"Saved {written.name}")
        self._refresh_recent()
        return True

    def _project_opened(self, project, notes: list) -> None:
        self.run_panel.load_settings(self.settings.run)
        self.run_panel.select_face(project.face)
        if self.session.clip is not None and project.layout != self.viewer_bar.layout_box.currentData():
            self.viewer_bar.set_layout(project.layout)
            self._layout_changed(project.layout)
        self._layout_from_project = self.session.clip is not None
        if self.session.result is not None:
            from .job_link import result_measures

            self.run_panel.show_measures(result_measures(self.session.result))
            self.run_panel.job_ended("Preview from the project (no new sync)", True, keep_rate=False)
            if not self.viewer.compare:
                self.viewer_bar.set_mode("result")
        self._update_run_state()
        if notes:
            self.errors.report("Some of the project's files are missing",
                               "The project opened without them:\n" + "\n".join(notes)
                               + "\n(put them back and open the project again, or open them with File ▸ Open Clip… / "
                               "Open Dub… and save the project)", "")

    def _update_title(self) -> None:
        s = self.session
        name = s.project_path.stem if s.project_path is not None else "Untitled"
        star = "*" if s.modified else ""
        clip = f" ({s.clip.path.name})" if s.clip is not None else ""
        self.setWindowTitle(f"{name}{star}{clip} — Lipsync Studio")

    def _may_close_project(self, title: str) -> bool:
        """Ask Save / Discard / Cancel when the project has unsaved changes; True: go on."""
        s = self.session
        if not self.confirm_close or not s.modified or s.clip is None:
            return True
        if s.project_path is None and (s.result is None or s.result_exported):
            return True  # never saved and no preview to lose: only which files were open, nothing to ask about
        name = s.project_path.name if s.project_path is not None else "the project"
        text = f"Save the changes to {name}?"
        if s.result is not None and not s.result_exported:
            text += (f"\n\nThe synced preview of {s.clip.path.name} was not exported: it is kept only in a saved "
                     "project, and removed when Lipsync Studio closes otherwise.")
        B = QMessageBox.StandardButton
        box = QMessageBox(QMessageBox.Icon.Question, title, text, B.Save | B.Discard | B.Cancel, self)
        box.button(B.Discard).setText("Discard changes")
        box.setDefaultButton(B.Save)
        self.quit_box = box
        answer = box.exec()
        if answer == B.Save:
            return self.save_project()
        return answer == B.Discard

    # -- opening ---------------------------------------------------------------------------------------
    def choose_clip(self) -> None:
        """Ask for a clip and open it."""
        path, _ = QFileDialog.getOpenFileName(self, "Open clip", self.settings.last_clip_dir or str(Path.home()),
                                              VIDEO_FILTER)
        if path:
            self.session.open_clip(path)

    def choose_dub(self) -> None:
        """Ask for a dub and open it."""
        path, _ = QFileDialog.getOpenFileName(self, "Open dub", self.settings.last_dub_dir or str(Path.home()),
                                              AUDIO_FILTER)
        if path:
            self.session.open_dub(path)

    def open_paths(self, paths: list[str]) -> None:
        """Open dropped or command-line files: a project file as the project, videos as the clip, audio as the
        dub."""
        projects = [p for p in paths if Path(p).suffix.lower() == ".lsproj"]
        if projects:
            self.open_project(projects[0])
            return
        clip, dub = sort_dropped(paths, have_clip=self.session.clip is not None)
        if clip:
            self.session.open_clip(clip)
        if dub:
            self.session.open_dub(dub)

    def dragEnterEvent(self, e) -> None:  # noqa: N802
        if e.mimeData().hasUrls():
            e.acceptProposedAction()

    def dropEvent(self, e) -> None:  # noqa: N802
        self.open_paths([u.toLocalFile() for u in e.mimeData().urls() if u.isLocalFile()])

    def open_export(self) -> None:
        """Show the Export dialog."""
        from .export_dialog import ExportDialog

        if self.session.clip is None:
            self.status_line.flash("Open a clip before exporting")
            return
        self.export_dialog = ExportDialog(self.session, self)
        self.export_dialog.open()

    def open_batch(self) -> None:
        """Show the Batch window, with the open clip as the clip to dub."""
        from .batch_window import BatchWindow

        self.batch_window = BatchWindow(self, clip=self.session.clip.path if self.session.clip is not None else None)
        self.batch_window.show()

    def open_models(self) -> None:
        """Show the Models dialog."""
        from .models_dialog import ModelsDialog

        self.models_dialog = ModelsDialog(ModelRegistry(self.settings.models_dir or None), self.session.tasks, self)
        self.models_dialog.open()

    def run(self) -> None:
        """Start a sync (Run button, Ctrl+R)."""
        self.player.stop()
        if self.session.run() is not None:
            self._update_run_state()

    # -- reactions -------------------------------------------------------------------------------------
    def _seek(self, position: int) -> None:
        self.session.seek(position)

    def _step(self, frames: int) -> None:
        self.player.stop()
        self.session.seek(self.session.position + frames)

    def _report_ready(self, result, report) -> None:
        """The result's measures read against real speech: the Result box gets its "before" column and the
        second-by-second strip."""
        from .job_link import result_measures

        self.run_panel.show_measures(result_measures(result, report.before))
        self.run_panel.show_strip(report)
        self.run_panel.strip.set_position(self.session.position)
        self.job_link._reveal.start()  # more rows now: bring the Result box into view again

    def _strip_seek(self, frame: int) -> None:
        self.player.stop()
        self.session.seek(frame)
        if not self.viewer.compare and self.session.result is not None:
            self.viewer_bar.set_mode("result")

    def _position_changed(self, position: int) -> None:
        self.run_panel.strip.set_position(position)
        self.timeline.set_position(position)
        self.transport.set_position(position)
        self.player.set_position(position)

    def _clip_changed(self, info) -> None:
        self._update_title()
        self._layout_from_project = False
        if info is None:  # New Project
            self.status_line.set_clip(None)
            self.transport.set_enabled(False)
            self._forget_result_shown()
            self.viewer.clear()
            self.timeline.set_waveform("clip", None, "No clip: File ▸ Open Clip… (Ctrl+O), or drop one here")
            self.timeline.set_waveform("dub", None, "No dub: File ▸ Open Dub… (Ctrl+Shift+O), or drop one here")
            self._update_run_state()
            return
        self.status_line.set_clip(info)
        self.viewer.pixel_aspect = float(info.sample_aspect)
        self.timeline.set_aspect(info.display_size[0] / max(1, info.height))
        self.timeline.set_waveform("clip", None, "Loading…")
        if self.session.dub is None:
            self.timeline.set_waveform("dub", None, "No dub: File ▸ Open Dub… (Ctrl+Shift+O), or drop one here")
        self.transport.set_enabled(True)
        layout = capabilities.layout_from_name(info.path.name, info.width, info.height)
        self.viewer_bar.set_layout(layout)
        self._layout_changed(layout)
        # Look at the pictures too (a few decodes, in the background).
        self.session.tasks.submit("layout", capabilities.detect_layout, str(info.path))
        self._forget_result_shown()
        self.viewer.clear()  # no frame of the last clip's result may linger in the viewer
        self.viewer.set_fit()
        self.face_view.reset_view()
        self._set_window(None)
        from ..stereo.vr import sphere_window_for

        self.session.tasks.submit("vr", sphere_window_for, str(info.path))
        self._refresh_recent()
        self._update_run_state()
        self._load_play_sound("clip", info.path)

    def _dub_changed(self, dub) -> None:
        self.status_line.set_dub(dub)
        self.transport.set_dub_loaded(dub is not None)
        self.timeline.set_waveform("dub", None, "Loading…" if dub is not None else "No dub: File ▸ Open Dub…")
        self.run_panel.set_dub_streams(dub.streams if dub is not None else (),
                                       dub.audio.stream_index if dub is not None else None)
        self.run_panel.set_dub_channels(dub.audio.channels if dub is not None else 0,
                                        dub is not None and surround_centre(dub.audio.layout),
                                        dub.channels if dub is not None else None)
        if dub is not None:
            self._load_play_sound("dub", dub.path, dub.stream, dub.channels)
        self._forget_result_shown()
        self._refresh_recent()
        self._update_run_state()

    def _dub_stream_chosen(self, stream) -> None:
        try:
            self.session.set_dub_stream(stream)
        except MediaError as exc:  # the file changed under the app
            self.errors.report("Cannot hear that stream of the dub", exc.message, "")

    def _forget_result_shown(self) -> None:
        """A new clip or dub: the Run panel's measures and last job's words belonged to the old one."""
        if not self.session.jobs.busy:
            self.run_panel.reset_result()

    def _result_changed(self, result, stale: bool) -> None:
        self.viewer.result_stale = stale
        self.viewer.update()
        self.viewer_bar.update_availability(stereo=self._stereo, has_result=result is not None)

    def _timeline_changed(self, tl) -> None:
        clip_frames = self.session.clip.n_frames if self.session.clip else 0
        start = self.session.clip.timecode if self.session.clip else None
        self.timeline.set_timeline(tl.n_out, tl.fps, self.session.source_frames(), clip_frames, start)
        self.transport.set_timeline(tl.n_out, tl.fps, start)
        self.transport.set_position(self.session.position)
        self.player.set_timeline(tl.n_out, tl.fps)

    def _waveform_ready(self, role: str, wave) -> None:
        missing = {"clip": "The clip has no sound", "dub": "No dub: File ▸ Open Dub…"}[role]
        self.timeline.set_waveform(role, wave, missing)

    def _offset_changed(self, seconds: float) -> None:
        self.transport.set_offset_ms(round(seconds * 1000))
        self.timeline.set_offset(seconds)
        self.player.offset_s = seconds

    def _marks_changed(self, mark_in, mark_out) -> None:
        from ..app.timecode import format_timecode

        self.timeline.set_marks(mark_in, mark_out)
        fps = self.session.timeline.fps
        if mark_in is None and mark_out is None:
            self.status_line.flash("In and Out cleared: Run syncs the whole timeline")
        else:
            a = format_timecode(mark_in or 0, fps)
            b = "the end" if mark_out is None else format_timecode(mark_out, fps)
            self.status_line.flash(f"Run syncs {a} to {b} only, spliced into the whole clip (Alt+X clears)")

    _stereo = False
    _layout_from_project = False

    def _layout_changed(self, layout: str) -> None:
        self._stereo = layout != "mono"
        self.viewer.set_stereo_layout(layout)
        self.session.set_layout(layout)
        self.run_panel.set_stereo(self._stereo)
        self.viewer_bar.update_availability(stereo=self._stereo, has_result=self.session.result is not None)

    def _mode_changed(self, mode: str) -> None:
        self.viewer.set_mode(mode)
        self.settings.view.mode = mode
        self.session.set_view_mode(mode)

    def _compare_toggled(self, on: bool) -> None:
        self.viewer.set_compare(on)
        self.actions_.compare.blockSignals(True)
        self.actions_.compare.setChecked(on)
        self.actions_.compare.blockSignals(False)

    def _volume_changed(self, volume: float) -> None:
        self.player.volume = volume
        if volume > 0:
            self.settings.view.volume = volume

    def _hear_changed(self, role: str) -> None:
        self.settings.view.hear = role
        self.player.hear = role
        if self.player.playing:
            self.player.play(self.player.speed)

    def _load_play_sound(self, role: str, path: Path, stream: int | None = None, channels=None) -> None:
        self.player.set_sound(role, None)
        if self.player.sound_ok:
            self.session.tasks.submit(f"play:{role}", load_play_audio, str(path), role != "dub", stream, channels)

    def _set_window(self, window) -> None:
        """A VR clip's window into its sphere (or None): the stereo views show it, a drag turns it."""
        self._window = window
        self.session.frames.set_window(window)
        self.viewer.vr_window = window is not None
        self.viewer.vr_mono = window is not None and window.layout == "mono"

    def _look(self, dx: float, dy: float, fov_steps: float) -> None:
        w = getattr(self, "_window", None)
        if w is None:
            return
        if fov_steps:
            w.look(w.yaw, w.pitch, w.fov * (1.1 ** fov_steps))
        else:
            w.drag(dx, dy, 480)
        self.session.frames.request(self.session.position)

    def _task_done(self, key: str, value) -> None:
        if key == "vr":
            self._set_window(value)
            if value is not None:
                self.session.frames.request(self.session.position)
                shows = "the viewer shows" if value.layout == "mono" else "the stereo views show"
                self.status_line.flash(f"VR clip: {shows} a window into it; drag to look around, "
                                       "scroll to change the field of view")
            return
        if key.startswith("play:"):
            self.player.set_sound(key.split(":", 1)[1], value)
        elif key == "layout" and not self._layout_from_project:  # the project's layout was the user's choice
            layout, confidence = value
            current = self.viewer_bar.layout_box.currentData()
            if layout != current and confidence >= 0.6:
                self.viewer_bar.set_layout(layout)
                self._layout_changed(layout)
                label = self.viewer_bar.layout_box.currentText()
                self.status_line.flash(f"Stereo layout detected: {label} (confidence {confidence:.2f}); "
                                       "change it in the Layout box if it is wrong")

    def _probed(self, key: str, value) -> None:
        if key == "sound":
            self.player.set_sound_device(value)
            if value == "":
                for role, src in (("clip", self.session.clip), ("dub", self.session.dub)):
                    if src is not None:
                        self._load_play_sound(role, src.path)
        elif key == "devices":
            self.run_panel.set_devices(value)

    def _probe_failed(self, key: str, message: str, details: str) -> None:
        self.status_line.flash(message)

    def _update_run_state(self) -> None:
        self.job_link.update_state()

    def _refresh_recent(self) -> None:
        a = self.actions_
        a.fill_recent(a.recent_clips, self.settings.recent_clips, self.session.open_clip)
        a.fill_recent(a.recent_dubs, self.settings.recent_dubs, self.session.open_dub)
        a.fill_recent(a.recent_projects, self.settings.recent_projects, self.open_project)

    def _about(self) -> None:
        QMessageBox.about(self, "About Lipsync Studio",
                          f"<b>Lipsync Studio {__version__}</b><br>Lip-sync dubbing for 2D and stereoscopic "
                          "video, with a 3D face mesh for every frame.")

    # -- layout and closing ----------------------------------------------------------------------------
    def _qsettings(self) -> QSettings:
        return QSettings(str(config_dir() / "window.ini"), QSettings.Format.IniFormat)

    def _restore_layout(self) -> None:
        q = self._qsettings()
        geom, state = q.value("geometry"), q.value("state")
        if isinstance(geom, QByteArray):
            self.restoreGeometry(geom)
        else:
            self.resize(1480, 900)
        # Never larger than the screen (a 1280x720 laptop): the Run panel's result must be on it.
        screen = self.screen().availableGeometry() if self.screen() is not None else None
        if screen is not None and (self.width() > screen.width() or self.height() > screen.height()):
            self.resize(min(self.width(), screen.width()), min(self.height(), screen.height()))
        if isinstance(state, QByteArray):
            self.restoreState(state)

    #: Ask before closing while a job runs (tests turn it off).
    confirm_close = True

    def closeEvent(self, event) -> None:  # noqa: N802
        if self.confirm_close and self.session.jobs.busy and self.isVisible():
            task = self.session.jobs.current
            answer = QMessageBox.question(
                self, "A job is running",
                f"{task.name if task else 'A job'} is still running. Cancel it and quit?\n"
                "Nothing it was writing is left behind.")
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        elif self.isVisible() and not self._may_close_project("Quit Lipsync Studio?"):
            event.ignore()
            return
        self.player.stop()
        try:
            q = self._qsettings()
            q.setValue("geometry", self.saveGeometry())
            q.setValue("state", self.saveState())
            q.sync()
            if self._save_settings:
                self.settings.save()
        except OSError:
            pass
        self.shutdown()
        super().closeEvent(event)

    def _keep_for_recovery(self) -> None:
        """Write the open work to this process's recovery file (none when nothing is open)."""
        from ..app.recovery import discard, recovery_file, write_recovery
        from ..errors import OutputError

        if getattr(self, "_shut", False):
            return
        try:
            if self.session.clip is None:
                discard(recovery_file())
            else:
                write_recovery(self.session.to_project(), self.session.project_path)
        except (OSError, OutputError) as exc:  # a full disk: the work goes on, only unkept
            log.warning("cannot keep the open work for recovery: %s", exc)
        except Exception:  # noqa: BLE001 - keeping a copy must never stop the work: logged, not shown
            log.exception("cannot keep the open work for recovery")

    def offer_recovery(self, ask=None, crash_report: Path | None = None) -> bool:
        """If Lipsync Studio closed unexpectedly with work open (its recovery file left behind), ask whether to open
        that work again, and do; True when it is being restored. ``ask(text) -> bool`` replaces the question (tests).
        Older leftovers go. ``crash_report``: the crash trace the last run left, named for a report."""
        from ..app.project import ProjectError, load_project
        from ..app.recovery import discard, left_behind

        report = (f" What it was doing when it ended is in {crash_report} (please attach it to a report)."
                  if crash_report is not None else "")
        found = left_behind()
        if not found:
            if report:
                self.status_line.flash("Lipsync Studio ended unexpectedly last time." + report, 20000)
            return False
        newest, older = found[0], found[1:]
        for p in older:
            discard(p)
        try:
            project, _ = load_project(newest)
        except ProjectError:
            discard(newest)
            return False
        if project.clip is None:
            discard(newest)
            return False
        what = project.clip.name + (f" with {project.dub.name}" if project.dub is not None else "")
        preview = " and its synced preview" if project.previews else ""
        text = (f"Lipsync Studio closed unexpectedly while {what} was open. Open that work again{preview}, as it "
                f"was a few seconds before?{report}")
        if ask is None:
            B = QMessageBox.StandardButton
            box = QMessageBox(QMessageBox.Icon.Question, "Recover your work?", text, B.Yes | B.No, self)
            box.button(B.Yes).setText("Recover")
            box.button(B.No).setText("Discard it")
            box.setDefaultButton(B.Yes)
            yes = box.exec() == B.Yes
        else:
            yes = bool(ask(text))
        if not yes:
            discard(newest)
            return False
        self.player.stop()
        ok = self.session.open_project(newest, recovery=True)
        discard(newest)  # this session keeps its own from now on
        return ok

    def shutdown(self) -> None:
        """Stop every worker thread (idempotent); a clean close leaves no recovery file."""
        if getattr(self, "_shut", False):
            return
        self._shut = True
        self._recovery_timer.stop()
        from ..app.recovery import discard, recovery_file

        discard(recovery_file())
        self.player.stop()
        self.face_view.shutdown()
        stop_worker(self._probe_thread, timeout_ms=30_000)
        self.session.shutdown()
