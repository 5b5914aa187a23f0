r"""The exact oracle, ULP distances, and the derived bound for a fused update (XLA on CPU).

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

from collections.abc import Callable
from dataclasses import dataclass

import mpmath
import numpy as np

from decaybench.config import DecayConfig
from decaybench.trace import Trace

__all__ = ["ExactTrajectory", "exact_trajectory", "fused_update_bound", "max_ulp", "relative_error", "ulp_distance"]

PRECISION_BITS = 128


@dataclass(frozen=True)
class ExactTrajectory:
    """The exact w (after each update) and loss (before it) at every epoch, as mpmath numbers."""

    config: DecayConfig
    w: tuple[mpmath.mpf, ...]
    loss: tuple[mpmath.mpf, ...]
    lr: tuple[mpmath.mpf, ...]


def exact_trajectory(config: DecayConfig) -> ExactTrajectory:
    """The closed form, evaluated for every epoch of ``config`` in 128-bit precision."""
    with mpmath.workprec(PRECISION_BITS):
        x = mpmath.mpf(float(np.asarray(config.w0, dtype=config.dtype))) + 1
        initial, rate = mpmath.mpf(config.initial_learning_rate), mpmath.mpf(config.decay_rate)
        ws, losses, lrs = [], [], []
        for epoch in range(config.epochs):
            exponent = mpmath.mpf(epoch // config.decay_steps) if config.staircase else mpmath.mpf(epoch) / config.decay_steps
            lr = initial * mpmath.power(rate, exponent)
            losses.append(config.size * x * x)
            x = x * (1 - 2 * lr)
            ws.append(x - 1)
            lrs.append(lr)
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
    bits = {np.dtype(np.float32): (np.uint32, 31), np.dtype(np.float64): (np.uint64, 63)}
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


def fused_update_bound(emulated: Trace, size: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Per epoch, the largest ULP distance a fused-update run can have from ``emulated``.

    ``emulated`` is the emulation of record (two roundings per update) of a configuration with
    ``size=1`` and ``record_every=1``; every element of a vector run follows that trajectory.
    Let ``D_t`` bound ``|w_fused - w_emulated|`` after epoch ``t``. Writing both updates with
    their rounding errors (``s`` of ``w + 1``, ``p`` of ``lr * g``, ``r`` of the subtraction; the
    fused update has no ``p``), and ``u(v)`` for the spacing of floats at ``v``::

        D_{t+1} <= |1 - 2 lr_t| D_t + 2 lr_t (s_E + s_F) + p_E + r_E + r_F,
        s_E + s_F <= u(|x_t| + D_t),  p_E <= u(|lr_t g_t|) / 2,  r_E + r_F <= u(|w_{t+1}| + D_{t+1})

    (``s`` vanishes when ``w_t`` lies in [-2, -0.5], where ``w + 1`` is exact by Sterbenz's
    lemma). With ``dx = D_t + s_E + s_F``, the loss ``sum of size squares`` differs by at most
    ``size (2|x| + dx) dx`` plus, on each side, the squares' roundings (``size u(x^2) / 2``) and
    any summation order's error (``(size - 1) eps size x^2``, eps the unit roundoff). Each bound
    becomes ULPs at the smallest spacing between the two values. Returns (w bounds, loss bounds).
    """
    config = emulated.config
    if config.record_every != 1 or config.size != 1:
        raise ValueError("fused_update_bound needs an emulated trace with record_every=1 and size=1")
    dtype = np.dtype(config.dtype)
    eps = float(np.finfo(dtype).eps) / 2

    def spacing(value: float) -> float:
        return float(np.spacing(dtype.type(min(abs(value), float(np.finfo(dtype).max)))))

    w_prev = float(np.asarray(config.w0, dtype=dtype))
    bound = 0.0
    w_bounds, loss_bounds = [], []
    for w_next, lr in zip(emulated.w[:, 0].astype(float), emulated.lr, strict=True):
        lr_cast = float(dtype.type(lr))
        x = w_prev + 1.0
        add_error = 0.0 if -2.0 <= w_prev <= -0.5 else spacing(abs(x) + bound)
        dx = bound + add_error
        square = x * x
        loss_error = size * (2 * abs(x) + dx) * dx + size * spacing(square + (2 * abs(x) + dx) * dx) + 2 * (size - 1) * eps * size * square
        loss_bounds.append(_to_ulps(loss_error, size * square, spacing))
        carried = abs(1.0 - 2.0 * lr_cast) * bound + 2.0 * lr_cast * add_error + spacing(abs(lr_cast * 2.0 * x)) / 2
        bound = (carried + spacing(abs(w_next) + carried + spacing(abs(w_next) + carried))) * (1 + 1e-6)
        w_bounds.append(_to_ulps(bound, w_next, spacing))
        w_prev = w_next
    return np.asarray(w_bounds, dtype=np.uint64), np.asarray(loss_bounds, dtype=np.uint64)


def _to_ulps(error: float, value: float, spacing: Callable[[float], float]) -> int:
    most = int(np.iinfo(np.uint64).max)
    if not np.isfinite(error) or not np.isfinite(value):
        return most
    step = spacing(max(abs(value) - error, 0.0))
    return min(int(error // step), most) if step > 0 else most
