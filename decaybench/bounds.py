r"""Every mode's bound: how far, per epoch, its run may land from the emulation of record.

A mode states a :data:`~decaybench.modes.Contract`, and :data:`BOUNDS` is the one table from a
contract to its bound. Each bound takes the emulation of record with ``size=1`` and
``record_every=1`` (every element of a vector run follows that trajectory, see
:func:`bound_emulation`) and the run's ``size``, and returns, for every epoch, the most ULPs w
(its largest element) and the loss may differ from the emulation:

=================  ==========================  ===================================
contract           w                           loss
=================  ==========================  ===================================
``exact``          0                           0
``fused-update``   :func:`fused_update_bound`  :func:`fused_update_bound`
``sharded-sum``    0                           :func:`summation_order_bound`
=================  ==========================  ===================================

``sharded-sum`` keeps w exact: each gradient element is one term plus exact zeros. The uint64
maximum stands for "no finite bound" (an overflowing value, or one near 0), so that it never fails.

>>> from decaybench.config import DecayConfig
>>> config = DecayConfig(epochs=3)
>>> w, loss = recorded_bounds("fused-update", config, bound_emulation(config))
>>> w.tolist(), loss.tolist()
([2, 5, 17], [2, 6, 8])
>>> from typing import get_args
>>> sorted(BOUNDS) == sorted(get_args(Contract))
True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from decaybench.config import DecayConfig
from decaybench.modes import Contract
from decaybench.modes.emulation import emulate
from decaybench.rounding import finfo
from decaybench.trace import Trace

__all__ = [
    "BOUNDS",
    "Bound",
    "bound_emulation",
    "exact_bound",
    "fused_update_bound",
    "recorded_bounds",
    "sharded_sum_bound",
    "summation_order_bound",
]

Bound = Callable[[Trace, int], tuple[np.ndarray, np.ndarray]]
"""``(emulated, size) -> (w bounds, loss bounds)``: uint64 ULPs for every epoch of ``emulated``."""


def exact_bound(emulated: Trace, size: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Bit for bit: 0 ULP for w and for the loss at every epoch."""
    zeros = np.zeros(len(emulated), dtype=np.uint64)
    return zeros, zeros


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

    It walks every epoch in Python (about 15 µs each). An lr that overflows the dtype has no
    finite bound: the uint64 maximum.
    """
    config = emulated.config
    if config.record_every != 1 or config.size != 1:
        raise ValueError("fused_update_bound needs an emulated trace with record_every=1 and size=1")
    dtype = np.dtype(config.dtype)
    eps = float(finfo(dtype).eps) / 2

    def spacing(value: float) -> float:
        return float(np.spacing(dtype.type(min(abs(value), float(finfo(dtype).max)))))

    w_prev = float(np.asarray(config.w0, dtype=dtype))
    bound = 0.0
    w_bounds, loss_bounds = [], []
    with np.errstate(over="ignore", invalid="ignore"):
        for w_next, lr in zip(emulated.w[:, 0].astype(float), emulated.lr, strict=True):
            lr_cast = float(dtype.type(lr))
            x = w_prev + 1.0
            add_error = 0.0 if -2.0 <= w_prev <= -0.5 else spacing(abs(x) + bound)
            dx = bound + add_error
            square = x * x
            loss_error = (
                size * (2 * abs(x) + dx) * dx + size * spacing(square + (2 * abs(x) + dx) * dx) + 2 * (size - 1) * eps * size * square
            )
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


def summation_order_bound(emulated: Trace, size: int) -> np.ndarray:
    """Per epoch, the most ULPs apart two orders of summing the loss's ``size`` terms can land.

    Every element of ``w`` follows ``emulated`` (``size=1``), so the loss adds ``n = size``
    copies of one float ``s = fl(x**2) >= 0``: exactly ``S = n s``. Any order of the ``n - 1``
    additions errs by at most ``gamma(n - 1) S`` with ``gamma(k) = k u / (1 - k u)`` (Higham,
    *Accuracy and Stability of Numerical Algorithms*, (4.6)), so two orders differ by at most
    ``2 gamma(n - 1) S``; both lie above ``m = S (1 - gamma(n - 1))``, where floats are at least
    ``ulp(m)`` apart. The bound is ``2 gamma(n - 1) S / ulp(m)``, about ``4 (n - 1)`` ULPs.
    """
    dtype = finfo(emulated.config.dtype)
    ku = (size - 1) * float(dtype.eps) / 2
    gamma = ku / (1 - ku) if ku < 1 else np.inf
    exact = size * emulated.loss.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        floor = np.maximum(exact * (1 - gamma), float(dtype.tiny))
        ulp = np.ldexp(1.0, np.frexp(floor)[1] - dtype.nmant - 1)
        ulps = np.floor(2 * gamma * exact / ulp * (1 + 1e-6))
    unbounded = ~np.isfinite(ulps) | (ulps >= 2.0**63)
    return np.where(unbounded, np.iinfo(np.uint64).max, np.where(unbounded, 0, ulps).astype(np.uint64))


def sharded_sum_bound(emulated: Trace, size: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """w bit for bit (one term per gradient element); the loss within :func:`summation_order_bound`."""
    return np.zeros(len(emulated), dtype=np.uint64), summation_order_bound(emulated, size)


BOUNDS: dict[Contract, Bound] = {
    "exact": exact_bound,
    "fused-update": fused_update_bound,
    "sharded-sum": sharded_sum_bound,
}


def bound_emulation(config: DecayConfig) -> Trace:
    """The emulation every bound walks: ``config`` with ``size=1`` and ``record_every=1``."""
    return emulate(dataclasses.replace(config, size=1, record_every=1))


def recorded_bounds(contract: Contract, config: DecayConfig, emulated: Trace) -> tuple[np.ndarray, np.ndarray]:
    """``contract``'s (w, loss) bounds at ``config``'s recorded epochs; ``emulated`` is
    :func:`bound_emulation` of ``config``."""
    if emulated.config != dataclasses.replace(config, size=1, record_every=1):
        raise ValueError("recorded_bounds needs bound_emulation(config), the emulation with size=1 and record_every=1")
    w, loss = BOUNDS[contract](emulated, config.size)
    recorded = config.recorded()
    return w[recorded], loss[recorded]
