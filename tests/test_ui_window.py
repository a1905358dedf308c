"""The main window as a user drives it: open, scrub, run, cancel, export, bad files, settings.

Real widgets, real clips, the real worker threads; every test fails if a worker thread outlives it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QObject, QTimer, Slot

from lipsync_studio.settings import Settings
from ui_fixtures import main_window, no_threads_left, open_media, talking_media, ui_home  # noqa: F401


def test_opening_a_clip_and_dub_shows_picture_waveforms_and_timeline(qtbot, main_window, talking_media):
    win = main_window
    with qtbot.waitSignals([win.session.waveform_ready, win.session.waveform_ready], timeout=15000):
        open_media(qtbot, win, talking_media["clip"], talking_media["dub"])
    s = win.session
    assert s.clip.width == 240 and s.dub.audio.duration_s > 3
    # The timeline follows the dub (longer than the clip): the picture is ping-ponged past the clip's end.
    assert s.timeline.n_out > s.clip.n_frames
    assert s.timeline.source_index(s.clip.n_frames) == s.clip.n_frames - 2
    assert win.viewer.image("original").shape == (240, 240, 3)
    assert win.timeline._waves["clip"] is not None and win.timeline._waves["dub"] is not None
    assert win.run_panel.run_btn.isEnabled()
    assert "240×240" in win.status_line.clip.text()
    assert s.settings.recent_clips[0] == str(talking_media["clip"])
    qtbot.waitUntil(lambda: len(win.timeline._thumbs) > 0, timeout=10000)


def test_an_anamorphic_clip_is_shown_as_wide_as_players_show_it(qtbot, main_window, tmp_path):
    """A 16:9 PAL clip (720 x 576 stored, pixels 64:45) is drawn 16:9, not squeezed to 5:4, and the status line
    says how it is shown."""
    from fractions import Fraction

    from conftest import write_clip

    clip = write_clip(tmp_path / "pal.mp4", 5, size=(720, 576), sample_aspect=Fraction(64, 45))
    win = main_window
    open_media(qtbot, win, clip)
    qtbot.waitUntil(lambda: win.viewer.image("original") is not None, timeout=10000)
    w, h = win.viewer._target().width(), win.viewer._target().height()
    assert w / h == pytest.approx(16 / 9, abs=0.01)
    assert "720×576 (shown 1024×576)" in win.status_line.clip.text()


def test_a_phone_portrait_photo_is_shown_upright_and_named_a_photo(qtbot, main_window, tmp_path):
    """A phone stores a portrait photo on its side with an EXIF note to turn it: the app shows it as a viewer
    does, and the status line calls it a photo (it said "mjpeg ... 25 fps ... 0.0 s")."""
    from conftest import write_jpeg

    shown = np.full((200, 120, 3), 120, np.uint8)
    shown[:30] = (230, 40, 40)  # red along the top of the picture as shown
    photo = write_jpeg(tmp_path / "portrait.jpg", np.ascontiguousarray(np.rot90(shown, 1)), orientation=6)
    win = main_window
    open_media(qtbot, win, photo)
    qtbot.waitUntil(lambda: win.viewer.image("original") is not None, timeout=10000)
    img = win.viewer.image("original")
    assert img.shape == (200, 120, 3) and img[:20, :, 0].mean() > 200 and img[-20:, :, 0].mean() < 150
    assert win.status_line.clip.text() == "120×200 · photo (JPEG) · turned upright"
    # A portrait cut out of its background: named transparent (its exports in ProRes or VP9 keep that).
    import cv2

    cut = np.dstack([shown, np.where(np.arange(120) < 100, 255, 0).astype(np.uint8)[None, :].repeat(200, 0)])
    cv2.imwrite(str(tmp_path / "cutout.png"), cut)
    open_media(qtbot, win, tmp_path / "cutout.png")
    qtbot.waitUntil(lambda: "PNG" in win.status_line.clip.text(), timeout=10000)
    assert win.status_line.clip.text() == "120×200 · photo (PNG) · transparent"


def test_an_interlaced_clip_is_shown_one_moment_at_a_time_and_named_so(qtbot, main_window, tmp_path):
    """A 1080i-style clip (two fields a frame, the head moving between them) is shown as a player's deinterlacer
    shows it, without combs, and the status line says it is interlaced."""
    import av
    from conftest import field_mismatch, write_interlaced_talking

    clip = write_interlaced_talking(tmp_path / "tff.mov")
    with av.open(str(clip)) as c:
        woven = [f.to_ndarray(format="rgb24") for _, f in zip(range(9), c.decode(video=0))]
    win = main_window
    open_media(qtbot, win, clip)
    assert "25 fps interlaced" in win.status_line.clip.text()
    win.timeline.seek_requested.emit(8)
    qtbot.waitUntil(lambda: win.viewer.bundle is not None and win.viewer.bundle.position == 8
                    and win.viewer.bundle.final, timeout=10000)
    assert field_mismatch(win.viewer.image("original")) < 0.6 * field_mismatch(woven[8])


def test_scrubbing_shows_the_frame_asked_for_last(qtbot, main_window, talking_media):
    win = main_window
    open_media(qtbot, win, talking_media["clip"])
    first = win.viewer.image("original").copy()
    shown = win.viewer.frames_shown
    # A burst of slider moves: only the last one has to be served, and it must be.
    for pos in (5, 17, 3, 29, 40):
        win.timeline.seek_requested.emit(pos)
    qtbot.waitUntil(lambda: win.viewer.bundle is not None and win.viewer.bundle.position == 40
                    and win.viewer.bundle.final, timeout=5000)
    assert win.viewer.frames_shown > shown
    assert not np.array_equal(win.viewer.image("original"), first)
    assert win.transport.timecode.text() == "00:00:01:15"
    # Keyboard: a frame step, and Home.
    win.actions_.next_frame.trigger()
    qtbot.waitUntil(lambda: win.viewer.bundle.position == 41 and win.viewer.bundle.final, timeout=5000)
    win.actions_.to_start.trigger()
    qtbot.waitUntil(lambda: win.viewer.bundle.position == 0, timeout=5000)


def test_a_camera_clips_own_time_code_is_shown_and_typed(qtbot, main_window, tmp_path):
    """A clip starting at 10:00:00:00 (a camera's time code): the transport and the ruler count from it, and a time
    code typed in it goes to that frame of the clip."""
    from conftest import write_clip

    win = main_window
    open_media(qtbot, win, write_clip(tmp_path / "A001.mov", 60, timecode="10:00:00:00"))
    qtbot.waitUntil(lambda: win.transport.timecode.text() == "10:00:00:00", timeout=10000)
    assert win.timeline.ruler.tickStrings([0.0, 2.0], 1.0, 1.0) == ["10:00:00:00", "10:00:02:00"]
    win.transport.timecode.setText("10:00:01:10")
    win.transport.timecode.returnPressed.emit()
    qtbot.waitUntil(lambda: win.viewer.bundle is not None and win.viewer.bundle.position == 35
                    and win.viewer.bundle.final, timeout=5000)
    assert win.transport.timecode.text() == "10:00:01:10" and win.transport.frame_label.text().startswith("frame 36")


def _engine(win, name: str, measure: bool = False) -> None:
    """Choose the lip-sync engine in the Run panel, as a user would."""
    win.run_panel.engine.setCurrentIndex(win.run_panel.engine.findData(name))
    win.run_panel.measure.setChecked(measure)
    assert win.settings.run.engine == name


def test_a_sync_job_runs_in_the_worker_and_its_result_appears(qtbot, main_window, talking_media):
    win = main_window
    open_media(qtbot, win, talking_media["clip"], talking_media["dub"])
    _engine(win, "none")
    s, w = win.session, win.session.jobs
    win.session.seek(10)
    qtbot.waitUntil(lambda: win.viewer.bundle.position == 10, timeout=5000)
    assert win.viewer.image("result") is None
    with qtbot.waitSignal(w.progress, timeout=30000):
        with qtbot.waitSignals([w.started, w.finished], order="strict", timeout=60000):
            win.run_panel.run_btn.click()
            assert not win.run_panel.run_btn.isEnabled() and win.run_panel.cancel_btn.isEnabled()
    result = s.result
    assert result.frames == s.timeline.n_out and result.output.is_file()
    # The result is opened and shown at the playhead; the viewer switches to it.
    qtbot.waitUntil(lambda: win.viewer.image("result") is not None, timeout=10000)
    assert win.viewer.mode == "result"
    res, orig = win.viewer.image("result").astype(int), win.viewer.image("original").astype(int)
    assert res.shape == orig.shape and np.abs(res - orig).mean() < 12  # re-timed only: the same frame, re-encoded
    assert win.run_panel.bar.value() == 1 and "finished" in win.run_panel.stage.text()
    assert win.run_panel.measures.count() >= 5
    assert win.run_panel.run_btn.isEnabled() and not win.run_panel.cancel_btn.isEnabled()
    # Changing the dub offset makes the result out of date.
    win.transport.offset.setValue(120)
    assert s.result_stale and win.viewer.result_stale


def test_cancelling_a_job_leaves_no_file(qtbot, main_window, talking_media):
    win = main_window
    open_media(qtbot, win, talking_media["clip"], talking_media["dub"])
    _engine(win, "none")
    w = win.session.jobs

    class CancelWhenRendering(QObject):
        """Clicks Cancel at the first render progress (a QObject: worker signals reach it in the GUI thread)."""

        at: int | None = None

        @Slot(object)
        def progress(self, p):
            if p.stage == "render" and p.done > 0 and self.at is None:
                self.at = p.done
                win.run_panel.cancel_btn.click()

    user = CancelWhenRendering()
    w.progress.connect(user.progress)
    with qtbot.waitSignals([w.started, w.cancelled], order="strict", timeout=60000):
        task = win.session.run()
    assert user.at is not None, "the job should have been cancelled while rendering"
    assert not task.output.exists()
    assert not [p for p in task.output.parent.iterdir() if p.name.startswith(".")]
    assert "Cancelled" in win.run_panel.stage.text()
    assert win.session.result is None and win.viewer.image("result") is None


def test_export_writes_the_video_and_offers_show_in_folder(qtbot, main_window, talking_media, tmp_path):
    win = main_window
    open_media(qtbot, win, talking_media["clip"], talking_media["dub"])
    _engine(win, "none")
    win.open_export()
    dlg = win.export_dialog
    out = tmp_path / "exported.mkv"
    dlg.container.setCurrentIndex(dlg.container.findData(".mkv"))
    dlg.path_edit.setText(str(out))
    dlg.preset.setCurrentText("ultrafast")
    w = win.session.jobs
    with qtbot.waitSignals([w.started, w.finished], order="strict", timeout=60000):
        assert dlg.start()
    assert out.is_file() and out.stat().st_size > 0
    assert not dlg.show_btn.isHidden() and "Exported" in dlg.status.text()
    from lipsync_studio.media.video import probe_video

    assert probe_video(out).n_frames == win.session.timeline.n_out
    assert win.settings.export.container == ".mkv"
    dlg.close()


@pytest.mark.parametrize("kind", ["zero-byte", "text"])
def test_a_bad_file_gives_a_dialog_not_a_crash(qtbot, main_window, tmp_path, kind):
    win = main_window
    bad = tmp_path / "bad.mp4"
    if kind == "zero-byte":
        bad.write_bytes(b"")
    else:
        bad.write_text("this is a text file, not a video\n" * 40)
    with qtbot.waitSignal(win.session.error, timeout=10000):
        win.session.open_clip(bad)
    box = win.errors.last_box
    assert box is not None and box.isVisible()
    assert str(bad) in box.text() and "Cannot open the clip" in box.text()
    assert "log" in box.informativeText()
    box.close()
    assert win.session.clip is None and not win.run_panel.run_btn.isEnabled()
    # The app carries on: a bad dub too, then a good clip.
    with qtbot.waitSignal(win.session.error, timeout=10000):
        win.session.open_dub(bad)
    assert "Cannot open the dub" in win.errors.last_box.text()
    win.errors.last_box.close()


def test_window_keeps_answering_and_scrubbing_while_a_job_runs(qtbot, main_window, talking_media):
    """The job runs in its worker: the event loop keeps serving timers and seeks are answered with frames
    while it runs. How quickly (the loop's 95th percentile delay) is measured by bench/ui_responsiveness.py."""
    win = main_window
    open_media(qtbot, win, talking_media["clip"], talking_media["dub"])
    _engine(win, "none")
    w = win.session.jobs
    pings: list[bool] = []  # one per timer tick: whether the job was running then
    shown: list[int] = []  # frames delivered while the job ran
    win.session.frame_ready.connect(lambda b: shown.append(b.position) if w.busy else None)
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: pings.append(w.busy))
    with qtbot.waitSignal(w.finished, timeout=60000):
        win.session.run()
        timer.start()
        # Scrub while it runs, as a user would.
        for k in range(0, 60, 3):
            qtbot.wait(15)
            win.session.seek(k)
    timer.stop()
    assert sum(pings) > 10, "the event loop did not run while the job did"
    assert shown, "no seek was answered while the job ran"
    assert win.errors.last_box is None


def test_settings_are_remembered_between_runs(qtbot, ui_home, no_threads_left, talking_media):
    from lipsync_studio.ui.app import make_app
    from lipsync_studio.ui.main_window import MainWindow

    make_app()
    win = MainWindow(start_3d=False, probe=False)  # loads and saves the user's settings file
    win.confirm_close = False
    qtbot.addWidget(win)
    win.run_panel.extend.setCurrentIndex(win.run_panel.extend.findData("hold"))
    win.transport.hear.setCurrentIndex(win.transport.hear.findData("clip"))
    win.face_view.set_style("wireframe")
    win.settings.remember_clip(talking_media["clip"])
    win.close()
    saved = Settings.load()
    assert saved.run.extend == "hold" and saved.view.hear == "clip" and saved.view.face_style == "wireframe"
    assert saved.recent_clips == [str(talking_media["clip"])]
    assert (ui_home / "config" / "window.ini").is_file()
    win2 = MainWindow(start_3d=False, probe=False)
    win2.confirm_close = False
    qtbot.addWidget(win2)
    assert win2.run_panel.extend.currentData() == "hold"
    assert win2.transport.hear.currentData() == "clip" and win2.face_view.style_name == "wireframe"
    assert win2.actions_.recent_clips.actions()[0].text() == str(talking_media["clip"])
    win2.close()


def test_dropping_files_opens_the_clip_and_the_dub(qtbot, main_window, talking_media):
    win = main_window
    with qtbot.waitSignals([win.session.clip_changed, win.session.dub_changed], timeout=15000):
        win.viewer.files_dropped.emit([str(talking_media["dub"]), str(talking_media["clip"])])
    assert win.session.clip.path == Path(talking_media["clip"])
    assert win.session.dub.path == Path(talking_media["dub"])


def test_playback_moves_the_playhead_without_a_sound_device(qtbot, main_window, talking_media):
    win = main_window
    open_media(qtbot, win, talking_media["clip"])
    win.player.set_sound_device("No sound: this computer has no audio output device")
    assert win.status_line.sound.text() == "No sound"
    win.actions_.play.trigger()
    assert win.player.playing and win.transport.play_btn.isChecked()
    qtbot.waitUntil(lambda: win.session.position >= 5, timeout=5000)
    win.actions_.shuttle_fwd.trigger()  # L again: 2×
    assert win.player.speed == 2.0 and win.transport.speed_label.isVisibleTo(win)
    win.actions_.shuttle_stop.trigger()  # K
    assert not win.player.playing
    pos = win.session.position
    win.actions_.shuttle_back.trigger()  # J
    qtbot.waitUntil(lambda: win.session.position < pos, timeout=5000)
    win.actions_.play.trigger()
    assert not win.player.playing


@pytest.mark.slow
def test_the_builtin_engine_changes_the_mouth_and_measures_the_sync(qtbot, main_window, talking_media, tmp_path):
    win = main_window
    open_media(qtbot, win, talking_media["clip"], talking_media["dub"])
    _engine(win, "builtin", measure=True)
    jobs = win.session.jobs
    stages: list[str] = []
    jobs.progress.connect(lambda p: stages.append(p.stage))
    with qtbot.waitSignals([jobs.started, jobs.finished], order="strict", timeout=180000):
        win.run()
    assert {"faces", "prepare", "render", "measure"} <= set(stages)
    result = win.session.result
    assert result.engine == "builtin" and result.sync is not None
    labels = [win.run_panel.measures.itemAtPosition(r, 0).widget().text()
              for r in range(win.run_panel.measures.rowCount()) if win.run_panel.measures.itemAtPosition(r, 0)]
    assert "Phonetic sync" in labels and "Loudness agreement" in labels
    # Somewhere in the result the mouth differs from the clip (the dub's syllables, not the clip's).
    diffs = []
    for pos in (15, 30, 45):
        win.session.seek(pos)
        qtbot.waitUntil(lambda: win.viewer.bundle.position == pos and win.viewer.image("result") is not None,
                        timeout=10000)
        diffs.append(np.abs(win.viewer.image("result").astype(int) - win.viewer.image("original").astype(int)))
    assert max(d.max() for d in diffs) > 60
    # ...and only around the mouth: the rest of the picture is the clip's.
    assert all(np.median(d) < 6 for d in diffs)
    # The engine tracked the faces: the 3D view and the overlay can use them without tracking again.
    qtbot.waitUntil(lambda: win.session.faces is not None, timeout=10000)
    # Export > OBJ Sequence offers the synced face by default now that there is a result, and says so.
    import json

    win.open_export()
    dlg = win.export_dialog
    dlg.tabs.setCurrentIndex(2)
    assert dlg.obj_face.currentData() == "synced"
    out = tmp_path / "synced_meshes"
    dlg.path_edit.setText(str(out))
    dlg.obj_to.setValue(0.4)
    dlg.obj_colours.setChecked(True)
    with qtbot.waitSignals([jobs.started, jobs.finished], order="strict", timeout=120000):
        assert dlg.start()
    meta = json.loads((out / "sequence.json").read_text())
    assert meta["face_of"] == "synced" and meta["source"] == str(result.output)
    assert meta["original"] == str(talking_media["clip"]) and len(meta["frames"]) == 10
    dlg.close()
