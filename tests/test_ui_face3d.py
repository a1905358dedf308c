"""The 3D face view: Open3D renders it (under an X server), a software drawing when nothing else can,
mouse drags orbit it, and it takes any mesh in the documented form."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from lipsync_studio.app.mesh import MeshFrame, edges_of, placeholder_head
from ui_fixtures import no_threads_left  # noqa: F401


def test_mesh_frames_check_their_shapes():
    v = np.zeros((4, 3))
    t = np.array([[0, 1, 2], [0, 2, 3]])
    m = MeshFrame(v, t, np.ones((4, 3)) * 2)
    assert m.colors.max() == 1.0  # clipped to [0, 1]
    with pytest.raises(ValueError):
        MeshFrame(np.zeros((4, 2)), t)
    with pytest.raises(ValueError):
        MeshFrame(v, np.array([[0, 1, 9]]))
    with pytest.raises(ValueError):
        MeshFrame(v, t, np.ones((3, 3)))
    assert len(edges_of(t)) == 5


def test_placeholder_head_is_a_closed_smooth_surface_with_a_mouth():
    closed, opened = placeholder_head(mouth_open=0.0), placeholder_head(mouth_open=1.0)
    assert closed.vertices.shape == opened.vertices.shape and len(closed.triangles) > 10_000
    assert closed.colors is not None and "Placeholder" in closed.label
    assert not np.allclose(closed.vertices, opened.vertices)


def test_software_drawing_when_no_opengl_renders(qtbot, no_threads_left):
    from lipsync_studio.ui.face_view import FaceView

    view = FaceView()
    qtbot.addWidget(view)
    view.resize(420, 480)
    view.show()
    view._on_failed("no OpenGL in this test")  # what the Open3D renderer reports on a machine without GL
    assert view.backend == "software" and "Software" in view.status.text()
    first = view.canvas._arr.copy()
    assert first.std() > 5  # a face is drawn, not a blank
    view.canvas.orbit.emit(80.0, 0.0)
    turned = view.canvas._arr.copy()
    assert not np.array_equal(first, turned)
    view.set_style("wireframe")
    assert not np.array_equal(view.canvas._arr, turned)
    # Any mesh in the documented form: (N, 3) vertices, (M, 3) triangles, optional (N, 3) colours.
    v = np.array([[-1, -1, 0], [1, -1, 0], [0, 1, 0.5]], float)
    view.set_mesh(v, np.array([[0, 1, 2]]), np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], float), label="triangle")
    assert "triangle" in view.status.text()
    view.shutdown()


_OPEN3D_SCRIPT = textwrap.dedent("""
    import sys, time
    import numpy as np
    from PySide6.QtWidgets import QApplication
    from lipsync_studio.ui.app import make_app
    from lipsync_studio.ui.face_view import FaceView
    from lipsync_studio.ui.threads import running_threads

    app = make_app()
    view = FaceView(); view.resize(500, 560); view.show()
    view.activate()

    def wait(cond, s=60):
        t = time.time()
        while not cond() and time.time() - t < s:
            app.processEvents(); time.sleep(0.01)
        return cond()

    assert wait(lambda: view.backend != "" and view.canvas._arr is not None), view.backend
    print("backend", view.backend, view.status.text())
    assert view.backend == "open3d", view.status.text()
    first = view.canvas._arr.copy()
    assert first.std() > 5
    n = view._renderer.frames_rendered
    view.canvas.orbit.emit(120.0, 30.0)
    assert wait(lambda: view._renderer.frames_rendered > n), ("no frame after orbit", n)
    assert wait(lambda: not np.array_equal(view.canvas._arr, first), 10), "the picture did not turn"
    v = np.random.default_rng(0).normal(size=(200, 3))
    t = np.random.default_rng(1).integers(0, 200, size=(300, 3))
    n = view._renderer.frames_rendered
    view.set_mesh(v, t, None, label="random")
    assert wait(lambda: view._renderer.frames_rendered > n), ("no frame after set_mesh", n)
    # Another kind of mesh, 100x larger (a tracked face in mm after the placeholder): the camera fits it.
    from lipsync_studio.app.mesh import placeholder_head
    head = placeholder_head(rows=48, cols=64)
    n = view._renderer.frames_rendered
    view.set_mesh(head.vertices * 100.0, head.triangles, head.colors, label="mm")
    assert wait(lambda: view._renderer.frames_rendered > n), ("no frame after the mm mesh", n)
    assert wait(lambda: view.status.text().endswith("mm") and view.canvas._arr is not None)
    for _ in range(50):
        app.processEvents(); time.sleep(0.01)
    arr = view.canvas._arr.astype(int)
    drawn = (np.abs(arr - arr[0, 0]).sum(axis=-1) > 30).mean()
    assert 0.05 < drawn < 0.9, ("the head is not in view", drawn)
    view.shutdown()
    assert running_threads() == [], running_threads()
    print("ok")
""")


@pytest.mark.xvfb
def test_open3d_renders_the_face_and_follows_mouse_drags(tmp_path):
    if not os.environ.get("DISPLAY"):
        pytest.skip("needs an X server with GLX (the test suite runs under xvfb-run)")
    pytest.importorskip("open3d")
    env = dict(os.environ, QT_QPA_PLATFORM="xcb", LIPSYNC_STUDIO_HOME=str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", _OPEN3D_SCRIPT], capture_output=True, text=True, timeout=180,
                          env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ok" in proc.stdout
