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


def _gap(mesh) -> float:
    """The inner-lip gap of a 3D view mesh, over its eye-corner distance."""
    from lipsync_studio.metrics.steadiness import lip_gap

    return float(lip_gap(mesh.vertices[None])[0])


@pytest.mark.slow
def test_after_a_sync_the_3d_view_shows_the_synced_mouth_and_switches_back(qtbot, main_window, talking_media):
    import numpy as np

    from lipsync_studio.face.analysis import analyse_faces
    from lipsync_studio.metrics.steadiness import lip_gap

    win = main_window
    open_media(qtbot, win, talking_media["clip"], talking_media["dub"])
    win.run_panel.engine.setCurrentIndex(win.run_panel.engine.findData("builtin"))
    win.run_panel.measure.setChecked(False)
    win.face_dock.raise_()
    qtbot.waitUntil(lambda: win.face_view.isVisible(), timeout=5000)
    assert win.face_view.showing is None  # no result yet: no switch
    jobs = win.session.jobs
    with qtbot.waitSignals([jobs.started, jobs.finished], order="strict", timeout=180000):
        win.run()
    # The result's face is tracked in the background; then the view shows it, and says so.
    qtbot.waitUntil(lambda: win.faces.showing == "synced", timeout=120000)
    assert win.face_view.showing == "synced" and not win.face_view.face_of_row.isHidden()
    result = win.session.result

    def shown(pos: int, of: str):
        win.session.seek(pos)
        qtbot.waitUntil(lambda: f"frame {pos + 1 if of == 'Synced result' else src[pos] + 1}:" in
                        win.face_view.mesh.label and win.face_view.mesh.label.startswith(of), timeout=10000)
        return win.face_view.mesh

    src = win.session.source_frames()
    positions = list(range(0, len(src), 3))
    synced = np.array([_gap(shown(p, "Synced result")) for p in positions])
    # FaceMesh on the result video and on the clip, at the same output frames.
    on_result = lip_gap(analyse_faces(result.output).speaker_track().raw, dims=2)[positions]
    on_clip = lip_gap(analyse_faces(talking_media["clip"]).speaker_track().raw, dims=2)[src[positions]]
    ok = ~np.isnan(on_result) & ~np.isnan(on_clip)
    assert ok.sum() >= 0.8 * len(positions)
    r_result = np.corrcoef(synced[ok], on_result[ok])[0, 1]
    r_clip = np.corrcoef(synced[ok], on_clip[ok])[0, 1]
    assert r_result >= 0.9 and r_result > r_clip + 0.1, (r_result, r_clip)

    # Switching to the original clip shows the clip's face at the same frames: its own mouth.
    original_btn = next(b for b in win.face_view.face_of.buttons() if b.property("face_of") == "original")
    original_btn.click()
    assert win.faces.showing == "original" and win.face_view.showing == "original"
    original = np.array([_gap(shown(p, "Face ")) for p in positions])
    assert np.corrcoef(original[ok], on_clip[ok])[0, 1] >= 0.9
    assert np.abs(original - synced).max() > 0.05  # where the dub differs, the mouths differ

    # Back to the result; then an out-of-date result (another dub offset) returns the view to the clip's face.
    synced_btn = next(b for b in win.face_view.face_of.buttons() if b.property("face_of") == "synced")
    synced_btn.click()
    shown(positions[3], "Synced result")
    win.session.set_offset(0.2)
    assert not win.session.has_fresh_result()
    assert win.faces.showing == "original" and win.face_view.showing is None
    src = win.session.source_frames()
    shown(positions[3], "Face ")


@pytest.mark.slow
def test_one_person_seen_as_two_faces_is_chosen_as_one_in_the_face_box(qtbot, main_window, tmp_path):
    """A clip of two shots of one speaker that the tracker could not join (a cutaway between them): the Face box
    offers both faces as one person, as the command line's ``--face A,B`` does; chosen, the run syncs both, the
    3D view follows the face through both shots, and a saved project keeps the choice."""
    import numpy as np
    from conftest import write_tone, write_two_shot_clip

    from lipsync_studio.app.project import load_project

    win = main_window
    clip = write_two_shot_clip(tmp_path / "two_shots.mp4")
    open_media(qtbot, win, clip, write_tone(tmp_path / "dub.wav", 4.0))
    with qtbot.waitSignal(win.session.faces_changed, timeout=120000, check_params_cb=lambda f: f is not None):
        win.actions_.track_faces.trigger()
    box = win.run_panel.face
    items = {box.itemText(k): box.itemData(k) for k in range(box.count())}
    ids = sorted(win.session.faces.tracks)
    assert len(ids) == 2 and box.isEnabled()
    pair = [d for d in items.values() if isinstance(d, tuple)]
    assert len(pair) == 1 and sorted(pair[0]) == ids
    assert any(t.startswith(f"Faces {pair[0][0]} + {pair[0][1]} as one person") for t in items)
    box.setCurrentIndex(list(items.values()).index(pair[0]))
    assert win.session.face_id == pair[0] and win.session.sync_options().face == pair[0]
    # The 3D view's face is there in both shots (each face alone covers one of them).
    meshes = win.faces.meshes
    assert meshes.track.present[:30].any() and meshes.track.present[70:].any()
    assert sorted(win.session.faces.tracks) == ids  # the clip's own tracks are left apart
    # Saved and opened again, the project still names both.
    path = tmp_path / "two.lsproj"
    win.session.save_project(path)
    project, _ = load_project(path)
    assert project.face == pair[0]
    assert np.all(np.isin(project.face, ids))
