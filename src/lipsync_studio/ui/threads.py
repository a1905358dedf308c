"""Long-lived worker threads: start a worker QObject in its own QThread, stop it cleanly, know what runs.

Every thread the UI starts goes through :func:`start_worker`, so :func:`running_threads` can tell a test
(or the window, when it closes) which are still alive.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

_threads: "weakref.WeakSet[QThread]" = weakref.WeakSet()


def start_worker(worker: QObject, name: str) -> QThread:
    """Move ``worker`` to a new thread named ``name`` and start the thread's event loop."""
    thread = QThread()
    thread.setObjectName(name)
    worker.moveToThread(thread)
    _threads.add(thread)
    thread.start()
    return thread


#: Threads that did not end when asked (stuck in a native call), kept with their workers for the life of the process.
_stuck: list[tuple] = []


def stop_worker(thread: QThread | None, timeout_ms: int = 10_000, keep: tuple = ()) -> bool:
    """Ask ``thread``'s event loop to end and wait for it; return whether it ended in time.

    One that did not end (stuck in a native call: a Ray start hung in its fork once) is kept alive, with ``keep``
    (its worker), for the rest of the process: a QThread destroyed while it runs aborts the whole process ("QThread:
    Destroyed while thread is still running"), the app and its unsaved work with it."""
    if thread is None:
        return True
    thread.quit()
    ok = bool(thread.wait(timeout_ms))
    if not ok:
        import logging

        logging.getLogger("lipsync_studio.ui").warning("thread %s did not end in %d ms: left running",
                                                       thread.objectName(), timeout_ms)
        _stuck.append((thread, *keep))
    return ok


def stuck_threads() -> list[str]:
    """Names of the threads :func:`stop_worker` left running (stuck) that still run."""
    return [t.objectName() or "thread" for t, *_ in _stuck if t.isRunning()]


def running_threads() -> list[str]:
    """Names of the UI's worker threads that are still running."""
    out = []
    for t in list(_threads):
        try:
            if t.isRunning():
                out.append(t.objectName() or "thread")
        except RuntimeError:  # the C++ object is gone: not running
            continue
    return out


class Tasks(QObject):
    """Runs short background jobs one at a time (loading audio for waveforms, hashing model files...).

    Call :meth:`submit` from the GUI thread; the function runs in the tasks thread and its result comes
    back through :attr:`done` (or :attr:`failed`) on the GUI thread, tagged with the caller's ``key``.
    """

    #: done(key, result): ``fn(*args)`` returned ``result`` (any Python object).
    done = Signal(str, object)
    #: failed(key, message, details): ``fn`` raised; message is for the user, details a traceback.
    failed = Signal(str, str, str)
    _submit = Signal(str, object, object)

    def __init__(self) -> None:
        super().__init__()
        self._submit.connect(self._run)

    def submit(self, key: str, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` in the tasks thread; answer with ``done``/``failed`` tagged ``key``."""
        self._submit.emit(key, fn, args)

    @Slot(str, object, object)
    def _run(self, key: str, fn: Callable[..., Any], args: tuple) -> None:
        from .errors import describe_exception

        try:
            result = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - everything is reported, nothing dies silently
            message, details = describe_exception(exc)
            self.failed.emit(key, message, details)
            return
        self.done.emit(key, result)
