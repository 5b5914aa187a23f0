"""SIGTERM, the signal cluster schedulers stop jobs with: exit 143 at once, or at the next epoch boundary.

Within :func:`stop_on_sigterm` (the CLI wraps every command in it), SIGTERM raises
:class:`Terminated` in the main thread, wherever it is: the command unwinds (an atomic write
removes its temporary file, so no partial output is left) and exits 143 (128 + 15), as a shell
reports a process killed by SIGTERM. Inside :func:`deferred`, a run that can checkpoint asks
for the signal to wait: the handler only records it, and the run polls :func:`requested` at its
next epoch boundary, saves, and raises :class:`Terminated` itself.

Python runs a signal handler between bytecodes of the main thread, so a main thread blocked in
a long C call (a collective waiting for a peer) would see it late; the real-cluster runner
(:mod:`decaybench.modes.host`) keeps its main thread waiting in short slices for that reason.

>>> Terminated().status
143
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

__all__ = ["Terminated", "deferred", "reclaim", "requested", "stop_on_sigterm"]

_REQUESTED = threading.Event()  # SIGTERM arrived while deferred; process-wide, like the signal
_DEFERRED = threading.Event()


class Terminated(BaseException):
    """SIGTERM: the command stops, exit status 143. A BaseException, like KeyboardInterrupt, so no ``except Exception`` eats it."""

    status = 128 + signal.SIGTERM

    def __init__(self, where: str = "") -> None:
        self.where = where
        super().__init__(where or "terminated by SIGTERM")


def _handler(signum: int, frame: FrameType | None) -> Any:
    if _DEFERRED.is_set():
        _REQUESTED.set()
        return
    raise Terminated


@contextlib.contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` in the main thread (elsewhere: a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _REQUESTED.clear()
    previous = signal.signal(signal.SIGTERM, _handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        _REQUESTED.clear()


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Within the block, SIGTERM only sets :func:`requested`; one that came before raises on leaving it."""
    _DEFERRED.set()
    try:
        yield
    finally:
        _DEFERRED.clear()


def requested() -> bool:
    """Whether a SIGTERM arrived while :func:`deferred`."""
    return _REQUESTED.is_set()


def reclaim() -> None:
    """Install this module's SIGTERM handler again, if it is Python's (main thread only).

    TensorFlow's preemption notifier replaces the process's SIGTERM handler in C when a host joins
    a cluster, and Python still believes its own is there: the signal would be swallowed.
    """
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) is _handler:
        signal.signal(signal.SIGTERM, _handler)
