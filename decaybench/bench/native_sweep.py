r"""The native floor of a sweep: :func:`~decaybench.grid.run_grid`'s computation as a numba loop.

The same computation, cell for cell, as the compiled grid loop (:mod:`decaybench.sweep_loops`),
with the least work a machine can do for it: per epoch, one float64 ``pow`` per group ``(decay_steps,
decay_rate)``, then the cells of the group as the inner, vectorisable loop::

    power = pow(rate, exponent(epoch))            # the C library's pow, as the reference's
    lr    = lr0 * power   (0 where lr0 == 0)      # float64, clipped to end_value
    x = w + 1;  loss = x * x;  w = w - dtype(lr) * (x * 2)

``dtype(lr)`` rounds the float64 lr once to ``w``'s dtype; every product is rounded before its add:
numba compiles without fast-math, and LLVM contracts ``a * b + c`` into an FMA only under it, so
the recurrence is ``xla-exact``'s (``tests/test_native_sweep.py`` checks every cell's metrics
against ``run_grid(grid, tol, "xla-exact")`` bit for bit). The metrics are the grid loop's: the
last loss, the first epoch below ``tol``, the first non-finite one, the first with ``dtype(lr) > 1``.
numba is in the bench extra; importing this module compiles nothing until the first call.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from decaybench.grid import Grid, GridResult, check_tol

__all__ = ["sweep_floor"]


def _loop(dtype: Any) -> Any:
    import numba  # the bench extra

    @numba.njit(fastmath=False, cache=False)
    def loop(lrs: Any, rates: Any, steps: Any, staircase: bool, begin: int, end: float, epochs: int, w0: float, tol: float) -> Any:
        groups, cells = rates.shape[0], lrs.shape[0]
        one, two = dtype(1), dtype(2)
        w = np.full((groups, cells), dtype(w0))
        loss = np.zeros((groups, cells), w.dtype)
        below, bad, unstable = np.full((groups, cells), -1), np.full((groups, cells), -1), np.full((groups, cells), -1)
        for epoch in range(epochs):
            step = max(epoch - begin, 0)
            for group in range(groups):
                exponent = float(step // steps[group]) if staircase else float(step) / float(steps[group])
                power, rate = math.pow(rates[group], exponent), rates[group]
                for cell in range(cells):
                    lr = 0.0 if lrs[cell] == 0.0 else power * lrs[cell]
                    if not math.isnan(end):
                        lr = max(lr, end) if rate < 1.0 else min(lr, end)
                    rounded = dtype(lr)
                    x = w[group, cell] + one
                    square = x * x
                    updated = w[group, cell] - rounded * (x * two)
                    w[group, cell], loss[group, cell] = updated, square
                    if below[group, cell] < 0 and float(square) < tol:
                        below[group, cell] = epoch
                    if bad[group, cell] < 0 and not (math.isfinite(square) and math.isfinite(updated)):
                        bad[group, cell] = epoch
                    if unstable[group, cell] < 0 and rounded > one:
                        unstable[group, cell] = epoch
        return loss, below, bad, unstable

    return loop


_LOOPS: dict[str, Any] = {}


def sweep_floor(grid: Grid, tol: float = 1e-6) -> GridResult:
    """``run_grid(grid, tol, "xla-exact")`` as a native loop (its result, mode ``"native"``): the sweep floor.

    The base's ``size`` is 1 (a grid's); its ``staircase``, ``transition_begin`` and ``end_value`` hold for every cell.
    """
    check_tol(tol)
    base = grid.base
    if base.dtype not in _LOOPS:
        _LOOPS[base.dtype] = _loop(np.float32 if base.dtype == "float32" else np.float64)
    steps, rates = np.meshgrid(np.asarray(grid.decay_steps, np.int64), np.asarray(grid.decay_rate), indexing="ij")
    schedule = base.schedule
    end = math.nan if schedule.end_value is None else schedule.end_value
    lrs = np.asarray(grid.initial_learning_rate, np.float64)
    loss, below, bad, unstable = _LOOPS[base.dtype](
        lrs, rates.ravel(), steps.ravel(), schedule.staircase, schedule.transition_begin, end, base.epochs, base.w0, float(tol)
    )
    loss, below, bad, unstable = (array.reshape(-1) for array in (loss, below, bad, unstable))
    diverged = np.where(unstable < 0, bad, np.where(bad < 0, unstable, np.minimum(bad, unstable)))
    return GridResult(grid=grid, tol=float(tol), mode="native", final_loss=loss, epochs_to_tol=below, diverged_at=diverged)
