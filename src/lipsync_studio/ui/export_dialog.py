"""Export: a 2D video (codec and quality of choice), a stereo video, or an OBJ sequence; progress, Cancel,
and "Show in Folder" when done. The job runs in the session's job worker, like Run."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDoubleSpinBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel,
                               QLineEdit, QMessageBox, QProgressBar, QPushButton, QRadioButton, QSpinBox, QTabWidget,
                               QToolButton, QVBoxLayout, QWidget)

from ..job import Progress
from ..media.writer import CONTAINERS, MASTER_CODECS, VideoFormat
from ..app.jobs import JobTask
from .session import Session
from .theme import icon
from .wheel_guard import guard_wheel
from ..app.timecode import format_seconds
from ..app.export import default_export_name
from ..app.words import engine_label, extend_label, shorten_label, stereo_mode_label

_CODEC_LABELS = {"h264": "H.264 (plays everywhere)", "hevc": "HEVC / H.265 (smaller)", "vp9": "VP9",
                 "prores": "ProRes 422 HQ (editing)", "dnxhr": "DNxHR HQ (Avid editing)"}
_PRESETS = ("ultrafast", "veryfast", "fast", "medium", "slow", "veryslow")


class ExportDialog(QDialog):
    """The Export dialog for ``session``. ``task`` is the running or last export job."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.settings = session.settings
        self.task: JobTask | None = None
        self.output: Path | None = None
        self.setWindowTitle("Export")
        self.setMinimumWidth(660)  # four tabs side by side
        col = QVBoxLayout(self)
        col.setContentsMargins(16, 14, 16, 14)
        col.setSpacing(10)

        self.tabs = QTabWidget()
        self.tabs.addTab(self._video_tab(), icon("clip"), "2D Video")
        self.tabs.addTab(self._stereo_tab(), icon("side_by_side"), "Stereo Video")
        self.tabs.addTab(self._obj_tab(), icon("mesh"), "OBJ Sequence")
        self.tabs.addTab(self._face_video_tab(), icon("mesh"), "3D Face Video")
        caps = parent.caps if parent is not None and hasattr(parent, "caps") else None
        stereo_ok = session.layout != "mono" and session.dub is not None
        obj_ok = bool(caps and caps.obj_export)
        self.tabs.setTabEnabled(1, stereo_ok)
        self.tabs.setTabToolTip(1, "Both eyes, synced and kept a valid pair, in the layout of your choice"
                                if stereo_ok else "For a stereo clip with a dub: choose the clip's layout above "
                                                  "the picture")
        self.tabs.setTabEnabled(2, obj_ok)
        self.tabs.setTabToolTip(2, "The speaker's 3D face, one OBJ mesh per frame (Blender, MeshLab, Houdini)"
                                if obj_ok else (caps.face_reason if caps else "OBJ export is not available"))
        self.tabs.setTabEnabled(3, obj_ok)
        self.tabs.setTabToolTip(3, "The speaker's 3D face rendered as a video with the sound, from any angle"
                                if obj_ok else (caps.face_reason if caps else "The 3D face is not available"))
        has_dub = session.dub is not None
        self.tabs.setTabEnabled(0, has_dub)
        self.tabs.setTabToolTip(0, "The clip synced to the dub" if has_dub else "Open a dub to export a synced video")
        if not has_dub and obj_ok:
            self.tabs.setCurrentIndex(2)
        self.tabs.currentChanged.connect(lambda i: self._suggest_path())
        col.addWidget(self.tabs)

        out_row = QHBoxLayout()
        out_row.addWidget(QLabel("Save as"))
        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("Choose where to write the file")
        out_row.addWidget(self.path_edit, 1)
        browse = QToolButton()
        browse.setIcon(icon("folder"))
        browse.setToolTip("Choose a file…")
        browse.clicked.connect(self._browse)
        out_row.addWidget(browse)
        col.addLayout(out_row)

        self.source = QLabel("")
        self.source.setObjectName("hint")
        self.source.setWordWrap(True)
        col.addWidget(self.source)
        self.status = QLabel("")
        self.status.setObjectName("hint")
        self.status.setWordWrap(True)
        col.addWidget(self.status)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.bar.hide()
        col.addWidget(self.bar)

        buttons = QHBoxLayout()
        self.show_btn = QPushButton(icon("folder"), "  Show in Folder")
        self.show_btn.clicked.connect(self.show_in_folder)
        self.show_btn.hide()
        buttons.addWidget(self.show_btn)
        buttons.addStretch(1)
        self.cancel_btn = QPushButton("Cancel Export")
        self.cancel_btn.setObjectName("danger")
        self.cancel_btn.clicked.connect(self.session.cancel)
        self.cancel_btn.hide()
        buttons.addWidget(self.cancel_btn)
        self.close_btn = QPushButton("Close")
        self.close_btn.clicked.connect(self.reject)
        buttons.addWidget(self.close_btn)
        self.export_btn = QPushButton(icon("export"), "  Export")
        self.export_btn.setObjectName("primary")
        self.export_btn.setDefault(True)
        self.export_btn.clicked.connect(self.start)
        buttons.addWidget(self.export_btn)
        col.addLayout(buttons)

        w = session.jobs
        w.progress.connect(self._progress)
        w.finished.connect(self._finished)
        w.cancelled.connect(self._cancelled)
        w.errored.connect(self._errored)
        guard_wheel(self)
        for box in (self.codec, self.preset, self.pix_fmt):
            box.currentIndexChanged.connect(lambda _: self._update_source())
        self.crf.valueChanged.connect(lambda _: self._update_source())
        self.path_edit.textChanged.connect(lambda _: self._update_source())
        self._suggest_path()

    # -- tabs ------------------------------------------------------------------------------------------
    def _video_tab(self) -> QWidget:
        e = self.settings.export
        page = QWidget()
        form = QFormLayout(page)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        r = self.settings.run
        what = QLabel(f"The clip synced to the dub with the Run panel's choices (Engine: {engine_label(r.engine)}; "
                      f"Dub longer: {extend_label(r.extend)}; Dub shorter: {shorten_label(r.shorten)}), encoded as "
                      "below.")
        what.setObjectName("hint")
        what.setWordWrap(True)
        form.addRow(what)
        self.container = QComboBox()
        for ext in CONTAINERS:
            self.container.addItem(ext.lstrip(".").upper(), ext)
        self.container.setCurrentIndex(max(0, self.container.findData(e.container)))
        self.container.currentIndexChanged.connect(self._container_changed)
        form.addRow("Container", self.container)
        self.codec = QComboBox()
        form.addRow("Codec", self.codec)
        self.crf = QSpinBox()
        self.crf.setRange(0, 51)
        self.crf.setValue(e.crf)
        self.crf.setToolTip("Constant quality: lower is better. 18 (the default) is visually lossless for H.264 and\n"
                            "keeps the picture's grain; 23 is a typical web quality. (ProRes and DNxHR have\n"
                            "their own fixed quality.)")
        form.addRow("Quality (CRF)", self.crf)
        self.preset = QComboBox()
        self.preset.addItems(_PRESETS)
        self.preset.setCurrentText(e.preset if e.preset in _PRESETS else "medium")
        self.preset.setToolTip("Encoder speed: slower makes smaller files at the same quality")
        form.addRow("Speed", self.preset)
        self.pix_fmt = QComboBox()
        self.pix_fmt.addItem("4:2:0 (plays everywhere)", "yuv420p")
        self.pix_fmt.addItem("4:4:4 (full colour)", "yuv444p")
        self.pix_fmt.setCurrentIndex(max(0, self.pix_fmt.findData(e.pix_fmt)))
        form.addRow("Colour", self.pix_fmt)
        s = self.session
        marked = s.mark_in is not None or s.mark_out is not None
        self.range_only = QCheckBox("In to Out only: the range alone, not spliced into the whole clip")
        self.range_only.setEnabled(marked)
        self.range_only.setToolTip("Writes only the frames between the In and Out marks, with their stretch of the "
                                   "dub" if marked else "Set In and Out on the timeline first (I, O)")
        self.range_only.toggled.connect(lambda _: self._update_source())
        form.addRow("Range", self.range_only)
        self.with_timeline = QCheckBox("Also write a timeline for editing software (.otio beside the video)")
        self.with_timeline.setToolTip("An OpenTimelineIO timeline with the video at its place on the clip's "
                                      "timeline: Resolve, Premiere and Avid import it through OTIO")
        form.addRow("Timeline", self.with_timeline)
        self.codec.currentIndexChanged.connect(lambda _: self._codec_changed())
        self._container_changed()
        i = self.codec.findData(e.codec)
        if i >= 0:
            self.codec.setCurrentIndex(i)
        self._codec_changed()
        return page

    def _codec_changed(self) -> None:
        """Quality, speed and chroma are the delivery codecs' knobs: a master codec (ProRes, DNxHR) has its own
        fixed quality and 4:2:2 colour, so they are greyed out for it."""
        master = self.codec.currentData() in MASTER_CODECS
        for w in (self.crf, self.preset, self.pix_fmt):
            w.setEnabled(not master)

    def _stereo_tab(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        self.stereo_layout = QComboBox()
        for key, label in (("same", "Same as the clip (a VR180/360 clip stays one, with its metadata)"),
                           ("sbs", "Side-by-side, full (VR players; named *_LRF_Full_SBS)"),
                           ("half-sbs", "Side-by-side, half (3D TVs)"), ("tb", "Top-bottom, full"),
                           ("half-tb", "Top-bottom, half (3D TVs)"), ("anaglyph", "Red-cyan anaglyph (Dubois)"),
                           ("separate", "Two files, one per eye (_L, _R)")):
            self.stereo_layout.addItem(label, key)
        self.stereo_layout.setCurrentIndex(max(0, self.stereo_layout.findData(self.settings.export.stereo_layout)))
        self.stereo_layout.currentIndexChanged.connect(lambda _: self._suggest_path())
        form.addRow("Layout", self.stereo_layout)
        note = QLabel(f"The eyes are synced with the Run panel's Stereo choice ("
                      f"{stereo_mode_label(self.settings.run.stereo_mode)}); codec and quality as on the "
                      "2D Video page (4:4:4 colour keeps an anaglyph's red and cyan apart).")
        note.setObjectName("hint")
        note.setWordWrap(True)
        form.addRow("", note)
        return page

    def _obj_tab(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        rng = QHBoxLayout()
        duration = self.session.clip.duration if self.session.clip is not None else 0.0
        self.obj_from = QDoubleSpinBox()
        self.obj_to = QDoubleSpinBox()
        for box, value in ((self.obj_from, 0.0), (self.obj_to, duration)):
            box.setRange(0.0, duration)
            box.setDecimals(2)
            box.setSuffix(" s")
            box.setValue(value)
        rng.addWidget(self.obj_from)
        rng.addWidget(QLabel("to"))
        rng.addWidget(self.obj_to)
        rng.addStretch(1)
        form.addRow("Range", rng)
        self.obj_face = self._face_choice()
        form.addRow("Face of", self.obj_face)
        self.obj_texture = QRadioButton("Texture (image per frame)")
        self.obj_colours = QRadioButton("Vertex colours")
        self.obj_texture.setChecked(self.settings.export.obj_colours == "texture")
        self.obj_colours.setChecked(self.settings.export.obj_colours != "texture")
        form.addRow("Colour", self.obj_texture)
        form.addRow("", self.obj_colours)
        note = QLabel("One folder: frame_000001.obj … with .mtl and textures, and sequence.json (frame rate, "
                      "head pose, which face: synced or original).\nThe face is the one chosen in the Run "
                      "panel's Face box.")
        note.setObjectName("hint")
        note.setWordWrap(True)
        form.addRow("", note)
        return page

    def _face_choice(self) -> QComboBox:
        """Synced result or original clip; the synced face only when an up-to-date result exists."""
        box = QComboBox()
        box.addItem("Synced result (the mouth says the dub)", "synced")
        box.addItem("Original clip", "original")
        if not self.session.has_fresh_result():  # nothing synced yet (or out of date): the clip's own face
            box.model().item(0).setEnabled(False)
            box.setCurrentIndex(1)
            box.setToolTip("Run the sync first to export the synced face")
        return box

    def _face_video_tab(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        self.f3d_face = self._face_choice()
        form.addRow("Face of", self.f3d_face)
        self.f3d_style, self.f3d_camera, self.f3d_background = QComboBox(), QComboBox(), QComboBox()
        for box, items in ((self.f3d_style, (("Shaded", "shaded"), ("Textured", "textured"),
                                             ("Wireframe", "wireframe"))),
                           (self.f3d_camera, (("Front", "front"), ("From the left", "left"),
                                              ("From the right", "right"), ("Turntable", "turntable"))),
                           (self.f3d_background, (("Dark", "dark"), ("Black", "black"), ("White", "white"),
                                                  ("Green screen", "green")))):
            for label, key in items:
                box.addItem(label, key)
        form.addRow("Style", self.f3d_style)
        form.addRow("Camera", self.f3d_camera)
        form.addRow("Background", self.f3d_background)
        self.f3d_stereo = QCheckBox("Stereo: two eyes side by side (VR players)")
        form.addRow("", self.f3d_stereo)
        note = QLabel("The face's mesh rendered frame by frame at the clip's frame rate, with the sound (the dub "
                      "for the synced face).\nThe face is the one chosen in the Run panel's Face box.")
        note.setObjectName("hint")
        note.setWordWrap(True)
        form.addRow("", note)
        return page

    def _container_changed(self) -> None:
        ext = self.container.currentData()
        current = self.codec.currentData()
        self.codec.clear()
        for c in CONTAINERS[ext]:
            self.codec.addItem(_CODEC_LABELS.get(c, c), c)
        i = self.codec.findData(current)
        self.codec.setCurrentIndex(max(0, i))
        text = self.path_edit.text() if hasattr(self, "path_edit") else ""
        if text:
            self.path_edit.setText(str(Path(text).with_suffix(ext)))

    # -- output ----------------------------------------------------------------------------------------
    def _suggest_path(self) -> None:
        s = self.session
        if s.clip is None:
            return
        folder = Path(self.settings.last_export_dir) if self.settings.last_export_dir else s.clip.path.parent
        dub = s.dub.path if s.dub is not None else None
        if self.tabs.currentIndex() == 2:
            self.path_edit.setText(str(folder / default_export_name(s.clip.path, dub, "obj")))
            return
        if self.tabs.currentIndex() == 3:
            self.path_edit.setText(str(folder / f"{default_export_name(s.clip.path, dub)}_face3d.mp4"))
            return
        if self.tabs.currentIndex() == 1:
            layout = self.stereo_layout.currentData()
            name = default_export_name(s.clip.path, dub, "stereo", s.layout if layout in ("same", "") else layout)
        else:
            name = default_export_name(s.clip.path, dub)
        self.path_edit.setText(str(folder / f"{name}{self.container.currentData()}"))
        self._update_source()

    def _update_source(self) -> None:
        """Say whether Export writes the approved preview or syncs again, and why."""
        if not hasattr(self, "source") or self.tabs.currentIndex() >= 2 or self.session.dub is None:
            if hasattr(self, "source"):
                self.source.setText("")
            return
        layout = self.stereo_layout.currentData() if self.tabs.currentIndex() == 1 else None
        changes = self.session.export_changes(Path(self.path_edit.text() or "x.mp4"), self.video_format(), layout)
        if not changes:
            from ..app.export import same_encoding

            how = ("copied as it is" if same_encoding(self.video_format(), self.session.result_request.options.fmt)
                   and Path(self.path_edit.text()).suffix.lower() == Path(self.session.result.output).suffix
                   else "re-encoded with the settings above; no new sync")
            made = self.session.result_request.options.fmt
            if how != "copied as it is" and self.video_format().crf < made.crf:
                how += (f"; the preview was encoded at CRF {made.crf}, so a lower CRF adds size, not detail: "
                        "Run with Quality “Final (best)” for a finer source")
            if self._range_only():
                how = "the In to Out range cut from it and re-encoded; no new sync"
            self.source.setText(f"Writes the approved preview ({how}).")
        else:
            self.source.setText("Syncs again for the export (" + "; ".join(changes) + ")"
                                + (", then keeps the In to Out range alone." if self._range_only() else "."))

    def _range_only(self) -> bool:
        return self.tabs.currentIndex() == 0 and self.range_only.isChecked() and self.range_only.isEnabled()

    def _browse(self) -> None:
        if self.tabs.currentIndex() == 2:
            path = QFileDialog.getExistingDirectory(self, "Folder for the OBJ sequence", str(Path(self.path_edit.text()).parent))
            if path:
                self.path_edit.setText(str(Path(path) / Path(self.path_edit.text()).name))
            return
        ext = ".mp4" if self.tabs.currentIndex() == 3 else self.container.currentData()
        path, _ = QFileDialog.getSaveFileName(self, "Export video", self.path_edit.text(),
                                              f"{ext.lstrip('.').upper()} video (*{ext})")
        if path:
            if Path(path).suffix.lower() != ext:
                path = str(Path(path).with_suffix(ext))
            self.path_edit.setText(path)

    def video_format(self) -> VideoFormat:
        """The encoder settings chosen on the 2D Video page."""
        return VideoFormat(codec=self.codec.currentData(), crf=self.crf.value(), preset=self.preset.currentText(),
                           pix_fmt=self.pix_fmt.currentData())

    # -- running ---------------------------------------------------------------------------------------
    def start(self) -> bool:
        """Start the export; False (with the reason shown) when it cannot start."""
        text = self.path_edit.text().strip()
        if not text:
            self.status.setText("Choose where to save the video first.")
            return False
        if self.session.jobs.busy:
            self.status.setText("Another job is running; wait for it or cancel it first.")
            return False
        path = Path(text).expanduser()
        if not self._may_write(path):
            self.status.setText("Not exported: choose another name, or allow replacing the file.")
            return False
        e = self.settings.export
        self.settings.last_export_dir = str(path.parent)
        if self.tabs.currentIndex() == 1:
            e.kind, e.stereo_layout = "stereo", self.stereo_layout.currentData()
            task = self.session.export_stereo(path, self.video_format(), self.stereo_layout.currentData())
        elif self.tabs.currentIndex() == 2:
            e.kind, e.obj_colours = "obj", "texture" if self.obj_texture.isChecked() else "vertex"
            start, end = self.obj_from.value(), self.obj_to.value()
            face = self.session.face_id
            task = self.session.export_meshes(path, start, end if end > start else None, face,
                                              self.obj_texture.isChecked(), self.obj_face.currentData() == "synced")
        elif self.tabs.currentIndex() == 3:
            from ..face.render3d import ViewOptions, parse_color

            view = ViewOptions(style=self.f3d_style.currentData(), camera=self.f3d_camera.currentData(),
                               background=parse_color(self.f3d_background.currentData()),
                               stereo=self.f3d_stereo.isChecked())
            face = self.session.face_id
            task = self.session.export_face_video(path, view, face, self.f3d_face.currentData() == "synced")
        else:
            e.kind = "video"
            e.container, e.codec, e.crf = self.container.currentData(), self.codec.currentData(), self.crf.value()
            e.preset, e.pix_fmt = self.preset.currentText(), self.pix_fmt.currentData()
            otio = path.with_suffix(".otio") if self.with_timeline.isChecked() else None
            task = self.session.export_video(path, self.video_format(), range_only=self._range_only(),
                                             timeline=otio)
        if task is None:
            self.status.setText("Open a clip and a dub first.")
            return False
        self.task = task
        self.output = task.output
        self.show_btn.hide()
        self.bar.show()
        self.bar.setRange(0, 0)
        self.status.setText(f"Exporting to {Path(task.output).name}… " + self.source.text())
        self.export_btn.setEnabled(False)
        self.cancel_btn.show()
        self.tabs.setEnabled(False)
        return True

    def _targets(self, path: Path) -> list[Path]:
        """The files (or the folder) an export to ``path`` on the current page writes."""
        if self.tabs.currentIndex() == 1:
            from ..stereo.writer import stereo_output_paths

            layout = self.stereo_layout.currentData()
            if layout in ("same", ""):
                return stereo_output_paths(path, self.session.layout, vr_name=False)
            return stereo_output_paths(path, layout, vr_name=True)
        if self.tabs.currentIndex() == 0 and self.with_timeline.isChecked():
            return [path, path.with_suffix(".otio")]
        return [path]

    def _may_write(self, path: Path) -> bool:
        """Ask before replacing what is there; True when nothing is there or the user said yes."""
        there = [p for p in self._targets(path) if p.is_file() or (p.is_dir() and any(p.iterdir()))]
        if not there:
            return True
        names = "\n".join(str(p) for p in there)
        box = QMessageBox(QMessageBox.Icon.Question, "Replace?",
                          f"{'These files exist' if len(there) > 1 else 'This file exists'} already:\n{names}\n\n"
                          "Replace with the export?", QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                          self)
        box.setDefaultButton(QMessageBox.StandardButton.No)
        box.button(QMessageBox.StandardButton.Yes).setText("Replace")
        box.button(QMessageBox.StandardButton.No).setText("Keep it")
        self.overwrite_box = box
        return box.exec() == QMessageBox.StandardButton.Yes

    def _mine(self) -> bool:
        return self.task is not None and self.session.jobs.current is self.task

    def _progress(self, p: Progress) -> None:
        if not self._mine():
            return
        if p.total > 0:
            self.bar.setRange(0, p.total)
            self.bar.setValue(min(p.done, p.total))
            self.bar.setFormat(f"{p.stage}: {p.done} / {p.total}")
        eta = f", about {format_seconds(p.job_eta_s)} left" if p.job_eta_s is not None and p.total > 1 else ""
        rate = f" at {p.rate:.1f} frames/s" if p.rate > 0 and p.total > 1 else ""
        self.status.setText(f"Exporting to {self.output.name}{rate}{eta}")

    def _done(self, text: str, ok: bool) -> None:
        self.status.setText(text)
        self.bar.setRange(0, 1)
        self.bar.setValue(1 if ok else 0)
        self.bar.setFormat("Done" if ok else "")
        self.export_btn.setEnabled(True)
        self.cancel_btn.hide()
        self.tabs.setEnabled(True)
        self.show_btn.setVisible(ok)

    def _finished(self, result: object) -> None:
        if self._mine():
            if getattr(result, "videos", ()) and getattr(result, "folder", 1) is None:  # a 3D face video
                self.output = Path(result.videos[0])
                self._done(f"Exported {', '.join(p.name for p in result.videos)} ({result.frames} frames of the "
                           f"3D face).", True)
                return
            if hasattr(result, "folder"):  # an OBJ sequence
                self.output = Path(result.folder) / "sequence.json"
                self._done(f"Exported {result.frames} meshes to {Path(result.folder).name} "
                           f"(the face was measured in {result.measured} of them).", True)
                return
            self.output = Path(getattr(result, "output", self.output))
            names = ", ".join(p.name for p in getattr(result, "outputs", (self.output,)))
            otio = self.output.with_suffix(".otio")
            also = f" and the timeline {otio.name}" if self.with_timeline.isChecked() and otio.is_file() else ""
            self._done(f"Exported {names} ({format_seconds(getattr(result, 'duration', 0.0))}){also}.", True)

    def _cancelled(self) -> None:
        if self._mine():
            self._done("Export cancelled; nothing was written.", False)

    def _errored(self, message: str, details: str) -> None:
        if self._mine():
            self._done(f"Export failed: {message}", False)

    def show_in_folder(self) -> None:
        """Open the exported file's folder in the file manager."""
        if self.output is not None and not QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.output.parent))):
            # No file manager here (a bare desktop, a remote session): say where it is, ready to paste.
            from PySide6.QtWidgets import QApplication

            QApplication.clipboard().setText(str(self.output))
            self.status.setText(f"No file manager could be opened. The export is at {self.output} "
                                "(the path is on the clipboard).")

    def reject(self) -> None:  # noqa: D102 - closing while exporting cancels nothing: ask first
        if self._mine() and self.session.jobs.busy:
            self.status.setText("The export is still running: cancel it first, or wait.")
            return
        super().reject()
