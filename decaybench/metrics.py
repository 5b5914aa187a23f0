r"""The metrics of a run, defined once: the final loss, the epochs to a tolerance, the divergence epoch.

A run's epoch ``e`` has ``loss[e]`` (before its update), ``w[e]`` (after it) and ``lr(e)``; its
epochs are ``0 .. E-1``. The metrics are::

    final_loss    = loss[E - 1]
    epochs_to_tol = min{e : float64(loss[e]) < tol}                  the loss widened exactly
    diverged_at   = min(first_unstable_epoch(config),                the first e with lr(e) > 1
                        min{e : loss[e] or some w[e] is not finite})   in the run's dtype

and ``None`` for an empty set. ``lr > 1`` is ``|1 - 2 lr| > 1``: the step maps ``w + 1`` to
``(1 - 2 lr)(w + 1)``, so it expands. :attr:`decaybench.trace.Trace.diverged_at` is
:func:`diverged_at` over the trace's recorded epochs, and ``decaybench.grid`` keeps the same
three quantities inside the compiled loop (``decaybench.sweep_loops``) from the very
per-epoch values the loop computes, with these functions' rules; ``tests/test_grid.py`` checks
that the two agree cell by cell.

>>> loss = np.array([36.0, 13.0, 0.5, 1e-7], dtype=np.float32)
>>> epochs_to_tol(np.arange(4), loss, 1e-6), final_loss(loss)
(3, 1.0000000116860974e-07)
>>> diverged_at(DecayConfig(epochs=4), np.arange(4), np.array([1.0, 2.0, np.inf, np.nan]), np.zeros((4, 1))) is None
False
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from decaybench.config import DecayConfig

__all__ = ["METRICS", "CellMetrics", "diverged_at", "earliest", "epochs_to_tol", "final_loss", "first_nonfinite", "first_unstable_epoch"]

# The metrics by their command-line names, in table order.
METRICS = ("final-loss", "epochs-to-tol", "diverged-at")


def final_loss(loss: np.ndarray) -> float:
    """The loss before the last update (the trace's last loss), as a Python float."""
    return float(np.asarray(loss)[-1])


def epochs_to_tol(epoch: np.ndarray, loss: np.ndarray, tol: float) -> int | None:
    """The first epoch whose loss is below ``tol``, compared exactly (the loss widened to float64)."""
    below = np.asarray(loss).astype(np.float64) < float(tol)
    return int(np.asarray(epoch)[np.argmax(below)]) if below.any() else None


def first_nonfinite(epoch: np.ndarray, loss: np.ndarray, w: np.ndarray) -> int | None:
    """The first epoch whose loss or any element of ``w`` (shape ``(epochs, size)``) is NaN or infinite."""
    finite = np.isfinite(loss) & np.isfinite(w).all(axis=1)
    return None if finite.all() else int(np.asarray(epoch)[np.argmin(finite)])


def earliest(epochs: Iterable[int | None]) -> int | None:
    """The smallest epoch that is not ``None``; ``None`` if none.

    >>> earliest([None, 7, 3]), earliest([None])
    (3, None)
    """
    found = [epoch for epoch in epochs if epoch is not None]
    return min(found) if found else None


def diverged_at(config: DecayConfig, epoch: np.ndarray, loss: np.ndarray, w: np.ndarray) -> int | None:
    """The first epoch whose step expands ``|w + 1|`` (``lr > 1``) or whose values are not finite.

    The schedule is monotone, so the lr rule is exact even between the epochs given; non-finite
    values are seen at the epochs given.
    """
    return earliest((first_unstable_epoch(config), first_nonfinite(epoch, loss, w)))


def first_unstable_epoch(config: DecayConfig) -> int | None:
    """The first epoch whose lr, in the run's dtype, exceeds 1 (``|1 - 2 lr| > 1``); ``None`` if none.

    The schedule is monotone in the epoch, so bisection finds it with O(log epochs) evaluations.

    >>> first_unstable_epoch(DecayConfig(initial_learning_rate=0.5, decay_rate=2.0))
    2
    >>> first_unstable_epoch(DecayConfig()) is None
    True
    """

    def unstable(epoch: int) -> bool:
        lr = config.schedule.lr(epoch)
        # The lr the run applies, in its dtype: 1 + 2**-52 is 1.0 in float32, a step that
        # keeps |w + 1| exactly (found by hypothesis).
        with np.errstate(over="ignore"):
            return bool(np.asarray(lr, dtype=config.dtype) > 1.0)

    last = config.epochs - 1
    if not unstable(last if config.decay_rate >= 1.0 else 0):
        return None
    low, high = 0, (last if config.decay_rate >= 1.0 else 0)
    while low < high:
        middle = (low + high) // 2
        if unstable(middle):
            high = middle
        else:
            low = middle + 1
    return low


@dataclass(frozen=True)
class CellMetrics:
    """The three metrics of one run (``None``: never below ``tol``, never diverged)."""

    final_loss: float
    epochs_to_tol: int | None
    diverged_at: int | None

    @classmethod
    def of(cls, config: DecayConfig, epoch: np.ndarray, loss: np.ndarray, w: np.ndarray, tol: float) -> CellMetrics:
        """The metrics of a run's recorded values (every epoch, for ``epochs_to_tol`` to be exact)."""
        return cls(final_loss(loss), epochs_to_tol(epoch, loss, tol), diverged_at(config, epoch, loss, w))
