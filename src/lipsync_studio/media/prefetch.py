"""Run a producer (e.g. video decoding) in a background thread, a few items ahead of the consumer.

PyAV decodes with the GIL released, so decoding the next frames overlaps with the work on the current
one (face tracking, inference) on a second core. The queue is bounded: memory stays a few frames.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from typing import TypeVar

from .warnings import in_this_context

T = TypeVar("T")
_END = object()

#: How far below the main thread (Linux nice steps) a helper thread runs: decoding, encoding, hearing the sound.
HELPER_NICENESS = 5


def run_as_helper() -> None:
    """Lower the calling thread's scheduling priority, and so that of every thread and process it starts (Linux:
    its nice value, +5; elsewhere nothing is changed).

    A pass's main thread is its critical path (FaceMesh on every frame; drawing every mouth), the helpers beside
    it (the decoder's and x264's own threads, the phone recognizer) have slack. On two cores the scheduler shared
    them out evenly, so the main thread waited for a core while work that could wait ran: the 720p bench's
    tracking and render passes took 2.9 and 3.0-3.2 s, with the helpers at +5 2.6-2.75 and 3.0-3.2 (fastest of
    three, alternated). A helper still gets every cycle the main thread leaves. Call it only at the start of a
    thread that is the helper's own (a thread's priority cannot be raised again without privileges).
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        # Relative to the main thread (the process's first: its id is the pid), once: a helper started by a helper
        # stays at the same step.
        want = min(19, os.getpriority(os.PRIO_PROCESS, os.getpid()) + HELPER_NICENESS)
        if os.getpriority(os.PRIO_PROCESS, tid) < want:
            os.setpriority(os.PRIO_PROCESS, tid, want)
    except (OSError, AttributeError):  # not allowed or not available: the work runs as before
        pass


def prefetch(items: Iterable[T], depth: int = 4) -> Iterator[T]:
    """Yield ``items`` in order while a thread produces up to ``depth`` of them ahead.

    The thread starts at once, so the first items are ready by the time the consumer (which may still be
    loading, e.g. a face model) asks for them. An exception in the producer is raised in the consumer at the
    point it happened. Closing the returned generator early stops the producer.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry) -> bool:
        while not stop.is_set():
            try:
                q.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        run_as_helper()  # the decoder's own threads, started from this one, with it
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((_END, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            put((_END, exc))

    worker = threading.Thread(target=in_this_context(produce), name="prefetch", daemon=True)
    worker.start()
    consumer = _consume(q, stop, worker)
    # A consumer dropped before its first item never runs its ``finally``: stop the thread then too.
    weakref.finalize(consumer, stop.set)
    return consumer


def _consume(q: queue.Queue, stop: threading.Event, worker: threading.Thread) -> Iterator:
    try:
        while True:
            item, exc = q.get()
            if item is _END:
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        stop.set()
        while worker.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.05)


def run_in_helper(fn: Callable[..., T], *args, name: str = "helper", **kwargs) -> "Future[T]":
    """``fn(*args, **kwargs)`` in a daemon thread of its own (a helper: :func:`run_as_helper`, in this context);
    its result or error in the returned future (cancelled before it starts: never called).

    Unlike an executor's worker, the thread takes no work from a queue and is not joined when the interpreter
    exits: a stop signal turned into an exception in the main thread (Ctrl+C, SIGTERM) can land inside a queue's
    own locking and lose a wake-up, and a thread left waiting for it held up the stopped command for ever.
    """
    out: Future = Future()

    def work() -> None:
        run_as_helper()
        if not out.set_running_or_notify_cancel():
            return
        try:
            out.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits for it
            out.set_exception(exc)

    threading.Thread(target=in_this_context(work), name=name, daemon=True).start()
    return out


class InOrder:
    """Calls ``fn(*args)`` for each :meth:`put` in one helper thread, in order, at most ``depth`` calls queued
    behind the one running; an exception there is raised by the next :meth:`put` or by :meth:`finish`.

    The thread waits for work a tenth of a second at a time and ends when told to stop, whatever its queue holds
    (see :func:`run_in_helper`: a queue's wake-up can be lost to a stop signal)."""

    def __init__(self, fn: Callable, depth: int, name: str = "in-order") -> None:
        self._fn = fn
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._closing = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=in_this_context(self._work), name=name, daemon=True)
        self._thread.start()

    def _work(self) -> None:
        run_as_helper()
        while not self._stop.is_set():
            try:
                args = self._queue.get(timeout=0.1)
            except queue.Empty:
                if self._closing.is_set():  # finished, its end marker lost or not: nothing more comes
                    return
                continue
            if args is None:
                return
            if self._error is None:
                try:
                    self._fn(*args)
                except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread
                    self._error = exc

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def put(self, *args) -> None:
        """Queue one call; wait while ``depth`` are queued (and raise an earlier call's error, if any)."""
        self._raise()
        while True:
            try:
                self._queue.put(args, timeout=0.1)
                return
            except queue.Full:
                self._raise()
                if not self._thread.is_alive():
                    raise RuntimeError("the helper thread ended with calls queued")

    def finish(self) -> None:
        """Wait for every queued call, end the thread; raise the first error."""
        while self._thread.is_alive():
            try:
                self._queue.put(None, timeout=0.1)
                break
            except queue.Full:
                continue
        self._closing.set()
        self._join()
        self._raise()

    def abandon(self) -> None:
        """Drop the calls not started and end the thread (after :meth:`finish`: nothing more)."""
        self._stop.set()
        self._join()

    def _join(self) -> None:
        while self._thread.is_alive():
            self._thread.join(timeout=0.1)
