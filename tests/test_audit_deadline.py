"""The audit's in-process deadline (:mod:`decaybench.audit.deadline`) leaves nothing armed, whenever it rings."""

from __future__ import annotations

import random
import signal
import time

from decaybench.audit.deadline import CheckTimeout, deadline


def test_the_alarm_is_disarmed_and_the_handler_restored_whenever_it_rings() -> None:
    # Deadlines of 20-150 us around blocks of 0-150 us: rings land in the block, in the with
    # statement's exit and on the way in. A generator-based context manager left its handler
    # installed and the timer repeating in ~1 of 3,000 (it raised in its own finally, before
    # disarming): planted back, this fails within the first second.
    previous = signal.getsignal(signal.SIGALRM)
    generator = random.Random(0)
    rang = finished = 0
    stop = time.monotonic() + 3
    try:
        while time.monotonic() < stop:
            seconds = generator.uniform(20e-6, 150e-6)
            end = time.perf_counter() + generator.uniform(0, 150e-6)
            try:
                with deadline(seconds):
                    while time.perf_counter() < end:
                        pass
                finished += 1
            except CheckTimeout:
                rang += 1
            assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
            assert signal.getsignal(signal.SIGALRM) is previous
    finally:  # a leaked timer would otherwise ring on and kill the test process with SIGALRM
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert rang > 100 and finished > 100, (rang, finished)
