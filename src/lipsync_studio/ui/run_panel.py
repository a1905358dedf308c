"""The Run panel: what to run (engine, device, face, stereo mode, quality, length policy), Run and Cancel,
progress with frames/s and time left, and the result's measures when the job ends."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QGridLayout, QHBoxLayout, QLabel, QProgressBar,
                               QPushButton, QSizePolicy, QVBoxLayout, QWidget)

from ..job import Progress
from ..settings import RunSettings
from ..app.capabilities import Capabilities
from .theme import COLORS, icon
from .wheel_guard import guard_wheel
from ..app.timecode import format_seconds
from ..app.words import EXTEND as _EXTEND, QUALITY as _QUALITY, SHORTEN as _SHORTEN


def _title(text: str) -> QLabel:
    lab = QLabel(text.upper())
    lab.setObjectName("panelTitle")
    return lab


def _index_of(box: QComboBox, data) -> int:
    """The index of ``box``'s item whose data equals ``data`` (-1: none). By value: ``findData`` compares stored
    Python tuples (a face's ids, a pair of channels) as objects, so a tuple equal to an item's is not found."""
    return next((k for k in range(box.count()) if box.itemData(k) == data), -1)


class RunPanel(QWidget):
    """Signals: ``run_clicked()``, ``cancel_clicked()``, ``options_changed()`` (the ``RunSettings`` given to the
    constructor was updated in place), ``face_changed(track_id: int | None)`` (None: the largest face),
    ``dub_stream_changed(stream: int)`` (the dub's audio stream to hear, for a dub holding several),
    ``dub_channels_changed(channels: tuple[int, ...] | None)`` (its channels to hear, from 1; None: all)."""

    run_clicked = Signal()
    cancel_clicked = Signal()
    options_changed = Signal()
    face_changed = Signal(object)
    dub_stream_changed = Signal(object)
    dub_channels_changed = Signal(object)

    def __init__(self, settings: RunSettings, caps: Capabilities, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.setObjectName("panel")
        col = QVBoxLayout(self)
        col.setContentsMargins(12, 6, 12, 12)
        col.setSpacing(6)

        col.addWidget(_title("Lip sync"))
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        form.setHorizontalSpacing(10)
        form.setVerticalSpacing(6)
        self.engine = QComboBox()
        model = QStandardItemModel(self.engine)
        self.engine.setModel(model)
        for e in caps.engines:
            self.engine.addItem(e.label, e.name)
            item = model.item(self.engine.count() - 1)
            item.setToolTip(e.reason)
            item.setEnabled(e.available)
        self.engine.setToolTip("How the mouth is made to follow the dub")
        form.addRow("Engine", self.engine)
        self.device = QComboBox()
        self.device.addItem("Auto (best available)", "auto")
        self.device.addItem("CPU", "cpu")
        self.device.setToolTip("Where the networks (Wav2Lip) run; GPUs are listed when one is found. Auto: CUDA, "
                               "then Apple, then CPU. The built-in engine has no network and runs on the CPU.")
        form.addRow("Device", self.device)
        self.face = QComboBox()
        self.face.addItem("Largest face", None)
        self.face.setEnabled(False)
        self._face_tip = ("Which face to follow: the faces are listed once they are tracked (3D Face ▸ "
                          "Track Faces)" if caps.face_mesh else caps.face_reason)
        self.face.setToolTip(self._face_tip)
        self.face.currentIndexChanged.connect(lambda i: self.face_changed.emit(self.face.itemData(i)))
        form.addRow("Face", self.face)
        # Shown for a dub holding several audio streams (a delivery's mix, M&E and dialogue).
        self.dub_stream = QComboBox()
        self.dub_stream.setToolTip("Which of the dub file's audio streams the sync hears and the result carries: "
                                   "choose the dialogue")
        self.dub_stream.currentIndexChanged.connect(
            lambda i: self.dub_stream_changed.emit(self.dub_stream.itemData(i)) if i >= 0 else None)
        form.addRow("Dub stream", self.dub_stream)
        # Shown for a stream of more than two channels (a polyphonic file of stems, a surround mix).
        self.dub_channels = QComboBox()
        self.dub_channels.setToolTip("Which channels of the dub's stream the sync hears and the result carries "
                                     "(numbered from 1, as a mixer does): choose the dialogue's")
        self.dub_channels.currentIndexChanged.connect(
            lambda i: self.dub_channels_changed.emit(self.dub_channels.itemData(i)) if i >= 0 else None)
        form.addRow("Dub channels", self.dub_channels)
        self._form = form
        form.setRowVisible(self.dub_stream, False)
        form.setRowVisible(self.dub_channels, False)
        self.stereo = QComboBox()
        smodel = QStandardItemModel(self.stereo)
        self.stereo.setModel(smodel)
        for key, label, tip in (
                ("consistent", "Consistent eyes", "The left eye is synced and the change carried to the right eye "
                                                  "through the pair's disparity (the paper's f_w): the mouth stays "
                                                  "at the right depth"),
                ("independent", "Each eye alone", "Each eye synced on its own (the paper's baseline): the two mouths "
                                                  "may disagree and seem to float"),
                ("cycle", "Cycle model", "The paper's trained stereo cycle model (stereo_cycle.pt, made by "
                                         "`lipsync-studio train stereo`; add it under Models)")):
            self.stereo.addItem(label, key)
            item = smodel.item(self.stereo.count() - 1)
            item.setToolTip(tip)
            if key == "cycle":
                from ..weights import weight_path

                item.setEnabled(weight_path("stereo_cycle") is not None)
        self.stereo.setEnabled(False)
        self.stereo.setToolTip("How a stereo clip's two eyes are synced (for stereo clips: choose the clip's "
                               "layout above the picture)")
        self.stereo.currentIndexChanged.connect(self._store)
        form.addRow("Stereo", self.stereo)
        self.quality = QComboBox()
        for key, label in _QUALITY:
            self.quality.addItem(label, key)
        self.quality.setToolTip("Preview encodes fast for checking; Export always lets you choose the format")
        form.addRow("Quality", self.quality)
        self.measure = QCheckBox("Measure the result's sync")
        self.measure.setToolTip("After the run, track the mouth in the result and correlate it with the dub\n"
                                "(offset and confidence, like SyncNet's LSE-C); one more pass over the result")
        form.addRow("", self.measure)
        col.addLayout(form)

        col.addWidget(_title("Length"))
        form2 = QFormLayout()
        form2.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        form2.setHorizontalSpacing(10)
        self.extend = QComboBox()
        for key, label in _EXTEND:
            self.extend.addItem(label, key)
        self.extend.setToolTip("When the dub is longer than the clip")
        form2.addRow("Dub longer", self.extend)
        self.shorten = QComboBox()
        for key, label in _SHORTEN:
            self.shorten.addItem(label, key)
        self.shorten.setToolTip("When the dub is shorter than the clip")
        form2.addRow("Dub shorter", self.shorten)
        col.addLayout(form2)
        col.addSpacing(8)

        buttons = QHBoxLayout()
        self.run_btn = QPushButton(icon("run"), "  Run")
        self.run_btn.setObjectName("primary")
        self.run_btn.setToolTip("Sync the clip to the dub (Ctrl+R)")
        self.run_btn.clicked.connect(self.run_clicked)
        self.cancel_btn = QPushButton(icon("cancel"), "  Cancel")
        self.cancel_btn.setObjectName("danger")
        self.cancel_btn.setToolTip("Stop the job; nothing is left behind (Esc)")
        self.cancel_btn.clicked.connect(self.cancel_clicked)
        buttons.addWidget(self.run_btn, 2)
        buttons.addWidget(self.cancel_btn, 1)
        col.addLayout(buttons)

        self.stage = QLabel("Open a clip and a dub to run")
        self.stage.setObjectName("hint")
        self.stage.setWordWrap(True)  # a long outcome wraps instead of widening the panel
        col.addWidget(self.stage)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.bar.setFormat("")
        col.addWidget(self.bar)
        stats = QHBoxLayout()
        self.rate = QLabel("")
        self.rate.setObjectName("measure")
        self.eta = QLabel("")
        self.eta.setObjectName("measure")
        self.eta.setAlignment(Qt.AlignmentFlag.AlignRight)
        stats.addWidget(self.rate)
        stats.addWidget(self.eta)
        col.addLayout(stats)

        self.result_title = _title("Result")
        col.addWidget(self.result_title)
        self.measures = QGridLayout()
        self.measures.setHorizontalSpacing(12)
        self.measures.setVerticalSpacing(3)
        holder = QWidget()
        holder.setLayout(self.measures)
        col.addWidget(holder)
        self.result_box = holder
        from .sync_strip import SyncStrip

        self.strip_title = QLabel("Second by second (click to go there)")
        self.strip_title.setObjectName("hint")
        self.strip_title.setWordWrap(True)  # never wider than the panel
        self.strip = SyncStrip()
        self.strip.setToolTip("The mouth's agreement with the dub's phones in each second (lips closing on p/b/m, "
                              "rounding, stillness in pauses); red: weaker than 9 seconds in 10 of real speech")
        col.addWidget(self.strip_title)
        col.addWidget(self.strip)
        self.show_strip(None)
        self.show_measures([])
        col.addStretch(1)

        guard_wheel(self)
        self._load(settings)
        for box in (self.engine, self.device, self.quality, self.extend, self.shorten):
            box.currentIndexChanged.connect(self._store)
        self.measure.toggled.connect(self._store)
        self.set_state(can_run=False, running=False)

    # -- options ---------------------------------------------------------------------------------------
    def _load(self, s: RunSettings) -> None:
        for box, value in ((self.engine, s.engine), (self.device, s.device), (self.quality, s.quality),
                           (self.extend, s.extend), (self.shorten, s.shorten), (self.stereo, s.stereo_mode)):
            i = box.findData(value)
            if i >= 0:
                box.setCurrentIndex(i)
        self.measure.setChecked(s.measure)
        engine_item = self.engine.model().item(self.engine.currentIndex()) if self.engine.count() else None
        if engine_item is not None and not engine_item.isEnabled():  # e.g. Wav2Lip without its weights
            self.engine.setCurrentIndex(max(0, self.engine.findData("auto")))

    def load_settings(self, s: RunSettings) -> None:
        """Show ``s`` (a project's settings, copied into the panel's own) without announcing a change."""
        boxes = (self.engine, self.device, self.quality, self.extend, self.shorten, self.stereo, self.measure)
        for box in boxes:
            box.blockSignals(True)
        try:
            self._load(s)
        finally:
            for box in boxes:
                box.blockSignals(False)

    def select_face(self, track_id) -> None:
        """Choose the face ``track_id`` (an id, ids of one person, or None: the largest) in the Face box (when it is
        listed) without announcing it."""
        i = _index_of(self.face, track_id)
        if i >= 0:
            self.face.blockSignals(True)
            self.face.setCurrentIndex(i)
            self.face.blockSignals(False)

    def _store(self) -> None:
        s = self.settings
        s.engine = self.engine.currentData()
        s.device = self.device.currentData()
        s.quality = self.quality.currentData()
        s.extend = self.extend.currentData()
        s.shorten = self.shorten.currentData()
        s.measure = self.measure.isChecked()
        s.stereo_mode = self.stereo.currentData()
        self.options_changed.emit()

    _stereo_clip = False

    def set_stereo(self, stereo: bool) -> None:
        """The clip is stereo (the Stereo box applies) or 2D."""
        self._stereo_clip = stereo
        self.stereo.setEnabled(stereo)
        self.measure.setEnabled(not stereo)
        self.measure.setToolTip("After the run, track the mouth in the result and correlate it with the dub"
                                if not stereo else "Not measured for stereo clips yet (use the command line's "
                                                   "eval --stereo)")

    def set_faces(self, faces: list[tuple[object, str]]) -> None:
        """List the tracked faces (``(track id, label)``, largest first, then pairs of ids to sync as one person);
        empty: not tracked yet."""
        self.face.blockSignals(True)
        self.face.clear()
        self.face.addItem("Largest face", None)
        for tid, label in faces:
            self.face.addItem(label, tid)
            if isinstance(tid, tuple):
                self.face.setItemData(self.face.count() - 1, "One person the tracker saw as two faces (other shots, "
                                      "another framing): both are synced in one run", Qt.ItemDataRole.ToolTipRole)
        self.face.blockSignals(False)
        self.face.setEnabled(len(faces) > 1)
        self.face.setToolTip(self._face_tip if not faces else
                             "Only one face in this clip" if len(faces) == 1 else "Which face to follow")

    def set_dub_streams(self, streams, heard: int | None) -> None:
        """List the dub's audio streams (``AudioInfo`` each; the box shows only for two or more) with ``heard``
        (a stream index) chosen, without announcing it."""
        self.dub_stream.blockSignals(True)
        self.dub_stream.clear()
        for a in streams:
            self.dub_stream.addItem(f"#{a.stream_index} {a.label or f'({a.summary})'}", a.stream_index)
            self.dub_stream.setItemData(self.dub_stream.count() - 1, f"Stream #{a.stream_index}: {a.summary}",
                                        Qt.ItemDataRole.ToolTipRole)
        self.dub_stream.setCurrentIndex(max(0, self.dub_stream.findData(heard)))
        self.dub_stream.blockSignals(False)
        self._form.setRowVisible(self.dub_stream, len(streams) > 1)

    def set_dub_channels(self, count: int, surround: bool, heard) -> None:
        """Offer the channels of the dub's stream (``count`` of them; the box shows only for more than two):
        all (a ``surround`` mix: heard from its centre), each alone, each pair; ``heard`` (a tuple, None: all)
        chosen, without announcing it."""
        box = self.dub_channels
        box.blockSignals(True)
        box.clear()
        box.addItem("All (the centre heard)" if surround else "All, mixed", None)
        for c in range(1, count + 1):
            box.addItem(f"{c}", (c,))
        for c in range(1, count, 2):
            box.addItem(f"{c}-{c + 1}", (c, c + 1))
        i = _index_of(box, tuple(heard) if heard else None)
        if heard and i < 0:  # a choice the list does not offer (a project's, made by hand)
            box.addItem(", ".join(map(str, heard)), tuple(heard))
            i = box.count() - 1
        box.setCurrentIndex(max(0, i))
        box.blockSignals(False)
        self._form.setRowVisible(box, count > 2)

    def set_devices(self, devices: list[tuple[str, str]]) -> None:
        """Offer the compute devices found (``(key, label)``)."""
        current = self.settings.device
        self.device.blockSignals(True)
        self.device.clear()
        for key, label in devices:
            self.device.addItem(label, key)
        i = self.device.findData(current)
        self.device.setCurrentIndex(max(0, i))
        self.device.blockSignals(False)

    # -- state -----------------------------------------------------------------------------------------
    def set_state(self, *, can_run: bool, running: bool, why: str = "") -> None:
        """Enable Run/Cancel for the situation; ``why`` explains a disabled Run."""
        self.run_btn.setEnabled(can_run and not running)
        self.run_btn.setToolTip("Sync the clip to the dub (Ctrl+R)" if can_run else why)
        self.cancel_btn.setEnabled(running)
        for box in (self.engine, self.device, self.quality, self.extend, self.shorten, self.dub_stream,
                    self.dub_channels):
            box.setEnabled(not running)
        self.measure.setEnabled(not running and not self._stereo_clip)
        self.stereo.setEnabled(not running and self._stereo_clip)
        self.face.setEnabled(not running and self.face.count() > 2)
        if not running and self.bar.maximum() == 1 and self.bar.value() == 0:
            self.stage.setText(why if not can_run else "Ready: press Run to sync the clip to the dub")

    def job_started(self, name: str) -> None:
        """A job began."""
        self.stage.setText(f"{name}: starting…")
        self.bar.setRange(0, 0)
        self.bar.setStyleSheet("")
        self.rate.setText("")
        self.eta.setText("")

    def show_strip(self, report) -> None:
        """Show the sync over time of a ``ResultReport`` (None: hide it)."""
        self.strip.set_report(report)
        self.strip_title.setVisible(report is not None and len(report.after_per_second) > 0)
        if report is not None:
            weak = report.weak_seconds()
            self.strip_title.setText("Second by second (click to go there): " + (
                f"{len(weak)} weak second{'s' if len(weak) != 1 else ''}" if weak else "no weak second"))

    def reset_result(self) -> None:
        """Forget the last job's outcome and measures (another clip or dub was opened)."""
        self.show_measures([])
        self.show_strip(None)
        self.bar.setStyleSheet("")
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.bar.setFormat("")
        self.rate.setText("")
        self.eta.setText("")
        self.stage.setText("")

    def show_progress(self, p: Progress) -> None:
        """Show a progress event."""
        label = p.message or p.stage
        self.stage.setText(f"Step {p.stage_index + 1} of {p.n_stages}: {label}")
        if p.total > 0:
            self.bar.setRange(0, p.total)
            self.bar.setValue(min(p.done, p.total))
            self.bar.setFormat(f"{p.done} / {p.total}  (%p%)")
        else:
            self.bar.setRange(0, 0)
        self.rate.setText(f"{p.rate:.1f} frames/s" if p.rate > 0 and p.total > 1 else "")
        # The whole job's time left (every step after this one too); this step's alone says too little.
        left = p.job_eta_s
        self.eta.setText(f"about {format_seconds(left)} left in all" if left is not None and p.total > 1 else "")
        self.eta.setToolTip("For the whole job, every step after this one included; it firms up as steps finish")

    def job_ended(self, text: str, ok: bool, keep_rate: bool = False, warning: str = "") -> None:
        """The job finished (``ok``), was cancelled or failed; ``text`` says which. ``keep_rate`` leaves the last
        frames/s shown (a render's speed is worth knowing; a cached analysis's is not). ``warning``: the job ran
        to its end but did not do what was asked (the bar says it instead of "Done")."""
        self.stage.setText(text)
        if not keep_rate:
            self.rate.setText("")
        self.bar.setRange(0, 1)
        self.bar.setValue(1 if ok else 0)
        self.bar.setFormat(warning or ("Done" if ok else ""))
        # A run that did not do what was asked is not painted like a success.
        self.bar.setStyleSheet(f"QProgressBar::chunk {{ background: {COLORS['warn']}; }}" if warning else "")
        self.eta.setText("")

    def show_measures(self, rows: list[tuple]) -> None:
        """Show the result's measures as ``(name, value, tooltip)`` rows, or ``(name, value, tooltip, verdict,
        before)`` for a measure read against real speech (``verdict``: a ``Verdict`` or None, shown under it in
        its colour; ``before``: the same measure of the clip's own mouth, "" when not known). Empty: a hint."""
        while self.measures.count():
            w = self.measures.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        if not rows:
            hint = QLabel("Run to see the result's measures")
            hint.setObjectName("hint")
            self.measures.addWidget(hint, 0, 0, 1, 3)
            return
        colours = {"good": COLORS["ok"], "fair": COLORS["warn"], "weak": COLORS["bad"]}
        has_before = any(len(row) > 4 and row[4] for row in rows)
        r = 0
        if has_before:
            for c, text in ((1, "now"), (2, "before")):
                h = QLabel(text)
                h.setObjectName("hint")
                h.setAlignment(Qt.AlignmentFlag.AlignRight)
                h.setToolTip("before: the clip's own mouth re-timed to the dub (what syncing nothing gives)")
                self.measures.addWidget(h, r, c)
            r += 1
        for row in rows:
            name, value, tip = row[:3]
            verdict = row[3] if len(row) > 3 else None
            before = row[4] if len(row) > 4 else ""
            a, b = QLabel(name), QLabel(value)
            a.setObjectName("hint")
            b.setObjectName("measure")
            b.setAlignment(Qt.AlignmentFlag.AlignRight)
            for w in (a, b):
                w.setToolTip(tip)
            self.measures.addWidget(a, r, 0)
            # A fact (no verdict) may be long ("Built-in (no weights)"): it takes the before column too.
            self.measures.addWidget(b, r, 1, 1, 1 if len(row) > 3 else 2)
            if before:
                c = QLabel(before)
                c.setObjectName("hint")
                c.setAlignment(Qt.AlignmentFlag.AlignRight)
                c.setToolTip("The same measure of the clip's own mouth re-timed to the dub (before the sync)")
                self.measures.addWidget(c, r, 2)
            r += 1
            if verdict is not None:
                v = QLabel(verdict.text)
                v.setWordWrap(True)
                v.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
                v.setToolTip(tip)
                v.setStyleSheet(f"color: {colours.get(verdict.level, COLORS['dim'])}; font-size: 11px; "
                                "padding-left: 8px;")
                self.measures.addWidget(v, r, 0, 1, 3)
                r += 1
