"""A schedule's lr at each probe step, called as an optimizer calls it: one int64 scalar step at a time.

Keras's optimizers (Keras 2 and 3) keep ``iterations`` as an int64 variable and call the schedule
with it; a vector of steps would go through other kernels (TensorFlow's vector ``pow`` rounds
differently), so each step is its own call. A step the schedule refuses (it raises) is kept out
of every comparison and reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Evaluated", "evaluate", "reason"]


def reason(error: BaseException) -> str:
    """An exception as one short line: its type and the first line of its message."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0][:200] if lines else ''}".rstrip(": ")


@dataclass(frozen=True)
class Evaluated:
    """The lrs at the accepted ``steps`` (int64), and the refused steps with the reason."""

    steps: np.ndarray
    values: np.ndarray
    refused: dict[int, str] = field(default_factory=dict)

    def refusals(self) -> str:
        """The refused steps in a few words, or ``''``."""
        if not self.refused:
            return ""
        first = min(self.refused)
        return f"; refuses {len(self.refused)} steps from {first} ({self.refused[first]})"


def evaluate(schedule: Callable[[Any], Any], steps: np.ndarray) -> Evaluated:
    """``schedule(tf.constant(step, tf.int64))`` for each step, as a NumPy scalar of the dtype it returns."""
    import tensorflow as tf  # here: the audit's modules import without TensorFlow

    kept, values, refused = [], [], {}
    for step in np.asarray(steps).tolist():
        try:
            value = np.asarray(schedule(tf.constant(step, tf.int64)))
            if value.shape != ():
                raise ValueError(f"the lr must be a scalar, got shape {value.shape}")
        except Exception as error:  # the user's schedule may raise anything at a step it does not accept
            refused[step] = reason(error)
            continue
        kept.append(step)
        values.append(value)
    array = np.array(values) if values else np.zeros(0, np.float32)
    return Evaluated(np.array(kept, dtype=np.int64), array, refused)
