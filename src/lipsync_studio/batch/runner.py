"""A batch run: check the manifest, decide what is left to do, run it on Ray, journal every attempt, report.

The output folder holds everything a later run needs to resume: each finished job's sidecar (its "done"
marker), and under ``DIR/.batch/`` the journal (``journal.jsonl``: one JSON object a line for every run, attempt,
result), the attempt records and the QC close-ups. A run of the same manifest skips what is done and matches,
cleans what an interrupted run left half-written, and redoes what changed or failed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import OutputError
from ..media.output import remove_stale_partials
from .execute import SUPPORTED_OPTIONS, BatchSettings
from .manifest import BatchJob, read_manifest
from .ray_backend import RayCluster, RaySettings
from .sidecar import why_not_done
from .task import BATCH_FOLDER, part_folders, run_folder

EventCallback = Callable[[dict[str, Any]], None]


@dataclass
class BatchSummary:
    """How a batch run ended.

    Attributes
    ----------
    jobs: every job of the manifest; skipped: keys already done; done, failed: keys by this run's outcome
    (failed: key -> error); cancelled: whether the run was stopped; report: the QC report's path.
    """

    jobs: list[BatchJob]
    skipped: list[str] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    cancelled: bool = False
    report: Path | None = None
    run_id: str = ""
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        """0 all done, 1 some job failed, 130 cancelled."""
        return 130 if self.cancelled else (1 if self.failed else 0)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {"event": "summary", "run": self.run_id, "jobs": len(self.jobs), "skipped": len(self.skipped),
                "done": len(self.done), "failed": self.failed, "cancelled": self.cancelled,
                "report": str(self.report) if self.report else None, "seconds": round(self.seconds, 2),
                "exit_code": self.exit_code}


class Journal:
    """``DIR/.batch/journal.jsonl``: appended, one JSON object a line, flushed per line."""

    def __init__(self, path: Path, run_id: str) -> None:
        self.path, self.run_id = path, run_id
        self._f = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self._lock = threading.Lock()

    def write(self, event: str, **data: Any) -> None:
        """Append one record: ``time``, ``run``, ``event`` and ``data``."""
        line = json.dumps({"time": round(time.time(), 3), "run": self.run_id, "event": event, **data},
                          default=str)
        with self._lock:
            self._f.write(line + "\n")
            self._f.flush()

    def close(self) -> None:
        """Close the file."""
        self._f.close()


@contextlib.contextmanager
def _folder_lock(out_dir: Path):
    """One batch at a time per output folder (a second one would clean the first one's partial files)."""
    lock = out_dir / BATCH_FOLDER / "lock"
    with open(lock, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise OutputError("another batch is running into this folder", path=out_dir) from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _prepare_out_dir(out: Path) -> Path:
    out = out.expanduser().absolute()
    if out.exists() and not out.is_dir():
        raise OutputError("exists and is not a folder", path=out)
    if not out.parent.is_dir():
        raise OutputError("the folder to put it in does not exist", path=out.parent, hint="create it first")
    try:
        (out / BATCH_FOLDER).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot be created ({exc.strerror})", path=out) from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise OutputError("the output folder is read-only", path=out)
    return out


def run_batch(manifest: str | Path, out_dir: str | Path, settings: BatchSettings = BatchSettings(),
              ray_settings: RaySettings = RaySettings(), *, force: bool = False, on_event: EventCallback | None = None,
              cancel: threading.Event | None = None) -> BatchSummary:
    """Run every job of ``manifest`` that is not already done into ``out_dir``, then write the QC report.

    Parameters
    ----------
    manifest: the CSV or JSON manifest (see :mod:`lipsync_studio.batch.manifest`).
    out_dir: the output folder (created if missing; its parent must exist).
    settings: engine and encoding for every job; ray_settings: where and how the jobs run.
    force: redo every job, done or not.
    on_event: sees ``{"event": "plan" | "attempt" | "retry" | "done" | "failed" | "cancelled", ...}`` as they happen.
    cancel: set it (from a signal handler, a GUI button) to stop: running jobs are cancelled, finished ones kept,
        half-written ones removed; the folder stays resumable.

    Raises
    ------
    ManifestError
        The manifest has problems (all listed, with rows); nothing ran.
    """
    from .report import write_report

    t0 = time.perf_counter()
    emit = on_event or (lambda e: None)
    cancel = cancel or threading.Event()
    jobs = read_manifest(manifest, SUPPORTED_OPTIONS)
    out = _prepare_out_dir(Path(out_dir))
    settings_data = settings.as_dict()
    run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
    summary = BatchSummary(jobs=jobs, run_id=run_id)
    with _folder_lock(out):
        journal = Journal(out / BATCH_FOLDER / "journal.jsonl", run_id)
        try:
            todo: list[BatchJob] = []
            reasons: dict[str, str] = {}
            for job in jobs:
                reason = "forced" if force else why_not_done(job, out, settings_data)
                if reason is None:
                    summary.skipped.append(job.key)
                else:
                    todo.append(job)
                    reasons[job.key] = reason
            journal.write("run-start", manifest=str(Path(manifest).absolute()), app_version=__version__,
                          settings=settings_data, ray={**ray_settings.__dict__}, jobs=len(jobs),
                          skipped=summary.skipped, to_run=reasons)
            emit({"event": "plan", "run": run_id, "jobs": len(jobs), "skipped": len(summary.skipped),
                  "to_run": len(todo), "reasons": reasons})
            for job in todo:  # (an old sidecar stays until the new outputs replace the old ones: see task.py)
                for stale in part_folders(out, job):
                    shutil.rmtree(stale, ignore_errors=True)
                (out / job.clip).mkdir(exist_ok=True)
            if todo and not cancel.is_set():
                try:
                    _run_on_ray(todo, out, run_id, settings_data, ray_settings, journal, emit, cancel, summary)
                except BaseException as exc:
                    journal.write("run-failed", error=f"{type(exc).__name__}: {exc}", done=summary.done,
                                  failed=summary.failed)
                    raise
            if cancel.is_set():
                summary.cancelled = True
                for job in todo:
                    if job.key not in summary.done:
                        for stale in part_folders(out, job):
                            shutil.rmtree(stale, ignore_errors=True)
                journal.write("cancelled", unfinished=[j.key for j in todo if j.key not in summary.done
                                                       and j.key not in summary.failed])
                emit({"event": "cancelled"})
            summary.report = write_report(out, jobs, summary.failed, settings_data)
            summary.seconds = time.perf_counter() - t0
            journal.write("run-end", done=summary.done, failed=summary.failed, skipped=len(summary.skipped),
                          cancelled=summary.cancelled, seconds=round(summary.seconds, 2))
        finally:
            journal.close()
    return summary


def _run_on_ray(todo: list[BatchJob], out: Path, run_id: str, settings_data: dict, ray_settings: RaySettings,
                journal: Journal, emit: EventCallback, cancel: threading.Event, summary: BatchSummary) -> None:
    seen_attempts: dict[str, set[str]] = {}
    by_key = {job.key: job for job in todo}
    running: set[str] = set()

    attempts_dir = run_folder(out, run_id) / "attempts"
    seen_files: set[str] = set()

    def tick() -> None:
        # Attempt records are written by the tasks themselves (on whatever node): journal each once. One listing
        # of the folder a tick, so thousands of jobs cost a directory read, not a search per job.
        try:
            names = [e.name for e in os.scandir(attempts_dir) if e.name.endswith(".json") and not e.name.startswith(".")]
        except OSError:
            return
        for name in sorted(set(names) - seen_files):
            try:
                rec = json.loads((attempts_dir / name).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # read again next tick
            seen_files.add(name)
            key = rec.get("key")
            if key not in by_key:
                continue
            known = seen_attempts.setdefault(key, set())
            known.add(rec["attempt"])
            journal.write("attempt", key=key, attempt=rec["attempt"], number=len(known),
                          host=rec.get("host"), node=rec.get("node"), pid=rec.get("pid"))
            running.add(key)
            emit({"event": "retry" if len(known) > 1 else "attempt", "key": key, "number": len(known),
                  "pid": rec.get("pid"), "host": rec.get("host"), "running": len(running)})

    def result(res: dict) -> None:
        tick()  # an attempt that started and ended between two ticks is journaled too
        key = res["key"]
        running.discard(key)
        # No attempt of this job runs any more: what a lost attempt left half-written goes now.
        for stale in part_folders(out, by_key[key]):
            shutil.rmtree(stale, ignore_errors=True)
        if res.get("ok"):
            summary.done.append(key)
            sc = res["sidecar"]
            journal.write("done", key=key, attempts=sc["attempt"]["attempts"], host=sc["attempt"]["host"],
                          seconds=round(sc["timings"]["finished"] - sc["timings"]["started"], 2),
                          sync=sc.get("sync"), warnings=sc.get("warnings"))
            emit({"event": "done", "key": key, "sidecar": sc, "running": len(running)})
        else:
            summary.failed[key] = res["error"]
            journal.write("failed", key=key, kind=res.get("kind"), error=res["error"],
                          traceback=res.get("traceback"))
            emit({"event": "failed", "key": key, "error": res["error"], "kind": res.get("kind"),
                  "running": len(running)})

    try:
        with RayCluster(ray_settings) as cluster:
            cluster.run([j.to_dict() for j in todo], str(out), run_id, settings_data, result, tick, cancel)
    finally:
        # A worker killed while it wrote an attempt record or a sidecar leaves that file's temporary copy: the
        # driver never counted it (it reads whole records only); it goes with the workers that wrote it.
        for folder in {attempts_dir, *(out / job.clip for job in todo)}:
            remove_stale_partials(folder)

