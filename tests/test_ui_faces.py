"""Faces in the app: Track Faces runs as a job, then the 3D view and the mesh overlay follow the timeline,
and the face exports as an OBJ sequence."""

from __future__ import annotations

import pytest

from ui_fixtures import main_window, no_threads_left, open_media, talking_media, ui_home  # noqa: F401

pytest.importorskip("mediapipe")


@pytest.mark.slow
def test_track_faces_then_3d_view_overlay_and_obj_export(qtbot, main_window, talking_media, tmp_path):
    win = main_window
    assert win.caps.face_mesh
    open_media(qtbot, win, talking_media["clip"], talking_media["dub"])
    jobs = win.session.jobs
    with qtbot.waitSignal(win.session.faces_changed, timeout=120000,
                          check_params_cb=lambda faces: faces is not None):
        with qtbot.waitSignals([jobs.started, jobs.finished], order="strict", timeout=120000):
            win.actions_.track_faces.trigger()
    assert "1 face found" in win.run_panel.stage.text()
    assert win.faces.meshes is not None and win.face_view.source is not None

    # The 3D view shows the tracked face of the frame on screen.
    win.face_dock.raise_()
    qtbot.waitUntil(lambda: win.face_view.isVisible(), timeout=5000)
    win.session.seek(12)
    qtbot.waitUntil(lambda: win.face_view.mesh.label.startswith("Face ") and "frame 13" in win.face_view.mesh.label,
                    timeout=10000)
    assert len(win.face_view.mesh.vertices) == 468
    # The overlay draws the mesh on the picture, where the face is.
    win.viewer_bar.overlay.setChecked(True)
    qtbot.waitUntil(lambda: win.viewer._overlay is not None, timeout=5000)
    pts = win.viewer._overlay[0]
    assert pts.shape == (468, 2) and 40 < pts[:, 0].mean() < 200 and 40 < pts[:, 1].mean() < 200

    # OBJ sequence export of the first second, vertex colours.
    win.open_export()
    dlg = win.export_dialog
    dlg.tabs.setCurrentIndex(2)
    out = tmp_path / "meshes"
    dlg.path_edit.setText(str(out))
    dlg.obj_to.setValue(1.0)
    dlg.obj_colours.setChecked(True)
    with qtbot.waitSignals([jobs.started, jobs.finished], order="strict", timeout=120000):
        assert dlg.start()
    objs = sorted(out.glob("frame_*.obj"))
    assert len(objs) == 25 and (out / "sequence.json").is_file()
    assert "25 meshes" in dlg.status.text() and not dlg.show_btn.isHidden()
    dlg.close()

    # Export > 3D Face Video: the original face (no sync has run), turning, with the clip's sound.
    from lipsync_studio.media.video import probe_video

    win.open_export()
    dlg = win.export_dialog
    dlg.tabs.setCurrentIndex(3)
    assert dlg.f3d_face.currentData() == "original" and dlg.path_edit.text().endswith("_face3d.mp4")
    video = tmp_path / "face3d.mp4"
    dlg.path_edit.setText(str(video))
    dlg.f3d_camera.setCurrentIndex(dlg.f3d_camera.findData("turntable"))
    with qtbot.waitSignals([jobs.started, jobs.finished], order="strict", timeout=120000):
        assert dlg.start()
    assert probe_video(video).n_frames == probe_video(talking_media["clip"]).n_frames
    assert "face3d.mp4" in dlg.status.text() and not dlg.show_btn.isHidden()
    dlg.close()
