"""Modes ``function``, ``graph`` and ``xla``: the seed's step compiled, and the whole loop compiled.

* ``function``: one ``tf.function`` per step, ``train_step(w, lr)``, with ``w`` a ``tf.Variable``
  and ``lr`` a tensor of ``w``'s dtype. It traces once per dtype and size, whatever the number
  of epochs or configurations (:func:`tracing_counts` reads the count).
* ``graph``: the whole loop in one ``tf.function``: AutoGraph turns ``for``/``while`` over
  tensors into ``tf.while_loop`` and the recorded rows go into ``TensorArray``s. The schedule is
  evaluated in the graph, in float64, by :func:`decaybench.schedule.tf_exponential_decay`.
  The configuration enters as tensors, so the loop traces once per dtype and size.
* ``xla``: ``graph`` with ``jit_compile=True``. XLA needs the number of recorded rows at compile
  time, so it compiles once per (dtype, size, epochs, record_every) and reuses that.

Each step computes ``loss = sum((w + 1)**2)`` and its gradient ``2 (w + 1)`` with a
``GradientTape`` and applies ``w - lr * g``, exactly the seed's operations.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from decaybench.config import DecayConfig
from decaybench.progress import epoch_bar
from decaybench.schedule import exponential_decay, tf_exponential_decay
from decaybench.trace import Trace

__all__ = ["run_function", "run_graph", "run_xla", "tracing_counts"]


@tf.function
def train_step(w: tf.Variable, lr: tf.Tensor) -> tf.Tensor:
    """One epoch of the seed on the variable ``w``; returns the loss before the update."""
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(w + 1))
    w.assign_sub(lr * tape.gradient(loss, w))
    return loss


def run_function(config: DecayConfig, progress: bool | None = None) -> Trace:
    """The seed's loop in Python, each epoch one call of the compiled :func:`train_step`."""
    w = tf.Variable(tf.fill([config.size], tf.constant(config.w0, config.dtype)))
    recorded = config.recorded()
    keep = set(recorded.tolist())
    ws, losses, lrs = [], [], []
    with epoch_bar(config.epochs, progress, "function") as bar:
        for epoch in range(config.epochs):
            lr = exponential_decay(epoch, config.initial_learning_rate, config.decay_steps, config.decay_rate, config.staircase)
            loss = train_step(w, tf.constant(lr, config.dtype))
            if epoch in keep:
                ws.append(w.numpy())
                losses.append(loss.numpy())
                lrs.append(lr)
            bar.update()
    return Trace(epoch=recorded, w=np.stack(ws), loss=np.stack(losses), lr=np.asarray(lrs), config=config, mode="function")


def _loss_and_gradient(w: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    with tf.GradientTape() as tape:
        tape.watch(w)
        loss = tf.reduce_sum(tf.square(w + 1))
    return loss, tape.gradient(loss, w)


def _whole_loop(
    w0: tf.Tensor,
    epochs: tf.Tensor,
    record_every: tf.Tensor,
    initial_learning_rate: tf.Tensor,
    decay_steps: tf.Tensor,
    decay_rate: tf.Tensor,
    staircase: tf.Tensor,
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """All epochs in one graph; rows are written only at the recorded epochs.

    The outer loop runs over recorded rows, the inner loop over the epochs up to each row's
    epoch, so memory is O(rows) and no step pays for a condition or a write it does not need.
    """
    last = epochs - 1
    rows = tf.cast(last // record_every + 1 + tf.cast(last % record_every != 0, tf.int64), tf.int32)
    w_rows = tf.TensorArray(w0.dtype, size=rows, element_shape=w0.shape)
    loss_rows = tf.TensorArray(w0.dtype, size=rows, element_shape=[])
    lr_rows = tf.TensorArray(tf.float64, size=rows, element_shape=[])
    w = w0
    epoch = tf.constant(0, tf.int64)
    loss = tf.zeros([], w0.dtype)
    lr = tf.zeros([], tf.float64)
    for row in tf.range(rows):
        target = tf.minimum(tf.cast(row, tf.int64) * record_every, last)
        while epoch <= target:
            lr = tf_exponential_decay(epoch, initial_learning_rate, decay_steps, decay_rate, staircase)
            loss, gradient = _loss_and_gradient(w)
            w = w - tf.cast(lr, w0.dtype) * gradient
            epoch += 1
        w_rows = w_rows.write(row, w)
        loss_rows = loss_rows.write(row, loss)
        lr_rows = lr_rows.write(row, lr)
    return w_rows.stack(), loss_rows.stack(), lr_rows.stack()


_GRAPH_LOOP = tf.function(_whole_loop)
_XLA_LOOP = tf.function(_whole_loop, jit_compile=True)


def _loop_inputs(config: DecayConfig) -> dict[str, Any]:
    return {
        "w0": tf.fill([config.size], tf.constant(config.w0, config.dtype)),
        "epochs": tf.constant(config.epochs, tf.int64),
        "record_every": tf.constant(config.record_every, tf.int64),
        "initial_learning_rate": tf.constant(config.initial_learning_rate, tf.float64),
        "decay_steps": tf.constant(config.decay_steps, tf.int64),
        "decay_rate": tf.constant(config.decay_rate, tf.float64),
        "staircase": tf.constant(config.staircase),
    }


def _run_loop(loop: Any, config: DecayConfig, mode: str) -> Trace:
    w, loss, lr = loop(**_loop_inputs(config))
    return Trace(epoch=config.recorded(), w=w.numpy(), loss=loss.numpy(), lr=lr.numpy(), config=config, mode=mode)


def run_graph(config: DecayConfig, progress: bool | None = None) -> Trace:
    """The whole loop as one graph, returned by one call (no progress: it is one call)."""
    return _run_loop(_GRAPH_LOOP, config, "graph")


def run_xla(config: DecayConfig, progress: bool | None = None) -> Trace:
    """The whole loop compiled by XLA (``jit_compile=True``); one call, so no progress."""
    return _run_loop(_XLA_LOOP, config, "xla")


def tracing_counts() -> dict[str, int]:
    """How many times each compiled function has been traced in this process."""
    return {
        "function": train_step.experimental_get_tracing_count(),
        "graph": _GRAPH_LOOP.experimental_get_tracing_count(),
        "xla": _XLA_LOOP.experimental_get_tracing_count(),
    }
