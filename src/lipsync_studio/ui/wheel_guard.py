"""No setting changed by a stray wheel: a drop-down or number box the user has not clicked into ignores the
mouse wheel, which scrolls the panel under it instead (scrolling the Run panel once changed "Dub shorter",
and the change was saved)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractScrollArea, QAbstractSpinBox, QApplication, QComboBox, QWidget


class WheelGuard(QObject):
    """An event filter for combo and spin boxes: a wheel event reaches the box only while it has the keyboard
    focus (clicked or tabbed into); otherwise it goes to the scroll area around it, if any."""

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() != QEvent.Type.Wheel or not isinstance(obj, (QComboBox, QAbstractSpinBox)):
            return False
        if obj.hasFocus():
            return False
        area = obj.parentWidget()
        while area is not None and not isinstance(area, QAbstractScrollArea):
            area = area.parentWidget()
        if area is not None:
            QApplication.sendEvent(area.viewport(), event)
        return True


def guard_wheel(root: QWidget) -> WheelGuard:
    """Keep every combo and spin box under ``root`` from taking a wheel event without focus (and from taking
    the focus from a wheel). Returns the filter (owned by ``root``)."""
    guard = WheelGuard(root)
    for box in root.findChildren(QComboBox) + root.findChildren(QAbstractSpinBox):
        box.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        box.installEventFilter(guard)
    return guard
