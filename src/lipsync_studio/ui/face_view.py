"""The 3D face view: the current frame's mesh, orbit/zoom/pan with the mouse, shaded, wireframe or textured.

Open3D renders it (see :mod:`.face_renderer`); if Open3D cannot render on this machine the view falls back
to pyqtgraph's OpenGL view, and if that cannot either, to a software drawing, and says which in its status
line. The renderer starts the first time the view is shown (Open3D takes a few seconds to load).

The app feeds it through :meth:`FaceView.set_mesh_source`: a callable ``source(clip_frame, picture)``
returning a :class:`MeshFrame`, a tuple ``(vertices (N, 3) float, triangles (M, 3) int, colors (N, 3) float
| None)``, or None; :meth:`FaceView.show_frame` asks it for each frame shown. With no source the view shows
a placeholder head and offers to track the faces.

After a sync the view can show the face of the result (its mouth says the dub) or the clip's:
:meth:`FaceView.set_face_of` shows the "Synced result / Original clip" switch, ``face_of_changed`` reports
the user's choice.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (QButtonGroup, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QStackedLayout,
                               QToolButton, QVBoxLayout, QWidget)

from .face_renderer import Open3DRenderer, render_software
from ..app.mesh import MeshFrame, placeholder_head
from .theme import COLORS, icon
from .threads import start_worker, stop_worker
from .viewer import to_qimage

MeshSource = Callable[[int, "np.ndarray | None"], "MeshFrame | tuple | None"]
_RENDER_SIZE = (560, 560)


class _Canvas(QWidget):
    """Shows rendered frames; turns mouse drags into camera moves. Signals: ``orbit(dx, dy)``,
    ``pan(dx, dy)``, ``zoom(steps)``, ``reset()``."""

    orbit = Signal(float, float)
    pan = Signal(float, float)
    zoom = Signal(float)
    reset = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setMinimumSize(160, 140)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setCursor(Qt.CursorShape.OpenHandCursor)
        self._img = None
        self._arr: np.ndarray | None = None
        self._last = QPointF()
        self._button = Qt.MouseButton.NoButton
        self.message = "Starting the 3D view…"

    def set_image(self, arr: np.ndarray) -> None:
        self._arr = np.ascontiguousarray(arr)
        self._img = to_qimage(self._arr)
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(19, 20, 23))
        if self._img is None:
            p.setPen(QColor(COLORS["dim"]))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.message)
            return
        w, h = self._img.width(), self._img.height()
        s = min(self.width() / w, self.height() / h)
        r = QRectF((self.width() - w * s) / 2, (self.height() - h * s) / 2, w * s, h * s)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        p.drawImage(r, self._img)

    def mousePressEvent(self, e) -> None:  # noqa: N802
        self._last = e.position()
        self._button = e.button()
        self.setCursor(Qt.CursorShape.ClosedHandCursor)

    def mouseMoveEvent(self, e) -> None:  # noqa: N802
        d = e.position() - self._last
        self._last = e.position()
        if self._button == Qt.MouseButton.LeftButton and not (e.modifiers() & Qt.KeyboardModifier.ShiftModifier):
            self.orbit.emit(d.x(), d.y())
        elif self._button != Qt.MouseButton.NoButton:
            self.pan.emit(d.x(), d.y())

    def mouseReleaseEvent(self, e) -> None:  # noqa: N802
        self._button = Qt.MouseButton.NoButton
        self.setCursor(Qt.CursorShape.OpenHandCursor)

    def mouseDoubleClickEvent(self, e) -> None:  # noqa: N802
        self.reset.emit()

    def wheelEvent(self, e) -> None:  # noqa: N802
        self.zoom.emit(e.angleDelta().y() / 120.0)


class FaceView(QWidget):
    """The 3D face dock. ``backend`` is ``""`` (not started), ``"open3d"``, ``"pyqtgraph"`` or ``"software"``.

    Signals: ``backend_changed(backend: str)``, ``track_requested()`` (the user asked to track the faces),
    ``style_changed(style: str)``, ``face_of_changed(face_of: str)`` (the user chose ``"synced"`` or
    ``"original"``), ``closing()`` (:meth:`shutdown` was called: whoever feeds the view stops its work).
    """

    backend_changed = Signal(str)
    track_requested = Signal()
    style_changed = Signal(str)
    face_of_changed = Signal(str)
    closing = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("panel")
        self.backend = ""
        self.style_name = "shaded"
        self.mesh: MeshFrame = placeholder_head()
        self.source: MeshSource | None = None
        self.position = 0
        self._renderer: Open3DRenderer | None = None
        self._thread = None
        self._gl = None
        self._sw = {"yaw": 0.0, "pitch": 0.0, "zoom": 1.0}
        col = QVBoxLayout(self)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(0)
        bar = QHBoxLayout()
        bar.setContentsMargins(8, 4, 8, 4)
        bar.setSpacing(0)
        self.styles = QButtonGroup(self)
        for k, (key, label) in enumerate((("shaded", "Shaded"), ("wireframe", "Wireframe"), ("textured", "Textured"))):
            b = QToolButton()
            b.setText(label)
            b.setIcon(icon(key))
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            b.setCheckable(True)
            b.setObjectName("segmentFirst" if k == 0 else "segmentLast" if k == 2 else "segment")
            b.setProperty("style", key)
            b.setChecked(key == "shaded")
            self.styles.addButton(b)
            bar.addWidget(b)
        self.styles.buttonToggled.connect(lambda b, on: on and self.set_style(b.property("style")))
        bar.addStretch(1)
        reset = QToolButton()
        reset.setIcon(icon("reset_view"))
        reset.setToolTip("Face the mesh again (or double-click the view)")
        reset.clicked.connect(self.reset_view)
        bar.addWidget(reset)
        col.addLayout(bar)
        # Which face: the sync's result or the clip (only while there is an up-to-date result).
        self.face_of_row = QWidget()
        row = QHBoxLayout(self.face_of_row)
        row.setContentsMargins(8, 0, 8, 4)
        row.setSpacing(0)
        shows = QLabel("Face of  ")
        shows.setObjectName("hint")
        row.addWidget(shows)
        self.face_of = QButtonGroup(self)
        for k, (key, label, tip) in enumerate((
                ("synced", "Synced result", "The face tracked on the sync's result: its mouth says the dub"),
                ("original", "Original clip", "The face of the clip as it was filmed"))):
            b = QToolButton()
            b.setText(label)
            b.setToolTip(tip)
            b.setCheckable(True)
            b.setObjectName("segmentFirst" if k == 0 else "segmentLast")
            b.setProperty("face_of", key)
            self.face_of.addButton(b)
            row.addWidget(b)
        self.face_of.buttonToggled.connect(lambda b, on: on and self.face_of_changed.emit(b.property("face_of")))
        row.addStretch(1)
        self.face_of_row.hide()
        col.addWidget(self.face_of_row)
        self.stack = QStackedLayout()
        self.canvas = _Canvas()
        self.canvas.orbit.connect(self._orbit)
        self.canvas.pan.connect(self._pan)
        self.canvas.zoom.connect(self._zoom)
        self.canvas.reset.connect(self.reset_view)
        self.stack.addWidget(self.canvas)
        holder = QWidget()
        holder.setLayout(self.stack)
        col.addWidget(holder, 1)
        foot = QHBoxLayout()
        foot.setContentsMargins(8, 4, 8, 6)
        self.status = QLabel("")
        self.status.setObjectName("hint")
        self.status.setWordWrap(True)
        foot.addWidget(self.status, 1)
        self.track_btn = QPushButton(icon("face3d"), "  Track Faces")
        self.track_btn.setToolTip("Find and follow the faces of the clip, to show the speaker's face here")
        self.track_btn.clicked.connect(self.track_requested)
        self.track_btn.hide()
        foot.addWidget(self.track_btn)
        col.addLayout(foot)
        self._update_status()

    # -- feeding ---------------------------------------------------------------------------------------
    def set_mesh_source(self, source: MeshSource | None) -> None:
        """Where per-frame meshes come from (None: the placeholder head)."""
        self.source = source
        if source is None:
            self.set_mesh(placeholder_head())
        else:
            self.show_frame(self.position, self._picture)

    def set_tracking(self, state: str) -> None:
        """``"none"`` (offer the Track button), ``"running"``, ``"done"`` or ``"unavailable"``."""
        self.track_btn.setVisible(state in ("none", "running"))
        self.track_btn.setEnabled(state == "none")
        self.track_btn.setText("  Tracking…" if state == "running" else "  Track Faces")

    def set_face_of(self, showing: str | None, synced: str = "ready", why: str = "") -> None:
        """Show which face the view shows: ``showing`` is ``"synced"``, ``"original"`` or None (no up-to-date
        sync result: the switch hides). ``synced``: ``"ready"``, ``"tracking"`` (the result's face is being
        tracked) or ``"failed"`` (``why`` says why); the Synced result button is only enabled when ready."""
        self.face_of_row.setVisible(showing is not None)
        if showing is None:
            return
        for b in self.face_of.buttons():
            key = b.property("face_of")
            if key == "synced":
                b.setEnabled(synced == "ready")
                b.setText("Synced result (tracking…)" if synced == "tracking" else "Synced result")
                b.setToolTip(why or "The face tracked on the sync's result: its mouth says the dub")
            if key == showing and not b.isChecked():
                self.face_of.blockSignals(True)  # shown, not chosen: no face_of_changed
                b.setChecked(True)
                self.face_of.blockSignals(False)

    @property
    def showing(self) -> str | None:
        """``"synced"`` or ``"original"`` while the switch is shown, else None."""
        if self.face_of_row.isHidden():
            return None
        b = self.face_of.checkedButton()
        return b.property("face_of") if b is not None else None

    def set_mesh(self, vertices: np.ndarray | MeshFrame, triangles: np.ndarray | None = None,
                 colors: np.ndarray | None = None, label: str = "") -> None:
        """Show a mesh: a :class:`MeshFrame`, or ``vertices (N, 3)``, ``triangles (M, 3)``, ``colors (N, 3) | None``."""
        mesh = vertices if isinstance(vertices, MeshFrame) else MeshFrame(vertices, triangles, colors, label)
        self.mesh = mesh
        self._update_status()
        self._send_mesh()

    _picture: np.ndarray | None = None

    def show_frame(self, index: int, picture: np.ndarray | None = None) -> None:
        """Follow the timeline: show the mesh of clip frame ``index`` (when a source is set)."""
        self.position = index
        self._picture = picture
        if self.source is None:
            return
        m = self.source(index, picture)
        if m is None:
            return
        self.set_mesh(*m) if isinstance(m, tuple) else self.set_mesh(m)

    # -- backends --------------------------------------------------------------------------------------
    def activate(self) -> None:
        """Start the renderer (first call only; later calls are free)."""
        if self.backend or self._renderer is not None:
            return
        self._renderer = Open3DRenderer()
        self._thread = start_worker(self._renderer, "lipsync-face3d")
        self._renderer.ready.connect(self._on_ready)
        self._renderer.failed.connect(self._on_failed)
        self._renderer.image_ready.connect(self.canvas.set_image)
        self._renderer.start(*_RENDER_SIZE)
        self._renderer.set_style(self.style_name)
        self._renderer.set_mesh(self.mesh)

    def _on_ready(self, description: str) -> None:
        self.backend = "open3d"
        self._why = ""
        self._describe = description
        self._update_status()
        self.backend_changed.emit(self.backend)

    def _on_failed(self, reason: str) -> None:
        self._stop_renderer()
        self._why = reason
        if self._try_pyqtgraph():
            self.backend = "pyqtgraph"
        else:
            self.backend = "software"
            self._render_software()
        self._update_status()
        self.backend_changed.emit(self.backend)

    def _try_pyqtgraph(self) -> bool:
        try:
            import pyqtgraph.opengl as gl  # needs PyOpenGL
        except Exception:  # noqa: BLE001
            return False
        from PySide6.QtGui import QGuiApplication

        if QGuiApplication.platformName() in ("offscreen", "minimal"):
            return False
        view = gl.GLViewWidget()
        view.setBackgroundColor(QColor(19, 20, 23))
        self._gl = (gl, view, None)
        self.stack.addWidget(view)
        self.stack.setCurrentWidget(view)
        self._send_mesh()
        return True

    def _send_mesh(self) -> None:
        if self.backend == "open3d" or (self._renderer is not None and not self.backend):
            self._renderer.set_mesh(self.mesh)
        elif self.backend == "pyqtgraph":
            gl, view, item = self._gl
            if item is not None:
                view.removeItem(item)
            v = self.mesh.vertices - self.mesh.vertices.mean(axis=0)
            colors = self.mesh.colors if self.mesh.colors is not None else np.tile(np.array([0.8, 0.66, 0.58]),
                                                                                (len(v), 1))
            item = gl.GLMeshItem(vertexes=v, faces=self.mesh.triangles,
                                 vertexColors=np.c_[colors, np.ones(len(v))] if self.style_name == "textured" else None,
                                 color=(0.8, 0.66, 0.58, 1.0), shader="shaded" if self.style_name != "textured" else None,
                                 drawEdges=self.style_name == "wireframe", drawFaces=self.style_name != "wireframe",
                                 smooth=True)
            view.addItem(item)
            self._gl = (gl, view, item)
        elif self.backend == "software":
            self._render_software()

    def _render_software(self) -> None:
        s = self._sw
        mesh = self.mesh
        if self.source is None:  # the placeholder, coarse enough to draw without OpenGL
            mesh = placeholder_head(rows=48, cols=64)
        self.canvas.set_image(render_software(mesh, *_RENDER_SIZE, s["yaw"], s["pitch"], s["zoom"],
                                              self.style_name))

    # -- controls --------------------------------------------------------------------------------------
    def set_style(self, style: str) -> None:
        """``shaded``, ``wireframe`` or ``textured``."""
        changed = style != self.style_name
        self.style_name = style
        if changed:
            self.style_changed.emit(style)
        for b in self.styles.buttons():
            if b.property("style") == style and not b.isChecked():
                b.setChecked(True)
        if self._renderer is not None:
            self._renderer.set_style(style)
        else:
            self._send_mesh()

    def reset_view(self) -> None:
        """Face the mesh again."""
        self._sw = {"yaw": 0.0, "pitch": 0.0, "zoom": 1.0}
        if self._renderer is not None:
            self._renderer.reset_view()
        elif self.backend == "software":
            self._render_software()

    def _orbit(self, dx: float, dy: float) -> None:
        if self._renderer is not None:
            self._renderer.orbit(dx, dy)
        elif self.backend == "software":
            self._sw["yaw"] += dx * 0.01
            self._sw["pitch"] = float(np.clip(self._sw["pitch"] + dy * 0.01, -1.4, 1.4))
            self._render_software()

    def _pan(self, dx: float, dy: float) -> None:
        if self._renderer is not None:
            self._renderer.pan(dx, dy)

    def _zoom(self, steps: float) -> None:
        if self._renderer is not None:
            self._renderer.zoom(steps)
        elif self.backend == "software":
            self._sw["zoom"] = float(np.clip(self._sw["zoom"] * 1.1 ** steps, 0.2, 6.0))
            self._render_software()

    # -- status and end ----------------------------------------------------------------------------------
    _why = ""
    _describe = ""

    def _update_status(self) -> None:
        if self.backend == "open3d":
            short, long = "Open3D", f"Rendered by {self._describe}."
        elif self.backend == "pyqtgraph":
            short = "pyqtgraph OpenGL (Open3D cannot render here)"
            long = f"Open3D cannot render here ({self._why}); showing pyqtgraph's OpenGL view instead."
        elif self.backend == "software":
            short = "Software preview (no OpenGL renderer here)"
            long = (f"Open3D cannot render here ({self._why}), nor OpenGL through pyqtgraph (it needs PyOpenGL "
                    "and a display); showing a simple software drawing.")
        else:
            short = long = "The 3D view starts when shown."
        mesh = self.mesh.label or f"{len(self.mesh.vertices):,} vertices"
        self.status.setText(f"{short} · {mesh}")
        self.status.setToolTip(f"{long}\n{mesh}.\nDrag to orbit, Shift-drag or right-drag to pan, wheel to zoom, "
                               "double-click to face the mesh again.")

    def _stop_renderer(self) -> None:
        if self._renderer is not None:
            if self._thread is not None and self._thread.isRunning():
                self._renderer.close()
            stop_worker(self._thread)
            self._renderer = None
            self._thread = None

    def shutdown(self) -> None:
        """Close the renderer and its thread (and tell the view's feeder, by ``closing``)."""
        self.closing.emit()
        self._stop_renderer()
