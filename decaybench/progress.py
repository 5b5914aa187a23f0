"""Progress bars on stderr, and Ctrl-C that is never lost.

A bar shows on a terminal (or when asked), and only for runs longer than ~2 s. Its ``update``,
called once per epoch by the Python loops, is also where a Ctrl-C caught by
:func:`stop_on_interrupt` is raised: Python delivers a ``KeyboardInterrupt`` wherever the main
thread happens to be, and one that lands in a finalizer is printed and dropped, so the loop
would go on. The flag is raised again at the next epoch, where nothing can swallow it.

>>> with epoch_bar(3, enabled=False) as bar:
...     bar.update(3)
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

from tqdm import tqdm

__all__ = ["epoch_bar", "stop_on_interrupt"]

# Runs that finish sooner never show a bar: tqdm waits this long before drawing.
DELAY_SECONDS = 2.0

# Set by the SIGINT handler; process-wide, like the signal itself.
_INTERRUPTED = threading.Event()


class _EpochBar(tqdm):
    def update(self, n: float | None = 1) -> bool | None:
        if _INTERRUPTED.is_set():
            raise KeyboardInterrupt
        result: bool | None = super().update(n)
        return result


def epoch_bar(total: int, enabled: bool | None = None, description: str = "epochs") -> tqdm:
    """A tqdm bar over ``total`` epochs; ``enabled=None`` means "if stderr is a terminal"."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    return _EpochBar(total=total, disable=not enabled, delay=DELAY_SECONDS, file=sys.stderr, desc=description, unit="epoch", leave=False)


@contextlib.contextmanager
def stop_on_interrupt() -> Iterator[None]:
    """Within the block, Ctrl-C raises ``KeyboardInterrupt`` now and again at the next epoch."""

    def handler(signum: int, frame: FrameType | None) -> Any:
        _INTERRUPTED.set()
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _INTERRUPTED.clear()
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _INTERRUPTED.clear()
