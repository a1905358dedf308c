"""A VR clip in the app: it opens as what it is, its stereo views show a flat window into the sphere, and a drag
in the viewer turns the window."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from ui_fixtures import main_window, no_threads_left, open_media, ui_home  # noqa: F401

pytest.importorskip("cv2")


def _drag_left(qtbot, widget, dx: int) -> None:
    """Drag the mouse ``dx`` pixels to the left across the middle of ``widget``."""
    from PySide6.QtCore import QPoint, Qt

    start = QPoint(widget.width() // 2, widget.height() // 2)
    qtbot.mousePress(widget, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(widget, start - QPoint(dx, 0))
    qtbot.mouseRelease(widget, Qt.MouseButton.LeftButton, pos=start - QPoint(dx, 0))


@pytest.mark.slow
def test_a_vr_clip_shows_a_window_that_a_drag_turns(qtbot, main_window, tmp_path):
    from lipsync_studio.media.writer import VideoWriter
    from lipsync_studio.samples import talking_face_frames
    from lipsync_studio.samples.vr_scene import VRTalkingScene
    from lipsync_studio.stereo.layout import join

    scene = VRTalkingScene("360", 160, 40.0, 0.0)
    clip = tmp_path / "room360.mp4"
    with VideoWriter(clip, Fraction(25), scene.eye_w, 2 * scene.eye_h) as w:
        w.vr_metadata = scene.metadata()
        for f in talking_face_frames(np.linspace(0, 1, 6), size=160):
            w.write(join(*scene.eyes(f), "tb"))
    win = main_window
    open_media(qtbot, win, clip)
    qtbot.waitUntil(lambda: win.viewer.vr_window and win.session.layout == "tb", timeout=15000)
    win.viewer_bar.set_mode("side-by-side")
    qtbot.waitUntil(lambda: win.viewer.bundle is not None and win.viewer.bundle.view is not None, timeout=10000)
    first = win.viewer.bundle.view
    assert first.shape == (480, 960, 3)  # the window's left and right pictures
    assert win._window.yaw == 0.0
    # Drag to the left: the window turns right, towards the head, and a new picture arrives.
    v = win.viewer
    _drag_left(qtbot, v, 120)
    assert win._window.yaw > 5.0
    # A picture asked for before the drag may still arrive first (a new array of the old window, on a busy machine):
    # wait for the turned one.
    qtbot.waitUntil(lambda: win.viewer.bundle.view is not first
                    and np.abs(win.viewer.bundle.view.astype(int) - first.astype(int)).mean() > 5, timeout=10000)
    assert np.abs(win.viewer.bundle.view.astype(int) - first.astype(int)).mean() > 5
    win.viewer_bar.set_mode("anaglyph")
    qtbot.waitUntil(lambda: win.viewer.bundle.view is not None and win.viewer.bundle.view.shape == (480, 480, 3),
                    timeout=10000)
    v.grab().save(str(tmp_path / "vr_window.png"))


@pytest.mark.slow
def test_a_spatial_video_opens_as_a_stereo_pair(qtbot, main_window, tmp_path):
    """Our MV-HEVC sample (two views in one HEVC stream): the app reads its views as the two eyes, so the stereo
    views work on it as on a side-by-side clip."""
    from pathlib import Path

    clip = Path(__file__).parent / "data" / "spatial_talk_mvhevc.mov"
    win = main_window
    open_media(qtbot, win, clip)
    qtbot.waitUntil(lambda: win.session.layout == "sbs", timeout=15000)
    assert not win.viewer.vr_window  # a flat stereo pair, not a sphere
    win.viewer_bar.set_mode("anaglyph")
    qtbot.waitUntil(lambda: win.viewer.bundle is not None and win.viewer.bundle.view is not None
                    and win.viewer.bundle.view.shape == (256, 256, 3), timeout=10000)
    from lipsync_studio.stereo.layout import StereoReader
    from lipsync_studio.stereo.views import anaglyph_view

    with StereoReader(clip) as reader:
        left, right = reader.pair(win.viewer.bundle.source)
    view = win.viewer.bundle.view.astype(int)
    # The anaglyph of the two views, not of one view twice (the eyes are 4-12 px apart).
    assert np.abs(view - anaglyph_view(left, right)).mean() < 1
    assert np.abs(view - anaglyph_view(left, left)).mean() > 3
    v = win.viewer
    v.grab().save(str(tmp_path / "spatial_anaglyph.png"))


@pytest.mark.slow
def test_a_one_eye_360_clip_opens_as_a_window_into_its_sphere(qtbot, main_window, tmp_path):
    from lipsync_studio.media.writer import VideoWriter
    from lipsync_studio.samples import talking_face_frames
    from lipsync_studio.samples.vr_scene import VRTalkingScene

    scene = VRTalkingScene("360", 160, 40.0, 0.0, mono=True)
    clip = tmp_path / "pano360.mp4"
    with VideoWriter(clip, Fraction(25), scene.eye_w, scene.eye_h) as w:
        w.vr_metadata = scene.metadata()
        for f in talking_face_frames(np.linspace(0, 1, 6), size=160):
            w.write(scene.picture(f))
    win = main_window
    open_media(qtbot, win, clip)
    qtbot.waitUntil(lambda: win.viewer.vr_window and win.viewer.vr_mono, timeout=15000)
    assert win.viewer.mode == "original" and win.session.layout == "mono"
    win.session.frames.request(win.session.position)
    qtbot.waitUntil(lambda: win.viewer.bundle is not None and win.viewer.bundle.view is not None, timeout=10000)
    first = win.viewer.bundle.view
    assert first.shape == (480, 480, 3) and win.viewer.bundle.view_of == "original"
    assert win.viewer._frame_size() == (480, 480)  # the window is what is shown, not the whole panorama
    v = win.viewer
    _drag_left(qtbot, v, 120)
    assert win._window.yaw > 5.0
    # The window turned: its picture changes (a frame asked for before the drag may still arrive first).
    qtbot.waitUntil(lambda: win.viewer.bundle.view is not None and np.abs(
        win.viewer.bundle.view.astype(int) - first.astype(int)).mean() > 5, timeout=10000)
    v.grab().save(str(tmp_path / "vr_mono_window.png"))
