"""How responsive the app is: scrubbing a 720p clip, and the event loop while a sync job runs.

Usage (needs a display; on a machine without one)::

    xvfb-run -a -s "-screen 0 1600x1000x24 +extension GLX" .venv/bin/python bench/ui_responsiveness.py [--json]

- **Scrubbing**: the slider is moved through 2 s of a 720p clip in 1.6 s (50 frames of video per second of
  motion), forward then backward; printed: new frames shown per second of motion, and that as a share of the
  distinct positions the slider passed (1.0: every position the slider passed was shown). The tests check only
  that the picture follows the slider and lands on the last frame asked for.
- **Event loop**: a 10 ms timer's delays while a sync job (engine none) runs and the user scrubs, against the
  same timer on the idle window measured in the same run: median, 95th percentile and worst, and the job's
  95th percentile as a multiple of the idle one. A window that freezes misses by seconds, not milliseconds.

Everything runs on media the script makes (a few seconds, in a temporary folder).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

N = 100


def _talking_720p(path: Path) -> Path:
    from lipsync_studio.samples import write_talking_720p

    return write_talking_720p(path, N)


def _wait(ms: int) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def _wait_until(cond, timeout_s: float = 30.0) -> None:
    end = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > end:
            raise TimeoutError("the window did not get there in time")
        _wait(10)


def _open(win, clip: Path, dub: Path | None = None) -> None:
    s = win.session
    got: list = []
    s.frame_ready.connect(lambda b: got.append(b))
    s.open_clip(clip)
    _wait_until(lambda: any(b.final for b in got))
    if dub is not None:
        s.open_dub(dub)
        _wait_until(lambda: s.source_frames() is not None)


def _gaps(seconds: float, during=None) -> list[float]:
    """Delays between the ticks of a 10 ms timer for ``seconds`` (or while ``during()`` is true)."""
    from PySide6.QtCore import QTimer

    gaps: list[float] = []
    last = [time.perf_counter()]

    def ping():
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(ping)
    timer.start()
    end = time.monotonic() + seconds
    while (during() if during is not None else time.monotonic() < end):
        _wait(15)
    timer.stop()
    return sorted(gaps)


def _stats(gaps: list[float]) -> dict[str, float]:
    return {"pings": len(gaps), "median_ms": round(1000 * gaps[len(gaps) // 2], 1),
            "p95_ms": round(1000 * gaps[int(0.95 * (len(gaps) - 1))], 1), "worst_ms": round(1000 * gaps[-1], 1)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="lipsync-bench-ui-"))
    os.environ["LIPSYNC_STUDIO_HOME"] = str(folder / "home")
    from lipsync_studio.demo import make_dub, make_talking_clip
    from lipsync_studio.media.writer import VideoFormat
    from lipsync_studio.settings import Settings
    from lipsync_studio.ui.app import make_app
    from lipsync_studio.ui.main_window import MainWindow

    clip720 = _talking_720p(folder / "talk720.mp4")
    clip = make_talking_clip(folder / "clip.mp4", syllables=7, size=240, fmt=VideoFormat(preset="veryfast"))["path"]
    dub = make_dub(folder / "dub.wav", syllables=10)["path"]
    make_app()
    win = MainWindow(Settings(), start_3d=False, probe=False)
    win.confirm_close = False
    win.resize(1280, 800)
    win.show()
    report: dict = {}
    try:
        _open(win, clip720)
        shown: list[int] = []
        win.session.frame_ready.connect(lambda b: shown.append(b.position))
        for name, start, speed in (("forward", 0, 50.0), ("backward", N - 1, -50.0)):
            shown.clear()
            asked: set[int] = set()
            t0 = time.perf_counter()
            while (elapsed := time.perf_counter() - t0) < 1.6:
                pos = int(min(N - 1, max(0, start + elapsed * speed)))
                asked.add(pos)
                win.timeline.seek_requested.emit(pos)
                _wait(16)
            report[f"scrub_{name}_frames_per_s"] = round(len(set(shown)) / 1.6, 1)
            report[f"scrub_{name}_share_of_positions"] = round(len(set(shown) & asked) / max(1, len(asked)), 2)
            _wait(200)
        _open(win, Path(clip), Path(dub))
        win.run_panel.engine.setCurrentIndex(win.run_panel.engine.findData("none"))
        win.run_panel.measure.setChecked(False)
        idle = _gaps(1.5)
        jobs = win.session.jobs
        win.session.run()
        k = [0]

        def running() -> bool:
            win.session.seek(k[0] % 60)
            k[0] += 3
            return jobs.busy

        busy = _gaps(0, during=running)
        report["event_loop_idle"] = _stats(idle)
        report["event_loop_job"] = _stats(busy)
        report["event_loop_p95_x_idle"] = round(report["event_loop_job"]["p95_ms"] /
                                                max(report["event_loop_idle"]["p95_ms"], 1e-3), 2)
    finally:
        win.close()
        win.shutdown()
    if args.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key:34s} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
