"""Modes ``function``, ``graph`` and ``xla``: the seed's step compiled, and the whole loop compiled.

* ``function``: one ``tf.function`` per step, ``train_step(w, lr)``, with ``w`` a ``tf.Variable``
  and ``lr`` a tensor of ``w``'s dtype. It traces once per dtype and size, whatever the number
  of epochs or configurations (:func:`tracing_counts` reads the count).
* ``graph``: the whole loop in one ``tf.function``, built as ``tf.while_loop`` ops
  (:func:`decaybench.modes._scaffold.compiled_loop.chunk_loop` with :func:`plain_step`), the
  recorded rows in ``TensorArray``s. The schedule is evaluated in the graph, in float64, by
  :func:`decaybench.schedule.tf_exponential_decay`. The configuration enters as tensors, so the
  loop traces once per dtype and size. A run is one call, or one per chunk when it is long or
  checkpointed (:mod:`decaybench.modes._scaffold.chunks`: the split changes no bit).
* ``xla``: ``graph`` with ``jit_compile=True``. XLA needs the number of recorded rows at compile
  time, so it compiles once per (dtype, size, record_every, rows per chunk) and reuses that.

A run in one call is lean on the Python side: the concrete function is kept per (dtype, size),
the input tensors per configuration, the rows come back as one packed output (a long run's
lrs as a second), read back without a copy, and the ``Trace`` holds read-only views of them
(:func:`compiled_call` is that call alone).

:func:`xla_step` is one step of the ``xla`` loop, and :func:`fresh_runner` a runner
whose first call traces and compiles anew: both for ``decaybench.bench``. The ``xla`` loop
also runs a batch of configurations at once (:mod:`decaybench.sweep_loops`).

Each step computes ``loss = sum((w + 1)**2)`` and its gradient ``2 (w + 1)`` with a
``GradientTape`` and applies ``w - lr * g``, exactly the seed's operations.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from decaybench.checkpoint import CheckpointOptions
from decaybench.config import DecayConfig
from decaybench.modes._scaffold.compiled_loop import CompiledLoop
from decaybench.modes._scaffold.recording import Recorder, epochs
from decaybench.trace import Trace

__all__ = [
    "GRAPH",
    "XLA",
    "compiled_call",
    "fresh_runner",
    "loss_and_gradient",
    "plain_step",
    "run_function",
    "run_graph",
    "run_xla",
    "tracing_counts",
    "train_step",
    "xla_step",
]


@tf.function
def train_step(w: tf.Variable, lr: tf.Tensor) -> tf.Tensor:
    """One epoch of the seed on the variable ``w``; returns the loss before the update."""
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(w + 1))
    w.assign_sub(lr * tape.gradient(loss, w))
    return loss


def run_function(
    config: DecayConfig, progress: bool | None = None, step: Any = None, *, checkpoint: CheckpointOptions | None = None
) -> Trace:
    """The seed's loop in Python, each epoch one call of the compiled :func:`train_step` (or ``step``)."""
    record = Recorder(config, checkpoint.open(config, "function") if checkpoint is not None else None)
    w = tf.Variable(record.w0)
    # The concrete function: a tf.function call spends most of a small step matching its arguments.
    step = (step if step is not None else train_step).get_concrete_function(w, tf.TensorSpec([], config.dtype))
    for epoch in epochs(config, progress, "function", record.start):
        lr = config.schedule.lr(epoch)
        loss = step(w, tf.constant(lr, config.dtype))
        if record.wants(epoch):
            record.add(w.numpy(), loss.numpy(), lr)
        record.finished(epoch, w.numpy)
    return record.trace("function")


def loss_and_gradient(w: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """``sum((w + 1)**2)`` over the last axis and its gradient ``2 (w + 1)``, by ``GradientTape``.

    ``w`` is ``[size]`` for one run or ``[configs, size]`` for a sweep: each row's loss depends
    on that row alone, so the gradient of the summed losses is each row's own gradient.
    """
    with tf.GradientTape() as tape:
        tape.watch(w)
        loss = tf.reduce_sum(tf.square(w + 1), axis=-1)
    return loss, tape.gradient(loss, w)


def plain_step(w: tf.Tensor, lr: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """The seed's epoch on ``w`` ``[..., size]`` with the float64 ``lr`` ``[...]``: ``(w - lr * g, loss)``."""
    loss, gradient = loss_and_gradient(w)
    return w - tf.cast(lr, w.dtype)[..., tf.newaxis] * gradient, loss


GRAPH = CompiledLoop(plain_step, in_graph=True)
"""The ``graph`` loop: it decides between recording every epoch or every K-th in the graph, so it
traces once per dtype and size."""
XLA = CompiledLoop(plain_step, jit_compile=True)
"""The ``xla`` loop: XLA compiles per row count anyway, so each way of recording has its own
function and a run traces and compiles one only."""
_LOOPS = {"graph": GRAPH, "xla": XLA}


@tf.function(jit_compile=True, autograph=False)
def xla_step(w: tf.Tensor, lr: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """One epoch of the ``xla`` loop on its own: ``(w after the update, loss before it)``.

    The loop's step exactly (``lr`` already in ``w``'s dtype), so that a single step of a large
    ``w`` can be timed (``decaybench.bench``). Like the loop, it carries ``w`` as a value: a step
    on a ``tf.Variable`` makes XLA copy the variable first (measured: 25 ms against 19 ms for 1e7
    float32 values).
    """
    loss, gradient = loss_and_gradient(w)
    return w - lr * gradient, loss


def compiled_call(config: DecayConfig, mode: str) -> Any:
    """``() -> packed rows``: the one compiled call ``run(config, mode)`` makes (graph or xla), and
    its read-back, without the rest of ``run``: what ``decaybench.bench`` times as ``run``'s floor."""
    return _LOOPS[mode].call(config)


def run_graph(config: DecayConfig, progress: bool | None = None, *, checkpoint: CheckpointOptions | None = None) -> Trace:
    """The whole loop as one graph, called once per chunk (:mod:`decaybench.modes._scaffold.chunks`)."""
    return GRAPH.run(config, "graph", progress, checkpoint)


def run_xla(config: DecayConfig, progress: bool | None = None, *, checkpoint: CheckpointOptions | None = None) -> Trace:
    """The whole loop compiled by XLA (``jit_compile=True``), called once per chunk."""
    return XLA.run(config, "xla", progress, checkpoint)


def fresh_runner(mode: str) -> Any:
    """A runner for ``mode`` (function, graph or xla) with its own new, untraced ``tf.function``.

    Its first call pays what a process's first ``run(config, mode)`` pays for tracing and
    compiling, without touching the functions ``run`` reuses: ``decaybench.bench`` times it.
    """
    if mode == "function":
        step = tf.function(train_step.python_function)
        return lambda config: run_function(config, False, step)
    if mode not in ("graph", "xla"):
        raise ValueError(f"mode must be one of function, graph, xla, got {mode!r}")
    loop = _LOOPS[mode].sibling()
    return lambda config: loop.run(config, mode)


def tracing_counts() -> dict[str, int]:
    """How many times each compiled function has been traced in this process."""
    return {
        "function": train_step.experimental_get_tracing_count(),
        **{mode: loop.tracing_count() for mode, loop in _LOOPS.items()},
    }
