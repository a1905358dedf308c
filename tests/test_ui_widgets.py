"""The app's widgets and helpers one by one: time codes, the viewer, the transport, the timeline, jobs."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPointF

from lipsync_studio.app.capabilities import Capabilities, EngineChoice, detect, layout_from_name
from lipsync_studio.ui.frame_server import FrameBundle
from lipsync_studio.app.media_files import sort_dropped
from lipsync_studio.ui.qt_compat import needs_guard
from lipsync_studio.app.timecode import format_seconds, format_timecode, parse_timecode


def test_timecodes_are_hh_mm_ss_ff():
    assert format_timecode(0, 25) == "00:00:00:00"
    assert format_timecode(24, 25) == "00:00:00:24"
    assert format_timecode(25 * 3661 + 7, 25) == "01:01:01:07"
    assert format_timecode(30, Fraction(30000, 1001)) == "00:00:01:00"  # non-drop-frame: 30 per second


@pytest.mark.parametrize("text,frame", [("00:00:01:05", 30), ("1:05", 30), ("01:00:05", 1505), ("42", 42),
                                         ("2s", 50), ("1.5s", 38), ("00;00;02;00", 50)])
def test_typed_timecodes_frames_and_seconds_are_understood(text, frame):
    assert parse_timecode(text, 25) == frame


def test_nonsense_timecode_is_refused():
    with pytest.raises(ValueError):
        parse_timecode("soon", 25)


def test_durations_read_at_a_glance():
    assert format_seconds(4.21) == "4.2 s"
    assert format_seconds(65) == "1 min 05 s"
    assert format_seconds(3720) == "1 h 02 min"


def test_dropped_files_go_to_clip_and_dub():
    assert sort_dropped(["a.wav", "b.mp4"], have_clip=False) == ("b.mp4", "a.wav")
    assert sort_dropped(["a.mov", "b.mkv"], have_clip=True) == ("a.mov", "b.mkv")
    assert sort_dropped(["voice.flac"], have_clip=True) == (None, "voice.flac")
    assert sort_dropped(["weird.xyz"], have_clip=False) == ("weird.xyz", None)
    # A photo is a clip (a portrait made to speak), never the dub: it was taken for the dub beside a clip.
    assert sort_dropped(["portrait.JPG"], have_clip=True) == ("portrait.JPG", None)
    assert sort_dropped(["voice.wav", "portrait.png"], have_clip=True) == ("portrait.png", "voice.wav")


def test_stereo_layouts_are_recognised_by_name():
    assert layout_from_name("scene_LRF_Full_SBS.mp4") == "sbs"
    assert layout_from_name("movie.HSBS.mkv") == "half-sbs"
    assert layout_from_name("clip_TB.mp4", 1280, 1440) == "tb"
    assert layout_from_name("clip_SBS.mp4", 1920, 1080) == "half-sbs"  # eyes narrower than tall: squeezed
    assert layout_from_name("interview.mp4") == "mono"


def test_capabilities_always_offer_a_working_engine():
    caps = detect()
    assert any(e.available for e in caps.engines)
    assert caps.face_mesh or caps.face_reason  # a missing feature always says why
    assert caps.face_mesh  # MediaPipe is a dependency: the face features are on


def test_pyside_guard_applies_only_where_the_bug_is():
    assert needs_guard("6.12.0", (3, 11))
    assert not needs_guard("6.12.0", (3, 12))
    assert not needs_guard("6.11.3", (3, 11))


def _bundle(pos: int, value: int, result: bool = True) -> FrameBundle:
    img = np.full((90, 160, 3), value, np.uint8)
    return FrameBundle(pos, pos, img, (255 - img) if result else None)


def test_viewer_shows_original_result_and_before_after(qtbot):
    from lipsync_studio.ui.viewer import VideoViewer

    v = VideoViewer()
    qtbot.addWidget(v)
    v.resize(640, 360)
    v.show()
    assert v.grab().toImage().pixelColor(320, 180).red() < 40  # empty: dark, with a hint
    v.show_bundle(_bundle(3, 200))
    img = v.grab().toImage()
    assert img.pixelColor(320, 180).red() == 200
    v.set_mode("result")
    assert v.grab().toImage().pixelColor(320, 180).red() == 55
    v.set_compare(True)
    img = v.grab().toImage()
    assert img.pixelColor(160, 200).red() == 200 and img.pixelColor(480, 200).red() == 55
    with pytest.raises(ValueError):
        v.set_mode("nonsense")


def test_viewer_zooms_about_the_cursor_and_fits_again(qtbot):
    from lipsync_studio.ui.viewer import VideoViewer

    v = VideoViewer()
    qtbot.addWidget(v)
    v.resize(640, 360)
    v.show()
    v.show_bundle(_bundle(0, 100))
    fit = v.scale()
    assert fit == pytest.approx(min(624 / 160, 344 / 90))
    with qtbot.waitSignal(v.zoom_changed):
        v.set_zoom(1.0, QPointF(100, 100))
    assert v.scale() == 1.0 and not v.fit
    v.zoom_by(2)
    assert v.scale() == 2.0
    v.set_fit()
    assert v.fit and v.scale() == fit


def test_viewer_bar_offers_stereo_views_only_for_a_stereo_clip_and_says_why(qtbot):
    from lipsync_studio.ui.viewer_bar import ViewerBar

    caps = Capabilities((EngineChoice("retime", "Re-time", True),), False, "needs the face module")
    bar = ViewerBar(caps)
    qtbot.addWidget(bar)
    for key in ("side-by-side", "anaglyph", "disparity"):
        assert not bar.mode_buttons[key].isEnabled() and bar.mode_buttons[key].toolTip()
        assert "stereo clip" in bar.mode_buttons[key].toolTip()
    assert not bar.overlay.isEnabled() and "face module" in bar.overlay.toolTip()
    bar.update_availability(stereo=True, has_result=False)
    for key in ("side-by-side", "anaglyph", "disparity"):
        assert bar.mode_buttons[key].isEnabled()
    with qtbot.waitSignal(bar.mode_changed) as sig:
        bar.set_mode("result")
    assert sig.args == ["result"]


def test_transport_typed_timecode_seeks_and_offset_is_in_ms(qtbot):
    from lipsync_studio.ui.transport import TransportBar

    t = TransportBar()
    qtbot.addWidget(t)
    t.set_timeline(250, Fraction(25))
    t.set_enabled(True)
    t.set_dub_loaded(True)
    assert t.duration.text() == "/ 00:00:10:00"
    t.set_position(30)
    assert t.timecode.text() == "00:00:01:05"
    t.timecode.setText("00:00:04:00")
    with qtbot.waitSignal(t.seek) as sig:
        t.timecode.returnPressed.emit()
    assert sig.args == [100]
    with qtbot.waitSignal(t.offset_changed) as sig:
        t.offset.setValue(-40)
    assert sig.args == [-40]
    with qtbot.waitSignal(t.play_toggled) as sig:
        t.play_btn.click()
    assert sig.args == [True]


def test_timeline_scrubs_and_slides_the_dub(qtbot):
    from lipsync_studio.ui.timeline_view import TimelineView
    from lipsync_studio.app.waveforms import Waveform

    tl = TimelineView()
    qtbot.addWidget(tl)
    tl.resize(800, 180)
    tl.show()
    tl.set_timeline(100, Fraction(25), None, 100)
    wave = Waveform(Path("dub.wav"), 4.0, -np.ones(400, np.float32) * 0.5, np.ones(400, np.float32) * 0.5, 0.5)
    tl.set_waveform("dub", wave)
    with qtbot.waitSignal(tl.seek_requested) as sig:
        tl._press(2.0, 0.5)  # picture lane at 2 s
        tl._release()
    assert sig.args == [50]
    with qtbot.waitSignal(tl.offset_committed) as sig:
        tl._press(1.0, 2.5)  # dub lane: drag the dub 0.25 s later
        tl._drag(1.25)
        tl._release()
    assert sig.args == [pytest.approx(0.25)]
    assert tl._dub_span.rect().x() == pytest.approx(0.25)
    tl.set_position(75)
    assert tl.playhead.value() == pytest.approx(3.0)
    assert tl.ruler.tickStrings([1.0], 1, 1) == ["00:00:01:00"]


def test_waveform_envelope_of_a_sound_file(tmp_path):
    from conftest import write_tone

    from lipsync_studio.app.waveforms import waveform_of

    wave = waveform_of(write_tone(tmp_path / "t.wav", 2.0), buckets=200)
    assert wave.duration_s == pytest.approx(2.0, abs=0.01)
    assert len(wave.lo) == 200 and 0.25 < wave.peak < 0.35
    assert np.all(wave.hi >= wave.lo)


def test_a_dub_offset_shifts_the_sound(tmp_path):
    from conftest import write_tone

    from lipsync_studio.engine.dub import write_shifted_dub
    from lipsync_studio.media.audio import load_audio

    dub = write_tone(tmp_path / "t.wav", 1.0)
    later = write_shifted_dub(dub, 0.5, tmp_path / "later.wav")
    wav = load_audio(later, sr=16000)
    assert len(wav) == pytest.approx(24000, abs=200) and np.abs(wav[:7000]).max() < 1e-3
    earlier = write_shifted_dub(dub, -0.25, tmp_path / "earlier.wav")
    assert len(load_audio(earlier, sr=16000)) == pytest.approx(12000, abs=200)


def test_run_panel_reflects_progress_and_the_end(qtbot):
    from lipsync_studio.job import Progress
    from lipsync_studio.settings import RunSettings
    from lipsync_studio.ui.run_panel import RunPanel

    settings = RunSettings()
    panel = RunPanel(settings, detect())
    qtbot.addWidget(panel)
    panel.set_state(can_run=False, running=False, why="Open a clip first")
    assert not panel.run_btn.isEnabled() and panel.run_btn.toolTip() == "Open a clip first"
    panel.set_state(can_run=True, running=True)
    panel.job_started("Sync")
    panel.show_progress(Progress("render", 1, 2, 40, 100, 50.0, 1.2, job_eta_s=4.5))
    assert panel.bar.value() == 40 and "50.0 frames/s" in panel.rate.text() and "4.5 s left in all" in panel.eta.text()
    assert not panel.quality.isEnabled() and panel.cancel_btn.isEnabled()
    panel.job_ended("Sync finished", True)
    panel.set_state(can_run=True, running=False)
    assert panel.run_btn.isEnabled()
    with qtbot.waitSignal(panel.options_changed):
        panel.quality.setCurrentIndex(panel.quality.findData("final"))
    assert settings.quality == "final"


def test_side_by_side_view_shows_each_eye_of_a_stereo_clip(qtbot):
    from lipsync_studio.ui.viewer import VideoViewer

    v = VideoViewer()
    qtbot.addWidget(v)
    v.resize(800, 300)
    v.show()
    frame = np.zeros((90, 320, 3), np.uint8)
    frame[:, :160] = 60  # left eye
    frame[:, 160:] = 190  # right eye
    v.show_bundle(FrameBundle(0, 0, frame, None))
    v.set_mode("side-by-side")
    v.set_stereo_layout("sbs")
    img = v.grab().toImage()
    assert img.pixelColor(v.width() // 4, v.height() // 2).red() == 60
    assert img.pixelColor(3 * v.width() // 4, v.height() // 2).red() == 190
    assert img.pixelColor(v.width() // 2, v.height() // 2).red() < 30  # the gap between the eyes
    tb = np.zeros((180, 160, 3), np.uint8)
    tb[:90], tb[90:] = 60, 190  # top: left eye, bottom: right eye
    v.show_bundle(FrameBundle(0, 0, tb, None))
    v.set_stereo_layout("tb")
    img = v.grab().toImage()
    assert img.pixelColor(v.width() // 4, v.height() // 2).red() == 60
    assert img.pixelColor(3 * v.width() // 4, v.height() // 2).red() == 190
    # After a stereo sync the eyes shown are the result's (the view says so), not the original's.
    synced = tb.copy()
    synced[:90], synced[90:] = 100, 220
    v.show_bundle(FrameBundle(0, 0, tb, synced))
    img = v.grab().toImage()
    assert img.pixelColor(v.width() // 4, v.height() // 2).red() == 100
    assert img.pixelColor(3 * v.width() // 4, v.height() // 2).red() == 220


def test_nothing_below_the_ui_imports_qt():
    import re

    import lipsync_studio

    root = Path(lipsync_studio.__file__).parent
    qt = re.compile(r"^\s*(from|import)\s+(PySide6|PyQt\d|pyqtgraph|shiboken6)\b", re.M)
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py")
                 if "ui" not in p.relative_to(root).parts[:1] and qt.search(p.read_text(encoding="utf-8"))]
    assert offenders == []
    # The plain helpers inside ui/ are Qt-free too (the CLI and tests use them without a display).
    # The app's model (app/) is Qt-free too: the CLI and tests use it without a display (checked above, and
    # by the layering contract in test_layers).
    assert (root / "app" / "jobs.py").exists()


def test_without_a_display_the_command_prints_help_and_gui_says_why(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["LIPSYNC_STUDIO_HOME"] = str(tmp_path)
    bare = subprocess.run([sys.executable, "-m", "lipsync_studio.cli"], capture_output=True, text=True, env=env,
                          timeout=60)
    assert bare.returncode == 0 and "gui" in bare.stdout and "sync" in bare.stdout
    gui = subprocess.run([sys.executable, "-m", "lipsync_studio.cli", "gui"], capture_output=True, text=True,
                         env=env, timeout=60)
    assert gui.returncode == 2 and "no display" in gui.stderr


def test_a_closed_windows_frame_server_leaves_no_timer_to_fire_on_freed_memory():
    """The suite's rare segfault (notes 24-30), placed at last by a crash trace: the GUI thread's event loop fired a
    timer on a freed object. The frame server's idle timer (thumbnails wait while the user scrubs) lives in the GUI
    thread and went with the server's garbage collection, in whatever thread collected: a timer the worker had
    started again as it stopped stayed registered ("Timers cannot be stopped from another thread") and fired on
    freed memory. Run in a child (a crash must not take the suite with it): a rest emitted as the worker stops, the
    server's last reference dropped in another thread, the timer's time let come."""
    import subprocess
    import sys

    script = """
