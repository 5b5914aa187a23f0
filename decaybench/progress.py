"""Progress bars on stderr: shown on a terminal (or when asked), and only for runs longer than ~2 s.

>>> with epoch_bar(3, enabled=False) as bar:
...     bar.update(3)
"""

from __future__ import annotations

import sys

from tqdm import tqdm

__all__ = ["epoch_bar"]

# Runs that finish sooner never show a bar: tqdm waits this long before drawing.
DELAY_SECONDS = 2.0


def epoch_bar(total: int, enabled: bool | None = None, description: str = "epochs") -> tqdm:
    """A tqdm bar over ``total`` epochs; ``enabled=None`` means "if stderr is a terminal"."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    return tqdm(total=total, disable=not enabled, delay=DELAY_SECONDS, file=sys.stderr, desc=description, unit="epoch", leave=False)
