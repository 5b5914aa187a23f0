r"""The compiled loops (``graph``, ``xla``, ``xla-exact``: :mod:`.compiled_loop`) run in chunks of epochs.

A chunk runs epochs ``start .. stop-1`` from the ``w`` the previous one ended with and returns
the rows of the recorded epochs among them and its last ``w``. Every epoch is the same step on
the same values whatever the chunk, so the trace does not depend on where the chunks split:

.. math:: \mathrm{loop}_{[0, n)}(w_0) = \mathrm{loop}_{[k, n)}(\mathrm{loop}_{[0, k)}(w_0)) \quad \text{bit for bit}

(``tests/test_resume.py`` checks every split point). The chunk's ``start`` and ``stop`` enter
as a run-time tensor; only its number of rows sizes the row buffers, which XLA needs at compile
time, so XLA compiles once per row count (a full chunk's, and a remainder's), not per chunk.

Chunks end where a checkpoint is due (:mod:`decaybench.checkpoint`) and, in a long run, after
about :data:`CHUNK_SECONDS` of work, so that Ctrl-C stops a compiled run between two chunks
(:func:`decaybench.stopping.stop_on_signals`) and a progress bar advances. A run shorter
than one chunk is one call.

>>> list(spans(0, 10, every=4, length=3))
[(0, 3), (3, 4), (4, 7), (7, 8), (8, 10)]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from decaybench.checkpoint import CheckpointOptions, State
from decaybench.config import DecayConfig
from decaybench.modes import REGISTRY
from decaybench.progress import epoch_bar
from decaybench.trace import Trace

__all__ = ["CHUNK_SECONDS", "chunk_length", "run_chunked", "spans", "step_cost"]

# What a chunk should last; a step's cost is its mode's ModeSpec.step_ns.
CHUNK_SECONDS = 0.25

# (w, start, stop, rows) -> (w rows, loss rows, lr rows, last w): the rows as tensors or arrays.
Chunk = Callable[[Any, int, int, int], tuple[Any, Any, Any, Any]]


def spans(start: int, epochs: int, every: int | None, length: int) -> Iterator[tuple[int, int]]:
    """Chunks ``[a, b)`` from ``start`` to ``epochs``, at most ``length`` long, ending at each multiple of ``every``."""
    begin = start
    while begin < epochs:
        end = min(begin + length, epochs)
        if every is not None:
            end = min(end, (begin // every + 1) * every)
        yield begin, end
        begin = end


def step_cost(mode: str) -> tuple[float, float]:
    """``(ns per step, ns per element)`` of ``mode``'s compiled loop: its ``ModeSpec.step_ns``.

    >>> step_cost("xla")
    (80.0, 2.5)
    """
    cost = REGISTRY[mode].step_ns
    if cost is None:
        raise ValueError(f"mode {mode!r} does not run in chunks: its ModeSpec has no step_ns")
    return cost


def chunk_length(config: DecayConfig, cost: tuple[float, float]) -> int:
    """Epochs per chunk: about :data:`CHUNK_SECONDS` of steps that cost ``(ns per step, ns per element)``,
    a multiple of ``record_every`` (or fewer epochs than ``record_every`` when that is longer than a
    chunk: a chunk must stay short for Ctrl-C).

    >>> chunk_length(DecayConfig(epochs=10**9, record_every=1000), (80.0, 2.5))
    3030000
    """
    per_step, per_element = cost
    steps = int(CHUNK_SECONDS * 1e9 / (per_step + per_element * config.size))
    if steps < config.record_every:  # rows sparser than a chunk: each chunk records 0 or 1 row, and stays short
        return max(1, steps)
    return steps // config.record_every * config.record_every


def run_chunked(
    config: DecayConfig, mode: str, chunk: Chunk, length: int, progress: bool | None, checkpoint: CheckpointOptions | None
) -> Trace:
    """Run ``config`` in chunks of at most ``length`` epochs with ``chunk(w, start, stop, rows)``, saving checkpoints when due."""
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
            low, high = config.recorded_before(begin), config.recorded_before(end)
            out_w, out_loss, out_lr, w = chunk(w, begin, end, high - low)
            rows_w[low:high], rows_loss[low:high], rows_lr[low:high] = np.asarray(out_w), np.asarray(out_loss), np.asarray(out_lr)
            if checkpoints is not None and checkpoints.due(end):
                checkpoints.save(State(end, w.numpy(), rows_w[:high], rows_loss[:high], rows_lr[:high]))
            bar.update(end - begin)  # raises a pending Ctrl-C between chunks
    return Trace(epoch=config.recorded(), w=rows_w, loss=rows_loss, lr=rows_lr, config=config, mode=mode)
