"""A small plot of the sync over time: one bar a second (the result's phonetic agreement), the clip's own mouth
("before") as a line, real speech's weak limit as a dashed line. Weak seconds are red; a click seeks there."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from ..app.verdicts import REAL_SPEECH_PER_SECOND
from .theme import COLORS


class SyncStrip(QWidget):
    """Signals: ``seek_requested(frame: int)`` (a click: the first frame of that second)."""

    seek_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.report = None
        self.position: int | None = None
        self.setMinimumHeight(64)
        self.setMaximumHeight(80)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMouseTracking(True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("")

    def set_report(self, report) -> None:
        """Show a :class:`~lipsync_studio.app.verdicts.ResultReport` (None: nothing)."""
        self.report = report
        self.setVisible(report is not None and len(report.after_per_second) > 0)
        self.update()

    def set_position(self, frame: int) -> None:
        """The playhead (output frame)."""
        self.position = int(frame)
        self.update()

    def _plot(self) -> QRectF:
        return QRectF(4, 4, max(1, self.width() - 8), max(1, self.height() - 18))

    def _second_at(self, x: float) -> int | None:
        if self.report is None or not len(self.report.after_per_second):
            return None
        r = self._plot()
        n = len(self.report.after_per_second)
        k = int((x - r.left()) / r.width() * n)
        return k if 0 <= k < n else None

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor(COLORS["base"]))
        rep = self.report
        if rep is None or not len(rep.after_per_second):
            return
        r = self._plot()
        a = rep.after_per_second
        n = len(a)
        bw = r.width() / n
        lo = REAL_SPEECH_PER_SECOND[0]

        def y(v: float) -> float:
            return r.bottom() - float(np.clip(v, 0.0, 1.0)) * r.height()

        for k, v in enumerate(a):
            x0 = r.left() + k * bw
            if not np.isfinite(v):
                p.fillRect(QRectF(x0 + 1, r.bottom() - 3, bw - 2, 3), QColor(COLORS["grid"]))
                continue
            colour = COLORS["bad"] if v < lo else COLORS["ok"] if v >= REAL_SPEECH_PER_SECOND[1] else COLORS["warn"]
            if v < lo:  # a weak second is marked over its whole height, so a bar near 0 still shows
                tint = QColor(COLORS["bad"])
                tint.setAlpha(70)
                p.fillRect(QRectF(x0 + 1, r.top(), max(1.0, bw - 2), r.height()), tint)
            top = min(y(v), r.bottom() - 3)
            p.fillRect(QRectF(x0 + 1, top, max(1.0, bw - 2), r.bottom() - top), QColor(colour))
        p.setPen(QPen(QColor(COLORS["dim"]), 1, Qt.PenStyle.DashLine))
        p.drawLine(QPointF(r.left(), y(lo)), QPointF(r.right(), y(lo)))
        b = rep.before_per_second
        if b is not None:
            path, pen_down = QPainterPath(), False
            for k, v in enumerate(b):
                if not np.isfinite(v):
                    pen_down = False
                    continue
                pt = QPointF(r.left() + (k + 0.5) * bw, y(v))
                if pen_down:
                    path.lineTo(pt)
                else:
                    path.moveTo(pt)
                    pen_down = True
                p.drawEllipse(pt, 1.5, 1.5)
            p.setPen(QPen(QColor(COLORS["text"]), 1.5))
            p.drawPath(path)
        if self.position is not None and rep.fps > 0:
            x = r.left() + self.position / rep.fps / n * r.width()
            p.setPen(QPen(QColor(COLORS["playhead"]), 1))
            p.drawLine(QPointF(x, r.top()), QPointF(x, r.bottom()))
        p.setPen(QColor(COLORS["dim"]))
        font = p.font()
        font.setPointSizeF(max(6.0, font.pointSizeF() * 0.8))
        p.setFont(font)
        p.drawText(QRectF(r.left(), r.bottom() + 1, r.width(), 13), Qt.AlignmentFlag.AlignLeft, "0 s")
        p.drawText(QRectF(r.left(), r.bottom() + 1, r.width(), 13), Qt.AlignmentFlag.AlignRight, f"{n} s")
        if b is not None:
            p.drawText(QRectF(r.left(), r.bottom() + 1, r.width(), 13), Qt.AlignmentFlag.AlignHCenter,
                       "bars: result · line: before")

    def mousePressEvent(self, event) -> None:  # noqa: N802
        k = self._second_at(event.position().x())
        if k is not None and event.button() == Qt.MouseButton.LeftButton:
            self.seek_requested.emit(int(round(k * self.report.fps)))

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        k = self._second_at(event.position().x())
        if k is None:
            return
        a = self.report.after_per_second[k]
        b = self.report.before_per_second[k] if self.report.before_per_second is not None else np.nan
        text = f"Second {k}–{k + 1}: " + ("no face or speech to judge" if not np.isfinite(a) else f"{a:.2f}")
        if np.isfinite(b):
            text += f" (before {b:.2f})"
        lo, med = REAL_SPEECH_PER_SECOND[:2]
        text += f"\nReal speech: median {med:.2f}; below {lo:.2f} is weaker than 9 seconds in 10 of it. Click: go there"
        QToolTip.showText(event.globalPosition().toPoint(), text, self)
