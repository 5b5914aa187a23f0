"""The steps an audit probes: the first ``steps`` steps, the first stair boundaries, and large steps.

Large steps are where a step held in float32 (24-bit significand) or float64 (53 bits) is no
longer the step: ``2**24 + 1`` is ``2**24`` in float32, ``2**31 ± 1`` and ``10**9`` are rounded
to multiples of 128 and 64, and ``2**53 + 1`` is ``2**53`` even in float64. A schedule that exposes
``decay_steps`` (or ``first_decay_steps``, ``warmup_steps``) or ``boundaries`` (Keras's
``PiecewiseConstantDecay``) is probed on both sides of its first boundaries:

>>> class Stairs:
...     decay_steps = 100
>>> probes = probe_steps(Stairs(), steps=3)
>>> probes[:8].tolist()
[0, 1, 2, 99, 100, 101, 199, 200]
>>> [int(step) for step in probes if step > 2**24][:3]
[16777217, 16777218, 16777219]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["DEFAULT_STEPS", "LARGE_STEPS", "boundaries", "probe_steps"]

DEFAULT_STEPS = 1000
LARGE_STEPS = (
    *range(2**24 - 1, 2**24 + 4),
    2**31 - 1,
    2**31,
    2**31 + 1,
    10**9,
    2**53 - 1,
    2**53,
    2**53 + 1,
)
STAIRS = 3  # boundaries probed per exposed period


def _count(value: Any) -> int | None:
    # Keras keeps what the user passed: an int, a float, a NumPy scalar or a tensor.
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if math.isfinite(number) and 0 < number < 2**62 else None


def boundaries(schedule: Any) -> list[int]:
    """The first boundaries the schedule exposes: multiples of its periods, and its ``boundaries``."""
    found: list[int] = []
    for name in ("decay_steps", "first_decay_steps", "warmup_steps"):
        period = _count(getattr(schedule, name, None))
        if period is not None:
            found += [period * k for k in range(1, STAIRS + 1)]
    listed = getattr(schedule, "boundaries", None)
    if isinstance(listed, (list, tuple)):
        found += [count for count in map(_count, listed) if count is not None]
    return found


def probe_steps(schedule: Any, steps: int = DEFAULT_STEPS) -> np.ndarray:
    """Sorted int64 steps: ``0 .. steps - 1``, each boundary ``b - 1, b, b + 1``, and :data:`LARGE_STEPS`."""
    around = [b + offset for b in boundaries(schedule) for offset in (-1, 0, 1)]
    return np.unique(np.array([*range(steps), 0, 1, *around, *LARGE_STEPS], dtype=np.int64))
