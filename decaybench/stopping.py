"""SIGINT and SIGTERM: a command stops at once leaving no partial output, or at the next epoch boundary.

Within :func:`stop_on_signals` (the CLI wraps every command in it), in the main thread:

* **SIGINT** (Ctrl-C) raises ``KeyboardInterrupt`` wherever the main thread is, and
  :func:`interrupted` stays true until the block ends. One that lands in a finalizer is printed
  and dropped, so a loop would go on: every epoch's progress bar (:mod:`decaybench.progress`)
  asks :func:`interrupted` and raises it again, where nothing can swallow it (a compiled run's
  bar advances between its chunks, :mod:`decaybench.modes._scaffold.chunks`). The CLI exits 130.
* **SIGTERM**, the signal cluster schedulers stop jobs with, raises :class:`Terminated`: the
  command unwinds (an atomic write removes its temporary file, so no partial output is left) and
  exits 143 (128 + 15), as a shell reports a process killed by SIGTERM. Inside :func:`deferred`,
  a run that can checkpoint asks for the signal to wait: the handler only records it, and the
  run polls :func:`requested` at its next epoch boundary, saves, and raises :class:`Terminated` itself.

Python runs a signal handler between bytecodes of the main thread, so a main thread blocked in
a long C call (a collective waiting for a peer) would see it late; the real-cluster runner
(:mod:`decaybench.modes.distributed.real_host`) keeps its main thread waiting in short slices for that reason.

>>> Terminated().status
143
>>> with stop_on_signals():
...     interrupted(), requested()
(False, False)
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

__all__ = ["Terminated", "deferred", "interrupted", "reclaim", "requested", "stop_on_signals"]

# Process-wide, like the signals themselves.
_INTERRUPTED = threading.Event()  # SIGINT arrived within stop_on_signals
_REQUESTED = threading.Event()  # SIGTERM arrived while deferred
_DEFERRED = threading.Event()


class Terminated(BaseException):
    """SIGTERM: the command stops, exit status 143. A BaseException, like KeyboardInterrupt, so no ``except Exception`` eats it."""

    status = 128 + signal.SIGTERM

    def __init__(self, where: str = "") -> None:
        self.where = where
        super().__init__(where or "terminated by SIGTERM")


def _on_sigint(signum: int, frame: FrameType | None) -> Any:
    _INTERRUPTED.set()
    raise KeyboardInterrupt


def _on_sigterm(signum: int, frame: FrameType | None) -> Any:
    if _DEFERRED.is_set():
        _REQUESTED.set()
        return
    raise Terminated


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, in the main thread, SIGINT raises ``KeyboardInterrupt`` and SIGTERM :class:`Terminated`.

    Outside the main thread (where Python cannot install handlers) the block changes nothing.
    The previous handlers come back, and :func:`interrupted` and :func:`requested` clear, on leaving.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _INTERRUPTED.clear()
    _REQUESTED.clear()
    previous = {signal.SIGINT: signal.signal(signal.SIGINT, _on_sigint), signal.SIGTERM: signal.signal(signal.SIGTERM, _on_sigterm)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        _INTERRUPTED.clear()
        _REQUESTED.clear()


def interrupted() -> bool:
    """Whether a SIGINT arrived within the current :func:`stop_on_signals` block."""
    return _INTERRUPTED.is_set()


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
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) is _on_sigterm:
        signal.signal(signal.SIGTERM, _on_sigterm)
