"""The timeline (pyqtgraph): a time-code ruler, a thumbnail strip, the clip's sound and the dub, a playhead.

One plot, three lanes on a shared time axis in seconds (top to bottom: picture, clip sound, dub).
Clicking or dragging in the picture or clip-sound lanes scrubs; dragging in the dub lane slides the dub
(the dub offset); dragging the red playhead scrubs too.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsRectItem

from .theme import COLORS
from ..app.timecode import clip_timecode
from ..app.waveforms import Waveform

_LANES = {"picture": (0.0, 1.0), "clip": (1.0, 2.0), "dub": (2.0, 3.0)}
#: Candidate ruler steps in seconds (whole frames are added for short clips).
_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)


class TimecodeAxis(pg.AxisItem):
    """A top axis that labels seconds as ``HH:MM:SS:FF`` at readable steps."""

    def __init__(self) -> None:
        super().__init__("top")
        self.fps: Fraction = Fraction(25)
        self.start_tc: str | None = None  # the clip's own time code of its first frame
        self.setStyle(tickTextOffset=4, tickLength=6)
        self.setTextPen(QColor(COLORS["dim"]))
        self.setPen(QColor("#3a3e45"))

    def tickSpacing(self, minVal, maxVal, size):  # noqa: N802, N803 - pyqtgraph's names
        span = max(1e-6, maxVal - minVal)
        want = span * 110.0 / max(1.0, size)  # seconds per ~110 px
        fps = float(self.fps)
        rate = max(1, round(fps))
        # Below a second, whole frames that divide the second, so labels land on round time codes.
        steps = [k / fps for k in range(1, rate) if rate % k == 0] + list(_STEPS_S)
        major = next((s for s in steps if s >= want), steps[-1])
        finer = [s for s in steps if s < major and (major / s) == round(major / s)]
        minor = next((s for s in reversed(finer) if major / s >= 4), finer[0] if finer else major)
        return [(major, 0), (minor, 0)]

    def tickStrings(self, values, scale, spacing):  # noqa: N802
        fps = float(self.fps)
        return [clip_timecode(int(round(v * fps)), self.fps, self.start_tc) if v >= 0 else "" for v in values]


class _LaneBox(pg.ViewBox):
    """The timeline's view: clicks and drags go to the owner instead of panning."""

    def __init__(self, owner: "TimelineView") -> None:
        super().__init__(enableMenu=False)
        self.owner = owner
        self.setMouseEnabled(False, False)

    def mouseClickEvent(self, ev):  # noqa: N802
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            p = self.mapSceneToView(ev.scenePos())
            self.owner._press(p.x(), p.y())
            self.owner._release()

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        p = self.mapSceneToView(ev.scenePos())
        if ev.isStart():
            start = self.mapSceneToView(ev.buttonDownScenePos())
            self.owner._press(start.x(), start.y())
        self.owner._drag(p.x())
        if ev.isFinish():
            self.owner._release()

    def wheelEvent(self, ev, axis=None):  # noqa: N802
        # Ctrl+wheel zooms about the pointer, Shift+wheel scrolls; the plain wheel is left to the window.
        mods = ev.modifiers()
        steps = ev.delta() / 120.0
        if mods & Qt.KeyboardModifier.ControlModifier:
            ev.accept()
            self.owner.zoom_by(1.25 ** steps, self.mapSceneToView(ev.scenePos()).x())
        elif mods & Qt.KeyboardModifier.ShiftModifier:
            ev.accept()
            self.owner.scroll_by(-steps * 0.1)
        else:
            ev.ignore()


