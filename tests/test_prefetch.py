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
