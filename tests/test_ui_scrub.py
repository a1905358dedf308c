"""Scrubbing a 720p clip: the picture keeps up with the slider (≥ 20 new frames per second of motion)."""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from lipsync_studio.ui.testing import main_window, no_threads_left, open_media, ui_home  # noqa: F401

N = 100


def talking_720p(path: Path) -> Path:
    """A 4 s 1280×720 talking head (the sample face scaled up), 25 fps, one keyframe (x264's default)."""
    import cv2

    from lipsync_studio.media.writer import VideoFormat, VideoWriter
    from lipsync_studio.samples import render_face

    faces = [cv2.resize(render_face(o, size=360), (720, 720)) for o in np.linspace(0, 1, 5)]
    canvas = np.full((720, 1280, 3), 40, np.uint8)
    with VideoWriter(path, Fraction(25), 1280, 720, fmt=VideoFormat(preset="ultrafast", crf=20)) as w:
        for i in range(N):
            canvas[:, 280:1000] = faces[(i // 2) % 5]
            canvas[:24, :120] = (i * 2) % 255
            w.write(canvas)
    return path


@pytest.mark.slow
def test_scrubbing_720p_shows_at_least_20_new_frames_per_second(qtbot, main_window, tmp_path):
    win = main_window
    open_media(qtbot, win, talking_720p(tmp_path / "talk720.mp4"))
    shown: list[int] = []
    win.session.frame_ready.connect(lambda b: shown.append(b.position))
    rates = {}
    for name, start, speed in (("forward", 0, 50.0), ("backward", N - 1, -50.0)):
        shown.clear()
        t0 = time.perf_counter()
        while (elapsed := time.perf_counter() - t0) < 1.6:  # the slider moves 2 s of video in 1.6 s
            win.timeline.seek_requested.emit(int(min(N - 1, max(0, start + elapsed * speed))))
            qtbot.wait(16)
        rates[name] = len(set(shown)) / 1.6
        qtbot.wait(200)
    print(f"\nnew frames per second of slider motion (720p): {rates}")
    assert rates["forward"] >= 20 and rates["backward"] >= 20, rates
