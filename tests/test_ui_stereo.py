"""A stereo clip in the app: its layout detected, the eyes side by side, anaglyph and disparity views made off
the GUI thread, and a stereo export in the layout of choice."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from ui_fixtures import main_window, no_threads_left, open_media, ui_home  # noqa: F401

pytest.importorskip("cv2")


def stereo_clip(folder: Path, n: int = 40, eye: int = 160) -> tuple[Path, Path]:
    """A full side-by-side talking pair with known disparity (named as VR players name them), and a dub."""
    from lipsync_studio.demo import make_dub
    from lipsync_studio.media.writer import VideoFormat, VideoWriter
    from lipsync_studio.samples import stereo_talking_frames

    clip = folder / "pair_LRF_Full_SBS.mp4"
    opening = 0.5 + 0.5 * np.sin(np.arange(n) / 3)
    with VideoWriter(clip, Fraction(25), 2 * eye, eye, fmt=VideoFormat(preset="ultrafast", crf=18)) as w:
        for left, right, _ in stereo_talking_frames(opening, size=eye):
            w.write(np.concatenate([left, right], axis=1))
    dub = make_dub(folder / "dub.wav", syllables=5)["path"]
    return clip, Path(dub)


@pytest.mark.slow
def test_stereo_clip_views_and_export(qtbot, main_window, tmp_path):
    win = main_window
    clip, dub = stereo_clip(tmp_path)
    open_media(qtbot, win, clip, dub)
    assert win.viewer_bar.layout_box.currentData() == "sbs" and win.session.layout == "sbs"
    for mode in ("side-by-side", "anaglyph", "disparity"):
        assert win.viewer_bar.mode_buttons[mode].isEnabled(), mode
    assert win.run_panel.stereo.isEnabled() and win.run_panel.stereo.currentData() == "consistent"

    win.viewer_bar.set_mode("anaglyph")
    qtbot.waitUntil(lambda: win.viewer.bundle is not None and win.viewer.bundle.view is not None, timeout=10000)
    ana = win.viewer.bundle.view
    assert ana.shape == (160, 160, 3) and win.viewer.bundle.view_of == "original"
    left = win.viewer.image("original")[:, :160].astype(int)
    assert abs(ana[..., 0].astype(int).mean() - left.mean()) < 80  # a red-cyan picture of the pair
    win.viewer_bar.set_mode("disparity")
    qtbot.waitUntil(lambda: win.viewer.bundle.view is not None and win.viewer.bundle.view is not ana
                    and win.viewer.mode == "disparity", timeout=20000)
    assert win.viewer.bundle.view.shape[:2] == (160, 160)
    win.viewer_bar.set_mode("side-by-side")
    assert win.viewer._eyes() is not None

    # Export both eyes, synced (re-timed here, to stay quick) as an anaglyph.
    win.run_panel.engine.setCurrentIndex(win.run_panel.engine.findData("none"))
    win.open_export()
    dlg = win.export_dialog
    assert dlg.tabs.isTabEnabled(1)
    dlg.tabs.setCurrentIndex(1)
    dlg.stereo_layout.setCurrentIndex(dlg.stereo_layout.findData("anaglyph"))
    dlg.preset.setCurrentText("ultrafast")
    out = tmp_path / "pair_anaglyph.mp4"
    dlg.path_edit.setText(str(out))
    jobs = win.session.jobs
    with qtbot.waitSignals([jobs.started, jobs.finished], order="strict", timeout=120000):
        assert dlg.start()
    from lipsync_studio.media.video import probe_video

    info = probe_video(out)
    assert (info.width, info.height) == (160, 160) and info.n_frames == win.session.timeline.n_out
    assert "pair_anaglyph.mp4" in dlg.status.text()
    dlg.close()


@pytest.mark.slow
def test_a_stereo_run_shows_each_eyes_sync_like_a_2d_one(qtbot, main_window, tmp_path):
    """The app runs the one sync job on a stereo clip: its result is a SyncResult whose measures (per eye)
    and warnings reach the Result box, as for a 2D clip."""
    win = main_window
    clip, dub = stereo_clip(tmp_path)
    open_media(qtbot, win, clip, dub)
    win.run_panel.engine.setCurrentIndex(win.run_panel.engine.findData("builtin"))
    win.run_panel.measure.setChecked(True)
    jobs = win.session.jobs
    results: list = []
    jobs.finished.connect(results.append)
    with qtbot.waitSignals([jobs.started, jobs.finished], order="strict", timeout=180000):
        win.session.run()
    (result,) = results
    assert result.is_stereo and result.mode == "consistent" and result.layout == "sbs"
    assert result.sync is not None and result.sync_right is not None
    shown = [win.run_panel.measures.itemAt(i).widget().text() for i in range(win.run_panel.measures.count())]
    assert "Left eye: Timing" in shown and "Right eye: Timing" in shown
    assert result.sync_right.lead is not None and f"{1000 * result.sync_right.lead.lead_s:+.0f} ms" in shown
    assert win.errors.last_box is None
