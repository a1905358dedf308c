"""The transport bar: play/pause and frame steps, the time code, what you hear, the dub offset.

J/K/L and the arrow keys are the window's shortcuts (see :mod:`.main_window`); these buttons do the same.
"""

from __future__ import annotations

from fractions import Fraction

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QLineEdit, QSizePolicy, QSlider, QSpinBox,
                               QToolButton, QWidget)

from .theme import icon
from .wheel_guard import guard_wheel
from ..app.timecode import clip_timecode, format_timecode, parse_timecode


def _button(icon_name: str, tip: str, name: str = "transport", checkable: bool = False) -> QToolButton:
    b = QToolButton()
    b.setIcon(icon(icon_name))
    b.setToolTip(tip)
    b.setObjectName(name)
    b.setCheckable(checkable)
    b.setAutoRaise(True)
    return b


class TransportBar(QWidget):
    """Signals: ``play_toggled(playing: bool)``, ``step(frames: int)``, ``to_start()``, ``to_end()``,
    ``seek(position: int)`` (a typed time code), ``offset_changed(ms: int)``, ``hear_changed(source: str)``
    (``"dub"`` or ``"clip"``), ``volume_changed(volume: float)`` (0..1, 0 when muted), ``loop_toggled(on: bool)``,
    ``note(text: str)`` (a typed time code was unreadable, or clamped to the timeline)."""

    play_toggled = Signal(bool)
    step = Signal(int)
    to_start = Signal()
    to_end = Signal()
    seek = Signal(int)
    offset_changed = Signal(int)
    hear_changed = Signal(str)
    volume_changed = Signal(float)
    loop_toggled = Signal(bool)
    note = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("panel")
        self.fps: Fraction = Fraction(25)
        #: The clip's own time code of its first frame (its tmcd), or None: positions are shown from it.
        self.start_tc: str | None = None
        self.n_frames = 0
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 6, 8, 6)
        row.setSpacing(4)

        self.start_btn = _button("to_start", "Go to start (Home)")
        self.back_btn = _button("step_back", "Previous frame (←)")
        self.play_btn = _button("play", "Play / pause (Space, or J K L)", name="play", checkable=True)
        self.fwd_btn = _button("step_forward", "Next frame (→)")
        self.end_btn = _button("to_end", "Go to end (End)")
        self.loop_btn = _button("loop", "Loop playback", checkable=True)
        self.start_btn.clicked.connect(self.to_start)
        self.back_btn.clicked.connect(lambda: self.step.emit(-1))
        self.fwd_btn.clicked.connect(lambda: self.step.emit(1))
        self.end_btn.clicked.connect(self.to_end)
        self.play_btn.toggled.connect(self._play_toggled)
        self.loop_btn.toggled.connect(self.loop_toggled)
        for b in (self.start_btn, self.back_btn, self.play_btn, self.fwd_btn, self.end_btn):
            row.addWidget(b)
        row.addSpacing(4)
        row.addWidget(self.loop_btn)
        row.addSpacing(10)

        self.timecode = QLineEdit(format_timecode(0, self.fps))
        self.timecode.setObjectName("timecode")
        self.timecode.setToolTip("Current time code (HH:MM:SS:FF). Type a time code, a frame number\n"
                                 "or seconds (4.5s) and press Enter to go there.")
        self.timecode.setFixedWidth(150)
        self.timecode.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.timecode.returnPressed.connect(self._typed)
        row.addWidget(self.timecode)
        self.duration = QLabel("/ 00:00:00:00")
        self.duration.setObjectName("timecodeSmall")
        self.duration.setToolTip("Duration of the timeline (the output's length once a dub is loaded)")
        row.addWidget(self.duration)
        row.addSpacing(8)
        self.frame_label = QLabel("")
        self.frame_label.setObjectName("timecodeSmall")
        self.frame_label.setMinimumWidth(120)
        row.addWidget(self.frame_label)
        self.speed_label = QLabel("")
        self.speed_label.setObjectName("badgeAccent")
        self.speed_label.hide()
        row.addWidget(self.speed_label)

        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        row.addWidget(spacer)

        lab = QLabel("Dub offset")
        lab.setObjectName("hint")
        row.addWidget(lab)
        self.offset = QSpinBox()
        self.offset.setRange(-10_000, 10_000)
        self.offset.setSingleStep(10)
        self.offset.setSuffix(" ms")
        self.offset.setToolTip("Shift the dub against the picture: positive starts it later.\n"
                               "You can also drag the dub's lane in the timeline.")
        self.offset.setFixedWidth(100)
        self.offset.valueChanged.connect(self.offset_changed)
        row.addWidget(self.offset)
        self.offset_reset = _button("reset_view", "Reset the dub offset to 0 ms")
        self.offset_reset.clicked.connect(lambda: self.offset.setValue(0))
        row.addWidget(self.offset_reset)
        row.addSpacing(12)

        lab = QLabel("Hear")
        lab.setObjectName("hint")
        row.addWidget(lab)
        self.hear = QComboBox()
        self.hear.addItem("Dub", "dub")
        self.hear.addItem("Clip sound", "clip")
        self.hear.setToolTip("Which sound plays with the picture")
        self.hear.currentIndexChanged.connect(lambda i: self.hear_changed.emit(self.hear.itemData(i)))
        row.addWidget(self.hear)
        self.mute_btn = _button("volume", "Mute", checkable=True)
        self.mute_btn.toggled.connect(self._mute_toggled)
        row.addWidget(self.mute_btn)
        self.volume = QSlider(Qt.Orientation.Horizontal)
        self.volume.setRange(0, 100)
        self.volume.setValue(80)
        self.volume.setFixedWidth(80)
        self.volume.setToolTip("Volume")
        self.volume.valueChanged.connect(lambda v: self.volume_changed.emit(0.0 if self.mute_btn.isChecked() else v / 100))
        row.addWidget(self.volume)
        guard_wheel(self)
        self.set_enabled(False)

    # -- state -----------------------------------------------------------------------------------------
    def set_enabled(self, on: bool) -> None:
        """Enable the controls (a clip is open)."""
        for w in (self.start_btn, self.back_btn, self.play_btn, self.fwd_btn, self.end_btn, self.loop_btn,
                  self.timecode):
            w.setEnabled(on)

    def set_dub_loaded(self, on: bool) -> None:
        """Enable the dub offset (a dub is loaded)."""
        self.offset.setEnabled(on)
        self.offset_reset.setEnabled(on)

    def set_timeline(self, n_frames: int, fps: Fraction, start: str | None = None) -> None:
        """Length and rate of the timeline; ``start``: the clip's own time code, counted from (else 00:00:00:00)."""
        self.n_frames, self.fps, self.start_tc = n_frames, Fraction(fps), start
        self.duration.setText("/ " + format_timecode(n_frames, fps))

    def set_position(self, position: int) -> None:
        """Show ``position`` (unless the user is typing a time code)."""
        if not self.timecode.hasFocus():
            self.timecode.setText(clip_timecode(position, self.fps, self.start_tc))
        self.frame_label.setText(f"frame {position + 1} of {self.n_frames}" if self.n_frames else "")

    def set_playing(self, playing: bool, speed: float = 1.0) -> None:
        """Reflect the player's state (without emitting ``play_toggled``)."""
        self.play_btn.blockSignals(True)
        self.play_btn.setChecked(playing)
        self.play_btn.setIcon(icon("pause" if playing else "play"))
        self.play_btn.blockSignals(False)
        if playing and speed != 1.0:
            self.speed_label.setText(f"{'◀' if speed < 0 else '▶'} {abs(speed):g}×")
            self.speed_label.show()
        else:
            self.speed_label.hide()

    def set_offset_ms(self, ms: int) -> None:
        """Show the dub offset without emitting ``offset_changed``."""
        self.offset.blockSignals(True)
        self.offset.setValue(int(round(ms)))
        self.offset.blockSignals(False)

    def _play_toggled(self, on: bool) -> None:
        self.play_btn.setIcon(icon("pause" if on else "play"))
        self.play_toggled.emit(on)

    def _mute_toggled(self, on: bool) -> None:
        self.mute_btn.setIcon(icon("mute" if on else "volume"))
        self.volume_changed.emit(0.0 if on else self.volume.value() / 100)

    def _typed(self) -> None:
        text = self.timecode.text().strip()
        try:
            # Frame numbers as the label beside shows them: typed 30 is "frame 30".
            pos = parse_timecode(text, self.fps, frame_base=1, start=self.start_tc)
        except ValueError:
            self.timecode.setProperty("invalid", True)
            self.timecode.setStyleSheet("border: 1px solid #ff6b6b;")
            self.timecode.selectAll()
            self.note.emit(f"Cannot read the time code {text!r}: type HH:MM:SS:FF, a frame number (1 to "
                           f"{max(1, self.n_frames)}) or seconds like 4.5s")
            return
        self.timecode.setProperty("invalid", False)
        self.timecode.setStyleSheet("")
        last = max(0, self.n_frames - 1)
        if pos < 0 or pos > last:
            clamped = min(max(0, pos), last)
            where = "before the start: went to the first frame" if pos < 0 else \
                f"past the end: went to the last frame ({clip_timecode(last, self.fps, self.start_tc)}, frame {last + 1})"
            self.note.emit(f"{text} is {where}")
            pos = clamped
        self.timecode.clearFocus()
        self.seek.emit(pos)
