"""The bar above the viewer: view mode, before/after, stereo layout, mesh overlay, zoom.

Stereo views (side by side, anaglyph, disparity) are enabled only for a stereo clip, and only as far as the
app can draw them; each disabled control says why in its tooltip.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QButtonGroup, QComboBox, QHBoxLayout, QLabel, QSizePolicy, QToolButton, QWidget)

from ..app.capabilities import Capabilities
from .theme import icon
from .wheel_guard import guard_wheel

#: (mode, label, icon) of the mode buttons.
_MODES = (
    ("original", "Original", None),
    ("result", "Result", None),
    ("side-by-side", "Side by Side", "side_by_side"),
    ("anaglyph", "Anaglyph", "anaglyph"),
    ("disparity", "Disparity", "disparity"),
)
#: Stereo layouts the layout box offers: (``StereoLayout`` value, label).
LAYOUTS = (
    ("mono", "2D (mono)"),
    ("sbs", "Side-by-side, full"),
    ("half-sbs", "Side-by-side, half"),
    ("tb", "Top-bottom, full"),
    ("half-tb", "Top-bottom, half"),
    ("sbs-rl", "Side-by-side, right eye first"),
    ("half-sbs-rl", "Side-by-side half, right first"),
    ("tb-rl", "Bottom-top, full"),
    ("half-tb-rl", "Bottom-top, half"),
)


def _tool(text: str, icon_name: str | None, tip: str, checkable: bool = False, name: str = "") -> QToolButton:
    b = QToolButton()
    if icon_name:
        b.setIcon(icon(icon_name))
    b.setText(text)
    b.setToolTip(tip)
    b.setCheckable(checkable)
    b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon if icon_name and text
                         else Qt.ToolButtonStyle.ToolButtonIconOnly if icon_name else Qt.ToolButtonStyle.ToolButtonTextOnly)
    if name:
        b.setObjectName(name)
    return b


class ViewerBar(QWidget):
    """Controls of the viewer. Signals: ``mode_changed(mode: str)``, ``compare_toggled(on: bool)``,
    ``overlay_toggled(on: bool)``, ``layout_changed(layout: str)``, ``fit_clicked()``, ``zoom_step(factor: float)``,
    ``zoom_one()``."""

    mode_changed = Signal(str)
    compare_toggled = Signal(bool)
    overlay_toggled = Signal(bool)
    layout_changed = Signal(str)
    fit_clicked = Signal()
    zoom_step = Signal(float)
    zoom_one = Signal()

    def __init__(self, caps: Capabilities, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caps = caps
        self.setObjectName("panel")
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 8, 4)
        row.setSpacing(0)

        self.modes = QButtonGroup(self)
        self.modes.setExclusive(True)
        self.mode_buttons: dict[str, QToolButton] = {}
        for k, (key, label, ic) in enumerate(_MODES):
            b = _tool(label, ic, "", checkable=True,
                      name="segmentFirst" if k == 0 else "segmentLast" if k == len(_MODES) - 1 else "segment")
            b.setProperty("mode", key)
            self.modes.addButton(b)
            self.mode_buttons[key] = b
            row.addWidget(b)
        self.mode_buttons["original"].setChecked(True)
        self.mode_buttons["original"].setToolTip("The clip as it is (1)")
        self.mode_buttons["result"].setToolTip("The synced result (2)")
        self.modes.buttonToggled.connect(self._mode_toggled)

        row.addSpacing(10)
        self.compare = _tool("Before / After", "before_after",
                             "Split the picture: the original left of the handle, the result right of it (C)",
                             checkable=True)
        self.compare.toggled.connect(self.compare_toggled)
        row.addWidget(self.compare)

        row.addSpacing(10)
        self.layout_label = QLabel("Layout")
        self.layout_label.setObjectName("hint")
        row.addWidget(self.layout_label)
        row.addSpacing(6)
        self.layout_box = QComboBox()
        for key, label in LAYOUTS:
            self.layout_box.addItem(label, key)
        self.layout_box.setToolTip("How the clip stores its two eyes: detected from the name (*_LRF_Full_SBS*, "
                                   "*_SBS*, *_TB*…)\nand the pictures when a clip opens; choose by hand to correct it.")
        self.layout_box.currentIndexChanged.connect(lambda i: self.layout_changed.emit(self.layout_box.itemData(i)))
        row.addWidget(self.layout_box)

        row.addSpacing(10)
        self.overlay = _tool("Mesh", "mesh", "", checkable=True)
        self.overlay.toggled.connect(self.overlay_toggled)
        row.addWidget(self.overlay)

        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        row.addWidget(spacer)
        self.fit = _tool("", "fit", "Fit the picture to the window (F, or double-click the picture)")
        self.fit.clicked.connect(self.fit_clicked)
        self.zoom_out = _tool("", "zoom_out", "Zoom out (−, or the mouse wheel)")
        self.zoom_out.clicked.connect(lambda: self.zoom_step.emit(1 / 1.25))
        self.zoom_label = QLabel("Fit")
        self.zoom_label.setObjectName("timecodeSmall")
        self.zoom_label.ensurePolished()  # its style sheet's font, to size it for the longest reading
        self.zoom_label.setMinimumWidth(self.zoom_label.fontMetrics().horizontalAdvance("Fit 1600%") + 10)
        self.zoom_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.zoom_in = _tool("", "zoom_in", "Zoom in (+, or the mouse wheel)")
        self.zoom_in.clicked.connect(lambda: self.zoom_step.emit(1.25))
        self.one = _tool("", "zoom_100", "Actual pixels, 100% (Ctrl+1)")
        self.one.clicked.connect(self.zoom_one)
        for w in (self.fit, self.zoom_out, self.zoom_label, self.zoom_in, self.one):
            row.addWidget(w)
        self.update_availability(stereo=False, has_result=False)
        guard_wheel(self)
        self._compact = False
        self._full_width = 0
        # The bar may be as narrow as its compact form (icons only): the window then fits a 1280-pixel screen.
        self._set_compact(True)
        self.setMinimumWidth(self.layout().sizeHint().width())
        self._set_compact(False)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        """Too narrow for every label (a 1280-pixel screen beside the Run panel): the buttons that have an icon
        show only it (their tooltip names them), rather than labels cut to "Si…de"."""
        super().resizeEvent(event)
        if not self._compact:  # measured while every label shows
            self._full_width = self.layout().sizeHint().width()
        self._set_compact(self.width() < self._full_width)

    def _set_compact(self, compact: bool) -> None:
        if compact == self._compact:
            return
        self._compact = compact
        style = Qt.ToolButtonStyle.ToolButtonIconOnly if compact else Qt.ToolButtonStyle.ToolButtonTextBesideIcon
        for key in ("side-by-side", "anaglyph", "disparity"):
            self.mode_buttons[key].setToolButtonStyle(style)
        self.compare.setToolButtonStyle(style)
        self.overlay.setToolButtonStyle(style)
        self.layout_label.setVisible(not compact)

    def _mode_toggled(self, button: QToolButton, checked: bool) -> None:
        if checked:
            self.mode_changed.emit(button.property("mode"))

    def set_mode(self, mode: str) -> None:
        """Check ``mode``'s button (emits ``mode_changed`` when it changes)."""
        b = self.mode_buttons.get(mode)
        if b is not None and b.isEnabled():
            b.setChecked(True)

    def mode(self) -> str:
        """The checked mode."""
        b = self.modes.checkedButton()
        return b.property("mode") if b is not None else "original"

    def set_layout(self, layout: str) -> None:
        """Show ``layout`` in the layout box without emitting ``layout_changed``."""
        i = self.layout_box.findData(layout)
        if i >= 0:
            self.layout_box.blockSignals(True)
            self.layout_box.setCurrentIndex(i)
            self.layout_box.blockSignals(False)

    def show_zoom(self, zoom: float, fit: bool) -> None:
        """Show the current magnification."""
        self.zoom_label.setText(f"{zoom * 100:.0f}%" if not fit else f"Fit {zoom * 100:.0f}%")

    def update_availability(self, *, stereo: bool, has_result: bool) -> None:
        """Enable what the clip and the installed modules allow; say why in the tooltip of the rest."""
        caps = self.caps
        sbs = self.mode_buttons["side-by-side"]
        sbs.setEnabled(stereo)
        sbs.setToolTip("Left and right eye side by side (3)" if stereo else
                       "Needs a stereo clip: choose its layout in the Layout box (this clip is 2D)")
        for key in ("anaglyph", "disparity"):
            b = self.mode_buttons[key]
            b.setEnabled(stereo)
            b.setToolTip(("Red-cyan anaglyph (4)" if key == "anaglyph" else "Disparity between the eyes (5)")
                         if stereo else "Needs a stereo clip: choose its layout in the Layout box")
        self.overlay.setEnabled(caps.face_mesh)
        self.overlay.setToolTip("Draw the face mesh over the picture (M)" if caps.face_mesh else caps.face_reason)
        if not self.modes.checkedButton() or not self.modes.checkedButton().isEnabled():
            self.mode_buttons["original"].setChecked(True)
