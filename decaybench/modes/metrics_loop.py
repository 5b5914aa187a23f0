"""The compiled sweep loop that keeps the metrics, not the trace: :func:`decaybench.grid.run_grid`'s engine.

It runs the steps of a sweep mode's loop on a ``[cells, size]`` ``w`` (the schedule by
:func:`~decaybench.schedule.tf_exponential_decay`, then the mode's step) and, instead of
writing every epoch's row, carries what :mod:`decaybench.metrics` needs::

    loss      the loss of the last epoch                      -> final_loss
    below[c]  the first epoch with float64(loss) < tol, or -1   -> epochs_to_tol
    bad[c]    the first epoch with a non-finite loss or w, -1   -> diverged_at (with the lr rule)

so memory is O(cells), whatever the number of epochs. The values it reduces are the loop's
own, so each cell's metrics are those of ``run(config, mode)`` bit for bit
(``tests/test_grid.py``).

The step is the mode's: :func:`~decaybench.modes.compiled.whole_loop`'s for ``xla`` (whose
``w - lr * g`` XLA may contract into a fused multiply-add, exactly as in mode ``xla``), and
:func:`~decaybench.modes.exact.exact_step` for ``xla-exact`` (bit for bit ``eager``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import tensorflow as tf

from decaybench.modes.compiled import loss_and_gradient
from decaybench.schedule import from_columns, tf_exponential_decay

__all__ = ["metrics_loop", "metrics_loop_function"]

# (w, lr as float64 [cells], the opaque one) -> (w after the update, loss before it)
Step = Callable[[tf.Tensor, tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]


def _xla_step(w: tf.Tensor, lr: tf.Tensor, one: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    # whole_loop's step, operation for operation: GradientTape, then lr in w's dtype per cell.
    loss, gradient = loss_and_gradient(w)
    return w - tf.cast(lr, w.dtype)[..., tf.newaxis] * gradient, loss


def _exact_step(w: tf.Tensor, lr: tf.Tensor, one: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    # exact_loop's step for size 1 (a grid's w has one element): no summation plan.
    from decaybench.modes.exact import exact_step

    return exact_step(w, tf.cast(lr, w.dtype), one, None, None)


STEPS: dict[str, Step] = {"xla": _xla_step, "xla-exact": _exact_step}


def metrics_loop(
    w0: tf.Tensor, epochs: tf.Tensor, integers: tf.Tensor, floats: tf.Tensor, tol: tf.Tensor, one: tf.Tensor, step: Step = _xla_step
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """All epochs of a batch of cells in one graph, keeping the metrics (AutoGraph source).

    Args:
        w0: ``[cells, size]``: each cell's starting ``w``.
        epochs: int64 scalar, shared by the cells.
        integers: int64 ``[cells, 2]``: ``decay_steps`` and ``staircase`` (0 or 1).
        floats: float64 ``[cells, 2]``: ``initial_learning_rate`` and ``decay_rate``.
        tol: float64 scalar.
        one: 1.0 in ``w0``'s dtype, an input so that XLA cannot fold it (``xla-exact``'s step).
        step: the mode's step, :data:`STEPS`.

    Returns ``(loss, below, bad)``, each ``[cells]``: the last epoch's loss, and the first epoch
    below ``tol`` and the first non-finite epoch (int64, ``-1`` for none).
    """
    schedule = from_columns(integers, floats)
    none = tf.fill(tf.shape(w0)[:-1], tf.constant(-1, tf.int64))
    w, below, bad = w0, none, none
    loss = tf.zeros(tf.shape(w0)[:-1], w0.dtype)
    for epoch in tf.range(epochs):
        w, loss = step(w, tf_exponential_decay(epoch, *schedule), one)
        finite = tf.math.is_finite(loss) & tf.reduce_all(tf.math.is_finite(w), axis=-1)
        # float64 holds every float32 exactly: the comparison is metrics.epochs_to_tol's.
        below = tf.where((below < 0) & (tf.cast(loss, tf.float64) < tol), epoch, below)
        bad = tf.where((bad < 0) & ~finite, epoch, bad)
    return loss, below, bad


@functools.cache
def metrics_loop_function(mode: str) -> Any:
    """The ``tf.function(jit_compile=True)`` of :func:`metrics_loop` with ``mode``'s step.

    Arguments ``(w0, epochs, integers, floats, tol, one)``; it compiles once per dtype and
    ``[cells, size]`` shape (``epochs`` and ``tol`` are tensors).
    """
    step = STEPS[mode]

    def loop(w0: tf.Tensor, epochs: tf.Tensor, integers: tf.Tensor, floats: tf.Tensor, tol: tf.Tensor, one: tf.Tensor) -> Any:
        return metrics_loop(w0, epochs, integers, floats, tol, one, step)

    return tf.function(loop, jit_compile=True)
