"""Rendering the 3D face off the GUI thread: Open3D's legacy Visualizer in a hidden window.

Open3D cannot be embedded as a Qt widget, and its Filament renderer needs Vulkan (unusable on a software
driver). Its legacy ``Visualizer`` (GLFW + OpenGL) renders into a hidden window in about 20–50 ms a frame;
the frame is captured (``capture_screen_float_buffer``) and shown by the Qt view, and mouse drags become
``ViewControl`` calls. All Open3D calls happen in this worker's thread. Requests coalesce: the newest mesh
and the sum of the camera moves since the last frame make the next frame.

:func:`render_software` is the last resort when no OpenGL renders at all: a depth-sorted, flat-shaded
drawing in numpy, good enough to see the face and orbit it.
"""

from __future__ import annotations

import os
import threading

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal, Slot

from ..app.mesh import MeshFrame

_BG = (0.075, 0.08, 0.09)
_SKIN = (0.80, 0.66, 0.58)
#: The view a face opens in: turned a little, as a sculptor looks at it (ViewControl.rotate pixels).
_THREE_QUARTER = (110.0, -25.0)


class Open3DRenderer(QObject):
    """Signals: ``ready(description: str)`` (the renderer started), ``failed(reason: str)`` (Open3D cannot render
    here; the view falls back), ``image_ready(image: ndarray)`` (``(H, W, 3) uint8`` RGB frame)."""

    ready = Signal(str)
    failed = Signal(str)
    image_ready = Signal(object)
    _wake = Signal()
    _start = Signal(int, int)
    _close = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._mesh: MeshFrame | None = None
        self._mesh_dirty = False
        self._style = "shaded"
        self._style_dirty = True
        self._orbit = [0.0, 0.0]
        self._pan = [0.0, 0.0]
        self._zoom = 0.0
        self._reset = False
        self._vis = None
        self._geom = None
        self._topology: tuple[int, int] | None = None
        self.frames_rendered = 0
        self._wake.connect(self._render)
        self._start.connect(self._init)
        self._close.connect(self._destroy, Qt.ConnectionType.BlockingQueuedConnection)

    # -- GUI-thread API --------------------------------------------------------------------------------
    def start(self, width: int, height: int) -> None:
        """Create the hidden Open3D window (answered by ``ready`` or ``failed``)."""
        self._start.emit(width, height)

    def close(self) -> None:
        """Destroy the Open3D window (blocks until the worker thread did it)."""
        self._close.emit()

    def set_mesh(self, mesh: MeshFrame) -> None:
        """Render ``mesh`` next."""
        with self._lock:
            self._mesh = mesh
            self._mesh_dirty = True
        self._wake.emit()

    def set_style(self, style: str) -> None:
        """``shaded``, ``wireframe`` or ``textured`` (vertex colours)."""
        with self._lock:
            self._style = style
            self._style_dirty = True
        self._wake.emit()

    def orbit(self, dx: float, dy: float) -> None:
        """Turn the camera by a mouse drag of ``dx, dy`` pixels."""
        with self._lock:
            self._orbit[0] += dx
            self._orbit[1] += dy
        self._wake.emit()

    def pan(self, dx: float, dy: float) -> None:
        """Move the camera sideways by a drag of ``dx, dy`` pixels."""
        with self._lock:
            self._pan[0] += dx
            self._pan[1] += dy
        self._wake.emit()

    def zoom(self, steps: float) -> None:
        """Zoom by wheel ``steps`` (positive: closer)."""
        with self._lock:
            self._zoom += steps
        self._wake.emit()

    def reset_view(self) -> None:
        """Face the mesh again."""
        with self._lock:
            self._reset = True
        self._wake.emit()

    # -- worker thread ---------------------------------------------------------------------------------
    @Slot(int, int)
    def _init(self, width: int, height: int) -> None:
        if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY") and os.name == "posix" \
                and not _is_macos():
            self.failed.emit("Open3D needs a display to render (no DISPLAY is set)")
            return
        try:
            import open3d as o3d
        except Exception as exc:  # noqa: BLE001 - any import failure is a reason to fall back
            self.failed.emit(f"Open3D cannot be loaded ({exc})")
            return
        try:
            o3d.utility.set_verbosity_level(o3d.utility.VerbosityLevel.Error)
            vis = o3d.visualization.Visualizer()
            if not vis.create_window(window_name="Lipsync Studio face", width=width, height=height, visible=False):
                self.failed.emit("Open3D could not open an OpenGL window here")
                return
            opt = vis.get_render_option()
            opt.background_color = np.asarray(_BG)
            opt.mesh_show_back_face = True
            opt.light_on = True
        except Exception as exc:  # noqa: BLE001
            self.failed.emit(f"Open3D could not start its renderer ({exc})")
            return
        self._vis = vis
        self.ready.emit(f"Open3D {o3d.__version__} (OpenGL, offscreen)")
        self._render()

    @Slot()
    def _destroy(self) -> None:
        if self._vis is not None:
            try:
                self._vis.destroy_window()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass
            self._vis = None

    @Slot()
    def _render(self) -> None:
        vis = self._vis
        if vis is None:
            return
        import open3d as o3d

        with self._lock:
            mesh, mesh_dirty, self._mesh_dirty = self._mesh, self._mesh_dirty, False
            style, style_dirty, self._style_dirty = self._style, self._style_dirty, False
            orbit, self._orbit = self._orbit, [0.0, 0.0]
            pan, self._pan = self._pan, [0.0, 0.0]
            zoom, self._zoom = self._zoom, 0.0
            reset, self._reset = self._reset, False
        if mesh is None:
            return
        refit = False
        if mesh_dirty or style_dirty:
            topology = (len(mesh.vertices), len(mesh.triangles))
            first = self._geom is None
            if first or topology != self._topology:
                if self._geom is not None:
                    vis.remove_geometry(self._geom, reset_bounding_box=False)
                self._geom = o3d.geometry.TriangleMesh()
                self._geom.triangles = o3d.utility.Vector3iVector(mesh.triangles)
                self._geom.vertices = o3d.utility.Vector3dVector(mesh.vertices)
                self._paint(mesh, style)
                # Another kind of mesh (the placeholder head in units, a tracked face in mm): fit the camera
                # to it, or the camera may sit inside it and show nothing.
                refit = not first and not reset
                vis.add_geometry(self._geom, reset_bounding_box=True)
                self._topology = topology
            else:
                self._geom.vertices = o3d.utility.Vector3dVector(mesh.vertices)
                self._paint(mesh, style)
                vis.update_geometry(self._geom)
            opt = vis.get_render_option()
            opt.mesh_show_wireframe = style == "wireframe"
        ctl = vis.get_view_control()
        if reset:
            vis.reset_view_point(True)
        if reset or refit or (mesh_dirty and self.frames_rendered == 0):
            ctl.rotate(*_THREE_QUARTER)
        if orbit != [0.0, 0.0]:
            ctl.rotate(orbit[0] * 2.0, orbit[1] * 2.0)
        if pan != [0.0, 0.0]:
            ctl.translate(pan[0], pan[1])
        if zoom:
            ctl.scale(-zoom * 2.0)
        vis.poll_events()
        vis.update_renderer()
        buf = np.asarray(vis.capture_screen_float_buffer(do_render=True))
        self.frames_rendered += 1
        self.image_ready.emit((np.clip(buf, 0, 1) * 255).astype(np.uint8))

    def _paint(self, mesh: MeshFrame, style: str) -> None:
        import open3d as o3d

        g = self._geom
        g.compute_vertex_normals()
        if style == "textured" and mesh.colors is not None:
            g.vertex_colors = o3d.utility.Vector3dVector(mesh.colors)
        elif style == "wireframe":
            g.paint_uniform_color((0.35, 0.38, 0.42))
        else:
            g.paint_uniform_color(_SKIN)


