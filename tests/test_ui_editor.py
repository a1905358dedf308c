"""The app as an editor uses it: one clip, one state; a run that changed nothing says so; no setting changed by
a stray wheel; exports that ask and say what they write; time codes that mean what they show.

Real widgets, real clips (made here), the real worker threads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ui_fixtures import main_window, no_threads_left, open_media, talking_media, ui_home  # noqa: F401


def _no_face_clip(path: Path, n: int = 40, size: tuple[int, int] = (200, 120)) -> Path:
    """A gradient with noise: no face anywhere (like the VR180 sample's empty frames)."""
    from lipsync_studio.media.writer import VideoFormat, VideoWriter

    w, h = size
    rng = np.random.default_rng(1)
    ramp = np.linspace(0, 255, w, dtype=np.float32)[None, :, None]
    with VideoWriter(path, 25, w, h, fmt=VideoFormat(preset="ultrafast")) as out:
        for _ in range(n):
            out.write(np.clip(ramp + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8))
    return path


def _run(qtbot, win, engine: str) -> None:
    win.run_panel.engine.setCurrentIndex(win.run_panel.engine.findData(engine))
    win.run_panel.measure.setChecked(False)
    w = win.session.jobs
    with qtbot.waitSignals([w.started, w.finished], order="strict", timeout=90000):
        win.run_panel.run_btn.click()


def test_opening_another_clip_forgets_everything_shown_of_the_last_one(qtbot, main_window, talking_media, tmp_path):
    win = main_window
    open_media(qtbot, win, talking_media["clip"], talking_media["dub"])
    _run(qtbot, win, "none")
    rp = win.run_panel
    assert "finished" in rp.stage.text() and rp.measures.count() >= 5
    win.viewer.set_zoom(2.0)
    win.session.seek(30)
    qtbot.waitUntil(lambda: win.transport.frame_label.text().startswith("frame 31 "), timeout=5000)

    with qtbot.waitSignal(win.session.clip_changed, timeout=15000):
        win.session.open_clip(_no_face_clip(tmp_path / "noface.mp4"))
    qtbot.waitUntil(lambda: getattr(win.viewer.image("original"), "shape", None) == (120, 200, 3), timeout=10000)
    # The Result box, the last job's words, the zoom readout and the playhead belong to the new clip.
    assert rp.measures.count() == 1 and "Run to see" in rp.measures.itemAt(0).widget().text()
    assert "finished" not in rp.stage.text() and rp.bar.format() == ""
    assert win.viewer.fit and win.viewer_bar.zoom_label.text() == f"Fit {win.viewer.scale() * 100:.0f}%"
    assert win.transport.timecode.text() == "00:00:00:00" and win.transport.frame_label.text() == f"frame 1 of {win.session.timeline.n_out}"
    assert win.timeline.position == 0
    assert win.session.result is None and win.viewer.image("result") is None


def test_a_run_on_a_clip_without_a_face_says_the_picture_is_unchanged(qtbot, main_window, talking_media, tmp_path):
    win = main_window
    open_media(qtbot, win, _no_face_clip(tmp_path / "noface.mp4"), talking_media["dub"])
    _run(qtbot, win, "builtin")
    rp = win.run_panel
    assert win.session.result.unchanged
    assert "changed nothing" in rp.stage.text() and "unchanged" in rp.stage.text()
    assert rp.bar.format() == "Picture unchanged"
    rows = [rp.measures.itemAt(i).widget().text() for i in range(rp.measures.count())]
    assert rows[:2] == ["Picture", "unchanged"]


def _wheel(widget, steps: int = -1) -> None:
    """A real mouse-wheel event over the middle of ``widget`` (``steps`` notches; negative: towards the user)."""
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    local = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(local, QPointF(widget.mapToGlobal(local.toPoint())), QPoint(0, 0), QPoint(0, 120 * steps),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def test_the_wheel_changes_no_setting_of_a_box_that_was_not_clicked_into(qtbot, main_window):
    win = main_window
    rp = win.run_panel
    before = (rp.shorten.currentIndex(), win.settings.run.shorten, rp.extend.currentIndex(), rp.quality.currentIndex())
    for box in (rp.shorten, rp.extend, rp.quality):
        _wheel(box, -1)  # each starts on its first item: one notch down would pick the next
    assert (rp.shorten.currentIndex(), win.settings.run.shorten, rp.extend.currentIndex(),
            rp.quality.currentIndex()) == before
    offset = win.transport.offset
    offset.setEnabled(True)
    _wheel(offset, +2)
    assert offset.value() == 0
    # Clicked into (focused), the box takes the wheel as usual.
    win.activateWindow()
    rp.shorten.setFocus()
    qtbot.waitUntil(rp.shorten.hasFocus, timeout=3000)
    _wheel(rp.shorten, -1)
    assert rp.shorten.currentIndex() != before[0] and win.settings.run.shorten != before[1]


def _answer(qtbot, button_text: str) -> None:
    """Click ``button_text`` in the next question box, as the user would."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    def click() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, click)
            return
        next(b for b in box.buttons() if b.text() == button_text).click()

    QTimer.singleShot(20, click)


def test_export_writes_the_approved_preview_asks_before_replacing_and_resyncs_only_what_changed(
        qtbot, main_window, talking_media, tmp_path):
    import hashlib

    win = main_window
    open_media(qtbot, win, talking_media["clip"], talking_media["dub"])
    _run(qtbot, win, "none")
    s, jobs = win.session, win.session.jobs
    preview = Path(s.result.output)
    win.open_export()
    dlg = win.export_dialog
    # Distinct default names per kind, from the clip and the dub.
    assert Path(dlg.path_edit.text()).name == "clip_dub.mp4"
    from lipsync_studio.app.export import default_export_name

    names = {default_export_name(Path("talk.mp4"), Path("talk_fr.wav")),
             default_export_name(Path("talk.mp4"), Path("talk_fr.wav"), "stereo", "anaglyph"),
             default_export_name(Path("talk.mp4"), Path("talk_fr.wav"), "stereo", "sbs"),
             default_export_name(Path("talk.mp4"), Path("talk_fr.wav"), "obj")}
    assert names == {"talk_fr", "talk_fr_anaglyph", "talk_fr_sbs", "talk_fr_meshes"}
    # The Run panel's words, not the settings' keys.
    texts = " ".join(w.text() for w in dlg.findChildren(type(dlg.status)))
    assert "Ping-pong the picture" in texts and "pingpong" not in texts

    # Same choices as the preview, same encoder: the preview itself is written (a copy, not a sync).
    out = tmp_path / "approved.mp4"
    dlg.path_edit.setText(str(out))
    dlg.crf.setValue(20)
    dlg.preset.setCurrentText("veryfast")
    assert "approved preview (copied" in dlg.source.text()
    with qtbot.waitSignal(jobs.finished, timeout=60000) as sig:
        assert dlg.start()
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(preview.read_bytes()).digest()
    assert "copy" in sig.args[0].timings and not s.result_stale

    # It exists now: the user is asked, and "Keep it" leaves it alone.
    before = out.stat().st_mtime_ns
    _answer(qtbot, "Keep it")
    assert not dlg.start()
    assert out.stat().st_mtime_ns == before and "Not exported" in dlg.status.text()

    # Another encoder: the preview's frames are re-encoded, still no sync (after "Replace").
    dlg.crf.setValue(30)
    assert "re-encoded" in dlg.source.text()
    _answer(qtbot, "Replace")
    with qtbot.waitSignal(jobs.finished, timeout=60000) as sig:
        assert dlg.start()
    result = sig.args[0]
    assert "encode" in result.timings and "render" not in result.timings and result.frames == s.timeline.n_out
    assert out.stat().st_size < preview.stat().st_size

    # A changed dub offset: the export syncs again, says why, and becomes the result (not OUT OF DATE).
    win.transport.offset.setValue(120)
    assert s.result_stale and win.viewer.result_stale
    out2 = tmp_path / "offset.mp4"
    dlg.path_edit.setText(str(out2))
    assert "Syncs again" in dlg.source.text() and "Dub offset: +0 ms → +120 ms" in dlg.source.text()
    with qtbot.waitSignal(jobs.finished, timeout=60000) as sig:
        assert dlg.start()
    assert "render" in sig.args[0].timings
    qtbot.waitUntil(lambda: not win.viewer.result_stale, timeout=10000)
    assert not s.result_stale and Path(s.result.output) == out2
    dlg.close()


def test_a_typed_frame_number_lands_on_that_frame_and_bad_or_far_times_are_told(qtbot):
    from fractions import Fraction

    from lipsync_studio.ui.transport import TransportBar

    t = TransportBar()
    qtbot.addWidget(t)
    t.set_timeline(250, Fraction(25))
    t.set_enabled(True)
    t.timecode.setText("30")
    with qtbot.waitSignal(t.seek) as sig:
        t.timecode.returnPressed.emit()
    t.set_position(sig.args[0])
    assert t.frame_label.text() == "frame 30 of 250"
    # Text it cannot read: an error, no seek.
    t.timecode.setText("abc")
    with qtbot.waitSignal(t.note) as note, qtbot.assertNotEmitted(t.seek):
        t.timecode.returnPressed.emit()
    assert "Cannot read the time code 'abc'" in note.args[0] and t.timecode.property("invalid")
    # Past the end: clamped to the last frame, with a note.
    t.timecode.setText("00:01:00:00")
    with qtbot.waitSignal(t.seek) as seek, qtbot.waitSignal(t.note) as note:
        t.timecode.returnPressed.emit()
    assert seek.args == [249] and "past the end" in note.args[0] and "frame 250" in note.args[0]
    assert not t.timecode.property("invalid")


def test_the_job_eta_counts_the_steps_still_to_come():
    """During the first step the job's time left includes the second step's (estimated from the step it is
    like); during the last step it is that step's own."""
    import time as _time

    from lipsync_studio.job import Job, Stage

    def work(ctx):
        for _ in range(ctx.total):
            _time.sleep(0.002)
            ctx.advance(1, force=True)

    events = []
    Job("two steps", [Stage("faces", work, total=20), Stage("measure", work, total=20, like="faces")]).run(events.append)
    first = [e for e in events if e.stage == "faces" and 0 < e.done < e.total]
    last = [e for e in events if e.stage == "measure" and 0 < e.done < e.total]
    assert first and last
    assert all(e.job_eta_s is not None and e.job_eta_s > e.eta_s for e in first)
    assert all(e.job_eta_s == e.eta_s for e in last)


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)])
def test_the_window_fits_the_screen_size_with_no_label_cut_short(qtbot, main_window, size):
    from PySide6.QtWidgets import QLabel, QToolButton

    win = main_window
    assert win.minimumSizeHint().width() <= size[0] and win.minimumSizeHint().height() <= size[1]
    win.resize(*size)
    qtbot.waitUntil(lambda: win.width() == size[0], timeout=3000)
    qtbot.wait(50)
    bar = win.viewer_bar
    for b in bar.findChildren(QToolButton):
        if b.isVisible():
            assert b.width() >= b.sizeHint().width(), (b.text(), b.width(), b.sizeHint().width())
    bar.show_zoom(16.0, False)
    bar.show_zoom(2.1, True)
    label = bar.zoom_label
    assert label.fontMetrics().horizontalAdvance("Fit 1600%") <= label.width()
    for lab in win.run_panel.findChildren(QLabel):
        if lab.isVisible() and not lab.wordWrap() and lab.text():
            assert lab.fontMetrics().horizontalAdvance(lab.text()) <= lab.width() + 1, lab.text()


