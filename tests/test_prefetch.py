"""Background prefetching keeps order, bounds memory, passes errors on and stops when abandoned."""

from __future__ import annotations

import threading
import time

import pytest

from lipsync_studio.media.prefetch import prefetch


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
