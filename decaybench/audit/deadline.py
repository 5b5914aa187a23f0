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

import signal
import threading
from types import FrameType
from typing import Any

__all__ = ["CHECK_WAIT", "REPEAT", "CheckTimeout", "Deadline", "deadline"]

REPEAT = 0.5  # seconds between the rings after the first
CHECK_WAIT = 300.0  # seconds: a check takes 1-5 s on a loaded 2-core machine, the compiled one up to ~15 at 10,000 steps


class CheckTimeout(BaseException):
    """The time given to a check is up (a ``BaseException``: the user's ``except Exception`` does not swallow it)."""


class Deadline:
    """The context manager :func:`deadline` returns: it arms ``SIGALRM`` on entry and disarms it on exit.

    A class, not a generator, so that its exit is one known frame. A ring is delivered between two
    bytecodes of whatever Python code runs then; one that lands in :meth:`__enter__` or :meth:`__exit__`
    (the block's last ring can arrive just as it ends) is let go, where a generator's ``finally`` got
    the exception before it disarmed: the timer kept ringing and the handler stayed installed
    (``tests/test_audit_deadline.py``). A ring let go in ``__enter__`` comes back ``REPEAT`` later.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._previous: Any = None
        self._bounded = False

    def __enter__(self) -> None:
        self._bounded = threading.current_thread() is threading.main_thread() and signal.getitimer(signal.ITIMER_REAL)[0] == 0
        if self._bounded:
            self._previous = signal.signal(signal.SIGALRM, self._expire)
            # Then again every REPEAT seconds: Python swallows an exception raised in a finalizer (a garbage-collected
            # tf.function's __del__ may be what runs when the alarm rings), so one ring may not reach the check.
            signal.setitimer(signal.ITIMER_REAL, self.seconds, REPEAT)

    def _expire(self, signum: int, frame: FrameType | None) -> None:
        if frame is not None and frame.f_code in _OWN_CODE:
            return
        raise CheckTimeout(f"did not finish within {self.seconds:g} s")

    def __exit__(self, *exc_info: object) -> None:
        if self._bounded:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._previous)


_OWN_CODE = (Deadline.__enter__.__code__, Deadline.__exit__.__code__)


def deadline(seconds: float) -> Deadline:
    """Raise :class:`CheckTimeout` in the ``with`` block once ``seconds`` have passed (main thread, no alarm armed)."""
    return Deadline(seconds)
