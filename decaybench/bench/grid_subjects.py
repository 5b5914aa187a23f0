"""What the ``sweep`` group times for ``decaybench sweep``: a square grid's metrics by ``run_grid``.

The grid is ``n x n`` cells around the seed (initial lr ``0.02:1.2``, decay rate ``0.9:1.0``),
the command's default ranges at another resolution; the baselines run the same configurations.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

from decaybench.bench.workload import GRID_SHAPES, Call, Unavailable
from decaybench.config import DecayConfig
from decaybench.grid import Grid, parse_range, run_grid
from decaybench.loops import run
from decaybench.metrics import CellMetrics
from decaybench.sweep import run_sweep

__all__ = ["GRID_SHAPES", "fresh_sweep", "grid_floor", "grid_metrics", "grid_runs", "square_grid"]


def square_grid(cells: int, epochs: int) -> Grid:
    """``sqrt(cells)`` initial lrs by as many decay rates, over the seed with ``epochs``."""
    side = math.isqrt(cells)
    return Grid(
        initial_learning_rate=parse_range("initial_learning_rate", f"0.02:1.2:{side}"),
        decay_rate=parse_range("decay_rate", f"0.9:1.0:{side}"),
        base=DecayConfig(epochs=epochs),
    )


def grid_metrics(cells: int, epochs: int, mode: str) -> Call:
    """``run_grid`` on the square grid: one compiled call per chunk, the metrics only."""
    grid = square_grid(cells, epochs)
    return lambda: run_grid(grid, 1e-6, mode, progress=False)


def grid_runs(cells: int, epochs: int) -> Call:
    """One ``run(config, "xla")`` per cell of the square grid, and the metrics of each trace."""
    configs = square_grid(cells, epochs).configs()

    def separate() -> list[CellMetrics]:
        traces = (run(config, "xla") for config in configs)
        return [CellMetrics.of(trace.config, trace.epoch, trace.loss, trace.w, 1e-6) for trace in traces]

    return separate


def grid_floor(cells: int, epochs: int) -> Call:
    """The native floor of ``run_grid`` on the square grid (:func:`decaybench.bench.native_sweep.sweep_floor`)."""
    try:
        from decaybench.bench.native_sweep import sweep_floor  # loads numba, of the bench extra
    except ImportError as error:
        raise Unavailable(f"cannot import numba ({error}); install the bench extra") from None
    grid = square_grid(cells, epochs)
    return lambda: sweep_floor(grid, 1e-6)


def fresh_sweep(configs: Callable[[], list[DecayConfig]]) -> Call:
    """``run_sweep`` of new configurations equal to ``configs()``, built inside each call: a user's sweep
    builds and validates its configurations and their schedules (cached per configuration), so the
    row times that too, not only the first round's."""
    drawn = configs()
    return lambda: run_sweep([dataclasses.replace(config) for config in drawn], "xla")
