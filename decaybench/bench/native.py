r"""The limit for long traces: the seed's loop as native code (numba), bit for bit the emulation of record.

Per epoch, for ``size == 1`` and the plain schedule (no staircase, ``transition_begin`` or ``end_value``)::

    lr = initial_learning_rate * pow(decay_rate, float(epoch) / float(decay_steps))  # float64, C's pow
    x = w + 1                                   # w's dtype; lr rounded to it once
    loss = x * x
    w = w - lr * (x * 2)                        # two roundings: no FMA

which is :mod:`decaybench.modes.emulation`'s arithmetic on one value (its sum of one square is the
square). numba compiles with ``fastmath=False``, so LLVM gets no ``contract`` flag and keeps the
product's rounding (``tests/test_native.py`` checks the machine code has no ``vfmadd`` and the rows
are the emulation's bit for bit). ``pow`` is LLVM's ``llvm.pow.f64``, a call of the C library's
``pow``, as the reference's ``math.pow``. Subnormals are not flushed (TensorFlow's kernels flush
them): the floor is stated for configurations whose values stay normal, as the benchmarks' do.

numba is in the ``bench`` extra and loaded by :func:`native_trace`'s first call only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from decaybench.bench.workload import Call, Unavailable
from decaybench.config import DecayConfig

__all__ = ["native_floor", "native_kernel", "native_trace"]


@functools.cache
def native_kernel() -> Any:
    """The jitted loop ``(lr0, rate, decay_steps, w0, w rows, loss rows, lr rows) -> None`` (compiled on first use)."""
    import numba  # heavy, and an optional dependency: loaded on first use

    @numba.njit(fastmath=False, error_model="numpy", nogil=True)
    def loop(lr0: float, rate: float, decay_steps: float, w0: Any, ws: Any, losses: Any, lrs: Any) -> None:  # pragma: no cover - native
        one, two = ws.dtype.type(1), ws.dtype.type(2)
        w = w0
        for epoch in range(ws.shape[0]):
            lr = lr0 * rate ** (float(epoch) / decay_steps)
            x = w + one
            losses[epoch] = x * x
            w = w - ws.dtype.type(lr) * (x * two)
            ws[epoch] = w
            lrs[epoch] = lr

    return loop


def native_trace(config: DecayConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(w, loss, float64 lr)`` of every epoch of ``config`` by the native loop.

    ``config`` must have ``size == 1``, ``record_every == 1`` and the plain schedule.
    """
    schedule = config.schedule
    if config.size != 1 or config.record_every != 1 or schedule.staircase or schedule.transition_begin or schedule.end_value is not None:
        raise ValueError(f"the native loop runs size 1, every epoch recorded, the plain schedule; got {config!r}")
    dtype = np.dtype(config.dtype)
    ws, losses, lrs = np.empty(config.epochs, dtype), np.empty(config.epochs, dtype), np.empty(config.epochs, np.float64)
    kernel = native_kernel()
    kernel(schedule.initial_learning_rate, schedule.decay_rate, float(schedule.decay_steps), dtype.type(config.w0), ws, losses, lrs)
    return ws, losses, lrs


def native_floor(config: DecayConfig) -> Callable[[], Call]:
    """A builder of the floor's call on ``config`` (it compiles the loop; :class:`Unavailable` without numba)."""

    def build() -> Call:
        try:
            native_kernel()
        except ImportError as error:
            raise Unavailable(f"cannot import numba ({error}); install the bench extra") from None
        return lambda: native_trace(config)

    return build
