"""A grid's cells carried through their epochs in chunks: stoppable at once, resumable bit for bit.

The cells are ``[groups, lrs]`` (:mod:`decaybench.sweep_loops`): a group is one ``(decay_steps,
decay_rate)``, ``initial_learning_rate`` the fast axis, as a :class:`~decaybench.grid.Grid` orders
them. Their loop state (the carried values of :func:`~decaybench.sweep_loops.grid_chunk`) lives in
NumPy between calls, and each call runs epochs ``[a, b)`` of up to :func:`groups_per_call`
groups. Every epoch is the same operations on the same values whatever the split, so

.. math:: \\mathrm{cells}_{[0, n)} = \\mathrm{cells}_{[k, n)} \\circ \\mathrm{cells}_{[0, k)} \\quad \\text{bit for bit,}

and a call's cells do not see the others' (``tests/test_grid.py`` splits both ways). A call
lasts about :data:`~decaybench.modes._scaffold.chunks.CHUNK_SECONDS` (the mode's
``ModeSpec.step_ns`` per cell), so Ctrl-C and SIGTERM stop a sweep of any length between two
calls (:mod:`decaybench.stopping`; the progress bar raises a pending Ctrl-C). With checkpoints
(:class:`~decaybench.checkpoint.ArrayCheckpoints`) the carried values are saved every ``every``
epochs and after the last; a resumed sweep continues from the latest.

>>> epochs_per_call(10_000, "xla-exact")
3122
"""

from __future__ import annotations

import numpy as np

from decaybench.checkpoint import ArrayCheckpoints
from decaybench.config import DecayConfig
from decaybench.memory import PEAK_COPIES, available_memory
from decaybench.modes._scaffold import chunks
from decaybench.progress import epoch_bar
from decaybench.schedule import loop_columns

__all__ = ["MAX_CELLS", "Cells", "epochs_per_call", "groups_per_call", "initial", "run_cells"]

# Cells per compiled call at most (whole groups, at least one): a call's arrays stay in cache-sized
# pieces of memory; equal calls compile once.
MAX_CELLS = 16_384
NAMES = ("w", "loss", "below", "bad", "unstable")
# A call that needs less is not weighed against the available memory (reading /proc/meminfo is a
# twentieth of a 2,500-cell sweep's time): the TensorFlow that runs it holds several times more.
UNWEIGHED_BYTES = 64 * 2**20


class Cells:
    """A grid's cells: ``base`` with ``decay_steps[g]``, ``decay_rate[g]`` for each group ``g`` and every ``lrs``."""

    def __init__(self, base: DecayConfig, decay_steps: np.ndarray, decay_rate: np.ndarray, lrs: np.ndarray) -> None:
        self.base = base
        self.decay_steps, self.decay_rate = np.asarray(decay_steps, np.int64), np.asarray(decay_rate, np.float64)
        self.lrs = np.asarray(lrs, np.float64)
        self.shape = (len(self.decay_rate), len(self.lrs))

    def columns(self, index: np.ndarray | slice) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int], float]:
        """The schedule of groups ``index`` (:func:`decaybench.sweep_loops.grid_chunk`'s columns)."""
        # The base's staircase, transition_begin and end_value (loop_columns' third column) hold for every cell.
        (_, staircase, begin), (_, _, end) = loop_columns(self.base.schedule)
        return self.lrs, self.decay_steps[index], self.decay_rate[index], (staircase, begin), end


def initial(cells: Cells) -> dict[str, np.ndarray]:
    """The carried values before epoch 0: ``w0``, a zero loss, and ``-1`` (never) for the three epochs."""
    base, shape = cells.base, cells.shape
    never = np.full(shape, -1, np.int64)
    return {
        "w": np.full((*shape, base.size), base.w0, base.dtype),
        "loss": np.zeros(shape, base.dtype),
        "below": never,
        "bad": never.copy(),
        "unstable": never.copy(),
    }


def groups_per_call(cells: Cells) -> int:
    """Groups per call: whole groups up to :data:`MAX_CELLS` cells and what memory allows, at least one."""
    base = cells.base
    # Per cell, in the loop: w, its gradient and update, the loss, three int64 epochs, the lr.
    cell_bytes = 4 * base.size * np.dtype(base.dtype).itemsize + np.dtype(base.dtype).itemsize + 3 * 8 + 2 * 8
    group_bytes, most = PEAK_COPIES * cell_bytes * cells.shape[1], max(1, min(cells.shape[0], MAX_CELLS // cells.shape[1]))
    if most * group_bytes <= UNWEIGHED_BYTES:
        return most
    return max(1, min(most, available_memory() // group_bytes))


def epochs_per_call(cells: int, mode: str) -> int:
    """Epochs per call of ``cells`` cells: about ``CHUNK_SECONDS`` at the mode's ``step_ns``, at least one."""
    per_step, per_element = chunks.step_cost(mode)
    return max(1, int(chunks.CHUNK_SECONDS * 1e9 / (per_step + per_element * cells)))


def run_cells(cells: Cells, tol: float, mode: str, progress: bool | None, checkpoints: ArrayCheckpoints | None) -> dict[str, np.ndarray]:
    """The carried values after every epoch of ``cells`` (:data:`NAMES`), in calls of
    :func:`groups_per_call` groups by :func:`epochs_per_call` epochs, saved when due."""
    from decaybench.sweep_loops import grid_chunk  # loads TensorFlow

    state = initial(cells)
    done = 0
    if checkpoints is not None:
        done, state = checkpoints.start(state)
    (groups, lrs), epochs = cells.shape, cells.base.epochs
    rows = groups_per_call(cells)
    every = checkpoints.options.every if checkpoints is not None else None
    with epoch_bar(groups * lrs * epochs, progress, "sweep") as bar:
        bar.update(done * groups * lrs)
        for begin, end in chunks.spans(done, epochs, every, epochs_per_call(rows * lrs, mode)):
            for first in range(0, groups, rows):
                # The last call is padded with its last group: one shape, one compilation.
                kept = min(rows, groups - first)
                index = slice(first, first + rows) if kept == rows else np.minimum(np.arange(first, first + rows), groups - 1)
                carried = tuple(state[name][index] for name in NAMES)
                out = grid_chunk(mode, carried, begin, end, cells.columns(index), tol)
                for name, array in zip(NAMES, out, strict=True):
                    state[name][first : first + kept] = array[:kept]
                bar.update(kept * lrs * (end - begin))  # raises a pending Ctrl-C between calls
            if checkpoints is not None and checkpoints.due(end):
                checkpoints.save(end, state)
    return state
