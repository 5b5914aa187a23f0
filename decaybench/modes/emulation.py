"""Mode ``numpy``: the emulation of record, rounding every operation as TensorFlow does.

Per epoch, in ``w``'s dtype (``lr`` comes from the float64 reference, rounded once)::

    x = w + 1                  # tf.add
    loss = eigen_sum(x * x)    # tf.square, then tf.reduce_sum in Eigen's order
    g = 1 * (x * 2)            # the Square op's gradient, exact
    w = w - lr * g             # tf.multiply then assign_sub: two roundings

with FTZ/DAZ on every operation, as TensorFlow's CPU kernels run. ``fused=True`` rounds the
update once, ``w = fma(-lr, g, w)``, which is what XLA's CPU backend emits; the ``xla`` mode
equals that variant bit for bit (``tests/test_emulation.py``).

``shards=(b_0, ..., b_R)`` (``b_0 = 0``, ``b_R = size``) sums the loss per shard instead, each
``x[b_r:b_{r+1}]`` in Eigen's order, and adds the shard sums left to right:
``loss = (eigen_sum(s_0) + eigen_sum(s_1)) + ...``. With two shards that is the loss of the
``mirrored`` and ``multiworker`` modes bit for bit (``tests/test_distributed.py``); ``w`` is the
same as without shards.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from decaybench._reduction import eigen_sum
from decaybench.config import DecayConfig
from decaybench.progress import epoch_bar
from decaybench.rounding import flush_subnormals as ftz
from decaybench.rounding import fused_multiply_subtract
from decaybench.schedule import exponential_decay
from decaybench.trace import Trace

__all__ = ["emulate", "run_numpy"]


def emulate(config: DecayConfig, fused: bool = False, progress: bool | None = None, shards: Sequence[int] | None = None) -> Trace:
    """The seed's arithmetic in NumPy; ``fused`` applies the update with one rounding (XLA);
    ``shards`` sums the loss per shard (the distributed modes)."""
    bounds = _check_shards(shards, config.size)
    dtype = np.dtype(config.dtype)
    one, two = dtype.type(1), dtype.type(2)
    recorded = config.recorded()
    lrs = exponential_decay(np.arange(config.epochs), config.initial_learning_rate, config.decay_steps, config.decay_rate, config.staircase)
    w = np.full(config.size, np.asarray(config.w0, dtype=dtype))
    ws, losses = np.empty((len(recorded), config.size), dtype), np.empty(len(recorded), dtype)
    row = 0
    with np.errstate(over="ignore", invalid="ignore"), epoch_bar(config.epochs, progress, "numpy") as bar:
        for epoch, lr64 in enumerate(lrs):
            lr = ftz(np.asarray(lr64, dtype=dtype))
            x = ftz(ftz(w) + one)
            loss = ftz(eigen_sum(ftz(x * x))) if bounds is None else _sharded_sum(ftz(x * x), bounds)
            g = ftz(x * two)
            w = ftz(fused_multiply_subtract(w, lr, g) if fused else ftz(w) - ftz(lr * g))
            if epoch == recorded[row]:
                ws[row], losses[row] = w, loss
                row += 1
            bar.update()
    mode = "numpy" + ("-fused" if fused else "") + ("-sharded" if bounds is not None else "")
    return Trace(epoch=recorded, w=ws, loss=losses, lr=lrs[recorded], config=config, mode=mode)


def _check_shards(shards: Sequence[int] | None, size: int) -> tuple[int, ...] | None:
    if shards is None:
        return None
    bounds = tuple(int(b) for b in shards)
    if len(bounds) < 2 or bounds[0] != 0 or bounds[-1] != size or any(b > c for b, c in itertools.pairwise(bounds)):
        raise ValueError(f"shards must rise from 0 to size={size}, got {tuple(shards)}")
    return bounds


def _sharded_sum(squares: np.ndarray, bounds: tuple[int, ...]) -> np.ndarray:
    """Each shard summed in Eigen's order (an empty one is 0), the sums added left to right."""
    sums = [ftz(np.asarray(eigen_sum(squares[begin:end]))) for begin, end in itertools.pairwise(bounds)]
    total = sums[0]
    for shard_sum in sums[1:]:
        total = ftz(total + shard_sum)
    return total


def run_numpy(config: DecayConfig, progress: bool | None = None) -> Trace:
    """The emulation of record (two roundings per update, as TensorFlow's kernels)."""
    return emulate(config, progress=progress)
