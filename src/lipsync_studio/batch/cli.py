"""``lipsync-studio batch MANIFEST -o DIR``: the command, its progress display and its signal handling."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any


def _gpus(text: str) -> str | float:
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("auto or a number of GPUs (0, 0.5, 1, ...)") from None
    if value < 0:
        raise argparse.ArgumentTypeError("cannot be negative")
    return value


def add_batch_command(sub: Any, add_output_format) -> argparse.ArgumentParser:
    """Add ``batch`` to the command's subparsers; ``add_output_format`` adds the shared codec options."""
    p = sub.add_parser("batch", help="sync many clips into many languages (a manifest), locally or on a Ray cluster",
                       description="Run every job of a manifest (CSV or JSON: clip, lang, video or left/right, dub, "
                                   "optional face, script (the dub's text, in the row's language), dub_offset, dub_stream, dub_channels, "
                                   "stereo_mode, out_layout) into DIR/<clip>/<clip>_<lang>.mp4 "
                                   "with a JSON sidecar each, then write DIR/report.html. A re-run skips what is done.")
    p.add_argument("manifest", type=Path, metavar="MANIFEST", help=".csv or .json, one row per (clip, language)")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="DIR", help="the output folder")
    p.add_argument("--engine", choices=["auto", "builtin", "wav2lip"], default="auto")
    p.add_argument("--force", action="store_true", help="redo every job, even those already done")
    p.add_argument("--json", action="store_true", help="one JSON object a line per event, for machines")
    g = p.add_argument_group("where it runs (Ray)")
    g.add_argument("--address", metavar="HOST:PORT",
                   help="a running Ray cluster's head (ray start --head); default: a private Ray on this machine")
    g.add_argument("--num-cpus", type=int, metavar="N", help="CPUs the private local Ray may use (default: all)")
    g.add_argument("--cpus-per-task", type=float, default=1.0, metavar="N", help="CPUs one job reserves (default 1)")
    g.add_argument("--gpus-per-task", type=_gpus, default="auto", metavar="auto|0|0.5|1",
                   help="GPUs one job reserves (auto: 1 when the cluster has GPUs, else 0)")
    g.add_argument("--max-retries", type=int, default=3, metavar="N",
                   help="times a job is restarted when its worker or node dies (default 3)")
    g.add_argument("--max-in-flight", type=int, metavar="N",
                   help="jobs submitted at once (default: twice what the cluster runs at a time)")
    add_output_format(p)
    return p


class _Display:
    """One progress bar for the batch (done / failed / running, jobs per hour, time left) and a line per job."""

    def __init__(self, quiet: bool, as_json: bool) -> None:
        self.as_json = as_json
        self.quiet = quiet
        self.bar_on = not as_json and not quiet and sys.stderr.isatty()
        self._progress = None
        self._task = None
        self._stop = threading.Event()
        self.total = self.done = self.failed = self.running = 0
        self.t0 = time.monotonic()
        self._lock = threading.Lock()

    def __enter__(self) -> "_Display":
        return self

    def _start_bar(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self._progress = Progress(TextColumn("batch"), BarColumn(), MofNCompleteColumn(),
                                  TextColumn("{task.fields[info]}"), console=Console(stderr=True))
        self._progress.__enter__()
        self._task = self._progress.add_task("batch", total=self.total or None, info="")
        self._stop = threading.Event()

        def keep_time() -> None:  # the rate and time left move between events too
            while not self._stop.wait(1.0):
                with self._lock:
                    self._redraw()

        threading.Thread(target=keep_time, name="batch-progress", daemon=True).start()

    def _line(self, text: str) -> None:
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False)
        elif not self.quiet:
            print(text, file=sys.stderr, flush=True)

    def _redraw(self) -> None:
        if self._progress is None:
            return
        elapsed = time.monotonic() - self.t0
        finished = self.done + self.failed
        rate = finished / elapsed * 3600 if elapsed > 0 and finished else 0.0
        left = (self.total - finished) / (finished / elapsed) if finished else None
        eta = time.strftime("%H:%M:%S", time.gmtime(left)) if left is not None else "--:--:--"
        info = (f"done {self.done}  failed {self.failed}  running {self.running}  "
                f"{rate:.0f} jobs/h  left {eta}")
        self._progress.update(self._task, completed=finished, info=info)

    def __call__(self, ev: dict[str, Any]) -> None:
        with self._lock:
            if self.as_json:
                print(json.dumps(ev, default=str), flush=True)
            kind = ev["event"]
            if kind == "plan":
                self.total = ev["to_run"]
                self._line(f"{ev['jobs']} jobs: {ev['skipped']} already done, {ev['to_run']} to run")
                if self.bar_on and self.total:
                    self._start_bar()
            elif kind in ("attempt", "retry"):
                self.running = ev.get("running", self.running)
                if kind == "retry":
                    self._line(f"retry  {ev['key']}: attempt {ev['number']} (the previous worker was lost)")
            elif kind == "done":
                self.done += 1
                self.running = ev.get("running", self.running)
                sc = ev["sidecar"]
                sync = sc.get("sync") or {}
                secs = sc["timings"]["finished"] - sc["timings"]["started"]
                extra = f", {sc['attempt']['attempts']} attempts" if sc["attempt"]["attempts"] > 1 else ""
                conf = sync.get("confidence")
                measured = f"  sync confidence {conf:.2f}" if conf is not None else ""
                self._line(f"done   {ev['key']}  {secs:.1f} s{measured}{extra}")
            elif kind == "failed":
                self.failed += 1
                self.running = ev.get("running", self.running)
                self._line(f"FAILED {ev['key']}: {ev['error']}")
            elif kind == "cancelled":
                self._line("cancelled: finished jobs are kept; run the same command again to resume")
            self._redraw()

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._stop.set()
            with self._lock:
                self._progress.__exit__(*exc)


def cmd_batch(args: argparse.Namespace) -> int:
    """Run the batch command; return the exit code (0 all done, 1 some failed, 130 cancelled)."""
    from .execute import BatchSettings
    from .ray_backend import RaySettings
    from .runner import run_batch

    settings = BatchSettings(engine=args.engine, codec=args.codec, crf=args.crf, preset=args.preset,
                             pix_fmt=args.pix_fmt)
    ray_settings = RaySettings(address=args.address, num_cpus=args.num_cpus, cpus_per_task=args.cpus_per_task,
                               gpus_per_task=args.gpus_per_task, max_retries=args.max_retries,
                               max_in_flight=args.max_in_flight)
    cancel = threading.Event()
    previous = {}

    def stop(signum, frame) -> None:
        if cancel.is_set():  # a second Ctrl-C: stop waiting for the clean-up
            raise KeyboardInterrupt
        cancel.set()

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, stop)
    try:
        with _Display(args.quiet, args.json) as display:
            summary = run_batch(args.manifest, args.output, settings, ray_settings, force=args.force,
                                on_event=display, cancel=cancel)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if args.json:
        print(json.dumps(summary.as_dict()), flush=True)
    else:
        print(f"{len(summary.done)} done, {len(summary.failed)} failed, {len(summary.skipped)} already done"
              f"{', cancelled' if summary.cancelled else ''}; report: {summary.report}")
    return summary.exit_code
