r"""The exact oracle and ULP distances (the bounds they are held to live in :mod:`decaybench.bounds`).

Exact trajectory. With :math:`x = w + 1`, one step is :math:`x \leftarrow x - \mathrm{lr}\cdot 2x`,
so after epoch :math:`t`

.. math::  w_t + 1 = (w_0 + 1) \prod_{i \le t} (1 - 2\,\mathrm{lr}_i), \qquad
           \mathrm{loss}_t = \mathrm{size}\cdot(w_{t-1} + 1)^2,

evaluated here in 128-bit mpmath arithmetic, with :math:`\mathrm{lr}_i` also computed in that
precision from the exact rational exponent ``i / decay_steps`` and the float64 values of the
configuration (``w0`` rounded to the run's dtype, as every mode starts from it).

>>> exact = exact_trajectory(DecayConfig(epochs=2))
>>> [float(v) for v in exact.w]  # float64(0.2) is a little above 0.2
[2.5999999999999996, 1.1743999999999999]
>>> int(ulp_distance(np.float32(1.0), np.nextafter(np.float32(1.0), np.float32(2.0))))
1
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import mpmath
import numpy as np

from decaybench.bounds import fused_update_bound  # re-exported: its home is decaybench.bounds
from decaybench.config import DecayConfig
from decaybench.trace import Trace

__all__ = ["ExactTrajectory", "exact_lr", "exact_trajectory", "fused_update_bound", "max_ulp", "relative_error", "ulp_distance"]

PRECISION_BITS = 128


@dataclass(frozen=True)
class ExactTrajectory:
    """The exact w (after each update) and loss (before it) at every epoch, as mpmath numbers."""

    config: DecayConfig
    w: tuple[mpmath.mpf, ...]
    loss: tuple[mpmath.mpf, ...]
    lr: tuple[mpmath.mpf, ...]


def exact_lr(config: DecayConfig, step: int) -> mpmath.mpf:
    """The schedule at ``step`` in the working precision, from the exact rational exponent.

    optax's options included: the count is ``step - transition_begin`` (the initial rate when it
    is <= 0), and ``end_value`` bounds the rate below when ``decay_rate < 1``, above otherwise.
    """
    initial, rate = mpmath.mpf(config.initial_learning_rate), mpmath.mpf(config.decay_rate)
    count = step - config.transition_begin
    if count <= 0:
        lr = initial
    else:
        exponent = mpmath.mpf(count // config.decay_steps) if config.staircase else mpmath.mpf(count) / config.decay_steps
        lr = initial * mpmath.power(rate, exponent)
    end = config.end_value
    if end is None:
        return lr
    return max(lr, mpmath.mpf(end)) if config.decay_rate < 1 else min(lr, mpmath.mpf(end))


def exact_trajectory(config: DecayConfig, steps: Sequence[Sequence[int]] | None = None) -> ExactTrajectory:
    """The closed form, evaluated for every epoch of ``config`` in 128-bit precision.

    ``steps[e]`` lists the schedule steps whose rates epoch ``e``'s updates apply, in order
    (default: one update at step ``e``; ``model.fit`` with S steps per epoch applies several). The
    loss is the one before the epoch's first update; ``lr`` is that update's rate.
    """
    with mpmath.workprec(PRECISION_BITS):
        x = mpmath.mpf(float(np.asarray(config.w0, dtype=config.dtype))) + 1
        ws, losses, lrs = [], [], []
        for epoch in range(config.epochs):
            rates = [exact_lr(config, step) for step in (steps[epoch] if steps is not None else (epoch,))]
            losses.append(config.size * x * x)
            for lr in rates:
                x = x * (1 - 2 * lr)
            ws.append(x - 1)
            lrs.append(rates[0])
    return ExactTrajectory(config, tuple(ws), tuple(losses), tuple(lrs))


def relative_error(trace: Trace, exact: ExactTrajectory) -> dict[str, float]:
    """The largest relative error of w and of the loss over the recorded (finite) epochs."""
    result = {}
    with mpmath.workprec(PRECISION_BITS):
        for name in ("w", "loss"):
            got = getattr(trace, name)[:, 0] if name == "w" else trace.loss
            want = getattr(exact, name)
            errors = [
                abs((mpmath.mpf(float(value)) - want[epoch]) / want[epoch]) if want[epoch] != 0 else abs(mpmath.mpf(float(value)))
                for epoch, value in zip(trace.epoch.tolist(), got.tolist(), strict=True)
                if np.isfinite(value) and mpmath.isfinite(want[epoch])
            ]
            result[name] = float(max(errors, default=0.0))
    return result


def _ordered(values: np.ndarray) -> np.ndarray:
    """Map floats to unsigned integers in the same order, adjacent floats to adjacent integers."""
    values = np.asarray(values)
    bits = {np.dtype(np.float32): (np.uint32, 31), np.dtype(np.float64): (np.uint64, 63), np.dtype(np.float16): (np.uint16, 15)}
    bits[np.dtype("bfloat16")] = (np.uint16, 15)
    unsigned, sign_bit = bits[values.dtype]
    raw = values.view(unsigned).astype(np.uint64)
    magnitude = raw & np.uint64((1 << sign_bit) - 1)
    offset = np.uint64(1 << 63)
    # Negative values below the offset, positive above; +0 and -0 both map to the offset.
    return np.where(raw >> np.uint64(sign_bit), offset - magnitude, offset + magnitude)


def ulp_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """How many representable values lie between ``a`` and ``b`` (same dtype), elementwise.

    Equal values (and +0/-0, and NaN/NaN) are 0 apart; NaN against a number is the largest
    uint64, so that it never passes a bound.
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype:
        raise TypeError(f"ulp_distance needs one dtype, got {a.dtype} and {b.dtype}")
    ka, kb = _ordered(a), _ordered(b)
    distance = np.where(ka > kb, ka - kb, kb - ka)
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    distance = np.where(nan_a & nan_b, np.uint64(0), distance)
    return np.where(nan_a ^ nan_b, np.iinfo(np.uint64).max, distance)


def max_ulp(a: np.ndarray, b: np.ndarray) -> int:
    """The largest :func:`ulp_distance` between two arrays (0 for empty ones)."""
    distance = ulp_distance(a, b)
    return int(distance.max()) if distance.size else 0