import threading, time
from PySide6.QtCore import QEventLoop
from PySide6.QtWidgets import QApplication
from lipsync_studio.ui.frame_server import FrameServer
app = QApplication([])
def spin(ms):
    end = time.monotonic() + ms / 1000
    while time.monotonic() < end:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.005)
server = FrameServer()
spin(100)
server.shutdown()
late = threading.Thread(target=lambda: server._rest.emit(200))  # a rest the worker emitted as it stopped
late.start(); late.join()
spin(50)
box = [server]
del server
gone = threading.Thread(target=box.clear)  # the last reference goes in another thread, as a collection may
gone.start(); gone.join()
spin(600)
print("still running")
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert run.returncode == 0 and "still running" in run.stdout, (run.returncode, run.stderr[-1500:])
    assert "Timers cannot be stopped from another thread" not in run.stderr


def test_a_worker_thread_that_does_not_stop_is_left_running_not_destroyed():
    """A thread stuck in a native call (a batch's Ray start hung in its fork once) did not end when its window
    closed, and when Python let it go the whole process aborted ("QThread: Destroyed while thread is still
    running") - the app and its unsaved work with it. A thread that does not end in time is kept, with its worker,
    for the rest of the process. Run in a child (an abort must not take the suite with it)."""
    import subprocess
    import sys

    script = """
import gc, threading, time
from PySide6.QtCore import QCoreApplication, QObject, Signal, Slot
from lipsync_studio.ui.threads import start_worker, stop_worker
app = QCoreApplication([])
release = threading.Event()
class Stuck(QObject):
    go = Signal()
    def __init__(self):
        super().__init__()
        self.go.connect(self.work)
    @Slot()
    def work(self):
        release.wait(30)  # a native call that does not come back
worker = Stuck()
thread = start_worker(worker, "stuck")
worker.go.emit()
time.sleep(0.2)
assert not stop_worker(thread, 300, keep=(worker,))
del thread, worker
gc.collect()
time.sleep(0.2)
print("still running")
release.set()  # the native call comes back: the thread ends, and the process can end
from lipsync_studio.ui.threads import _stuck
assert all(t.wait(10000) for t, *_ in _stuck)
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert run.returncode == 0 and "still running" in run.stdout, (run.returncode, run.stderr[-1500:])
