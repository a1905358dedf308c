"""Scrubbing a 720p clip: the picture follows the slider both ways and lands on the frame asked for, with no
error. How fast it keeps up (new frames per second of slider motion) is measured by bench/ui_responsiveness.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from ui_fixtures import main_window, no_threads_left, open_media, ui_home  # noqa: F401

N = 100


def talking_720p(path: Path) -> Path:
    """A 4 s 1280×720 talking head (the sample face scaled up), 25 fps, one keyframe (x264's default)."""
    from lipsync_studio.samples import write_talking_720p

    return write_talking_720p(path, N)


@pytest.mark.slow
def test_scrubbing_720p_follows_the_slider_both_ways_without_an_error(qtbot, main_window, tmp_path):
    win = main_window
    open_media(qtbot, win, talking_720p(tmp_path / "talk720.mp4"))
    shown: list[int] = []
    win.session.frame_ready.connect(lambda b: shown.append(b.position))
    for start, stop in ((0, N - 1), (N - 1, 0)):
        shown.clear()
        step = 1 if stop > start else -1
        for pos in range(start, stop + step, 4 * step):  # a slider dragged through the clip
            win.timeline.seek_requested.emit(pos)
            qtbot.wait(5)
        win.timeline.seek_requested.emit(stop)
        # Latest request wins: whatever was skipped on the way, the frame asked for last is the one shown.
        qtbot.waitUntil(lambda: bool(shown) and shown[-1] == stop, timeout=15000)
        on_the_way = set(shown) - {start, stop}
        assert on_the_way, "no frame was shown while the slider moved"
        assert all(min(start, stop) <= p <= max(start, stop) for p in shown)
    assert win.session.position == 0
    assert win.errors.last_box is None  # no error dialog opened at any point
