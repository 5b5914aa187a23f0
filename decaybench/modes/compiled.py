"""Modes ``function``, ``graph`` and ``xla``: the seed's step compiled, and the whole loop compiled.

* ``function``: one ``tf.function`` per step, ``train_step(w, lr)``, with ``w`` a ``tf.Variable``
  and ``lr`` a tensor of ``w``'s dtype. It traces once per dtype and size, whatever the number
  of epochs or configurations (:func:`tracing_counts` reads the count).
* ``graph``: the whole loop in one ``tf.function``: AutoGraph turns the loops over ``tf.range``
  into ``tf.while_loop`` (see :func:`whole_loop`), the recorded rows in ``TensorArray``s. The schedule is
  evaluated in the graph, in float64, by :func:`decaybench.schedule.tf_exponential_decay`.
  The configuration enters as tensors, so the loop traces once per dtype and size.
* ``xla``: ``graph`` with ``jit_compile=True``. XLA needs the number of recorded rows at compile
  time, so it compiles once per (dtype, size, epochs, record_every) and reuses that.

:func:`xla_step` is one step of the ``xla`` loop, and :func:`fresh_runner` a runner
whose first call traces and compiles anew: both for ``decaybench.bench``. :func:`whole_loop`
also runs a batch of configurations at once (``decaybench.sweep``).

Each step computes ``loss = sum((w + 1)**2)`` and its gradient ``2 (w + 1)`` with a
``GradientTape`` and applies ``w - lr * g``, exactly the seed's operations.
"""

from __future__ import annotations

import functools
from typing import Any

import tensorflow as tf

from decaybench.config import DecayConfig
from decaybench.modes.recording import Recorder, epochs, initial_w
from decaybench.schedule import exponential_decay, tf_exponential_decay
from decaybench.trace import Trace

__all__ = [
    "fresh_runner",
    "loss_and_gradient",
    "run_function",
    "run_graph",
    "run_xla",
    "tracing_counts",
    "train_step",
    "whole_loop",
    "xla_step",
    "xla_sweep_loop",
]


@tf.function
def train_step(w: tf.Variable, lr: tf.Tensor) -> tf.Tensor:
    """One epoch of the seed on the variable ``w``; returns the loss before the update."""
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(w + 1))
    w.assign_sub(lr * tape.gradient(loss, w))
    return loss


def run_function(config: DecayConfig, progress: bool | None = None, step: Any = None) -> Trace:
    """The seed's loop in Python, each epoch one call of the compiled :func:`train_step` (or ``step``)."""
    w = tf.Variable(initial_w(config))
    # The concrete function: a tf.function call spends most of a small step matching its arguments.
    step = (step if step is not None else train_step).get_concrete_function(w, tf.TensorSpec([], config.dtype))
    record = Recorder(config)
    for epoch in epochs(config, progress, "function"):
        lr = exponential_decay(epoch, config.initial_learning_rate, config.decay_steps, config.decay_rate, config.staircase)
        loss = step(w, tf.constant(lr, config.dtype))
        if record.wants(epoch):
            record.add(w.numpy(), loss.numpy(), lr)
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


