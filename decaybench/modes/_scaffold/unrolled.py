r"""XLA's loop over every epoch of a chunk: the schedule as one vector first, then the steps unrolled.

When a chunk records every epoch its length is its row count, which XLA knows at compile time.
So :func:`unrolled_rows` computes the chunk's float64 schedule as one vector before the
recurrence, then runs the steps :data:`UNROLL` at a time in one iteration of the loop, and writes
each block's rows (``w`` and the loss, packed) into one buffer. The lrs are not written again:
the schedule vector is the lr column, an output of its own::

    lrs = tf_exponential_decay(start + arange(blocks * UNROLL), *schedule)   # one vector
    for block in range(blocks):                                              # one while loop
        for j in range(UNROLL):                                              # unrolled at trace time
            w, loss = step(w, lrs[block * UNROLL + j])
        rows[block] = [(w, loss) of the block's UNROLL epochs]
    return (rows, lrs), w

The last block runs up to ``UNROLL - 1`` epochs past the chunk's end (the row count rounded up);
their rows are sliced off and the chunk's last ``w`` is read from its last row, so no epoch of
the run sees them. Every epoch is the same step on the same values as in
:func:`~.compiled_loop.chunk_loop`: the schedule is the same ops per element (``pow`` per
element, the C library's, as in the loop), so the rows are bit for bit the plain loop's, for
``xla-exact`` and ``xla`` alike (``tests/test_modes.py``, ``tests/test_resume.py``,
``tests/properties/test_xla_model.py``). Why it is faster, step by step, is in
``docs/benchmarks.notes.md`` ("Long traces"): packing the rows in the loop saves a pass over
them after it (a ``concat`` of the rows and the lr words), 1-4 ns of about 20 per epoch; keeping
the lrs apart halves (float32) or shrinks by a third (float64) the buffer XLA zero-fills before
the loop and the loop writes, about 1 ns an epoch.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from decaybench.modes._scaffold.packing import layout, pack, unpack_w
from decaybench.modes._scaffold.scheduled import lr_vector

__all__ = ["SMALL_W", "UNROLL", "UNROLL_FROM", "unrolled_rows"]

# Epochs per iteration of the while loop: XLA's per-iteration cost (its thunks: ~10 ns) is paid once
# per block. XLA fuses each row's output with the steps before it in the block (it duplicates cheap
# elementwise producers), so a block of U epochs computes U (U + 1) / 2 steps: 4 was the best of
# 1, 2, 4, 6, 8 and 16 (16: 4x slower than no unrolling; docs/benchmarks.notes.md).
UNROLL = 4


# Epochs of a run from which it runs unrolled: the unrolled graph compiles slower (the seed's first
# xla call 0.85 s against 0.35-0.55 s, load 3), which a short run never wins back; 4,096 epochs
# save about 4096 * 50 ns = 0.2 s at the measured 80 -> 26 ns per epoch.
UNROLL_FROM = 4096


# Values of w (all configurations of a batch) up to which a chunk runs unrolled: past it, the steps
# XLA duplicates cost more than the iterations saved (a block computes 2.5 steps per epoch).
SMALL_W = 16


def unrolled_rows(
    w0: tf.Tensor,
    span: tf.Tensor,
    rows: tf.Tensor,
    schedule: tuple[tf.Tensor, ...],
    step: Callable[[tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]],
    unroll: int = UNROLL,
) -> tuple[tuple[tf.Tensor, tf.Tensor], tf.Tensor]:
    """Epochs ``span[0] .. span[0] + rows - 1``, each recorded (AutoGraph source; ``rows >= 1``).

    Args as :func:`~.compiled_loop.chunk_loop`'s. Returns ``((rows, lrs), last w)``: ``w`` and the
    loss packed as :func:`~.packing.pack` packs them without an lr, ``[rows, ..., size + 1]``, and
    the float64 lrs ``[rows, ...]``. Each row is packed in the loop, where its values are, so the
    buffer the loop writes is an output, as is the schedule vector.
    """
    blocks = (rows + unroll - 1) // unroll
    lrs = lr_vector(span[0], blocks * unroll, w0, schedule)  # [blocks * unroll, ...]
    lr_blocks = tf.reshape(lrs, tf.concat([[blocks, unroll], tf.shape(lrs)[1:]], 0))
    bits, width = layout(w0, lr=False)
    kept = tf.TensorArray(bits, size=blocks, element_shape=[unroll, *w0.shape[:-1], width])
    w = w0
    for block in tf.range(blocks):
        lr_block = lr_blocks[block]
        values = []
        for j in range(unroll):
            w, loss = step(w, lr_block[j])
            values.append(pack(w, loss))
        kept = kept.write(block, tf.stack(values))
    stacked = kept.stack()
    flat = tf.reshape(stacked, tf.concat([[blocks * unroll], tf.shape(stacked)[2:]], 0))[:rows]
    lr_rows = tf.broadcast_to(lrs, [blocks * unroll, *w0.shape[:-1]])[:rows]
    return (flat, lr_rows), unpack_w(flat[rows - 1, ..., : width - 1], w0.dtype)