class TimelineView(pg.PlotWidget):
    """Signals: ``seek_requested(position: int)``, ``offset_dragged(seconds: float)`` (while dragging the dub),
    ``offset_committed(seconds: float)`` (drag ended), ``thumbnails_wanted(indices: list[int], height: int)``."""

    seek_requested = Signal(int)
    offset_dragged = Signal(float)
    offset_committed = Signal(float)
    thumbnails_wanted = Signal(list, int)

    def __init__(self, parent=None) -> None:
        self.ruler = TimecodeAxis()
        left = pg.AxisItem("left")
        super().__init__(parent, viewBox=_LaneBox(self), axisItems={"top": self.ruler, "left": left})
        self.setBackground(COLORS["base"])
        self.setMinimumHeight(110)
        pi = self.getPlotItem()
        pi.hideButtons()
        pi.setMenuEnabled(False)
        pi.showAxis("top")
        pi.hideAxis("bottom")
        pi.layout.setContentsMargins(0, 0, 6, 4)
        left.setWidth(78)
        left.setTicks([[(0.5, "Picture"), (1.5, "Clip sound"), (2.5, "Dub")], []])
        left.setTextPen(QColor(COLORS["dim"]))
        left.setPen(QColor("#3a3e45"))
        left.setStyle(tickLength=0)
        vb = pi.getViewBox()
        vb.invertY(True)
        vb.setDefaultPadding(0.0)
        vb.disableAutoRange()
        self.vb = vb
        self.n_frames = 0
        self.fps: Fraction = Fraction(25)
        self.plan: np.ndarray | None = None
        self.clip_frames = 0
        self.position = 0
        self.offset_s = 0.0
        self._mode: str | None = None
        self._drag_origin = 0.0
        self._offset_origin = 0.0
        self._waves: dict[str, Waveform | None] = {"clip": None, "dub": None}
        self._wave_items: dict[str, list] = {"clip": [], "dub": []}
        self._thumb_items: list[tuple[int, pg.ImageItem]] = []
        self._thumbs: dict[int, np.ndarray] = {}
        self._thumb_height = 48

        for name, (y0, y1) in _LANES.items():
            r = QGraphicsRectItem(QRectF(0, y0 + 0.03, 1, y1 - y0 - 0.06))
            r.setPen(QPen(Qt.PenStyle.NoPen))
            r.setBrush(QColor("#1c1e22"))
            r.setZValue(-10)
            vb.addItem(r, ignoreBounds=True)
            setattr(self, f"_lane_{name}", r)
        self._beyond = QGraphicsRectItem(QRectF(0, 0, 0, 1))
        self._beyond.setPen(QPen(Qt.PenStyle.NoPen))
        self._beyond.setBrush(QColor(232, 163, 61, 28))
        self._beyond.setZValue(5)
        self._beyond.setToolTip("Past the clip's end: the picture is extended (see Run ▸ When the dub is longer)")
        vb.addItem(self._beyond, ignoreBounds=True)
        self._dub_span = QGraphicsRectItem(QRectF(0, 2.03, 0, 0.94))
        self._dub_span.setPen(QPen(QColor(232, 163, 61, 120), 0))
        self._dub_span.setBrush(QColor(232, 163, 61, 30))
        self._dub_span.setZValue(-5)
        vb.addItem(self._dub_span, ignoreBounds=True)
        self._marks = QGraphicsRectItem(QRectF(0, 0, 0, 3))
        self._marks.setPen(QPen(QColor(76, 158, 255, 200), 0))
        self._marks.setBrush(QColor(76, 158, 255, 36))
        self._marks.setZValue(6)
        self._marks.setToolTip("In to Out: only this range is synced; the rest stays the clip as it is (Alt+X "
                               "clears it)")
        self._marks.hide()
        vb.addItem(self._marks, ignoreBounds=True)
        self._empty = [pg.TextItem("", color=COLORS["dim"], anchor=(0, 0.5)) for _ in range(2)]
        for t, y in zip(self._empty, (1.5, 2.5)):
            t.setPos(0.01, y)
            vb.addItem(t, ignoreBounds=True)

        self.playhead = pg.InfiniteLine(0, angle=90, movable=True, pen=pg.mkPen(COLORS["playhead"], width=2),
                                        hoverPen=pg.mkPen("#ff8080", width=3))
        self.playhead.setZValue(20)
        self.playhead.sigDragged.connect(self._playhead_dragged)
        vb.addItem(self.playhead, ignoreBounds=True)
        self._resize_timer = QTimer(self)
        self._resize_timer.setSingleShot(True)
        self._resize_timer.setInterval(150)
        self._resize_timer.timeout.connect(self._layout_thumbnails)
        self.ruler.setStyle(showValues=False)  # no clip yet: no time codes
        self._set_range()
        from PySide6.QtGui import QKeySequence, QShortcut

        fit = QShortcut(QKeySequence("Ctrl+0"), self, self.fit)
        fit.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.setToolTip("Click or drag to move the playhead; drag the dub to shift it.\n"
                        "Ctrl+wheel: zoom in time; Shift+wheel: scroll; Ctrl+0: the whole timeline.")

    # -- content ---------------------------------------------------------------------------------------
    @property
    def duration(self) -> float:
        """Seconds the timeline spans."""
        return self.n_frames / float(self.fps) if self.n_frames else 1.0

    def set_timeline(self, n_frames: int, fps: Fraction, plan: np.ndarray | None, clip_frames: int,
                     start: str | None = None) -> None:
        """Span ``n_frames`` output frames at ``fps``; ``plan`` maps them to the clip's ``clip_frames`` frames;
        ``start``: the clip's own time code of its first frame, the ruler counts from (else 00:00:00:00)."""
        changed_clip = clip_frames != self.clip_frames or fps != self.fps
        self.n_frames, self.fps, self.plan, self.clip_frames = int(n_frames), Fraction(fps), plan, int(clip_frames)
        self.ruler.fps, self.ruler.start_tc = self.fps, start
        self.ruler.setStyle(showValues=self.n_frames > 0)
        if changed_clip:
            self._thumbs.clear()
        self._set_range()
        self._draw_wave("clip")
        self._draw_wave("dub")
        self._layout_thumbnails()
        self.set_position(min(self.position, max(0, self.n_frames - 1)))

    def _set_range(self) -> None:
        d = self.duration
        # Limits first: a range wider than the old limits would be clamped to them.
        self.vb.setLimits(xMin=0, xMax=d, yMin=0, yMax=3)
        self.vb.setRange(xRange=(0, d), yRange=(0, 3), padding=0)
        for name in _LANES:
            r: QGraphicsRectItem = getattr(self, f"_lane_{name}")
            rect = r.rect()
            r.setRect(QRectF(0, rect.y(), d, rect.height()))
        clip_end = self.clip_frames / float(self.fps) if self.clip_frames else d
        self._beyond.setRect(QRectF(clip_end, 0.03, max(0.0, d - clip_end), 0.94))
        self.playhead.setBounds((0, d))

    def set_position(self, position: int) -> None:
        """Move the playhead to output frame ``position`` (a zoomed view pages along to keep it in sight)."""
        self.position = int(position)
        self.playhead.blockSignals(True)
        self.playhead.setValue(self.position / float(self.fps))
        self.playhead.blockSignals(False)
        x0, x1 = self.vb.viewRange()[0]
        t = self.position / float(self.fps)
        if self.zoomed and not x0 <= t <= x1:
            self._show_span(t - 0.1 * (x1 - x0), x1 - x0)

    # -- zoom ------------------------------------------------------------------------------------------
    @property
    def zoomed(self) -> bool:
        """Whether the view shows less than the whole timeline."""
        x0, x1 = self.vb.viewRange()[0]
        return x1 - x0 < self.duration - 1e-6

    def zoom_by(self, factor: float, at_s: float | None = None) -> None:
        """Magnify the time axis by ``factor`` (>1: closer) about ``at_s`` seconds (the view's middle when None);
        at most 20 frames fill the view, at least the whole timeline."""
        x0, x1 = self.vb.viewRange()[0]
        at = (x0 + x1) / 2 if at_s is None else float(at_s)
        span = x1 - x0
        new = min(self.duration, max(20 / float(self.fps), span / factor))
        self._show_span(at - (at - x0) * new / span, new)

    def scroll_by(self, fraction: float) -> None:
        """Scroll a zoomed view by ``fraction`` of its width (positive: later)."""
        x0, x1 = self.vb.viewRange()[0]
        self._show_span(x0 + fraction * (x1 - x0), x1 - x0)

    def fit(self) -> None:
        """Show the whole timeline."""
        self._show_span(0.0, self.duration)

    def _show_span(self, start: float, span: float) -> None:
        span = min(span, self.duration)
        start = min(max(0.0, start), self.duration - span)
        self.vb.setRange(xRange=(start, start + span), padding=0)
        self._resize_timer.start()  # thumbnails for what is in view

    def set_marks(self, mark_in: int | None, mark_out: int | None) -> None:
        """Shade the In..Out range (output frames, Out included); both None: no range."""
        if mark_in is None and mark_out is None:
            self._marks.hide()
            return
        fps = float(self.fps)
        start = 0.0 if mark_in is None else mark_in / fps
        end = self.duration if mark_out is None else (mark_out + 1) / fps
        self._marks.setRect(QRectF(start, 0.0, max(0.0, end - start), 3.0))
        self._marks.show()

    def set_waveform(self, role: str, wave: Waveform | None, missing_text: str = "") -> None:
        """Draw ``wave`` in the ``"clip"`` or ``"dub"`` lane (None: empty lane with ``missing_text``)."""
        self._waves[role] = wave
        self._empty[0 if role == "clip" else 1].setText(missing_text if wave is None else "")
        self._draw_wave(role)

    def set_offset(self, seconds: float) -> None:
        """Slide the dub lane by ``seconds``."""
        self.offset_s = float(seconds)
        self._draw_wave("dub")

    def _draw_wave(self, role: str) -> None:
        for item in self._wave_items[role]:
            self.vb.removeItem(item)
        self._wave_items[role] = []
        wave = self._waves[role]
        if role == "dub":
            d = wave.duration_s if wave is not None else 0.0
            self._dub_span.setRect(QRectF(self.offset_s, 2.03, d, 0.94))
        if wave is None or len(wave.lo) == 0:
            return
        y0, y1 = _LANES[role]
        mid, amp = (y0 + y1) / 2, 0.44 * (y1 - y0) / wave.peak
        t = wave.times + (self.offset_s if role == "dub" else 0.0)
        # One vertical stroke per bucket from its minimum to its maximum: the usual editor's waveform.
        x = np.repeat(t, 2)
        y = np.empty(2 * len(t))
        y[0::2] = mid - np.maximum(wave.hi, 0.004 * wave.peak) * amp
        y[1::2] = mid - np.minimum(wave.lo, -0.004 * wave.peak) * amp
        color = QColor(COLORS["clip_wave" if role == "clip" else "dub_wave"])
        curve = pg.PlotCurveItem(x, y, pen=pg.mkPen(color, width=1), connect="pairs")
        self.vb.addItem(curve, ignoreBounds=True)
        self._wave_items[role] = [curve]

    # -- thumbnails ------------------------------------------------------------------------------------
    def resizeEvent(self, ev) -> None:  # noqa: N802
        super().resizeEvent(ev)
        timer = self.__dict__.get("_resize_timer")
        if timer is not None:  # pyqtgraph resizes once while constructing
            timer.start()

    def _layout_thumbnails(self) -> None:
        for _, item in self._thumb_items:
            self.vb.removeItem(item)
        self._thumb_items = []
        if not self.n_frames or not self.clip_frames:
            return
        rect = self.vb.sceneBoundingRect()
        lane_px = max(12.0, rect.height() / 3 * 0.9)
        aspect = self._aspect or 16 / 9
        slot_px = lane_px * aspect
        n = max(1, int(math.ceil(rect.width() / slot_px)))
        x0, x1 = self.vb.viewRange()[0]  # the part in view (all of it unless zoomed)
        slot_s = slot_px * (x1 - x0) / max(1.0, rect.width())
        wanted = []
        for k in range(n):
            t = x0 + k * slot_s
            pos = min(self.n_frames - 1, int(t * float(self.fps)))
            src = int(self.plan[pos]) if self.plan is not None and len(self.plan) else min(pos, self.clip_frames - 1)
            item = pg.ImageItem(axisOrder="row-major")
            item.setZValue(-1)
            item.slot = QRectF(t, 0.05, slot_s * 0.985, 0.9)
            self.vb.addItem(item, ignoreBounds=True)
            self._thumb_items.append((src, item))
            if src in self._thumbs:
                self._show_thumb(item, self._thumbs[src])
            else:
                wanted.append(src)
        self._thumb_height = int(lane_px)
        if wanted:
            self.thumbnails_wanted.emit(sorted(set(wanted)), self._thumb_height)

    _aspect: float | None = None

    def set_aspect(self, aspect: float) -> None:
        """Width/height of the clip's frames (thumbnail slots keep it)."""
        self._aspect = float(aspect)
        self._resize_timer.start()

    def add_thumbnail(self, index: int, image: np.ndarray) -> None:
        """Show the thumbnail of clip frame ``index`` in every slot that wants it."""
        self._thumbs[index] = image
        for src, item in self._thumb_items:
            if src == index:
                self._show_thumb(item, image)

    @staticmethod
    def _show_thumb(item: pg.ImageItem, image: np.ndarray) -> None:
        item.setImage(image, levels=(0, 255))
        item.setRect(item.slot)  # after setImage: the rect scales by the image's size

    # -- mouse -----------------------------------------------------------------------------------------
    def _press(self, x: float, y: float) -> None:
        if y >= _LANES["dub"][0] and self._waves["dub"] is not None:
            self._mode = "offset"
            self._drag_origin = x
            self._offset_origin = self.offset_s
        else:
            self._mode = "scrub"
            self._seek_to(x)

    def _drag(self, x: float) -> None:
        if self._mode == "offset":
            # Snap to whole milliseconds; the spin box shows the same number.
            value = round((self._offset_origin + x - self._drag_origin) * 1000) / 1000
            self.set_offset(value)
            self.offset_dragged.emit(value)
        elif self._mode == "scrub":
            self._seek_to(x)

    def _release(self) -> None:
        if self._mode == "offset":
            self.offset_committed.emit(self.offset_s)
        self._mode = None

    def _seek_to(self, x: float) -> None:
        if self.n_frames:
            pos = int(min(self.n_frames - 1, max(0, math.floor(x * float(self.fps) + 1e-6))))
            self.seek_requested.emit(pos)

    def _playhead_dragged(self) -> None:
        self._seek_to(self.playhead.value())