def whole_loop(
    w0: tf.Tensor, lengths: tf.Tensor, integers: tf.Tensor, floats: tf.Tensor, every_epoch: bool | None = None
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """All epochs in one graph, for one configuration or a batch of them (AutoGraph source).

    Args:
        w0: ``[..., size]``: the starting ``w`` of each configuration.
        lengths: int64 ``[epochs, record_every]``, shared by the batch (XLA compiles for them).
        integers: int64 ``[..., 2]``: ``decay_steps`` and ``staircase`` (0 or 1) per configuration.
        floats: float64 ``[..., 2]``: ``initial_learning_rate`` and ``decay_rate`` per configuration.
        every_epoch: whether ``record_every == 1``, when known at trace time (XLA, which compiles
            per ``record_every`` anyway, then traces and compiles one loop, not both); ``None``
            decides in the graph, so that a graph traces once for every ``record_every``.

    Returns ``w`` rows ``[rows, ..., size]``, losses and float64 lrs ``[rows, ...]``.

    AutoGraph turns the ``for`` over ``tf.range`` and the ``while`` over tensors into
    ``tf.while_loop``s and the ``if`` on a tensor into ``tf.cond``. Recording every epoch is one
    loop whose every step writes its row. Recording every K-th epoch is an outer loop over rows
    and an inner loop over the epochs up to each row's epoch, so memory is O(rows) and no step
    pays for a condition or a write it does not need. They are the same steps; the single loop
    matters because a graph's while loop pays per iteration for each loop variable, and two
    nested loops pay twice.
    """
    epochs, record_every = lengths[0], lengths[1]
    schedule = (floats[..., 0], integers[..., 0], floats[..., 1], integers[..., 1] != 0)
    last = epochs - 1
    rows = tf.cast(last // record_every + 1 + tf.cast(last % record_every != 0, tf.int64), tf.int32)
    w_rows = tf.TensorArray(w0.dtype, size=rows, element_shape=w0.shape)
    loss_rows = tf.TensorArray(w0.dtype, size=rows, element_shape=w0.shape[:-1])
    lr_rows = tf.TensorArray(tf.float64, size=rows, element_shape=w0.shape[:-1])
    w = w0
    loss = tf.zeros(tf.shape(w0)[:-1], w0.dtype)
    lr = tf.zeros(tf.shape(w0)[:-1], tf.float64)
    epoch = tf.constant(0, tf.int64)
    if every_epoch is None:
        every_epoch = record_every == 1
    if every_epoch:
        for epoch in tf.range(epochs):
            lr = tf_exponential_decay(epoch, *schedule)
            loss, gradient = loss_and_gradient(w)
            w = w - tf.cast(lr, w0.dtype)[..., tf.newaxis] * gradient
            row = tf.cast(epoch, tf.int32)
            w_rows = w_rows.write(row, w)
            loss_rows = loss_rows.write(row, loss)
            lr_rows = lr_rows.write(row, lr)
    else:
        for row in tf.range(rows):
            target = tf.minimum(tf.cast(row, tf.int64) * record_every, last)
            while epoch <= target:
                lr = tf_exponential_decay(epoch, *schedule)
                loss, gradient = loss_and_gradient(w)
                w = w - tf.cast(lr, w0.dtype)[..., tf.newaxis] * gradient
                epoch += 1
            w_rows = w_rows.write(row, w)
            loss_rows = loss_rows.write(row, loss)
            lr_rows = lr_rows.write(row, lr)
    return w_rows.stack(), loss_rows.stack(), lr_rows.stack()


def _loop_functions(mode: str) -> dict[bool | None, Any]:
    """The ``tf.function``s of ``mode``, keyed by ``every_epoch``.

    A graph decides between the loops in the graph, so it traces once per dtype and size. XLA
    compiles per ``record_every`` anyway, so each loop has its own function and a run traces and
    compiles one loop only.
    """
    if mode == "graph":
        return {None: tf.function(whole_loop)}
    return {every: tf.function(_fixed(every), jit_compile=True) for every in (True, False)}


def _fixed(every_epoch: bool) -> Any:
    # A plain four-argument function: a concrete function of a functools.partial is called
    # through keyword binding, three times slower (measured).
    def loop(w0: tf.Tensor, lengths: tf.Tensor, integers: tf.Tensor, floats: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        return whole_loop(w0, lengths, integers, floats, every_epoch)

    return loop


_LOOPS = {mode: _loop_functions(mode) for mode in ("graph", "xla")}


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


# The xla loop for a batch of configurations (decaybench.sweep); its own function, so that
# sweeps leave the tracing counts of mode xla alone.
xla_sweep_loop = tf.function(whole_loop, jit_compile=True)


def _loop_inputs(config: DecayConfig) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
    # Four tensors from NumPy rather than seven eager ops: on the seed, each op costs about as
    # much as the 40 steps, and tf.fill costs ten times a tf.constant.
    return (
        tf.constant(initial_w(config)),
        tf.constant([config.epochs, config.record_every], tf.int64),
        tf.constant([config.decay_steps, int(config.staircase)], tf.int64),
        tf.constant([config.initial_learning_rate, config.decay_rate], tf.float64),
    )


def _concrete(loops: dict[bool | None, Any], dtype: str, size: int, every_epoch: bool) -> Any:
    loop = loops[None] if None in loops else loops[every_epoch]
    specs = [tf.TensorSpec([size], dtype), tf.TensorSpec([2], tf.int64), tf.TensorSpec([2], tf.int64), tf.TensorSpec([2], tf.float64)]
    return loop.get_concrete_function(*specs)


@functools.cache
def _reused(mode: str, dtype: str, size: int, every_epoch: bool) -> Any:
    # Calling the concrete function skips matching the arguments to a trace, which takes more
    # than half of a seed run's call (measured); the tf.function keeps its tracing count.
    return _concrete(_LOOPS[mode], dtype, size, every_epoch)


def _run_loop(config: DecayConfig, mode: str, loops: dict[bool | None, Any] | None = None) -> Trace:
    shape = (config.dtype, config.size, config.record_every == 1)
    concrete = _reused(mode, *shape) if loops is None else _concrete(loops, *shape)
    w, loss, lr = concrete(*_loop_inputs(config))
    return Trace(epoch=config.recorded(), w=w.numpy(), loss=loss.numpy(), lr=lr.numpy(), config=config, mode=mode)


def run_graph(config: DecayConfig, progress: bool | None = None) -> Trace:
    """The whole loop as one graph, returned by one call (no progress: it is one call)."""
    return _run_loop(config, "graph")


def run_xla(config: DecayConfig, progress: bool | None = None) -> Trace:
    """The whole loop compiled by XLA (``jit_compile=True``); one call, so no progress."""
    return _run_loop(config, "xla")


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
    loops = _loop_functions(mode)
    return lambda config: _run_loop(config, mode, loops)


def tracing_counts() -> dict[str, int]:
    """How many times each compiled function has been traced in this process."""
    return {
        "function": train_step.experimental_get_tracing_count(),
        **{mode: sum(loop.experimental_get_tracing_count() for loop in loops.values()) for mode, loops in _LOOPS.items()},
    }
