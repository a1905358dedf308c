"""Run a producer (e.g. video decoding) in a background thread, a few items ahead of the consumer.

PyAV decodes with the GIL released, so decoding the next frames overlaps with the work on the current
one (face tracking, inference) on a second core. The queue is bounded: memory stays a few frames.
"""

from __future__ import annotations

import queue
import threading
import weakref
from collections.abc import Iterable, Iterator
from typing import TypeVar

from .warnings import in_this_context

T = TypeVar("T")
_END = object()


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
