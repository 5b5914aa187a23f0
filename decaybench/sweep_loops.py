"""The compiled loops of sweeps: a batch's rows (:func:`~decaybench.sweep.run_sweep`), or its metrics (:func:`~decaybench.grid.run_grid`).

Both are the mode's own loop (:class:`~decaybench.modes._scaffold.compiled_loop.CompiledLoop`,
the step of ``xla`` or ``xla-exact``) on a ``[configs, size]`` ``w``, in functions of their own
that leave the mode's tracing count alone. Each configuration's values are therefore those of
``run(config, mode)`` bit for bit (``tests/test_sweep.py``, ``tests/test_grid.py``).

A grid's loop (:func:`grid_chunk`) is its own: a grid's cells are ``[groups, lrs]``, a group
being one ``(decay_steps, decay_rate)`` over the base's ``staircase``, ``transition_begin`` and
``end_value``, and ``initial_learning_rate`` the fast axis. The schedule is
:func:`~decaybench.schedule.tf_exponential_decay` on columns shaped to broadcast, ``[groups, 1]``
and ``[1, lrs]``: its ``pow(rate, exponent)`` is ``[groups, 1]``, one ``pow`` per group and epoch,
then ``multiply_no_nan(power, lr0)`` and the clip run per cell. That is the very expression of
each cell's schedule, element by element, so each lr is the single run's bit for bit. Every
other operation is the mode's step on ``w`` ``[groups, lrs, size]``, the cells the vector
dimension. The loop carries, per cell, what :mod:`decaybench.metrics` needs::

    loss      the loss of the last epoch                       -> final_loss
    below     the first epoch with float64(loss) < tol, or -1  -> epochs_to_tol
    bad       the first epoch with a non-finite loss or w, -1  -> diverged_at, with
    unstable  the first epoch with lr, in w's dtype, > 1, -1      first_unstable_epoch's rule

so memory is O(cells), whatever the number of epochs; a chunk runs epochs ``[start, stop)``
from the carried values (:mod:`decaybench.grid_run`), and it compiles once per dtype and
``[groups, lrs, size]`` shape (the span and ``tol`` are tensors).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import tensorflow as tf

from decaybench.config import DecayConfig
from decaybench.modes import BUILTIN
from decaybench.modes._scaffold.compiled_loop import ROWS, CompiledLoop, unpacked
from decaybench.schedule import tf_exponential_decay

__all__ = ["grid_chunk", "sweep_rows"]


@functools.cache
def _loop(mode: str) -> CompiledLoop:
    loop: CompiledLoop = BUILTIN[mode].compiled_loop()
    return loop.sibling(ROWS)


def sweep_rows(
    mode: str, w: np.ndarray | tf.Tensor, first: DecayConfig, integers: np.ndarray, floats: np.ndarray, start: int, stop: int
) -> tuple[Any, ...]:
    """Epochs ``start .. stop-1`` of configurations of ``first``'s shape from ``w`` ``[configs, size]``,
    schedule columns ``[configs, 3]`` (:func:`decaybench.schedule.loop_columns`): the rows
    ``[rows, configs, ...]`` of w, the loss and the float64 lr among them, and the last ``w``."""
    loop = _loop(mode)
    inputs = loop.inputs(first.size, first.dtype)
    function = loop.function(first.record_every == 1, len(inputs))
    span = tf.constant((start, stop, first.record_every, first.epochs - 1), tf.int64)
    rows = tf.constant(first.recorded_before(stop) - first.recorded_before(start), tf.int32)
    packed, last = function(tf.constant(w), span, rows, tf.constant(integers, tf.int64), tf.constant(floats, tf.float64), *inputs)
    return (*unpacked(packed.numpy(), first.size, first.dtype), last)


@functools.cache
def _grid_function(mode: str) -> Any:
    loop: CompiledLoop = BUILTIN[mode].compiled_loop()
    step = loop.step

    # Flat tensors, the step's inputs (xla-exact's two) last, for the concrete function's flat call (_call).
    # epochs: int64 [3, groups, lrs], below, bad and unstable, updated by one select. Per epoch, XLA's
    # CPU runtime hands work to its thread pool, which on a busy machine costs more than the work
    # at 2,500 cells: the kernels of a loop body of more than 8 (three selects made 9), and a kernel
    # its cost model deems worth two threads (the step with the lr computed in it).
    def chunk(
        w: tf.Tensor,
        loss: tf.Tensor,
        epochs: tf.Tensor,
        integers: tf.Tensor,
        lr0: tf.Tensor,
        decay_steps: tf.Tensor,
        rates: tf.Tensor,
        floats: tf.Tensor,
        *inputs: tf.Tensor,
    ) -> Any:
        # [lrs] and [groups] as [1, lrs] and [groups, 1]: the power is [groups, 1], the rest per cell.
        schedule = (lr0[tf.newaxis, :], decay_steps[:, tf.newaxis], rates[:, tf.newaxis], integers[2] != 0, integers[3], floats[0])
        tol, epoch = floats[1], integers[0]
        # The float64 lr of the next epoch, carried from one epoch to the next: a buffer of the loop,
        # not recomputed inside the step's kernel, which XLA would then split across threads (above).
        lr = tf_exponential_decay(epoch, *schedule)
        # A while loop, not a for over tf.range: XLA would take the range's length as a compile-time constant.
        while epoch < integers[1]:
            w, loss = step(w, lr, *inputs)
            finite = tf.math.is_finite(loss) & tf.reduce_all(tf.math.is_finite(w), axis=-1)
            # The three epochs' events, as `epochs` stacks them (one select, one XLA kernel):
            # float64 holds every float32 exactly, so the first is metrics.epochs_to_tol's comparison;
            # the last is metrics.first_unstable_epoch's rule, the lr the run applies, in w's dtype, above 1.
            events = tf.stack((tf.cast(loss, tf.float64) < tol, ~finite, tf.cast(lr, w.dtype) > 1))
            epochs = tf.where((epochs < 0) & events, epoch, epochs)
            epoch += 1
            lr = tf_exponential_decay(epoch, *schedule)
        return w, loss, epochs

    return tf.function(chunk, jit_compile=True), loop.inputs


@functools.cache
def _grid_concrete(mode: str, shape: tuple[int, ...], dtype: str) -> Any:
    # The concrete function of one w shape [groups, lrs, size] and dtype (the other inputs' follow):
    # calling it skips matching the arguments to a trace.
    function, inputs = _grid_function(mode)
    groups, lrs, _ = shape
    extra = inputs(shape[-1], dtype)
    specs = (
        (shape, dtype),
        ((groups, lrs), dtype),
        ((3, groups, lrs), tf.int64),
        ((4,), tf.int64),
        ((lrs,), tf.float64),
        ((groups,), tf.int64),
        ((groups,), tf.float64),
        ((2,), tf.float64),
    )
    concrete = function.get_concrete_function(*(tf.TensorSpec(*spec) for spec in specs), *map(tf.TensorSpec.from_tensor, extra))
    return concrete, extra


def grid_chunk(
    mode: str,
    carried: tuple[np.ndarray, ...],
    start: int,
    stop: int,
    columns: tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int], float],
    tol: float,
) -> tuple[np.ndarray, ...]:
    """Epochs ``start .. stop-1`` of a grid's cells from ``carried`` (``w, loss, below, bad, unstable``: ``w``
    ``[groups, lrs, size]``, the others ``[groups, lrs]``); ``columns``: ``lr0`` ``[lrs]``,
    ``decay_steps`` and ``decay_rate`` ``[groups]``, the integers ``(staircase, transition_begin)``
    and the ``end_value`` (NaN for none). Returns the carried values after them."""
    w, loss, *epochs = carried
    lr0, decay_steps, rates, shared, end = columns
    concrete, extra = _grid_concrete(mode, w.shape, w.dtype.name)
    integers = np.array((start, stop, *shared), np.int64)
    floats = np.array((end, tol), np.float64)
    tensors = [tf.constant(array) for array in (w, loss, np.stack(epochs), integers, lr0, decay_steps, rates, floats)]
    w, loss, epochs = _call(concrete, (*tensors, *extra))
    return (w.numpy(), loss.numpy(), *epochs.numpy())


def _call(concrete: Any, tensors: tuple[tf.Tensor, ...]) -> Any:
    # The concrete function's flat call (TF 2.15 to 2.21): its public call checks and casts each
    # argument against the signature, 0.2 ms of a 2,500-cell call; grid_chunk's tensors are made
    # to the signature (the shapes are the cache key, the dtypes fixed), so there is nothing to cast.
    flat = getattr(concrete, "_call_flat", None)
    if flat is None:
        return concrete(*tensors)
    return flat(list(tensors), concrete.captured_inputs)
