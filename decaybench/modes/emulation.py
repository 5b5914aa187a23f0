"""Mode ``numpy``: the emulation of record, rounding every operation as TensorFlow does.

Per epoch, in ``w``'s dtype (``lr`` comes from the float64 reference, rounded once)::

    x = w + 1                  # tf.add
    loss = eigen_sum(x * x)    # tf.square, then tf.reduce_sum in Eigen's order
    g = 1 * (x * 2)            # the Square op's gradient, exact
    w = w - lr * g             # tf.multiply then assign_sub: two roundings

with FTZ/DAZ on every operation, as TensorFlow's CPU kernels run. ``order`` is how the update's
product is associated, as each mode's compiler leaves it (``ModeSpec.update_order``): the seed's
``lr * (x * 2)``; ``(lr * 2) * x`` where Grappler's ``MinimizeBroadcasts`` (function, graph) or XLA's
algebraic simplifier (``Mul(Mul(x, c), Broadcast(lr))`` to ``Mul(x, Broadcast(Mul(lr, c)))``) multiplies
the two scalars first, for ``size > 1``; ``(lr * x) * 2`` in graph's size-1 loop, where ``lr`` is ``[1]``
and ``MinimizeBroadcasts`` keeps the leaves' order. The three round alike (``x * 2`` and ``lr * 2`` are
exact) except where ``x * 2`` or ``lr * 2`` overflows, or ``lr * x`` rounds as a subnormal. In float16 and bfloat16 each
operation is computed in float32 under FTZ/DAZ and rounded once to the dtype
(:func:`decaybench.rounding.kernel`, whose docstring proves and measures it per operation), the
loss is summed as :func:`decaybench._reduction.eigen_sum` says for them, and ``lr`` is the float64
reference rounded to float32, then to the dtype (:func:`decaybench.rounding.from_float64`), as
TensorFlow casts and converts a Python float. The 16-bit dtypes have no fused or XLA-order model. ``fused=True`` rounds the
update once, ``w = fma(-lr, g, w)``, which is what XLA's CPU backend emits. ``sum_order="xla"``
sums the loss in the order XLA compiles it (:func:`decaybench._reduction.xla_sum_of_squares`,
whose loop of at most 32 squares ``fused`` contracts too). :func:`xla_model` is both, as this
CPU runs them: the ``xla`` mode equals it bit for bit (``tests/properties/test_xla_model.py``).

``shards=(b_0, ..., b_R)`` (``b_0 = 0``, ``b_R = size``) sums the loss per shard instead, each
``x[b_r:b_{r+1}]`` in Eigen's order, and adds the shard sums left to right:
``loss = (eigen_sum(s_0) + eigen_sum(s_1)) + ...``. With two shards that is the loss of the
``mirrored`` and ``multiworker`` modes bit for bit (``tests/test_distributed.py``); ``w`` is the
same as without shards.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

from decaybench._reduction import eigen_sum, xla_sum_of_squares
from decaybench.checkpoint import CheckpointOptions, Checkpoints, State
from decaybench.config import DecayConfig
from decaybench.modes import ORDERS, REGISTRY, SEED_ORDER, UpdateOrder
from decaybench.progress import epoch_bar
from decaybench.rounding import HALF_DTYPES, from_float64, fused_multiply_subtract, kernel
from decaybench.rounding import flush_subnormals as ftz
from decaybench.trace import Trace
from decaybench.xla_flags import xla_contracts

__all__ = ["emulate", "emulate_steps", "run_numpy", "xla_model"]

SumOrder = Literal["eigen", "xla"]


def emulate(
    config: DecayConfig,
    fused: bool = False,
    progress: bool | None = None,
    shards: Sequence[int] | None = None,
    checkpoints: Checkpoints | None = None,
    sum_order: SumOrder = "eigen",
    order: UpdateOrder = SEED_ORDER,
) -> Trace:
    """The seed's arithmetic in NumPy; ``fused`` applies the update with one rounding (XLA);
    ``shards`` sums the loss per shard (the distributed modes); ``checkpoints`` starts from
    their state and saves it when due (:mod:`decaybench.checkpoint`); ``sum_order`` is whose
    order the loss is summed in, Eigen's (``tf.reduce_sum``'s kernel) or XLA's; ``order`` is how
    the update's product is associated (module doc)."""
    bounds = _check_shards(shards, config.size)
    if sum_order not in ("eigen", "xla") or (sum_order == "xla" and bounds is not None):
        raise ValueError(f"sum_order must be 'eigen' or 'xla' (without shards), got {sum_order!r}")
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    dtype = np.dtype(config.dtype)
    recorded = config.recorded()
    lrs = config.schedule.lr(np.arange(config.epochs))
    state = checkpoints.start() if checkpoints is not None else State.initial(config)
    ws, losses = np.empty((len(recorded), config.size), dtype), np.empty(len(recorded), dtype)
    row = len(state.rows_lr)
    ws[:row], losses[:row], w = state.rows_w, state.rows_loss, state.w
    with np.errstate(over="ignore", invalid="ignore"), epoch_bar(config.epochs, progress, "numpy") as bar:
        bar.update(state.epoch)
        for epoch in range(state.epoch, config.epochs):
            w, loss = _step(w, ftz(from_float64(lrs[epoch], dtype)), fused, bounds, sum_order, order)
            if epoch == recorded[row]:
                ws[row], losses[row] = w, loss
                row += 1
            if checkpoints is not None and checkpoints.due(epoch + 1):
                checkpoints.save(State(epoch + 1, w, ws[:row], losses[:row], lrs[recorded[:row]]))
            bar.update()
    mode = "numpy" + ("-fused" if fused else "") + ("-sharded" if bounds is not None else "") + ("-xla-sum" if sum_order == "xla" else "")
    return Trace(epoch=recorded, w=ws, loss=losses, lr=lrs[recorded], config=config, mode=mode)


