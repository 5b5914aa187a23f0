r"""XLA's loop over every epoch of a short chunk: the schedule as one vector first, then the steps.

When a chunk records every epoch its length is its row count, which XLA knows at compile time.
So :func:`scheduled_rows` computes the chunk's float64 schedule as one vector before the
recurrence (as :mod:`.unrolled` does for long chunks, one step an iteration here), and keeps
each epoch's row, packed, in one buffer::

    lrs = tf_exponential_decay(start + arange(rows), *schedule)   # one vector
    for row in range(rows):                                       # one while loop
        w, loss = step(w, lrs[row])
        kept[row] = [w, loss, bits of lrs[row]]                   # packed as compiled_loop.ROWS
    return kept, w

Why: a first call compiles what XLA's CPU backend makes of it, one LLVM module per kernel (~9 ms
of CPU each, measured on 12 scalar kernels against one). In the per-epoch loop, XLA hoists each
of the schedule's loop invariants (a column sliced, ``staircase != 0``, ``rate < 1``, ``isnan(end)``,
``lr0 == 0``) out of the loop as a kernel of its own, and each of three row buffers has its own:
17 kernels for the seed. Here the invariants fuse into the schedule's one kernel, and the rows
are packed as they are written: 3 kernels (the schedule, the buffer's zeros, the loop).
The figures are in ``docs/benchmarks.notes.md`` ("First calls").

Bits: every epoch is the same step on the same values as in
:func:`~.compiled_loop.chunk_loop`; XLA computes the vector's ``pow`` per element with the C
library's, as in the loop (``tests/test_modes.py``, ``tests/test_xla_exact.py``,
``tests/properties/test_xla_model.py``). ``graph`` keeps the per-epoch loop: TensorFlow's own
kernel of a vector ``pow`` (Eigen's) is not the C library's, and its lrs differ (measured on the seed).
The span is read at run time: XLA compiles once per row count, whatever the chunk's start.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf

from decaybench.modes._scaffold.packing import layout, pack
from decaybench.schedule import tf_exponential_decay

__all__ = ["lr_vector", "scheduled_rows"]


def lr_vector(start: tf.Tensor, count: tf.Tensor, w0: tf.Tensor, schedule: tuple[tf.Tensor, ...]) -> tf.Tensor:
    """The float64 lrs of epochs ``start .. start + count - 1`` as one vector ``[count, ...]``, shaped
    to broadcast against ``w0``'s batch dimensions."""
    epochs = start + tf.range(tf.cast(count, tf.int64), dtype=tf.int64)
    return tf_exponential_decay(tf.reshape(epochs, [-1] + [1] * (w0.shape.rank - 1)), *schedule)


def scheduled_rows(
    w0: tf.Tensor,
    span: tf.Tensor,
    rows: tf.Tensor,
    schedule: tuple[tf.Tensor, ...],
    step: Callable[[tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]],
) -> tuple[tf.Tensor, tf.Tensor]:
    """Epochs ``span[0] .. span[0] + rows - 1``, each recorded.

    Args as :func:`~.compiled_loop.chunk_loop`'s. Returns ``(packed rows, last w)``, the rows
    packed as :data:`~.compiled_loop.ROWS` packs them: ``[rows, ..., size + 1 + k]``.
    """
    # At least one slot, as ROWS: TF 2.15's XLA refuses a 0-row buffer even in a loop that never runs.
    slots = tf.maximum(rows, 1)
    lrs = lr_vector(span[0], slots, w0, schedule)  # [slots, ...]
    bits, width = layout(w0)
    kept = tf.TensorArray(bits, size=slots, element_shape=[*w0.shape[:-1], width])

    def body(row: tf.Tensor, kept: Any, w: tf.Tensor) -> tuple[Any, ...]:
        lr = tf.gather(lrs, row)
        w, loss = step(w, lr)
        return row + 1, kept.write(row, pack(w, loss, lr)), w

    zero = tf.constant(0, rows.dtype)
    _, kept, w = tf.while_loop(lambda row, *_: row < rows, body, (zero, kept, w0), maximum_iterations=rows)
    return kept.stack()[:rows], w