def _is_macos() -> bool:
    import sys

    return sys.platform == "darwin"


def render_software(mesh: MeshFrame, width: int, height: int, yaw: float, pitch: float, zoom: float,
                    style: str) -> np.ndarray:
    """Draw ``mesh`` without OpenGL: ``(height, width, 3) uint8``; a depth-sorted flat-shaded preview.

    ``yaw``/``pitch`` in radians, ``zoom`` a factor. Meshes of more than 12,000 triangles are thinned (holes
    show; the software drawing is a last resort).
    """
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPolygonF

    v = mesh.vertices - mesh.vertices.mean(axis=0)
    v = v / max(1e-9, np.abs(v).max())
    cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    rot = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]]) @ np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    p = v @ rot.T
    tris = mesh.triangles[:: max(1, int(np.ceil(len(mesh.triangles) / 12000)))]
    a, b, c = p[tris[:, 0]], p[tris[:, 1]], p[tris[:, 2]]
    n = np.cross(b - a, c - a)
    n /= np.linalg.norm(n, axis=1, keepdims=True) + 1e-12
    light = np.clip(np.abs(n @ np.array([0.3, 0.4, 0.87])), 0, 1)
    order = np.argsort((a[:, 2] + b[:, 2] + c[:, 2]))
    s = 0.42 * min(width, height) * zoom
    cx, cyy = width / 2, height / 2
    img = QImage(width, height, QImage.Format.Format_RGB888)
    img.fill(QColor(int(_BG[0] * 255), int(_BG[1] * 255), int(_BG[2] * 255)))
    painter = QPainter(img)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, style == "wireframe")
    base = np.array(_SKIN)
    for k in order:
        pts = [QPointF(cx + q[0] * s, cyy - q[1] * s) for q in (a[k], b[k], c[k])]
        if style == "wireframe":
            painter.setPen(QPen(QColor(150, 160, 172), 0.6))
            painter.setBrush(QColor(30, 33, 37))
        else:
            col = mesh.colors[tris[k]].mean(axis=0) if style == "textured" and mesh.colors is not None else base
            rgb = np.clip(col * (0.25 + 0.75 * light[k]) * 255, 0, 255).astype(int)
            painter.setPen(QPen(QColor(*rgb), 0.5))
            painter.setBrush(QColor(*rgb))
        painter.drawPolygon(QPolygonF(pts))
    painter.end()
    ptr = img.constBits()
    arr = np.frombuffer(ptr, np.uint8).reshape(height, img.bytesPerLine())[:, : width * 3]
    return arr.reshape(height, width, 3).copy()
