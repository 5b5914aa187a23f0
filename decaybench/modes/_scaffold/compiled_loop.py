r"""The one compiled loop of ``graph``, ``xla``, ``xla-exact`` and the sweeps, built from a mode's step.

A mode gives its epoch as a step, ``step(w, lr, *inputs) -> (w after the update, loss before it)``
with ``lr`` the float64 schedule, and :class:`CompiledLoop` compiles :func:`chunk_loop` around it::

    for epoch in range(start, stop):                   # a chunk of the run (.chunks)
        lr = tf_exponential_decay(epoch, *schedule)
        w, loss = step(w, lr, *inputs)
        kept = keep.write(kept, row, epoch, w, loss, lr)  # at each recorded epoch

What it keeps is a :class:`Keep`: :data:`ROWS`, the recorded epochs' rows, or a grid's metrics
(:mod:`decaybench.sweep_loops`). ``inputs`` are tensors the step needs as inputs of the compiled
function, not as constants (``xla-exact``'s opaque one and its sum's map). A chunk's function is
``(w, span, rows, integers, floats, *inputs) -> (kept, last w)``: ``span`` is int64 ``[start,
stop, record_every, last epoch]``, ``rows`` the recorded epochs in the chunk
(:meth:`~decaybench.config.DecayConfig.recorded_before`), ``integers`` and ``floats`` the
schedule (:func:`~decaybench.schedule.loop_columns`). All are tensors, so a loop traces once per
dtype and size; ``rows`` sizes the row buffers, which XLA needs at compile time: XLA compiles
once per row count.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from decaybench.checkpoint import CheckpointOptions
from decaybench.compile_cache import from_environment
from decaybench.config import DecayConfig
from decaybench.modes._scaffold.chunks import chunk_length, run_chunked, step_cost
from decaybench.modes._scaffold.packing import pack
from decaybench.modes._scaffold.recording import initial_w
from decaybench.modes._scaffold.scheduled import scheduled_rows
from decaybench.modes._scaffold.unrolled import SMALL_W, UNROLL_FROM, unrolled_rows
from decaybench.schedule import from_columns, loop_columns, tf_exponential_decay
from decaybench.trace import Trace

__all__ = ["ROWS", "CompiledLoop", "Keep", "chunk_loop", "unpacked"]

# (w, float64 lr, *inputs) -> (w after the update, loss before it)
Step = Callable[..., tuple[tf.Tensor, tf.Tensor]]
# (size, dtype) -> the step's input tensors
Inputs = Callable[[int, str], tuple[tf.Tensor, ...]]

# TensorFlow reads TF_XLA_FLAGS at its first op: $DECAYBENCH_COMPILE_CACHE applies if none ran before this import.
from_environment()

# Input tensors are kept per configuration up to this size of w (a few KiB each).
_KEPT_SIZE = 1024


@dataclass(frozen=True)
class Keep:
    """What a loop keeps of its epochs, in the graph.

    Attributes:
        start: ``(w0, rows) -> kept``, before the chunk's first epoch.
        write: ``(kept, row, epoch, w, loss, lr, *inputs) -> kept`` after each recorded epoch
            (every epoch when ``record_every == 1``); ``row`` counts them from 0 in the chunk.
        finish: ``(kept, rows, loss) -> outputs`` after the chunk's last epoch.
        inputs: how many of the chunk's last inputs are ``write``'s; the step takes the others.
    """

    start: Callable[..., Any]
    write: Callable[..., Any]
    finish: Callable[..., Any]
    inputs: int = 0


def _start_rows(w0: tf.Tensor, rows: tf.Tensor) -> tuple[tf.TensorArray, ...]:
    # At least one slot: TF 2.15's XLA refuses a write into a 0-row buffer even in a loop that never
    # runs ("Update dim size 1 greater than dynamic slice dimension: 0"); the unused slot is sliced off.
    slots = tf.maximum(rows, 1)
    return (
        tf.TensorArray(w0.dtype, size=slots, element_shape=w0.shape),
        tf.TensorArray(w0.dtype, size=slots, element_shape=w0.shape[:-1]),
        tf.TensorArray(tf.float64, size=slots, element_shape=w0.shape[:-1]),
    )


def _write_rows(kept: tuple[tf.TensorArray, ...], row: tf.Tensor, epoch: tf.Tensor, *values: tf.Tensor) -> tuple[tf.TensorArray, ...]:
    return tuple(array.write(row, value) for array, value in zip(kept, values, strict=True))


def _packed_rows(kept: tuple[tf.TensorArray, ...], rows: tf.Tensor, loss: tf.Tensor) -> tf.Tensor:
    """The rows as one ``[rows, ..., size + 1 + k]`` tensor (:func:`~.packing.pack`): one output is
    one read-back; :func:`unpacked` takes the columns apart as views."""
    return pack(*(array.stack()[:rows] for array in kept))


ROWS = Keep(_start_rows, _write_rows, _packed_rows)
"""The recorded epochs' rows: ``w`` after the update, the loss before it, the float64 lr, packed."""


