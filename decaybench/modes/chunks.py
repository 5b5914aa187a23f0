r"""The compiled whole loops (``graph``, ``xla``, ``xla-exact``) run in chunks of epochs.

A chunk runs epochs ``start .. stop-1`` from the ``w`` the previous one ended with and returns
the rows of the recorded epochs among them and its last ``w``. Every epoch is the same step on
the same values whatever the chunk, so the trace does not depend on where the chunks split:

.. math:: \mathrm{loop}_{[0, n)}(w_0) = \mathrm{loop}_{[k, n)}(\mathrm{loop}_{[0, k)}(w_0)) \quad \text{bit for bit}

(``tests/test_resume.py`` checks every split point). The chunk's ``start`` and ``stop`` enter
as a run-time tensor; only its number of rows sizes the row buffers, which XLA needs at compile
time, so XLA compiles once per row count (a full chunk's, and a remainder's), not per chunk.

Chunks end where a checkpoint is due (:mod:`decaybench.checkpoint`) and, in a long run, after
about :data:`CHUNK_SECONDS` of work, so that Ctrl-C stops a compiled run between two chunks
(:func:`decaybench.progress.stop_on_interrupt`) and a progress bar advances. A run shorter
than one chunk is one call, as before.

>>> list(spans(0, 10, every=4, length=3))
[(0, 3), (3, 4), (4, 7), (7, 8), (8, 10)]
>>> from decaybench.config import DecayConfig
>>> [recorded_before(DecayConfig(epochs=10, record_every=4), epoch) for epoch in (0, 1, 5, 9, 10)]
[0, 1, 2, 3, 4]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import tensorflow as tf

from decaybench.checkpoint import CheckpointOptions, State
from decaybench.config import DecayConfig
from decaybench.modes import REGISTRY
from decaybench.modes.recording import initial_w
from decaybench.progress import epoch_bar
from decaybench.schedule import tf_exponential_decay
from decaybench.trace import Trace

__all__ = ["CHUNK_SECONDS", "chunk_length", "chunk_loop", "recorded_before", "run_chunked", "spans"]

# What a chunk should last; a step's cost is each mode's ModeSpec.step_ns.
CHUNK_SECONDS = 0.25

Step = Callable[[tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]
# (w, start, stop, rows) -> (w rows, loss rows, lr rows, last w): the rows as tensors or arrays.
Chunk = Callable[[Any, int, int, int], tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]]


def chunk_loop(
    w0: tf.Tensor, span: tf.Tensor, rows: tf.Tensor, schedule: tuple[tf.Tensor, ...], step: Step, every_epoch: Any
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
    """Epochs ``span[0] .. span[1]-1`` of a run (AutoGraph source).

    Args:
        w0: ``[..., size]``, w before epoch ``span[0]``.
        span: int64 ``[start, stop, record_every, last epoch of the run]``.
        rows: int32, how many recorded epochs lie in ``[start, stop)`` (XLA: a compile-time constant).
        schedule: the schedule's tensors (:func:`decaybench.schedule.from_columns`).
        step: ``(w, float64 lr) -> (w after the update, loss before it)``: the mode's epoch.
        every_epoch: whether ``record_every == 1`` (a Python bool, or a tensor decided in the graph).

    Returns the rows ``[rows, ..., size]``, ``[rows, ...]`` (float64 lrs) and the last ``w``.
    Recording every K-th epoch is a loop over rows and, inside, over the epochs up to each row's
    epoch, then the epochs after the chunk's last row: no step pays for a condition or a write it
    does not need (a graph's while loop pays per iteration for each loop variable).
    """
    start, stop, record_every, last = span[0], span[1], span[2], span[3]
    # At least one slot: TF 2.15's XLA refuses a write into a 0-row buffer even in a loop that never
    # runs ("Update dim size 1 greater than dynamic slice dimension: 0"); the unused slot is sliced off.
    slots = tf.maximum(rows, 1)
    w_rows = tf.TensorArray(w0.dtype, size=slots, element_shape=w0.shape)
    loss_rows = tf.TensorArray(w0.dtype, size=slots, element_shape=w0.shape[:-1])
    lr_rows = tf.TensorArray(tf.float64, size=slots, element_shape=w0.shape[:-1])
    w = w0
    loss = tf.zeros(tf.shape(w0)[:-1], w0.dtype)
    lr = tf.zeros(tf.shape(w0)[:-1], tf.float64)
    epoch = start
    if every_epoch:
        for epoch in tf.range(start, stop):
            lr = tf_exponential_decay(epoch, *schedule)
            w, loss = step(w, lr)
            row = tf.cast(epoch - start, tf.int32)
            w_rows, loss_rows, lr_rows = w_rows.write(row, w), loss_rows.write(row, loss), lr_rows.write(row, lr)
    else:
        first = (start + record_every - 1) // record_every * record_every
        for row in tf.range(rows):
            target = tf.minimum(first + tf.cast(row, tf.int64) * record_every, last)
            while epoch <= target:
                lr = tf_exponential_decay(epoch, *schedule)
                w, loss = step(w, lr)
                epoch += 1
            w_rows, loss_rows, lr_rows = w_rows.write(row, w), loss_rows.write(row, loss), lr_rows.write(row, lr)
        while epoch < stop:
            lr = tf_exponential_decay(epoch, *schedule)
            w, loss = step(w, lr)
            epoch += 1
    return w_rows.stack()[:rows], loss_rows.stack()[:rows], lr_rows.stack()[:rows], w


def recorded_before(config: DecayConfig, epoch: int) -> int:
    """How many recorded epochs are below ``epoch``: the multiples of K, and the last epoch at the end."""
    kept = (epoch + config.record_every - 1) // config.record_every
    return kept + (1 if epoch == config.epochs and (config.epochs - 1) % config.record_every else 0)


def spans(start: int, epochs: int, every: int | None, length: int) -> Iterator[tuple[int, int]]:
    """Chunks ``[a, b)`` from ``start`` to ``epochs``, at most ``length`` long, ending at each multiple of ``every``."""
    begin = start
    while begin < epochs:
        end = min(begin + length, epochs)
        if every is not None:
            end = min(end, (begin // every + 1) * every)
        yield begin, end
        begin = end


def chunk_length(config: DecayConfig, mode: str) -> int:
    """Epochs per chunk: about :data:`CHUNK_SECONDS` of ``mode``'s steps, a multiple of ``record_every`` (or fewer
    epochs than ``record_every`` when that is longer than a chunk: a chunk must stay short for Ctrl-C)."""
    cost = REGISTRY[mode].step_ns
    if cost is None:
        raise ValueError(f"mode {mode!r} does not run in chunks: its ModeSpec has no step_ns")
    per_step, per_element = cost
    steps = int(CHUNK_SECONDS * 1e9 / (per_step + per_element * config.size))
    if steps < config.record_every:  # rows sparser than a chunk: each chunk records 0 or 1 row, and stays short
        return max(1, steps)
    return steps // config.record_every * config.record_every


def run_chunked(config: DecayConfig, mode: str, chunk: Chunk, progress: bool | None, checkpoint: CheckpointOptions | None) -> Trace:
    """Run ``config`` chunk by chunk with ``chunk(w, start, stop, rows)``, saving checkpoints when due."""
    length = chunk_length(config, mode)
    if checkpoint is None and config.epochs <= length:
        whole = chunk(initial_w(config), 0, config.epochs, config.recorded_count)
        return Trace(
            epoch=config.recorded(), w=np.asarray(whole[0]), loss=np.asarray(whole[1]), lr=np.asarray(whole[2]), config=config, mode=mode
        )
    checkpoints = checkpoint.open(config, mode) if checkpoint is not None else None
    state = checkpoints.start() if checkpoints is not None else State.initial(config)
    dtype, count = np.dtype(config.dtype), config.recorded_count
    rows_w, rows_loss, rows_lr = np.empty((count, config.size), dtype), np.empty(count, dtype), np.empty(count, np.float64)
    done = len(state.rows_lr)
    rows_w[:done], rows_loss[:done], rows_lr[:done] = state.rows_w, state.rows_loss, state.rows_lr
    w: Any = state.w
    with epoch_bar(config.epochs, progress, mode) as bar:
        bar.update(state.epoch)
        for begin, end in spans(state.epoch, config.epochs, checkpoint.every if checkpoint else None, length):
            low, high = recorded_before(config, begin), recorded_before(config, end)
            out_w, out_loss, out_lr, w = chunk(w, begin, end, high - low)
            rows_w[low:high], rows_loss[low:high], rows_lr[low:high] = np.asarray(out_w), np.asarray(out_loss), np.asarray(out_lr)
            if checkpoints is not None and checkpoints.due(end):
                checkpoints.save(State(end, w.numpy(), rows_w[:high], rows_loss[:high], rows_lr[:high]))
            bar.update(end - begin)  # raises a pending Ctrl-C between chunks
    return Trace(epoch=config.recorded(), w=rows_w, loss=rows_loss, lr=rows_lr, config=config, mode=mode)
