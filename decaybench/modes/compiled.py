"""Modes ``function``, ``graph`` and ``xla``: the seed's step compiled, and the whole loop compiled.

* ``function``: one ``tf.function`` per step, ``train_step(w, lr)``, with ``w`` a ``tf.Variable``
  and ``lr`` a tensor of ``w``'s dtype. It traces once per dtype and size, whatever the number
  of epochs or configurations (:func:`tracing_counts` reads the count).
* ``graph``: the whole loop in one ``tf.function``: AutoGraph turns the loops over ``tf.range``
  into ``tf.while_loop`` (see :func:`decaybench.modes.chunks.chunk_loop`), the recorded rows in
  ``TensorArray``s. The schedule is evaluated in the graph, in float64, by
  :func:`decaybench.schedule.tf_exponential_decay`. The configuration enters as tensors, so the
  loop traces once per dtype and size. A run is one call, or one per chunk when it is long or
  checkpointed (:mod:`decaybench.modes.chunks`: the split changes no bit).
* ``xla``: ``graph`` with ``jit_compile=True``. XLA needs the number of recorded rows at compile
  time, so it compiles once per (dtype, size, record_every, rows per chunk) and reuses that.

A run in one call is lean on the Python side: the concrete function is kept per (mode, dtype,
size), the input tensors per configuration, the rows come back as one packed output (one
read-back) and the ``Trace`` holds views of it (:func:`compiled_call` is that call alone).

:func:`xla_step` is one step of the ``xla`` loop, and :func:`fresh_runner` a runner
whose first call traces and compiles anew: both for ``decaybench.bench``. :func:`whole_loop`
also runs a batch of configurations at once (``decaybench.sweep``).

Each step computes ``loss = sum((w + 1)**2)`` and its gradient ``2 (w + 1)`` with a
``GradientTape`` and applies ``w - lr * g``, exactly the seed's operations.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import tensorflow as tf

from decaybench.checkpoint import CheckpointOptions
from decaybench.config import DecayConfig
from decaybench.modes.chunks import chunk_length, chunk_loop, run_chunked
from decaybench.modes.recording import Recorder, epochs, initial_w
from decaybench.schedule import from_columns, loop_columns
from decaybench.trace import Trace

__all__ = [
    "compiled_call",
    "fresh_runner",
    "loss_and_gradient",
    "plain_step",
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


def whole_loop(
    w0: tf.Tensor, lengths: tf.Tensor, integers: tf.Tensor, floats: tf.Tensor, every_epoch: bool | None = None
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """All epochs in one graph, for one configuration or a batch of them (AutoGraph source).

    Args:
        w0: ``[..., size]``: the starting ``w`` of each configuration.
        lengths: int64 ``[epochs, record_every]``, shared by the batch (XLA compiles for them).
        integers: int64 ``[..., 3]``: ``decay_steps``, ``staircase`` (0 or 1) and ``transition_begin``
            per configuration (:func:`decaybench.schedule.loop_columns`; two columns: no transition).
        floats: float64 ``[..., 3]``: ``initial_learning_rate``, ``decay_rate`` and ``end_value``
            (NaN for none) per configuration (two columns: no ``end_value``).
        every_epoch: whether ``record_every == 1``, when known at trace time (XLA, which compiles
            per ``record_every`` anyway, then traces and compiles one loop, not both); ``None``
            decides in the graph, so that a graph traces once for every ``record_every``.

    Returns ``w`` rows ``[rows, ..., size]``, losses and float64 lrs ``[rows, ...]``: the one chunk
    ``[0, epochs)`` of :func:`decaybench.modes.chunks.chunk_loop` with :func:`plain_step`.
    """
    epochs, record_every = lengths[0], lengths[1]
    last = epochs - 1
    rows = tf.cast(last // record_every + 1 + tf.cast(last % record_every != 0, tf.int64), tf.int32)
    if every_epoch is None:
        every_epoch = record_every == 1
    span = tf.stack([tf.zeros_like(epochs), epochs, record_every, last])
    w_rows, loss_rows, lr_rows, _ = chunk_loop(w0, span, rows, from_columns(integers, floats), plain_step, every_epoch)
    return w_rows, loss_rows, lr_rows


def _chunk(every_epoch: bool | None) -> Any:
    # A plain five-argument function: a concrete function of a functools.partial is called
    # through keyword binding, three times slower (measured).
    def chunk(w: tf.Tensor, span: tf.Tensor, rows: tf.Tensor, integers: tf.Tensor, floats: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        # (the rows packed by _packed, the last w)
        every = span[2] == 1 if every_epoch is None else every_epoch
        w_rows, loss_rows, lr_rows, last = chunk_loop(w, span, rows, from_columns(integers, floats), plain_step, every)
        return _packed(w_rows, loss_rows, lr_rows), last

    return chunk


def _packed(w_rows: tf.Tensor, loss_rows: tf.Tensor, lr_rows: tf.Tensor) -> tf.Tensor:
    """The rows as one ``[rows, size + 1 + k]`` tensor in ``w``'s dtype: ``w``, the loss, then the
    float64 lr's raw bits as ``k = 8 / itemsize`` words (a bitcast: no rounding). One output is
    one read-back; :func:`_unpacked` takes the columns apart as views."""
    words = 8 // w_rows.dtype.size
    lr_words = tf.reshape(tf.bitcast(lr_rows, w_rows.dtype), [-1, words])
    return tf.concat([w_rows, loss_rows[:, tf.newaxis], lr_words], axis=1)


def _unpacked(packed: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(w rows, losses, float64 lrs)``: views of :func:`_packed`'s columns, no copy.

    >>> rows = np.array([[1.5, 2.0, *np.array([0.2]).view(np.float32)]], np.float32)
    >>> [column.tolist() for column in _unpacked(rows, 1)]
    [[[1.5]], [2.0], [0.2]]
    """
    return packed[:, :size], packed[:, size], packed[:, size + 1 :].view(np.float64)[:, 0]


