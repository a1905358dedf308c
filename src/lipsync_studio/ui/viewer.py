"""The picture: original, result or a before/after wipe, fitted or zoomed, with an optional mesh overlay.

Frames arrive as numpy arrays (:class:`~lipsync_studio.ui.frame_server.FrameBundle`) and are painted
directly (no copies beyond the QImage wrapper). Wheel zooms about the cursor, dragging pans a zoomed
picture, dragging the wipe handle moves the before/after split. Files dropped on it are offered to the
window (``files_dropped``).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from .frame_server import FrameBundle
from .theme import COLORS, icon

#: Gap between the two eyes in the side-by-side view, in video pixels.
_EYE_GAP = 12
#: Viewer modes, in the order the mode bar shows them.
MODES = ("original", "result", "side-by-side", "anaglyph", "disparity")


def scaled_font(font: QFont, factor: float, bold: bool = False) -> QFont:
    """A copy of ``font`` ``factor`` times as large (works for point- and pixel-sized fonts)."""
    f = QFont(font)
    if f.pointSizeF() > 0:
        f.setPointSizeF(max(6.0, f.pointSizeF() * factor))
    else:
        f.setPixelSize(max(8, round(f.pixelSize() * factor)))
    f.setBold(bold)
    return f


def to_qimage(img: np.ndarray) -> QImage:
    """Wrap an ``(H, W, 3) uint8 RGB`` array as a QImage (shares the memory; keep the array alive)."""
    img = np.ascontiguousarray(img)
    h, w = img.shape[:2]
    return QImage(img.data, w, h, img.strides[0], QImage.Format.Format_RGB888)


class VideoViewer(QWidget):
    """Shows the current frame. Signals: ``zoom_changed(zoom: float)`` (the effective scale, 1.0 = one video
    pixel per screen pixel) and ``files_dropped(paths: list[str])``."""

    zoom_changed = Signal(float)
    files_dropped = Signal(list)
    #: A drag (or wheel) in a VR clip's window: ``(dx, dy, fov_step)`` in window pixels and wheel steps.
    look_dragged = Signal(float, float, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("viewer")
        self.setAcceptDrops(True)
        self.setMouseTracking(True)
        self.setMinimumSize(320, 200)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.mode = "original"
        self.compare = False
        self.wipe = 0.5
        self.fit = True
        self.zoom = 1.0
        self.pan = QPointF(0, 0)
        self.result_stale = False
        #: How a stereo clip stores its eyes (a ``StereoLayout`` value, see :meth:`set_stereo_layout`).
        self.stereo_layout = "mono"
        #: True when the clip is a VR clip: the stereo views show a window into its sphere, dragged to look around.
        self.vr_window = False
        #: True when that VR clip has one eye: the original and the result show the window into its sphere.
        self.vr_mono = False
        #: The clip's pixel shape (width / height as displayed): an anamorphic clip is shown as wide as players show
        #: it (a 16:9 PAL clip stored 720 x 576 at 1024 x 576), not squeezed.
        self.pixel_aspect = 1.0
        self.bundle: FrameBundle | None = None
        self.frames_shown = 0
        self._images: dict[str, QImage] = {}
        self._arrays: dict[str, np.ndarray] = {}
        self._overlay: tuple[np.ndarray, np.ndarray] | None = None
        self._drag: str | None = None
        self._drag_from = QPointF()
        self._pan_from = QPointF()
        self.empty_text = "Open a clip to begin"
        self.empty_hint = "File ▸ Open Clip… (Ctrl+O), or drop a video and a dub here"

    # -- content ---------------------------------------------------------------------------------------
    def show_bundle(self, bundle: FrameBundle) -> None:
        """Show the frames of ``bundle`` (a passing frame only replaces the original)."""
        self.bundle = bundle
        size_before = self._frame_size()
        for role in ("original", "result", "view"):
            arr = getattr(bundle, role)
            if arr is None and role == "result" and not bundle.final:
                continue  # keep the last result while passing frames stream by
            if arr is None:
                self._arrays.pop(role, None)
                self._images.pop(role, None)
            else:
                arr = np.ascontiguousarray(arr)
                self._arrays[role] = arr
                self._images[role] = to_qimage(arr)
        self.frames_shown += 1
        if self._frame_size() != size_before:  # another clip: the zoom readout follows at once
            self.zoom_changed.emit(self.scale())
        self.update()

    def clear(self) -> None:
        """Show nothing (no clip)."""
        self.bundle = None
        self._arrays.clear()
        self._images.clear()
        self._overlay = None
        self.update()

    def image(self, role: str) -> np.ndarray | None:
        """The array shown as ``"original"`` or ``"result"``, or None."""
        return self._arrays.get(role)

    def set_mode(self, mode: str) -> None:
        """Show ``mode`` (one of :data:`MODES`)."""
        if mode not in MODES:
            raise ValueError(f"unknown viewer mode {mode!r}")
        self.mode = mode
        self.update()

    def set_stereo_layout(self, layout: str) -> None:
        """How the clip stores its two eyes (a ``StereoLayout`` value: ``mono``, ``sbs``, ``half-sbs``, ``tb``,
        ``half-tb`` and the ``-rl`` variants, right eye first)."""
        self.stereo_layout = layout
        self.update()

    def set_compare(self, on: bool) -> None:
        """Before/after wipe: the original left of the handle, the result right of it."""
        self.compare = bool(on)
        self.update()

    def set_overlay(self, points_xy: np.ndarray | None, triangles: np.ndarray | None = None) -> None:
        """Draw a face mesh over the picture: ``points_xy (N, 2)`` in frame pixels, ``triangles (M, 3)`` int."""
        self._overlay = None if points_xy is None else (np.asarray(points_xy, float),
                                                         np.asarray(triangles if triangles is not None else
                                                                    np.zeros((0, 3), int)))
        self.update()

    # -- zoom ------------------------------------------------------------------------------------------
    def set_fit(self) -> None:
        """Fit the picture to the window."""
        self.fit = True
        self.pan = QPointF(0, 0)
        self.update()
        self.zoom_changed.emit(self.scale())

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Magnify to ``zoom`` (1.0 = 100%), keeping the point under ``anchor`` (widget pixels) still."""
        zoom = float(min(16.0, max(0.05, zoom)))
        if anchor is not None:
            old = self.scale()
            c = QPointF(self.width() / 2, self.height() / 2) + self.pan
            self.pan += (anchor - c) * (1 - zoom / old)
        self.fit = False
        self.zoom = zoom
        self.update()
        self.zoom_changed.emit(zoom)

    def zoom_by(self, factor: float) -> None:
        """Zoom in (>1) or out (<1) about the centre."""
        self.set_zoom(self.scale() * factor)

    def _eyes(self) -> tuple[QRectF, QRectF, float, float] | None:
        """Source rectangles of the left and right eye in the frame, and how much each is stretched
        (x, y) to its display size; None unless a stereo side-by-side view is showing."""
        img = self._images.get("original")
        layout = self.stereo_layout
        if img is None or self.mode != "side-by-side" or self.compare or layout == "mono":
            return None
        w, h = img.width(), img.height()
        half = layout.startswith("half-")
        if "tb" in layout:
            first, second = QRectF(0, 0, w, h / 2), QRectF(0, h / 2, w, h / 2)
            sx, sy = 1.0, 2.0 if half else 1.0
        else:
            first, second = QRectF(0, 0, w / 2, h), QRectF(w / 2, 0, w / 2, h)
            sx, sy = 2.0 if half else 1.0, 1.0
        left, right = (second, first) if layout.endswith("-rl") else (first, second)
        return left, right, sx, sy

    def _stereo_picture(self) -> bool:
        modes = ("anaglyph", "disparity") + (("side-by-side",) if self.vr_window else ())
        if self.vr_window and self.vr_mono:  # a one-eye VR clip has only its window
            modes = ("original", "result")
        return self.mode in modes and not self.compare and "view" in self._images

    def _looking(self) -> bool:
        """True when a drag turns the VR window rather than panning the picture."""
        return self._stereo_picture() and self.vr_window

    def _frame_size(self) -> tuple[float, float] | None:
        if self._stereo_picture():
            v = self._images["view"]
            return v.width(), v.height()
        img = self._images.get("original") or self._images.get("result")
        if img is None:
            return None
        eyes = self._eyes()
        if eyes is not None:  # two eyes side by side with a gap
            left, _, sx, sy = eyes
            return 2 * left.width() * sx + _EYE_GAP, left.height() * sy
        return img.width() * self._stretch(), img.height()

    def _stretch(self) -> float:
        """How much wider a frame pixel is drawn than it is tall: the clip's pixel shape where the frame is shown
        whole (not as two eyes, not as a window into a sphere)."""
        return self.pixel_aspect if not self._stereo_picture() and self._eyes() is None else 1.0

    def scale(self) -> float:
        """Screen pixels per video pixel now."""
        size = self._frame_size()
        if size is None:
            return 1.0
        if self.fit:
            w, h = size
            return max(1e-3, min((self.width() - 16) / w, (self.height() - 16) / h))
        return self.zoom

    def _target(self) -> QRectF | None:
        size = self._frame_size()
        if size is None:
            return None
        s = self.scale()
        w, h = size[0] * s, size[1] * s
        c = QPointF(self.width() / 2, self.height() / 2) + (QPointF(0, 0) if self.fit else self.pan)
        return QRectF(c.x() - w / 2, c.y() - h / 2, w, h)

    # -- painting --------------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(COLORS["video_bg"]))
        target = self._target()
        if target is None:
            self._paint_empty(p)
            return
        smooth = self.scale() < 2.0
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        original, result = self._images.get("original"), self._images.get("result")
        if self.compare:
            wx = target.left() + self.wipe * target.width()
            if original is not None:
                p.save()
                p.setClipRect(QRectF(target.left(), target.top(), wx - target.left(), target.height()))
                p.drawImage(target, original)
                p.restore()
            p.save()
            p.setClipRect(QRectF(wx, target.top(), target.right() - wx, target.height()))
            if result is not None:
                p.drawImage(target, result)
            else:
                p.fillRect(target, QColor(0, 0, 0, 160))
            p.restore()
            self._paint_wipe(p, target, wx)
            self._chip(p, QPointF(target.left() + 10, target.top() + 10), "BEFORE")
            self._chip(p, QPointF(wx + 10, target.top() + 10), "AFTER" + (" · OUT OF DATE" if self.result_stale else ""),
                       accent=result is not None)
            if result is None:
                self._paint_note(p, QRectF(wx, target.top(), target.right() - wx, target.height()),
                                 "No result yet", "Press Run to make one")
        elif self._stereo_picture():
            p.drawImage(target, self._images["view"])
            of = self.bundle.view_of.upper() if self.bundle is not None else ""
            chip = f"{of} · WINDOW INTO THE SPHERE" if self.vr_mono else f"{self.mode.upper()} · {of}"
            if self.vr_mono and self.mode == "result" and self.result_stale:
                chip += " · OUT OF DATE"
            self._chip(p, QPointF(target.left() + 10, target.top() + 10), chip, accent=self.mode == "result")
        elif self.mode in ("anaglyph", "disparity"):
            if original is not None:
                p.setOpacity(0.25)
                p.drawImage(target, original)
                p.setOpacity(1.0)
            self._paint_note(p, target, "Working out the " + self.mode + " view…",
                             "Choose the clip's stereo layout if this does not appear")
        elif self._eyes() is not None:
            left, right, sx, sy = self._eyes()
            s = self.scale()
            ew, eh = left.width() * sx * s, left.height() * sy * s
            # The synced eyes once there is a result of the same packing (the preview keeps the clip's), and say so.
            shown = result if result is not None and result.size() == original.size() else original
            what = ("RESULT" + (" · OUT OF DATE" if self.result_stale else "")) if shown is result else "ORIGINAL"
            for k, (src, name) in enumerate(((left, "L"), (right, "R"))):
                dst = QRectF(target.left() + k * (ew + _EYE_GAP * s), target.top(), ew, eh)
                p.drawImage(dst, shown, src)
                self._chip(p, QPointF(dst.left() + 10, dst.top() + 10),
                           f"{'LEFT EYE' if name == 'L' else 'RIGHT EYE'} · {what}")
        elif self.mode == "result":
            if result is not None:
                p.drawImage(target, result)
                self._chip(p, QPointF(target.left() + 10, target.top() + 10),
                           "RESULT" + (" · OUT OF DATE" if self.result_stale else ""), accent=not self.result_stale)
            else:
                if original is not None:
                    p.setOpacity(0.25)
                    p.drawImage(target, original)
                    p.setOpacity(1.0)
                self._paint_note(p, target, "No result yet", "Press Run (Ctrl+R) to sync the clip to the dub")
        else:
            if original is not None:
                p.drawImage(target, original)
            self._chip(p, QPointF(target.left() + 10, target.top() + 10), "ORIGINAL")
        if self._overlay is not None:
            self._paint_overlay(p, target)

    def _paint_empty(self, p: QPainter) -> None:
        r = QRectF(self.rect())
        ic = icon("clip").pixmap(64, 64)
        p.setOpacity(0.35)
        p.drawPixmap(int(r.center().x() - 32), int(r.center().y() - 78), ic)
        p.setOpacity(1.0)
        p.setPen(QColor(COLORS["text"]))
        p.setFont(scaled_font(self.font(), 1.35))
        p.drawText(QRectF(r.left(), r.center().y() - 4, r.width(), 28), Qt.AlignmentFlag.AlignCenter, self.empty_text)
        p.setFont(self.font())
        p.setPen(QColor(COLORS["dim"]))
        p.drawText(QRectF(r.left(), r.center().y() + 26, r.width(), 22), Qt.AlignmentFlag.AlignCenter, self.empty_hint)

    def _paint_note(self, p: QPainter, r: QRectF, title: str, hint: str) -> None:
        p.setPen(QColor("#e6e8ec"))
        p.setFont(scaled_font(self.font(), 1.25, bold=True))
        p.drawText(QRectF(r.left(), r.center().y() - 22, r.width(), 26), Qt.AlignmentFlag.AlignCenter, title)
        p.setFont(self.font())
        p.setPen(QColor(COLORS["dim"]))
        p.drawText(QRectF(r.left(), r.center().y() + 6, r.width(), 22), Qt.AlignmentFlag.AlignCenter, hint)

    def _chip(self, p: QPainter, at: QPointF, text: str, accent: bool = False) -> None:
        f = scaled_font(self.font(), 0.85, bold=True)
        f.setLetterSpacing(QFont.SpacingType.AbsoluteSpacing, 1.0)
        p.setFont(f)
        w = p.fontMetrics().horizontalAdvance(text) + 14
        rect = QRectF(at.x(), at.y(), w, 20)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(47, 111, 208, 220) if accent else QColor(0, 0, 0, 150))
        p.drawRoundedRect(rect, 3, 3)
        p.setPen(QColor("#ffffff"))
        p.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        p.setFont(self.font())

    def _paint_wipe(self, p: QPainter, target: QRectF, x: float) -> None:
        p.setPen(QPen(QColor("#ffffff"), 2))
        p.drawLine(QPointF(x, target.top()), QPointF(x, target.bottom()))
        p.setBrush(QColor("#ffffff"))
        cy = target.center().y()
        p.drawEllipse(QPointF(x, cy), 9, 9)
        p.setPen(QPen(QColor("#1a1c1f"), 1.6))
        p.drawLine(QPointF(x - 4, cy), QPointF(x - 1, cy - 3))
        p.drawLine(QPointF(x - 4, cy), QPointF(x - 1, cy + 3))
        p.drawLine(QPointF(x + 4, cy), QPointF(x + 1, cy - 3))
        p.drawLine(QPointF(x + 4, cy), QPointF(x + 1, cy + 3))

    def _paint_overlay(self, p: QPainter, target: QRectF) -> None:
        pts, tris = self._overlay
        s = self.scale()
        xy = pts * np.array([s * self._stretch(), s]) + np.array([target.left(), target.top()])
        p.setPen(QPen(QColor(76, 158, 255, 150), 0.8))
        if len(tris):
            for a, b, c in tris[:: max(1, len(tris) // 4000)]:
                p.drawPolyline(QPolygonF([QPointF(*xy[a]), QPointF(*xy[b]), QPointF(*xy[c]), QPointF(*xy[a])]))
        else:
            for x, y in xy[:: max(1, len(xy) // 4000)]:
                p.drawPoint(QPointF(x, y))

    # -- mouse -----------------------------------------------------------------------------------------
    def _near_wipe(self, pos: QPointF) -> bool:
        t = self._target()
        return bool(self.compare and t is not None and abs(pos.x() - (t.left() + self.wipe * t.width())) < 12)

    def mousePressEvent(self, event) -> None:  # noqa: N802
        pos = event.position()
        if event.button() == Qt.MouseButton.LeftButton and self._near_wipe(pos):
            self._drag = "wipe"
        elif event.button() == Qt.MouseButton.LeftButton and self._looking():
            self._drag = "look"
            self._drag_from = pos
        elif event.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.MiddleButton) and not self.fit:
            self._drag = "pan"
            self._drag_from = pos
            self._pan_from = QPointF(self.pan)
        else:
            return super().mousePressEvent(event)
        event.accept()

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        pos = event.position()
        if self._drag == "wipe":
            t = self._target()
            if t is not None and t.width() > 0:
                self.wipe = float(min(1.0, max(0.0, (pos.x() - t.left()) / t.width())))
                self.update()
        elif self._drag == "pan":
            self.pan = self._pan_from + (pos - self._drag_from)
            self.update()
        elif self._drag == "look":
            d = (pos - self._drag_from) / max(self.scale(), 1e-3)  # screen px -> window px
            self._drag_from = pos
            self.look_dragged.emit(d.x(), d.y(), 0.0)
        else:
            shape = Qt.CursorShape.SplitHCursor if self._near_wipe(pos) else (
                Qt.CursorShape.OpenHandCursor if not self.fit and self._target() is not None else Qt.CursorShape.ArrowCursor)
            self.setCursor(shape)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        self._drag = None
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802
        self.set_fit()

    def wheelEvent(self, event) -> None:  # noqa: N802
        if self._target() is None:
            return
        steps = event.angleDelta().y() / 120.0
        if self._looking():  # in a VR window the wheel changes the field of view
            self.look_dragged.emit(0.0, 0.0, -steps)
            return
        self.set_zoom(self.scale() * (1.15 ** steps), event.position())

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self.fit:
            self.zoom_changed.emit(self.scale())

    # -- drag and drop ---------------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            self.files_dropped.emit(paths)
            event.acceptProposedAction()
