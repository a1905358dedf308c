"""The job worker: one long-lived QObject in its own QThread that runs the app's long jobs.

The GUI never runs a job itself and never blocks on one: :class:`JobRunner` (GUI side) hands a
:class:`~lipsync_studio.app.jobs.JobTask` to :class:`JobWorker` (worker thread) through a queued signal,
and hears back through the worker's signals, whose payloads are plain data. Cancel is cooperative: the
runner sets the job's :class:`~lipsync_studio.job.CancelToken`, the engine checks it between frames.
"""

from __future__ import annotations

import logging
import threading
import time

from PySide6.QtCore import QObject, Signal, Slot

from ..job import CancelToken
from ..errors import Cancelled
from .errors import describe_exception
from ..app.jobs import JobTask
from .threads import start_worker, stop_worker

log = logging.getLogger("lipsync_studio.app.jobs")


class JobWorker(QObject):
    """Runs one :class:`JobTask` at a time in the worker thread. Signals (emitted from that thread):

    - ``started(name: str)``: the task began.
    - ``progress(progress: Progress)``: the engine's frozen progress event (stage, done, total, rate, ETA),
      at most ~20 times a second.
    - ``finished(result: object)``: the task's result (``SyncResult`` for a sync or an export).
    - ``cancelled()``: the user cancelled; the task removed its partial output.
    - ``errored(message: str, details: str)``: the task failed; ``message`` is for the user (it names the
      file and what to do), ``details`` is the traceback for the log.

    Exactly one of ``finished``, ``cancelled`` or ``errored`` follows each ``started``.
    """

    started = Signal(str)
    progress = Signal(object)
    finished = Signal(object)
    cancelled = Signal()
    errored = Signal(str, str)

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._token: CancelToken | None = None

    def cancel(self) -> None:
        """Ask the running task to stop (safe from any thread; a no-op when idle)."""
        with self._lock:
            if self._token is not None:
                self._token.cancel()

    @Slot(object)
    def run(self, task: JobTask) -> None:
        """Run ``task`` to the end; every outcome is reported by a signal, nothing escapes."""
        token = task.cancel
        with self._lock:
            self._token = token
        t0 = time.perf_counter()
        self.started.emit(task.name)
        log.info("job %s started", task.name)
        try:
            result = task.run(self.progress.emit, token)
        except Cancelled:
            log.info("job %s cancelled after %.1f s", task.name, time.perf_counter() - t0)
            self.cancelled.emit()
        except BaseException as exc:  # noqa: BLE001 - reported to the user, never lost
            message, details = describe_exception(exc)
            log.error("job %s failed: %s\n%s", task.name, message, details)
            self.errored.emit(message, details)
        else:
            log.info("job %s finished in %.1f s", task.name, time.perf_counter() - t0)
            self.finished.emit(result)
        finally:
            with self._lock:
                self._token = None


class JobRunner(QObject):
    """GUI-side handle of the job worker and its thread.

    ``busy`` is True from :meth:`start` until the worker reports the outcome. The runner repeats the
    worker's signals (same names, same payloads) in the GUI thread: connect widgets and tests to these,
    never to ``runner.worker`` directly (a plain Python callable connected to a worker signal would run in
    the worker thread).
    """

    started = Signal(str)
    progress = Signal(object)
    finished = Signal(object)
    cancelled = Signal()
    errored = Signal(str, str)
    _request = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker = JobWorker()
        self.thread = start_worker(self.worker, "lipsync-jobs")
        self._request.connect(self.worker.run)
        self.busy = False
        self.current: JobTask | None = None
        w = self.worker
        # Queued into the GUI thread (the runner lives there); "idle" first, so listeners see busy == False.
        w.finished.connect(self._on_finished)
        w.cancelled.connect(self._on_cancelled)
        w.errored.connect(self._on_errored)
        w.started.connect(self.started)
        w.progress.connect(self.progress)

    def start(self, task: JobTask) -> bool:
        """Start ``task`` in the worker thread; False (and nothing started) while another job runs."""
        if self.busy:
            return False
        self.busy = True
        self.current = task
        self._request.emit(task)
        return True

    def cancel(self) -> None:
        """Ask the running job to stop (takes effect even before the worker has picked the job up)."""
        if self.busy and self.current is not None:
            self.current.cancel.cancel()

    def _on_finished(self, result: object) -> None:
        self.busy = False
        self.finished.emit(result)

    def _on_cancelled(self) -> None:
        self.busy = False
        self.cancelled.emit()

    def _on_errored(self, message: str, details: str) -> None:
        self.busy = False
        self.errored.emit(message, details)

    def shutdown(self, timeout_ms: int = 15_000) -> None:
        """Cancel any job and stop the worker thread (called when the window closes)."""
        self.cancel()
        stop_worker(self.thread, timeout_ms=timeout_ms)
        self.thread = None