def test_show_in_folder_without_a_file_manager_says_where_the_export_is(qtbot, main_window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QApplication

    from lipsync_studio.ui.export_dialog import ExportDialog

    monkeypatch.setenv("PATH", str(tmp_path))  # no xdg-open, no file manager: as on a bare machine

    dlg = ExportDialog(main_window.session, main_window)
    qtbot.addWidget(dlg)
    dlg.output = tmp_path / "clip_fr.mp4"
    dlg.show_in_folder()
    assert str(dlg.output) in dlg.status.text() and QApplication.clipboard().text() == str(dlg.output)


def test_a_master_codec_greys_out_the_delivery_codecs_knobs(qtbot, main_window):
    from lipsync_studio.ui.export_dialog import ExportDialog

    dlg = ExportDialog(main_window.session, main_window)
    qtbot.addWidget(dlg)
    dlg.container.setCurrentIndex(dlg.container.findData(".mov"))
    dlg.codec.setCurrentIndex(dlg.codec.findData("dnxhr"))
    page = dlg.tabs.widget(0)  # (itself disabled until there is a clip to export)
    knobs = (dlg.crf, dlg.preset, dlg.pix_fmt)
    assert dlg.codec.currentText() == "DNxHR HQ (Avid editing)"
    assert not any(w.isEnabledTo(page) for w in knobs)
    dlg.codec.setCurrentIndex(dlg.codec.findData("h264"))
    assert all(w.isEnabledTo(page) for w in knobs)


def test_quitting_with_a_preview_never_exported_asks_first(qtbot, main_window, talking_media):
    win = main_window
    open_media(qtbot, win, talking_media["clip"], talking_media["dub"])
    _run(qtbot, win, "none")
    win.confirm_close = True
    _answer(qtbot, "Cancel")
    win.close()
    assert win.isVisible() and "not exported" in win.quit_box.text()
    _answer(qtbot, "Discard changes")
    win.close()
    assert not win.isVisible()


def test_the_models_dialog_says_what_is_used_instead_and_a_long_error_does_not_widen_it(qtbot, ui_home):
    from lipsync_studio.ui.models_dialog import ModelsDialog
    from lipsync_studio.ui.threads import Tasks, start_worker, stop_worker
    from lipsync_studio.weights import ModelRegistry

    tasks = Tasks()
    thread = start_worker(tasks, "test-tasks")
    try:
        dlg = ModelsDialog(ModelRegistry(ui_home / "models"), tasks)
        qtbot.addWidget(dlg)
        dlg.show()
        qtbot.waitUntil(lambda: dlg.table.rowCount() > 0, timeout=10000)
        rows = {dlg.table.item(r, 0).text(): dlg.table.item(r, 3).text() for r in range(dlg.table.rowCount())}
        assert "built-in engine" in rows["Wav2Lip"]
        # ...and what doing without each costs (its tooltip, and the details of the selected model).
        assert all("Cost:" in dlg.table.item(r, 3).toolTip() for r in range(dlg.table.rowCount()))
        assert "Cost:" in dlg.details.toPlainText()
        width = dlg.width()
        dlg._say("Could not add the file: " + "/a/very/long/folder" * 30 + "/weights.pth: damaged")
        qtbot.wait(50)
        assert dlg.width() == width and dlg.minimumSizeHint().width() <= 1280
    finally:
        stop_worker(thread)


def test_the_timeline_zooms_with_ctrl_wheel_about_the_pointer_and_fits_again(qtbot, main_window, talking_media):
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    win = main_window
    open_media(qtbot, win, talking_media["clip"], talking_media["dub"])
    tl = win.timeline
    whole = tl.duration
    assert tl.vb.viewRange()[0] == pytest.approx([0, whole])
    vp = tl.viewport()
    at = QPointF(vp.width() * 0.75, vp.height() / 2)
    t_at = tl.vb.mapSceneToView(tl.mapToScene(at.toPoint())).x()
    for _ in range(3):
        QApplication.sendEvent(vp, QWheelEvent(at, QPointF(vp.mapToGlobal(at.toPoint())), QPoint(0, 0), QPoint(0, 120),
                                               Qt.MouseButton.NoButton, Qt.KeyboardModifier.ControlModifier,
                                               Qt.ScrollPhase.NoScrollPhase, False))
    x0, x1 = tl.vb.viewRange()[0]
    assert tl.zoomed and (x1 - x0) == pytest.approx(whole / 1.25 ** 3, rel=0.02)
    # The time under the pointer stays under it.
    assert tl.vb.mapSceneToView(tl.mapToScene(at.toPoint())).x() == pytest.approx(t_at, abs=0.05)
    # The playhead sent past the view pages the view along.
    win.session.seek(tl.n_frames - 1)
    qtbot.waitUntil(lambda: tl.position == tl.n_frames - 1, timeout=3000)
    x0, x1 = tl.vb.viewRange()[0]
    assert x0 <= (tl.n_frames - 1) / float(tl.fps) <= x1
    tl.fit()
    assert not tl.zoomed


def test_in_and_out_marks_limit_the_sync_to_a_range_spliced_into_the_whole_clip(qtbot, main_window, talking_media):
    win = main_window
    open_media(qtbot, win, talking_media["clip"], talking_media["dub"])
    s, a = win.session, win.actions_
    s.seek(10)
    a.mark_in.trigger()
    s.seek(30)
    a.mark_out.trigger()
    assert (s.mark_in, s.mark_out) == (10, 30) and win.timeline._marks.isVisible()
    opts = s.sync_options()
    assert opts.start_s == pytest.approx(10 / 25) and opts.end_s == pytest.approx(31 / 25)
    _run(qtbot, win, "builtin")
    result = s.result
    assert result.frames == s.timeline.n_out and 0 < result.changed_frames <= 21
    # The marks shape the sync: clearing them makes the result out of date.
    a.clear_marks.trigger()
    assert s.mark_in is None and s.result_stale
    assert "Range" in " ".join(s.export_changes(Path("x.mp4"), s.result_request.options.fmt))


def test_a_stereo_export_in_the_clips_own_packing_is_the_approved_preview(qtbot, main_window, tmp_path):
    import hashlib

    from test_ui_stereo import stereo_clip

    win = main_window
    clip, dub = stereo_clip(tmp_path)
    open_media(qtbot, win, clip, dub)
    assert win.session.layout == "sbs"
    _run(qtbot, win, "none")
    preview = Path(win.session.result.output)
    win.open_export()
    dlg = win.export_dialog
    dlg.tabs.setCurrentIndex(1)
    dlg.stereo_layout.setCurrentIndex(dlg.stereo_layout.findData("same"))
    assert Path(dlg.path_edit.text()).name == f"{clip.stem}_{dub.stem}_sbs.mp4"  # named by the packing written
    out = tmp_path / "pair_out.mp4"
    dlg.path_edit.setText(str(out))
    dlg.crf.setValue(win.session.result_request.options.fmt.crf)
    dlg.preset.setCurrentText(win.session.result_request.options.fmt.preset)
    assert "approved preview (copied" in dlg.source.text()
    with qtbot.waitSignal(win.session.jobs.finished, timeout=60000):
        assert dlg.start()
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(preview.read_bytes()).digest()
    # Another packing is a new sync, and says so in the Run panel's words.
    dlg.stereo_layout.setCurrentIndex(dlg.stereo_layout.findData("anaglyph"))
    assert "Syncs again" in dlg.source.text() and "Red-cyan anaglyph" in dlg.source.text()
    dlg.close()


def test_a_cut_out_photo_exported_with_its_transparency_is_synced_again_its_outline_moving(qtbot, main_window,
                                                                                              talking_media, tmp_path):
    """The preview (H.264) holds no transparency, and a cut-out photo's outline moves with the jaw drawn: an export
    that keeps transparency (ProRes 4444) is a new sync, and says so; one that does not is the preview itself."""
    import av
    import cv2

    from lipsync_studio.media.writer import VideoFormat
    from lipsync_studio.samples import render_face

    face = render_face(0.0, size=320)
    alpha = np.zeros(face.shape[:2], np.uint8)
    cv2.ellipse(alpha, (156, 140), (62, 82), 0, 0, 360, 255, -1)  # cut out close under the chin (y 222)
    photo = tmp_path / "sticker.png"
    cv2.imwrite(str(photo), np.dstack([face[..., ::-1], alpha]))
    win = main_window
    open_media(qtbot, win, photo, talking_media["dub"])
    _run(qtbot, win, "builtin")
    s = win.session
    # The preview's note says what the app's Export does (it said which --codec to give)
    from lipsync_studio.ui.job_link import shown_warnings

    notes = " ".join(shown_warnings(s.result))
    assert "Export as ProRes 4444 (MOV) or VP9 (WebM) keeps it" in notes and "--codec" not in notes
    assert not s.export_changes(tmp_path / "copy.mp4", s.result_request.options.fmt)
    master = VideoFormat(codec="prores")
    assert "transparent photo" in " ".join(s.export_changes(tmp_path / "master.mov", master))
    with qtbot.waitSignal(s.jobs.finished, timeout=90000) as sig:
        assert s.export_video(tmp_path / "master.mov", master) is not None
    assert "render" in sig.args[0].timings  # synced, not re-encoded from the preview
    with av.open(str(tmp_path / "master.mov")) as c:
        below = max(int(((f.to_ndarray(format="rgba")[..., 3] > 128) & (alpha < 128))[224:].sum())
                    for f in c.decode(video=0))
    assert below > 100  # the opened chin shows below the still one


def test_export_writes_the_in_out_range_alone_and_a_timeline_with_it_at_its_place(qtbot, main_window, talking_media,
                                                                                   tmp_path):
    import opentimelineio as otio

    from lipsync_studio.media.video import probe_video

    win = main_window
    open_media(qtbot, win, talking_media["clip"], talking_media["dub"])
    s, jobs = win.session, win.session.jobs
    s.set_marks(10, 30)
    _run(qtbot, win, "none")
    preview = s.result
    win.open_export()
    dlg = win.export_dialog
    assert dlg.range_only.isEnabled()
    dlg.range_only.setChecked(True)
    dlg.with_timeline.setChecked(True)
    out = tmp_path / "range.mp4"
    dlg.path_edit.setText(str(out))
    assert "In to Out range cut from it" in dlg.source.text()
    started = []
    jobs.progress.connect(lambda p: started.append(p.stage))
    with qtbot.waitSignal(jobs.finished, timeout=60000):
        assert dlg.start()
    assert probe_video(out).n_frames == 21 and "render" not in started  # the preview's frames 10..30, no sync
    tl = otio.adapters.read_from_file(str(out.with_suffix(".otio")))
    (item,) = tl.video_tracks()[0].find_clips()
    assert item.trimmed_range_in_parent().start_time.to_frames() == 10 and item.duration().to_frames() == 21
    assert "timeline range.otio" in dlg.status.text()
    # The whole preview stays the result the viewer shows.
    assert s.result is preview and not s.result_stale

    # Something changed: the range is synced again, still written alone.
    win.transport.offset.setValue(-40)
    out2 = tmp_path / "range2.mp4"
    dlg.path_edit.setText(str(out2))
    assert "Syncs again" in dlg.source.text() and "range alone" in dlg.source.text()
    with qtbot.waitSignal(jobs.finished, timeout=60000):
        assert dlg.start()
    assert probe_video(out2).n_frames == 21 and "render" in started
    dlg.close()
