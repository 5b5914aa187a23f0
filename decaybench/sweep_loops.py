"""The compiled loops of sweeps: a batch's rows (:func:`~decaybench.sweep.run_sweep`), or its metrics (:func:`~decaybench.grid.run_grid`).

Both are the mode's own loop (:class:`~decaybench.modes._scaffold.compiled_loop.CompiledLoop`,
the step of ``xla`` or ``xla-exact``) on a ``[configs, size]`` ``w``, in functions of their own
that leave the mode's tracing count alone. Each configuration's values are therefore those of
``run(config, mode)`` bit for bit (``tests/test_sweep.py``, ``tests/test_grid.py``).

A grid's loop keeps, instead of every epoch's row, what :mod:`decaybench.metrics` needs::

    loss      the loss of the last epoch                       -> final_loss
    below[c]  the first epoch with float64(loss) < tol, or -1  -> epochs_to_tol
    bad[c]    the first epoch with a non-finite loss or w, -1  -> diverged_at (with the lr rule)

so memory is O(cells), whatever the number of epochs; it compiles once per dtype and
``[cells, size]`` shape (``epochs`` and ``tol`` are tensors).
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

from decaybench.config import DecayConfig
from decaybench.modes import BUILTIN
from decaybench.modes._scaffold.compiled_loop import ROWS, CompiledLoop, Keep, unpacked

__all__ = ["METRICS", "grid_metrics", "sweep_rows"]


def _start_metrics(w0: tf.Tensor, rows: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    none = tf.fill(tf.shape(w0)[:-1], tf.constant(-1, tf.int64))
    return none, none


def _write_metrics(
    kept: tuple[tf.Tensor, tf.Tensor], row: tf.Tensor, epoch: tf.Tensor, w: tf.Tensor, loss: tf.Tensor, lr: tf.Tensor, tol: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    below, bad = kept
    finite = tf.math.is_finite(loss) & tf.reduce_all(tf.math.is_finite(w), axis=-1)
    # float64 holds every float32 exactly: the comparison is metrics.epochs_to_tol's.
    below = tf.where((below < 0) & (tf.cast(loss, tf.float64) < tol), epoch, below)
    bad = tf.where((bad < 0) & ~finite, epoch, bad)
    return below, bad


def _final_metrics(kept: tuple[tf.Tensor, tf.Tensor], rows: tf.Tensor, loss: tf.Tensor) -> tuple[tf.Tensor, ...]:
    return (loss, *kept)


METRICS = Keep(_start_metrics, _write_metrics, _final_metrics, inputs=1)
"""``(loss, below, bad)``, each ``[cells]``: the module doc's metrics; its one input is ``tol``, float64."""


@functools.cache
def _loop(mode: str, metrics: bool) -> CompiledLoop:
    loop: CompiledLoop = BUILTIN[mode].compiled_loop()
    return loop.sibling(METRICS if metrics else ROWS)


def sweep_rows(mode: str, w0: np.ndarray, first: DecayConfig, integers: np.ndarray, floats: np.ndarray) -> tuple[np.ndarray, ...]:
    """The rows ``[rows, configs, ...]`` of w, the loss and the float64 lr, for configurations of
    ``first``'s shape: ``w0`` ``[configs, size]``, schedule columns ``[configs, 3]``
    (:func:`decaybench.schedule.loop_columns`)."""
    packed = _loop(mode, False).run_batch(w0, first, integers, floats)
    return unpacked(packed.numpy(), first.size, first.dtype)


def grid_metrics(
    mode: str, w0: np.ndarray, base: DecayConfig, integers: np.ndarray, floats: np.ndarray, tol: float
) -> tuple[np.ndarray, ...]:
    """``(loss, below, bad)`` of :data:`METRICS` for the cells of ``base``'s shape (every epoch kept)."""
    kept = _loop(mode, True).run_batch(w0, base, integers, floats, tf.constant(tol, tf.float64))
    return tuple(tensor.numpy() for tensor in kept)
