"""How long the passes' threads wait for the interpreter lock, at Python's 5 ms switch interval and at 0.5 ms.

Usage::

    .venv/bin/python bench/gil_turns.py [CLIP] [--frames 120] [--repeat 3] [--json]

The sync job's passes run native work in threads beside the main thread's Python: the decoder (a prefetch
thread), the encoder, MediaPipe's graph. Each gives the interpreter lock up around its native calls and must win
it back after each; while another thread runs Python, that takes up to one switch interval. Measured, for each
interval, in the run's own process (so the two are compared on the same machine state):

- ``decode beside Python``: ms per frame to decode (and convert to RGB) the clip while another thread runs
  Python without pause (the render pass's main thread drawing mouths is mostly Python and numpy);
- ``tracking loop``: ms per frame of the tracking pass's own loop (frames decoded in a prefetch thread, FaceMesh
  on each in the main thread), and the same loop's ms per frame of FaceMesh alone on frames already decoded.

Each figure is the fastest of ``--repeat`` runs, the intervals taken in turn. Without CLIP a 720p talking clip
is made (as ``lipsync-studio bench`` makes it). :func:`lipsync_studio.engine.sync_job.short_gil_turns` is
what the passes use.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def _decode_beside_python(clip: Path, frames: int) -> float:
    """ms per frame decoding ``frames`` frames while another thread runs Python non-stop."""
    from lipsync_studio.media.video import VideoReader

    stop = threading.Event()

    def busy() -> None:
        n = 0
        while not stop.is_set():
            n += 1

    worker = threading.Thread(target=busy, daemon=True)
    worker.start()
    try:
        with VideoReader(clip) as reader:
            t0 = time.perf_counter()
            n = sum(1 for _ in reader.iter_frames(0, frames))
            return (time.perf_counter() - t0) / max(n, 1) * 1e3
    finally:
        stop.set()
        worker.join()


def _tracking_loop(clip: Path, frames: int, detector) -> tuple[float, float]:
    """ms per frame of FaceMesh fed by a prefetch thread, and of FaceMesh alone on the same frames."""
    from lipsync_studio.media.prefetch import prefetch
    from lipsync_studio.media.video import VideoReader

    with VideoReader(clip) as reader:
        held = [img for _, img in reader.iter_frames(0, frames)]
        t0 = time.perf_counter()
        n = 0
        for i, img in prefetch(reader.iter_frames(0, frames)):
            detector.detect(img, i, [])
            n += 1
        fed = (time.perf_counter() - t0) / max(n, 1) * 1e3
    t0 = time.perf_counter()
    for i, img in enumerate(held):
        detector.detect(img, i, [])
    return fed, (time.perf_counter() - t0) / max(len(held), 1) * 1e3


def run(clip: Path, frames: int, repeat: int) -> dict:
    from lipsync_studio.engine.sync_job import short_gil_turns
    from lipsync_studio.face.tracker import FaceDetector

    default = sys.getswitchinterval()
    best: dict[str, dict[str, float]] = {}
    detector = FaceDetector()
    try:
        for _ in range(repeat):
            for name, interval in (("5 ms", default), ("0.5 ms", 0.0005)):
                with short_gil_turns(interval):
                    got = {"decode beside Python": _decode_beside_python(clip, frames)}
                    got["tracking loop"], got["FaceMesh alone"] = _tracking_loop(clip, frames, detector)
                mine = best.setdefault(name, {})
                for k, v in got.items():
                    mine[k] = min(mine.get(k, float("inf")), v)
    finally:
        detector.close()
    return {"clip": str(clip), "frames": frames, "repeat": repeat, "ms_per_frame": best}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clip", nargs="?", type=Path)
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="gil-turns-") as tmp:
        clip = args.clip
        if clip is None:
            from lipsync_studio.benchmarks.stages import _make_clip

            clip, _ = _make_clip(Path(tmp), args.frames / 25 + 0.5, 720)
        report = run(clip, args.frames, args.repeat)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{report['clip']}: {args.frames} frames, fastest of {args.repeat} (ms per frame)")
    names = list(next(iter(report["ms_per_frame"].values())))
    print(f"{'switch interval':<16}" + "".join(f"{n:>22}" for n in names))
    for interval, row in report["ms_per_frame"].items():
        print(f"{interval:<16}" + "".join(f"{row[n]:>22.1f}" for n in names))


if __name__ == "__main__":
    main()
