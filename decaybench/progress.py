"""Progress bars on stderr, where a Ctrl-C is never lost.

A bar shows on a terminal (or when asked), and only for runs longer than ~2 s. Its ``update``,
called once per epoch by the Python loops, is also where a Ctrl-C caught by
:func:`decaybench.stopping.stop_on_signals` is raised again: Python delivers a
``KeyboardInterrupt`` wherever the main thread happens to be, and one that lands in a finalizer
is printed and dropped, so the loop would go on. The next epoch raises it again, where nothing
can swallow it.

>>> with epoch_bar(3, enabled=False) as bar:
...     bar.update(3)
"""

from __future__ import annotations

import sys

from tqdm import tqdm

from decaybench.messages import escape
from decaybench.stopping import interrupted

__all__ = ["epoch_bar"]

# Runs that finish sooner never show a bar: tqdm waits this long before drawing.
DELAY_SECONDS = 2.0


class _EpochBar(tqdm):
    def update(self, n: float | None = 1) -> bool | None:
        if interrupted():
            raise KeyboardInterrupt
        result: bool | None = super().update(n)
        return result


def epoch_bar(total: int, enabled: bool | None = None, description: str = "epochs") -> tqdm:
    """A tqdm bar over ``total`` epochs; ``enabled=None`` means "if stderr is a terminal"."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    return _EpochBar(
        total=total, disable=not enabled, delay=DELAY_SECONDS, file=sys.stderr, desc=escape(description), unit="epoch", leave=False
    )
