r"""The documented formulas of Keras's built-in schedules, in float64: ``--reference`` for ``decaybench audit``.

Each function is the formula of Keras's documentation (``keras.optimizers.schedules``, the same
in tf_keras), evaluated in Python floats from the exact integer step, with its arguments after
the step; bind them (``functools.partial``) to get the function of the step that ``--reference``
names. Keras itself evaluates them in the dtype of ``initial_learning_rate`` (float32 for a
Python float), the step included, which is what an audit against them measures.
``ExponentialDecay``'s formula is decaybench's own reference, :func:`decaybench.schedule.exponential_decay`.

>>> inverse_time_decay(10, 0.1, 10, 0.5)
0.06666666666666667
>>> piecewise_constant_decay(1000, [1000, 2000], [0.1, 0.01, 0.001]), piecewise_constant_decay(1001, [1000, 2000], [0.1, 0.01, 0.001])
(0.1, 0.01)
>>> cosine_decay(0, 0.0, 100, warmup_target=0.1, warmup_steps=10), cosine_decay(10, 0.0, 100, warmup_target=0.1, warmup_steps=10)
(0.0, 0.1)
>>> [round(cosine_decay_restarts(step, 1.0, 10, t_mul=2.0), 6) for step in (0, 10, 29, 30)]
[1.0, 1.0, 0.006156, 1.0]
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from decaybench.schedule import exponential_decay

__all__ = [
    "cosine_decay",
    "cosine_decay_restarts",
    "exponential_decay",
    "inverse_time_decay",
    "piecewise_constant_decay",
    "polynomial_decay",
]


def inverse_time_decay(step: int, initial_learning_rate: float, decay_steps: int, decay_rate: float, staircase: bool = False) -> float:
    """``InverseTimeDecay``: ``lr0 / (1 + decay_rate * step / decay_steps)``, with ``floor(step / decay_steps)`` when ``staircase``."""
    p = step // decay_steps if staircase else step / decay_steps
    return initial_learning_rate / (1 + decay_rate * p)


def polynomial_decay(
    step: int, initial_learning_rate: float, decay_steps: int, end_learning_rate: float = 0.0001, power: float = 1.0
) -> float:
    """``PolynomialDecay`` without ``cycle``: ``(lr0 - end) * (1 - s / decay_steps) ** power + end``, ``s = min(step, decay_steps)``."""
    s = min(step, decay_steps)
    return (initial_learning_rate - end_learning_rate) * (1 - s / decay_steps) ** power + end_learning_rate


def _cosine(step: int, decay_steps: int, alpha: float) -> float:
    # 0.5 * (1 + cos(pi * s / d)), from 1 down to alpha.
    return (1 - alpha) * 0.5 * (1 + math.cos(math.pi * min(step, decay_steps) / decay_steps)) + alpha


def cosine_decay(
    step: int,
    initial_learning_rate: float,
    decay_steps: int,
    alpha: float = 0.0,
    warmup_target: float | None = None,
    warmup_steps: int = 0,
) -> float:
    """``CosineDecay``: ``lr0 * ((1 - alpha) * 0.5 * (1 + cos(pi * s / d)) + alpha)``, ``s = min(step, d)``.

    With ``warmup_target``, first a linear warmup ``lr0 + (target - lr0) * step / warmup_steps``
    for ``step < warmup_steps``, then the cosine decay from ``target`` at ``step - warmup_steps``.
    """
    if warmup_target is None:
        return initial_learning_rate * _cosine(step, decay_steps, alpha)
    if step < warmup_steps:
        return (warmup_target - initial_learning_rate) * (step / warmup_steps) + initial_learning_rate
    return warmup_target * _cosine(step - warmup_steps, decay_steps, alpha)


def cosine_decay_restarts(
    step: int, initial_learning_rate: float, first_decay_steps: int, t_mul: float = 2.0, m_mul: float = 1.0, alpha: float = 0.0
) -> float:
    """``CosineDecayRestarts`` (SGDR): period ``i`` lasts ``first_decay_steps * t_mul**i`` steps and starts at ``m_mul**i``.

    Within period ``i``, at the fraction ``f`` of it: ``lr0 * ((1 - alpha) * 0.5 * m_mul**i * (1 + cos(pi * f)) + alpha)``.
    """
    start, length, restart = 0.0, float(first_decay_steps), 0
    if t_mul == 1.0:  # equal periods: no walk through them (2**53 steps are 2**53 / d periods)
        restart = step // first_decay_steps
        start = float(restart * first_decay_steps)
    while step >= start + length:
        start, length, restart = start + length, length * t_mul, restart + 1
    fraction = (step - start) / length
    return initial_learning_rate * ((1 - alpha) * 0.5 * m_mul**restart * (1 + math.cos(math.pi * fraction)) + alpha)


def piecewise_constant_decay(step: int, boundaries: Sequence[int], values: Sequence[float]) -> float:
    """``PiecewiseConstantDecay``: ``values[i]`` for the first ``i`` with ``step <= boundaries[i]``, else ``values[-1]``."""
    for boundary, value in zip(boundaries, values, strict=False):
        if step <= boundary:
            return value
    return values[-1]
