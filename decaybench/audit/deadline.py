"""A bounded wait for the checks that run the user's schedule in this process.

The fresh-process checks wait for their child with a timeout (:mod:`decaybench.audit.fresh`); the
others call the schedule here, so a schedule that loops forever (a Python loop over the step, at
step 2**53) would hang the audit. :func:`deadline` raises :class:`CheckTimeout` in the main thread
when the time is up (``SIGALRM``): the check fails and the next one runs. It interrupts Python code
(the schedule's body, a tracing); a kernel that blocks inside TensorFlow's C++ is not interrupted.
Outside the main thread, or when an alarm is already armed (another tool's), it does not bound.

>>> import time
>>> try:
...     with deadline(0.05):
...         time.sleep(5)
... except CheckTimeout as timeout:
...     print(timeout)
did not finish within 0.05 s
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["CHECK_WAIT", "REPEAT", "CheckTimeout", "deadline"]

REPEAT = 0.5  # seconds between the rings after the first
CHECK_WAIT = 300.0  # seconds: a check takes 1-5 s on a loaded 2-core machine, the compiled one up to ~15 at 10,000 steps


class CheckTimeout(BaseException):
    """The time given to a check is up (a ``BaseException``: the user's ``except Exception`` does not swallow it)."""


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise :class:`CheckTimeout` in the block once ``seconds`` have passed (main thread, no alarm armed)."""
    bounded = threading.current_thread() is threading.main_thread() and signal.getitimer(signal.ITIMER_REAL)[0] == 0
    if not bounded:
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise CheckTimeout(f"did not finish within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    # Then again every REPEAT seconds: Python swallows an exception raised in a finalizer (a garbage-collected
    # tf.function's __del__ may be what runs when the alarm rings), so one ring may not reach the check.
    signal.setitimer(signal.ITIMER_REAL, seconds, REPEAT)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
