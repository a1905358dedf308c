"""Test support for the UI (pytest fixtures), imported by ``tests/test_ui_*.py`` (test scaffolding stays in tests/).

- ``ui_home``: settings, logs, caches and models of the test in a temporary folder (``LIPSYNC_STUDIO_HOME``).
- ``no_threads_left``: fails the test when a worker thread of the UI is still running after it.
- ``talking_media``: a short synthetic talking clip and a dub (made once per test session).
- ``main_window``: the app's window on the talking media's home, closed (threads stopped) after the test.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture()
def ui_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty home for settings, logs, caches and models."""
    home = tmp_path / "home"
    monkeypatch.setenv("LIPSYNC_STUDIO_HOME", str(home))
    monkeypatch.delenv("LIPSYNC_STUDIO_MODELS_DIR", raising=False)
    monkeypatch.setenv("LIPSYNC_STUDIO_CACHE_DIR", str(home / "cache" / "analysis"))
    yield home
    from lipsync_studio.ui.errors import close_logging

    close_logging()


@pytest.fixture()
def no_threads_left():
    """Fail the test if a UI worker thread it started is still running when it ends (one an earlier test left
    stuck fails that test, not every test after it)."""
    from lipsync_studio.ui.threads import running_threads

    before = running_threads()
    yield
    left = running_threads()
    for name in before:
        if name in left:
            left.remove(name)
    assert not left, f"worker threads still running after the test: {left}"


@pytest.fixture(scope="session")
def talking_media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``{"clip": .mp4 (≈2.5 s talking face with its own sound), "dub": .wav (≈3.5 s other voice)}``."""
    from lipsync_studio.demo import make_dub, make_talking_clip
    from lipsync_studio.media.writer import VideoFormat

    folder = tmp_path_factory.mktemp("talking")
    clip = make_talking_clip(folder / "clip.mp4", syllables=7, size=240,
                             fmt=VideoFormat(preset="veryfast", crf=20))["path"]
    dub = make_dub(folder / "dub.wav", syllables=10)["path"]
    return {"clip": Path(clip), "dub": Path(dub)}


@pytest.fixture()
def main_window(qtbot, ui_home: Path, no_threads_left):
    """A main window with fresh settings (the 3D renderer and device probes off); closed after the test."""
    from lipsync_studio.settings import Settings
    from lipsync_studio.ui.app import make_app
    from lipsync_studio.ui.errors import setup_logging
    from lipsync_studio.ui.main_window import MainWindow

    make_app()
    setup_logging()
    win = MainWindow(Settings(), start_3d=False, probe=False)
    win.confirm_close = False  # a failing test may close it mid-job: never wait for a question
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    yield win
    box = win.errors.last_box
    if box is not None:
        try:
            box.close()
        except RuntimeError:
            pass
    win.close()
    win.shutdown()


def open_media(qtbot, win, clip: Path, dub: Path | None = None, timeout: int = 15000) -> None:
    """Open ``clip`` (and ``dub``) in ``win`` and wait until the first frame (and the dub) are in."""
    s = win.session
    with qtbot.waitSignal(s.frame_ready, timeout=timeout, check_params_cb=lambda b: b.final):
        s.open_clip(clip)
    if dub is not None:
        with qtbot.waitSignal(s.dub_changed, timeout=timeout):
            s.open_dub(dub)
        qtbot.waitUntil(lambda: s.source_frames() is not None, timeout=timeout)