def host(tensor: tf.Tensor) -> np.ndarray:
    """``tensor``'s values as a read-only NumPy view of its buffer, no copy (``Tensor.numpy`` copies:
    1-2 ms of a 1e6-epoch run's 16-24 MB of rows). A device's tensor is copied to the host first.

    >>> host(tf.constant([1.5, 2.0])).flags.writeable
    False
    """
    return np.asarray(memoryview(tensor))


def unpacked(
    packed: np.ndarray, size: int, dtype: str | None = None, lrs: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(w rows, losses, float64 lrs)``: views of :data:`ROWS`'s packed columns, no copy; ``dtype``
    is ``w``'s, for rows packed as uint16 bits (float16 and bfloat16). With ``lrs``, the rows hold
    ``w`` and the loss only, as the unrolled loop returns them (:mod:`.unrolled`).

    >>> rows = np.array([[1.5, 2.0, *np.array([0.2]).view(np.float32)]], np.float32)
    >>> [column.tolist() for column in unpacked(rows, 1)]
    [[[1.5]], [2.0], [0.2]]
    >>> [column.tolist() for column in unpacked(rows[:, :2], 1, lrs=np.array([0.2]))]
    [[[1.5]], [2.0], [0.2]]
    """
    values = packed.view(dtype) if packed.dtype == np.uint16 and dtype is not None else packed
    if lrs is None:
        lrs = packed[..., size + 1 :].view(np.float64)[..., 0]
    return values[..., :size], values[..., size], lrs


def read_back(rows: Any, size: int, dtype: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(w rows, losses, float64 lrs)`` of a chunk's rows output, the packed rows or the unrolled
    loop's ``(rows, lrs)``, as read-only views of the buffers the call wrote (:func:`host`)."""
    if isinstance(rows, tuple):
        packed, lrs = rows
        return unpacked(host(packed), size, dtype, host(lrs))
    return unpacked(host(rows), size, dtype)


def chunk_loop(
    w0: tf.Tensor,
    span: tf.Tensor,
    rows: tf.Tensor,
    schedule: tuple[tf.Tensor, ...],
    step: Step,
    every_epoch: Any,
    keep: Keep = ROWS,
    *inputs: tf.Tensor,
) -> tuple[Any, tf.Tensor]:
    """Epochs ``span[0] .. span[1]-1`` of a run, as ``tf.while_loop``\\ s (no AutoGraph: its source
    conversion was most of a new process's tracing, docs/benchmarks.notes.md "First calls").

    Args:
        w0: ``[..., size]``, w before epoch ``span[0]``.
        span: int64 ``[start, stop, record_every, last epoch of the run]``.
        rows: int32, how many recorded epochs lie in ``[start, stop)`` (XLA: a compile-time constant).
        schedule: the schedule's tensors (:func:`decaybench.schedule.from_columns`).
        step: ``(w, float64 lr) -> (w after the update, loss before it)``: the mode's epoch.
        every_epoch: whether ``record_every == 1`` (a Python bool, or a tensor decided in the graph).
        keep: what to keep of the epochs; ``inputs`` are its ``write``'s.

    Returns ``keep``'s outputs and the last ``w``. Recording every K-th epoch loops over rows and,
    inside, over the epochs up to each row's, then over the epochs after the last row: no step
    pays for a condition or a write it does not need (a graph's while loop pays per iteration for
    each loop variable).
    """
    kept = keep.start(w0, rows)
    loss = tf.zeros(tf.shape(w0)[:-1], w0.dtype)
    lr = tf.zeros(tf.shape(w0)[:-1], tf.float64)
    epochs = _Epochs(span, schedule, step, keep, inputs)
    if isinstance(every_epoch, bool):
        kept, w, loss = epochs.each(w0, kept, loss) if every_epoch else epochs.rows(w0, rows, kept, loss, lr)
    else:
        kept, w, loss = tf.cond(every_epoch, lambda: epochs.each(w0, kept, loss), lambda: epochs.rows(w0, rows, kept, loss, lr))
    return keep.finish(kept, rows, loss), w


@dataclass(frozen=True)
class _Epochs:
    """:func:`chunk_loop`'s two loops. Their loop variables are in AutoGraph's order (by name), which
    built them before: the HLO is the same up to the order of a tuple's elements."""

    span: tf.Tensor
    schedule: tuple[tf.Tensor, ...]
    step: Step
    keep: Keep
    inputs: tuple[tf.Tensor, ...]

    def epoch(self, epoch: tf.Tensor, loss: tf.Tensor, lr: tf.Tensor, w: tf.Tensor) -> tuple[tf.Tensor, ...]:
        lr = tf_exponential_decay(epoch, *self.schedule)
        w, loss = self.step(w, lr)
        return epoch + 1, loss, lr, w

    def each(self, w0: tf.Tensor, kept: Any, loss: tf.Tensor) -> tuple[Any, tf.Tensor, tf.Tensor]:
        """Every epoch, each recorded: ``(kept, last w, last loss)``."""
        start, stop = self.span[0], self.span[1]

        def body(epoch: tf.Tensor, kept: Any, loss: tf.Tensor, w: tf.Tensor) -> tuple[Any, ...]:
            lr = tf_exponential_decay(epoch, *self.schedule)
            w, loss = self.step(w, lr)
            return epoch + 1, self.keep.write(kept, tf.cast(epoch - start, tf.int32), epoch, w, loss, lr, *self.inputs), loss, w

        # `for epoch in tf.range(start, stop)` as AutoGraph built it: the Range op, unused, makes the
        # span a compile-time constant for XLA (a range's bounds must be), which folds the loop's
        # bounds: three fewer kernels to compile (~25 ms of a first call) than a span read at run time.
        tf.range(start, stop)
        _, kept, loss, w = tf.while_loop(_below(stop), body, (start, kept, loss, w0), maximum_iterations=_range_length(start, stop))
        return kept, w, loss

    def rows(self, w0: tf.Tensor, rows: tf.Tensor, kept: Any, loss: tf.Tensor, lr: tf.Tensor) -> tuple[Any, tf.Tensor, tf.Tensor]:
        """Every K-th epoch recorded: a loop over the rows, each over its epochs, then the epochs after the last row."""
        start, stop, record_every, last = self.span[0], self.span[1], self.span[2], self.span[3]
        first = (start + record_every - 1) // record_every * record_every

        def row_body(row: tf.Tensor, epoch: tf.Tensor, kept: Any, loss: tf.Tensor, lr: tf.Tensor, w: tf.Tensor) -> tuple[Any, ...]:
            target = tf.minimum(first + tf.cast(row, tf.int64) * record_every, last)
            epoch, loss, lr, w = tf.while_loop(lambda epoch, *_: epoch <= target, self.epoch, (epoch, loss, lr, w))
            return row + 1, epoch, self.keep.write(kept, row, target, w, loss, lr, *self.inputs), loss, lr, w

        zero = tf.constant(0, rows.dtype)
        looped = tf.while_loop(_below(rows), row_body, (zero, start, kept, loss, lr, w0), maximum_iterations=_range_length(zero, rows))
        _, epoch, kept, loss, lr, w = looped
        _, loss, _, w = tf.while_loop(_below(stop), self.epoch, (epoch, loss, lr, w))
        return kept, w, loss


def _below(limit: tf.Tensor) -> Callable[..., tf.Tensor]:
    return lambda counter, *_: counter < limit


def _range_length(start: tf.Tensor, limit: tf.Tensor) -> tf.Tensor:
    # AutoGraph's bound for `for i in tf.range(start, limit)`: max(limit - start, 0) iterations, int32.
    return tf.cast(tf.maximum(limit - start, tf.zeros([], limit.dtype)), tf.int32)


def _positional(chunk: Callable[..., Any], count: int) -> Callable[..., Any]:
    # A concrete function binds *inputs by name: with xla-exact's two inputs, twice as slow as two
    # fixed arguments (measured); with none, as fast.
    if count != 2:
        return chunk

    def two(w: tf.Tensor, span: tf.Tensor, rows: tf.Tensor, integers: tf.Tensor, floats: tf.Tensor, a: tf.Tensor, b: tf.Tensor) -> Any:
        return chunk(w, span, rows, integers, floats, a, b)

    return two


def _whole_span(config: DecayConfig) -> tuple[tf.Tensor, tf.Tensor]:
    # span and rows of the chunk [0, epochs): the whole run
    return tf.constant((0, config.epochs, config.record_every, config.epochs - 1), tf.int64), tf.constant(config.recorded_count, tf.int32)


class CompiledLoop:
    """:func:`chunk_loop` around one step, as ``tf.function``\\ s: a mode's whole loop, or a sweep's.

    Args:
        step: ``(w, float64 lr, *inputs) -> (w after the update, loss before it)``, the mode's epoch.
        inputs: ``(size, dtype) -> inputs``, the step's input tensors for a run's shape.
        jit_compile: compile with XLA.
        keep: what the loop keeps (:data:`ROWS`: a trace's rows).
        in_graph: decide ``record_every == 1`` in the graph, so that one trace serves every
            ``record_every`` (``graph``). Otherwise each loop has its own function, and a run
            traces and compiles only the one it runs (XLA compiles per row count anyway).
    """

    def __init__(
        self, step: Step, inputs: Inputs = lambda size, dtype: (), *, jit_compile: bool = False, keep: Keep = ROWS, in_graph: bool = False
    ) -> None:
        self.step, self.inputs, self.keep = step, inputs, keep
        self._jit_compile, self._in_graph = jit_compile, in_graph
        self._functions: dict[tuple[bool | None, int, bool], Any] = {}
        self._concretes: dict[tuple[str, int, bool, bool], Any] = {}
        self._kept_inputs = functools.lru_cache(maxsize=256)(self._whole_inputs)

    def sibling(self, keep: Keep = ROWS) -> CompiledLoop:
        """The same step and inputs with ``keep``, in new functions: they leave this loop's tracing count alone."""
        return CompiledLoop(self.step, self.inputs, jit_compile=self._jit_compile, keep=keep, in_graph=self._in_graph)

    def function(self, every_epoch: bool, count: int, long: bool = False) -> Any:
        """The ``tf.function`` of the chunks ``(w, span, rows, integers, floats, *inputs)``, ``count`` inputs;
        ``long``: a run of :data:`~.unrolled.UNROLL_FROM` epochs or more, which XLA runs unrolled."""
        key = (None if self._in_graph else every_epoch, count, long)
        if key not in self._functions:
            # AutoGraph only for unrolled_rows' loop; chunk_loop builds its own.
            chunk = _positional(self._chunk(key[0], long), count)
            self._functions[key] = tf.function(chunk, jit_compile=self._jit_compile, autograph=long)
        return self._functions[key]

    def _chunk(self, every_epoch: bool | None, long: bool) -> Callable[..., Any]:
        step, keep = self.step, self.keep

        def chunk(w: tf.Tensor, span: tf.Tensor, rows: tf.Tensor, integers: tf.Tensor, floats: tf.Tensor, *inputs: tf.Tensor) -> Any:
            split = len(inputs) - keep.inputs
            every = span[2] == 1 if every_epoch is None else every_epoch

            def bound(w: tf.Tensor, lr: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
                return step(w, lr, *inputs[:split])

            if long and self._jit_compile and every is True and keep is ROWS and (w.shape.num_elements() or SMALL_W + 1) <= SMALL_W:
                # A chunk's length is its row count, which XLA knows: schedule as a vector, steps unrolled.
                return unrolled_rows(w, span, rows, from_columns(integers, floats), bound)
            if self._jit_compile and every is True and keep is ROWS:
                # A short chunk: its schedule as a vector too, which compiles far fewer kernels.
                return scheduled_rows(w, span, rows, from_columns(integers, floats), bound)
            return chunk_loop(w, span, rows, from_columns(integers, floats), bound, every, keep, *inputs[split:])

        return chunk

    def concrete(self, config: DecayConfig) -> Any:
        """The concrete function of ``config``'s shape. Calling it skips matching the arguments to a
        trace, more than half of a seed run's call (measured); the tf.function keeps its tracing count."""
        key = (config.dtype, config.size, config.record_every == 1, config.epochs >= UNROLL_FROM)
        if key not in self._concretes:
            inputs = self.inputs(config.size, config.dtype)
            specs = [tf.TensorSpec([config.size], config.dtype), tf.TensorSpec([4], tf.int64), tf.TensorSpec([], tf.int32)]
            specs += [tf.TensorSpec([3], tf.int64), tf.TensorSpec([3], tf.float64), *map(tf.TensorSpec.from_tensor, inputs)]
            self._concretes[key] = self.function(key[2], len(inputs), key[3]).get_concrete_function(*specs)
        return self._concretes[key]

    def _columns(self, config: DecayConfig) -> tuple[tf.Tensor, ...]:
        # The inputs after w, span and rows. Tensors from NumPy rather than eager ops: on the seed,
        # each op costs about as much as the 40 steps.
        integers, floats = loop_columns(config.schedule)
        return tf.constant(integers, tf.int64), tf.constant(floats, tf.float64), *self.inputs(config.size, config.dtype)

    def _whole_inputs(self, config: DecayConfig) -> tuple[tf.Tensor, ...]:
        return tf.constant(initial_w(config)), *_whole_span(config), *self._columns(config)

    def whole_inputs(self, config: DecayConfig) -> tuple[tf.Tensor, ...]:
        """The inputs of a run in one call: made once per configuration and kept (small ``w`` only)."""
        return self._kept_inputs(config) if config.size <= _KEPT_SIZE else self._whole_inputs(config)

    def call(self, config: DecayConfig) -> Callable[[], tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """``() -> (w rows, losses, lrs)``: the one compiled call of a short run and its read-back, nothing else."""
        concrete, inputs = self.concrete(config), self.whole_inputs(config)
        return lambda: read_back(concrete(*inputs)[0], config.size, config.dtype)

    def run(
        self,
        config: DecayConfig,
        mode: str,
        progress: bool | None = None,
        checkpoint: CheckpointOptions | None = None,
    ) -> Trace:
        """``config``'s trace, in one call or chunk by chunk (:mod:`.chunks`, sized by ``mode``'s ``ModeSpec.step_ns``)."""
        concrete, length = self.concrete(config), chunk_length(config, step_cost(mode))
        if checkpoint is None and config.epochs <= length:
            # One call, its inputs kept, its outputs read back without a copy; the Trace holds views of them.
            w, loss, lr = read_back(concrete(*self.whole_inputs(config))[0], config.size, config.dtype)
            return Trace(epoch=config.recorded(), w=w, loss=loss, lr=lr, config=config, mode=mode)
        columns = self._columns(config)
        lengths = (config.record_every, config.epochs - 1)

        def chunk(w: Any, start: int, stop: int, rows: int) -> Any:
            span = tf.constant((start, stop, *lengths), tf.int64)
            packed, last = concrete(tf.constant(w) if isinstance(w, np.ndarray) else w, span, tf.constant(rows, tf.int32), *columns)
            return (*read_back(packed, config.size, config.dtype), last)

        return run_chunked(config, mode, chunk, length, progress, checkpoint)

    def run_batch(self, w0: np.ndarray, first: DecayConfig, integers: np.ndarray, floats: np.ndarray, *inputs: Any) -> Any:
        """All epochs of ``first``'s shape on a batch, ``w0`` ``[..., size]`` and columns ``[..., 3]``, in
        one call of the ``tf.function`` (it traces per batch shape); ``inputs``: the keep's. Returns the kept."""
        everything = (tf.constant(integers, tf.int64), tf.constant(floats, tf.float64), *self.inputs(first.size, first.dtype), *inputs)
        kept, _ = self.function(first.record_every == 1, len(everything) - 2)(tf.constant(w0), *_whole_span(first), *everything)
        return kept

    def tracing_count(self) -> int:
        """How many times this loop's functions have been traced in this process."""
        return sum(function.experimental_get_tracing_count() for function in self._functions.values())
