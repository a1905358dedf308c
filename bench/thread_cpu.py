"""Where a sync's CPU goes: the CPU seconds of every thread of the process, stage by stage (a measuring tool).

Runs one 2D sync with the built-in engine in this process (as ``sync`` does: the sounds heard ahead, the layout
looked at, then the job's stages, without the measure) while a sampler reads each thread's CPU time from
``/proc/self/task`` every 20 ms and books it to the stage running then. Threads are named as Python names them
(``encoder``, ``prefetch``, ``keep``, ...), native ones by their own name (``native:av:h264:df0`` is a decoder
thread, ``native:mediapipe/...`` FaceMesh's graph). The phone recognizer's process is printed as one number.

Why not a sampling profiler: on two busy cores py-spy's samples (with ``--idle``) count the time a thread waits
for the interpreter lock or for a core as its own, so a conversion that costs 0.3 ms in isolation read 2.8 ms a
frame; the kernel's per-thread CPU time does not.

On two cores (2026-12-06, the bench's 10 s 720p clip, ``/tmp/s20/bench_clip.mp4``): the render was the engine's
thread 2.62 s, the encoder's 2.42 (x264 on one thread, the dub's AAC, the drawn box's conversion), prefetch 0.48
and the decoder's three threads 0.34; the tracking FaceMesh's graph 0.81, its caller 0.61, the crops and mouth
measures 0.27, decoding 0.31 and RGB 0.18, beside the recognizer's process (1.2, 0.3 of it starting Python).

usage: PYTHONPATH=src python bench/thread_cpu.py CLIP DUB [--preset veryfast] [--keep-cache] [--min 0.03]
"""

from __future__ import annotations

import argparse
import collections
import os
import resource
import shutil
import tempfile
import threading
import time
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("clip", type=Path)
    ap.add_argument("dub", type=Path)
    ap.add_argument("--preset", default=None, help="x264 preset (default: the app's)")
    ap.add_argument("--keep-cache", action="store_true", help="use the analysis cache (default: a fresh one)")
    ap.add_argument("--min", type=float, default=0.03, help="print threads with at least this many CPU seconds")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="thread-cpu-"))
    if not a.keep_cache:
        os.environ["LIPSYNC_STUDIO_CACHE_DIR"] = str(tmp / "cache")

    from lipsync_studio.engine.sync_job import SyncOptions, build_sync_job
    from lipsync_studio.media.writer import VideoFormat
    from lipsync_studio.stereo.layout import detect_layout
    from lipsync_studio.sync.builtin.engine import hear_ahead

    tick = os.sysconf("SC_CLK_TCK")
    me = os.getpid()
    stage = ["layout"]
    booked: dict[tuple[str, str], float] = collections.defaultdict(float)
    last: dict[int, float] = {}
    names: dict[int, str] = {}

    def sample() -> None:
        for t in threading.enumerate():
            if t.native_id:
                names[t.native_id] = t.name
        for tid in os.listdir(f"/proc/{me}/task"):
            try:
                stat = Path(f"/proc/{me}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
                comm = Path(f"/proc/{me}/task/{tid}/comm").read_text().strip()
            except OSError:  # the thread ended
                continue
            cpu = (int(stat[11]) + int(stat[12])) / tick
            tid_ = int(tid)
            spent, last[tid_] = cpu - last.get(tid_, 0.0), cpu
            if spent:
                booked[(stage[0], names.get(tid_, "native:" + comm))] += spent

    stop = threading.Event()

    def sampler() -> None:
        while not stop.wait(0.02):
            sample()

    watcher = threading.Thread(target=sampler, daemon=True, name="sampler")
    sample()  # what the process spent before starting is not booked
    booked.clear()
    watcher.start()
    t0 = time.perf_counter()
    hear_ahead(a.clip, a.dub)
    detect_layout(a.clip)
    fmt = VideoFormat(preset=a.preset) if a.preset else VideoFormat()
    job = build_sync_job(a.clip, a.dub, tmp / "out.mp4", SyncOptions(extend="trim-audio", shorten="pad-silence",
                                                                      engine="builtin", measure=False, fmt=fmt))
    job.run(on_progress=lambda p: stage.__setitem__(0, p.stage))
    wall = time.perf_counter() - t0
    stop.set()
    watcher.join()
    sample()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"wall {wall:.2f} s; stages " + ", ".join(f"{k} {v:.2f}" for k, v in job.timings.items())
          + f"; the recognizer's process {children.ru_utime + children.ru_stime:.2f} CPU-s")
    per_stage: dict[str, float] = collections.defaultdict(float)
    for (st, name), spent in sorted(booked.items()):
        per_stage[st] += spent
        if spent >= a.min and name != "sampler":
            print(f"  {st:8s} {name:26s} {spent:6.2f}")
    print("CPU-s by stage (this process, the sampler's own included): "
          + ", ".join(f"{k} {v:.2f}" for k, v in per_stage.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