def _loop_functions(mode: str) -> dict[bool | None, Any]:
    """The ``tf.function``s of ``mode``'s chunks (:func:`decaybench.modes.chunks.chunk_loop`), keyed by ``every_epoch``.

    A graph decides between the loops in the graph, so it traces once per dtype and size. XLA
    compiles per chunk row count anyway, so each loop has its own function and a run traces and
    compiles one loop only.
    """
    if mode == "graph":
        return {None: tf.function(_chunk(None))}
    return {every: tf.function(_chunk(every), jit_compile=True) for every in (True, False)}


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


def _columns(config: DecayConfig) -> tuple[tf.Tensor, tf.Tensor]:
    integers, floats = loop_columns(config.schedule)
    return tf.constant(integers, tf.int64), tf.constant(floats, tf.float64)


def _concrete(loops: dict[bool | None, Any], dtype: str, size: int, every_epoch: bool) -> Any:
    loop = loops[None] if None in loops else loops[every_epoch]
    specs = [tf.TensorSpec([size], dtype), tf.TensorSpec([4], tf.int64), tf.TensorSpec([], tf.int32)]
    return loop.get_concrete_function(*specs, tf.TensorSpec([3], tf.int64), tf.TensorSpec([3], tf.float64))


@functools.cache
def _reused(mode: str, dtype: str, size: int, every_epoch: bool) -> Any:
    # Calling the concrete function skips matching the arguments to a trace, which takes more
    # than half of a seed run's call (measured); the tf.function keeps its tracing count.
    return _concrete(_LOOPS[mode], dtype, size, every_epoch)


# Input tensors are kept per configuration up to this size of w (a few KiB each).
_KEPT_SIZE = 1024


def _make_whole_inputs(config: DecayConfig) -> tuple[tf.Tensor, ...]:
    # Tensors from NumPy rather than eager ops: on the seed, each op costs about as much as the 40 steps.
    integers, floats = _columns(config)
    span = tf.constant((0, config.epochs, config.record_every, config.epochs - 1), tf.int64)
    return tf.constant(initial_w(config)), span, tf.constant(config.recorded_count, tf.int32), integers, floats


_kept_whole_inputs = functools.lru_cache(maxsize=256)(_make_whole_inputs)


def _whole_inputs(config: DecayConfig) -> tuple[tf.Tensor, ...]:
    """The inputs of a run in one call: made once per configuration and kept (small ``w`` only)."""
    return _kept_whole_inputs(config) if config.size <= _KEPT_SIZE else _make_whole_inputs(config)


def compiled_call(config: DecayConfig, mode: str) -> Any:
    """``() -> packed rows``: the one compiled call ``run(config, mode)`` makes (graph or xla), and
    its read-back, without the rest of ``run``: what ``decaybench.bench`` times as ``run``'s floor."""
    concrete = _reused(mode, config.dtype, config.size, config.record_every == 1)
    inputs = _whole_inputs(config)
    return lambda: concrete(*inputs)[0].numpy()


def _run_loop(
    config: DecayConfig, mode: str, loops: dict[bool | None, Any] | None = None, progress: bool | None = None, checkpoint: Any = None
) -> Trace:
    shape = (config.dtype, config.size, config.record_every == 1)
    concrete = _reused(mode, *shape) if loops is None else _concrete(loops, *shape)
    if checkpoint is None and config.epochs <= chunk_length(config, mode):
        # One call, its inputs kept, its rows read back as one array; the Trace holds views of it.
        w, loss, lr = _unpacked(concrete(*_whole_inputs(config))[0].numpy(), config.size)
        return Trace(epoch=config.recorded(), w=w, loss=loss, lr=lr, config=config, mode=mode)
    integers, floats = _columns(config)
    lengths = (config.record_every, config.epochs - 1)

    def chunk(w: Any, start: int, stop: int, rows: int) -> Any:
        span = tf.constant((start, stop, *lengths), tf.int64)
        packed, last = concrete(tf.constant(w) if isinstance(w, np.ndarray) else w, span, tf.constant(rows, tf.int32), integers, floats)
        return (*_unpacked(packed.numpy(), config.size), last)

    return run_chunked(config, mode, chunk, progress, checkpoint)


def run_graph(config: DecayConfig, progress: bool | None = None, *, checkpoint: CheckpointOptions | None = None) -> Trace:
    """The whole loop as one graph, called once per chunk (:mod:`decaybench.modes.chunks`)."""
    return _run_loop(config, "graph", progress=progress, checkpoint=checkpoint)


def run_xla(config: DecayConfig, progress: bool | None = None, *, checkpoint: CheckpointOptions | None = None) -> Trace:
    """The whole loop compiled by XLA (``jit_compile=True``), called once per chunk."""
    return _run_loop(config, "xla", progress=progress, checkpoint=checkpoint)


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
