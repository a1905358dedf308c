"""Background prefetching keeps order, bounds memory, passes errors on, stops when abandoned, and yields the cores
to the main thread."""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest

from lipsync_studio.media.prefetch import HELPER_NICENESS, prefetch, run_as_helper


def test_items_arrive_in_order_and_the_producer_stays_a_bounded_distance_ahead():
    produced = []

    def items():
        for k in range(50):
            produced.append(k)
            yield k

    seen = []
    for k in prefetch(items(), depth=3):
        time.sleep(0.002)
        assert len(produced) - len(seen) <= 3 + 2  # queue + one in hand + one being put
        seen.append(k)
    assert seen == list(range(50))


def test_an_error_in_the_producer_reaches_the_consumer_where_it_happened():
    def items():
        yield 1
        yield 2
        raise ValueError("damaged at frame 3")

    got = []
    with pytest.raises(ValueError, match="frame 3"):
        for k in prefetch(items()):
            got.append(k)
    assert got == [1, 2]


def test_abandoning_the_consumer_stops_the_producer_thread():
    def endless():
        k = 0
        while True:
            yield k
            k += 1

    gen = prefetch(endless(), depth=2)
    assert next(gen) == 0
    gen.close()
    time.sleep(0.2)
    assert not any(t.name == "prefetch" and t.is_alive() for t in threading.enumerate())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread priorities are Linux's")
def test_the_producer_and_what_it_starts_run_five_steps_below_the_main_thread_which_keeps_its_priority():
    # The pass's main thread is its critical path; the decoder's threads (started from the producer) have slack.
    def nice() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    main = os.getpriority(os.PRIO_PROCESS, os.getpid())

    def items():
        yield nice()
        got: list[int] = []

        def helper_of_a_helper() -> None:
            run_as_helper()  # already below: stays at the same step
            got.append(nice())

        t = threading.Thread(target=helper_of_a_helper)
        t.start()
        t.join()
        yield got[0]

    assert list(prefetch(items())) == [min(19, main + HELPER_NICENESS)] * 2
    assert os.getpriority(os.PRIO_PROCESS, os.getpid()) == main


def test_calls_run_in_order_behind_the_caller_and_an_error_comes_back_at_the_next_call():
    from lipsync_studio.media.prefetch import InOrder

    seen = []
    calls = InOrder(lambda i: seen.append(i), depth=2)
    for i in range(20):
        calls.put(i)
    calls.finish()
    assert seen == list(range(20))

    def fail(i):
        if i == 3:
            raise ValueError("frame 3")

    calls = InOrder(fail, depth=2)
    with pytest.raises(ValueError, match="frame 3"):
        for i in range(50):
            calls.put(i)
            time.sleep(0.005)
    calls.abandon()


def test_helper_threads_end_when_stopped_even_if_their_queue_lost_the_wake_up():
    """A stop signal (Ctrl+C, SIGTERM) becomes an exception wherever the main thread is, inside a queue's locking
    too; a wake-up lost there left an executor's worker (joined again at exit) or a queue's reader waiting for
    ever. Told to stop or to finish, these threads end within a moment whatever their queue does."""
    from lipsync_studio.media.prefetch import InOrder, run_in_helper
    from lipsync_studio.media.warnings import collecting_media_warnings, warn_media

    for end in ("finish", "abandon"):
        calls = InOrder(lambda i: None, depth=2)
        calls.put(1)
        calls._queue.put = lambda *a, **k: None  # nothing put any more arrives, the end marker neither
        done = threading.Event()
        threading.Thread(target=lambda: (getattr(calls, end)(), done.set()), daemon=True).start()
        assert done.wait(5), end
        assert not calls._thread.is_alive()

    # One call in a thread of its own: its result or error comes back, and its media notes reach the caller's job.
    with collecting_media_warnings() as notes:
        assert run_in_helper(lambda a, b=0: (warn_media("clip.mp4: damaged"), a + b)[1], 2, b=3).result(5) == 5
    assert notes == ["clip.mp4: damaged"]
    with pytest.raises(KeyError):
        run_in_helper(lambda: {}["x"]).result(5)
