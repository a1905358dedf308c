"""Projects: the work on a clip and dub saved in one file and opened again as it was, preview included, without
a new sync; missing files named; unsaved changes asked about. Real widgets, real media made here."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ui_fixtures import main_window, no_threads_left, open_media, talking_media, ui_home  # noqa: F401
from test_ui_editor import _answer, _run


def test_a_project_file_is_checked_and_names_what_is_wrong(tmp_path):
    from lipsync_studio.app.project import ProjectError, load_project

    bad = tmp_path / "bad.lsproj"
    bad.write_text("{not json")
    with pytest.raises(ProjectError, match="damaged"):
        load_project(bad)
    bad.write_text(json.dumps({"clip": "x.mp4"}))
    with pytest.raises(ProjectError, match="not a Lipsync Studio project"):
        load_project(bad)
    bad.write_text(json.dumps({"format": "lipsync-studio-project", "version": 99}))
    with pytest.raises(ProjectError, match="newer Lipsync Studio"):
        load_project(bad)
    with pytest.raises(ProjectError, match="does not exist"):
        load_project(tmp_path / "none.lsproj")


def test_a_saved_project_opens_again_as_it_was_without_a_new_sync(qtbot, main_window, talking_media, tmp_path):
    win, work = main_window, tmp_path / "work"
    work.mkdir()
    clip, dub = (Path(shutil.copy(talking_media[k], work)) for k in ("clip", "dub"))
    s = win.session
    open_media(qtbot, win, clip, dub)
    assert s.modified and win.windowTitle().startswith("Untitled* (clip.mp4)")
    win.transport.offset.setValue(80)
    s.set_marks(5, 40)
    win.run_panel.extend.setCurrentIndex(win.run_panel.extend.findData("hold"))
    _run(qtbot, win, "none")
    n_out, measures = s.timeline.n_out, win.run_panel.measures.count()

    project = work / "scene 1"
    assert win.save_project_as(project)
    saved = work / "scene 1.lsproj"
    assert saved.is_file() and not s.modified and win.windowTitle().startswith("scene 1 (clip.mp4)")
    data = json.loads(saved.read_text())
    # Beside the project: relative paths; the preview is kept with it, not only in the cache.
    assert data["clip"] == "clip.mp4" and data["dub"] == "dub.wav"
    assert data["previews"][0]["file"] == f"scene 1_files/{Path(s.result.output).name}"
    assert (work / data["previews"][0]["file"]).is_file()
    assert data["dub_offset_ms"] == 80 and (data["mark_in"], data["mark_out"]) == (5, 40)
    assert data["run"]["extend"] == "hold" and str(saved) == win.settings.recent_projects[0]
    assert not list(work.glob(".*tmp*"))  # written under a temporary name, renamed: nothing left over

    win.new_project()
    assert s.clip is None and s.dub is None and s.result is None and win.windowTitle().startswith("Untitled —")
    win.run_panel.extend.setCurrentIndex(win.run_panel.extend.findData("loop"))

    # The folder moves (relative paths follow); it opens as it was, and nothing is synced again.
    moved = shutil.move(str(work), tmp_path / "moved")
    started = []
    s.jobs.started.connect(started.append)
    with qtbot.waitSignal(s.project_opened, timeout=20000) as sig:
        assert win.open_project(Path(moved) / "scene 1.lsproj")
    assert sig.args[1] == []  # nothing missing
    assert s.clip.path == Path(moved) / "clip.mp4" and s.dub.path == Path(moved) / "dub.wav"
    assert s.offset_s == pytest.approx(0.08) and (s.mark_in, s.mark_out) == (5, 40) and s.timeline.n_out == n_out
    assert win.settings.run.extend == "hold" and win.run_panel.extend.currentData() == "hold"
    assert s.result is not None and not s.result_stale and Path(s.result.output).parent.name == "scene 1_files"
    assert win.run_panel.measures.count() == measures and "project" in win.run_panel.stage.text()
    qtbot.waitUntil(lambda: win.viewer.image("result") is not None, timeout=10000)
    assert not started and not s.modified and win.transport.offset.value() == 80
    assert win.windowTitle().startswith("scene 1 (clip.mp4)")

    # A change shows in the title; quitting asks Save / Discard / Cancel.
    s.set_marks(None, None)
    assert s.modified and win.windowTitle().startswith("scene 1* ") and s.result_stale
    win.confirm_close = True
    _answer(qtbot, "Cancel")
    win.close()
    assert win.isVisible() and "scene 1.lsproj" in win.quit_box.text()
    _answer(qtbot, "Save")
    win.close()
    assert not win.isVisible()
    again = json.loads((Path(moved) / "scene 1.lsproj").read_text())
    assert again["mark_in"] is None and again["previews"][0]["stale"] is True


def test_a_project_whose_dub_is_gone_opens_without_it_and_says_so(qtbot, main_window, talking_media, tmp_path):
    win = main_window
    dub = Path(shutil.copy(talking_media["dub"], tmp_path / "gone.wav"))
    open_media(qtbot, win, talking_media["clip"], dub)
    assert win.save_project_as(tmp_path / "p.lsproj")
    dub.unlink()
    win.new_project()
    with qtbot.waitSignal(win.session.project_opened, timeout=20000) as sig:
        win.open_paths([str(tmp_path / "p.lsproj")])  # as `lipsync-studio gui p.lsproj` or a drop does
    assert any("dub is missing" in n and "gone.wav" in n for n in sig.args[1])
    assert win.session.clip is not None and win.session.dub is None
    box = win.errors.last_box
    assert box is not None and "gone.wav" in box.text() + box.informativeText()
    box.close()


def test_saving_again_after_a_new_run_keeps_only_the_new_preview(qtbot, main_window, talking_media, tmp_path):
    win, s = main_window, main_window.session
    open_media(qtbot, win, talking_media["clip"], talking_media["dub"])
    _run(qtbot, win, "none")
    assert win.save_project_as(tmp_path / "p.lsproj")
    first = Path(s.result.output)
    win.transport.offset.setValue(40)
    _run(qtbot, win, "none")
    assert win.save_project()  # the same file, no question
    second = Path(s.result.output)
    assert second.parent == tmp_path / "p_files" and second != first and second.is_file() and not first.exists()
    data = json.loads((tmp_path / "p.lsproj").read_text())
    assert data["dub_offset_ms"] == 40 and data["previews"][0]["file"] == f"p_files/{second.name}"


def test_a_projects_face_tracks_come_back_without_tracking_again(qtbot, main_window, talking_media, tmp_path):
    win, s = main_window, main_window.session
    if not win.caps.face_mesh:
        pytest.skip("face tracking is not installed here")
    open_media(qtbot, win, talking_media["clip"])
    with qtbot.waitSignal(s.faces_changed, timeout=120000, check_params_cb=lambda f: f is not None):
        win.faces.track()
    qtbot.waitUntil(lambda: not s.jobs.busy, timeout=10000)
    tracks = sorted(s.faces.tracks)
    assert win.save_project_as(tmp_path / "faces.lsproj")
    assert (tmp_path / "faces_files" / "faces.npz").is_file()
    win.new_project()
    # The analysis cache is emptied: the faces can only come from the project.
    from lipsync_studio.media.cache import cache_dir as analysis_cache

    shutil.rmtree(analysis_cache(), ignore_errors=True)
    started = []
    s.jobs.started.connect(started.append)
    with qtbot.waitSignal(s.project_opened, timeout=20000):
        win.open_project(tmp_path / "faces.lsproj")
    assert s.faces is not None and sorted(s.faces.tracks) == tracks and not started


def test_a_window_with_only_files_open_closes_without_a_question(qtbot, main_window, talking_media):
    win = main_window
    open_media(qtbot, win, talking_media["clip"], talking_media["dub"])
    assert win.session.modified  # the title says so, but nothing would be lost: no project file, no preview
    win.confirm_close = True
    win.close()
    assert not win.isVisible()


def test_a_dub_holding_several_streams_is_heard_by_the_one_chosen_and_a_project_keeps_it(qtbot, main_window,
                                                                                          talking_media, tmp_path):
    """A delivery holding the M&E and the dialogue as two audio streams of one file: the Run panel's Dub stream box
    (shown only for such a dub) chooses the dialogue; the waveform, the sync, the result's sound and a saved project
    follow it. (The app heard the file's main stream, the M&E, and offered no way to another.)"""
    import numpy as np
    from conftest import write_audio_streams

    from lipsync_studio.media.audio import load_audio

    win, s = main_window, main_window.session
    open_media(qtbot, win, talking_media["clip"], talking_media["dub"])
    assert win.run_panel.dub_stream.isHidden()  # one stream: nothing to choose
    speech = load_audio(talking_media["dub"], 48000)
    tone = (0.3 * np.sin(2 * np.pi * 300 * np.arange(len(speech)) / 48000)).astype(np.float32)
    dub = write_audio_streams(tmp_path / "delivery.mkv", [tone, speech], titles=("M&E", "Dialogue"))
    with qtbot.waitSignal(s.dub_changed, timeout=15000):
        s.open_dub(dub)
    box = win.run_panel.dub_stream
    assert not box.isHidden() and [box.itemText(i) for i in range(box.count())] == ["#0 M&E", "#1 Dialogue"]
    assert box.currentData() == 0 and s.sync_options().dub_stream is None
    with qtbot.waitSignal(s.waveform_ready, timeout=15000, check_params_cb=lambda role, w: role == "dub"):
        box.setCurrentIndex(1)
    assert s.dub.stream == 1 and s.sync_options().dub_stream == 1 and s.modified
    _run(qtbot, win, "none")
    heard = load_audio(s.result.output, 16000)
    want = load_audio(talking_media["dub"], 16000)
    n = min(len(heard), len(want))
    assert np.corrcoef(heard[:n], want[:n])[0, 1] > 0.9  # the dialogue is the result's sound

    assert win.save_project_as(tmp_path / "p.lsproj")
    win.new_project()
    with qtbot.waitSignal(s.project_opened, timeout=20000):
        assert win.open_project(tmp_path / "p.lsproj")
    assert s.dub.stream == 1 and box.currentData() == 1 and s.result is not None and not s.result_stale


def test_a_polyphonic_dubs_dialogue_channel_is_chosen_in_the_run_panel(qtbot, main_window, talking_media, tmp_path):
    """A polyphonic file of stems (four channels, no surround layout: the M&E on 1-2, the dialogue on 3): the Run
    panel's Dub channels box (shown for more than two channels) chooses channel 3; the sync, the result's sound and
    a saved project follow it."""
    import numpy as np

    from lipsync_studio.media.audio import load_audio
    from lipsync_studio.media.audio_writer import write_audio

    win, s = main_window, main_window.session
    speech = load_audio(talking_media["dub"], 16000)
    tone = (0.3 * np.sin(2 * np.pi * 300 * np.arange(len(speech)) / 16000)).astype(np.float32)
    stems = write_audio(tmp_path / "stems.wav", np.stack([tone, tone, speech, 0 * tone]), 16000, layout="4 channels")
    open_media(qtbot, win, talking_media["clip"], stems)
    box = win.run_panel.dub_channels
    labels = [box.itemText(i) for i in range(box.count())]
    assert not box.isHidden() and labels[0] == "All, mixed" and "3" in labels and "1-2" in labels
    with qtbot.waitSignal(s.waveform_ready, timeout=15000, check_params_cb=lambda role, w: role == "dub"):
        box.setCurrentIndex(labels.index("3"))
    assert s.dub.channels == (3,) and s.sync_options().dub_channels == (3,)
    assert "channel 3 of 4" in win.status_line.dub.text()
    _run(qtbot, win, "none")
    heard = load_audio(s.result.output, 16000)
    n = min(len(heard), len(speech))
    assert np.corrcoef(heard[:n], speech[:n])[0, 1] > 0.9  # the dialogue alone is the result's sound
    assert win.save_project_as(tmp_path / "p.lsproj")
    win.new_project()
    with qtbot.waitSignal(s.project_opened, timeout=20000):
        assert win.open_project(tmp_path / "p.lsproj")
    assert s.dub.channels == (3,) and box.currentData() == (3,) and not s.result_stale
    assert box.currentText() == "3" and box.count() == len(labels)  # the listed choice, not a copy of it


def test_work_left_open_by_an_unexpected_end_is_offered_back_as_it_was(qtbot, main_window, talking_media, tmp_path):
    """The app ended unexpectedly (a crash, a killed process, a power cut) with a clip, a dub, an offset, marks and
    a synced preview open and never saved: all of it was lost. The open work is kept for recovery a few seconds
    after each change; the next start offers it back, unsaved, preview and all, without a new sync. A clean close
    leaves nothing to offer."""
    import subprocess
    import sys

    from lipsync_studio.app.recovery import left_behind, recovery_file
    from lipsync_studio.settings import Settings
    from lipsync_studio.ui.main_window import MainWindow

    win, s = main_window, main_window.session
    open_media(qtbot, win, talking_media["clip"], talking_media["dub"])
    win.transport.offset.setValue(120)
    s.set_marks(3, 30)
    _run(qtbot, win, "none")
    kept = recovery_file()

    def holds_the_work() -> bool:
        if not kept.is_file():
            return False
        data = json.loads(kept.read_text())
        return data["dub_offset_ms"] == 120 and data["mark_in"] == 3 and len(data["previews"]) == 1

    qtbot.waitUntil(holds_the_work, timeout=15000)
    # That process ends unexpectedly: its recovery file stays under a process id that no longer runs.
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    left = recovery_file(int(gone.stdout))
    left.write_bytes(kept.read_bytes())
    assert left_behind() == [left]

    again = MainWindow(Settings(), start_3d=False, probe=False)  # the next start
    again.confirm_close = False
    qtbot.addWidget(again)
    again.show()
    asked, started = [], []
    again.session.jobs.started.connect(started.append)
    # It crashed in a native library: the trace it left is moved aside once and named in the question.
    from lipsync_studio.ui.app import _last_crash

    trace = tmp_path / "log" / "crash.log"
    trace.parent.mkdir()
    trace.write_text("")
    assert _last_crash(trace) is None and trace.exists()  # empty: the last run ended cleanly
    trace.write_text("Fatal Python error: Segmentation fault\n")
    report = _last_crash(trace)
    assert report.name.startswith("crash-") and report.read_text().startswith("Fatal") and not trace.exists()
    with qtbot.waitSignal(again.session.project_opened, timeout=20000):
        assert again.offer_recovery(ask=lambda text: asked.append(text) or True, crash_report=report)
    t = again.session
    assert "closed unexpectedly" in asked[0] and talking_media["clip"].name in asked[0] and "preview" in asked[0]
    assert str(report) in asked[0]
    assert t.clip.path == talking_media["clip"] and t.dub.path == talking_media["dub"]
    assert t.offset_s == pytest.approx(0.12) and (t.mark_in, t.mark_out) == (3, 30)
    assert t.result is not None and not started  # the preview as it was: no new sync
    # Unsaved, as it was: no project file of its own, asked about at close; not listed as a recent project.
    assert t.project_path is None and t.modified and not t.result_exported
    assert again.windowTitle().startswith("Untitled*") and not again.settings.recent_projects
    assert not left.exists() and left_behind() == []
    again.close()
    again.shutdown()
    assert not recovery_file().exists()  # a clean close keeps nothing to offer
    assert not again.offer_recovery(ask=lambda text: True)