def xla_model(config: DecayConfig) -> Trace:
    """What mode ``xla`` computes here: :func:`emulate` in XLA's sum order, fused where XLA contracts
    (:func:`decaybench.xla_flags.xla_contracts`), in XLA's update order (``(lr*2)*x`` for ``size > 1``).

    float16 and bfloat16: the plain emulation in XLA's update order. XLA rounds each 16-bit operation
    to the dtype (no contraction: w is bit for bit that update in every run measured), but its order of
    summing more than one 16-bit square is not modelled: the loss of ``size > 1`` is held to the bound only.
    """
    order = REGISTRY["xla"].order_at(config.size, config.dtype)
    if config.dtype in HALF_DTYPES:
        return emulate(config, order=order)
    return emulate(config, fused=xla_contracts(), sum_order="xla", order=order)


def _step(
    w: np.ndarray,
    lr: np.ndarray,
    fused: bool,
    bounds: tuple[int, ...] | None,
    sum_order: SumOrder = "eigen",
    order: UpdateOrder = SEED_ORDER,
) -> tuple[np.ndarray, np.ndarray]:
    """One update, as the module doc writes it: ``(w after it, the loss before it)``."""
    if w.dtype.itemsize < 4:
        if fused or sum_order != "eigen":
            raise ValueError(f"the {w.dtype} emulation has no fused or XLA-order model")
        return _half_step(w, lr, bounds, order)
    x = ftz(ftz(w) + w.dtype.type(1))
    if sum_order == "xla":
        loss = ftz(xla_sum_of_squares(x, fused))
    else:
        loss = ftz(eigen_sum(ftz(x * x))) if bounds is None else _sharded_sum(ftz(x * x), bounds)
    a, b = _factors(lr, x, order, lambda p, q: ftz(p * q))
    return ftz(fused_multiply_subtract(w, a, b) if fused else ftz(w) - ftz(a * b)), loss


def _factors(lr: np.ndarray, x: np.ndarray, order: UpdateOrder, multiply: Callable[[Any, Any], np.ndarray]) -> tuple[Any, Any]:
    """The last product's two factors in ``order``: ``(lr, x*2)``, ``(lr*x, 2)`` or ``(lr*2, x)``,
    each inner product rounded by ``multiply`` (the dtype's kernel); the ``1 *`` of the gradient is exact."""
    two = x.dtype.type(2)
    if order == "(lr*x)*2":
        return multiply(lr, x), two
    if order == "(lr*2)*x":
        return multiply(lr, two), x
    return lr, multiply(x, two)


def _half_step(w: np.ndarray, lr: np.ndarray, bounds: tuple[int, ...] | None, order: UpdateOrder) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_step` in float16 or bfloat16: each operation in float32, rounded once (module doc)."""
    x = kernel(np.add, w, 1)
    squares = kernel(np.multiply, x, x)
    loss = eigen_sum(squares) if bounds is None else _sharded_sum(squares, bounds)
    a, b = _factors(lr, x, order, lambda p, q: kernel(np.multiply, p, q))
    return kernel(np.subtract, w, kernel(np.multiply, a, b)), np.asarray(loss)


def emulate_steps(config: DecayConfig, step_lrs: np.ndarray, fused: bool = False) -> Trace:
    """Several updates per epoch (``model.fit`` with ``steps_per_epoch`` batches of one sample).

    ``step_lrs`` ``[epochs, S]`` holds the float64 lr of each epoch's S steps; a row records the
    loss before the epoch's first step, w after its last, and the lr of its first step.
    """
    dtype = np.dtype(config.dtype)
    recorded, keep = config.recorded(), set(config.recorded().tolist())
    w, ws, losses = np.full(config.size, np.asarray(config.w0, dtype=dtype)), [], []
    with np.errstate(over="ignore", invalid="ignore"):
        for epoch, lrs in enumerate(np.asarray(step_lrs, dtype=np.float64)):
            first = None
            for lr64 in lrs:
                w, loss = _step(w, ftz(from_float64(lr64, dtype)), fused, None)
                first = loss if first is None else first
            if epoch in keep:
                ws.append(w)
                losses.append(first)
    lr = np.asarray(step_lrs, dtype=np.float64)[recorded, 0]
    return Trace(epoch=recorded, w=np.stack(ws), loss=np.asarray(losses, dtype), lr=lr, config=config, mode="numpy-steps")


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


def run_numpy(config: DecayConfig, progress: bool | None = None, *, checkpoint: CheckpointOptions | None = None) -> Trace:
    """The emulation of record (two roundings per update, as TensorFlow's kernels); ``checkpoint`` in ``state.npz``."""
    return emulate(config, progress=progress, checkpoints=checkpoint.open(config, "numpy") if checkpoint is not None else None)
